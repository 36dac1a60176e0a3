//! TLSA records (RFC 6698 §2) and what they say about a presented chain: a record matches when
//! the part of a certificate its selector names (0: the whole certificate, 1: its
//! SubjectPublicKeyInfo), as its matching type gives it (0: as is, 1: SHA-256, 2: SHA-512), is
//! its data — for usage 3 (DANE-EE) the server's own certificate, for usage 2 (DANE-TA) any
//! other certificate of the chain. Usages 0 and 1 (PKIX) are unusable for SMTP (RFC 7672 §3.1.3)
//! and are not compared here at all; nor is the chain's signature path to a DANE-TA
//! certificate, which the sender's TLS library checks: what goes stale at a renewal is the
//! digest.

use ring::digest;
use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::health::cert;

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Box<[u8]>,
}

/// DANE-TA: a trust anchor, any certificate of the chain above the server's own.
pub(crate) const DANE_TA: u8 = 2;
/// DANE-EE: the server's own certificate.
pub(crate) const DANE_EE: u8 = 3;
/// Selector 1: the SubjectPublicKeyInfo.
pub(crate) const SPKI: u8 = 1;
/// Matching type 1: SHA-256.
pub(crate) const SHA256: u8 = 1;

impl Tlsa {
    /// The record in a TLSA RDATA, if it has the three fields and data.
    pub(crate) fn from_rdata(wire: &[u8]) -> Option<Tlsa> {
        match wire {
            [usage, selector, matching, data @ ..] if !data.is_empty() => Some(Tlsa {
                usage: *usage,
                selector: *selector,
                matching: *matching,
                data: data.into(),
            }),
            _ => None,
        }
    }

    /// The record with `usage`, `selector` and `matching` for the certificate `der`, if it
    /// parses.
    pub(crate) fn of(usage: u8, selector: u8, matching: u8, der: &[u8]) -> Option<Tlsa> {
        Some(Tlsa {
            usage,
            selector,
            matching,
            data: digest_of(matching, selected(selector, der)?)?.into(),
        })
    }

    /// Whether this record is one the checks compare: usage 2 or 3, a known selector and
    /// matching type.
    pub(crate) fn usable(&self) -> bool {
        matches!(self.usage, DANE_TA | DANE_EE) && self.selector <= SPKI && self.matching <= 2
    }

    /// Whether the record matches `chain` (the server's certificate first).
    pub(crate) fn matches(&self, chain: &[CertificateDer<'_>]) -> bool {
        if !self.usable() {
            return false;
        }
        let candidates = match self.usage {
            DANE_EE => chain.get(..1).unwrap_or_default(),
            _ => chain.get(1..).unwrap_or_default(),
        };
        candidates.iter().any(|der| {
            selected(self.selector, der)
                .and_then(|part| digest_of(self.matching, part))
                .is_some_and(|digest| *digest == *self.data)
        })
    }
}

/// `3 1 1 ABCD…`: the record's RDATA as a zone file writes it (hex in capitals, as `dig` shows
/// it).
impl std::fmt::Display for Tlsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} ", self.usage, self.selector, self.matching)?;
        for byte in &self.data {
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

/// What a TLSA RRset makes of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Comparison {
    /// This record matches (the first that does, in the RRset's order).
    Match(Tlsa),
    /// Usable records, none of which matches.
    Mismatch,
    /// No record is usable: nothing to compare.
    NoUsableRecord,
}

