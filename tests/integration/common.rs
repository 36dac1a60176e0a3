//! The harness: starts the real server on an ephemeral loopback port — in-process ([`Server`]) or
//! as the `splitdns serve` binary ([`Daemon`]) — and talks to it over real UDP and TCP sockets
//! bound to chosen loopback source addresses (the source is what selects the view). No test
//! binds a fixed port: each server gets a free one, and each test's files go in its own
//! [`scratch_dir`]. Queries are built and answers decoded with hickory-proto, independently of
//! our own wire code, and answers are compared as text so that a failing scenario prints what the
//! server actually said.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;

use splitdns::server::{self, Listeners, TcpLimits};

/// A source the fixtures put in the internal view (`127.0.0.2/32`).
pub const INTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// A source that only the catch-all `0.0.0.0/0` covers: the external view.
pub const EXTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// A source that `no_default_view` leaves outside every view.
pub const NO_VIEW: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));

/// How long any read from the server may take before the test fails instead of hanging.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A fixture directory under `tests/fixtures/`.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The config file of a fixture directory under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    fixture_dir(name).join("splitdns.toml")
}

/// A port free for both UDP and TCP on 127.0.0.1 (from the ephemeral range: never 53), for a
/// program the test starts as a process.
pub fn free_port() -> u16 {
    free_port_on(&[IpAddr::V4(Ipv4Addr::LOCALHOST)])
}

/// A port free for UDP and TCP on each of `ips` (checked one after the other: a server given
/// them all binds each), from the ephemeral range of the first.
pub fn free_port_on(ips: &[IpAddr]) -> u16 {
    'pick: for _ in 0..50 {
        let port = UdpSocket::bind((ips[0], 0))
            .and_then(|s| s.local_addr())
            .expect("bind a UDP socket")
            .port();
        for &ip in ips {
            if UdpSocket::bind((ip, port)).is_err() || TcpListener::bind((ip, port)).is_err() {
                continue 'pick;
            }
        }
        return port;
    }
    panic!("no port free for UDP and TCP on all of {ips:?}");
}

/// Where Debian puts the daemons (not always on a test runner's PATH).
const SBIN: &[&str] = &["/usr/sbin", "/usr/local/sbin"];

/// A program the tests run (a reference server, a secondary, an upstream), from the sbin
/// directories or the PATH; `None` when it is not installed.
pub fn find_program(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    SBIN.iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// The scratch directory of one test, emptied first: `<target>/tmp/integration/<name>` (under
/// Cargo's target dir, never /tmp, and kept after the test for a look at its files and logs).
/// Every test's directory has its own name: a name asked for twice in one run panics, since two
/// tests sharing a directory would empty and overwrite each other's files.
pub fn scratch_dir(name: &str) -> PathBuf {
    static TAKEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let fresh = TAKEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(name.to_string());
    assert!(fresh, "scratch directory {name:?} asked for twice");
    let dir = scratch_root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Where the scratch directories are.
fn scratch_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("integration")
}

/// [`scratch_dir`] with a copy of the files of `source` (not its subdirectories): a fixture or
/// the bundled example the test may edit.
pub fn scratch_copy(name: &str, source: &Path) -> PathBuf {
    let dir = scratch_dir(name);
    let entries =
        std::fs::read_dir(source).unwrap_or_else(|e| panic!("read {}: {e}", source.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap()))
                .unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        }
    }
    dir
}

/// The bundled example's directory (`zones/`): its config `splitdns.toml` listens on fixed ports
/// (5353, and 9153 for `[control]`), which `cargo run --release` serves; a test that runs it as a
/// process copies it ([`scratch_copy`]) and starts it with [`DaemonBuilder::control`].
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones")
}

/// The bundled example's config, for tests that load it or run `check` on it (no socket).
pub fn example_config() -> PathBuf {
    example_dir().join("splitdns.toml")
}

