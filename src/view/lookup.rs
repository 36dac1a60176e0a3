//! Finds what a zone holds for a name, walking down from the apex one label at a time: the first
//! delegation or DNAME on the way wins, a missing label means the name does not exist (then the
//! wildcard at the closest encloser is tried, RFC 4592 §4). Each step is one hash probe, so the
//! cost is O(labels), whatever the size of the zone.

use crate::dns::name::{self, MAX_NAME_LEN};
use crate::dns::rtype;
use crate::view::zone::{Node, ViewZone};

/// What a zone holds for a (lowercased) name.
#[derive(Debug)]
pub enum Found<'z> {
    /// The name exists (possibly as an empty non-terminal).
    Exact(&'z Node),
    /// The name does not exist but a wildcard at its closest encloser does; the encloser is
    /// the suffix of length `encloser_len`.
    Wildcard { node: &'z Node, encloser_len: usize },
    /// The name is at or below a zone cut: `cut_len` is the length of the cut's name, the suffix
    /// of the looked-up name.
    Delegation { node: &'z Node, cut_len: usize },
    /// The name is below a DNAME owned by the suffix of length `owner_len` (RFC 6672).
    Dname { node: &'z Node, owner_len: usize },
    /// Neither the name nor a matching wildcard exists; its closest encloser (RFC 5155 §1.3)
    /// is the suffix of length `encloser_len`, which a signed answer's proof starts from.
    NxDomain { encloser_len: usize },
}

impl ViewZone {
    /// What the zone holds for `key`, a lowercased wire name at or below the origin. `qtype`
    /// matters only at a cut: a DS query for the cut's own name is answered from the parent side.
    pub fn find(&self, key: &[u8], qtype: u16) -> Found<'_> {
        find(self, key, qtype)
    }
}

fn find<'z>(zone: &'z ViewZone, key: &[u8], qtype: u16) -> Found<'z> {
    let origin_len = zone.origin.as_wire().len();
    // Label offsets fit a byte: a wire name is at most 255 octets.
    let mut offsets = [0u8; 128];
    let mut depth = 0usize;
    for offset in name::suffix_offsets(key) {
        if key.len() - offset <= origin_len {
            break;
        }
        offsets[depth] = offset as u8;
        depth += 1;
    }
    let apex = key.len() - origin_len;
    let Some(mut node) = zone.node(&key[apex..]) else {
        return Found::NxDomain {
            encloser_len: origin_len,
        };
    };
    let mut encloser = apex;
    // offsets[..depth] run from the full name up; walk them from the apex down. At the top of
    // each step `node` is a strict ancestor of the name.
    for offset in offsets[..depth].iter().rev().map(|&o| o as usize) {
        if node.get(rtype::DNAME).is_some() {
            return Found::Dname {
                node,
                owner_len: key.len() - encloser,
            };
        }
        let Some(next) = zone.node(&key[offset..]) else {
            return wildcard_at(zone, &key[encloser..]);
        };
        node = next;
        encloser = offset;
        if node.is_cut() && !(offset == 0 && qtype == rtype::DS) {
            return Found::Delegation {
                node,
                cut_len: key.len() - offset,
            };
        }
    }
    Found::Exact(node)
}

fn wildcard_at<'z>(zone: &'z ViewZone, encloser: &[u8]) -> Found<'z> {
    let mut wildcard = [0u8; MAX_NAME_LEN];
    let nxdomain = Found::NxDomain {
        encloser_len: encloser.len(),
    };
    if encloser.len() + 2 > MAX_NAME_LEN {
        return nxdomain;
    }
    wildcard[0] = 1;
    wildcard[1] = b'*';
    wildcard[2..2 + encloser.len()].copy_from_slice(encloser);
    match zone.node(&wildcard[..2 + encloser.len()]) {
        Some(node) => Found::Wildcard {
            node,
            encloser_len: encloser.len(),
        },
        None => nxdomain,
    }
}
