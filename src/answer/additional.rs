//! Additional-section data: the A and AAAA records of the hosts that NS, MX and SRV records name,
//! from the same view (RFC 1034 §4.3.2 step 6, RFC 2782). Additional data is optional: an RRset
//! that does not fit is left out whole, never in part, without truncating the response
//! (RFC 2181 §9).

use super::{target_name, write_rrset};
use crate::view::View;
use crate::view::zone::{RRset, ViewZone};
use crate::wire::query::NameKey;
use crate::wire::writer::{ResponseWriter, Section};
use crate::zone::rtype;

/// Addresses for the targets of the NS, MX and SRV sets in an answer.
pub fn add_target_addresses<'z>(
    writer: &mut ResponseWriter,
    view: &View,
    rrsets: impl Iterator<Item = &'z RRset>,
) {
    for set in rrsets.filter(|set| matches!(set.rtype, rtype::NS | rtype::MX | rtype::SRV)) {
        add_addresses_of_targets(writer, set, |key| view.zone_for(key, rtype::A));
    }
}

/// Glue for a referral: the addresses of the delegated name servers found in this zone,
/// including below the cut (which is where glue lives).
pub fn add_glue(writer: &mut ResponseWriter, zone: &ViewZone, ns: &RRset) {
    add_addresses_of_targets(writer, ns, |key| {
        crate::name::is_subdomain(key, zone.origin.as_wire()).then_some(zone)
    });
}

fn add_addresses_of_targets<'z>(
    writer: &mut ResponseWriter,
    set: &RRset,
    zone_of: impl Fn(&[u8]) -> Option<&'z ViewZone>,
) {
    for (index, rdata) in set.rdatas.iter().enumerate() {
        let Some(target) = target_name(set.rtype, &rdata.wire) else { continue };
        let Some(key) = NameKey::from_wire(target) else { continue };
        // The same host named twice (two MX preferences, say) is added once.
        let repeated = set.rdatas[..index].iter().any(|earlier| {
            target_name(set.rtype, &earlier.wire).is_some_and(|t| t.eq_ignore_ascii_case(target))
        });
        if repeated {
            continue;
        }
        let Some(zone) = zone_of(key.as_wire()) else { continue };
        let Some(node) = zone.node(key.as_wire()) else { continue };
        for rtype in [rtype::A, rtype::AAAA] {
            let Some(addresses) = node.get(rtype) else { continue };
            let mark = writer.mark();
            if write_rrset(writer, Section::Additional, target, addresses).is_err() {
                // Part of an RRset would read as the whole of it to a cache.
                writer.rollback(mark);
                return;
            }
        }
    }
}
