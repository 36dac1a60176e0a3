//! DANE, judged with real TLS servers on loopback addresses (127.0.0.121 and up; never anything
//! else) and the real `splitdns` binary: a signed internal view publishes TLSA records for
//! `mail.contoso.example`, whose address is such a server, and `[dane]` compares them every
//! half second. The servers are small tokio-rustls tasks whose certificate the test replaces
//! while they run; the SMTP ones speak just enough SMTP (greeting, EHLO, STARTTLS) before TLS.
//! Each test makes its own CAs and certificates (rcgen). `splitdns tlsa` is compared with
//! openssl's own computation of the digest where openssl is installed.
//!
//! Waits are bounded: the judged one (a replaced certificate reported) by one check interval
//! plus the check's timeout plus [`SLACK`] for a machine busy with other tests, the others by
//! [`GENEROUS`].

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, PublicKeyData,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_util::sync::CancellationToken;

use crate::common::{Daemon, find_program, free_port_on, scratch_dir, splitdns};
use crate::page::{get, status_command, status_json};

/// The check timing every test configures.
const INTERVAL: Duration = Duration::from_millis(500);
const CHECK_TIMEOUT: Duration = Duration::from_millis(400);
/// Added to the judged bound: scheduling delay on a 2-core machine running the rest of the
/// suite (as in the health tests).
const SLACK: Duration = Duration::from_millis(3000);
/// Bound for waits that are not judged (start-up, first checks, reloads).
const GENEROUS: Duration = Duration::from_secs(15);
const HOST: &str = "mail.contoso.example";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A test CA, with the key that makes it and its SubjectPublicKeyInfo (as rcgen writes it).
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    spki: Vec<u8>,
}

/// A server certificate, the chain a server presents with it (its CA's certificate too), and
/// what the test compares against.
#[derive(Clone)]
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    pem: String,
    spki: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("splitdns DANE test CA {name}"));
        let key = KeyPair::generate().unwrap();
        let spki = key.subject_public_key_info();
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
            spki,
        }
    }

    /// A certificate for [`HOST`] with a key of its own.
    fn leaf(&self) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![HOST.to_string()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        Leaf {
            chain: vec![cert.der().clone(), self.issuer.der().clone()],
            key: key.serialize_der(),
            pem: cert.pem(),
            spki: key.subject_public_key_info(),
        }
    }
}

/// The SHA-256 of `data` in capitals, as `splitdns tlsa` and `dig` write TLSA data.
fn sha256(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The runtime the test servers run on.
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

fn acceptor(leaf: &Leaf) -> TlsAcceptor {
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
    TlsAcceptor::from(Arc::new(config))
}

/// A TLS server on one loopback address whose certificate can be replaced while it runs; with
/// `smtp`, it speaks SMTP up to STARTTLS first. Counts finished handshakes and keeps the SMTP
/// commands it was sent.
struct Server {
    acceptor: Arc<Mutex<TlsAcceptor>>,
    handshakes: Arc<AtomicU32>,
    commands: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
}

impl Server {
    fn start(addr: SocketAddr, leaf: &Leaf, smtp: bool) -> Server {
        let listener =
            std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener.set_nonblocking(true).unwrap();
        let server = Server {
            acceptor: Arc::new(Mutex::new(acceptor(leaf))),
            handshakes: Arc::default(),
            commands: Arc::default(),
            stop: CancellationToken::new(),
        };
        let (acceptor, handshakes, commands, stop) = (
            server.acceptor.clone(),
            server.handshakes.clone(),
            server.commands.clone(),
            server.stop.clone(),
        );
        runtime().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let stream = tokio::select! {
                    () = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let acceptor = acceptor.lock().unwrap().clone();
                let (handshakes, commands) = (handshakes.clone(), commands.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        GENEROUS,
                        serve(stream, acceptor, smtp, handshakes, commands),
                    )
                    .await;
                });
            }
        });
        server
    }

    /// From the next connection on, present `leaf`.
    fn present(&self, leaf: &Leaf) {
        *self.acceptor.lock().unwrap() = acceptor(leaf);
    }

    fn handshakes(&self) -> u32 {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// One connection: SMTP up to STARTTLS (with `smtp`), the handshake, then whatever the client
/// sends until it closes.
async fn serve(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    smtp: bool,
    handshakes: Arc<AtomicU32>,
    commands: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let stream = if smtp {
        let mut reader = BufReader::new(stream);
        reader
            .get_mut()
            .write_all(b"220 smtp.test ESMTP ready\r\n")
            .await?;
        // A client that sends anything but EHLO and STARTTLS is not ours: a few lines at most.
        for _ in 0..4 {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_string();
            commands.lock().unwrap().push(command.clone());
            let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-smtp.test\r\n250-SIZE 36700160\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
                "STARTTLS" => b"220 2.0.0 SMTP server ready\r\n",
                _ => b"500 5.5.2 unrecognized command\r\n",
            };
            reader.get_mut().write_all(reply).await?;
            if verb == "STARTTLS" {
                break;
            }
        }
        reader.into_inner()
    } else {
        stream
    };
    let mut tls = acceptor.accept(stream).await?;
    handshakes.fetch_add(1, Ordering::SeqCst);
    let mut buf = [0u8; 1024];
    while tls.read(&mut buf).await? > 0 {}
    Ok(())
}

