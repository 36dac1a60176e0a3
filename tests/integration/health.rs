//! Health-checked round robin and site failover, judged with real HTTPS servers on
//! loopback addresses (127.0.0.11 and up; never anything else) and the real `splitdns` binary.
//!
//! Each test makes its own CA and certificates (rcgen), starts small Rust HTTPS servers
//! (tokio-rustls) whose answer it can change (200, 503, or stopped: connection refused), and —
//! where `openssl` is installed — `openssl s_server -WWW`, then starts `splitdns serve` with checks
//! every 200 ms (timeout 200 ms, 2 failures down, 2 successes up) and asks it over UDP from
//! 127.0.0.2 (the internal view) which addresses it answers. Each test uses its own addresses, so
//! tests run in parallel. Waits are bounded: the judged ones by the check timing plus [`SLACK`]
//! for a machine busy with other builds, the others by [`GENEROUS`].

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use rcgen::{CertificateParams, CertifiedIssuer, KeyPair, date_time_ymd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_util::sync::CancellationToken;

use crate::common::{Daemon, INTERNAL, TIMEOUT, free_port_on, query, scratch_dir, splitdns};

/// The check timing every test configures.
const INTERVAL: Duration = Duration::from_millis(200);
const CHECK_TIMEOUT: Duration = Duration::from_millis(200);
const FALL: u32 = 2;
const RISE: u32 = 2;
/// Added to the judged bounds (0.6 s to withdraw, 0.6 s to come back): scheduling delay of the
/// server's probe task and of the test's polling on a 2-core machine that runs the rest of the
/// suite (the differential tests start Knot and NSD) at the same time. Alone, both take about
/// 0.4 s (the tests print what they measured); under the whole suite 1.6 s has been exceeded.
const SLACK: Duration = Duration::from_millis(3000);
/// Bound for waits that are not judged (start-up, log lines).
const GENEROUS: Duration = Duration::from_secs(10);
const NAMESPACE: &str = "mail.contoso.example";

/// The longest an address that stops answering may stay in the answers (interval ×
/// failures, plus the timeout of the last check), plus slack.
fn fall_bound() -> Duration {
    INTERVAL * FALL + CHECK_TIMEOUT + SLACK
}

/// The longest an address that answers again may stay out: `rise` successes, `interval` apart.
fn rise_bound() -> Duration {
    INTERVAL * RISE + CHECK_TIMEOUT + SLACK
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A test CA and the certificates it signs.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, in DER.
#[derive(Clone)]
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let ca = crate::common::test_ca();
        Pki { ca }
    }

    fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for `names`, valid from 2020 to 2040 unless `expired` (2020-01-01 to
    /// 2021-01-01).
    fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        self.leaf_with(names, |params| {
            params.not_after = if expired {
                date_time_ymd(2021, 1, 1)
            } else {
                date_time_ymd(2040, 1, 1)
            }
        })
    }

    /// A certificate for `names` that expires `days` from now.
    fn leaf_expiring_in(&self, names: &[&str], days: u64) -> Leaf {
        let since_2020 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            - Duration::from_secs(1_577_836_800);
        self.leaf_with(names, |params| {
            params.not_after =
                date_time_ymd(2020, 1, 1) + since_2020 + Duration::from_secs(days * 86_400)
        })
    }

    /// A certificate for `names`, valid from 2020-01-01, with `dates` setting when it expires.
    fn leaf_with(&self, names: &[&str], dates: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_before = date_time_ymd(2020, 1, 1);
        dates(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// The runtime the test HTTPS servers run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A small HTTPS server on one loopback address: answers every request with `status` (a
/// stand-in for Exchange's `/owa/healthcheck.htm`), or is stopped (its socket closed, so
/// connections are refused). Counts the requests it answered.
struct Https {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    requests: Arc<AtomicU32>,
    acceptor: TlsAcceptor,
    running: Mutex<Option<CancellationToken>>,
}

/// An HTTPS server with `leaf`'s certificate on `port` of each address, started.
fn started(addresses: &[IpAddr], port: u16, leaf: &Leaf) -> Vec<Https> {
    let servers: Vec<Https> = addresses
        .iter()
        .map(|a| Https::new(SocketAddr::new(*a, port), leaf))
        .collect();
    for server in &servers {
        server.start();
    }
    servers
}

impl Https {
    fn new(addr: SocketAddr, leaf: &Leaf) -> Https {
        let config = ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            leaf.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone())),
        )
        .unwrap();
        Https {
            addr,
            status: Arc::new(AtomicU16::new(200)),
            requests: Arc::default(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
            running: Mutex::new(None),
        }
    }

    fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Starts listening (again).
    fn start(&self) {
        let listener = std::net::TcpListener::bind(self.addr)
            .unwrap_or_else(|e| panic!("bind {}: {e}", self.addr));
        listener.set_nonblocking(true).unwrap();
        let stop = CancellationToken::new();
        *self.running.lock().unwrap() = Some(stop.clone());
        let (acceptor, status, requests) = (
            self.acceptor.clone(),
            self.status.clone(),
            self.requests.clone(),
        );
        runtime().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = tokio::select! {
                    () = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                };
                let (acceptor, status, requests) =
                    (acceptor.clone(), status.clone(), requests.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let code = status.load(Ordering::SeqCst);
                    requests.fetch_add(1, Ordering::SeqCst);
                    let response = format!(
                        "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
    }

    /// Stops listening: new connections are refused.
    fn stop(&self) {
        if let Some(stop) = self.running.lock().unwrap().take() {
            stop.cancel();
        }
        // The accept loop drops its socket as it ends; wait until connections are refused.
        let deadline = Instant::now() + GENEROUS;
        while std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
            assert!(Instant::now() < deadline, "{} still accepts", self.addr);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        if let Some(stop) = self.running.lock().unwrap().take() {
            stop.cancel();
        }
    }
}

const ZONE: &str = "$ORIGIN contoso.example.\n\
$TTL 3600\n\
@     SOA  ns1 hostmaster ( 1 3600 900 1209600 300 )\n\
\x20     NS   ns1\n\
ns1   A    203.0.113.53\n\
www   A    203.0.113.80\n";

/// The views every test's config starts with: 127.0.0.2 inside, everyone else outside; with a
/// `site_order` line, also a second inside view ("branch") for 127.0.0.5 that has it.
fn views(branch_site_order: &str) -> String {
    let branch = if branch_site_order.is_empty() {
        String::new()
    } else {
        format!(
            "[[view]]\nname = \"branch\"\nclients = [\"127.0.0.5/32\"]\n{branch_site_order}\n\n"
        )
    };
    format!(
        "[[view]]\nname = \"internal\"\nclients = [\"127.0.0.2/32\"]\n\n{branch}\
         [[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\", \"::/0\"]\n\n\
         [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\n\
         [zone.views]\ninternal = \"internal.zone\"\n\n"
    )
}

/// The check settings the tests use, as TOML keys (inline-table form without braces).
fn timing() -> String {
    format!(
        "interval = {}, timeout = {}, fall = {FALL}, rise = {RISE}",
        INTERVAL.as_secs_f64(),
        CHECK_TIMEOUT.as_secs_f64()
    )
}

/// Settings for the tests that judge a failure's reason rather than its timing: a timeout long
/// enough that a handshake on a busy machine (debug build, other tests running) never times out,
/// which would replace the reason in the log line.
fn patient_timing() -> String {
    format!("interval = 1, timeout = 1, fall = {FALL}, rise = {RISE}")
}

/// A `splitdns serve` process ([`Daemon`]) on its own scratch directory.
struct Splitdns {
    daemon: Daemon,
}

impl std::ops::Deref for Splitdns {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl Splitdns {
    /// Writes `files` (name, content) into a fresh directory and serves `splitdns.toml` there.
    fn start(test: &str, files: &[(&str, String)]) -> Splitdns {
        let dir = scratch_dir(&format!("health-{test}"));
        // The inside's own records (loopback addresses must not be in the external view).
        fs::write(dir.join("internal.zone"), "$ORIGIN contoso.example.\n").unwrap();
        for (name, text) in files {
            fs::write(dir.join(name), text).unwrap();
        }
        Splitdns {
            daemon: Daemon::serve(dir.join("splitdns.toml")).start(),
        }
    }

    /// One query with a random ID; the response, if one came.
    fn ask(&self, from: IpAddr, name: &str, rtype: RecordType) -> Option<Message> {
        self.ask_with_id(from, name, rtype, random_id())
    }

    fn ask_with_id(&self, from: IpAddr, name: &str, rtype: RecordType, id: u16) -> Option<Message> {
        let socket = UdpSocket::bind((from, 0)).unwrap();
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut message = query(name, rtype);
        message.metadata.id = id;
        socket.send_to(&message.to_vec().unwrap(), self.dns).ok()?;
        let mut buf = [0u8; 4096];
        let len = socket.recv(&mut buf).ok()?;
        let reply = Message::from_vec(&buf[..len]).ok()?;
        (reply.metadata.id == id).then_some(reply)
    }

    /// The addresses answered for `name` A from `from`, sorted, with the rcode.
    fn addresses(&self, from: IpAddr, name: &str) -> (ResponseCode, Vec<String>) {
        let reply = self
            .ask(from, name, RecordType::A)
            .unwrap_or_else(|| panic!("no answer for {name}:\n{}", self.log_text()));
        (reply.metadata.response_code, answer_addresses(&reply))
    }

    /// Polls until `name` A from `from` answers exactly `expected` (sorted); returns how long it
    /// took, or fails after `within`.
    fn wait_answer(
        &self,
        from: IpAddr,
        name: &str,
        expected: &[&str],
        within: Duration,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let (rcode, got) = self.addresses(from, name);
            if rcode == ResponseCode::NoError && got == expected {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "{name} from {from} still answers {rcode:?} {got:?} after {within:?}, expected {expected:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn answer_addresses(reply: &Message) -> Vec<String> {
    let mut addresses: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    addresses.sort();
    addresses
}

/// A query ID from a per-process counter mixed through SplitMix64: spread over all 16 bits.
fn random_id() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut z = seed.wrapping_add(
        u64::from(NEXT.fetch_add(1, Ordering::Relaxed)).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 48) as u16
}

/// Three healthy servers; one answers 503 and leaves the answers within interval × fall +
/// timeout (+ slack), with one log line naming the address, the name, up -> down and `HTTP 503`;
/// it answers 200 again and is back after `rise` successes. One that stops (connection refused)
/// leaves the same way. The checked name is answered with the short default TTL (30 s).
#[test]
fn a_failing_server_leaves_the_rotation_and_comes_back() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAMESPACE], false);
    let addresses = [ip(11), ip(12), ip(13)];
    let port = free_port_on(&addresses);
    let servers = started(&addresses, port, &leaf);
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\ninternal = [\"127.0.0.11\", \"127.0.0.12\", \"127.0.0.13\"]\n\
         external = [\"203.0.113.10\"]\nsrv_domains = [\"contoso.example\"]\nhealth = {{ port = {port}, ca = \"ca.pem\", {} }}\n",
        views(""),
        timing()
    );
    let dns = Splitdns::start(
        "failing",
        &[
            ("splitdns.toml", config),
            ("contoso.example.zone", ZONE.into()),
            ("ca.pem", pki.ca_pem()),
        ],
    );
    let all = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];
    // Checks run from the start, before any query for the name (start-up only asked for the
    // zone's SOA).
    let deadline = Instant::now() + GENEROUS;
    while servers
        .iter()
        .any(|s| s.requests.load(Ordering::SeqCst) < 2)
    {
        assert!(Instant::now() < deadline, "not every server was checked");
        std::thread::sleep(Duration::from_millis(20));
    }
    dns.wait_answer(INTERNAL, NAMESPACE, &all, GENEROUS);
    let reply = dns.ask(INTERNAL, NAMESPACE, RecordType::A).unwrap();
    assert!(reply.answers.iter().all(|r| r.ttl == 30), "{reply:?}");

    servers[1].set_status(503);
    let took = dns.wait_answer(
        INTERNAL,
        NAMESPACE,
        &["127.0.0.11", "127.0.0.13"],
        fall_bound(),
    );
    eprintln!("503: withdrawn after {took:?} (bound {:?})", fall_bound());
    let line = dns.wait_log(&[&format!("127.0.0.12:{port}"), "up -> down"]);
    assert!(
        line.contains(NAMESPACE) && line.contains("HTTP 503"),
        "{line}"
    );
    // The Autodiscover SRV's additional section carries the same healthy addresses.
    let srv = dns
        .ask(
            INTERNAL,
            "_autodiscover._tcp.contoso.example.",
            RecordType::SRV,
        )
        .unwrap();
    let mut additional: Vec<String> = srv
        .additionals
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    additional.sort();
    assert_eq!(additional, ["127.0.0.11", "127.0.0.13"], "{srv:?}");
    // The outside is not checked and not changed.
    let (_, outside) = dns.addresses(crate::common::EXTERNAL, NAMESPACE);
    assert_eq!(outside, ["203.0.113.10"]);

    servers[1].set_status(200);
    let took = dns.wait_answer(INTERNAL, NAMESPACE, &all, rise_bound());
    eprintln!("200 again: back after {took:?} (bound {:?})", rise_bound());
    assert!(
        took >= INTERVAL * (RISE - 1) - Duration::from_millis(50),
        "back after {took:?}: sooner than {RISE} successes"
    );
    dns.wait_log(&[&format!("127.0.0.12:{port}"), "down -> up"]);

    servers[2].stop();
    let took = dns.wait_answer(
        INTERNAL,
        NAMESPACE,
        &["127.0.0.11", "127.0.0.12"],
        fall_bound(),
    );
    eprintln!(
        "stopped: withdrawn after {took:?} (bound {:?})",
        fall_bound()
    );
    let line = dns.wait_log(&[&format!("127.0.0.13:{port}"), "up -> down"]);
    assert!(line.contains("connection refused"), "{line}");
}

/// With a CA configured, a server whose certificate names another host, and one whose
/// certificate has expired, are withdrawn with that reason in the log; a valid one stays, and so
/// does one whose certificate expires within `expiry_warning_days`, warned about once.
#[test]
fn certificate_problems_withdraw_with_their_reason() {
    let pki = Pki::new();
    let addresses = [ip(21), ip(22), ip(23), ip(26)];
    let port = free_port_on(&addresses);
    let leaves = [
        pki.leaf(&[NAMESPACE], false),
        pki.leaf(&["other.contoso.example"], false),
        pki.leaf(&[NAMESPACE], true),
        pki.leaf_expiring_in(&[NAMESPACE], 5),
    ];
    let servers: Vec<Https> = addresses
        .iter()
        .zip(&leaves)
        .map(|(a, leaf)| Https::new(SocketAddr::new(*a, port), leaf))
        .collect();
    for server in &servers {
        server.start();
    }
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\ninternal = [\"127.0.0.21\", \"127.0.0.22\", \"127.0.0.23\", \"127.0.0.26\"]\n\
         health = {{ port = {port}, ca = \"ca.pem\", expiry_warning_days = 14, {} }}\n",
        views(""),
        patient_timing()
    );
    let dns = Splitdns::start(
        "certificates",
        &[
            ("splitdns.toml", config),
            ("contoso.example.zone", ZONE.into()),
            ("ca.pem", pki.ca_pem()),
        ],
    );
    dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.21", "127.0.0.26"], GENEROUS);
    let line = dns.wait_log(&[&format!("127.0.0.22:{port}"), "up -> down"]);
    assert!(
        line.contains("certificate does not cover mail.contoso.example"),
        "{line}"
    );
    let line = dns.wait_log(&[&format!("127.0.0.23:{port}"), "up -> down"]);
    assert!(line.contains("certificate expired 2021-01-01"), "{line}");

    // `explain --probe` checks each address once and says why the others are left out.
    let explain = splitdns()
        .args(["explain", "--probe", "--client", "127.0.0.2", "--config"])
        .arg(dns.path("splitdns.toml"))
        .arg(NAMESPACE)
        .output()
        .expect("run splitdns explain");
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.status.success(), "{text}");
    for expected in [
        "mail.contoso.example. 30 IN A 127.0.0.21",
        "127.0.0.21   ; up: answered",
        "127.0.0.22   ; down, left out: certificate does not cover mail.contoso.example",
        "127.0.0.23   ; down, left out: certificate expired 2021-01-01",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    assert!(!text.contains("IN A 127.0.0.22"), "{text}");

    // The certificate expiring in 5 days: in the answers, warned about once over several checks.
    let line = dns.wait_log(&[&format!("127.0.0.26:{port}"), "certificate expires"]);
    assert!(
        line.contains("(within 14 days); the address stays in"),
        "{line}"
    );
    let checked = servers[3].requests.load(Ordering::SeqCst);
    let deadline = Instant::now() + GENEROUS;
    while servers[3].requests.load(Ordering::SeqCst) < checked + 2 {
        assert!(Instant::now() < deadline, "127.0.0.26 is no longer checked");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dns.log_text().matches("certificate expires").count(), 1);
    assert!(
        !dns.log_text().contains(&format!("127.0.0.26:{port} (")),
        "{}",
        dns.log_text()
    );
    assert!(
        !dns.log_text().contains(&format!("127.0.0.21:{port} (")),
        "the valid server changed state:\n{}",
        dns.log_text()
    );
}

/// Without a CA the certificate's names are still checked (a self-made certificate for the
/// namespace passes, one for another name does not); with `certificate_check = false` neither
/// is checked.
#[test]
fn without_a_ca_names_are_checked_unless_turned_off() {
    let pki = Pki::new();
    let addresses = [ip(24), ip(25)];
    let port = free_port_on(&addresses);
    let good = Https::new(
        SocketAddr::new(ip(24), port),
        &pki.leaf(&[NAMESPACE], false),
    );
    let other = Https::new(
        SocketAddr::new(ip(25), port),
        &pki.leaf(&["other.contoso.example"], false),
    );
    good.start();
    other.start();
    let internal = "$ORIGIN contoso.example.\nowa 300 A 127.0.0.24\n    300 A 127.0.0.25\n";
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\ninternal = [\"127.0.0.24\", \"127.0.0.25\"]\n\
         health = {{ port = {port}, {} }}\n\n\
         [[health]]\nname = \"owa.contoso.example\"\nview = \"internal\"\nport = {port}\ncertificate_check = false\n\
         interval = 1\ntimeout = 1\nfall = 2\nrise = 2\n",
        views(""),
        patient_timing()
    );
    let dns = Splitdns::start(
        "no-ca",
        &[
            ("splitdns.toml", config),
            ("contoso.example.zone", ZONE.into()),
            ("internal.zone", internal.into()),
        ],
    );
    dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.24"], GENEROUS);
    let line = dns.wait_log(&[&format!("127.0.0.25:{port}"), "up -> down"]);
    assert!(
        line.contains("does not cover mail.contoso.example"),
        "{line}"
    );
    // The unchecked name keeps both, though .25 has had time to fall.
    let (rcode, owa) = dns.addresses(INTERNAL, "owa.contoso.example");
    assert_eq!(
        (rcode, owa),
        (
            ResponseCode::NoError,
            vec!["127.0.0.24".to_string(), "127.0.0.25".to_string()]
        )
    );
}

/// Every address down: the namespace answers all of them (fail-open, the default); a name whose
/// block says `all_down = "servfail"` (here a `[[health]]` block on a zone-file name, with a
/// `tcp` check) answers SERVFAIL until an address is up again.
#[test]
fn all_down_fails_open_or_servfails_as_configured() {
    let pki = Pki::new();
    let addresses = [ip(31), ip(32), ip(33)];
    let port = free_port_on(&addresses);
    let internal = "$ORIGIN contoso.example.\nowa 300 A 127.0.0.33\n";
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\ninternal = [\"127.0.0.31\", \"127.0.0.32\"]\n\
         health = {{ port = {port}, {} }}\n\n\
         [[health]]\nname = \"owa.contoso.example\"\nkind = \"tcp\"\nport = {port}\nall_down = \"servfail\"\n\
         interval = 0.2\ntimeout = 0.2\nfall = 2\nrise = 2\n",
        views(""),
        timing()
    );
    let dns = Splitdns::start(
        "all-down",
        &[
            ("splitdns.toml", config),
            ("contoso.example.zone", ZONE.into()),
            ("internal.zone", internal.into()),
        ],
    );
    for last in [31, 32, 33] {
        dns.wait_log(&[
            &format!("127.0.0.{last}:{port}"),
            "up -> down",
            "connection refused",
        ]);
    }
    let (rcode, mail) = dns.addresses(INTERNAL, NAMESPACE);
    assert_eq!(rcode, ResponseCode::NoError);
    assert_eq!(mail, ["127.0.0.31", "127.0.0.32"], "fail-open");
    let (rcode, owa) = dns.addresses(INTERNAL, "owa.contoso.example");
    assert_eq!((rcode, owa.len()), (ResponseCode::ServFail, 0));

    let server = Https::new(
        SocketAddr::new(ip(33), port),
        &pki.leaf(&[NAMESPACE], false),
    );
    server.start();
    dns.wait_answer(
        INTERNAL,
        "owa.contoso.example",
        &["127.0.0.33"],
        rise_bound(),
    );
    // The zone file says 300; a checked RRset is answered with the block's TTL (default 30).
    let reply = dns
        .ask(INTERNAL, "owa.contoso.example.", RecordType::A)
        .unwrap();
    assert_eq!(reply.answers[0].ttl, 30);
}

/// Two sites: the internal view prefers dc1 (declaration order), the branch view dc2
/// (`site_order`). Each gets the healthy addresses of its first site with any; when dc1 is all
/// down the internal view fails over to dc2, and back once a dc1 server is up again.
#[test]
fn two_sites_fail_over_and_back() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAMESPACE, "autodiscover.contoso.example"], false);
    let addresses = [ip(41), ip(42), ip(43)];
    let port = free_port_on(&addresses);
    let servers = started(&addresses, port, &leaf);
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\nautodiscover = true\nhealth = {{ port = {port}, {} }}\n\
         [[exchange.site]]\nname = \"dc1\"\ninternal = [\"127.0.0.41\", \"127.0.0.42\"]\n\
         [[exchange.site]]\nname = \"dc2\"\ninternal = [\"127.0.0.43\"]\n",
        views("site_order = [\"dc2\", \"dc1\"]"),
        timing()
    );
    let dns = Splitdns::start(
        "sites",
        &[
            ("splitdns.toml", config),
            ("contoso.example.zone", ZONE.into()),
        ],
    );
    let branch = ip(5);
    let dc1 = ["127.0.0.41", "127.0.0.42"];
    dns.wait_answer(INTERNAL, NAMESPACE, &dc1, GENEROUS);
    dns.wait_answer(INTERNAL, "autodiscover.contoso.example", &dc1, GENEROUS);
    dns.wait_answer(branch, NAMESPACE, &["127.0.0.43"], GENEROUS);

    servers[0].stop();
    dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.42"], fall_bound());
    servers[1].set_status(503);
    let took = dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.43"], fall_bound());
    eprintln!("dc1 down: failed over to dc2 after {took:?}");
    dns.wait_answer(
        INTERNAL,
        "autodiscover.contoso.example",
        &["127.0.0.43"],
        fall_bound(),
    );

    // dc2 down too, while branch prefers it: branch falls back to dc1, which is down as well,
    // so every address is answered (fail-open).
    servers[2].set_status(503);
    dns.wait_answer(
        branch,
        NAMESPACE,
        &["127.0.0.41", "127.0.0.42", "127.0.0.43"],
        fall_bound(),
    );

    servers[0].start();
    let took = dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.41"], rise_bound());
    eprintln!("dc1 back: failed back after {took:?}");
    dns.wait_answer(branch, NAMESPACE, &["127.0.0.41"], GENEROUS);
}

