//! The forwarder's view of a DNS message: the query it sends upstream (the client's question,
//! case kept, with EDNS and the client's DO and CD), the checks an upstream response must pass
//! to be accepted (RFC 5452: same ID and question), and [`Stored`], a whole upstream response
//! kept as bytes — never rebuilt from records — with the offset of every TTL so that a cached
//! answer goes out with its TTLs counted down, the client's ID and question, and our own flags
//! and OPT record. A negative answer's authority records (its SOA, and any NSEC proof) are
//! lowered to the negative TTL once, when it is read (RFC 2308 §3, §5).

use crate::dns::name::{MAX_LABEL_LEN, MAX_NAME_LEN};
use crate::dns::{rcode, rtype, soa};
use crate::wire::writer::{OptReply, ResponseWriter, Section};
use crate::wire::{self, HEADER_LEN, reader};

const QR: u16 = 0x8000;
const TC: u16 = 0x0200;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;
const AD: u16 = 0x0020;
const CD: u16 = 0x0010;

/// The TTL a stale answer goes out with (RFC 8767 §4 recommends 30 seconds).
pub(crate) const STALE_TTL: u32 = 30;

/// What a client asked, as far as the forwarder needs it.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub id: u16,
    /// The client's header flags (RD, AD and CD matter).
    pub flags: u16,
    /// As the client wrote it (case kept): relayed as is, so 0x20 case randomisation survives.
    pub qname: Box<[u8]>,
    pub qtype: u16,
    pub qclass: u16,
    /// The client's EDNS: `Some(payload)` when it sent an OPT record.
    pub udp_payload: Option<u16>,
    pub dnssec_ok: bool,
}

impl Question {
    pub(crate) fn recursion_desired(&self) -> bool {
        self.flags & RD != 0
    }

    pub(crate) fn checking_disabled(&self) -> bool {
        self.flags & CD != 0
    }

    /// AD goes back to a client only when it asked for DNSSEC data or said it understands AD
    /// (RFC 6840 §5.7, RFC 4035 §3.2.3).
    fn wants_ad(&self) -> bool {
        self.dnssec_ok || self.flags & AD != 0
    }
}

/// The query sent upstream: the client's question under a fresh ID, RD set (upstreams
/// recurse), AD set (we understand it; whether the client gets it is decided on the way out),
/// the client's CD, and EDNS(0) with a 1232-byte payload and the client's DO.
pub(crate) fn upstream_query(question: &Question, id: u16) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER_LEN + question.qname.len() + 15);
    let flags = RD | AD | (question.flags & CD);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&flags.to_be_bytes());
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    packet.extend_from_slice(&question.qname);
    packet.extend_from_slice(&question.qtype.to_be_bytes());
    packet.extend_from_slice(&question.qclass.to_be_bytes());
    push_opt(&mut packet, question.dnssec_ok);
    packet
}

