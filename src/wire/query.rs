//! Reads an incoming query in place: header, the one question (name lowercased into a stack
//! buffer for lookup, original case kept as a slice of the packet), and the EDNS OPT record.
//! Every length is checked against the packet; nothing allocates, so hostile input costs at most
//! one pass over the bytes.

use super::HEADER_LEN;
use crate::dns::name::{self, MAX_NAME_LEN, NameKey};
use crate::dns::rtype;

/// A parsed query, borrowing the packet.
#[derive(Debug)]
pub(crate) struct Query<'a> {
    pub id: u16,
    /// The header's flags (opcode, RD, CD …), as a response echoes them.
    pub flags: u16,
    /// The question name as sent (case preserved), uncompressed wire format.
    pub qname: &'a [u8],
    /// The question name lowercased: the lookup key.
    pub key: NameKey,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// The serial of the SOA in the authority section: what an IXFR client has (RFC 1995 §3).
    pub authority_serial: Option<u32>,
    /// The TSIG record, when the request is signed (always the last record: RFC 8945 §5.1).
    pub tsig: Option<super::tsig::Record<'a>>,
}

/// What the client said in its OPT record (RFC 6891).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edns {
    /// Advertised UDP payload size, already raised to at least 512.
    pub udp_payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// Why a packet is not answered as a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Not worth a reply: shorter than a header, or a response (QR=1), which must never be
    /// answered (that would let two servers loop, or reflect traffic).
    Drop,
    /// Answer FORMERR (with this opcode echoed).
    FormErr,
    /// A well-formed header with an opcode we do not implement: answer NOTIMP.
    NotImp,
    /// NOTIFY or UPDATE: known, but not accepted here (no zone is a secondary or dynamic).
    Refused,
}

/// Header fields needed to answer even a malformed query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub id: u16,
    pub flags: u16,
}

impl Header {
    pub(crate) fn read(packet: &[u8]) -> Option<Header> {
        if packet.len() < HEADER_LEN {
            return None;
        }
        Some(Header {
            id: u16::from_be_bytes([packet[0], packet[1]]),
            flags: u16::from_be_bytes([packet[2], packet[3]]),
        })
    }

    pub(crate) fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    pub(crate) fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
}

fn u16_at(packet: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]))
}

const OPCODE_QUERY: u8 = 0;
const OPCODE_NOTIFY: u8 = 4;
const OPCODE_UPDATE: u8 = 5;

