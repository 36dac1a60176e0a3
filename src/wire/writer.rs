//! Writes a response into a caller-owned buffer: header, question, then records section by
//! section, compressing names (RFC 1035 §4.1.4; inside RDATA only for the types RFC 3597 §4
//! allows). A record that would overflow the size limit is rolled back whole and reported, so the
//! caller decides between truncation (TC=1) and simply leaving out additional data.

use super::HEADER_LEN;
use crate::dns::name;
use crate::dns::rdata::{compressible, embedded_names};

const OPT_RECORD_LEN: usize = 11;
/// Names remembered as compression targets; later names simply go uncompressed.
const MAX_COMPRESSION_TARGETS: usize = 96;
/// Round-robin sets one reusable response can carry; a response with more is not reused.
const MAX_ROTATIONS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

/// The record did not fit; the response is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// A point in a response to go back to: lets a caller drop an RRset that only partly fitted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    len: usize,
    counts: [u16; 3],
    target_count: usize,
    last_owner: Option<u16>,
}

/// The OPT record a response carries (RFC 6891 §6.1.3): the server's payload size, the
/// extended-rcode bits, version 0 and the client's DO bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptReply {
    pub udp_payload: u16,
    pub dnssec_ok: bool,
}

/// Where a response's round-robin address set lies, so that the response can be sent again to a
/// query with another ID, rotated as that ID rotates it: `count` RDATAs of `len` octets, the
/// first at `first`, the others `stride` apart from `second` (the first record's owner may be
/// written in full, the others' are then pointers to it). `start` is the record written first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rotation {
    pub first: u16,
    pub second: u16,
    pub stride: u16,
    pub len: u8,
    pub count: u8,
    pub start: u8,
}

impl Rotation {
    /// Where the `k`-th RDATA written lies.
    pub(crate) fn offset(&self, k: usize) -> usize {
        match k {
            0 => self.first as usize,
            _ => self.second as usize + (k - 1) * self.stride as usize,
        }
    }
}

/// Whether a finished response may be sent again, unchanged but for its ID and its round-robin
/// sets, to a later query of the same bytes: only when everything the answer holds fitted and
/// nothing in it depends on the moment (health-checked sets) or on the request's ID other than
/// through rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reuse {
    reusable: bool,
    count: u8,
    rotations: [Rotation; MAX_ROTATIONS],
}

impl Reuse {
    /// A response that is never sent again.
    pub(crate) const NEVER: Reuse = Reuse {
        reusable: false,
        count: 0,
        rotations: [Rotation {
            first: 0,
            second: 0,
            stride: 0,
            len: 0,
            count: 0,
            start: 0,
        }; MAX_ROTATIONS],
    };

    pub(crate) fn reusable(&self) -> bool {
        self.reusable
    }

    /// The round-robin sets to rotate when the response is sent again.
    pub(crate) fn rotations(&self) -> &[Rotation] {
        &self.rotations[..self.count as usize]
    }

    pub(crate) fn forbid(&mut self) {
        self.reusable = false;
    }
}

pub(crate) struct ResponseWriter<'b> {
    buf: &'b mut Vec<u8>,
    limit: usize,
    counts: [u16; 3],
    targets: [u16; MAX_COMPRESSION_TARGETS],
    /// Each target's name's length written out in full: only a name of the same length can be
    /// the same name, so most targets are passed over without reading the message.
    target_lens: [u8; MAX_COMPRESSION_TARGETS],
    target_count: usize,
    /// Names remembered as targets at most (lowered by [`ResponseWriter::freeze_targets`]).
    max_targets: usize,
    flags: u16,
    rcode: u16,
    opt: Option<OptReply>,
    question_end: usize,
    /// RRSIGs and denial proofs go in: the client set DO and the zone answering is signed.
    signed: bool,
    reuse: Reuse,
    /// The last record's owner as a compression pointer, for [`ResponseWriter::push_same_owner`]:
    /// a pointer to where it was written, or the pointer it was written as.
    last_owner: Option<u16>,
}

