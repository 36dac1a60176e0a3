//! Observation of answered queries, the last stage of the request path: it runs once the server
//! has decided what the client gets (after rate limiting), so it records what was actually
//! delivered — in the receive loop's own counters ([`counters`]), and at debug level one log line
//! per query carrying the view that answered, so `RUST_LOG=splitdns=debug` shows how each client
//! was routed.

pub mod counters;

use std::net::SocketAddr;

use crate::answer::Summary;
use crate::view::Snapshot;
pub use counters::{Delivery, LoopCounters, Registry};

/// Records one query: `slots` maps the snapshot's view indexes to counter slots (see
/// [`Registry::slots_for`]).
pub fn query(
    counters: &LoopCounters,
    slots: &[u8],
    snapshot: &Snapshot,
    client: SocketAddr,
    summary: &Summary,
    delivery: Delivery,
) {
    let slot = summary
        .view
        .and_then(|index| slots.get(index))
        .map_or(counters::NO_VIEW_SLOT, |&slot| slot as usize);
    let ipv6 = match client.ip() {
        std::net::IpAddr::V4(_) => false,
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_none(),
    };
    counters.count(
        slot,
        ipv6,
        summary.qtype,
        summary.outcome,
        summary.truncated,
        delivery,
    );
    if tracing::enabled!(tracing::Level::DEBUG) {
        let view = summary
            .view
            .map_or("-", |index| snapshot.views[index].name.as_str());
        tracing::debug!(
            %client,
            view,
            transport = ?counters.transport(),
            outcome = ?summary.outcome,
            truncated = summary.truncated || delivery == Delivery::Slipped,
            ?delivery,
            "query"
        );
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
    /// Reloads by result, and how long each took (success and failure alike).
    pub reloads_succeeded: std::sync::atomic::AtomicU64,
    pub reloads_failed: std::sync::atomic::AtomicU64,
    /// Reloads that published while holding some zones back (their files did not load).
    pub reloads_partial: std::sync::atomic::AtomicU64,
    pub reload_seconds: prometheus_client::metrics::histogram::Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            queries: Registry::default(),
            tcp_open: Default::default(),
            tcp_accepted: Default::default(),
            tcp_refused: Default::default(),
            reloads_succeeded: Default::default(),
            reloads_failed: Default::default(),
            reloads_partial: Default::default(),
            // 1 ms to about 16 s: a small zone set reloads in milliseconds, a large one in seconds.
            reload_seconds: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.001, 4.0, 8),
            ),
        }
    }
}
