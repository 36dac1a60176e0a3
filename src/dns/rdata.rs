//! Where domain names sit inside a type's RDATA: what name compression, additional-section
//! processing and canonical (lowercased) comparison need to know about each type.

use smallvec::SmallVec;

use super::name;
use super::rtype::*;

/// Wire RDATA as a zone's records hold it: up to 16 bytes (A, AAAA, a short MX or CNAME) inline,
/// longer on the heap. 24 bytes, where a boxed slice is 16 plus an allocation of its own (32
/// bytes with malloc's overhead). Most records of a large zone are addresses: the parser makes
/// them without an allocation, so the zone built from them leaves no holes in the heap either.
pub(crate) type Wire = SmallVec<[u8; 16]>;

/// `items` as a small vector: inline when they fit (the vector's buffer is given back), otherwise
/// in the vector's own buffer trimmed to its length (no spare capacity kept, as in a boxed slice).
pub(crate) fn tight<A: smallvec::Array>(items: Vec<A::Item>) -> SmallVec<A> {
    if items.len() <= A::size() {
        items.into_iter().collect()
    } else {
        SmallVec::from_vec(items.into_boxed_slice().into_vec())
    }
}

/// Where uncompressed domain names sit inside a type's wire RDATA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EmbeddedNames {
    /// Offset of each name's first octet; only the first `count` are meaningful.
    pub offsets: [u16; 2],
    pub count: u8,
}

/// The domain names embedded in `rdata` (for compression, additional-section processing and
/// canonical lowercasing). Malformed RDATA has none (`count` 0).
pub(crate) fn embedded_names(rtype: u16, rdata: &[u8]) -> EmbeddedNames {
    let (first, two) = match rtype {
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME | NSEC => (Some(0), false),
        SOA | MINFO | RP => (Some(0), true),
        MX | AFSDB | RT | KX | LP | SVCB | HTTPS => (Some(2), false),
        PX => (Some(2), true),
        SRV => (Some(6), false),
        RRSIG | SIG => (Some(18), false),
        NAPTR => (naptr_replacement_offset(rdata), false),
        _ => return EmbeddedNames::default(),
    };
    let locate = || -> Option<EmbeddedNames> {
        let first = first?;
        let first_len = name::wire_name_len(rdata.get(first..)?)?;
        let mut names = EmbeddedNames {
            offsets: [u16::try_from(first).ok()?, 0],
            count: 1,
        };
        if two {
            let second = first + first_len;
            name::wire_name_len(rdata.get(second..)?)?;
            names.offsets[1] = u16::try_from(second).ok()?;
            names.count = 2;
        }
        Some(names)
    };
    locate().unwrap_or_default()
}

/// Whether the names in a type's RDATA may be compressed in messages (RFC 3597 §4: only RFC
/// 1035's types).
pub(crate) fn compressible(rtype: u16) -> bool {
    matches!(
        rtype,
        NS | MD | MF | CNAME | MB | MG | MR | PTR | SOA | MINFO | MX
    )
}

/// NAPTR: ORDER and PREFERENCE, then three character-strings, then the replacement name.
fn naptr_replacement_offset(rdata: &[u8]) -> Option<usize> {
    let mut pos = 4usize;
    for _ in 0..3 {
        pos += 1 + *rdata.get(pos)? as usize;
    }
    (pos <= rdata.len()).then_some(pos)
}
