//! Reload benchmark: how long a reload of a 100,000-record zone takes, and how many
//! queries per second the real server answers while reloads run back to back, against the same
//! without reloads. Run with `cargo bench --bench reload`.
//!
//! Everything runs in this process and on loopback: the zone and a two-view config are generated
//! into a temporary directory, the server is the real one (`server::run` on `127.0.0.1:0`, UDP
//! receive loops and all) publishing an `ArcSwap<Published>`, and the load comes from a closed-loop
//! UDP generator (a fixed number of queries outstanding per thread, each answer releasing the next
//! query) over a fixed mix of names and both views. Each phase is bounded in time.

use std::fs;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio_util::sync::CancellationToken;

use splitdns::server::{self, Listeners, TcpLimits};

/// Records in the generated shared zone, SOA and NS included.
const RECORDS: usize = 100_000;
/// Names the internal view overrides (all address names in the shared zone).
const OVERRIDDEN: [usize; 10] = [0, 1, 2, 3, 4, 5, 6, 10, 11, 12];
const RELOAD_SAMPLES: usize = 5;
const LOAD_THREADS: usize = 2;
const OUTSTANDING: usize = 32;
const RUN: Duration = Duration::from_secs(5);
/// A generator thread that hears nothing for this long re-sends its window (lost datagrams).
const STALL: Duration = Duration::from_millis(200);