/// The zones and config of a test: contoso.example signed, the internal view (127.0.0.2)
/// holding `mail` at `address` and `tlsa` (zone file lines) in its override file, `[dane]` on
/// that view with the test timing and `dane_extra`.
fn write_files(dir: &Path, address: IpAddr, tlsa: &str, dane_extra: &str) {
    fs::create_dir_all(dir.join("state")).unwrap();
    fs::write(
        dir.join("contoso.example.zone"),
        "$ORIGIN contoso.example.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n\
         \x20 NS ns1\nns1 A 203.0.113.53\nmail A 203.0.113.10\n",
    )
    .unwrap();
    write_internal(dir, address, tlsa);
    fs::write(
        dir.join("splitdns.toml"),
        format!(
            "state_dir = \"state\"\n\n\
             [[view]]\nname = \"internal\"\nclients = [\"127.0.0.2/32\"]\n\n\
             [[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\", \"::/0\"]\n\n\
             [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\ndnssec = true\n\
             [zone.views]\ninternal = \"internal.zone\"\n\n\
             [dane]\nviews = [\"internal\"]\ninterval = {}\ntimeout = {}\n{dane_extra}",
            INTERVAL.as_secs_f64(),
            CHECK_TIMEOUT.as_secs_f64()
        ),
    )
    .unwrap();
}

/// The internal view's override file: `mail` at `address`, and `tlsa`.
fn write_internal(dir: &Path, address: IpAddr, tlsa: &str) {
    fs::write(
        dir.join("internal.zone"),
        format!("$ORIGIN contoso.example.\nmail 300 A {address}\n{tlsa}"),
    )
    .unwrap();
}

/// `_PORT._tcp.mail 300 TLSA …` for each record (`3 1 1 HEX`).
fn tlsa_lines(port: u16, records: &[&str]) -> String {
    records
        .iter()
        .map(|record| format!("_{port}._tcp.mail 300 TLSA {record}\n"))
        .collect()
}

