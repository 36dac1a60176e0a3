//! Which loop of a listen address's UDP socket group the kernel gives new datagrams to (Linux).
//!
//! Left alone, the kernel spreads datagrams over an `SO_REUSEPORT` group by a hash of the
//! addresses and ports, so every loop gets its share of even a light load and sleeps and wakes
//! for it. Below saturation a query's CPU is mostly those wake-ups, not DNS work: one loop at
//! 25,000 queries/s finds about three queries per wake-up, two loops find half as many each, and
//! two loops cost 5–15% more CPU per query than one (docs/performance.md, "Cores"). So while the
//! load is light the group is *concentrated*: a one-instruction classic BPF program
//! (`SO_ATTACH_REUSEPORT_CBPF`) gives every datagram to the group's first socket, and the other
//! loops sleep. A loop whose batches have all been full for [`SPREAD_AFTER`] and at least
//! [`SPREAD_AFTER_BATCHES`] of them (its queue never emptied) has queries arriving faster than it
//! answers them: it *spreads* the group at once, from inside its loop, by a program that returns
//! an index no socket has, on which the kernel falls back to its hash. (A full batch alone says
//! little: a client's burst, or the loop descheduled for a few milliseconds, leaves a backlog, at
//! most what the socket buffer holds, that one loop drains in about a millisecond. The time alone
//! can be fooled by the core being taken away in the middle of such a drain, the count alone by a
//! socket buffer raised far above the default; together they are a load that lasts.) A review
//! every [`REVIEW_EVERY`]
//! concentrates the group again, after [`STAY_SPREAD`], once the loops' batches in a window,
//! added up, stayed small ([`CONCENTRATE_BELOW`]): about what one loop would take per wake-up
//! alone.
//!
//! Nothing here holds a socket: a loop changes the program through its own socket (setting it on
//! any socket of a group sets it for the group), so a loop that ends still closes its socket and
//! the kernel gives its share to the others. Where the program cannot be set (not Linux, a
//! kernel older than 4.5, one loop), the kernel's hash stays, as before.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::datagrams::BATCH;
use crate::observe::counters::{add, get};

/// How often the review looks at the loops' batches.
const REVIEW_EVERY: Duration = Duration::from_millis(250);
/// How long a loop's batches must all have been full for it to spread the group: several times
/// what draining a full default socket buffer (about 200 small datagrams) takes, and short
/// enough that a load one loop cannot keep up with fills no buffer before the others help.
const SPREAD_AFTER: Duration = Duration::from_millis(5);
/// How many full batches in a row, at least, spread the group: 512 queries, more than the default
/// socket buffer holds (about 200 small datagrams). A loop that cannot keep up takes that many in
/// about 2 ms.
const SPREAD_AFTER_BATCHES: u32 = 16;
/// The shortest time a group stays spread: a load that filled a batch is not judged light on one
/// quiet window.
const STAY_SPREAD: Duration = Duration::from_secs(2);
/// A spread group is concentrated when its loops' mean batches, added up, stay below this: a
/// quarter of a full batch, so that the loop taking everything is far from filling one.
const CONCENTRATE_BELOW: f64 = BATCH as f64 / 4.0;

/// The steering of one socket group, shared by its loops and the review.
#[derive(Debug)]
pub(super) struct Steering {
    loops: Box<[LoopLoad]>,
    /// Whether the group is spread (the kernel's hash), as last set.
    spread: AtomicBool,
    /// Set by the review, done by the next loop that wakes: concentrate the group.
    concentrate: AtomicBool,
    /// When the group was last spread; held while the program changes, never on the query path.
    changed: Mutex<Instant>,
}

/// One loop's batches so far, written by that loop only; on a cache line of its own, so that
/// loops never write a line another one writes.
#[derive(Debug, Default)]
#[repr(align(128))]
struct LoopLoad {
    batches: AtomicU64,
    datagrams: AtomicU64,
}

/// One loop's side of its group's steering, owned by the loop.
#[derive(Debug)]
pub(super) struct LoopSteering {
    group: Arc<Steering>,
    index: usize,
    /// Since when every batch has been full, and how many there were; `None` when the last one
    /// was not.
    behind_since: Option<(Instant, u32)>,
}

/// Per loop at one review: batches and datagrams taken so far.
type Totals = Vec<(u64, u64)>;

impl Steering {
    /// Steering for the group `first` belongs to, its `loops` loops concentrated on the first
    /// socket; `None` (the kernel's hash) for one loop or where the program cannot be set.
    pub(super) fn new(first: &UdpSocket, loops: usize) -> Option<Steering> {
        if loops < 2 {
            return None;
        }
        if let Err(e) = program::concentrate(first) {
            tracing::debug!("UDP loops stay spread by the kernel's hash: {e}");
            return None;
        }
        Some(Steering {
            loops: (0..loops).map(|_| LoopLoad::default()).collect(),
            spread: AtomicBool::new(false),
            concentrate: AtomicBool::new(false),
            changed: Mutex::new(Instant::now()),
        })
    }

    /// The steering for the group's loop `index`.
    pub(super) fn for_loop(self: &Arc<Self>, index: usize) -> LoopSteering {
        LoopSteering {
            group: self.clone(),
            index,
            behind_since: None,
        }
    }