/// Parses a query. Opcodes other than QUERY are rejected once the header is known to be a
/// request: NOTIFY and UPDATE with REFUSED, the rest with NOTIMP.
pub(crate) fn parse(packet: &[u8]) -> Result<Query<'_>, Rejection> {
    let header = Header::read(packet).ok_or(Rejection::Drop)?;
    if header.is_response() {
        return Err(Rejection::Drop);
    }
    match header.opcode() {
        OPCODE_QUERY => {}
        OPCODE_NOTIFY | OPCODE_UPDATE => return Err(Rejection::Refused),
        _ => return Err(Rejection::NotImp),
    }
    let qdcount = u16_at(packet, 4).ok_or(Rejection::FormErr)?;
    let ancount = u16_at(packet, 6).ok_or(Rejection::FormErr)?;
    let nscount = u16_at(packet, 8).ok_or(Rejection::FormErr)?;
    let arcount = u16_at(packet, 10).ok_or(Rejection::FormErr)?;
    if qdcount != 1 {
        return Err(Rejection::FormErr);
    }
    let qname_len = name::wire_name_len(&packet[HEADER_LEN..]).ok_or(Rejection::FormErr)?;
    let qname = &packet[HEADER_LEN..HEADER_LEN + qname_len];
    let mut pos = HEADER_LEN + qname_len;
    let qtype = u16_at(packet, pos).ok_or(Rejection::FormErr)?;
    let qclass = u16_at(packet, pos + 2).ok_or(Rejection::FormErr)?;
    pos += 4;

    let mut authority_serial = None;
    for index in 0..(ancount as usize + nscount as usize) {
        let record = skip_record(packet, pos).ok_or(Rejection::FormErr)?;
        // The SOA's fixed fields end its RDATA, so the serial is found without reading the
        // (possibly compressed) names before it.
        if index >= ancount as usize
            && record.rtype == rtype::SOA
            && authority_serial.is_none()
            && record.end >= record.fixed + 8 + 20
        {
            let at = record.end - 20;
            authority_serial = Some(u32::from_be_bytes(
                packet[at..at + 4].try_into().expect("four octets"),
            ));
        }
        pos = record.end;
    }
    let mut edns = None;
    let mut tsig = None;
    for index in 0..arcount {
        let record = skip_record(packet, pos).ok_or(Rejection::FormErr)?;
        if record.rtype == rtype::TSIG {
            // RFC 8945 §5.1: a TSIG anywhere but last is a format error.
            if index + 1 != arcount {
                return Err(Rejection::FormErr);
            }
            tsig = Some(super::tsig::read_record(packet, pos).ok_or(Rejection::FormErr)?);
        }
        if record.rtype == rtype::OPT {
            // RFC 6891 §6.1.1: one OPT at most, owned by the root.
            if edns.is_some()
                || record.owner_is_root == Some(false)
                || record.owner_is_root.is_none()
            {
                return Err(Rejection::FormErr);
            }
            let class = u16_at(packet, record.fixed).ok_or(Rejection::FormErr)?;
            let ttl_hi = u16_at(packet, record.fixed + 2).ok_or(Rejection::FormErr)?;
            let ttl_lo = u16_at(packet, record.fixed + 4).ok_or(Rejection::FormErr)?;
            edns = Some(Edns {
                udp_payload: class.max(super::MIN_UDP_PAYLOAD),
                version: (ttl_hi & 0xff) as u8,
                dnssec_ok: ttl_lo & 0x8000 != 0,
            });
        }
        pos = record.end;
    }
    if pos != packet.len() {
        return Err(Rejection::FormErr);
    }
    Ok(Query {
        id: header.id,
        flags: header.flags,
        qname,
        key: NameKey::from_wire(qname).ok_or(Rejection::FormErr)?,
        qtype,
        qclass,
        edns,
        authority_serial,
        tsig,
    })
}

/// The TSIG record that ends a message (a response to a request we sent), if there is one.
pub(crate) fn tsig_of_response(packet: &[u8]) -> Option<super::tsig::Record<'_>> {
    let count = |at: usize| u16_at(packet, at).map(usize::from);
    let (qdcount, records) = (count(4)?, count(6)? + count(8)? + count(10)?);
    let mut pos = HEADER_LEN;
    for _ in 0..qdcount {
        // A question is a record without TTL and RDATA: skip its name and the type and class.
        let mut at = pos;
        loop {
            let len = *packet.get(at)? as usize;
            match len & 0xc0 {
                0x00 if len == 0 => break at += 1,
                0x00 => at += 1 + len,
                0xc0 => break at += 2,
                _ => return None,
            }
        }
        pos = at + 4;
    }
    let mut last = None;
    for _ in 0..records {
        let record = skip_record(packet, pos)?;
        last = Some((pos, record.rtype));
        pos = record.end;
    }
    match last {
        Some((start, rtype::TSIG)) if pos == packet.len() => {
            super::tsig::read_record(packet, start)
        }
        _ => None,
    }
}

struct SkippedRecord {
    rtype: u16,
    /// Whether the owner is the root name (`None` if it was compressed).
    owner_is_root: Option<bool>,
    /// Offset of the CLASS field.
    fixed: usize,
    end: usize,
}

