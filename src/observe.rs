//! Observation of answered queries, the last stage of the request path: it runs once the server
//! has decided what the client gets (after rate limiting), so it records what was actually
//! delivered. Today one debug-level log line per query, carrying the view that answered, so
//! `RUST_LOG=splitdns=debug` shows how each client was routed.

use std::net::SocketAddr;

use crate::answer::{Outcome, Summary, Transport};
use crate::view::Snapshot;
use crate::wire::tsig::error;

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

pub fn query(
    snapshot: &Snapshot,
    client: SocketAddr,
    transport: Transport,
    summary: &Summary,
    delivery: Delivery,
) {
    // A TSIG failure over TCP (where the source cannot be spoofed) is worth the admin's eye: a
    // secondary with a wrong secret or clock. Over UDP it stays at debug, so that forged
    // datagrams cannot flood the log.
    if let (Outcome::NotAuth(code), Transport::Tcp) = (summary.outcome, transport) {
        let error = match code {
            error::BADSIG => "BADSIG (wrong secret?)",
            error::BADKEY => "BADKEY (key not configured here)",
            error::BADTIME => "BADTIME (clocks more than 300 s apart?)",
            error::BADTRUNC => "BADTRUNC",
            _ => "error",
        };
        tracing::info!(%client, "TSIG {error}: request answered NOTAUTH");
    }
    if tracing::enabled!(tracing::Level::DEBUG) {
        let view = summary
            .view
            .map_or("-", |index| snapshot.views[index].name.as_str());
        tracing::debug!(
            %client,
            view,
            ?transport,
            outcome = ?summary.outcome,
            truncated = summary.truncated || delivery == Delivery::Slipped,
            ?delivery,
            "query"
        );
    }
}
