//! Accepting stream connections: DNS over TCP (RFC 7766), and the DNS over TLS and DNS over
//! HTTPS listeners, all under one cap on concurrent connections — over it, a new connection is
//! closed at once. A plain TCP connection is served by [`super::stream`]; one of the encrypted
//! listeners' goes to [`super::tls`]. Out of file descriptors (EMFILE), the accept loop pauses
//! between tries rather than retrying at once forever, and keeps accepting once descriptors are
//! free again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{SharedState, TcpLimits};
use crate::observe::Metrics;
use crate::wire::Transport;

/// How long the accept loop waits after an accept error that is not the connection's own (out of
/// file descriptors or memory): the same error would come back at once, and retrying at once
/// spins a core while the condition lasts. Short, since connections close within the idle
/// timeout and free their descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// At most one warning about such errors per this interval.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(10);

/// What a listener's connections speak.
#[derive(Clone)]
pub(super) enum Speaks {
    /// DNS over TCP.
    Plain,
    /// TLS first, then DNS over TLS or DNS over HTTPS (which of them is the acceptor's).
    Tls(super::tls::Acceptor),
}

pub(super) async fn serve(
    listener: TcpListener,
    speaks: Speaks,
    snapshot: SharedState,
    limits: TcpLimits,
    connections: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    // At the fd limit every closing connection lets one accept through before the next fails:
    // one warning per interval, counting the failures since the last, rather than a line per try.
    let mut warned: Option<Instant> = None;
    let mut failed: u64 = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if concerns_one_connection(&e) => {
                tracing::debug!("TCP accept error: {e}");
                continue;
            }
            Err(e) => {
                failed += 1;
                if warned.is_none_or(|at| at.elapsed() >= ACCEPT_WARN_EVERY) {
                    tracing::warn!(
                        "TCP accept error: {e}; {failed} failed accept(s) since the last such warning, each followed by a {ACCEPT_PAUSE:?} pause"
                    );
                    warned = Some(Instant::now());
                    failed = 0;
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_PAUSE) => {}
                    () = shutdown.cancelled() => return,
                }
                continue;
            }
        };
        // Over the limit, the new connection is closed at once rather than queued.
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            metrics.tcp_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("TCP connection from {client} refused: connection limit reached");
            continue;
        };
        metrics.tcp_accepted.fetch_add(1, Ordering::Relaxed);
        metrics.tcp_open.fetch_add(1, Ordering::Relaxed);
        let snapshot = snapshot.clone();
        let shutdown = shutdown.clone();
        let metrics = metrics.clone();
        let speaks = speaks.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match speaks {
                Speaks::Plain => {
                    // This connection's own counters: it is their only writer.
                    let counters = metrics.queries.register(Transport::Tcp);
                    super::stream::connection(
                        stream, client, snapshot, limits, &counters, shutdown,
                    )
                    .await;
                    metrics.queries.retire(&counters);
                }
                Speaks::Tls(acceptor) => {
                    acceptor
                        .serve(stream, client, snapshot, limits, &metrics, shutdown)
                        .await
                }
            }
            metrics.tcp_open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// An accept error about the queued connection itself (reset or aborted by the client before
/// it was taken), or a spurious wake-up: the next accept is unaffected.
fn concerns_one_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
    )
}
