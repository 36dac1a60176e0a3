//! Writing one RRset into a response: round-robin address sets start where the query's ID says,
//! health-checked ones carry only the addresses their atomic mask keeps, and the target names
//! of NS, MX, SRV, SVCB and HTTPS records are found for additional data.

use crate::dns::name;
use crate::dns::rdata::embedded_names;
use crate::dns::rtype;
use crate::view::zone::{Answered, RRset};
use crate::wire::writer::{Full, ResponseWriter, Section};

/// Round-robin sets of more records than this are written afresh for every query.
const MAX_ROTATED_RECORDS: usize = 16;

/// Writes an RRset under `owner`: the records [`RRset::answered`] gives for this query, rotated
/// if it is a round-robin address set. The rotation starts from the query's ID, which clients
/// choose at random (RFC 5452), so over many queries each address leads equally often, and
/// answering writes nothing shared.
pub(super) fn write_rrset(
    writer: &mut ResponseWriter,
    section: Section,
    owner: &[u8],
    set: &RRset,
) -> Result<(), Full> {
    write_records(writer, section, owner, set, set.answered(writer.id()))
}

/// Writes `records` (chosen from `set` by [`RRset::answered`]) under `owner`, then, in a signed
/// answer, the signatures over exactly those records.
pub(super) fn write_records(
    writer: &mut ResponseWriter,
    section: Section,
    owner: &[u8],
    set: &RRset,
    records: Answered<'_>,
) -> Result<(), Full> {
    let sigs = if writer.signed() {
        set.signatures(&records)
    } else {
        Default::default()
    };
    if set.health.is_some() {
        // Which addresses it carries changes with the health checks, not with the data.
        writer.forbid_reuse();
    }
    // Where a round-robin set's RDATAs land, so that a reused response can rotate them.
    let rotating = set.health.is_none() && set.rotates(records.len());
    let (start, count) = (records.first(), records.len());
    let mut offsets = [0usize; MAX_ROTATED_RECORDS];
    // The owner is compressed once; the records and signatures after the first point at it.
    let mut owner_written = false;
    let mut push = |writer: &mut ResponseWriter, rtype: u16, rdata: &[u8]| {
        if std::mem::replace(&mut owner_written, true) {
            writer.push_same_owner(section, owner, rtype, set.ttl, rdata)
        } else {
            writer.push(section, owner, rtype, set.ttl, rdata)
        }
    };
    for (k, rdata) in records.enumerate() {
        push(writer, set.rtype, &rdata.wire)?;
        if rotating && k < MAX_ROTATED_RECORDS {
            offsets[k] = writer.len() - rdata.wire.len();
        }
    }
    if rotating {
        if count <= MAX_ROTATED_RECORDS
            && set
                .rdatas
                .iter()
                .all(|r| r.wire.len() == set.rdatas[0].wire.len())
        {
            writer.note_rotation(&offsets[..count], set.rdatas[0].wire.len(), start);
        } else {
            writer.forbid_reuse();
        }
    }
    for sig in sigs {
        push(writer, rtype::RRSIG, sig)?;
    }
    Ok(())
}

/// The domain name an NS, MX or SRV record points at.
pub(super) fn target_name(rtype: u16, rdata: &[u8]) -> Option<&[u8]> {
    let names = embedded_names(rtype, rdata);
    if names.count == 0 {
        return None;
    }
    let start = names.offsets[0] as usize;
    let len = name::wire_name_len(rdata.get(start..)?)?;
    Some(&rdata[start..start + len])
}