/// A reload keeps the state of addresses that stay (a down one stays out, without being
/// re-learnt), checks a new one from the start (up until its results say otherwise), and stops
/// checking a removed one.
#[test]
fn a_reload_keeps_states_and_stops_removed_checks() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAMESPACE], false);
    let addresses = [ip(51), ip(52), ip(53)];
    let port = free_port_on(&addresses);
    let up = Https::new(SocketAddr::new(ip(51), port), &leaf);
    let added = Https::new(SocketAddr::new(ip(53), port), &leaf);
    up.start();
    added.start();
    let config = |internal: &str, ttl: &str| {
        format!(
            "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\ninternal = [{internal}]\n{ttl}health = {{ port = {port}, {} }}\n",
            views(""),
            timing()
        )
    };
    let dns = Splitdns::start(
        "reload",
        &[
            (
                "splitdns.toml",
                config("\"127.0.0.51\", \"127.0.0.52\"", ""),
            ),
            ("contoso.example.zone", ZONE.into()),
        ],
    );
    dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.51"], GENEROUS);

    // Saved by rename, as editors do; a longer interval for the new check would make a reset
    // state visible for longer, but the timing stays the same so the targets are kept.
    let write = |text: String| {
        let tmp = dns.path("splitdns.toml.tmp");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, dns.path("splitdns.toml")).unwrap();
    };
    let added = config(
        "\"127.0.0.51\", \"127.0.0.52\", \"127.0.0.53\"",
        "ttl = 20\n",
    );
    write(added.clone());
    let deadline = Instant::now() + GENEROUS;
    let mut rewritten = Instant::now();
    loop {
        // The server answers a moment before its file watcher is installed: an edit in that
        // window goes unseen, so the same file is saved again until a reload shows.
        if !dns.log_text().contains("reload on file change: ")
            && rewritten.elapsed() > Duration::from_millis(500)
        {
            write(added.clone());
            rewritten = Instant::now();
        }
        let reply = dns.ask(INTERNAL, NAMESPACE, RecordType::A).unwrap();
        if reply.answers.first().is_some_and(|r| r.ttl == 20) {
            // The first answer from the new snapshot: .52 is still out, .53 is in.
            assert_eq!(answer_addresses(&reply), ["127.0.0.51", "127.0.0.53"]);
            break;
        }
        assert!(Instant::now() < deadline, "{}", dns.log_text());
    }
    assert!(
        !dns.log_text().contains(&format!(
            "127.0.0.52:{port} (mail.contoso.example) down -> up"
        )),
        "{}",
        dns.log_text()
    );

    write(config("\"127.0.0.51\", \"127.0.0.53\"", "ttl = 20\n"));
    dns.wait_log(&["stopped checking", &format!("127.0.0.52:{port}")]);
    dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.51", "127.0.0.53"], GENEROUS);
}