/// The value of `splitdns_dane_match` for the TLSA owner at `port` and `address`, if /metrics
/// has it.
fn dane_match(control: SocketAddr, port: u16, address: IpAddr) -> Option<i64> {
    let (code, _, body) = get(control, "/metrics");
    assert_eq!(code, 200, "{body}");
    let name = format!("name=\"_{port}._tcp.{HOST}\"");
    let address = format!("address=\"{address}\"");
    body.lines()
        .filter(|line| line.starts_with("splitdns_dane_match{"))
        .find(|line| line.contains(&name) && line.contains(&address))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

/// The one DANE check of `/status`.
fn dane_check(control: SocketAddr) -> serde_json::Value {
    let status = status_json(control);
    let checks = status["dane_checks"].as_array().unwrap().clone();
    assert_eq!(checks.len(), 1, "{status:#}");
    checks[0].clone()
}

/// Polls until `done` holds, failing after `within` with `what` and the daemon's log.
fn wait(daemon: &Daemon, what: &str, within: Duration, done: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if done() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{what}: not within {within:?}\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server presenting the certificate its `3 1 1` record pins is reported matching: metric 1,
/// status OK. Its certificate replaced by one with a new key (the renewal nobody told DNS
/// about), the mismatch is reported within one check interval (plus the check's timeout): the
/// metric goes to 0, `splitdns status` says WARNING and names the record to publish, and so do
/// the log, the page and `/status`. Publishing that record (a reload) makes it match again at
/// once, from the chain already seen.
#[test]
fn a_replaced_certificate_is_reported_within_one_interval() {
    let ca = Ca::new("replaced");
    let (before, after) = (ca.leaf(), ca.leaf());
    let address = ip(121);
    let port = free_port_on(&[address]);
    let server = Server::start(SocketAddr::new(address, port), &before, false);
    let dir = scratch_dir("dane-replaced");
    let pinned = format!("3 1 1 {}", sha256(&before.spki));
    write_files(&dir, address, &tlsa_lines(port, &[pinned.as_str()]), "");
    let daemon = Daemon::serve(dir.join("splitdns.toml")).control().start();
    let control = daemon.control();

    wait(&daemon, "the pinned certificate matches", GENEROUS, || {
        dane_match(control, port, address) == Some(1)
    });
    let check = dane_check(control);
    assert_eq!(check["state"], "match", "{check:#}");
    assert_eq!(check["view"], "internal");
    assert_eq!(check["starttls"], "tls");
    assert_eq!(check["reason"], format!("matches {pinned}"));
    let output = status_command(control, &[]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("1 TLSA check matching"), "{text}");
    daemon.wait_log(&["dane:", &format!("matches TLSA {pinned}")]);

    let seen = server.handshakes();
    server.present(&after);
    let replaced = Instant::now();
    let bound = INTERVAL + CHECK_TIMEOUT + SLACK;
    wait(&daemon, "the replaced certificate reported", bound, || {
        dane_match(control, port, address) == Some(0)
    });
    let took = replaced.elapsed();
    println!(
        "replaced certificate reported after {took:?} (interval {INTERVAL:?}, timeout {CHECK_TIMEOUT:?}, bound {bound:?})"
    );
    // The server counts a handshake once its accept returns, which may be after the client,
    // done with its side, has reported.
    wait(
        &daemon,
        "the server counted the new handshake",
        GENEROUS,
        || server.handshakes() > seen,
    );
    let next = format!("3 1 1 {}", sha256(&after.spki));
    let check = dane_check(control);
    assert_eq!(check["state"], "mismatch", "{check:#}");
    assert_eq!(check["presented"][0], next.as_str(), "{check:#}");
    let output = status_command(control, &[]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("SPLITDNS WARNING - 1 DANE mismatch"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "WARNING: _{port}._tcp.{HOST} (view internal) at {address}:{port}: no record matches the presented certificate; it presents {next}"
        )),
        "{text}"
    );
    let line = daemon.wait_log(&["dane:", "matches none of its TLSA records"]);
    assert!(line.contains("WARN") && line.contains(&next), "{line}");
    let (_, _, page) = get(control, "/");
    assert!(page.contains("MISMATCH") && page.contains(&next), "{page}");

    // The fix: the new record published. Judged at the reload, from the chain already seen.
    write_internal(&dir, address, &tlsa_lines(port, &[next.as_str()]));
    let reload = splitdns()
        .args(["reload", "--control", &control.to_string()])
        .output()
        .unwrap();
    assert!(reload.status.success(), "{reload:?}");
    wait(&daemon, "the published record matches", GENEROUS, || {
        dane_match(control, port, address) == Some(1)
    });
    daemon.wait_log(&["dane:", &format!("matches TLSA {next} again")]);
}

/// An SMTP server's certificate after STARTTLS, as `splitdns tlsa` prints it: `3 1 1` for the
/// server's key and `2 1 1` for the CA that issued it, each the digest openssl computes from the
/// same certificate, owner `_PORT._tcp.NAME.` lowercased. The server was spoken to as SMTP
/// wants (EHLO with an address literal, then STARTTLS). An address without `--name` is refused.
#[test]
fn the_tlsa_command_prints_what_openssl_computes() {
    let ca = Ca::new("command");
    let leaf = ca.leaf();
    let address = ip(122);
    let port = free_port_on(&[address]);
    let server = Server::start(SocketAddr::new(address, port), &leaf, true);
    let output = splitdns()
        .args([
            "tlsa",
            &format!("{address}:{port}"),
            "--starttls",
            "smtp",
            "--name",
            "Mail.Contoso.Example",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{output:?}");
    let record = |fields: &str| -> String {
        let prefix = format!("_{port}._tcp.{HOST}. IN TLSA {fields} ");
        text.lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {prefix:?} line:\n{text}"))
            .to_string()
    };
    let (ee, ta) = (record("3 1 1"), record("2 1 1"));
    assert_eq!(ee, sha256(&leaf.spki), "{text}");
    assert_eq!(ta, sha256(&ca.spki), "{text}");
    assert!(text.contains("(STARTTLS)"), "{text}");
    // The server may finish its side of the handshake after the command has ended.
    let deadline = Instant::now() + GENEROUS;
    while server.handshakes() == 0 {
        assert!(Instant::now() < deadline, "the server saw no handshake");
        std::thread::sleep(Duration::from_millis(10));
    }
    let commands = server.commands.lock().unwrap().clone();
    assert_eq!(commands, ["EHLO [127.0.0.1]", "STARTTLS"]);

    match find_program("openssl") {
        None => println!(
            "skipped the comparison with openssl: openssl is not installed (the digests were checked against the keys rcgen made)"
        ),
        Some(openssl) => {
            let dir = scratch_dir("dane-command");
            fs::write(dir.join("leaf.pem"), &leaf.pem).unwrap();
            fs::write(dir.join("ca.pem"), ca.issuer.pem()).unwrap();
            let openssl_digest = |file: &str| -> String {
                let pipeline = format!(
                    "{0} x509 -in {file} -pubkey -noout | {0} pkey -pubin -outform DER | {0} dgst -sha256",
                    openssl.display()
                );
                let out = Command::new("sh")
                    .arg("-c")
                    .arg(pipeline)
                    .current_dir(&dir)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .rsplit(' ')
                    .next()
                    .unwrap()
                    .to_ascii_uppercase()
            };
            assert_eq!(ee, openssl_digest("leaf.pem"), "{text}");
            assert_eq!(ta, openssl_digest("ca.pem"), "{text}");
        }
    }

    let output = splitdns()
        .args(["tlsa", &format!("{address}:{port}")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--name"),
        "{output:?}"
    );
}

/// STARTTLS in the health stage, on a port `smtp_ports` names, and the renewal done right: the
/// next key's `3 1 1` published beside the current one before the certificate is replaced. The
/// check matches the current record, then, once the server presents the new certificate, the
/// next one — never a mismatch — and says so in one log line.
#[test]
fn a_prepublished_next_key_carries_an_smtp_server_through_its_renewal() {
    let ca = Ca::new("renewal");
    let (current, renewed) = (ca.leaf(), ca.leaf());
    let address = ip(123);
    let port = free_port_on(&[address]);
    let server = Server::start(SocketAddr::new(address, port), &current, true);
    let dir = scratch_dir("dane-renewal");
    let (now, next) = (
        format!("3 1 1 {}", sha256(&current.spki)),
        format!("3 1 1 {}", sha256(&renewed.spki)),
    );
    write_files(
        &dir,
        address,
        &tlsa_lines(port, &[now.as_str(), next.as_str()]),
        &format!("smtp_ports = [{port}]\n"),
    );
    let daemon = Daemon::serve(dir.join("splitdns.toml")).control().start();
    let control = daemon.control();
    wait(&daemon, "the current record matches", GENEROUS, || {
        dane_check(control)["reason"] == format!("matches {now}")
    });
    assert_eq!(dane_check(control)["starttls"], "smtp");
    assert!(
        server
            .commands
            .lock()
            .unwrap()
            .iter()
            .any(|c| c == "STARTTLS")
    );

    server.present(&renewed);
    wait(&daemon, "the next record matches", GENEROUS, || {
        let check = dane_check(control);
        assert_ne!(check["state"], "mismatch", "{check:#}");
        check["reason"] == format!("matches {next}")
    });
    assert_eq!(dane_match(control, port, address), Some(1));
    daemon.wait_log(&[
        "dane:",
        &format!("now matches TLSA {next} (matched {now} before)"),
    ]);
    assert!(!daemon.log_text().contains("matches none"));
}

/// A `2 1 1` record pins the issuing CA: a renewal by the same CA (a new key) still matches; a
/// certificate from another CA does not.
#[test]
fn a_ca_pin_survives_a_renewal_by_the_same_ca_only() {
    let (ca, other) = (Ca::new("pinned"), Ca::new("other"));
    let address = ip(124);
    let port = free_port_on(&[address]);
    let server = Server::start(SocketAddr::new(address, port), &ca.leaf(), false);
    let dir = scratch_dir("dane-ca-pin");
    let pin = format!("2 1 1 {}", sha256(&ca.spki));
    write_files(&dir, address, &tlsa_lines(port, &[pin.as_str()]), "");
    let daemon = Daemon::serve(dir.join("splitdns.toml")).control().start();
    let control = daemon.control();
    wait(&daemon, "the CA pin matches", GENEROUS, || {
        dane_match(control, port, address) == Some(1)
    });
    let seen = server.handshakes();
    server.present(&ca.leaf());
    wait(&daemon, "two more checks", GENEROUS, || {
        server.handshakes() >= seen + 2
    });
    assert_eq!(dane_match(control, port, address), Some(1));
    assert_eq!(dane_check(control)["reason"], format!("matches {pin}"));
    server.present(&other.leaf());
    wait(
        &daemon,
        "another CA's certificate reported",
        GENEROUS,
        || dane_match(control, port, address) == Some(0),
    );
}