/// Compares the TLSA RRset `records` with `chain`.
pub(crate) fn compare(records: &[Tlsa], chain: &[CertificateDer<'_>]) -> Comparison {
    if !records.iter().any(Tlsa::usable) {
        return Comparison::NoUsableRecord;
    }
    records
        .iter()
        .find(|record| record.matches(chain))
        .map_or(Comparison::Mismatch, |record| {
            Comparison::Match(record.clone())
        })
}

/// The records that describe `chain` as DANE would pin it: `3 1 1` for the server's certificate
/// and, when the chain holds the certificate that issued it, `2 1 1` for that one.
pub(crate) fn presented(chain: &[CertificateDer<'_>]) -> Vec<Tlsa> {
    let Some(leaf) = chain.first() else {
        return Vec::new();
    };
    let mut records: Vec<Tlsa> = Tlsa::of(DANE_EE, SPKI, SHA256, leaf).into_iter().collect();
    if let Some(issuer) = issuer(chain) {
        records.extend(Tlsa::of(DANE_TA, SPKI, SHA256, issuer));
    }
    records
}

/// The certificate of `chain` that issued its first: the one whose subject is its issuer.
pub(crate) fn issuer<'c>(chain: &'c [CertificateDer<'c>]) -> Option<&'c CertificateDer<'c>> {
    let leaf = cert::fields(chain.first()?)?;
    chain[1..]
        .iter()
        .find(|der| cert::fields(der).is_some_and(|ca| ca.subject == leaf.issuer))
}

/// The part of the certificate `der` that `selector` names.
fn selected(selector: u8, der: &[u8]) -> Option<&[u8]> {
    match selector {
        0 => Some(der),
        SPKI => Some(cert::fields(der)?.spki),
        _ => None,
    }
}

/// `data` as matching type `matching` gives it.
fn digest_of(matching: u8, data: &[u8]) -> Option<Vec<u8>> {
    match matching {
        0 => Some(data.to_vec()),
        SHA256 => Some(digest::digest(&digest::SHA256, data).as_ref().to_vec()),
        2 => Some(digest::digest(&digest::SHA512, data).as_ref().to_vec()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, PublicKeyData,
    };

    use super::*;

    /// A CA, a server certificate it issued, and each one's SubjectPublicKeyInfo as rcgen
    /// writes it (not read back from the certificate: the reading is what is tested).
    struct Pki {
        chain: Vec<CertificateDer<'static>>,
        leaf_spki: Vec<u8>,
        ca_spki: Vec<u8>,
    }

    fn issued() -> Pki {
        static CAS: AtomicU32 = AtomicU32::new(0);
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Each CA its own name: an issuer is found by name.
        params.distinguished_name.push(
            DnType::CommonName,
            format!("test CA {}", CAS.fetch_add(1, Ordering::Relaxed)),
        );
        let ca_key = KeyPair::generate().unwrap();
        let ca_spki = ca_key.subject_public_key_info();
        let ca = CertifiedIssuer::self_signed(params, ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["mail.contoso.example".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        Pki {
            chain: vec![leaf.der().clone(), ca.der().clone()],
            leaf_spki: key.subject_public_key_info(),
            ca_spki,
        }
    }

    fn record(usage: u8, selector: u8, matching: u8, data: &[u8]) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data: digest_of(matching, data).unwrap().into(),
        }
    }

    /// `3 1 1` is the SHA-256 of the server's key, `2 1 1` that of the CA that issued it; a
    /// chain without its CA has no `2 1 1`, nor one whose other certificate issued nothing.
    #[test]
    fn presented_records_pin_the_key_and_the_issuer() {
        let pki = issued();
        assert_eq!(
            presented(&pki.chain),
            [
                record(3, 1, 1, &pki.leaf_spki),
                record(2, 1, 1, &pki.ca_spki)
            ]
        );
        assert_eq!(
            presented(&pki.chain[..1]),
            [record(3, 1, 1, &pki.leaf_spki)]
        );
        let other = issued();
        let unrelated = [pki.chain[0].clone(), other.chain[1].clone()];
        assert_eq!(presented(&unrelated).len(), 1);
        assert!(cert::validity(&pki.chain[0]).is_some());
    }

    /// Every usable usage, selector and matching type matches the certificate it names and no
    /// other: DANE-EE the server's, DANE-TA the CA's.
    #[test]
    fn each_usage_selector_and_matching_type() {
        let pki = issued();
        let (leaf, ca) = (&pki.chain[0], &pki.chain[1]);
        for matching in 0..=2 {
            for (selector, leaf_part, ca_part) in [
                (0, leaf.to_vec(), ca.to_vec()),
                (1, pki.leaf_spki.clone(), pki.ca_spki.clone()),
            ] {
                let ee = record(3, selector, matching, &leaf_part);
                let ta = record(2, selector, matching, &ca_part);
                let what = format!("selector {selector}, matching type {matching}");
                assert!(ee.matches(&pki.chain), "{what}: DANE-EE");
                assert!(ta.matches(&pki.chain), "{what}: DANE-TA");
                assert!(
                    !record(3, selector, matching, &ca_part).matches(&pki.chain),
                    "{what}"
                );
                assert!(
                    !record(2, selector, matching, &leaf_part).matches(&pki.chain),
                    "{what}"
                );
            }
        }
    }

    /// The RRset matches when any usable record does; PKIX usages and unknown types are not
    /// compared, and an RRset of only those has nothing to compare.
    #[test]
    fn an_rrset_matches_by_any_usable_record() {
        let pki = issued();
        let renewed = issued();
        let current = record(3, 1, 1, &pki.leaf_spki);
        let next = record(3, 1, 1, &renewed.leaf_spki);
        let pkix = record(1, 1, 1, &pki.leaf_spki);
        assert_eq!(
            compare(&[next.clone(), current.clone()], &pki.chain),
            Comparison::Match(current.clone())
        );
        assert_eq!(
            compare(std::slice::from_ref(&next), &pki.chain),
            Comparison::Mismatch
        );
        assert_eq!(
            compare(std::slice::from_ref(&pkix), &pki.chain),
            Comparison::NoUsableRecord
        );
        assert_eq!(compare(&[pkix, next], &pki.chain), Comparison::Mismatch);
        let unknown = Tlsa {
            selector: 7,
            ..current.clone()
        };
        assert!(!unknown.usable() && !unknown.matches(&pki.chain));
        assert_eq!(Tlsa::from_rdata(&[3, 1, 1]), None);
        let wire = [&[3u8, 1, 1][..], &current.data].concat();
        assert_eq!(Tlsa::from_rdata(&wire), Some(current));
    }
}
