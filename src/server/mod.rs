//! Listening: binds UDP and TCP sockets, and runs the receive loops that hand each message to
//! [`crate::answer::respond`] with the snapshot current at that moment. The core takes bound
//! sockets, the published snapshot and a shutdown token; it knows nothing about config files.

#[allow(unsafe_code)]
mod datagrams;
mod rrl;
mod tcp;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::answer::{self, Summary, Transport};
use crate::observe::Metrics;
use crate::view::Snapshot;
pub use rrl::RrlPolicy;

/// What the server answers from: the snapshot, and the server's own per-view settings that
/// change with it. Published whole by each reload, read without locks.
#[derive(Debug)]
pub struct Published {
    pub snapshot: Snapshot,
    /// Response Rate Limiting per view (indexed like `snapshot.views`), where on.
    pub rate_limits: Vec<Option<RrlPolicy>>,
    /// Each view's counter slot (indexed like `snapshot.views`): see
    /// [`crate::observe::Registry::slots_for`].
    pub view_slots: Vec<u8>,
}

/// The state currently served; replaced whole by reloads, read without locks.
pub type SharedState = Arc<ArcSwap<Published>>;

/// Limits that protect the TCP side (RFC 7766 §6.2.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcpLimits {
    pub max_connections: usize,
    /// How long a connection may sit between messages.
    pub idle_timeout: Duration,
    /// How long one message may take to arrive once its first byte has (defeats slow senders).
    pub message_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 4096,
            idle_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(3),
        }
    }
}

/// Bound sockets, ready to serve.
pub struct Listeners {
    pub udp: Vec<std::net::UdpSocket>,
    pub tcp: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// Binds UDP and TCP on each address. Port 0 picks one free port for both protocols.
    pub fn bind(addrs: &[SocketAddr]) -> io::Result<Listeners> {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for addr in addrs {
            let (u, t) = bind_pair(*addr)?;
            udp.push(u);
            tcp.push(t);
        }
        Ok(Listeners { udp, tcp })
    }

    /// The addresses actually bound (useful after binding port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

fn bind_pair(addr: SocketAddr) -> io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = std::net::UdpSocket::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}")))?;
        let bound = udp.local_addr()?;
        match std::net::TcpListener::bind(bound) {
            Ok(tcp) => {
                udp.set_nonblocking(true)?;
                tcp.set_nonblocking(true)?;
                return Ok((udp, tcp));
            }
            // Port 0 gave a UDP port whose TCP twin is taken: try another.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && addr.port() == 0 => {
                last_error = Some(e)
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot bind TCP {bound}: {e}"),
                ));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
}

/// [`answer::respond`], with a panic contained to the one request that caused it: the message
/// goes unanswered, the error is logged, and the receive loop carries on.
fn respond_guarded(
    snapshot: &Snapshot,
    client: SocketAddr,
    packet: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
) -> Option<Summary> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| {
        answer::respond(snapshot, client.ip(), packet, transport, out)
    })) {
        Ok(summary) => summary,
        Err(_) => {
            tracing::error!(
                "internal error answering {} bytes from {client}; message dropped",
                packet.len()
            );
            None
        }
    }
}

/// How long a stop waits for TCP connections to finish the answer they are writing.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves until `shutdown` is cancelled, counting into `metrics`. Each UDP socket gets one
/// receive loop (a thread) per core; each TCP listener one accept task. On shutdown, TCP
/// connections stop reading new queries but finish the answer in hand; `run` returns once they
/// have (at most [`SHUTDOWN_GRACE`] later).
pub async fn run(
    listeners: Listeners,
    snapshot: SharedState,
    limits: TcpLimits,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let loops_per_socket = std::thread::available_parallelism().map_or(1, |n| n.get());
    // One table for all sockets and reloads: limits follow the client, not the listener.
    let limiter = Arc::new(rrl::RateLimiter::default());
    for socket in listeners.udp {
        for _ in 0..loops_per_socket {
            let socket = socket.try_clone()?;
            let (snapshot, limiter, shutdown) =
                (snapshot.clone(), limiter.clone(), shutdown.clone());
            let counters = metrics.queries.register(Transport::Udp);
            tasks
                .spawn_blocking(move || udp::serve(socket, snapshot, limiter, &counters, shutdown));
        }
    }
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    for listener in listeners.tcp {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tasks.spawn(tcp::serve(
            listener,
            snapshot.clone(),
            limits,
            connections.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result
            && e.is_panic()
        {
            tracing::error!("a listener task panicked: {e}");
        }
    }
    // Every connection holds a permit until it has finished: all permits back means all done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "{} TCP connection(s) still open {SHUTDOWN_GRACE:?} after the stop; closing them",
            metrics.tcp_open.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    Ok(())
}