/// With one of three servers down, the rotation over the two healthy ones is fair: over 2000
/// queries with random IDs, each leads 1000 ± 112 times (5 standard deviations of
/// Binomial(2000, 1/2), ±22.4: a fair rotation fails with probability under 10⁻⁶), and the
/// down one never appears.
#[test]
fn rotation_over_the_healthy_subset_is_fair() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAMESPACE], false);
    let addresses = [ip(61), ip(62), ip(63)];
    let port = free_port_on(&addresses);
    let _servers = started(&addresses[..2], port, &leaf);
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\ninternal = [\"127.0.0.61\", \"127.0.0.62\", \"127.0.0.63\"]\n\
         health = {{ port = {port}, {} }}\n",
        views(""),
        timing()
    );
    let dns = Splitdns::start(
        "fair",
        &[
            ("splitdns.toml", config),
            ("contoso.example.zone", ZONE.into()),
        ],
    );
    dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.61", "127.0.0.62"], GENEROUS);
    let mut leaders = std::collections::HashMap::<String, usize>::new();
    for _ in 0..2000 {
        let reply = dns.ask(INTERNAL, NAMESPACE, RecordType::A).unwrap();
        let addresses = answer_addresses(&reply);
        assert_eq!(addresses, ["127.0.0.61", "127.0.0.62"]);
        let RData::A(first) = &reply.answers[0].data else {
            panic!("{reply:?}")
        };
        *leaders.entry(first.0.to_string()).or_default() += 1;
    }
    assert_eq!(leaders.len(), 2, "{leaders:?}");
    for (leader, count) in &leaders {
        assert!(
            (888..=1112).contains(count),
            "{leader} led {count} of 2000: {leaders:?}"
        );
    }
}

