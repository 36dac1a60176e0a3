//! RRSIG records (RFC 4034 §3): the RDATA of a signature over one RRset, made with one key, and
//! the fields the signer reads back from signatures it made before (to keep those still good).

use super::canonical;
use super::key::SigningKey;

/// IN, the only class signed.
const CLASS_IN: u16 = 1;

/// When a signature starts and stops being valid (RFC 4034 §3.1.5: 32-bit seconds, compared in
/// serial number arithmetic, so they wrap in 2106 without harm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    pub inception: u32,
    pub expiration: u32,
}

/// One RRset to sign: its owner (lowercased wire), type, TTL and records (RDATA as stored).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unsigned<'a> {
    pub owner: &'a [u8],
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: &'a [&'a [u8]],
}

/// The RRSIG RDATA over `set` by `key` for the zone `signer` (lowercased wire): the fields of RFC
/// 4034 §3.1, then the signature over them and the RRset in canonical form (§3.1.8.1: records
/// sorted by canonical RDATA, duplicates once, each with the owner lowercased and the original
/// TTL).
pub(crate) fn sign(
    key: &SigningKey,
    signer: &[u8],
    set: Unsigned<'_>,
    validity: Validity,
) -> Box<[u8]> {
    let mut rdata = Vec::with_capacity(18 + signer.len() + key.algorithm().signature_len());
    rdata.extend_from_slice(&set.rtype.to_be_bytes());
    rdata.push(key.algorithm().number());
    rdata.push(canonical::label_count(set.owner));
    rdata.extend_from_slice(&set.ttl.to_be_bytes());
    rdata.extend_from_slice(&validity.expiration.to_be_bytes());
    rdata.extend_from_slice(&validity.inception.to_be_bytes());
    rdata.extend_from_slice(&key.tag().to_be_bytes());
    rdata.extend_from_slice(signer);
    let mut records: Vec<std::borrow::Cow<'_, [u8]>> = set
        .rdatas
        .iter()
        .map(|wire| canonical::rdata(set.rtype, wire))
        .collect();
    records.sort_unstable();
    records.dedup();
    let mut data = rdata.clone();
    for record in &records {
        data.extend_from_slice(set.owner);
        data.extend_from_slice(&set.rtype.to_be_bytes());
        data.extend_from_slice(&CLASS_IN.to_be_bytes());
        data.extend_from_slice(&set.ttl.to_be_bytes());
        data.extend_from_slice(&(record.len() as u16).to_be_bytes());
        data.extend_from_slice(record);
    }
    rdata.extend_from_slice(&key.sign(&data));
    rdata.into_boxed_slice()
}

/// The type a signature covers.
pub(crate) fn type_covered(rrsig: &[u8]) -> u16 {
    u16::from_be_bytes([rrsig[0], rrsig[1]])
}

/// The signature's expiration time.
pub(crate) fn expiration(rrsig: &[u8]) -> u32 {
    u32::from_be_bytes([rrsig[8], rrsig[9], rrsig[10], rrsig[11]])
}

/// The tag of the key that made the signature.
pub(crate) fn key_tag(rrsig: &[u8]) -> u16 {
    u16::from_be_bytes([rrsig[16], rrsig[17]])
}

/// The signature's algorithm.
pub(crate) fn algorithm(rrsig: &[u8]) -> u8 {
    rrsig[2]
}

#[cfg(test)]
mod tests;
