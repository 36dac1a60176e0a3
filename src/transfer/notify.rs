//! NOTIFY (RFC 1996): after a change to a view's zone, each of that view's `notify` secondaries
//! is told the new serial, so it asks for the change at once instead of at its next refresh.
//! Signed with the view's key when the view has one (the secondary then knows which of its views
//! the zone belongs to). Sent over UDP and retried with doubling waits until answered or
//! [`TRIES`] have gone unanswered; an answer other than NOERROR is logged and not retried.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::dns::{class, rtype};
use crate::view::Snapshot;
use crate::wire::tsig::{self, Key};

/// Sends before giving up on a secondary.
pub const TRIES: u32 = 5;
/// The wait for the first answer; each retry waits twice as long (1 + 2 + 4 + 8 + 16 s).
const FIRST_WAIT: Duration = Duration::from_secs(1);

const OPCODE_NOTIFY: u16 = 4;

/// One NOTIFY to send.
#[derive(Debug, Clone)]
pub struct Notify {
    pub to: SocketAddr,
    /// The address to send from, when the view names one of `to`'s family.
    pub from: Option<IpAddr>,
    pub view: String,
    /// The zone's origin (wire) and the SOA served now (TTL, RDATA).
    pub origin: Box<[u8]>,
    pub soa_ttl: u32,
    pub soa: Box<[u8]>,
    pub serial: u32,
    pub key: Option<Arc<Key>>,
}

/// One view's secondaries: where its NOTIFYs go, and the key that signs them.
#[derive(Debug, Clone, Default)]
pub struct Secondaries {
    pub notify: Vec<SocketAddr>,
    /// `notify_source`: the address NOTIFYs of its family leave from.
    pub source: Option<IpAddr>,
    pub key: Option<Arc<Key>>,
}

/// The NOTIFYs a newly served snapshot calls for: to each view's `notify` addresses
/// (`secondaries`, in the order of the views), for each of its zones whose serial differs from
/// what `previous` served (every zone at start).
pub fn due<'a>(
    secondaries: impl IntoIterator<Item = &'a Secondaries>,
    previous: Option<&Snapshot>,
    current: &Snapshot,
) -> Vec<Notify> {
    let mut due = Vec::new();
    for (view_config, view) in secondaries.into_iter().zip(&current.views) {
        if view_config.notify.is_empty() {
            continue;
        }
        let key = view_config.key.clone();
        for zone in &view.zones {
            let before = previous.and_then(|p| p.view_zone(&view.name, &zone.origin));
            if before.is_some_and(|b| b.serial == zone.serial) {
                continue;
            }
            for &to in &view_config.notify {
                due.push(Notify {
                    to,
                    from: view_config
                        .source
                        .filter(|source| source.is_ipv4() == to.is_ipv4()),
                    view: view.name.clone(),
                    origin: zone.origin.as_wire().into(),
                    soa_ttl: zone.soa.ttl,
                    soa: zone.soa.rdatas[0].wire[..].into(),
                    serial: zone.serial,
                    key: key.clone(),
                });
            }
        }
    }
    due
}

/// Sends every NOTIFY, each on its own task. Call within the runtime.
pub fn spawn_all(due: Vec<Notify>) {
    for notify in due {
        tokio::spawn(send(notify));
    }
}