fn main() {
    let dir = std::env::temp_dir().join(format!("splitdns-bench-reload-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the benchmark directory");
    let result = std::panic::catch_unwind(|| run(&dir));
    let _ = fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn run(dir: &Path) {
    let config = generate(dir);

    let started = Instant::now();
    let loaded =
        splitdns::load(&config).unwrap_or_else(|e| panic!("load: {}", e.lines().join("; ")));
    let initial = started.elapsed();
    let records: usize = loaded.snapshot.views[0]
        .zones
        .iter()
        .map(|z| z.record_count)
        .sum();

    let mut samples: Vec<Duration> = (0..RELOAD_SAMPLES)
        .map(|_| {
            let started = Instant::now();
            let again = splitdns::reload(&config, Some(&loaded.snapshot)).expect("reload");
            let took = started.elapsed();
            drop(again);
            took
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];

    let metrics = Arc::new(splitdns::Metrics::default());
    let (_, published) = loaded.into_published(&metrics.queries);
    let shared = Arc::new(ArcSwap::from_pointee(published));
    let listeners = Listeners::bind(&["127.0.0.1:0".parse().unwrap()], server::loops_per_core())
        .expect("bind 127.0.0.1:0");
    let addr = listeners.local_addrs()[0];
    let shutdown = CancellationToken::new();
    let server = {
        let (shared, shutdown, metrics) = (shared.clone(), shutdown.clone(), metrics.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let sockets = runtime
                .block_on(async { listeners.open() })
                .expect("open the listeners");
            runtime.block_on(server::run(
                sockets,
                shared,
                TcpLimits::default(),
                metrics,
                shutdown,
            ));
        })
    };

    let names = query_names();
    // Warm-up, so that the first run does not pay for page faults and socket set-up.
    let _ = generate_load(addr, &names, Duration::from_millis(500));
    let idle = generate_load(addr, &names, RUN);

    let stop = Arc::new(AtomicBool::new(false));
    let reloads = Arc::new(AtomicU64::new(0));
    let reloader = {
        let (stop, reloads, shared, config, metrics) = (
            stop.clone(),
            reloads.clone(),
            shared.clone(),
            config.clone(),
            metrics.clone(),
        );
        std::thread::spawn(move || {
            let mut total = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let previous = shared.load_full();
                let loaded = splitdns::reload(&config, Some(&previous.snapshot)).expect("reload");
                shared.store(Arc::new(loaded.into_published(&metrics.queries).1));
                total += started.elapsed();
                reloads.fetch_add(1, Ordering::Relaxed);
            }
            total
        })
    };
    let busy = generate_load(addr, &names, RUN);
    stop.store(true, Ordering::Relaxed);
    let reload_time = reloader.join().expect("the reload thread");
    let reloads = reloads.load(Ordering::Relaxed);

    shutdown.cancel();
    server.join().expect("the server thread");

    println!();
    println!(
        "splitdns reload benchmark ({} cores; zone of {records} records, 2 views, small override)",
        cores()
    );
    println!();
    println!("  {:<38} {:>10}", "initial load", ms(initial));
    println!(
        "  {:<38} {:>10}   (min {}, max {})",
        format!("reload transaction, median of {RELOAD_SAMPLES}"),
        ms(median),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
    println!();
    println!(
        "  {:<24} {:>10} {:>8} {:>12} {:>9}",
        format!("{LOAD_THREADS}x{OUTSTANDING} outstanding, UDP"),
        "answered",
        "lost",
        "queries/s",
        "reloads"
    );
    println!(
        "  {:<24} {:>10} {:>8} {:>12.0} {:>9}",
        "no reloads",
        idle.answered,
        idle.lost,
        idle.qps(),
        0
    );
    println!(
        "  {:<24} {:>10} {:>8} {:>12.0} {:>9}",
        "reloading continuously",
        busy.answered,
        busy.lost,
        busy.qps(),
        reloads
    );
    println!();
    println!(
        "  throughput while reloading / without: {:.2}",
        busy.qps() / idle.qps()
    );
    if reloads > 0 {
        println!(
            "  reloads during the run: {reloads}, mean {} each (while serving)",
            ms(reload_time / u32::try_from(reloads).unwrap_or(u32::MAX))
        );
    }
    println!();
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Writes the zone, a small internal override and the config; returns the config's path.
fn generate(dir: &Path) -> PathBuf {
    use std::fmt::Write;
    let mut zone = String::with_capacity(RECORDS * 32);
    zone.push_str("$ORIGIN bench.example.\n$TTL 3600\n");
    zone.push_str("@ SOA ns1 hostmaster ( 1 3600 900 1209600 300 )\n  NS ns1\n  NS ns2\n");
    zone.push_str("ns1 A 192.0.2.1\nns2 A 192.0.2.2\n");
    let mut written = 5;
    let mut i = 0usize;
    while written < RECORDS {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        match i % 10 {
            // A mix of types, as in a real zone: mostly addresses, some IPv6, text and aliases.
            0..=6 => writeln!(zone, "h{i} A 10.{}.{a}.{b}", (i >> 16) & 0xff).unwrap(),
            7 => writeln!(zone, "h{i} AAAA 2001:db8::{a:x}:{b:x}").unwrap(),
            8 => writeln!(zone, "h{i} TXT \"record {i}\"").unwrap(),
            _ => writeln!(zone, "h{i} CNAME h{}", i - 1).unwrap(),
        }
        written += 1;
        i += 1;
    }
    fs::write(dir.join("bench.example.zone"), zone).expect("write the zone");

    let mut overrides = String::from("$ORIGIN bench.example.\n$TTL 300\n");
    for i in OVERRIDDEN {
        writeln!(overrides, "h{i} A 172.16.0.{}", i + 1).unwrap();
    }
    fs::write(dir.join("bench.example.internal.zone"), overrides).expect("write the override");

    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        r#"listen = ["127.0.0.1:5353"]

[[view]]
name = "internal"
clients = ["127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0"]

[[zone]]
origin = "bench.example"
file = "bench.example.zone"
[zone.views]
internal = "bench.example.internal.zone"
"#,
    )
    .expect("write the config");
    config
}

/// A fixed mix: hits across the zone (A, AAAA, TXT, CNAME), overridden names, the apex SOA and
/// NS, and names that do not exist.
fn query_names() -> Vec<Vec<u8>> {
    let mut queries = Vec::new();
    let mut add = |name: String, rtype: RecordType| {
        let mut message = Message::query();
        message.add_query(Query::query(Name::from_ascii(&name).unwrap(), rtype));
        queries.push(message.to_vec().unwrap());
    };
    for k in 0..200usize {
        let i = (k * 7919) % (RECORDS - 10);
        let rtype = match i % 10 {
            7 => RecordType::AAAA,
            8 => RecordType::TXT,
            _ => RecordType::A,
        };
        add(format!("h{i}.bench.example."), rtype);
        if k % 4 == 0 {
            add(format!("missing{k}.bench.example."), RecordType::A);
        }
        if k % 10 == 0 {
            add(
                format!("h{}.bench.example.", OVERRIDDEN[k / 10 % OVERRIDDEN.len()]),
                RecordType::A,
            );
        }
    }
    add("bench.example.".into(), RecordType::SOA);
    add("bench.example.".into(), RecordType::NS);
    queries
}

struct Load {
    answered: u64,
    lost: u64,
    elapsed: Duration,
}

impl Load {
    fn qps(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }
}

/// Closed loop: each thread keeps [`OUTSTANDING`] queries in flight from its own source address
/// (alternating views) and sends a new one for every answer, for `duration`.
fn generate_load(server: SocketAddr, names: &[Vec<u8>], duration: Duration) -> Load {
    let started = Instant::now();
    let deadline = started + duration;
    let threads: Vec<_> = (0..LOAD_THREADS)
        .map(|t| {
            let names = names.to_vec();
            std::thread::spawn(move || {
                let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (t % 2) as u8));
                let socket = UdpSocket::bind((source, 0)).expect("bind the generator socket");
                socket.connect(server).expect("connect");
                socket.set_read_timeout(Some(STALL)).expect("timeout");
                let (mut answered, mut lost, mut next, mut in_flight) =
                    (0u64, 0u64, t * 97, 0usize);
                let mut id = 0u16;
                let mut send = |next: &mut usize| {
                    let mut packet = names[*next % names.len()].clone();
                    *next += 1;
                    id = id.wrapping_add(1);
                    packet[..2].copy_from_slice(&id.to_be_bytes());
                    socket.send(&packet).is_ok()
                };
                let mut buffer = [0u8; 4096];
                while Instant::now() < deadline {
                    while in_flight < OUTSTANDING {
                        if send(&mut next) {
                            in_flight += 1;
                        } else {
                            break;
                        }
                    }
                    match socket.recv(&mut buffer) {
                        Ok(_) => {
                            answered += 1;
                            in_flight -= 1;
                        }
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            lost += in_flight as u64;
                            in_flight = 0;
                        }
                        Err(e) => panic!("receive: {e}"),
                    }
                }
                // Answers still in flight at the deadline are not counted.
                (answered, lost)
            })
        })
        .collect();
    let (answered, lost) = threads
        .into_iter()
        .map(|t| t.join().expect("a generator thread"))
        .fold((0, 0), |(a, l), (ta, tl)| (a + ta, l + tl));
    Load {
        answered,
        lost,
        elapsed: started.elapsed(),
    }
}
