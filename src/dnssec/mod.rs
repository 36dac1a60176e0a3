//! DNSSEC: the keys (BIND's key files, generated with ring), the canonical forms signatures are
//! made over, and the [`Signer`] that decides each RRset's signatures. It stands on the `dns`
//! base only; the view layer walks a zone's data with a signer, the loader decides which keys
//! sign when.

pub(crate) mod canonical;
pub(crate) mod key;
pub(crate) mod keyring;
pub(crate) mod nsec3;
pub(crate) mod rrsig;
mod signer;

use std::time::Duration;

use key::Algorithm;
pub(crate) use signer::{Signer, Sigs};

/// How a zone is signed: BIND's `dnssec-policy` and Knot's `policy`, reduced to what an admin of
/// a few zones decides. The defaults are theirs: one combined key (CSK) of algorithm 13, NSEC,
/// signatures valid 14 days and made anew a week before they expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub algorithm: Algorithm,
    /// A key-signing key and a zone-signing key, rather than one combined signing key.
    pub split: bool,
    pub denial: Denial,
    pub signature_validity: Duration,
    /// A signature with less than this left is made anew.
    pub signature_refresh: Duration,
    /// How far before the signing time a signature's validity starts.
    pub inception_offset: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            name: "default".into(),
            algorithm: Algorithm::EcdsaP256Sha256,
            split: false,
            denial: Denial::Nsec,
            signature_validity: Duration::from_secs(14 * 86400),
            signature_refresh: Duration::from_secs(7 * 86400),
            inception_offset: Duration::from_secs(3600),
        }
    }
}

/// Authenticated denial of existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Nsec,
    /// NSEC3 with RFC 9276's parameters: SHA-1, no extra iterations, no salt, no opt-out.
    Nsec3,
}