/// Sends one NOTIFY until it is answered or [`TRIES`] sends went unanswered.
pub async fn send(notify: Notify) {
    let mut zone = String::new();
    let _ = crate::dns::name::fmt_wire_name(&notify.origin, &mut zone);
    let what = format!(
        "NOTIFY for {zone} (view {}, serial {}) to {}",
        notify.view, notify.serial, notify.to
    );
    let wildcard: IpAddr = if notify.to.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let bind = SocketAddr::new(notify.from.unwrap_or(wildcard), 0);
    let socket = match UdpSocket::bind(bind).await {
        Ok(socket) => socket,
        Err(e) => {
            tracing::warn!("{what}: cannot open a socket on {bind}: {e}");
            return;
        }
    };
    // Random, as for upstream queries (RFC 5452): the answer is matched by its ID.
    let id: u16 = rand::random();
    let mut wait = FIRST_WAIT;
    for attempt in 1..=TRIES {
        // Signed afresh for each send: the time in the TSIG must be current.
        let (message, request_mac) = message(&notify, id);
        if let Err(e) = socket.send_to(&message, notify.to).await {
            tracing::debug!("{what}: send failed: {e}");
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = vec![0u8; 4096];
        // Bounded: every pass waits for a datagram until the deadline.
        while let Ok(Ok((len, from))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            if from != notify.to {
                continue;
            }
            match answer(&notify, id, &request_mac, &buf[..len]) {
                None => continue,
                Some(Ok(())) => {
                    tracing::info!("{what}: answered (send {attempt} of {TRIES})");
                    return;
                }
                Some(Err(problem)) => {
                    tracing::warn!("{what}: {problem}");
                    return;
                }
            }
        }
        tracing::debug!("{what}: no answer within {wait:?} (send {attempt} of {TRIES})");
        wait *= 2;
    }
    tracing::warn!(
        "{what}: no answer after {TRIES} sends; the secondary will find the change at its next refresh"
    );
}

/// A NOTIFY message: AA set, the zone's SOA as question and, with the new serial, as answer
/// (RFC 1996 §3.7); signed when the view has a key. Returns it with the request MAC.
fn message(notify: &Notify, id: u16) -> (Vec<u8>, Vec<u8>) {
    let flags: u16 = (OPCODE_NOTIFY << 11) | 0x0400;
    let mut message = Vec::with_capacity(512);
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&flags.to_be_bytes());
    message.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    message.extend_from_slice(&notify.origin);
    message.extend_from_slice(&rtype::SOA.to_be_bytes());
    message.extend_from_slice(&class::IN.to_be_bytes());
    // The answer's owner points at the question name (offset 12).
    message.extend_from_slice(&[0xc0, 12]);
    message.extend_from_slice(&rtype::SOA.to_be_bytes());
    message.extend_from_slice(&class::IN.to_be_bytes());
    message.extend_from_slice(&notify.soa_ttl.to_be_bytes());
    message.extend_from_slice(&(notify.soa.len() as u16).to_be_bytes());
    message.extend_from_slice(&notify.soa);
    let mac = match &notify.key {
        Some(key) => tsig::sign_request(&mut message, key, tsig::now()),
        None => Vec::new(),
    };
    (message, mac)
}

/// Reads a datagram as the answer to our NOTIFY: `None` if it is not one (another ID, not a
/// NOTIFY response), else whether it says yes — NOERROR, and signed by our key when we signed.
fn answer(
    notify: &Notify,
    id: u16,
    request_mac: &[u8],
    bytes: &[u8],
) -> Option<Result<(), String>> {
    if bytes.len() < crate::wire::HEADER_LEN {
        return None;
    }
    let flags = u16::from_be_bytes([bytes[2], bytes[3]]);
    if u16::from_be_bytes([bytes[0], bytes[1]]) != id
        || flags & 0x8000 == 0
        || (flags >> 11) & 0xf != OPCODE_NOTIFY
    {
        return None;
    }
    let rcode = flags & 0xf;
    if let Some(key) = &notify.key {
        let signed = crate::wire::query::tsig_of_response(bytes)
            .is_some_and(|record| tsig::verify_response(bytes, &record, key, request_mac));
        if !signed {
            return Some(Err(format!(
                "answered (rcode {rcode}) without a valid signature by key {}: check that the secondary has the key",
                key.name_text()
            )));
        }
    }
    if rcode != 0 {
        return Some(Err(format!("answered with rcode {rcode}")));
    }
    Some(Ok(()))
}
