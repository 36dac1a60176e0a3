//! Accepting stream connections: DNS over TCP (RFC 7766), and the DNS over TLS and DNS over
//! HTTPS listeners, all under one cap on concurrent connections and one per client address (an
//! IPv4 address, an IPv6 /64; a DoH reverse proxy in `[tls] trusted_proxies` is exempt) — over
//! either, a new connection is closed at once. A plain TCP connection is served by [`super::stream`]; one of the encrypted
//! listeners' goes to [`super::tls`]. Out of file descriptors (EMFILE), the accept loop pauses
//! between tries rather than retrying at once forever, and keeps accepting once descriptors are
//! free again.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
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
    admission: Admission,
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
        // Over a limit, the new connection is closed at once rather than queued.
        let Some(slot) = admission.per_source.take(client.ip(), || {
            snapshot.load().tls.as_ref().is_some_and(|tls| {
                tls.trusted_proxies
                    .iter()
                    .any(|net| net.contains(&client.ip()))
            })
        }) else {
            metrics.tcp_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                "TCP connection from {client} refused: per-source connection limit reached"
            );
            continue;
        };
        let Ok(permit) = admission.total.clone().try_acquire_owned() else {
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
            drop(slot);
            drop(permit);
        });
    }
}

/// The limits a new connection must pass, shared by every stream listener.
#[derive(Clone)]
pub(super) struct Admission {
    /// One permit per open connection: all back means all closed.
    pub total: Arc<Semaphore>,
    per_source: Arc<PerSource>,
}

impl Admission {
    pub(super) fn new(limits: &TcpLimits) -> Admission {
        Admission {
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_source: Arc::new(PerSource {
                held: Mutex::default(),
                limit: limits.max_connections_per_source,
            }),
        }
    }
}

/// How many connections each client address holds. Entries go when their last connection
/// closes, so the table holds at most one per open connection.
struct PerSource {
    held: Mutex<HashMap<IpAddr, usize>>,
    limit: usize,
}

impl PerSource {
    /// A connection slot for `ip`, unless its address already holds the limit and `exempt()`
    /// (asked only then) says no.
    fn take(self: &Arc<Self>, ip: IpAddr, exempt: impl FnOnce() -> bool) -> Option<SourceSlot> {
        let key = source_key(ip);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let count = held.entry(key).or_insert(0);
        if *count >= self.limit && !exempt() {
            if *count == 0 {
                held.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(SourceSlot {
            table: self.clone(),
            key,
        })
    }
}

/// One connection of one client address, given back when dropped.
struct SourceSlot {
    table: Arc<PerSource>,
    key: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut held = self.table.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// The client address a per-source limit counts by: an IPv4 address (IPv4-mapped IPv6 too), or
/// an IPv6 /64, which one client commonly holds whole.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
        v4 => v4,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each address (each IPv6 /64) holds at most the limit; a slot given back makes room; an
    /// exempt peer passes; the table forgets addresses that hold nothing.
    #[test]
    fn per_source_limit() {
        let limits = TcpLimits {
            max_connections_per_source: 2,
            ..TcpLimits::default()
        };
        let admission = Admission::new(&limits);
        let table = &admission.per_source;
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = table.take(a, || false).unwrap();
        let second = table
            .take("::ffff:192.0.2.1".parse().unwrap(), || false)
            .unwrap();
        assert!(
            table.take(a, || false).is_none(),
            "a third from one address"
        );
        assert!(table.take("192.0.2.2".parse().unwrap(), || false).is_some());
        let exempt = table.take(a, || true).unwrap();
        drop((first, exempt));
        let third = table.take(a, || false).unwrap();
        let v6 = [
            table.take("2001:db8::1".parse().unwrap(), || false),
            table.take("2001:db8::2".parse().unwrap(), || false),
            table.take("2001:db8::3".parse().unwrap(), || false),
            table.take("2001:db8:0:1::3".parse().unwrap(), || false),
        ];
        assert_eq!(
            v6.iter().map(Option::is_some).collect::<Vec<_>>(),
            [true, true, false, true]
        );
        drop((second, third, v6));
        assert!(table.held.lock().unwrap().is_empty());
    }
}
