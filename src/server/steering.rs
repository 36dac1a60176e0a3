//! Which loop of a listen address's UDP socket group the kernel gives new datagrams to (Linux).
//!
//! Left alone, the kernel spreads datagrams over an `SO_REUSEPORT` group by a hash of the
//! addresses and ports, so every loop gets its share of even a light load and sleeps and wakes
//! for it. Below saturation a query's CPU is mostly those wake-ups, not DNS work: one loop at
//! 25,000 queries/s finds about three queries per wake-up, two loops find half as many each, and
//! two loops cost 5–15% more CPU per query than one (docs/performance.md, "Cores"). So while the
//! load is light the group is *concentrated*: a one-instruction classic BPF program
//! (`SO_ATTACH_REUSEPORT_CBPF`) gives every datagram to the group's first socket, and the other
//! loops sleep. A review every [`REVIEW_EVERY`] reads each loop thread's CPU time (`/proc`, off
//! the query path). When the first loop used more than [`SPREAD_BUSY`] of a core, the group is
//! *spread*: a program that returns an index no socket has, on which the kernel falls back to its
//! hash. After [`STAY_SPREAD`], when all the loops together used less than [`CONCENTRATE_BUSY`]
//! of a core, it is concentrated again: one loop then has room for all of it, and works more
//! cheaply than several.
//!
//! CPU time, not the queue: clients that wait for their answers (a resolver, a load test) never
//! pile up more queries than they keep outstanding, however busy the loop, and a queue that did
//! not empty for a while is as often a loop that was descheduled as one that cannot keep up (a
//! first version spread on full batches, and did so at 25,000 queries/s now and then). A flood
//! beyond one loop waits at most one review, some of it dropped by the full socket buffer, before
//! the group spreads.
//!
//! Nothing here holds a socket: a loop changes the program through its own socket (setting it on
//! any socket of a group sets it for the group), so a loop that ends still closes its socket and
//! the kernel gives its share to the others; the review asks, and the next loop to wake does it
//! (each one wakes at least every 200 ms). Where the program cannot be set (not Linux, a kernel older than 4.5, one loop, no `/proc`),
//! the kernel's hash stays, as before.

use std::net::UdpSocket;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the review reads the loops' CPU time.
const REVIEW_EVERY: Duration = Duration::from_millis(100);
/// The share of a core the first loop may use before the group is spread.
const SPREAD_BUSY: f64 = 0.8;
/// The share of a core all loops together must stay under for the group to be concentrated: well
/// below [`SPREAD_BUSY`], so that a load does not flap between the two.
const CONCENTRATE_BUSY: f64 = 0.4;
/// The shortest time a group stays spread: a load that needed it is not judged light on one
/// quiet window.
const STAY_SPREAD: Duration = Duration::from_secs(2);

/// What the review asks the next loop to wake to do.
const NOTHING: u8 = 0;
const SPREAD: u8 = 1;
const CONCENTRATE: u8 = 2;

/// The steering of one socket group, shared by its loops and the review.
#[derive(Debug)]
pub(super) struct Steering {
    /// Each loop's thread ID (0 until the loop has started), for its CPU time in `/proc`.
    threads: Box<[AtomicU64]>,
    /// [`NOTHING`], [`SPREAD`] or [`CONCENTRATE`]: set by the review, done by a loop.
    requested: AtomicU8,
    /// The group's program as last set; held while it changes and while the review reads it,
    /// never on the query path.
    mode: Mutex<Mode>,
}

/// Whether a group is spread (the kernel's hash) or concentrated, and since when.
#[derive(Debug)]
struct Mode {
    spread: bool,
    since: Instant,
}

impl Steering {
    /// Steering for the group `first` belongs to, its `loops` loops concentrated on the first
    /// socket; `None` (the kernel's hash) for one loop or where the program cannot be set or the
    /// threads' CPU time cannot be read.
    pub(super) fn new(first: &UdpSocket, loops: usize) -> Option<Steering> {
        if loops < 2 {
            return None;
        }
        let steered = thread_id()
            .and_then(thread_runtime)
            .ok_or_else(|| std::io::Error::other("no per-thread CPU time in /proc"))
            .and_then(|_| program::concentrate(first));
        if let Err(e) = steered {
            tracing::debug!("UDP loops stay spread by the kernel's hash: {e}");
            return None;
        }
        Some(Steering {
            threads: (0..loops).map(|_| AtomicU64::new(0)).collect(),
            requested: AtomicU8::new(NOTHING),
            mode: Mutex::new(Mode {
                spread: false,
                since: Instant::now(),
            }),
        })
    }