/// An OPT record: version 0, our payload size, the DO bit as given.
fn push_opt(packet: &mut Vec<u8>, dnssec_ok: bool) {
    packet.push(0);
    packet.extend_from_slice(&rtype::OPT.to_be_bytes());
    packet.extend_from_slice(&wire::SERVER_UDP_PAYLOAD.to_be_bytes());
    let do_bit: u16 = if dnssec_ok { 0x8000 } else { 0 };
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(&do_bit.to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(((u16_at(bytes, at)? as u32) << 16) | u16_at(bytes, at + 2)? as u32)
}

/// Steps over a possibly compressed name (a pointer ends it), checking its lengths.
fn skip_name(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    loop {
        let len = *bytes.get(pos)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 if len <= MAX_LABEL_LEN => {
                pos += 1 + len;
                if pos - start > MAX_NAME_LEN {
                    return None;
                }
            }
            0xc0 => {
                bytes.get(pos + 1)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// Whether `response` answers `query_id`'s question: a response (QR), the same ID, one
/// question equal to ours (name compared without case: a server may echo it lowercased). What
/// fails this is not the answer we wait for, and is ignored (RFC 5452 §9.1).
pub(crate) fn answers(response: &[u8], query_id: u16, question: &Question) -> bool {
    let Some(flags) = u16_at(response, 2) else {
        return false;
    };
    if u16_at(response, 0) != Some(query_id) || flags & QR == 0 || u16_at(response, 4) != Some(1) {
        return false;
    }
    let end = HEADER_LEN + question.qname.len();
    response
        .get(HEADER_LEN..end)
        .is_some_and(|name| name.eq_ignore_ascii_case(&question.qname))
        && u16_at(response, end) == Some(question.qtype)
        && u16_at(response, end + 2) == Some(question.qclass)
}

/// Whether an accepted response was truncated (then it is asked again over TCP).
pub(crate) fn is_truncated(response: &[u8]) -> bool {
    u16_at(response, 2).is_some_and(|flags| flags & TC != 0)
}

/// How long a response may be cached, by RFC 2308 and RFC 9520.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// Data: the smallest TTL of the answer and authority records.
    Positive(u32),
    /// NXDOMAIN or NODATA with an SOA: the lesser of its TTL and MINIMUM (RFC 2308 §5), capped.
    Negative(u32),
    /// NXDOMAIN or NODATA without an SOA: not cached (RFC 2308 §5).
    Uncacheable,
    /// SERVFAIL, REFUSED and other errors: a resolution failure (RFC 9520).
    Failure,
}

/// A whole upstream response, kept as received: header, question, answer, authority and the
/// additional records before the OPT record. The OPT record (and anything after it) is left
/// out: each client gets an OPT of ours, or none if it sent none.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    bytes: Box<[u8]>,
    /// Offset of each record's TTL field.
    ttls: Box<[u16]>,
    question_end: u16,
    pub lifetime: Lifetime,
}

impl Stored {
    /// Reads an accepted response (see [`answers`]), or `None` if it is malformed. Every TTL is
    /// capped at `max_ttl`, so a client never holds a record longer than we would; in a negative
    /// answer, the authority records' TTLs are capped at its negative TTL — min(SOA TTL, SOA
    /// MINIMUM, `max_negative_ttl`) — which is what the SOA goes out with (RFC 2308 §3, §5: an
    /// upstream that sends the SOA's own TTL would have clients hold "does not exist" longer
    /// than the zone allows, and longer than we do).
    pub(crate) fn read(response: &[u8], max_ttl: u32, max_negative_ttl: u32) -> Option<Stored> {
        let counts = [
            u16_at(response, 6)?,
            u16_at(response, 8)?,
            u16_at(response, 10)?,
        ];
        let question_end = skip_name(response, HEADER_LEN)? + 4;
        if question_end > response.len() || question_end > u16::MAX as usize {
            return None;
        }
        let mut bytes = response.to_vec();
        let mut ttls = Vec::new();
        let mut pos = question_end;
        let mut kept = counts;
        let mut min_ttl: Option<u32> = None;
        let mut soa_ttl: Option<u32> = None;
        // Which of `ttls` are the authority section's.
        let mut authority = 0..0;
        'sections: for (section, &count) in counts.iter().enumerate() {
            match section {
                1 => authority.start = ttls.len(),
                2 => authority.end = ttls.len(),
                _ => {}
            }
            for index in 0..count {
                let fixed = skip_name(response, pos)?;
                let rtype = u16_at(response, fixed)?;
                let ttl = u32_at(response, fixed + 4)?;
                let rdlength = u16_at(response, fixed + 8)? as usize;
                let end = fixed + 10 + rdlength;
                if end > response.len() {
                    return None;
                }
                if section == 2 && rtype == rtype::OPT {
                    kept[2] = index;
                    bytes.truncate(pos);
                    break 'sections;
                }
                // RFC 2181 §8: a TTL with the top bit set counts as zero.
                let ttl = if ttl > 0x7fff_ffff {
                    0
                } else {
                    ttl.min(max_ttl)
                };
                bytes[fixed + 4..fixed + 8].copy_from_slice(&ttl.to_be_bytes());
                ttls.push((fixed + 4) as u16);
                if section < 2 {
                    min_ttl = Some(min_ttl.map_or(ttl, |m| m.min(ttl)));
                }
                if section == 1 && rtype == rtype::SOA && rdlength >= 20 {
                    let minimum = soa::minimum(&response[fixed + 10..end]);
                    soa_ttl = Some(ttl.min(minimum).min(max_negative_ttl));
                }
                pos = end;
            }
        }
        if kept == counts && pos != response.len() {
            return None;
        }
        if bytes.len() > u16::MAX as usize {
            return None;
        }
        bytes[10..12].copy_from_slice(&kept[2].to_be_bytes());
        let flags = u16_at(response, 2)?;
        let code = (flags & 0x000f) as u8;
        let negative = code == rcode::NXDOMAIN || (code == rcode::NOERROR && counts[0] == 0);
        let lifetime = match code {
            rcode::NOERROR | rcode::NXDOMAIN if negative => {
                soa_ttl.map_or(Lifetime::Uncacheable, Lifetime::Negative)
            }
            rcode::NOERROR => Lifetime::Positive(min_ttl.unwrap_or(0)),
            _ => Lifetime::Failure,
        };
        if let Lifetime::Negative(negative_ttl) = lifetime {
            for &at in &ttls[authority] {
                let at = at as usize;
                let ttl = u32_at(&bytes, at)?.min(negative_ttl);
                bytes[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
            }
        }
        Some(Stored {
            bytes: bytes.into(),
            ttls: ttls.into(),
            question_end: question_end as u16,
            lifetime,
        })
    }

    /// Bytes held, for the cache's size cap.
    pub(crate) fn size(&self) -> usize {
        self.bytes.len() + self.ttls.len() * 2
    }

    pub(crate) fn rcode(&self) -> u8 {
        self.bytes[3] & 0x0f
    }

    /// Writes the response for `question` into `out`: the client's ID and question (its case),
    /// AA clear, RA set, RD and CD echoed, AD only for a client that asked for it, every TTL
    /// lowered by `age` seconds (or [`STALE_TTL`] for a stale answer), our OPT record if the
    /// client sent one. If the result does not fit `max_len`, it goes out truncated (TC=1, no
    /// records) so the client asks again over TCP. Returns whether it was truncated.
    pub(crate) fn write(
        &self,
        out: &mut Vec<u8>,
        question: &Question,
        age: Age,
        max_len: usize,
    ) -> bool {
        out.clear();
        out.extend_from_slice(&self.bytes);
        out[0..2].copy_from_slice(&question.id.to_be_bytes());
        let name_end = HEADER_LEN + question.qname.len();
        if name_end + 4 == self.question_end as usize {
            out[HEADER_LEN..name_end].copy_from_slice(&question.qname);
        }
        let upstream = u16::from_be_bytes([self.bytes[2], self.bytes[3]]);
        let mut flags = QR | RA | (upstream & 0x000f) | (question.flags & (RD | CD));
        if upstream & AD != 0 && question.wants_ad() {
            flags |= AD;
        }
        for &at in self.ttls.iter() {
            let at = at as usize;
            let ttl = u32::from_be_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]);
            let ttl = match age {
                Age::Fresh(seconds) => ttl.saturating_sub(seconds),
                Age::Stale => STALE_TTL,
            };
            out[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
        }
        let opt_len = if question.udp_payload.is_some() {
            11
        } else {
            0
        };
        let truncated = out.len() + opt_len > max_len;
        if truncated {
            out.truncate(self.question_end as usize);
            out[6..12].fill(0);
            flags |= TC;
        }
        out[2..4].copy_from_slice(&flags.to_be_bytes());
        if question.udp_payload.is_some() {
            push_opt(out, question.dnssec_ok);
            let arcount = u16::from_be_bytes([out[10], out[11]]) + 1;
            out[10..12].copy_from_slice(&arcount.to_be_bytes());
        }
        truncated
    }
}

/// What the resolver found for the target of our CNAME (see [`compose`]).
pub(crate) enum Tail<'a> {
    /// The upstream's answer for the target, this old.
    Answer(&'a Stored, Age),
    /// No answer for the target: this rcode (SERVFAIL when no upstream answered).
    Error(u8),
    /// Nothing to add: our answer goes out as it is (a cache-only query that missed).
    Nothing,
}

/// Our authoritative answer whose CNAME chain leads to a forwarded name, followed by what the
/// upstream said about that name: our records, then the upstream's answer and authority
/// records, with the upstream's rcode (RFC 6604 §3: the rcode is the last name's). AA clear
/// (part of it is not ours), RA set. Returns whether it had to be truncated.
pub(crate) fn compose(
    out: &mut Vec<u8>,
    question: &Question,
    target: &Question,
    ours: &reader::Message,
    tail: Tail,
    max_len: usize,
) -> bool {
    let mut upstream = None;
    let mut code = ours.rcode;
    match tail {
        Tail::Answer(stored, age) => {
            let mut bytes = Vec::new();
            stored.write(&mut bytes, target, age, u16::MAX as usize);
            upstream = reader::read(&bytes);
            code = stored.rcode() as u16;
        }
        Tail::Error(rcode) => code = rcode as u16,
        Tail::Nothing => {}
    }
    let opt = question.udp_payload.map(|_| OptReply {
        udp_payload: wire::SERVER_UDP_PAYLOAD,
        dnssec_ok: question.dnssec_ok,
    });
    let mut writer = ResponseWriter::new(
        out,
        question.id,
        question.flags,
        Some((&question.qname, question.qtype, question.qclass)),
        max_len,
        opt,
    );
    writer.set_recursion_available(true);
    writer.set_rcode(code);
    let sections =
        ours.answer
            .iter()
            .map(|r| (Section::Answer, r))
            .chain(upstream.iter().flat_map(|m| {
                m.answer
                    .iter()
                    .map(|r| (Section::Answer, r))
                    .chain(m.authority.iter().map(|r| (Section::Authority, r)))
            }));
    for (section, record) in sections {
        let pushed = writer.push_in_class(
            section,
            &record.owner,
            record.rtype,
            record.class,
            record.ttl,
            &record.rdata,
        );
        if pushed.is_err() {
            writer.truncate();
            break;
        }
    }
    let truncated = writer.is_truncated();
    writer.finish();
    truncated
}

/// How old a cached answer is when it goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Age {
    /// Within its TTL: this many seconds since it was received.
    Fresh(u32),
    /// Expired, served because no upstream answered (RFC 8767).
    Stale,
}