/// The real server, loaded from a config and serving on `127.0.0.1:<ephemeral>` (UDP and TCP)
/// from its own thread and runtime. Dropping it cancels the server and waits for it to stop.
pub struct Server {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves the fixture `tests/fixtures/<name>/splitdns.toml`.
    pub fn start(name: &str) -> Server {
        Server::with_config(&fixture(name))
    }

    /// A server running elsewhere (a child process) at `addr`; dropping this does nothing to it.
    pub fn remote(addr: SocketAddr) -> Server {
        Server {
            addr,
            shutdown: CancellationToken::new(),
            thread: None,
        }
    }

    pub fn with_config(config: &Path) -> Server {
        Server::with_listeners(config, loopback_listeners(LOOPS))
    }

    /// [`Server::with_config`] on sockets already bound (so that a config can name the port).
    pub fn with_listeners(config: &Path, listeners: Listeners) -> Server {
        let loaded = splitdns::load(config).unwrap_or_else(|e| {
            panic!(
                "{} does not load:\n{}",
                config.display(),
                e.lines().join("\n")
            )
        });
        Server::serve(loaded, listeners)
    }

    /// Serves what a load (or a reload against an earlier load) produced.
    pub fn with_loaded(loaded: splitdns::Loaded) -> Server {
        Server::serve(loaded, loopback_listeners(LOOPS))
    }

    fn serve(loaded: splitdns::Loaded, listeners: Listeners) -> Server {
        let addr = listeners.local_addrs()[0];
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let metrics = Arc::new(splitdns::Metrics::default());
        let (_config, published) = loaded.into_published(&metrics.queries);
        let state = Arc::new(ArcSwap::from_pointee(published));
        let thread = std::thread::Builder::new()
            .name(format!("splitdns-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                let sockets = runtime
                    .block_on(async { listeners.open() })
                    .expect("open the listeners");
                runtime.block_on(server::run(
                    sockets,
                    state,
                    TcpLimits::default(),
                    metrics,
                    token,
                ));
            })
            .expect("spawn server thread");
        Server {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }
}

/// Receive loops of an in-process server: more than one, so that every test goes through a
/// socket group, whatever the machine's cores.
pub const LOOPS: NonZeroUsize = NonZeroUsize::new(2).unwrap();

/// `loops` sockets of each protocol on one free port of 127.0.0.1.
pub fn loopback_listeners(loops: NonZeroUsize) -> Listeners {
    Listeners::bind(&["127.0.0.1:0".parse().unwrap()], loops).expect("bind 127.0.0.1:0")
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread is reported by the test that caused it, unless this
            // drop runs while that test is already unwinding.
            if thread.join().is_err() && !std::thread::panicking() {
                panic!("the server thread panicked");
            }
        }
    }
}

/// The `splitdns` binary Cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_splitdns");

/// The binary for a one-shot command (`check`, `explain`, `diff`, `status`, …), with `NO_COLOR`
/// set; to run `serve`, use [`Daemon`].
pub fn splitdns() -> Command {
    let mut command = Command::new(BINARY);
    command.env("NO_COLOR", "1");
    command
}

/// How long a daemon may take to start answering: generous, because the machine may be busy
/// building something else.
pub const STARTUP: Duration = Duration::from_secs(20);

/// How long a daemon that must refuse to start may take to exit.
pub const REFUSAL: Duration = Duration::from_secs(10);

/// How many times [`DaemonBuilder::start`] picks fresh ports when another process took one
/// between the pick and the daemon's bind.
const START_ATTEMPTS: u32 = 4;

/// `splitdns serve` as a child process: the one way the tests run the real binary as a daemon.
/// It listens on a free loopback port (never a fixed one: a developer's `cargo run --release`
/// holds the bundled example's 5353 and 9153), logs (stderr, `RUST_LOG=info`) to a file, and is
/// killed on drop, its log printed if the test failed.
///
/// ```ignore
/// let daemon = Daemon::serve(&config).control().env("KEY", "value").start();
/// ask(&daemon.server(), INTERNAL, Via::Udp, "mail.contoso.example.", RecordType::A);
/// ```
pub struct Daemon {
    pub child: Child,
    /// Where it answers DNS: the first listen address (127.0.0.1 or ::1 for a wildcard).
    pub dns: SocketAddr,
    control: Option<SocketAddr>,
    config: PathBuf,
    pub log: PathBuf,
}