    /// Called on the thread of the group's loop `index`: the review reads this thread's CPU time.
    pub(super) fn register_thread(&self, index: usize) {
        if let Some(id) = thread_id() {
            self.threads[index].store(id, Ordering::Relaxed);
        }
    }

    /// Does what the review asked, if anything, through `socket`: called by each loop after
    /// every batch and every timed-out wait (one relaxed load when there is nothing to do).
    pub(super) fn apply_request(&self, socket: &UdpSocket) {
        match self.requested.load(Ordering::Relaxed) {
            NOTHING => {}
            SPREAD => self.set(true, socket, "the first loop is using most of a core"),
            _ => self.set(false, socket, "the load is light"),
        }
    }

    /// Sets the group's program through `socket`: spread or concentrated.
    fn set(&self, spread: bool, socket: &UdpSocket, why: &str) {
        let mut mode = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        self.requested.store(NOTHING, Ordering::Relaxed);
        if mode.spread == spread {
            return;
        }
        let result = match spread {
            true => program::spread(socket),
            false => program::concentrate(socket),
        };
        match result {
            Ok(()) => {
                *mode = Mode {
                    spread,
                    since: Instant::now(),
                };
                let how = match spread {
                    true => "spread by the kernel's hash",
                    false => "concentrated on the first",
                };
                tracing::debug!("UDP loops {how}: {why}");
            }
            Err(e) => tracing::warn!("cannot steer the UDP loops: {e}"),
        }
    }

    /// Every [`REVIEW_EVERY`] until `shutdown`: reads the loops' CPU time and asks them to
    /// spread or concentrate the group ([`decide`]).
    pub(super) async fn review(&self, shutdown: tokio_util::sync::CancellationToken) {
        let mut ticks = tokio::time::interval(REVIEW_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = (Instant::now(), self.runtimes());
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let now = (Instant::now(), self.runtimes());
            let wall = now.0.duration_since(last.0).as_nanos().max(1) as f64;
            // A loop not registered at the window's start counts as idle in it (its thread's
            // whole CPU time so far is not the window's).
            let busy: Vec<f64> = (last.1.iter().zip(&now.1))
                .map(|(&before, &after)| match before {
                    0 => 0.0,
                    _ => after.saturating_sub(before) as f64 / wall,
                })
                .collect();
            last = now;
            let (spread, since) = {
                let mode = self.mode.lock().unwrap_or_else(|e| e.into_inner());
                (mode.spread, mode.since)
            };
            match decide(spread, since.elapsed(), &busy) {
                Some(true) => self.requested.store(SPREAD, Ordering::Relaxed),
                Some(false) => self.requested.store(CONCENTRATE, Ordering::Relaxed),
                None => {}
            }
        }
    }

    /// Each loop thread's CPU time so far, in nanoseconds (0 where unknown).
    fn runtimes(&self) -> Vec<u64> {
        self.threads
            .iter()
            .map(|id| match id.load(Ordering::Relaxed) {
                0 => 0,
                id => thread_runtime(id).unwrap_or(0),
            })
            .collect()
    }
}

/// What the review does with the loops' `busy` shares of a core in the last window: `Some(true)`
/// spread, `Some(false)` concentrate, `None` leave it.
fn decide(spread: bool, spread_for: Duration, busy: &[f64]) -> Option<bool> {
    match spread {
        false => (busy.first().copied().unwrap_or(0.0) > SPREAD_BUSY).then_some(true),
        true => (spread_for >= STAY_SPREAD && busy.iter().sum::<f64>() < CONCENTRATE_BUSY)
            .then_some(false),
    }
}

