//! The kinds of node the checks (and the DANE plan) look for in every zone at every load: a few
//! nodes among every name of a zone. Each is a [`Pick`] with a slot of its own, so that shared
//! data taken unchanged by a reload answers from what the first walk found.

use super::address_of;
use crate::address_space::non_public_kind;
use crate::dns::rtype;
use crate::load::exchange::AUTODISCOVER_SRV_PREFIX;
use crate::view::zone::{MADE_BY_SIGNER, Node, PICK_SLOTS, Pick};

/// Owners `_autodiscover._tcp.<something>` (the SRV records Outlook asks for).
pub(crate) const AUTODISCOVER_SRV_OWNERS: Pick = Pick {
    slot: 0,
    wanted: |key, _| is_autodiscover_srv_owner(key),
};

/// Nodes with an A or AAAA record of a private, shared, loopback or link-local address.
pub(crate) const NON_PUBLIC_ADDRESSES: Pick = Pick {
    slot: 1,
    wanted: |_, node| has_non_public_address(node),
};

/// Nodes with TLSA records.
pub(crate) const TLSA_OWNERS: Pick = Pick {
    slot: 2,
    wanted: |_, node| node.get(rtype::TLSA).is_some(),
};

/// Nodes with records a signer makes (RRSIG, NSEC, NSEC3; at the apex also DNSKEY, CDS,
/// CDNSKEY and NSEC3PARAM): in a zone file of a zone splitdns signs, they are left out.
pub(crate) const SIGNER_RECORDS: Pick = Pick {
    slot: 3,
    wanted: |_, node| {
        node.rrsets.iter().any(|set| {
            MADE_BY_SIGNER.contains(&set.rtype)
                || matches!(
                    set.rtype,
                    rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY | rtype::NSEC3PARAM
                )
        })
    },
};

const _: () = assert!(PICK_SLOTS == 4, "one slot per kind above");

/// True for `_autodiscover._tcp.<something>` (lowercased wire).
pub(super) fn is_autodiscover_srv_owner(key: &[u8]) -> bool {
    key.len() > AUTODISCOVER_SRV_PREFIX.len() && key.starts_with(AUTODISCOVER_SRV_PREFIX)
}

fn has_non_public_address(node: &Node) -> bool {
    node.rrsets.iter().any(|set| {
        set.rdatas.iter().any(|rdata| {
            address_of(set.rtype, &rdata.wire).is_some_and(|ip| non_public_kind(ip).is_some())
        })
    })
}
