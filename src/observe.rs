//! Observation of answered queries: one debug-level log line per query, carrying the view that
//! answered, so `RUST_LOG=splitdns=debug` shows how each client was routed.

use std::net::SocketAddr;

use crate::answer::{Summary, Transport};
use crate::view::Snapshot;

pub fn query(snapshot: &Snapshot, client: SocketAddr, transport: Transport, summary: &Summary) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let view = summary
            .view
            .map_or("-", |index| snapshot.views[index].name.as_str());
        tracing::debug!(
            %client,
            view,
            ?transport,
            outcome = ?summary.outcome,
            truncated = summary.truncated,
            "query"
        );
    }
}