impl<'b> ResponseWriter<'b> {
    /// Starts a response to query `id` with the request's `flags` (opcode, RD and CD are echoed),
    /// echoing the question if there is one. `max_len` is the largest message the transport
    /// allows; room for the OPT record is kept back from it.
    pub(crate) fn new(
        buf: &'b mut Vec<u8>,
        id: u16,
        request_flags: u16,
        question: Option<(&[u8], u16, u16)>,
        max_len: usize,
        opt: Option<OptReply>,
    ) -> ResponseWriter<'b> {
        buf.clear();
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&[0; HEADER_LEN - 2]);
        // QR set; opcode, RD and CD echoed (RFC 1035 §4.1.1, RFC 4035 §3.1.6).
        let flags = 0x8000 | (request_flags & (0x7800 | 0x0100 | 0x0010));
        let reserve = if opt.is_some() { OPT_RECORD_LEN } else { 0 };
        let mut writer = ResponseWriter {
            buf,
            limit: max_len.saturating_sub(reserve),
            counts: [0; 3],
            targets: [0; MAX_COMPRESSION_TARGETS],
            target_lens: [0; MAX_COMPRESSION_TARGETS],
            target_count: 0,
            max_targets: MAX_COMPRESSION_TARGETS,
            flags,
            rcode: 0,
            opt,
            question_end: HEADER_LEN,
            signed: false,
            reuse: Reuse {
                reusable: true,
                ..Reuse::NEVER
            },
            last_owner: None,
        };
        if let Some((qname, qtype, qclass)) = question {
            writer.write_name(qname);
            writer.buf.extend_from_slice(&qtype.to_be_bytes());
            writer.buf.extend_from_slice(&qclass.to_be_bytes());
            writer.question_end = writer.buf.len();
            writer.buf[4..6].copy_from_slice(&1u16.to_be_bytes());
        }
        writer
    }

    /// Whether the client asked for DNSSEC records (the DO bit, RFC 3225).
    pub(crate) fn dnssec_ok(&self) -> bool {
        self.opt.is_some_and(|opt| opt.dnssec_ok)
    }

    /// From now on RRSIGs and denial proofs are written, when `signed` (the client set DO and
    /// the zone answering is signed: RFC 4035 §3.1).
    pub(crate) fn set_signed(&mut self, signed: bool) {
        self.signed = signed;
    }

    pub(crate) fn signed(&self) -> bool {
        self.signed
    }

    /// The ID of the query being answered.
    pub(crate) fn id(&self) -> u16 {
        u16::from_be_bytes([self.buf[0], self.buf[1]])
    }

    pub(crate) fn set_authoritative(&mut self, aa: bool) {
        if aa {
            self.flags |= 0x0400;
        } else {
            self.flags &= !0x0400;
        }
    }

    /// RA: set by a view that recurses for its clients.
    pub(crate) fn set_recursion_available(&mut self, ra: bool) {
        if ra {
            self.flags |= 0x0080;
        } else {
            self.flags &= !0x0080;
        }
    }

    /// The response code, up to 12 bits: the upper 8 travel in the OPT record.
    pub(crate) fn set_rcode(&mut self, rcode: u16) {
        self.rcode = rcode;
    }

    pub(crate) fn count(&self, section: Section) -> u16 {
        self.counts[section as usize]
    }

    /// Whether, and how, this response can be sent again ([`Reuse`]).
    pub(crate) fn reuse(&self) -> Reuse {
        self.reuse
    }

    /// This response holds what is true only now (health-checked addresses): never reuse it.
    pub(crate) fn forbid_reuse(&mut self) {
        self.reuse.reusable = false;
    }

    /// Notes a round-robin set just written, its records' RDATAs at `offsets` (in the order
    /// written, all `len` octets), `start` the index of the record written first. A set that is
    /// not laid out evenly, or one too many, makes the response not reusable.
    pub(crate) fn note_rotation(&mut self, offsets: &[usize], len: usize, start: usize) {
        let stride = offsets.get(2).map_or(0, |third| third - offsets[1]);
        let even = offsets.len() >= 2
            && offsets
                .windows(2)
                .skip(1)
                .all(|pair| pair[1] - pair[0] == stride);
        let count = self.reuse.count as usize;
        if !even || count == MAX_ROTATIONS || offsets.len() > u8::MAX as usize || len > 255 {
            self.reuse.reusable = false;
            return;
        }
        self.reuse.rotations[count] = Rotation {
            first: offsets[0] as u16,
            second: offsets[1] as u16,
            stride: stride as u16,
            len: len as u8,
            count: offsets.len() as u8,
            start: start as u8,
        };
        self.reuse.count += 1;
    }

    /// The length written so far.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Drops every record and sets TC: the client should retry over TCP (RFC 2181 §9).
    pub(crate) fn truncate(&mut self) {
        self.reuse.reusable = false;
        self.buf.truncate(self.question_end);
        self.counts = [0; 3];
        self.last_owner = None;
        self.target_count = self.targets[..self.target_count]
            .iter()
            .take_while(|&&t| (t as usize) < self.question_end)
            .count();
        self.flags |= 0x0200;
    }

    /// Where the response stands now, for [`ResponseWriter::rollback`].
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            len: self.buf.len(),
            counts: self.counts,
            target_count: self.target_count,
            last_owner: self.last_owner,
        }
    }

    /// Removes every record written since `mark` (and the compression targets they added).
    pub(crate) fn rollback(&mut self, mark: Mark) {
        self.buf.truncate(mark.len);
        self.counts = mark.counts;
        self.target_count = mark.target_count;
        self.last_owner = mark.last_owner;
    }

    /// Names written from now on may point at names already written (the question's, for a zone
    /// transfer: the origin every owner ends in) but become no targets themselves. A transfer's
    /// owners are all different, so remembering them gains almost nothing, while every name
    /// written is compared with every target: with the targets frozen at the question's few,
    /// writing the 200,000-record benchmark zone's AXFR took about 0.14 s of CPU instead of 0.33 s,
    /// with the same number of bytes.
    pub(crate) fn freeze_targets(&mut self) {
        self.max_targets = self.target_count;
    }

    /// The offset just past the question section.
    pub(crate) fn question_end(&self) -> usize {
        self.question_end
    }

    pub(crate) fn is_truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// Appends one IN-class record, or leaves the response untouched and returns [`Full`].
    pub(crate) fn push(
        &mut self,
        section: Section,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        self.push_in_class(section, owner, rtype, crate::dns::class::IN, ttl, rdata)
    }

    /// [`Self::push`] for any class.
    pub(crate) fn push_in_class(
        &mut self,
        section: Section,
        owner: &[u8],
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        let start = (self.buf.len(), self.target_count);
        self.write_name(owner);
        let at = start.0;
        let owner_pointer = if self.buf.len() - at == 2 && self.buf[at] & 0xc0 == 0xc0 {
            Some(u16::from_be_bytes([self.buf[at], self.buf[at + 1]]))
        } else {
            (at < 0x4000).then_some(0xc000 | at as u16)
        };
        self.push_record(start, owner_pointer, section, rtype, class, ttl, rdata)
    }

    /// [`Self::push`] for a record whose owner is the previous record's (the next record of an
    /// RRset, the RRSIGs after it): the owner becomes a pointer to that one's without comparing
    /// it with every name written. `owner` must be the previous record's owner.
    pub(crate) fn push_same_owner(
        &mut self,
        section: Section,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        let Some(pointer) = self.last_owner else {
            return self.push(section, owner, rtype, ttl, rdata);
        };
        debug_assert!(written_name_equals(
            self.buf,
            usize::from(pointer & 0x3fff),
            owner
        ));
        let start = (self.buf.len(), self.target_count);
        self.buf.extend_from_slice(&pointer.to_be_bytes());
        self.push_record(
            start,
            Some(pointer),
            section,
            rtype,
            crate::dns::class::IN,
            ttl,
            rdata,
        )
    }

    /// The rest of a record whose owner has been written since `start` (the length and the
    /// compression targets before it), as a name `owner_pointer` points at.
    #[allow(clippy::too_many_arguments)]
    fn push_record(
        &mut self,
        start: (usize, usize),
        owner_pointer: Option<u16>,
        section: Section,
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        let (mark, targets_mark) = start;
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&class.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let rdlength_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        // Names are compressed in RFC 1035's types only: other RDATA is copied unread (an RRSIG's).
        let names = compressible(rtype).then(|| embedded_names(rtype, rdata));
        if let Some(names) = names.filter(|names| names.count > 0) {
            let mut copied = 0usize;
            for &offset in &names.offsets[..names.count as usize] {
                let offset = offset as usize;
                let Some(len) = rdata.get(offset..).and_then(name::wire_name_len) else {
                    break;
                };
                self.buf.extend_from_slice(&rdata[copied..offset]);
                self.write_name(&rdata[offset..offset + len]);
                copied = offset + len;
            }
            self.buf.extend_from_slice(&rdata[copied..]);
        } else {
            self.buf.extend_from_slice(rdata);
        }
        let rdlength = self.buf.len() - rdlength_at - 2;
        if self.buf.len() > self.limit || rdlength > u16::MAX as usize {
            self.buf.truncate(mark);
            self.target_count = targets_mark;
            // Whatever the caller does now (truncate, or leave additional data out), the answer
            // is shaped by this request's size limit.
            self.reuse.reusable = false;
            return Err(Full);
        }
        self.buf[rdlength_at..rdlength_at + 2].copy_from_slice(&(rdlength as u16).to_be_bytes());
        self.counts[section as usize] += 1;
        self.last_owner = owner_pointer;
        Ok(())
    }

    /// Writes the counts, flags and OPT record, and returns the finished message length.
    pub(crate) fn finish(self) -> usize {
        let flags = self.flags | (self.rcode & 0x0f);
        self.buf[2..4].copy_from_slice(&flags.to_be_bytes());
        self.buf[6..8].copy_from_slice(&self.counts[0].to_be_bytes());
        self.buf[8..10].copy_from_slice(&self.counts[1].to_be_bytes());
        let mut arcount = self.counts[2];
        if let Some(opt) = self.opt {
            let extended_rcode = (self.rcode >> 4) as u8;
            let do_bit: u16 = if opt.dnssec_ok { 0x8000 } else { 0 };
            self.buf.push(0);
            self.buf
                .extend_from_slice(&crate::dns::rtype::OPT.to_be_bytes());
            self.buf.extend_from_slice(&opt.udp_payload.to_be_bytes());
            self.buf.extend_from_slice(&[extended_rcode, 0]);
            self.buf.extend_from_slice(&do_bit.to_be_bytes());
            self.buf.extend_from_slice(&[0, 0]);
            arcount += 1;
        }
        self.buf[10..12].copy_from_slice(&arcount.to_be_bytes());
        self.buf.len()
    }

    /// Writes a validated wire name, replacing its longest already-written suffix with a pointer.
    fn write_name(&mut self, wire: &[u8]) {
        // Label offsets fit a byte: a wire name is at most 255 octets.
        let mut offsets = [0u8; 128];
        let mut label_count = 0usize;
        for offset in name::suffix_offsets(wire) {
            offsets[label_count] = offset as u8;
            label_count += 1;
        }
        let mut matched = None;
        let mut written_labels = label_count;
        for (index, &offset) in offsets[..label_count].iter().enumerate() {
            if let Some(target) = self.find_target(&wire[offset as usize..]) {
                matched = Some(target);
                written_labels = index;
                break;
            }
        }
        let start = self.buf.len();
        for &offset in &offsets[..written_labels] {
            let at = start + offset as usize;
            if at < 0x4000 && self.target_count < self.max_targets {
                self.targets[self.target_count] = at as u16;
                // A wire name is at most 255 octets.
                self.target_lens[self.target_count] = (wire.len() - offset as usize) as u8;
                self.target_count += 1;
            }
        }
        match matched {
            Some(target) => {
                let prefix_end = offsets[written_labels] as usize;
                self.buf.extend_from_slice(&wire[..prefix_end]);
                self.buf.extend_from_slice(&(0xc000 | target).to_be_bytes());
            }
            None => self.buf.extend_from_slice(wire),
        }
    }

    /// A previously written name equal (ignoring case) to `suffix`.
    fn find_target(&self, suffix: &[u8]) -> Option<u16> {
        let len = suffix.len() as u8;
        (0..self.target_count)
            .find(|&k| {
                self.target_lens[k] == len
                    && written_name_equals(self.buf, self.targets[k] as usize, suffix)
            })
            .map(|k| self.targets[k])
    }
}