/// Steps over one resource record without following compression pointers (a pointer always
/// ends a name), checking every length against the packet.
fn skip_record(packet: &[u8], start: usize) -> Option<SkippedRecord> {
    let mut pos = start;
    let mut labels = 0usize;
    let owner_is_root;
    loop {
        let len = *packet.get(pos)? as usize;
        match len & 0xc0 {
            0x00 => {
                pos += 1 + len;
                if len == 0 {
                    owner_is_root = Some(labels == 0);
                    break;
                }
                labels += 1;
                if pos - start > MAX_NAME_LEN {
                    return None;
                }
            }
            0xc0 => {
                packet.get(pos + 1)?;
                pos += 2;
                owner_is_root = None;
                break;
            }
            _ => return None,
        }
    }
    let rtype = u16_at(packet, pos)?;
    let fixed = pos + 2;
    let rdlength = u16_at(packet, pos + 8)? as usize;
    let end = pos + 10 + rdlength;
    if end > packet.len() {
        return None;
    }
    Some(SkippedRecord {
        rtype,
        owner_is_root,
        fixed,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(qname: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        packet.extend_from_slice(&arcount.to_be_bytes());
        packet.extend_from_slice(qname);
        packet.extend_from_slice(&qtype.to_be_bytes());
        packet.extend_from_slice(&1u16.to_be_bytes());
        packet.extend_from_slice(extra);
        packet
    }

    const OPT_DO_4096: &[u8] = &[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn reads_question_and_edns() {
        let packet = query(b"\x04Mail\x07contoso\x07example\x00", 1, OPT_DO_4096, 1);
        let q = parse(&packet).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.qname, b"\x04Mail\x07contoso\x07example\x00");
        assert_eq!(q.key.as_wire(), b"\x04mail\x07contoso\x07example\x00");
        assert_eq!(q.qtype, 1);
        assert_eq!(
            q.edns,
            Some(Edns {
                udp_payload: 4096,
                version: 0,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn small_payload_counts_as_512() {
        let opt = [0, 0, 41, 0, 100, 0, 0, 0, 0, 0, 0];
        let packet = query(b"\x00", 2, &opt, 1);
        assert_eq!(parse(&packet).unwrap().edns.unwrap().udp_payload, 512);
    }

    #[test]
    fn rejects_what_rfcs_reject() {
        let ok = query(b"\x01a\x00", 1, &[], 0);
        let mut response = ok.clone();
        response[2] |= 0x80;
        assert_eq!(parse(&response).unwrap_err(), Rejection::Drop);
        assert_eq!(parse(&ok[..11]).unwrap_err(), Rejection::Drop);
        let mut notify = ok.clone();
        notify[2] = 4 << 3;
        assert_eq!(parse(&notify).unwrap_err(), Rejection::Refused);
        let mut status = ok.clone();
        status[2] = 2 << 3;
        assert_eq!(parse(&status).unwrap_err(), Rejection::NotImp);
        let mut two_questions = ok.clone();
        two_questions[5] = 2;
        assert_eq!(parse(&two_questions).unwrap_err(), Rejection::FormErr);
        let two_opts = [OPT_DO_4096, OPT_DO_4096].concat();
        assert_eq!(
            parse(&query(b"\x00", 1, &two_opts, 2)).unwrap_err(),
            Rejection::FormErr
        );
        let non_root_opt = [&[1u8, b'x'][..], &OPT_DO_4096[1..]].concat();
        assert_eq!(
            parse(&query(b"\x00", 1, &non_root_opt, 1)).unwrap_err(),
            Rejection::FormErr
        );
        assert_eq!(
            parse(&query(b"\xc0\x0c", 1, &[], 0)).unwrap_err(),
            Rejection::FormErr
        );
        assert_eq!(
            parse(&query(b"\x40", 1, &[], 0)).unwrap_err(),
            Rejection::FormErr
        );
        assert_eq!(
            parse(&query(b"\x00", 1, &[], 1)).unwrap_err(),
            Rejection::FormErr
        );
        assert_eq!(
            parse(&query(b"\x00", 1, &[0], 0)).unwrap_err(),
            Rejection::FormErr
        );
    }
}
