//! What the checks need to read from certificates that rustls does not hand out: a certificate's
//! validity dates, issuer, subject and public key (from its DER, RFC 5280 §4.1), and a CA file's
//! certificates (PEM). Read by walking the few DER elements before them rather than by a full
//! X.509 parser: a DANE report must still name the digest of a certificate that a strict parser
//! refuses (an unknown critical extension, a version 1 certificate).

use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use crate::dns::time::{civil_from_days, days_from_civil};

/// Reads a CA file's certificates (PEM `CERTIFICATE` blocks), each usable as a trust anchor.
pub(crate) fn parse_ca_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut certificates = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        let der = item.map_err(|e| format!("not PEM: {e}"))?;
        let mut store = RootCertStore::empty();
        store
            .add(der.clone())
            .map_err(|e| format!("a CERTIFICATE block is not a certificate: {e}"))?;
        certificates.push(der.to_vec());
    }
    if certificates.is_empty() {
        return Err("no PEM CERTIFICATE block in it".into());
    }
    Ok(certificates)
}

/// The trust anchors of a CA file's certificates.
pub(crate) fn root_store(certificates: &[Vec<u8>]) -> RootCertStore {
    let mut store = RootCertStore::empty();
    for der in certificates {
        // Checked when the config was loaded.
        let _ = store.add(CertificateDer::from(der.clone()));
    }
    store
}

/// The fields of a certificate's `TBSCertificate` that the checks read, as DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields<'a> {
    /// The issuer's and the subject's distinguished names, whole elements: a certificate issued
    /// by another has its issuer equal to that one's subject, byte for byte (RFC 5280 §7.1).
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// The `SubjectPublicKeyInfo`, the whole element (tag and length too): what a TLSA record
    /// with selector 1 is about (RFC 6698 §1.1.3).
    pub spki: &'a [u8],
    /// The `Validity` element's content.
    validity: &'a [u8],
}

/// Reads the fields of the certificate `der`.
pub(crate) fn fields(der: &[u8]) -> Option<Fields<'_>> {
    let (certificate, _) = element(der, 0x30)?;
    let (mut tbs, _) = element(certificate, 0x30)?;
    // version [0] EXPLICIT (optional), serialNumber, signature, issuer, validity, subject, spki.
    if tbs.first() == Some(&0xa0) {
        tbs = element(tbs, 0xa0)?.1;
    }
    let tbs = element(tbs, 0x02)?.1;
    let tbs = element(tbs, 0x30)?.1;
    let (issuer, tbs) = whole(tbs, 0x30)?;
    let (validity, tbs) = element(tbs, 0x30)?;
    let (subject, tbs) = whole(tbs, 0x30)?;
    let (spki, _) = whole(tbs, 0x30)?;
    Some(Fields {
        issuer,
        subject,
        spki,
        validity,
    })
}

/// A certificate's `notBefore` and `notAfter`, in seconds since the Unix epoch.
pub(crate) fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (not_before, rest) = time(fields(der)?.validity)?;
    let (not_after, _) = time(rest)?;
    Some((not_before, not_after))
}

/// The DER element at the start of `input`, tag and length included, if its tag is `tag`, and
/// what follows.
fn whole(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (_, rest) = element(input, tag)?;
    Some((&input[..input.len() - rest.len()], rest))
}

/// The content of the DER element at the start of `input` if its tag is `tag`, and what follows.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let octets = (first & 0x7f) as usize;
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let len = rest[..octets]
            .iter()
            .fold(0usize, |len, &octet| len << 8 | octet as usize);
        rest = &rest[octets..];
        len
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as Unix seconds.
fn time(input: &[u8]) -> Option<(i64, &[u8])> {
    let (tag, digits) = match input.first()? {
        0x17 => (0x17, 2),
        0x18 => (0x18, 4),
        _ => return None,
    };
    let (content, rest) = element(input, tag)?;
    let text = std::str::from_utf8(content).ok()?;
    let text = text.strip_suffix('Z')?;
    if text.len() != digits + 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i64>().ok();
    let mut year = number(0..digits)?;
    if digits == 2 {
        // RFC 5280 §4.1.2.5.1: 50–99 are 19xx, 00–49 are 20xx.
        year += if year >= 50 { 1900 } else { 2000 };
    }
    let at = digits;
    let (month, day) = (number(at..at + 2)?, number(at + 2..at + 4)?);
    let (hour, minute, second) = (
        number(at + 4..at + 6)?,
        number(at + 6..at + 8)?,
        number(at + 8..at + 10)?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some((seconds, rest))
}

/// Unix seconds as `YYYY-MM-DD` (UTC), for log lines.
pub(crate) fn date(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_days() {
        for (text, seconds) in [
            ("1970-01-01", 0),
            ("2000-02-29", 951_782_400),
            ("2026-11-01", 1_793_491_200),
            ("2049-12-31", 2_524_521_600),
        ] {
            assert_eq!(date(seconds), text);
            let (y, m, d) = (
                text[0..4].parse().unwrap(),
                text[5..7].parse().unwrap(),
                text[8..10].parse().unwrap(),
            );
            assert_eq!(days_from_civil(y, m, d) * 86_400, seconds, "{text}");
        }
    }

    #[test]
    fn both_time_forms_are_read() {
        assert_eq!(
            time(b"\x17\x0d261101120000Z").unwrap().0,
            1_793_491_200 + 12 * 3600
        );
        assert_eq!(
            time(b"\x18\x0f20261101120000Z").unwrap().0,
            1_793_491_200 + 12 * 3600
        );
        assert_eq!(time(b"\x17\x0d991231235959Z").unwrap().0, 946_684_799);
        assert!(time(b"\x17\x0d26110112000Z").is_none());
    }

    #[test]
    fn garbage_is_not_a_ca() {
        assert!(
            parse_ca_pem(b"hello")
                .unwrap_err()
                .contains("no PEM CERTIFICATE")
        );
        let bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse_ca_pem(bad).is_err());
    }
}
