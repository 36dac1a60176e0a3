//! What signs one zone at one moment: the keys that sign its data and the keys that sign its key
//! sets, the validity every new signature gets, and the rule for keeping one made before — it
//! must come from a key still signing and outlive the refresh margin. The view layer walks the
//! zone; this decides what each RRset's signatures are.

use std::sync::Arc;

use super::key::SigningKey;
use super::rrsig::{self, Unsigned, Validity};
use super::sigs::{SigIter, Sigs};
use crate::dns::rtype;

#[derive(Debug)]
pub(crate) struct Signer {
    /// The zone's origin, lowercased wire: every signature's signer name.
    origin: Box<[u8]>,
    /// Active keys that sign the zone's data (ZSKs, or the CSK).
    data_keys: Vec<Arc<SigningKey>>,
    /// Active keys that sign DNSKEY, CDS and CDNSKEY (KSKs, or the CSK).
    key_keys: Vec<Arc<SigningKey>>,
    validity: Validity,
    /// A signature expiring before this (Unix seconds, 32-bit serial arithmetic) is made anew.
    keep_until: u32,
}

impl Signer {
    /// `validity` for new signatures; earlier signatures that expire after `keep_until` are kept.
    pub(crate) fn new(
        origin: &[u8],
        data_keys: Vec<Arc<SigningKey>>,
        key_keys: Vec<Arc<SigningKey>>,
        validity: Validity,
        keep_until: u32,
    ) -> Signer {
        Signer {
            origin: origin.to_ascii_lowercase().into_boxed_slice(),
            data_keys,
            key_keys,
            validity,
            keep_until,
        }
    }

    /// The keys that sign an RRset of `rtype`.
    fn keys_for(&self, rtype: u16) -> &[Arc<SigningKey>] {
        match rtype {
            rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY => &self.key_keys,
            _ => &self.data_keys,
        }
    }

    /// New signatures over `set`, one per key that signs its type.
    pub(crate) fn sign(&self, set: Unsigned<'_>) -> Sigs {
        let made: Vec<Box<[u8]>> = self
            .keys_for(set.rtype)
            .iter()
            .map(|key| rrsig::sign(key, &self.origin, set, self.validity))
            .collect();
        Sigs::new(&made)
    }

    /// Whether a signature expiring at `expiration` is kept (not due to be made anew).
    pub(crate) fn keeps(&self, expiration: u32) -> bool {
        (expiration.wrapping_sub(self.keep_until) as i32) > 0
    }

    /// Whether signatures made before can stay on an RRset of `rtype` (whose data has not
    /// changed): exactly one from each key that signs it now, none expiring before the margin.
    pub(crate) fn still_good(&self, rtype: u16, sigs: SigIter<'_>) -> bool {
        let keys = self.keys_for(rtype);
        sigs.len() == keys.len()
            && keys.iter().all(|key| {
                sigs.clone().any(|sig| {
                    rrsig::key_tag(sig) == key.tag()
                        && rrsig::algorithm(sig) == key.algorithm().number()
                        && rrsig::type_covered(sig) == rtype
                        && (rrsig::expiration(sig).wrapping_sub(self.keep_until) as i32) > 0
                })
            })
    }
}