/// Compares the (possibly compressed) name at `at` in our own output with a wire name.
fn written_name_equals(buf: &[u8], mut at: usize, wire: &[u8]) -> bool {
    let mut pos = 0usize;
    for _ in 0..256 {
        let Some(&len) = buf.get(at) else {
            return false;
        };
        if len & 0xc0 == 0xc0 {
            let Some(&low) = buf.get(at + 1) else {
                return false;
            };
            at = (((len & 0x3f) as usize) << 8) | low as usize;
            continue;
        }
        let len = len as usize;
        if wire.get(pos) != Some(&(len as u8)) {
            return false;
        }
        if len == 0 {
            return true;
        }
        let (Some(ours), Some(theirs)) = (
            buf.get(at + 1..at + 1 + len),
            wire.get(pos + 1..pos + 1 + len),
        ) else {
            return false;
        };
        // Equal octets are the common case (a zone's names share their suffix).
        if ours != theirs && !ours.eq_ignore_ascii_case(theirs) {
            return false;
        }
        at += 1 + len;
        pos += 1 + len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rtype;

    #[test]
    fn compresses_owner_to_question_and_keeps_its_case() {
        let mut buf = Vec::new();
        let qname = b"\x04MAIL\x07contoso\x07example\x00";
        let mut w = ResponseWriter::new(&mut buf, 7, 0x0100, Some((qname, 1, 1)), 512, None);
        w.set_authoritative(true);
        w.push(
            Section::Answer,
            b"\x04mail\x07contoso\x07example\x00",
            rtype::A,
            60,
            &[10, 0, 0, 1],
        )
        .unwrap();
        w.push(
            Section::Authority,
            b"\x07contoso\x07example\x00",
            rtype::NS,
            60,
            b"\x02ns\x07contoso\x07example\x00",
        )
        .unwrap();
        let len = w.finish();
        let expected_question_end = 12 + qname.len() + 4;
        // Answer owner: a pointer to the question name at offset 12.
        assert_eq!(
            &buf[expected_question_end..expected_question_end + 2],
            &[0xc0, 12]
        );
        // Authority owner: a pointer to "contoso.example" inside the question (offset 12+5).
        let auth = expected_question_end + 2 + 10 + 4;
        assert_eq!(&buf[auth..auth + 2], &[0xc0, 17]);
        // NS RDATA "ns" + pointer.
        assert_eq!(&buf[auth + 12..auth + 17], b"\x02ns\xc0\x11");
        assert_eq!(len, auth + 17);
        assert_eq!(&buf[2..4], &[0x85, 0x00]);
        assert_eq!(&buf[6..12], &[0, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn a_record_that_does_not_fit_is_rolled_back() {
        let mut buf = Vec::new();
        let mut w = ResponseWriter::new(
            &mut buf,
            1,
            0,
            Some((b"\x00", 16, 1)),
            60,
            Some(OptReply {
                udp_payload: 1232,
                dnssec_ok: true,
            }),
        );
        let txt = [5u8, b'h', b'e', b'l', b'l', b'o'];
        assert_eq!(
            w.push(Section::Answer, b"\x00", rtype::TXT, 1, &txt),
            Ok(())
        );
        assert_eq!(
            w.push(Section::Answer, b"\x00", rtype::TXT, 1, &txt),
            Err(Full)
        );
        w.set_rcode(crate::dns::rcode::BADVERS);
        let len = w.finish();
        assert!(len <= 60);
        assert_eq!(&buf[6..8], &[0, 1]);
        // OPT: root, type 41, payload 1232, extended rcode 1 (BADVERS = 16), DO set.
        assert_eq!(
            &buf[len - 11..],
            &[0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 0]
        );
    }
}
