//! The canonical forms DNSSEC signs and orders by (RFC 4034 §6): the order of names in a zone,
//! the RDATA of a record as it is signed (embedded names lowercased for the types RFC 4034 §6.2
//! lists, as RFC 6840 §5.1 amends it), and an owner's label count for the RRSIG.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::dns::name::{MAX_NAME_LEN, suffix_offsets};
use crate::dns::rdata::embedded_names;
use crate::dns::rtype::*;

/// RFC 4034 §6.1: names compare label by label from the root, each label as lowercased octets
/// (a label that is a prefix of the other sorts first). Takes validated wire names.
pub(crate) fn cmp_names(a: &[u8], b: &[u8]) -> Ordering {
    let (a_starts, a_len) = label_starts(a);
    let (b_starts, b_len) = label_starts(b);
    let mut i = a_len;
    let mut j = b_len;
    while i > 0 && j > 0 {
        i -= 1;
        j -= 1;
        let order = cmp_labels(label(a, a_starts[i]), label(b, b_starts[j]));
        if order != Ordering::Equal {
            return order;
        }
    }
    a_len.cmp(&b_len)
}

/// Two labels as RFC 4034 §6.1 orders them: octet strings with ASCII letters lowercased. Equal
/// octets (the common case: the names of a zone are kept lowercased, and most of a name's labels
/// are its zone's) are one memcmp; letters are lowercased only where the octets differ.
fn cmp_labels(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    for (x, y) in a.iter().zip(b) {
        if x != y {
            let order = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
            if order != Ordering::Equal {
                return order;
            }
        }
    }
    a.len().cmp(&b.len())
}

/// Appends to `out` an octet string whose order (as bytes) is the canonical order of the names
/// it is made from ([`cmp_names`]): the labels from the root, lowercased, each followed by 0x00
/// 0x00, with a 0x00 octet within a label written 0x00 0x01 — so a label sorts before every
/// label it is a prefix of, and a name before the names below it. For sorting many names: each
/// comparison is then one memcmp, not a walk over two names' labels.
pub(crate) fn push_sort_key(name: &[u8], out: &mut Vec<u8>) {
    let (starts, count) = label_starts(name);
    for &start in starts[..count].iter().rev() {
        for &octet in label(name, start) {
            match octet {
                0 => out.extend_from_slice(&[0, 1]),
                octet => out.push(octet.to_ascii_lowercase()),
            }
        }
        out.extend_from_slice(&[0, 0]);
    }
}