    /// Sets the group's program through `socket`: spread or concentrated.
    fn set(&self, spread: bool, socket: &UdpSocket) {
        let mut changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        self.concentrate.store(false, Ordering::Relaxed);
        if self.spread.load(Ordering::Relaxed) == spread {
            return;
        }
        let result = match spread {
            true => program::spread(socket),
            false => program::concentrate(socket),
        };
        match result {
            Ok(()) => {
                self.spread.store(spread, Ordering::Relaxed);
                if spread {
                    *changed = Instant::now();
                }
                tracing::debug!(
                    "UDP loops {}",
                    if spread {
                        "spread by the kernel's hash: a loop is falling behind"
                    } else {
                        "concentrated on the first: the load is light"
                    }
                );
            }
            Err(e) => tracing::warn!("cannot steer the UDP loops: {e}"),
        }
    }

    /// Every [`REVIEW_EVERY`] until `shutdown`: asks the loops to concentrate a spread group
    /// whose load has become light ([`should_concentrate`]).
    pub(super) async fn review(&self, shutdown: tokio_util::sync::CancellationToken) {
        let mut ticks = tokio::time::interval(REVIEW_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = self.totals();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let now = self.totals();
            let spread_for = self
                .changed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed();
            if self.spread.load(Ordering::Relaxed)
                && spread_for >= STAY_SPREAD
                && should_concentrate(&last, &now)
            {
                self.concentrate.store(true, Ordering::Relaxed);
            }
            last = now;
        }
    }

    fn totals(&self) -> Totals {
        self.loops
            .iter()
            .map(|load| (get(&load.batches), get(&load.datagrams)))
            .collect()
    }
}

impl LoopSteering {
    /// The loop took `received` datagrams from `socket`: counts them, spreads the group when
    /// its batches have all been full for [`SPREAD_AFTER`] and [`SPREAD_AFTER_BATCHES`], and
    /// concentrates it when the review asked for that.
    pub(super) fn after_batch(&mut self, received: usize, socket: &UdpSocket) {
        let load = &self.group.loops[self.index];
        add(&load.batches, 1);
        add(&load.datagrams, received as u64);
        if received < BATCH {
            self.behind_since = None;
        } else {
            // A clock read per full batch: only when queries are queueing.
            let (since, full) = self.behind_since.get_or_insert_with(|| (Instant::now(), 0));
            *full += 1;
            if *full >= SPREAD_AFTER_BATCHES
                && since.elapsed() >= SPREAD_AFTER
                && !self.group.spread.load(Ordering::Relaxed)
            {
                self.group.set(true, socket);
            }
        }
        self.after_wait(socket);
    }

    /// The loop woke without datagrams (its wait timed out): does what the review asked, if
    /// anything, so that an idle group is concentrated too.
    pub(super) fn after_wait(&self, socket: &UdpSocket) {
        if self.group.concentrate.load(Ordering::Relaxed) {
            self.group.set(false, socket);
        }
    }
}

/// Whether the window from `before` to `after` was light enough for one loop: the loops' mean
/// batches add up to less than [`CONCENTRATE_BELOW`] (an idle window is light).
fn should_concentrate(before: &Totals, after: &Totals) -> bool {
    let sum_of_means: f64 = before
        .iter()
        .zip(after)
        .filter(|((b0, _), (b1, _))| b1 > b0)
        .map(|((b0, d0), (b1, d1))| (d1 - d0) as f64 / (b1 - b0) as f64)
        .sum();
    sum_of_means < CONCENTRATE_BELOW
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
    fn a_light_or_idle_window_concentrates_a_busy_one_does_not() {
        let start = vec![(100, 300), (100, 300)];
        // Mean batches 2 + 2: light.
        assert!(should_concentrate(&start, &vec![(200, 500), (150, 400)]));
        // Nothing at all: light.
        assert!(should_concentrate(&start, &start));
        // Mean batches 5 + 4 = 9: one loop alone would take about a third of a batch.
        assert!(!should_concentrate(&start, &vec![(200, 800), (200, 700)]));
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
        let steering = Arc::new(Steering::new(&sockets[0], 3).expect("steering on Linux"));
        let (mut second, third) = (steering.for_loop(1), steering.for_loop(2));
        assert_eq!(deliveries(sockets, to, 60), [60, 0, 0]);

        // A loop whose batches were all full for SPREAD_AFTER, SPREAD_AFTER_BATCHES of them or
        // more, spreads the group over every socket (60 source ports on 3 sockets by the hash:
        // none on one of them has a chance of 3 in 1.5^60); full batches for a shorter time, or
        // fewer, or broken by a smaller one, do not.
        let full_batches = |loop_steering: &mut LoopSteering, n| {
            for _ in 0..n {
                loop_steering.after_batch(BATCH, &sockets[1]);
            }
        };
        // Enough full batches, too soon.
        full_batches(&mut second, SPREAD_AFTER_BATCHES);
        assert_eq!(deliveries(sockets, to, 60), [60, 0, 0]);
        // A smaller batch ends the streak; then full batches long enough, but too few.
        second.after_batch(BATCH - 1, &sockets[1]);
        full_batches(&mut second, 1);
        std::thread::sleep(SPREAD_AFTER);
        full_batches(&mut second, SPREAD_AFTER_BATCHES - 2);
        assert_eq!(deliveries(sockets, to, 60), [60, 0, 0]);
        // One more: both.
        full_batches(&mut second, 1);
        let spread = deliveries(sockets, to, 60);
        assert_eq!(spread.iter().sum::<usize>(), 60);
        assert!(spread.iter().all(|&n| n > 0), "{spread:?}");

        // Asked by the review, the next loop to wake concentrates it again.
        steering.concentrate.store(true, Ordering::Relaxed);
        third.after_wait(&sockets[2]);
        assert_eq!(deliveries(sockets, to, 60), [60, 0, 0]);
    }

    #[test]
    fn one_loop_is_not_steered() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(Steering::new(&socket, 1).is_none());
    }
}
