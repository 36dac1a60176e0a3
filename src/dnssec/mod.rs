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
mod sigs;

use std::time::Duration;

use key::Algorithm;
pub(crate) use signer::Signer;
pub(crate) use sigs::{SigIter, Sigs};

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
    pub rollover: Rollover,
}

/// When keys roll, and the times a rollover waits on (RFC 7583 §3): BIND's `dnssec-policy`
/// timing, with its defaults (and Knot's 30-day ZSK lifetime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollover {
    /// How long a KSK or CSK signs before a successor is rolled in (`None`: never).
    pub key_lifetime: Option<Duration>,
    /// How long a ZSK signs before a successor is rolled in (`None`: never).
    pub zsk_lifetime: Option<Duration>,
    pub dnskey_ttl: Duration,
    /// Until a change reaches every secondary.
    pub propagation_delay: Duration,
    /// The longest TTL of the zone: how long a cached signature lives.
    pub max_zone_ttl: Duration,
    pub parent_ds_ttl: Duration,
    /// Until a change of the DS reaches every server of the parent.
    pub parent_propagation_delay: Duration,
}

impl Default for Rollover {
    fn default() -> Rollover {
        Rollover {
            key_lifetime: None,
            zsk_lifetime: Some(Duration::from_secs(30 * 86400)),
            dnskey_ttl: Duration::from_secs(3600),
            propagation_delay: Duration::from_secs(300),
            max_zone_ttl: Duration::from_secs(86400),
            parent_ds_ttl: Duration::from_secs(86400),
            parent_propagation_delay: Duration::from_secs(3600),
        }
    }
}

impl Rollover {
    /// Before a new key signs: its DNSKEY in every cache (RFC 7583 §3.2.1, Ipub).
    pub(crate) fn publish_interval(&self) -> u64 {
        (self.dnskey_ttl + self.propagation_delay).as_secs()
    }

    /// Before a key that stopped signing leaves the DNSKEY set: every signature it made gone
    /// from the caches (RFC 7583 §3.2.1, Iret).
    pub(crate) fn retire_interval(&self) -> u64 {
        (self.max_zone_ttl + self.propagation_delay).as_secs()
    }

    /// How often the parent's servers are asked whether they serve a new DS: as often as a
    /// change of theirs takes to reach them all (at least every second, at most every hour).
    pub(crate) fn ds_check_interval(&self) -> u64 {
        self.parent_propagation_delay.as_secs().clamp(1, 3600)
    }

    /// After the parent has the new DS: the old DS gone from every cache (RFC 7583 §3.3.1).
    pub(crate) fn ds_interval(&self) -> u64 {
        (self.parent_ds_ttl + self.parent_propagation_delay).as_secs()
    }
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
            rollover: Rollover::default(),
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