/// A non-Rust TLS server: `openssl s_server -WWW` serving `owa/healthcheck.htm` from a directory
/// stays in; one presenting a certificate for another name is withdrawn with that reason, and
/// the good one when it stops (connection refused). (`s_server -WWW` answers 200 even for a file
/// it does not have, so a missing page cannot be its failure.)
#[test]
fn an_openssl_server_is_checked_like_exchange() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: openssl is not installed (.ci/run installs it)");
        return;
    }
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAMESPACE], false);
    let other = pki.leaf(&["other.contoso.example"], false);
    let addresses = [ip(71), ip(72)];
    let port = free_port_on(&addresses);
    let root = scratch_dir("health-openssl-www");
    fs::create_dir_all(root.join("owa")).unwrap();
    fs::write(root.join("owa/healthcheck.htm"), "<html>200 OK</html>\n").unwrap();
    for (name, leaf) in [("good", &leaf), ("other", &other)] {
        fs::write(root.join(format!("{name}.pem")), &leaf.cert_pem).unwrap();
        fs::write(root.join(format!("{name}.key")), &leaf.key_pem).unwrap();
    }
    let spawn = |last: u8, name: &str| {
        Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.{last}:{port}"))
            .arg("-cert")
            .arg(root.join(format!("{name}.pem")))
            .arg("-key")
            .arg(root.join(format!("{name}.key")))
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server")
    };
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut servers = vec![Kill(spawn(71, "good")), Kill(spawn(72, "other"))];
    for last in [71, 72] {
        let deadline = Instant::now() + GENEROUS;
        while std::net::TcpStream::connect((ip(last), port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\ninternal = [\"127.0.0.71\", \"127.0.0.72\"]\n\
         health = {{ port = {port}, ca = \"ca.pem\", {} }}\n",
        views(""),
        patient_timing()
    );
    let dns = Splitdns::start(
        "openssl",
        &[
            ("splitdns.toml", config),
            ("contoso.example.zone", ZONE.into()),
            ("ca.pem", pki.ca_pem()),
        ],
    );
    let line = dns.wait_log(&[&format!("127.0.0.72:{port}"), "up -> down"]);
    assert!(
        line.contains("certificate does not cover mail.contoso.example"),
        "{line}"
    );
    dns.wait_answer(INTERNAL, NAMESPACE, &["127.0.0.71"], GENEROUS);
    // The good one passed its checks all along.
    assert!(
        !dns.log_text().contains(&format!("127.0.0.71:{port} (")),
        "{}",
        dns.log_text()
    );
    servers.remove(0);
    let line = dns.wait_log(&[&format!("127.0.0.71:{port}"), "up -> down"]);
    assert!(line.contains("connection refused"), "{line}");
}

/// The status, health events and page with real HTTPS servers: two sites (the internal view prefers dc1,
/// the branch view dc2). One dc1 server stops: `status` says WARNING and lists every checked
/// address with its site, view, state, reason and since, and the status page shows it (rendered
/// by headless Chromium where installed). dc1 all down: the internal view fails over to dc2 —
/// one log line for both names — and `status` says so; dc2 down too: every name fails open, one
/// log line, CRITICAL; a dc1 server back: one line each for leaving fail-open, and the internal
/// view fails back. `splitdns_health_up` carries the site. Each wait is bounded by [`GENEROUS`].
#[test]
fn status_and_page_follow_failover_and_fail_open() {
    use crate::page::{assert_real_png, get, screenshot, status_command, status_json};
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAMESPACE, "autodiscover.contoso.example"], false);
    let addresses = [ip(91), ip(92), ip(93)];
    let port = free_port_on(&addresses);
    let servers = started(&addresses, port, &leaf);
    let config = format!(
        "{}[[exchange]]\nnamespace = \"{NAMESPACE}\"\nautodiscover = true\nexternal = [\"203.0.113.10\"]\n\
         health = {{ port = {port}, ca = \"ca.pem\", path = \"/owa/healthcheck.htm\", {} }}\n\
         [[exchange.site]]\nname = \"dc1\"\ninternal = [\"127.0.0.91\", \"127.0.0.92\"]\n\
         [[exchange.site]]\nname = \"dc2\"\ninternal = [\"127.0.0.93\"]\n",
        views("site_order = [\"dc2\", \"dc1\"]"),
        // What is judged is each state and line, not the timing: checks slow enough that a
        // busy machine never times out a healthy server, which would add states and lines.
        patient_timing()
    );
    let dir = scratch_dir("health-status-page");
    fs::write(dir.join("internal.zone"), "$ORIGIN contoso.example.\n").unwrap();
    fs::write(dir.join("splitdns.toml"), config).unwrap();
    fs::write(dir.join("contoso.example.zone"), ZONE).unwrap();
    fs::write(dir.join("ca.pem"), pki.ca_pem()).unwrap();
    let dns = Splitdns {
        daemon: Daemon::serve(dir.join("splitdns.toml")).control().start(),
    };
    let control = dns.control();
    let wait_status = |what: &str, done: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = Instant::now() + GENEROUS;
        loop {
            let status = status_json(control);
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {GENEROUS:?}:\n{status:#}\n{}",
                dns.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let states = |status: &serde_json::Value| -> Vec<(String, String)> {
        let mut states: Vec<(String, String)> = status["health_checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["address"].as_str().unwrap().to_string(),
                    c["state"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        states.sort();
        states.dedup();
        states
    };
    let all = |state: &str| {
        addresses
            .iter()
            .map(|a| (a.to_string(), state.to_string()))
            .collect::<Vec<_>>()
    };
    wait_status("every address checked", &|s| states(s) == all("up"));
    let output = status_command(control, &[]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("SPLITDNS OK - 3 views, 3 zone copies served, 3 checked addresses up"),
        "{text}"
    );

    // One dc1 server stops: WARNING; every checked address listed, per name and view.
    servers[1].stop();
    let status = wait_status("127.0.0.92 down", &|s| {
        states(s).contains(&("127.0.0.92".into(), "down".into()))
    });
    // Two names (the namespace, autodiscover) in two views, three addresses each.
    let checks = status["health_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 12, "{status:#}");
    let check = |address: &str, name: &str, view: &str| {
        checks
            .iter()
            .find(|c| c["address"] == address && c["name"] == name && c["view"] == view)
            .unwrap_or_else(|| panic!("no {address} {name} {view}: {status:#}"))
    };
    let down = check("127.0.0.92", "autodiscover.contoso.example", "branch");
    assert_eq!(
        (
            &down["site"],
            &down["state"],
            &down["reason"],
            &down["answered"]
        ),
        (
            &serde_json::json!("dc1"),
            &serde_json::json!("down"),
            &serde_json::json!("connection refused"),
            &serde_json::json!(false)
        ),
        "{down:#}"
    );
    assert!(down["since"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(check("127.0.0.93", NAMESPACE, "branch")["answered"], true);
    assert_eq!(
        check("127.0.0.93", NAMESPACE, "internal")["answered"],
        false
    );
    assert_eq!(
        check("127.0.0.91", NAMESPACE, "internal")["reason"],
        "check passed"
    );
    assert_eq!(
        check("127.0.0.91", NAMESPACE, "internal")["certificate_expires"],
        "2040-01-01"
    );
    let output = status_command(control, &[]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("SPLITDNS WARNING - 1 address down\n")
            && text.contains(&format!("site dc1 127.0.0.92:{port}: DOWN, left out: connection refused"))
            && text.contains(&format!("{NAMESPACE}, autodiscover.contoso.example A in view internal: answering site dc1 (preferred)")),
        "{text}"
    );
    let metrics = get(control, "/metrics").2;
    assert!(
        metrics.lines().any(|l| l.starts_with("splitdns_health_up{")
            && l.contains("address=\"127.0.0.92\"")
            && l.contains("site=\"dc1\"")
            && l.ends_with(" 0")),
        "{metrics}"
    );
    // The page: views, zones, sites, addresses, states; rendered where Chromium is.
    let (code, _, page) = get(control, "/");
    assert_eq!(code, 200);
    for expected in [
        "View internal",
        "View branch",
        "View external",
        "contoso.example.",
        "Site dc1",
        "Site dc2",
        &format!("127.0.0.92:{port}"),
        "DOWN",
        "connection refused",
        "1 address down",
    ] {
        assert!(
            page.contains(expected),
            "no {expected:?} in the page:\n{page}"
        );
    }
    for _ in 0..20 {
        let _ = dns.ask(INTERNAL, NAMESPACE, RecordType::A);
        let _ = dns.ask(ip(5), NAMESPACE, RecordType::A);
        let _ = dns.ask(crate::common::EXTERNAL, NAMESPACE, RecordType::A);
    }
    if let Some(png) = screenshot(&format!("http://{control}/"), &dir, "status-page") {
        assert_real_png(&png);
    }

    // dc1 all down: the internal view fails over to dc2, in one log line for both names.
    servers[0].set_status(503);
    wait_status("internal failed over", &|s| {
        s["checked_names"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["view"] == "internal")
            .all(|n| n["state"] == "failed-over" && n["answering_site"] == "dc2")
    });
    let line = dns.wait_log(&["site dc1 is down: failing over to site dc2"]);
    assert!(
        line.contains(&format!(
            "{NAMESPACE}, autodiscover.contoso.example (view internal)"
        )),
        "{line}"
    );
    let text = String::from_utf8_lossy(&status_command(control, &[]).stdout).into_owned();
    assert!(
        text.starts_with(
            "SPLITDNS WARNING - 2 addresses down; 2 names failed over to another site\n"
        ) && text.contains("FAILED OVER: site dc1 down, answering site dc2"),
        "{text}"
    );

    // dc2 down too: every name fails open (one line), CRITICAL.
    servers[2].set_status(503);
    let status = wait_status("failing open", &|s| {
        s["checked_names"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["failing_open"] == true && n["state"] == "failing-open")
    });
    assert!(
        status["health_checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["answered"] == true && c["state"] == "down"),
        "{status:#}"
    );
    let line = dns.wait_log(&["every address is down: failing open"]);
    assert!(
        line.contains("(view internal)") && line.contains("(view branch)"),
        "{line}"
    );
    let output = status_command(control, &[]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("SPLITDNS CRITICAL - 2 checked names failing open; 3 addresses down\n"),
        "{text}"
    );
    // The metric an alert reads says it in the same words, per view, name and type.
    let metrics = get(control, "/metrics").2;
    for name in status["checked_names"].as_array().unwrap() {
        for (state, value) in [("failing-open", 1), ("ok", 0), ("servfail", 0)] {
            let line = format!(
                "splitdns_checked_name_state{{view={},name={},type={},state=\"{state}\"}} {value}\n",
                name["view"], name["name"], name["type"]
            );
            assert!(metrics.contains(&line), "no {line} in:\n{metrics}");
        }
    }

    // A dc1 server back: the internal view leaves fail-open for dc1 (failing back), the branch
    // view (preferring dc2, still down) for dc1 as its failover.
    servers[0].set_status(200);
    wait_status("no longer failing open", &|s| {
        s["checked_names"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["failing_open"] == false)
    });
    dns.wait_log(&["(view internal)", "no longer failing open"]);
    dns.wait_log(&[
        "(view branch)",
        "no longer failing open, answering site dc1",
    ]);
    let events = status_json(control)["health_events"].clone();
    for expected in [
        "site dc1 is down: failing over to site dc2",
        "failing open, answering all of them",
        "no longer failing open",
    ] {
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["message"].as_str().unwrap().contains(expected)),
            "no event {expected:?}: {events:#}"
        );
    }
    // Each change is one line, however many names it moved.
    let log = dns.log_text();
    assert_eq!(log.matches("failing over to site dc2").count(), 1, "{log}");
    assert_eq!(
        log.matches("failing open, answering all").count(),
        1,
        "{log}"
    );
}