/// What to start: see [`Daemon::serve`].
pub struct DaemonBuilder {
    config: PathBuf,
    ips: Vec<IpAddr>,
    ephemeral: bool,
    /// A port the test chose: see [`DaemonBuilder::port`].
    port: Option<u16>,
    control: bool,
    /// A control address the test chose (one it holds itself): see [`DaemonBuilder::control_at`].
    control_at: Option<SocketAddr>,
    env: Vec<(String, Option<String>)>,
    log: Option<PathBuf>,
}

impl Daemon {
    /// `splitdns serve --config <config> --listen 127.0.0.1:<free port>`; the builder's methods
    /// change that, [`DaemonBuilder::start`] starts it.
    pub fn serve(config: impl AsRef<Path>) -> DaemonBuilder {
        DaemonBuilder {
            config: config.as_ref().to_path_buf(),
            ips: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            ephemeral: false,
            port: None,
            control: false,
            control_at: None,
            env: vec![
                ("RUST_LOG".into(), Some("info".into())),
                ("NO_COLOR".into(), Some("1".into())),
                // The test runner's own service manager must not hear from the daemon.
                ("NOTIFY_SOCKET".into(), None),
                ("WATCHDOG_USEC".into(), None),
            ],
            log: None,
        }
    }

    /// The DNS address as the query helpers take it ([`ask`], [`udp_socket`], …).
    pub fn server(&self) -> Server {
        Server::remote(self.dns)
    }

    pub fn port(&self) -> u16 {
        self.dns.port()
    }

    /// The control listener's address; only with [`DaemonBuilder::control`].
    pub fn control(&self) -> SocketAddr {
        self.control
            .expect("no control listener: start the daemon with .control()")
    }

    /// The config it serves.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The directory of its config.
    pub fn dir(&self) -> &Path {
        self.config.parent().expect("the config's directory")
    }