/// The first eight octets of `name`'s sort key ([`push_sort_key`]) after its first `skip` labels
/// from the root (a zone's origin, which every name of the zone shares), zero-padded, as a
/// big-endian number: names whose prefixes differ are in the order of their prefixes, so a
/// search compares whole names only among equal prefixes.
pub(crate) fn key_prefix(name: &[u8], skip: usize) -> u64 {
    let (starts, count) = label_starts(name);
    let mut prefix = 0u64;
    let mut room = 8u32;
    // A plain loop that stops at the eighth octet: this runs once per NSEC lookup.
    macro_rules! put {
        ($done:lifetime, $octet:expr) => {{
            if room == 0 {
                break $done;
            }
            prefix = (prefix << 8) | u64::from($octet);
            room -= 1;
        }};
    }
    'labels: for &start in starts[..count.saturating_sub(skip)].iter().rev() {
        for &octet in label(name, start) {
            if octet == 0 {
                put!('labels, 0u8);
                put!('labels, 1u8);
            } else {
                put!('labels, octet.to_ascii_lowercase());
            }
        }
        put!('labels, 0u8);
        put!('labels, 0u8);
    }
    // Zero-padded on the right; nothing put at all is zero (a shift by 64 would overflow).
    prefix.checked_shl(8 * room).unwrap_or(0)
}

/// The number of labels of a wire name, the root not counted.
pub(crate) fn labels(name: &[u8]) -> usize {
    suffix_offsets(name).count()
}

fn label_starts(wire: &[u8]) -> ([u8; MAX_NAME_LEN / 2], usize) {
    let mut starts = [0u8; MAX_NAME_LEN / 2];
    let mut count = 0;
    for offset in suffix_offsets(wire) {
        starts[count] = offset as u8;
        count += 1;
    }
    (starts, count)
}

fn label(wire: &[u8], start: u8) -> &[u8] {
    let start = start as usize;
    &wire[start + 1..start + 1 + wire[start] as usize]
}

/// The RRSIG Labels field (RFC 4034 §3.1.3): the owner's labels, not counting the root or a
/// leading `*` (so a wildcard's signature validates the names it answers for).
pub(crate) fn label_count(owner: &[u8]) -> u8 {
    let count = suffix_offsets(owner).count();
    let wildcard = owner.first() == Some(&1) && owner.get(1) == Some(&b'*');
    (count - usize::from(wildcard)) as u8
}

/// RDATA in canonical form: the embedded names of the types RFC 4034 §6.2 lists lowercased. RFC
/// 6840 §5.1 takes NSEC off the list (its next name is signed as written; ours are written
/// lowercased anyway); SVCB, HTTPS and the types after RFC 3597 are not on it.
pub(crate) fn rdata(rtype: u16, wire: &[u8]) -> Cow<'_, [u8]> {
    let listed = matches!(
        rtype,
        NS | MD
            | MF
            | CNAME
            | SOA
            | MB
            | MG
            | MR
            | PTR
            | MINFO
            | MX
            | RP
            | AFSDB
            | RT
            | SIG
            | PX
            | NXT
            | NAPTR
            | KX
            | SRV
            | DNAME
            | A6
            | RRSIG
    );
    if !listed {
        return Cow::Borrowed(wire);
    }
    let names = embedded_names(rtype, wire);
    if names.count == 0 {
        return Cow::Borrowed(wire);
    }
    let mut canonical = wire.to_vec();
    for &offset in &names.offsets[..names.count as usize] {
        let start = offset as usize;
        if let Some(len) = crate::dns::name::wire_name_len(&wire[start..]) {
            canonical[start..start + len].make_ascii_lowercase();
        }
    }
    Cow::Owned(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::Name;

    fn wire(text: &str) -> Vec<u8> {
        Name::parse(text, None).unwrap().as_wire().to_vec()
    }

    /// The example order of RFC 4034 §6.1.
    #[test]
    fn names_sort_as_rfc_4034_shows() {
        let sorted = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let names: Vec<Vec<u8>> = sorted.iter().map(|n| wire(n)).collect();
        for pair in names.windows(2) {
            assert_eq!(cmp_names(&pair[0], &pair[1]), Ordering::Less);
            assert_eq!(cmp_names(&pair[1], &pair[0]), Ordering::Greater);
        }
        assert_eq!(
            cmp_names(&wire("A.Example."), &wire("a.example.")),
            Ordering::Equal
        );
    }

    /// The sort key orders names as `cmp_names` does: the RFC's example, mixed case, and the
    /// octets that need care (0x00, which the key escapes; 0x01; letters around the digits).
    #[test]
    fn sort_keys_order_names_canonically() {
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\000.z.example.",
            "\\000\\000.z.example.",
            "\\000a.z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
            "a\\000.example.",
            "a\\000b.example.",
            "a\\001.example.",
            "ab.example.",
            "A.B.example.",
            "b.example.",
            "host1.Example.",
            "host10.example.",
            "host2.example.",
            "Host2.sub.example.",
            "[.example.",
            "_tcp.example.",
            ".",
            "org.",
        ];
        let wires: Vec<Vec<u8>> = names.iter().map(|n| wire(n)).collect();
        let key = |w: &[u8]| {
            let mut out = Vec::new();
            push_sort_key(w, &mut out);
            out
        };
        for (a, a_text) in wires.iter().zip(names) {
            for (b, b_text) in wires.iter().zip(names) {
                assert_eq!(
                    key(a).cmp(&key(b)),
                    cmp_names(a, b),
                    "{a_text} against {b_text}"
                );
            }
        }
    }

    /// Within a zone, names with different prefixes are in the order of their prefixes.
    #[test]
    fn key_prefixes_keep_the_canonical_order_within_a_zone() {
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "\\000.z.example.",
            "\\000\\000.z.example.",
            "z.example.",
            "a\\000.example.",
            "a\\001.example.",
            "ab.example.",
            "host1.Example.",
            "host10.example.",
            "host100000.example.",
            "host100001.example.",
            "host2.example.",
            "Host2.sub.example.",
            "_tcp.example.",
        ];
        let skip = labels(&wire("example."));
        let wires: Vec<Vec<u8>> = names.iter().map(|n| wire(n)).collect();
        // Exactly the sort key's first eight octets below the origin, zero-padded.
        let mut origin_key = Vec::new();
        push_sort_key(&wire("example."), &mut origin_key);
        for (name, text) in wires.iter().zip(names) {
            let mut key = Vec::new();
            push_sort_key(name, &mut key);
            let mut expected = [0u8; 8];
            let below = &key[origin_key.len()..];
            let n = below.len().min(8);
            expected[..n].copy_from_slice(&below[..n]);
            assert_eq!(
                key_prefix(name, skip),
                u64::from_be_bytes(expected),
                "{text}"
            );
        }
        for (a, a_text) in wires.iter().zip(names) {
            for (b, b_text) in wires.iter().zip(names) {
                let (pa, pb) = (key_prefix(a, skip), key_prefix(b, skip));
                if pa != pb {
                    assert_eq!(pa.cmp(&pb), cmp_names(a, b), "{a_text} against {b_text}");
                }
            }
        }
        assert_eq!(key_prefix(&wire("example."), skip), 0);
    }

    #[test]
    fn wildcards_do_not_count_their_star() {
        assert_eq!(label_count(&wire("*.a.example.")), 2);
        assert_eq!(label_count(&wire("a.example.")), 2);
        assert_eq!(label_count(&wire(".")), 0);
    }

    #[test]
    fn only_listed_types_lowercase_their_names() {
        let mx = [&[0, 10][..], &wire("Mail.Example.")].concat();
        assert_eq!(
            &*rdata(MX, &mx),
            &[&[0, 10][..], &wire("mail.example.")].concat()[..]
        );
        let svcb = [&[0, 1][..], &wire("Target.Example.")].concat();
        assert_eq!(&*rdata(SVCB, &svcb), &svcb[..]);
    }
}
