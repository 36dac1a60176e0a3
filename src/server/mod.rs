//! Listening: binds UDP and TCP sockets (and, where configured, DNS over TLS and DNS over HTTPS
//! ones: [`tls`], [`doh`]), and runs the receive loops that hand each message to
//! [`crate::answer::respond`] with the snapshot current at that moment, and a recursive view's
//! names that are not ours to its resolver ([`forward`]). The core takes bound sockets, the
//! published snapshot and a shutdown token; it knows nothing about config files.

#[allow(unsafe_code)]
mod datagrams;
mod doh;
mod forward;
mod rrl;
mod stream;
mod tcp;
mod tls;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;

use crate::answer::{self, Summary};
use crate::limits::RrlPolicy;
pub use crate::limits::{TcpLimits, TlsSettings};
use crate::observe::Metrics;
use crate::resolve::Resolver;
use crate::transfer::notify::Secondaries;
use crate::view::Snapshot;
use crate::wire::Transport;

/// What the server answers from: the snapshot, and the server's own state for each of its
/// views. Published whole by each reload, read without locks.
#[derive(Debug)]
pub struct Published {
    pub snapshot: Snapshot,
    /// One record per view, indexed like `snapshot.views`.
    pub views: Vec<ViewRuntime>,
    /// What DNS over TLS and HTTPS serve with (`None`: `[tls]` is off, and their listeners, if
    /// any are open, refuse every handshake).
    pub tls: Option<Arc<TlsSettings>>,
}

impl Published {
    /// The counter slot of the view a query was routed to (`None`: no view).
    pub fn counter_slot(&self, view: Option<usize>) -> Option<u8> {
        self.views.get(view?).map(|runtime| runtime.counter_slot)
    }
}

/// What the server runs for one view beside its data, built each time a load is published
/// (`crate::reload::publish`): a new per-view runtime part is a field here.
#[derive(Debug)]
pub struct ViewRuntime {
    /// Response Rate Limiting, where on.
    pub rate_limit: Option<RrlPolicy>,
    /// The resolver of a recursive view: its cache and upstream state, kept across reloads
    /// while the view's name and settings stay.
    pub resolver: Option<Arc<Resolver>>,
    /// The view's counter slot: see [`crate::observe::Registry::slots_for`].
    pub counter_slot: u8,
    /// Where NOTIFYs for the view's zones go.
    pub secondaries: Secondaries,
}

/// The state currently served; replaced whole by reloads, read without locks.
pub type SharedState = Arc<ArcSwap<Published>>;