    /// A file next to the config.
    pub fn path(&self, file: &str) -> PathBuf {
        self.config.with_file_name(file)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 10 s) until the log has a line containing every one of `needles`, and
    /// returns it.
    pub fn wait_log(&self, needles: &[&str]) -> String {
        let wait = Duration::from_secs(10);
        let deadline = Instant::now() + wait;
        loop {
            let text = self.log_text();
            if let Some(line) = text
                .lines()
                .find(|line| needles.iter().all(|n| line.contains(n)))
            {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needles:?} within {wait:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends it a signal (`"HUP"`, `"TERM"`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Fails the test if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("poll splitdns") {
            panic!("splitdns exited ({status}):\n{}", self.log_text());
        }
    }

    /// Whether one SOA query from `from` is answered (any response) within `wait`.
    pub fn answers_within(&self, from: IpAddr, wait: Duration) -> bool {
        answers_within(self.dns, from, "contoso.example.", wait)
    }
}

/// The source of the start-up probe: 127.0.0.2 (internal in the fixtures), or ::1.
fn probe_source(server: SocketAddr) -> IpAddr {
    match server {
        SocketAddr::V4(_) => INTERNAL,
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// One UDP query (`name` SOA from `from` to `server`); true once any response comes. The socket
/// is connected, so a port nobody has bound yet fails at once (ICMP port unreachable) instead
/// of after `wait`: a start-up is seen as soon as it happens.
fn answers_within(server: SocketAddr, from: IpAddr, name: &str, wait: Duration) -> bool {
    let Ok(socket) = UdpSocket::bind(SocketAddr::new(from, 0)) else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(wait));
    let bytes = query(name, RecordType::SOA).to_vec().expect("encode");
    if socket.connect(server).is_err() || socket.send(&bytes).is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    socket.recv(&mut buf).is_ok()
}

impl DaemonBuilder {
    /// Listens on each of `ips` at one port free on all of them (default: 127.0.0.1 alone).
    pub fn listen(mut self, ips: &[IpAddr]) -> DaemonBuilder {
        self.ips = ips.to_vec();
        self
    }

    /// Listens on port 0 (of the one address given to [`listen`](Self::listen), 127.0.0.1 by
    /// default) and learns the port from the log's `serving on ADDR` line: what an admin does
    /// with `--listen 127.0.0.1:0`.
    pub fn ephemeral(mut self) -> DaemonBuilder {
        self.ephemeral = true;
        self
    }

    /// Listens on `port`, which the test chose (one another server holds, to see the start
    /// refused), instead of a free one.
    pub fn port(mut self, port: u16) -> DaemonBuilder {
        self.port = Some(port);
        self
    }

    /// Gives the config's `[control] listen` a free loopback port (adding the section if the
    /// config has none), picked afresh on each attempt, and waits for it to accept too. The
    /// config is rewritten in place, so it must be in a scratch directory: copy a shared one
    /// ([`scratch_copy`]) first.
    pub fn control(mut self) -> DaemonBuilder {
        self.control = true;
        self
    }

    /// Sets the config's `[control] listen` to `addr`, which the test picked (and may hold, to see
    /// the start refused): no free port is picked, and nothing waits for it to accept.
    pub fn control_at(mut self, addr: SocketAddr) -> DaemonBuilder {
        self.control_at = Some(addr);
        self
    }

    /// Sets an environment variable of the daemon.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> DaemonBuilder {
        let value = value.as_ref().to_string_lossy().into_owned();
        self.env.push((key.into(), Some(value)));
        self
    }

    /// Where its stderr goes (default: `splitdns.log` next to the config when that is in a
    /// scratch directory; a config elsewhere, such as a fixture, needs this).
    pub fn log(mut self, path: impl AsRef<Path>) -> DaemonBuilder {
        self.log = Some(path.as_ref().to_path_buf());
        self
    }

    /// Starts it and returns once it answers the probe (and its control listener, with
    /// [`control`](Self::control), accepts). When it exits because a port was taken since the
    /// pick, picks again; any other exit at start-up fails the test with its log.
    pub fn start(self) -> Daemon {
        for attempt in 1..=START_ATTEMPTS {
            let mut daemon = self.spawn_once();
            match daemon.wait_ready() {
                Ok(()) => return daemon,
                Err(status) => {
                    let log = daemon.log_text();
                    let taken =
                        log.contains("cannot bind") && log.contains("Address already in use");
                    assert!(
                        taken && attempt < START_ATTEMPTS,
                        "splitdns exited at start-up ({status}):\n{log}"
                    );
                }
            }
        }
        unreachable!("the last attempt returns or fails")
    }

    /// Starts it and returns at once, without waiting for it to answer: for a test that judges
    /// the start-up itself (sd_notify's READY=1). No retry: a taken port fails the test.
    pub fn spawn(self) -> Daemon {
        self.spawn_once()
    }

    /// Starts it on data it must refuse: waits (at most [`REFUSAL`]) for it to exit, failing the
    /// test if it keeps running, and returns the exit status and the log.
    pub fn start_fails(self) -> (ExitStatus, String) {
        let mut daemon = self.spawn_once();
        let deadline = Instant::now() + REFUSAL;
        let status = loop {
            if let Some(status) = daemon.child.try_wait().expect("poll splitdns") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "splitdns still running after {REFUSAL:?}, expected it to refuse to start:\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, daemon.log_text())
    }

    fn spawn_once(&self) -> Daemon {
        let port = match (self.ephemeral, self.port) {
            (true, _) => 0,
            (false, Some(port)) => port,
            (false, None) => free_port_on(&self.ips),
        };
        let in_scratch = self.config.starts_with(scratch_root());
        if let Some(addr) = self.control_at {
            assert!(
                in_scratch,
                "{}: .control_at() rewrites the config; copy it into a scratch directory first",
                self.config.display()
            );
            set_control_listen(&self.config, addr);
        }
        let control = self.control.then(|| {
            assert!(
                in_scratch,
                "{}: .control() rewrites the config; copy it into a scratch directory first",
                self.config.display()
            );
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
            set_control_listen(&self.config, addr);
            addr
        });
        if !self.control && self.control_at.is_none() {
            assert_no_fixed_control_port(&self.config);
        }
        let log = self.log.clone().unwrap_or_else(|| {
            assert!(
                in_scratch,
                "{}: not in a scratch directory; give the daemon's log a place with .log()",
                self.config.display()
            );
            self.config.with_file_name("splitdns.log")
        });
        let mut command = Command::new(BINARY);
        command.arg("serve").arg("--config").arg(&self.config);
        for ip in &self.ips {
            command
                .arg("--listen")
                .arg(SocketAddr::new(*ip, port).to_string());
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start splitdns");
        let ip = match self.ips[0] {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Daemon {
            child,
            dns: SocketAddr::new(ip, port),
            control,
            config: self.config.clone(),
            log,
        }
    }
}

impl Daemon {
    /// Waits until it answers (`contoso.example.` SOA over UDP from 127.0.0.2, or ::1 for an IPv6
    /// address: any response) and the control listener (if any) accepts; the exit status if the
    /// process exits first. On port 0, first learns the port from the log.
    fn wait_ready(&mut self) -> Result<(), ExitStatus> {
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll splitdns") {
                return Err(status);
            }
            if self.dns.port() == 0 {
                if let Some(bound) = self.bound_from_log() {
                    self.dns = bound;
                }
            } else if self.answers_within(probe_source(self.dns), Duration::from_millis(200))
                && self
                    .control
                    .is_none_or(|addr| TcpStream::connect(addr).is_ok())
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_ne!(
            self.dns.port(),
            0,
            "no 'serving on ADDR' log line within {STARTUP:?}:\n{}",
            self.log_text()
        );
        panic!(
            "splitdns did not answer on {} within {STARTUP:?}:\n{}",
            self.dns,
            self.log_text()
        );
    }

    /// The first address of the log's `serving on ADDR, … (udp+tcp)` line.
    fn bound_from_log(&self) -> Option<SocketAddr> {
        let log = self.log_text();
        let rest = log
            .lines()
            .find_map(|line| line.split("serving on ").nth(1))?;
        rest.split([' ', ',']).next()?.parse().ok()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- splitdns log ({}) ---\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// Fails the test if the config names a control port other than 0 and the daemon would bind it:
/// `--listen` overrides the config's `listen`, but nothing overrides `[control] listen`. (A config
/// that is not TOML is one the daemon is meant to refuse; it binds nothing.)
fn assert_no_fixed_control_port(config: &Path) {
    let Ok(text) = std::fs::read_to_string(config) else {
        return;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return;
    };
    let listen = table
        .get("control")
        .and_then(|control| control.get("listen"))
        .and_then(|listen| listen.as_str())
        .and_then(|listen| listen.parse::<SocketAddr>().ok());
    if let Some(addr) = listen.filter(|addr| addr.port() != 0) {
        panic!(
            "{}: [control] listen = \"{addr}\" is a fixed port (a running server may hold it): \
             start the daemon with .control()",
            config.display()
        );
    }
}

/// Sets `[control] listen` in the config file to `addr`: the `listen` line of that section is
/// replaced, or the section added at the end.
fn set_control_listen(config: &Path, addr: SocketAddr) {
    let text = std::fs::read_to_string(config)
        .unwrap_or_else(|e| panic!("read {}: {e}", config.display()));
    let line = format!("listen = \"{addr}\"");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let section = lines.iter().position(|l| l.trim() == "[control]");
    let listen = section.and_then(|at| {
        lines[at + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('['))
            .position(|l| l.trim_start().starts_with("listen"))
            .map(|i| at + 1 + i)
    });
    match (section, listen) {
        (_, Some(at)) => lines[at] = line,
        (Some(at), None) => lines.insert(at + 1, line),
        (None, None) => lines.extend(["".into(), "[control]".into(), line]),
    }
    std::fs::write(config, lines.join("\n") + "\n")
        .unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
}

/// The transport a query goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Udp,
    Tcp,
}

pub const BOTH: [Via; 2] = [Via::Udp, Via::Tcp];

/// A standard query with RD set, as `dig` sends it.
pub fn query(name: &str, rtype: RecordType) -> Message {
    let name = Name::from_ascii(name).unwrap_or_else(|e| panic!("bad test name {name:?}: {e}"));
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name, rtype));
    message
}

/// The same query with an OPT record: EDNS version 0, this payload size and DO bit.
pub fn with_edns(mut message: Message, payload: u16, dnssec_ok: bool) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    edns.set_dnssec_ok(dnssec_ok);
    edns.set_version(0);
    message.set_edns(edns);
    message
}

/// A UDP socket bound to `from` and connected to the server, with read and write timeouts.
pub fn udp_socket(server: &Server, from: IpAddr) -> UdpSocket {
    let socket = UdpSocket::bind(SocketAddr::new(from, 0))
        .unwrap_or_else(|e| panic!("bind UDP {from}: {e}"));
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.set_write_timeout(Some(TIMEOUT)).unwrap();
    socket.connect(server.addr).unwrap();
    socket
}

/// A TCP connection from `from` to the server (std cannot bind before connecting; socket2 can).
pub fn tcp_connect(server: &Server, from: IpAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .unwrap_or_else(|e| panic!("bind TCP {from}: {e}"));
    socket
        .connect_timeout(&server.addr.into(), TIMEOUT)
        .expect("TCP connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// One message with its two-octet length prefix (RFC 1035 §4.2.2).
pub fn framed(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Reads one length-prefixed message.
pub fn read_framed(stream: &mut TcpStream) -> Vec<u8> {
    let mut length = [0u8; 2];
    stream
        .read_exact(&mut length)
        .expect("read a TCP length prefix");
    let mut message = vec![0u8; u16::from_be_bytes(length) as usize];
    stream.read_exact(&mut message).expect("read a TCP message");
    message
}

/// Sends raw bytes over UDP from `from` and returns the raw reply.
pub fn udp_raw(server: &Server, from: IpAddr, bytes: &[u8]) -> Vec<u8> {
    let socket = udp_socket(server, from);
    socket.send(bytes).expect("UDP send");
    let mut buf = vec![0u8; 65535];
    let len = socket.recv(&mut buf).expect("UDP reply within the timeout");
    buf.truncate(len);
    buf
}

/// Sends raw bytes over a fresh TCP connection from `from` and returns the raw reply.
pub fn tcp_raw(server: &Server, from: IpAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = tcp_connect(server, from);
    stream.write_all(&framed(bytes)).expect("TCP write");
    read_framed(&mut stream)
}

/// A decoded response and its size on the wire.
#[derive(Debug)]
pub struct Reply {
    pub message: Message,
    pub size: usize,
}

impl Reply {
    pub fn rcode(&self) -> ResponseCode {
        self.message.metadata.response_code
    }

    pub fn aa(&self) -> bool {
        self.message.metadata.authoritative
    }

    pub fn tc(&self) -> bool {
        self.message.metadata.truncation
    }

    pub fn answer(&self) -> Vec<String> {
        self.message.answers.iter().map(render).collect()
    }

    pub fn authority(&self) -> Vec<String> {
        self.message.authorities.iter().map(render).collect()
    }

    /// The additional section without the OPT record (hickory keeps that apart as `edns`).
    pub fn additional(&self) -> Vec<String> {
        self.message.additionals.iter().map(render).collect()
    }

    /// Everything, for failure messages.
    pub fn dump(&self) -> String {
        let m = &self.message.metadata;
        let mut text = format!(
            "rcode {:?} aa {} tc {} rd {} ra {} size {}\n",
            m.response_code,
            m.authoritative,
            m.truncation,
            m.recursion_desired,
            m.recursion_available,
            self.size
        );
        for (section, records) in [
            ("answer", self.answer()),
            ("authority", self.authority()),
            ("additional", self.additional()),
        ] {
            for record in records {
                text.push_str(&format!("  {section}: {record}\n"));
            }
        }
        if let Some(edns) = &self.message.edns {
            text.push_str(&format!(
                "  opt: version {} payload {} do {}\n",
                edns.version(),
                edns.max_payload(),
                edns.flags().dnssec_ok
            ));
        }
        text
    }
}

/// Decodes a reply to `query` and checks what every response to it must satisfy: same ID and
/// opcode, QR set, RA clear (we never recurse), RD echoed, the question echoed byte for byte
/// (case included), and class IN on every record.
pub fn decode_reply(query: &Message, bytes: &[u8]) -> Reply {
    let message = Message::from_vec(bytes)
        .unwrap_or_else(|e| panic!("undecodable response ({e}): {bytes:02x?}"));
    let reply = Reply {
        message,
        size: bytes.len(),
    };
    let (m, q) = (&reply.message.metadata, &query.metadata);
    let context = || format!("response to {:?}:\n{}", query.queries, reply.dump());
    assert_eq!(m.id, q.id, "ID not echoed; {}", context());
    assert_eq!(
        m.message_type,
        MessageType::Response,
        "QR clear; {}",
        context()
    );
    assert_eq!(m.op_code, OpCode::Query, "opcode; {}", context());
    assert!(
        !m.recursion_available,
        "RA set by an authoritative-only server; {}",
        context()
    );
    assert_eq!(
        m.recursion_desired,
        q.recursion_desired,
        "RD not echoed; {}",
        context()
    );
    assert_eq!(
        reply.message.queries.len(),
        1,
        "question not echoed; {}",
        context()
    );
    let (asked, echoed) = (&query.queries[0], &reply.message.queries[0]);
    assert_eq!(
        echoed.name().to_string(),
        asked.name().to_string(),
        "question name (case) not echoed"
    );
    assert_eq!(
        echoed.query_type(),
        asked.query_type(),
        "question type not echoed"
    );
    assert_eq!(
        echoed.query_class(),
        asked.query_class(),
        "question class not echoed"
    );
    for record in reply.message.all_sections() {
        assert_eq!(
            record.dns_class,
            DNSClass::IN,
            "class of {record}; {}",
            context()
        );
    }
    reply
}

/// Sends `query` from `from` over `via` and returns the checked, decoded reply.
pub fn exchange(server: &Server, from: IpAddr, via: Via, query: &Message) -> Reply {
    let bytes = query.to_vec().expect("encode query");
    let raw = match via {
        Via::Udp => udp_raw(server, from, &bytes),
        Via::Tcp => tcp_raw(server, from, &bytes),
    };
    decode_reply(query, &raw)
}

/// `exchange` for a plain query without EDNS.
pub fn ask(server: &Server, from: IpAddr, via: Via, name: &str, rtype: RecordType) -> Reply {
    exchange(server, from, via, &query(name, rtype))
}

/// A record as `owner TTL TYPE rdata`, names in the case they came in, TXT strings quoted.
pub fn render(record: &Record) -> String {
    format!(
        "{} {} {} {}",
        record.name,
        record.ttl,
        record.record_type(),
        rdata_text(&record.data)
    )
}

fn rdata_text(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| format!("\"{}\"", String::from_utf8_lossy(s)))
            .collect::<Vec<_>>()
            .join(" "),
        // hickory-proto has no DNAME type: its RDATA is one uncompressed name (RFC 6672 §2.5).
        RData::Unknown {
            code: RecordType::DNAME,
            rdata,
        } => wire_name_text(&rdata.anything),
        other => other.to_string(),
    }
}

/// An uncompressed wire-format name in presentation format (plain labels only; the fixtures use
/// no characters that need escaping).
pub fn wire_name_text(wire: &[u8]) -> String {
    let mut text = String::new();
    let mut pos = 0usize;
    while let Some(&len) = wire.get(pos) {
        if len == 0 {
            break;
        }
        let label = wire
            .get(pos + 1..pos + 1 + len as usize)
            .expect("label within the RDATA");
        text.push_str(&String::from_utf8_lossy(label));
        text.push('.');
        pos += 1 + len as usize;
    }
    if text.is_empty() { ".".into() } else { text }
}

pub fn sorted(mut records: Vec<String>) -> Vec<String> {
    records.sort();
    records
}

fn owned(records: &[&str]) -> Vec<String> {
    sorted(records.iter().map(|r| r.to_string()).collect())
}

/// One scenario: a query from a source, and the exact response expected. Sections compare as
/// multisets (A sets rotate; section order is not part of the protocol), everything else exactly.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub from: IpAddr,
    pub qname: &'static str,
    pub qtype: RecordType,
    pub rcode: ResponseCode,
    pub aa: bool,
    pub answer: &'static [&'static str],
    pub authority: &'static [&'static str],
    pub additional: &'static [&'static str],
}

