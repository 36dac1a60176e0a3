//! Observation of answered queries, the last stage of the request path: it runs once the server
//! has decided what the client gets (after rate limiting), so it records what was actually
//! delivered — in the receive loop's own counters ([`counters`]), in the optional query log
//! ([`querylog`], JSON lines written by another thread), and at debug level one log line per
//! query carrying the view that answered, so `RUST_LOG=splitdns=debug` shows how each client was
//! routed. A TSIG refusal over TCP gets an info line, rate-limited per key and source
//! ([`tsig_refusals`]).

pub(crate) mod counters;
pub(crate) mod querylog;
pub(crate) mod tsig_refusals;

use std::net::SocketAddr;

use crate::answer::{Outcome, Summary};
use crate::dns::rtype;
use crate::view::Snapshot;
use crate::wire::Transport;
use crate::wire::tsig;
pub(crate) use counters::{LoopCounters, Registry};

/// What the client got for its query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The response as written.
    Sent,
    /// Rate limiting sent it truncated and empty (TC=1), so a real client retries over TCP.
    Slipped,
    /// Rate limiting dropped it.
    Dropped,
}

/// Address families, by index (metric label, query log).
pub(crate) const FAMILIES: [&str; 2] = ["ipv4", "ipv6"];

/// The view label of the counter slot that view names share once every other slot is taken.
pub(crate) const OVERFLOW_LABEL: &str = "_other";

/// Records one query: `slot` is the counter slot of the view it was routed to (see
/// [`Registry::slots_for`]), `None` without a view; `response` is what was written (sent unless
/// `delivery` says dropped).
pub fn query(
    counters: &LoopCounters,
    slot: Option<u8>,
    snapshot: &Snapshot,
    client: SocketAddr,
    summary: &Summary,
    delivery: Delivery,
    response: &[u8],
) {
    let slot = slot.map_or(counters::NO_VIEW_SLOT, usize::from);
    let outcome = summary.outcome();
    let ipv6 = match client.ip() {
        std::net::IpAddr::V4(_) => false,
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_none(),
    };
    counters.count(
        slot,
        ipv6,
        summary.qtype,
        outcome,
        summary.truncated,
        delivery,
    );
    if let Some(log) = counters.log_sample() {
        let queued = log.offer(log_entry(
            slot, client, summary, delivery, response, counters,
        ));
        counters.count_log(queued);
    }
    // A TSIG failure over a connection (where the source cannot be spoofed) is worth the admin's
    // eye: a secondary with a wrong secret or clock. Over UDP it stays at debug, so that forged
    // datagrams cannot flood the log.
    if outcome == Outcome::NotAuth && counters.transport() != Transport::Udp {
        tsig_refused(counters, client, summary, response);
    }
    if tracing::enabled!(tracing::Level::DEBUG) {
        let view = summary
            .view
            .map_or("-", |index| snapshot.views[index].name.as_str());
        tracing::debug!(
            %client,
            view,
            transport = ?counters.transport(),
            outcome = ?outcome,
            truncated = summary.truncated || delivery == Delivery::Slipped,
            ?delivery,
            "query"
        );
    }
}

/// The info line for a TSIG refusal, at most one per key and source a minute
/// ([`tsig_refusals`]). The key is the owner of the response's TSIG record, which echoes the
/// request's; reading the response here costs nothing to any query that did not fail.
fn tsig_refused(counters: &LoopCounters, client: SocketAddr, summary: &Summary, response: &[u8]) {
    let error = match summary.tsig_error {
        tsig::error::BADSIG => "BADSIG (wrong secret?)",
        tsig::error::BADKEY => "BADKEY (key not configured here)",
        tsig::error::BADTIME => "BADTIME (clocks more than 300 s apart?)",
        tsig::error::BADTRUNC => "BADTRUNC",
        _ => "error",
    };
    let key = crate::wire::reader::read(response)
        .and_then(|message| {
            message
                .additional
                .into_iter()
                .rfind(|r| r.rtype == rtype::TSIG)
        })
        .map(|record| record.owner.to_ascii_lowercase())
        .unwrap_or_default();
    let mut key_text = String::new();
    let _ = crate::dns::name::fmt_wire_name(&key, &mut key_text);
    let every = tsig_refusals::INTERVAL.as_secs();
    let note = match counters
        .tsig_refusals()
        .note(&key, client.ip(), std::time::Instant::now())
    {
        tsig_refusals::Verdict::Quiet => return,
        tsig_refusals::Verdict::Log { suppressed: 0 } => String::new(),
        tsig_refusals::Verdict::Log { suppressed } => format!(
            " ({suppressed} more with this key from this address left out since the last such line; one line per {every} s)"
        ),
        tsig_refusals::Verdict::LogCrowded { suppressed } => format!(
            " (too many keys and addresses to track: one line per {every} s for the rest, {suppressed} left out since the last)"
        ),
    };
    tracing::info!(%client, key = %key_text, "TSIG {error}: request answered NOTAUTH{note}");
}

fn log_entry(
    slot: usize,
    client: SocketAddr,
    summary: &Summary,
    delivery: Delivery,
    response: &[u8],
    counters: &LoopCounters,
) -> querylog::Entry {
    let mut qname = [0u8; 255];
    // The question is echoed right after the header: its name ends 4 octets before its end.
    let question = response
        .get(crate::wire::HEADER_LEN..summary.question_end.saturating_sub(4))
        .unwrap_or_default();
    let len = question.len().min(qname.len());
    qname[..len].copy_from_slice(&question[..len]);
    querylog::Entry {
        time: std::time::SystemTime::now(),
        client: client.ip(),
        view_slot: slot as u8,
        qname,
        qname_len: len as u8,
        qtype: summary.qtype,
        transport: counters.transport(),
        outcome: summary.outcome(),
        size: if delivery == Delivery::Dropped {
            0
        } else {
            response.len().min(u16::MAX as usize) as u16
        },
        truncated: summary.truncated || delivery == Delivery::Slipped,
        delivery,
    }
}

/// Everything the server counts, read by the control listener's `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    /// Queries and responses, per receive loop.
    pub queries: Registry,
    /// TCP connections. Touched once per connection (never per query), by several tasks.
    pub tcp_open: std::sync::atomic::AtomicI64,
    pub tcp_accepted: std::sync::atomic::AtomicU64,
    pub tcp_refused: std::sync::atomic::AtomicU64,
    /// Reloads by outcome (`crate::reload::ReloadOutcome`), and how long each took (whatever
    /// the outcome).
    pub reloads_ok: std::sync::atomic::AtomicU64,
    pub reloads_refused: std::sync::atomic::AtomicU64,
    /// Reloads that published while holding some zone copies back.
    pub reloads_partial: std::sync::atomic::AtomicU64,
    pub reload_seconds: prometheus_client::metrics::histogram::Histogram,
    /// The last reload's outcome: 0 before the first, else its `ReloadOutcome` as 1 + its index.
    pub last_reload: std::sync::atomic::AtomicU8,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            queries: Registry::default(),
            tcp_open: Default::default(),
            tcp_accepted: Default::default(),
            tcp_refused: Default::default(),
            reloads_ok: Default::default(),
            reloads_refused: Default::default(),
            reloads_partial: Default::default(),
            last_reload: Default::default(),
            // 1 ms to about 16 s: a small zone set reloads in milliseconds, a large one in seconds.
            reload_seconds: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.001, 4.0, 8),
            ),
        }
    }
}