/// Bound sockets, ready to serve.
pub struct Listeners {
    pub udp: Vec<std::net::UdpSocket>,
    pub tcp: Vec<std::net::TcpListener>,
    /// DNS over TLS and DNS over HTTPS ([`Listeners::bind_tls`]).
    pub dot: Vec<std::net::TcpListener>,
    pub doh: Vec<std::net::TcpListener>,
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
        Ok(Listeners {
            udp,
            tcp,
            dot: Vec::new(),
            doh: Vec::new(),
        })
    }

    /// Binds the DNS over TLS and DNS over HTTPS listeners (TCP only; port 0 picks one each).
    pub fn bind_tls(&mut self, dot: &[SocketAddr], doh: &[SocketAddr]) -> io::Result<()> {
        let bind = |addr: &SocketAddr, what: &str| {
            bind_tcp(*addr)
                .and_then(|listener| {
                    listener.set_nonblocking(true)?;
                    Ok(listener)
                })
                .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {what} {addr}: {e}")))
        };
        for addr in dot {
            self.dot.push(bind(addr, "DNS over TLS")?);
        }
        for addr in doh {
            self.doh.push(bind(addr, "DNS over HTTPS")?);
        }
        Ok(())
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
        let udp = bind_udp(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}")))?;
        let bound = udp.local_addr()?;
        match bind_tcp(bound) {
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

/// A socket for `addr`'s family. An IPv6 socket is IPv6-only, whatever the system default
/// (`net.ipv6.bindv6only`): otherwise `[::]:53` also takes IPv4 port 53 and the usual pair
/// `0.0.0.0:53` + `[::]:53` fails with "Address already in use". Each family is then served by
/// the socket bound for it, as BIND and NSD do.
fn new_socket(addr: SocketAddr, kind: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

/// Like `std::net::UdpSocket::bind` (no address reuse: a second server on the same port fails
/// to start instead of sharing the queries), but IPv6-only for IPv6.
fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = new_socket(addr, Type::DGRAM, Protocol::UDP)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Like `std::net::TcpListener::bind`, but IPv6-only for IPv6. SO_REUSEADDR as std sets it on
/// Unix: a restart can listen again while the last run's connections sit in TIME_WAIT.
fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = new_socket(addr, Type::STREAM, Protocol::TCP)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(TCP_BACKLOG)?;
    Ok(socket.into())
}

/// Connections the kernel may queue before they are accepted (it caps this at
/// `net.core.somaxconn`); tokio's `TcpListener::bind` uses the same.
const TCP_BACKLOG: i32 = 1024;

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

/// The listeners with every descriptor the receive loops take: a clone of each UDP socket per
/// loop (and one the resolver replies on), the TCP listeners registered with the runtime.
pub struct Sockets {
    /// Per UDP socket: one socket per receive loop, and the shared reply socket.
    udp: Vec<(Vec<std::net::UdpSocket>, Arc<std::net::UdpSocket>)>,
    tcp: Vec<tokio::net::TcpListener>,
    dot: Vec<tokio::net::TcpListener>,
    doh: Vec<tokio::net::TcpListener>,
}

impl Listeners {
    /// Takes every descriptor [`run`] needs, so that a start that cannot have them all (out of
    /// file descriptors) fails before it says it serves. Call within the runtime.
    pub fn open(self) -> io::Result<Sockets> {
        let loops_per_socket = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut udp = Vec::with_capacity(self.udp.len());
        for socket in self.udp {
            // Forwarded answers go out on this clone, from the resolver's tasks.
            let reply = Arc::new(socket.try_clone()?);
            let loops = (0..loops_per_socket)
                .map(|_| socket.try_clone())
                .collect::<io::Result<Vec<_>>>()?;
            udp.push((loops, reply));
        }
        let register = |listeners: Vec<std::net::TcpListener>| {
            listeners
                .into_iter()
                .map(tokio::net::TcpListener::from_std)
                .collect::<io::Result<Vec<_>>>()
        };
        Ok(Sockets {
            udp,
            tcp: register(self.tcp)?,
            dot: register(self.dot)?,
            doh: register(self.doh)?,
        })
    }
}

impl Sockets {
    /// The addresses served on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|(_, reply)| reply.local_addr().ok())
            .collect()
    }

    /// The DNS over TLS and DNS over HTTPS addresses served on.
    pub fn tls_addrs(&self) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let addrs = |listeners: &[tokio::net::TcpListener]| {
            listeners
                .iter()
                .filter_map(|l| l.local_addr().ok())
                .collect()
        };
        (addrs(&self.dot), addrs(&self.doh))
    }
}

/// Serves until `shutdown` is cancelled, counting into `metrics`. Each UDP socket gets one
/// receive loop (a thread) per core; each TCP, DNS over TLS and DNS over HTTPS listener one accept
/// task, all under one connection limit. On shutdown, TCP
/// connections stop reading new queries but finish the answer in hand; `run` returns once they
/// have (at most [`SHUTDOWN_GRACE`] later).
pub async fn run(
    sockets: Sockets,
    snapshot: SharedState,
    limits: TcpLimits,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut tasks = tokio::task::JoinSet::new();
    // One table for all sockets and reloads: limits follow the client, not the listener.
    let limiter = Arc::new(rrl::RateLimiter::default());
    let runtime = tokio::runtime::Handle::current();
    for (loops, reply) in sockets.udp {
        for socket in loops {
            let (snapshot, limiter, shutdown) =
                (snapshot.clone(), limiter.clone(), shutdown.clone());
            let (runtime, reply) = (runtime.clone(), reply.clone());
            let counters = metrics.queries.register(Transport::Udp);
            tasks.spawn_blocking(move || {
                udp::serve(
                    socket, reply, snapshot, limiter, runtime, &counters, shutdown,
                )
            });
        }
    }
    let admission = tcp::Admission::new(&limits);
    let mut listeners: Vec<_> = sockets
        .tcp
        .into_iter()
        .map(|listener| (listener, tcp::Speaks::Plain))
        .collect();
    if !sockets.dot.is_empty() || !sockets.doh.is_empty() {
        match tls::Acceptors::new(&snapshot) {
            Ok(acceptors) => {
                listeners.extend(
                    sockets
                        .dot
                        .into_iter()
                        .map(|l| (l, tcp::Speaks::Tls(acceptors.dot.clone()))),
                );
                listeners.extend(
                    sockets
                        .doh
                        .into_iter()
                        .map(|l| (l, tcp::Speaks::Tls(acceptors.doh.clone()))),
                );
            }
            Err(e) => tracing::error!("DNS over TLS and HTTPS are not served: {e}"),
        }
    }
    for (listener, speaks) in listeners {
        tasks.spawn(tcp::serve(
            listener,
            speaks,
            snapshot.clone(),
            limits,
            admission.clone(),
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
    if tokio::time::timeout(SHUTDOWN_GRACE, admission.total.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "{} TCP connection(s) still open {SHUTDOWN_GRACE:?} after the stop; closing them",
            metrics.tcp_open.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
}
