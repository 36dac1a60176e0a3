//! Reads a whole response message, decompressing every name: what `explain` shows and what tests
//! and the fuzzer use to check that responses are well formed. Not on the query path.

use super::HEADER_LEN;
use crate::dns::name::{MAX_LABEL_LEN, MAX_NAME_LEN};
use crate::dns::rtype;

/// A record with its owner and embedded names uncompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub udp_payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    pub flags: u16,
    /// The full response code: header bits plus the OPT record's extended bits.
    pub rcode: u16,
    pub question: Option<(Vec<u8>, u16, u16)>,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    /// Without the OPT record, which is in `opt`.
    pub additional: Vec<Record>,
    pub opt: Option<Opt>,
}

impl Message {
    pub fn authoritative(&self) -> bool {
        self.flags & 0x0400 != 0
    }

    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }
}

/// Parses a message, or `None` if it is malformed in any way (including trailing bytes).
pub fn read(bytes: &[u8]) -> Option<Message> {
    if bytes.len() < HEADER_LEN {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
    let counts = [u16_at(4)?, u16_at(6)?, u16_at(8)?, u16_at(10)?];
    let mut pos = HEADER_LEN;
    let question = match counts[0] {
        0 => None,
        1 => {
            let (name, next) = read_name(bytes, pos)?;
            pos = next + 4;
            Some((name, u16_at(next)?, u16_at(next + 2)?))
        }
        _ => return None,
    };
    let mut sections: [Vec<Record>; 3] = Default::default();
    let mut opt = None;
    let mut extended = 0u16;
    for (section, &count) in sections.iter_mut().zip(&counts[1..]) {
        for _ in 0..count {
            let (owner, next) = read_name(bytes, pos)?;
            let rtype = u16_at(next)?;
            let class = u16_at(next + 2)?;
            let ttl = ((u16_at(next + 4)? as u32) << 16) | u16_at(next + 6)? as u32;
            let rdlength = u16_at(next + 8)? as usize;
            let start = next + 10;
            let end = start + rdlength;
            if end > bytes.len() {
                return None;
            }
            pos = end;
            if rtype == rtype::OPT {
                extended = (ttl >> 24) as u16;
                opt = Some(Opt {
                    udp_payload: class,
                    version: (ttl >> 16) as u8,
                    dnssec_ok: ttl & 0x8000 != 0,
                });
                continue;
            }
            let rdata = decompress_rdata(bytes, rtype, start, end)?;
            section.push(Record {
                owner,
                rtype,
                class,
                ttl,
                rdata,
            });
        }
    }
    if pos != bytes.len() {
        return None;
    }
    let flags = u16_at(2)?;
    let [answer, authority, additional] = sections;
    Some(Message {
        id: u16_at(0)?,
        flags,
        rcode: (extended << 4) | (flags & 0x000f),
        question,
        answer,
        authority,
        additional,
        opt,
    })
}

/// RDATA with the names of the types that may be compressed (RFC 3597 §4) written out.
fn decompress_rdata(msg: &[u8], rtype: u16, start: usize, end: usize) -> Option<Vec<u8>> {
    // (leading fixed octets, names, trailing fixed octets)
    let layout: (usize, usize, usize) = match rtype {
        rtype::NS
        | rtype::CNAME
        | rtype::PTR
        | rtype::MD
        | rtype::MF
        | rtype::MB
        | rtype::MG
        | rtype::MR => (0, 1, 0),
        rtype::MX => (2, 1, 0),
        rtype::SOA => (0, 2, 20),
        rtype::MINFO => (0, 2, 0),
        _ => return Some(msg[start..end].to_vec()),
    };
    let (lead, names, trail) = layout;
    let mut out = msg.get(start..start + lead)?.to_vec();
    let mut pos = start + lead;
    for _ in 0..names {
        let (name, next) = read_name(msg, pos)?;
        out.extend_from_slice(&name);
        pos = next;
    }
    out.extend_from_slice(msg.get(pos..pos + trail)?);
    (pos + trail == end).then_some(out)
}

/// Reads a possibly compressed name at `pos`: returns it uncompressed and the offset just past
/// it in the message. Pointers must point backwards, which also rules out loops.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut name = Vec::new();
    let mut resume = None;
    let mut limit = pos;
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xc0 {
            0x00 => {
                if len > MAX_LABEL_LEN {
                    return None;
                }
                name.extend_from_slice(msg.get(pos..pos + 1 + len)?);
                if name.len() > MAX_NAME_LEN {
                    return None;
                }
                pos += 1 + len;
                if len == 0 {
                    return Some((name, resume.unwrap_or(pos)));
                }
            }
            0xc0 => {
                let target = ((len & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
                if target >= limit {
                    return None;
                }
                resume.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return None,
        }
    }
}
