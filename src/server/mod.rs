//! Listening: binds UDP and TCP sockets (and, where configured, DNS over TLS and DNS over HTTPS
//! ones: [`tls`], [`doh`]), and runs the receive loops that hand each message to
//! [`crate::answer::respond`] with the snapshot current at that moment, and a recursive view's
//! names that are not ours to its resolver ([`forward`]). The core takes bound sockets, the
//! published snapshot and a shutdown token; it knows nothing about config files.

mod bind;
#[allow(unsafe_code)]
mod datagrams;
mod doh;
mod forward;
mod gather;
mod rrl;
mod steering;
mod stream;
mod tcp;
mod tls;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
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

/// Bound sockets, ready to serve: per listen address, a UDP socket and a TCP listener for each
/// receive loop ([`bind`]).
pub struct Listeners {
    groups: Vec<bind::Group>,
    /// DNS over TLS and DNS over HTTPS ([`Listeners::bind_tls`]).
    dot: Vec<std::net::TcpListener>,
    doh: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// Binds UDP and TCP on each address, `loops` sockets of each (see [`loops_per_core`]).
    /// Port 0 picks one free port for both protocols and all the loops.
    pub fn bind(addrs: &[SocketAddr], loops: NonZeroUsize) -> io::Result<Listeners> {
        let groups = addrs
            .iter()
            .map(|addr| bind::group(*addr, loops))
            .collect::<io::Result<_>>()?;
        Ok(Listeners {
            groups,
            dot: Vec::new(),
            doh: Vec::new(),
        })
    }

    /// Binds the DNS over TLS and DNS over HTTPS listeners: one TCP listener each (one accept
    /// task hands connections to the runtime's workers; the TLS work is theirs), bound alone.
    /// Port 0 picks a port for each.
    pub fn bind_tls(&mut self, dot: &[SocketAddr], doh: &[SocketAddr]) -> io::Result<()> {
        for addr in dot {
            self.dot.push(bind::listener(*addr, "DNS over TLS")?);
        }
        for addr in doh {
            self.doh.push(bind::listener(*addr, "DNS over HTTPS")?);
        }
        Ok(())
    }

    /// The addresses actually bound (useful after binding port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.groups
            .iter()
            .filter_map(|group| group.udp.first()?.local_addr().ok())
            .collect()
    }
}

/// The number of receive loops when the config sets none: one per core this process may run on.
pub fn loops_per_core() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
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

/// The listeners with every descriptor the receive loops take: each loop's UDP socket and the
/// descriptor of it that forwarded answers go out on, the TCP listeners registered with the
/// runtime.
pub struct Sockets {
    /// Per listen address, per receive loop: its socket, and another descriptor of the same
    /// socket for the resolver's tasks.
    udp: Vec<Vec<(std::net::UdpSocket, Arc<std::net::UdpSocket>)>>,
    tcp: Vec<tokio::net::TcpListener>,
    dot: Vec<tokio::net::TcpListener>,
    doh: Vec<tokio::net::TcpListener>,
}

impl Listeners {
    /// Takes every descriptor [`run`] needs, so that a start that cannot have them all (out of
    /// file descriptors) fails before it says it serves. Call within the runtime.
    pub fn open(self) -> io::Result<Sockets> {
        let mut udp = Vec::with_capacity(self.groups.len());
        let mut tcp = Vec::new();
        for group in self.groups {
            // Forwarded answers leave from the listen address, on the socket their query came
            // in on. Not on one socket for all: if a loop ended, a descriptor held elsewhere
            // would keep its socket in the group, taking its share of the clients with nobody
            // reading; closed with its loop, the kernel gives that share to the others.
            let loops = group
                .udp
                .into_iter()
                .map(|socket| {
                    let reply = Arc::new(socket.try_clone()?);
                    Ok((socket, reply))
                })
                .collect::<io::Result<Vec<_>>>()?;
            udp.push(loops);
            for listener in group.tcp {
                tcp.push(tokio::net::TcpListener::from_std(listener)?);
            }
        }
        let register = |listeners: Vec<std::net::TcpListener>| {
            listeners
                .into_iter()
                .map(tokio::net::TcpListener::from_std)
                .collect::<io::Result<Vec<_>>>()
        };
        Ok(Sockets {
            udp,
            tcp,
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
            .filter_map(|loops| loops.first()?.0.local_addr().ok())
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

/// Serves until `shutdown` is cancelled, counting into `metrics`. Each UDP socket gets its
/// receive loop (a thread), and each group of them its [`steering::Steering`] review; each TCP,
/// DNS over TLS and DNS over HTTPS listener its accept task, all sharing one connection limit.
/// On shutdown, TCP
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
    let stopping = Arc::new(AtomicBool::new(false));
    tasks.spawn({
        let (stopping, shutdown) = (stopping.clone(), shutdown.clone());
        async move {
            shutdown.cancelled().await;
            stopping.store(true, Ordering::Relaxed);
        }
    });
    for loops in sockets.udp {
        let steering = loops
            .first()
            .and_then(|(first, _)| steering::Steering::new(first, loops.len()))
            .map(Arc::new);
        if let Some(steering) = &steering {
            let (steering, shutdown) = (steering.clone(), shutdown.clone());
            tasks.spawn(async move { steering.review(shutdown).await });
        }
        for (index, (socket, reply)) in loops.into_iter().enumerate() {
            let receive = udp::LoopSocket {
                socket,
                reply,
                steering: steering.clone().map(|steering| (steering, index)),
            };
            let (snapshot, limiter, stopping) =
                (snapshot.clone(), limiter.clone(), stopping.clone());
            let runtime = runtime.clone();
            let counters = metrics.queries.register(Transport::Udp);
            tasks.spawn_blocking(move || {
                udp::serve(receive, snapshot, limiter, runtime, &counters, &stopping)
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
