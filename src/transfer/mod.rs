//! Zone transfers out to secondaries: AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, written as a
//! stream of messages (each at most 64 KiB, every one TSIG-signed when the request was, with the
//! RFC 8945 §5.3.1 chaining), and NOTIFY (RFC 1996, [`notify`]) after a change. The answer stage
//! decides that a request is a permitted transfer and describes it as a [`Request`]; the TCP
//! listener runs [`write_messages`] off the event loop and sends what it produces.

pub mod notify;

use crate::dns::rtype;
use crate::view::Snapshot;
use crate::view::history::{Record, Records};
use crate::wire::tsig::{self, ResponseSigner};
use crate::wire::writer::{ResponseWriter, Section};

/// A transfer the answer stage accepted: what to send, to whom, signed how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub view: usize,
    /// The zone's lowercased origin (wire), as the view serves it.
    pub origin: Vec<u8>,
    /// The question as asked (echoed in every message, RFC 5936 §2.2.1 allows it).
    pub qname: Vec<u8>,
    pub qtype: u16,
    pub id: u16,
    pub flags: u16,
    /// For IXFR: the serial the secondary has.
    pub ixfr_serial: Option<u32>,
    /// The key that signed the request (index into the snapshot's keys) and the request's MAC.
    pub key: Option<usize>,
    pub request_mac: Vec<u8>,
}

/// How a transfer went, for the log: whether it was incremental, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sent {
    /// An IXFR answered with differences (not a full zone, not "up to date").
    pub incremental: bool,
    /// The secondary already had the version served: one SOA.
    pub up_to_date: bool,
    pub messages: usize,
    pub records: usize,
}

/// One log line per transfer: what kind it turned out to be, where it went, how big it was.
pub fn log_sent(
    client: std::net::SocketAddr,
    (view, origin, qtype): (String, Vec<u8>, u16),
    sent: &Sent,
    completed: bool,
) {
    let mut zone = String::new();
    let _ = crate::dns::name::fmt_wire_name(&origin, &mut zone);
    let kind = match (qtype, sent.incremental, sent.up_to_date) {
        (rtype::IXFR, true, _) => "IXFR (incremental)",
        (rtype::IXFR, _, true) => "IXFR (up to date: SOA only)",
        (rtype::IXFR, _, _) => "IXFR (answered with the full zone)",
        _ => "AXFR",
    };
    if completed {
        tracing::info!(
            "{kind} of {zone} (view {view}) to {client}: {} records in {} messages",
            sent.records,
            sent.messages
        );
    } else {
        tracing::warn!(
            "{kind} of {zone} (view {view}) to {client} broke off after {} messages",
            sent.messages
        );
    }
}

/// Largest message: the two-octet TCP length prefix.
const MAX_MESSAGE: usize = u16::MAX as usize;

/// Writes the transfer's messages one by one and hands each to `send`, which returns false to
/// stop (the connection went away). Runs to completion on the snapshot it is given, so a reload
/// during a transfer does not mix versions.
pub fn write_messages(
    snapshot: &Snapshot,
    request: &Request,
    send: impl FnMut(Vec<u8>) -> bool,
) -> Sent {
    let view = &snapshot.views[request.view];
    let zone = view
        .zone_for(&request.origin, rtype::SOA)
        .expect("the answer stage checked the zone");
    let key = request.key.map(|k| &*snapshot.keys[k]);
    let current: Record = (
        zone.origin.as_wire(),
        rtype::SOA,
        zone.soa.ttl,
        &zone.soa.rdatas[0].wire,
    );
    let mut sent = Sent::default();
    let (messages, records) = match request.ixfr_serial {
        // RFC 1995 §2: the secondary is current (or ahead): the single SOA.
        Some(serial) if !crate::dns::soa::is_newer(zone.serial, serial) => {
            sent.up_to_date = true;
            write_records(request, key, std::iter::once(current), send)
        }
        Some(serial) if zone.history.since(serial).is_some() => {
            sent.incremental = true;
            let diffs = zone.history.since(serial).expect("checked");
            let changes = diffs.iter().flat_map(|diff| {
                [&diff.from_soa, &diff.removed, &diff.to_soa, &diff.added]
                    .into_iter()
                    .flat_map(Records::iter)
            });
            let records = std::iter::once(current)
                .chain(changes)
                .chain(std::iter::once(current));
            write_records(request, key, records, send)
        }
        // RFC 5936 §2.2 (and RFC 1995 §4 for an IXFR from a serial not kept): SOA, every
        // other record, SOA.
        _ => {
            let all = zone
                .transfer_nodes()
                .flat_map(|(owner, node)| zone.node_records(owner, node));
            let records = std::iter::once(current)
                .chain(all)
                .chain(std::iter::once(current));
            write_records(request, key, records, send)
        }
    };
    sent.messages = messages;
    sent.records = records;
    sent
}

/// Fills messages with `records` in order, each as full as 64 KiB allows (names compressed where
/// a pointer reaches), signs each when the request was signed, and sends it. Returns the messages
/// and records sent.
fn write_records<'z>(
    request: &Request,
    key: Option<&tsig::Key>,
    records: impl Iterator<Item = Record<'z>>,
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> (usize, usize) {
    let mut signer = key.map(|k| ResponseSigner::new(k, &request.request_mac, tsig::now()));
    let limit = MAX_MESSAGE - key.map_or(0, tsig::record_len);
    let mut records = records.peekable();
    let (mut messages, mut written) = (0usize, 0usize);
    let mut buf = Vec::with_capacity(MAX_MESSAGE);
    while records.peek().is_some() {
        let mut writer = ResponseWriter::new(
            &mut buf,
            request.id,
            request.flags,
            Some((&request.qname, request.qtype, crate::dns::class::IN)),
            limit,
            None,
        );
        writer.set_authoritative(true);
        writer.freeze_targets();
        let mut in_message = 0usize;
        while let Some(&(owner, rtype, ttl, rdata)) = records.peek() {
            if writer
                .push(Section::Answer, owner, rtype, ttl, rdata)
                .is_err()
            {
                break;
            }
            records.next();
            in_message += 1;
        }
        if in_message == 0 {
            // Too large for a message of its own: nothing can carry it (the zone file reader
            // keeps RDATA below 64 KiB, so only a record near that size gets here).
            tracing::warn!("zone transfer: a record does not fit a message; left out");
            records.next();
            continue;
        }
        writer.finish();
        let mut message = std::mem::replace(&mut buf, Vec::with_capacity(MAX_MESSAGE));
        if let Some(signer) = &mut signer {
            signer.sign(&mut message, tsig::error::NOERROR, &[]);
        }
        messages += 1;
        written += in_message;
        if !send(message) {
            break;
        }
    }
    (messages, written)
}