/// The calling thread's ID, from `/proc/thread-self` (Linux 3.17).
fn thread_id() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// Thread `id`'s CPU time so far, in nanoseconds: the first field of its `schedstat`.
fn thread_runtime(id: u64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{id}/schedstat")).ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// The two classic BPF programs and the one `setsockopt` that sets them.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod program {
    use std::io;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    /// `SO_ATTACH_REUSEPORT_CBPF` (Linux 4.5), which the libc crate does not export for Linux:
    /// 51 in asm-generic/socket.h and on every architecture Rust builds for but SPARC's.
    #[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
    const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 0x35;

    /// Every datagram to the group's first socket.
    pub(super) fn concentrate(socket: &UdpSocket) -> io::Result<()> {
        attach(socket, 0)
    }

    /// An index no group has: the kernel falls back to its hash (`reuseport_select_sock`).
    pub(super) fn spread(socket: &UdpSocket) -> io::Result<()> {
        attach(socket, u32::MAX)
    }

    /// Sets the group's program to "return `index`".
    fn attach(socket: &UdpSocket, index: u32) -> io::Result<()> {
        let mut code = [libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: index,
        }];
        let program = libc::sock_fprog {
            len: code.len() as u16,
            filter: code.as_mut_ptr(),
        };
        // SAFETY: `program` points at `code`, both alive for the call; the kernel copies the
        // program and reads nothing else.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_ATTACH_REUSEPORT_CBPF,
                std::ptr::from_ref(&program).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        match result {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod program {
    use std::io;
    use std::net::UdpSocket;

    pub(super) fn concentrate(_: &UdpSocket) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "socket steering is Linux-only",
        ))
    }

    pub(super) fn spread(socket: &UdpSocket) -> io::Result<()> {
        concentrate(socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_loop_near_a_full_core_spreads_a_light_load_concentrates() {
        let long = STAY_SPREAD;
        // Concentrated: only the first loop's share counts.
        assert_eq!(decide(false, long, &[0.85, 0.0]), Some(true));
        assert_eq!(decide(false, long, &[0.6, 0.0]), None);
        // Spread: concentrated again when all of them together are light, not before STAY_SPREAD.
        assert_eq!(decide(true, long, &[0.2, 0.15]), Some(false));
        assert_eq!(decide(true, long / 2, &[0.2, 0.15]), None);
        assert_eq!(decide(true, long, &[0.3, 0.3]), None);
        // An idle server, or loops not started yet.
        assert_eq!(decide(true, long, &[0.0, 0.0]), Some(false));
        assert_eq!(decide(false, long, &[]), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_threads_cpu_time_is_read_and_grows_while_it_works() {
        let id = thread_id().expect("/proc/thread-self");
        let before = thread_runtime(id).expect("schedstat");
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            std::hint::spin_loop();
        }
        let after = thread_runtime(id).unwrap();
        assert!(after >= before + 10_000_000, "{before} -> {after}");
    }

    /// Sends one datagram to `to` from each of `clients` fresh source ports and returns how many
    /// each socket of the group received.
    #[cfg(target_os = "linux")]
    fn deliveries(group: &[UdpSocket], to: std::net::SocketAddr, clients: usize) -> Vec<usize> {
        for _ in 0..clients {
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            client.send_to(b"query", to).unwrap();
        }
        // Loopback delivers within the send; drain each socket (nonblocking) until it is empty.
        std::thread::sleep(Duration::from_millis(20));
        group
            .iter()
            .map(|socket| {
                let mut buffer = [0u8; 16];
                std::iter::from_fn(|| socket.recv_from(&mut buffer).ok()).count()
            })
            .collect()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_concentrated_group_gives_every_datagram_to_its_first_socket_a_spread_one_to_all() {
        let loops = std::num::NonZeroUsize::new(3).unwrap();
        let group = crate::server::bind::group("127.0.0.1:0".parse().unwrap(), loops).unwrap();
        let sockets = &group.udp;
        let to = sockets[0].local_addr().unwrap();
        let steering = Steering::new(&sockets[0], 3).expect("steering on Linux");
        assert_eq!(deliveries(sockets, to, 60), [60, 0, 0]);

        // Nothing asked: nothing changes.
        steering.apply_request(&sockets[1]);
        assert_eq!(deliveries(sockets, to, 60), [60, 0, 0]);

        // Asked by the review, the next loop to wake spreads the group over every socket (60
        // source ports on 3 sockets by the hash: none on one of them has a chance of 3 in 1.5^60).
        steering.requested.store(SPREAD, Ordering::Relaxed);
        steering.apply_request(&sockets[1]);
        let spread = deliveries(sockets, to, 60);
        assert_eq!(spread.iter().sum::<usize>(), 60);
        assert!(spread.iter().all(|&n| n > 0), "{spread:?}");

        // And concentrates it again, through any socket of the group.
        steering.requested.store(CONCENTRATE, Ordering::Relaxed);
        steering.apply_request(&sockets[2]);
        assert_eq!(deliveries(sockets, to, 60), [60, 0, 0]);
    }

    #[test]
    fn one_loop_is_not_steered() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(Steering::new(&socket, 1).is_none());
    }
}