impl Case {
    /// An authoritative NOERROR with empty sections, from the internal view: override the rest.
    pub const DEFAULT: Case = Case {
        from: INTERNAL,
        qname: ".",
        qtype: RecordType::A,
        rcode: ResponseCode::NoError,
        aa: true,
        answer: &[],
        authority: &[],
        additional: &[],
    };

    /// What is wrong with `reply` as an answer to this case, if anything.
    pub fn mismatch(&self, reply: &Reply) -> Option<String> {
        let mut problems = Vec::new();
        if reply.rcode() != self.rcode {
            problems.push(format!(
                "rcode {:?}, expected {:?}",
                reply.rcode(),
                self.rcode
            ));
        }
        if reply.aa() != self.aa {
            problems.push(format!("AA {}, expected {}", reply.aa(), self.aa));
        }
        if reply.tc() {
            problems.push("TC set".to_string());
        }
        for (section, got, expected) in [
            ("answer", reply.answer(), self.answer),
            ("authority", reply.authority(), self.authority),
            ("additional", reply.additional(), self.additional),
        ] {
            let (got, expected) = (sorted(got), owned(expected));
            if got != expected {
                problems.push(format!(
                    "{section} section:\n    got      {got:?}\n    expected {expected:?}"
                ));
            }
        }
        (!problems.is_empty()).then(|| problems.join("\n  "))
    }
}

/// Runs every case over UDP and over TCP and fails once, listing every mismatch.
pub fn check_all(server: &Server, cases: &[Case]) {
    check_all_via(server, cases, &BOTH);
}

pub fn check_all_via(server: &Server, cases: &[Case], transports: &[Via]) {
    let mut failures = Vec::new();
    for case in cases {
        for &via in transports {
            let reply = ask(server, case.from, via, case.qname, case.qtype);
            if let Some(problem) = case.mismatch(&reply) {
                failures.push(format!(
                    "{} {} from {} over {via:?}:\n  {problem}\n  full response: {}",
                    case.qname,
                    case.qtype,
                    case.from,
                    reply.dump()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A process's CPU time so far (user and system), from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name in parentheses: state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

/// Sets a running process's open-file limit (soft and hard) to `files`.
pub fn limit_open_files(pid: u32, files: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: files,
        rlim_max: files,
    };
    // SAFETY: prlimit reads the struct passed; the old limit is not asked for.
    let set = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(set, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// A CA for a test's TLS servers, made afresh (rcgen): the health and DNS over TLS tests sign
/// their server certificates with it.
pub fn test_ca() -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "splitdns test CA");
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap()
}