/// A response with no records and this code (SERVFAIL when no upstream answered, REFUSED for a
/// cache-only query that missed), with the client's question, RA set and AA clear.
pub(crate) fn error(out: &mut Vec<u8>, question: &Question, code: u8) {
    out.clear();
    out.extend_from_slice(&question.id.to_be_bytes());
    let flags = QR | RA | (question.flags & (RD | CD)) | code as u16;
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&question.qname);
    out.extend_from_slice(&question.qtype.to_be_bytes());
    out.extend_from_slice(&question.qclass.to_be_bytes());
    if question.udp_payload.is_some() {
        push_opt(out, question.dnssec_ok);
        out[11] = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AA: u16 = 0x0400;

    /// Whether the header flags of a message have AA set.
    fn authoritative(message: &[u8]) -> bool {
        u16_at(message, 2).is_some_and(|f| f & AA != 0)
    }

    fn question(flags: u16, udp_payload: Option<u16>, dnssec_ok: bool) -> Question {
        Question {
            id: 0x4242,
            flags,
            qname: b"\x03WwW\x07example\x00".as_slice().into(),
            qtype: rtype::A,
            qclass: 1,
            udp_payload,
            dnssec_ok,
        }
    }

    /// An upstream answer: www.example A 192.0.2.1 (TTL 300), compressed owner, AA and AD set,
    /// then an OPT record.
    fn upstream_answer(id: u16) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&(QR | AA | RD | RA | AD).to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 1]);
        m.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1]);
        m.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        m
    }

    #[test]
    fn upstream_query_carries_the_question_do_and_cd() {
        let q = question(RD | CD, Some(4096), true);
        let packet = upstream_query(&q, 7);
        assert_eq!(&packet[0..2], &[0, 7]);
        assert_eq!(u16_at(&packet, 2), Some(RD | AD | CD));
        assert_eq!(&packet[12..25], b"\x03WwW\x07example\x00");
        // OPT: payload 1232, DO set.
        assert_eq!(
            &packet[packet.len() - 11..],
            &[0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn a_response_is_accepted_only_for_its_id_and_question() {
        let q = question(RD, None, false);
        let response = upstream_answer(9);
        assert!(answers(&response, 9, &q));
        assert!(!answers(&response, 10, &q));
        let mut other_type = response.clone();
        other_type[26] = 28;
        assert!(!answers(&other_type, 9, &q));
        let mut other_name = response.clone();
        other_name[13] = b'x';
        assert!(!answers(&other_name, 9, &q));
        let mut query = response.clone();
        query[2] &= 0x7f;
        assert!(!answers(&query, 9, &q));
    }

    #[test]
    fn stored_answers_go_out_with_the_clients_id_case_and_flags_and_counted_down_ttls() {
        let stored = Stored::read(&upstream_answer(9), 86_400, 3_600).unwrap();
        assert_eq!(stored.lifetime, Lifetime::Positive(300));
        let mut out = Vec::new();
        // No EDNS from the client: no OPT, no AD.
        let plain = question(RD, None, false);
        assert!(!stored.write(&mut out, &plain, Age::Fresh(100), 512));
        assert_eq!(&out[0..2], &[0x42, 0x42]);
        assert_eq!(u16_at(&out, 2), Some(QR | RD | RA));
        assert!(!authoritative(&out));
        assert_eq!(&out[12..25], b"\x03WwW\x07example\x00");
        assert_eq!(u16_at(&out, 10), Some(0));
        assert_eq!(u32_at(&out, 35), Some(200));
        assert_eq!(out.len(), 45);
        // DO: AD passed back, our OPT with DO.
        let dnssec = question(RD, Some(1232), true);
        stored.write(&mut out, &dnssec, Age::Stale, 1232);
        assert_eq!(u16_at(&out, 2), Some(QR | RD | RA | AD));
        assert_eq!(u32_at(&out, 35), Some(STALE_TTL));
        assert_eq!(u16_at(&out, 10), Some(1));
        assert_eq!(&out[45..], &[0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 0]);
        // Too big for the client: TC, question only (and OPT).
        assert!(stored.write(&mut out, &dnssec, Age::Fresh(0), 50));
        assert_eq!(u16_at(&out, 2), Some(QR | TC | RD | RA | AD));
        assert_eq!(&out[6..10], &[0, 0, 0, 0]);
        assert_eq!(out.len(), 29 + 11);
    }

    #[test]
    fn negative_answers_live_as_long_as_the_soa_says() {
        let mut m = 9u16.to_be_bytes().to_vec();
        m.extend_from_slice(&(QR | RA | rcode::NXDOMAIN as u16).to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 1, 0, 0]);
        m.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        // example SOA, TTL 3600, MINIMUM 60: the negative TTL is 60.
        m.extend_from_slice(&[0xc0, 16, 0, 6, 0, 1, 0, 0, 14, 16, 0, 24]);
        m.extend_from_slice(&[0xc0, 16, 0xc0, 16]);
        m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 60]);
        let stored = Stored::read(&m, 86_400, 3_600).unwrap();
        assert_eq!(stored.lifetime, Lifetime::Negative(60));
        assert_eq!(stored.rcode(), rcode::NXDOMAIN);
    }

    /// An upstream NXDOMAIN or NODATA whose SOA has TTL 300 and MINIMUM 4 (and an NSEC of TTL
    /// 3600): the answer is cached for 4 s, and its authority records go out with 4 counted
    /// down, not 300 or 3600; `max_negative_ttl` caps both. The answer section keeps its TTLs.
    #[test]
    fn negative_answers_go_out_with_the_negative_ttl_counted_down() {
        for code in [rcode::NXDOMAIN, rcode::NOERROR] {
            let mut m = 9u16.to_be_bytes().to_vec();
            m.extend_from_slice(&(QR | RA | code as u16).to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 2, 0, 0]);
            m.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
            // example SOA, TTL 300 (at 35), MINIMUM 4.
            m.extend_from_slice(&[0xc0, 16, 0, 6, 0, 1, 0, 0, 1, 44, 0, 24]);
            m.extend_from_slice(&[0xc0, 16, 0xc0, 16]);
            m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 4]);
            // www.example NSEC, TTL 3600 (at 71), next name example, no types.
            m.extend_from_slice(&[0xc0, 12, 0, 47, 0, 1, 0, 0, 14, 16, 0, 2, 0xc0, 16]);
            let stored = Stored::read(&m, 86_400, 3_600).unwrap();
            assert_eq!(stored.lifetime, Lifetime::Negative(4), "rcode {code}");
            let q = question(RD, None, false);
            let mut out = Vec::new();
            stored.write(&mut out, &q, Age::Fresh(0), 512);
            assert_eq!((u32_at(&out, 35), u32_at(&out, 71)), (Some(4), Some(4)));
            stored.write(&mut out, &q, Age::Fresh(3), 512);
            assert_eq!((u32_at(&out, 35), u32_at(&out, 71)), (Some(1), Some(1)));
            let capped = Stored::read(&m, 86_400, 2).unwrap();
            assert_eq!(capped.lifetime, Lifetime::Negative(2));
            capped.write(&mut out, &q, Age::Fresh(0), 512);
            assert_eq!((u32_at(&out, 35), u32_at(&out, 71)), (Some(2), Some(2)));
        }
        // A positive answer's records keep their TTLs.
        let stored = Stored::read(&upstream_answer(9), 86_400, 4).unwrap();
        let mut out = Vec::new();
        stored.write(&mut out, &question(RD, None, false), Age::Fresh(0), 512);
        assert_eq!(u32_at(&out, 35), Some(300));
    }
}
