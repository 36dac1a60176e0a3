//! DNS over TLS and DNS over HTTPS, against the real binary on ephemeral loopback ports with a
//! test CA: real clients (kdig, BIND's dig, curl) from the inside source 127.0.0.2 and the outside
//! 127.0.0.3 get their views; a DoH request's forwarded client address counts only from a trusted
//! proxy; a certificate replaced on disk is presented to the next connection while an
//! established one keeps answering; pipelined queries on one DoT connection; and hostile input —
//! bytes that are not TLS, a handshake left half done, malformed DoH requests, oversized headers
//! — is refused while UDP keeps answering. A client that is not installed is skipped, saying so.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use rcgen::{CertificateParams, CertifiedIssuer, KeyPair, SanType, date_time_ymd};
use socket2::{Domain, Protocol, Socket, Type};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{
    ClientConfig, ClientConnection, HandshakeKind, RootCertStore, StreamOwned, crypto::ring,
};

use crate::common::{
    self, Daemon, EXTERNAL, INTERNAL, Via, find_program, fixture_dir, scratch_copy, splitdns,
};

/// The name the test certificate is for, and the config's `[tls] name`.
const NAME: &str = "dns.contoso.example";
/// The reverse proxy the config trusts (in no view's prefix but the catch-all).
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
/// The inside's and the outside's answers for mail.contoso.example A in the `split` fixture.
const INSIDE: [&str; 3] = ["10.0.0.11", "10.0.0.12", "10.0.0.13"];
const OUTSIDE: [&str; 1] = ["203.0.113.10"];

/// A test CA and the server certificates it signs, all for [`NAME`] and 127.0.0.1.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    key: KeyPair,
}

impl Pki {
    fn new() -> Pki {
        let ca = crate::common::test_ca();
        Pki {
            ca,
            key: KeyPair::generate().unwrap(),
        }
    }

    /// A new certificate (a new serial) for the one server key, as a renewal that keeps the key.
    fn leaf(&self) -> (String, CertificateDer<'static>) {
        let mut params = CertificateParams::new(vec![NAME.to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 1, 1);
        let cert = params.signed_by(&self.key, &self.ca).unwrap();
        (cert.pem(), cert.der().clone())
    }
}

/// The daemon on the `split` fixture with `[tls]` on ephemeral ports.
struct Setup {
    daemon: Daemon,
    dot: SocketAddr,
    doh: SocketAddr,
    pki: Pki,
    /// The certificate served at start.
    leaf: CertificateDer<'static>,
    dir: PathBuf,
}

impl Setup {
    /// Starts it, with `extra` lines added to `[tls]`.
    fn start(name: &str, extra: &str) -> Setup {
        let dir = scratch_copy(name, &fixture_dir("split"));
        // A name whose answer is a loopback address, for curl to resolve by DoH and then
        // connect to (and be refused): no test reaches beyond loopback. curl asks from
        // 127.0.0.1, which the inside takes here (a loopback address in the outside's answers
        // would be a check error).
        append(
            &dir.join("contoso.example.internal.zone"),
            "curl A 127.0.0.12\n",
        );
        let config = dir.join("splitdns.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.replace("\"127.0.0.2/32\"]", "\"127.0.0.2/32\", \"127.0.0.1/32\"]");
        std::fs::write(&config, text).unwrap();
        let pki = Pki::new();
        let (cert_pem, leaf) = pki.leaf();
        std::fs::write(dir.join("ca.pem"), pki.ca.pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), pki.key.serialize_pem()).unwrap();
        append(
            &dir.join("splitdns.toml"),
            &format!(
                "\n[tls]\ncertificate = \"cert.pem\"\nkey = \"key.pem\"\nname = \"{NAME}\"\n\
                 dot_listen = [\"127.0.0.1:0\"]\ndoh_listen = [\"127.0.0.1:0\"]\n\
                 trusted_proxies = [\"{PROXY}\"]\n{extra}"
            ),
        );
        let daemon = Daemon::serve(dir.join("splitdns.toml")).control().start();
        let after = |needle: &str| -> SocketAddr {
            let line = daemon.wait_log(&[needle]);
            let rest = line.split(needle).nth(1).unwrap();
            rest.split(['/', ' ']).next().unwrap().parse().unwrap()
        };
        let dot = after("DNS over TLS on ");
        let doh = after("DNS over HTTPS on https://");
        Setup {
            daemon,
            dot,
            doh,
            pki,
            leaf,
            dir,
        }
    }

    fn ca(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// The server still answers over UDP, and from the right view.
    fn assert_udp_answers(&self) {
        let reply = common::ask(
            &self.daemon.server(),
            INTERNAL,
            Via::Udp,
            "mail.contoso.example.",
            RecordType::A,
        );
        assert_eq!(common::sorted(reply.answer()).len(), 3, "{}", reply.dump());
    }
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Runs a client program, `None` (saying so) when it is not installed.
fn run(program: &str, args: &[String]) -> Option<std::process::Output> {
    let Some(path) = find_program(program) else {
        println!("skipped the {program} cases: {program} is not installed (.ci/run installs it)");
        return None;
    };
    Some(
        Command::new(path)
            .args(args)
            .output()
            .expect("run the client"),
    )
}

/// The `+short` lines of a dig-like output, sorted.
fn short(output: &std::process::Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .collect();
    lines.sort();
    lines
}

/// kdig and dig, over TLS and over HTTPS (POST and GET), from the inside and the outside: each
/// gets its own view's answer, the certificate checked against the test CA and the name. The
/// metrics count the queries under the `dot` and `doh` transports.
#[test]
fn real_clients_get_their_views_over_tls_and_https() {
    let setup = Setup::start("dot-clients", "\n[query_log]\npath = \"queries.jsonl\"\n");
    let ca = setup.ca();
    for (from, expected) in [(INTERNAL, &INSIDE[..]), (EXTERNAL, &OUTSIDE[..])] {
        let common = |port: u16| -> Vec<String> {
            vec![
                "-b".into(),
                from.to_string(),
                "@127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ]
        };
        let kdig = [
            (setup.dot.port(), vec!["+tls".to_string()]),
            (setup.doh.port(), vec!["+https".to_string()]),
            (setup.doh.port(), vec!["+https".into(), "+https-get".into()]),
        ];
        for (port, transport) in kdig {
            let mut args = common(port);
            args.extend(transport.clone());
            args.extend([
                format!("+tls-ca={ca}"),
                format!("+tls-hostname={NAME}"),
                "+short".into(),
                "+timeout=3".into(),
                "+retry=0".into(),
                "mail.contoso.example".into(),
                "A".into(),
            ]);
            if let Some(out) = run("kdig", &args) {
                assert_eq!(
                    short(&out),
                    expected,
                    "kdig {transport:?} from {from}: {out:?}"
                );
            }
        }
        let dig = [
            (setup.dot.port(), "+tls"),
            (setup.doh.port(), "+https"),
            (setup.doh.port(), "+https-get"),
        ];
        for (port, transport) in dig {
            let mut args = common(port);
            args.extend([
                transport.to_string(),
                format!("+tls-ca={ca}"),
                format!("+tls-hostname={NAME}"),
                "+short".into(),
                "+time=3".into(),
                "+tries=1".into(),
                "mail.contoso.example".into(),
                "A".into(),
            ]);
            if let Some(out) = run("dig", &args) {
                assert_eq!(
                    short(&out),
                    expected,
                    "dig {transport} from {from}: {out:?}"
                );
            }
        }
    }
    // curl resolves a name by DoH (HTTP/2 POST) and connects to what it got: a loopback
    // address (of the inside view, which 127.0.0.1 gets here), which refuses.
    let doh_url = format!("https://{NAME}:{}/dns-query", setup.doh.port());
    let args: Vec<String> = [
        "-sv",
        "--cacert",
        &ca,
        "--resolve",
        &format!("{NAME}:{}:127.0.0.1", setup.doh.port()),
        "--doh-url",
        &doh_url,
        "--connect-timeout",
        "3",
        "http://curl.contoso.example:1/",
    ]
    .map(String::from)
    .to_vec();
    if let Some(out) = run("curl", &args) {
        let verbose = String::from_utf8_lossy(&out.stderr);
        assert!(
            verbose.contains("DoH A: 127.0.0.12"),
            "curl did not resolve through DoH:\n{verbose}"
        );
    }
    let (_, metrics) = crate::control::http(setup.daemon.control(), "GET", "/metrics");
    if find_program("kdig").is_some() || find_program("dig").is_some() {
        for transport in ["dot", "doh"] {
            assert!(
                metrics.contains(&format!("transport=\"{transport}\"")),
                "no {transport} queries counted:\n{metrics}"
            );
            // The query log is written by a thread of its own: give it a moment.
            let needle = format!("\"transport\":\"{transport}\"");
            let deadline = Instant::now() + Duration::from_secs(5);
            while !std::fs::read_to_string(setup.dir.join("queries.jsonl"))
                .unwrap_or_default()
                .contains(&needle)
            {
                assert!(
                    Instant::now() < deadline,
                    "no {transport} line in the query log"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    setup.assert_udp_answers();
}

/// Many requests on one HTTP/2 connection at once (curl multiplexing 60 GETs, then 60 POSTs):
/// every one answered, from the right view, with each response whole — whether the responses
/// left together in one write (GET) or each as it was answered (a connection that carried a
/// POST).
#[test]
fn many_requests_on_one_http2_connection_are_all_answered() {
    let setup = Setup::start("doh-multiplexed", "");
    let Some(_) = find_program("curl") else {
        println!("skipped: curl is not installed");
        return;
    };
    for (from, expected) in [(INTERNAL, &INSIDE[..]), (EXTERNAL, &OUTSIDE[..])] {
        // Each transfer's options (curl's `--next` starts a transfer with none of them).
        let transfer = [
            "-s".to_string(),
            "--http2".into(),
            "--max-time".into(),
            "10".into(),
            "--interface".into(),
            from.to_string(),
            "--cacert".into(),
            setup.ca(),
            "--resolve".into(),
            format!("{NAME}:{}:127.0.0.1", setup.doh.port()),
        ];
        for method in ["GET", "POST"] {
            let mut args: Vec<String> = ["--parallel", "--parallel-max", "60"]
                .map(String::from)
                .to_vec();
            args.extend(transfer.iter().cloned());
            let mut queries = Vec::new();
            for i in 0..60u16 {
                let mut query = common::query("mail.contoso.example.", RecordType::A);
                query.metadata.id = i;
                let wire = query.to_vec().unwrap();
                let out = setup.dir.join(format!("answer-{method}-{from}-{i}.bin"));
                let _ = std::fs::remove_file(&out);
                let url = format!("https://{NAME}:{}/dns-query", setup.doh.port());
                if method == "GET" {
                    args.push(format!(
                        "{url}?dns={}",
                        data_encoding::BASE64URL_NOPAD.encode(&wire)
                    ));
                } else {
                    let body = setup.dir.join(format!("query-{i}.bin"));
                    std::fs::write(&body, &wire).unwrap();
                    args.extend([
                        "-H".into(),
                        "content-type: application/dns-message".into(),
                        "--data-binary".into(),
                        format!("@{}", body.display()),
                        url,
                    ]);
                }
                args.extend(["-o".into(), out.display().to_string()]);
                if method == "POST" && i < 59 {
                    args.push("--next".into());
                    args.extend(transfer.iter().cloned());
                }
                queries.push((query, out));
            }
            let started = Instant::now();
            let out = run("curl", &args).expect("curl");
            assert!(
                out.status.success(),
                "curl {method} from {from}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for (query, file) in &queries {
                let answer = std::fs::read(file)
                    .unwrap_or_else(|e| panic!("{method} {}: {e}", file.display()));
                let reply = common::decode_reply(query, &answer);
                let addresses: Vec<String> = common::sorted(reply.answer())
                    .iter()
                    .filter_map(|record| record.rsplit(' ').next().map(String::from))
                    .collect();
                assert_eq!(
                    addresses, expected,
                    "{method} from {from}, ID {}",
                    query.metadata.id
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "60 {method} requests took {:?}",
                started.elapsed()
            );
        }
    }
    setup.assert_udp_answers();
}

/// curl POSTing `query` to the DoH listener from `from`, with `headers`: the status, and when it
/// is 200 the answer's rcode and sorted records.
fn curl_doh(
    setup: &Setup,
    from: IpAddr,
    query: &hickory_proto::op::Message,
    headers: &[&str],
) -> Option<(u16, Option<ResponseCode>, Vec<String>)> {
    let body = setup.dir.join("query.bin");
    std::fs::write(&body, query.to_vec().unwrap()).unwrap();
    let out_file = setup.dir.join("answer.bin");
    let _ = std::fs::remove_file(&out_file);
    let mut args: Vec<String> = [
        "-s",
        "--interface",
        &from.to_string(),
        "--cacert",
        &setup.ca(),
        "--resolve",
        &format!("{NAME}:{}:127.0.0.1", setup.doh.port()),
        "-H",
        "content-type: application/dns-message",
        "--data-binary",
        &format!("@{}", body.display()),
        "-o",
        &out_file.display().to_string(),
        "-w",
        "%{http_code}",
    ]
    .map(String::from)
    .to_vec();
    for header in headers {
        args.extend(["-H".to_string(), header.to_string()]);
    }
    args.push(format!("https://{NAME}:{}/dns-query", setup.doh.port()));
    let out = run("curl", &args)?;
    let status: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    if status != 200 {
        return Some((status, None, Vec::new()));
    }
    let reply = common::decode_reply(query, &std::fs::read(&out_file).unwrap());
    Some((status, Some(reply.rcode()), common::sorted(reply.answer())))
}

/// The client a DoH request is answered for: the connection's source, unless that source is a
/// trusted proxy, whose `X-Forwarded-For` or `Forwarded: for=` then names the client. A header
/// from anyone else changes nothing.
#[test]
fn forwarded_client_address_only_from_a_trusted_proxy() {
    let setup = Setup::start("dot-proxy", "");
    let inside = |records: &[String]| records.iter().all(|r| r.contains(" 10.0.0.1"));
    let outside = |records: &[String]| records.iter().all(|r| r.contains("203.0.113.10"));
    let cases: [(IpAddr, &[&str], bool); 6] = [
        (PROXY, &["x-forwarded-for: 127.0.0.2"], true),
        (PROXY, &["forwarded: for=127.0.0.2;proto=https"], true),
        (PROXY, &[], false),
        // The left entry was written by the client itself: only the proxy's own one counts.
        (PROXY, &["x-forwarded-for: 127.0.0.2, 127.0.0.3"], false),
        (EXTERNAL, &["x-forwarded-for: 127.0.0.2"], false),
        (INTERNAL, &["forwarded: for=127.0.0.3"], true),
    ];
    let query = common::query("mail.contoso.example.", RecordType::A);
    for (from, headers, expect_inside) in cases {
        let Some((status, _, records)) = curl_doh(&setup, from, &query, headers) else {
            return;
        };
        assert_eq!(status, 200, "from {from} with {headers:?}");
        assert!(!records.is_empty(), "from {from} with {headers:?}");
        let view_ok = if expect_inside {
            inside(&records)
        } else {
            outside(&records)
        };
        assert!(view_ok, "from {from} with {headers:?}: {records:?}");
    }
}

/// The TLS client configuration of our own client (rustls): trusting only the test CA, offering
/// ALPN `dot`, remembering sessions for resumption.
fn client_config(setup: &Setup) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(setup.pki.ca.der().clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"dot".to_vec()];
    Arc::new(config)
}

/// A DoT connection from `from`, handshake done.
fn dot_client(setup: &Setup, from: IpAddr) -> StreamOwned<ClientConnection, TcpStream> {
    dot_client_with(setup, from, client_config(setup))
}

fn dot_client_with(
    setup: &Setup,
    from: IpAddr,
    config: Arc<ClientConfig>,
) -> StreamOwned<ClientConnection, TcpStream> {
    tls_client(setup.dot, from, config, b"dot")
}

/// A TLS connection to `to` from `from` that has agreed on `alpn`, handshake done.
fn tls_client(
    to: SocketAddr,
    from: IpAddr,
    config: Arc<ClientConfig>,
    alpn: &[u8],
) -> StreamOwned<ClientConnection, TcpStream> {
    let connection = ClientConnection::new(config, ServerName::try_from(NAME).unwrap()).unwrap();
    let mut stream = StreamOwned::new(connection, connect_from(from, to));
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("TLS handshake");
    }
    assert_eq!(stream.conn.alpn_protocol(), Some(alpn));
    stream
}

/// A TCP connection to `to` from the loopback address `from`.
fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.bind(&SocketAddr::new(from, 0).into()).unwrap();
    socket.connect(&to.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Sends each query framed, all in one write (pipelined), and reads as many framed answers.
fn pipelined(stream: &mut impl ReadWrite, queries: &[hickory_proto::op::Message]) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for query in queries {
        bytes.extend(common::framed(&query.to_vec().unwrap()));
    }
    stream.write_all(&bytes).unwrap();
    stream.flush().unwrap();
    (0..queries.len())
        .map(|_| {
            let mut length = [0u8; 2];
            stream.read_exact(&mut length).expect("an answer's length");
            let mut answer = vec![0u8; u16::from_be_bytes(length) as usize];
            stream.read_exact(&mut answer).expect("an answer");
            answer
        })
        .collect()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The certificate is read again when its file is replaced: the next connection is presented
/// the new one, while a connection made before keeps its own and goes on answering — pipelined
/// queries included, each answered from the connection's source's view. A file that is no
/// certificate refuses the reload and leaves the one in use.
#[test]
fn a_replaced_certificate_is_presented_to_the_next_connection() {
    let setup = Setup::start("dot-renewal", "");
    let mut before = dot_client(&setup, INTERNAL);
    let presented = |stream: &StreamOwned<ClientConnection, TcpStream>| {
        stream.conn.peer_certificates().unwrap()[0].clone()
    };
    assert_eq!(presented(&before), setup.leaf);
    let queries = [
        common::query("mail.contoso.example.", RecordType::A),
        common::query("www.contoso.example.", RecordType::A),
    ];
    let answers = pipelined(&mut before, &queries);
    for (query, answer) in queries.iter().zip(&answers) {
        let reply = common::decode_reply(query, answer);
        assert!(!reply.answer().is_empty(), "{}", reply.dump());
    }
    assert_eq!(
        common::sorted(common::decode_reply(&queries[0], &answers[0]).answer()).len(),
        3,
        "the inside's three addresses"
    );

    // A broken file in its place refuses the reload, saying why: the certificate in use stays.
    let temporary = setup.dir.join("cert.pem.new");
    std::fs::write(&temporary, "not a certificate\n").unwrap();
    std::fs::rename(&temporary, setup.dir.join("cert.pem")).unwrap();
    setup.daemon.wait_log(&[
        "reload on file change: refused",
        "[tls] certificate",
        "no PEM CERTIFICATE block",
    ]);
    assert_eq!(presented(&dot_client(&setup, EXTERNAL)), setup.leaf);
    // `splitdns status` still asks the running server (the control address is all it reads of
    // the config), which reports the refused reload.
    let status = common::splitdns()
        .args(["status", "--config"])
        .arg(setup.dir.join("splitdns.toml"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&status.stdout);
    assert!(
        !printed.starts_with("SPLITDNS UNKNOWN") && printed.contains("refused"),
        "status with a broken certificate file:\n{printed}{}",
        String::from_utf8_lossy(&status.stderr)
    );

    // Renewed with the same key, saved by rename as certbot and editors do.
    let (renewed_pem, renewed) = setup.pki.leaf();
    let temporary = setup.dir.join("cert.pem.new");
    std::fs::write(&temporary, renewed_pem).unwrap();
    std::fs::rename(&temporary, setup.dir.join("cert.pem")).unwrap();
    let presented_within_10s = |expected: &_, how: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let after = dot_client(&setup, EXTERNAL);
            if presented(&after) == *expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the certificate {how} was not presented within 10 s:\n{}",
                setup.daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    presented_within_10s(&renewed, "renewed by rename");
    // certbot's layout: the configured path a symlink into archive/, swapped to a new target;
    // then a renewal written through the link, which changes only the target in archive/.
    let archive = setup.dir.join("archive");
    std::fs::create_dir(&archive).unwrap();
    let (second_pem, second) = setup.pki.leaf();
    std::fs::write(archive.join("cert2.pem"), second_pem).unwrap();
    let link = setup.dir.join("cert.pem.link");
    std::os::unix::fs::symlink(archive.join("cert2.pem"), &link).unwrap();
    std::fs::rename(&link, setup.dir.join("cert.pem")).unwrap();
    presented_within_10s(&second, "behind a swapped symlink");
    let (third_pem, third) = setup.pki.leaf();
    std::fs::write(setup.dir.join("cert.pem"), third_pem).unwrap();
    presented_within_10s(&third, "written through the symlink");
    // The connection made before is untouched.
    assert_eq!(presented(&before), setup.leaf);
    let again = pipelined(&mut before, &queries[..1]);
    assert_eq!(
        common::sorted(common::decode_reply(&queries[0], &again[0]).answer()).len(),
        3
    );
    setup.assert_udp_answers();
}

/// Waits for the server to close `stream` (EOF or reset; an alert before it is read past), and
/// returns how long that took; fails if it stays open for the read timeout (5 s).
fn closed_within(mut stream: TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 512];
    // Each read returns data, the close, or the timeout: at most a few alerts come first.
    for _ in 0..100 {
        match stream.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("still open after {:?}", started.elapsed())
            }
            Err(_) => return started.elapsed(),
        }
    }
    panic!("the server kept sending on a refused connection")
}

/// Hostile input on both encrypted listeners, each refused: bytes that are not TLS are answered
/// by a close, a handshake left half done is cut off after `handshake_timeout`, and DoH requests
/// that are not what RFC 8484 asks get their status (400, 404, 405, 415, 431), while a good GET
/// is answered over HTTP/2 and HTTP/1.1 alike. UDP answers throughout.
#[test]
fn hostile_input_is_refused_and_udp_keeps_answering() {
    let setup = Setup::start("dot-hostile", "handshake_timeout = 0.5\n");
    for listener in [setup.dot, setup.doh] {
        let mut garbage = connect_from(EXTERNAL, listener);
        garbage
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let took = closed_within(garbage);
        assert!(took < Duration::from_secs(2), "{took:?}");

        // A TLS record header, and nothing more.
        let mut half = connect_from(EXTERNAL, listener);
        half.write_all(&[0x16, 0x03, 0x01]).unwrap();
        let took = closed_within(half);
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(4),
            "a half handshake was cut off after {took:?} (handshake_timeout = 0.5)"
        );
        setup.assert_udp_answers();
    }

    let url = |path: &str| format!("https://{NAME}:{}{path}", setup.doh.port());
    let big = format!("x-big: {}", "a".repeat(20_000));
    let query = common::query("mail.contoso.example.", RecordType::A);
    let get = format!(
        "/dns-query?dns={}",
        data_encoding::BASE64URL_NOPAD.encode(&query.to_vec().unwrap())
    );
    let cases: [(&str, Vec<String>, u16); 9] = [
        ("a good GET, HTTP/2", vec![url(&get)], 200),
        (
            "a good GET, HTTP/1.1",
            vec!["--http1.1".into(), url(&get)],
            200,
        ),
        (
            "malformed dns=",
            vec![url("/dns-query?dns=%%%not-base64")],
            400,
        ),
        ("no dns=", vec![url("/dns-query?type=A")], 400),
        ("another path", vec![url("/other?dns=AAAB")], 404),
        (
            "PUT",
            vec!["-X".into(), "PUT".into(), url("/dns-query")],
            405,
        ),
        (
            "POST text/plain",
            vec![
                "-H".into(),
                "content-type: text/plain".into(),
                "--data".into(),
                "x".into(),
                url("/dns-query"),
            ],
            415,
        ),
        (
            "oversized headers, HTTP/2",
            vec!["-H".into(), big.clone(), url("/dns-query")],
            431,
        ),
        (
            "oversized headers, HTTP/1.1",
            vec!["--http1.1".into(), "-H".into(), big, url("/dns-query")],
            431,
        ),
    ];
    for (what, extra, expected) in cases {
        let mut args: Vec<String> = [
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            &setup.ca(),
            "--resolve",
            &format!("{NAME}:{}:127.0.0.1", setup.doh.port()),
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra);
        let Some(out) = run("curl", &args) else {
            return;
        };
        let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(status, expected.to_string(), "{what}: {out:?}");
        setup.assert_udp_answers();
    }
}

/// A certificate whose key is another's stops `check` and the start with an error at the `key`
/// line naming both files; one for another name is a warning that `check --strict` fails on.
#[test]
fn a_bad_certificate_fails_check_and_start() {
    let dir = scratch_copy("dot-bad-certificate", &fixture_dir("split"));
    let pki = Pki::new();
    let (cert_pem, _) = pki.leaf();
    std::fs::write(dir.join("cert.pem"), cert_pem).unwrap();
    std::fs::write(
        dir.join("key.pem"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let config = dir.join("splitdns.toml");
    let lines = std::fs::read_to_string(&config).unwrap().lines().count();
    append(
        &config,
        "\n[tls]\ncertificate = \"cert.pem\"\nkey = \"key.pem\"\ndot_listen = [\"127.0.0.1:0\"]\ndoh_listen = []\n",
    );
    let out = splitdns()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let at = format!(
        "splitdns.toml:{}:7: [tls] key {}",
        lines + 4,
        dir.join("key.pem").display()
    );
    assert!(
        text.contains(&at) && text.contains("does not go with certificate"),
        "expected {at:?} in:\n{text}"
    );
    let (status, log) = Daemon::serve(&config).start_fails();
    assert!(!status.success());
    assert!(log.contains(&at), "{log}");

    // The right key, but [tls] name is not the certificate's.
    std::fs::write(dir.join("key.pem"), pki.key.serialize_pem()).unwrap();
    append(&config, "name = \"doh.fabrikam.example\"\n");
    let strict = splitdns()
        .args(["check", "--strict", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&strict.stdout).to_string()
        + &String::from_utf8_lossy(&strict.stderr);
    assert!(
        text.contains("warning[tls-certificate-name-mismatch]")
            && text.contains("does not cover [tls] name doh.fabrikam.example"),
        "{text}"
    );
    assert_eq!(
        strict.status.code(),
        Some(1),
        "--strict fails on it: {text}"
    );
}

/// A client that comes back resumes its TLS session (no full handshake); a zone transfer is
/// refused over DoH (one message per request) and, over DoT, by the same rules as over TCP (here:
/// nobody may transfer); a DoT connection left idle is closed after `[tcp] idle_timeout`.
#[test]
fn sessions_resume_transfers_follow_tcp_rules_and_idle_connections_close() {
    let setup = Setup::start("dot-sessions", "[tcp]\nidle_timeout = 1\n");
    let config = client_config(&setup);
    let mut first = dot_client_with(&setup, INTERNAL, config.clone());
    assert_eq!(first.conn.handshake_kind(), Some(HandshakeKind::Full));
    // Reading an answer also reads the session tickets sent after the handshake.
    let query = common::query("mail.contoso.example.", RecordType::A);
    pipelined(&mut first, std::slice::from_ref(&query));
    let second = dot_client_with(&setup, INTERNAL, config);
    assert_eq!(second.conn.handshake_kind(), Some(HandshakeKind::Resumed));

    let axfr = common::query("contoso.example.", RecordType::AXFR);
    let answer = pipelined(&mut first, std::slice::from_ref(&axfr));
    let reply = common::decode_reply(&axfr, &answer[0]);
    assert_eq!(reply.rcode(), ResponseCode::Refused, "{}", reply.dump());
    if let Some((status, rcode, _)) = curl_doh(&setup, INTERNAL, &axfr, &[]) {
        assert_eq!((status, rcode), (200, Some(ResponseCode::Refused)));
    }

    // Idle: the server closes (with close_notify) once a second has passed without a query.
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = first.read(&mut buf);
    assert!(
        matches!(read, Ok(0)),
        "expected a clean close, got {read:?} after {:?}",
        started.elapsed()
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "closed after {took:?} (idle_timeout = 1)"
    );
}

/// An HTTP/2 frame larger than the server allows is a connection error: the server answers with
/// GOAWAY (FRAME_SIZE_ERROR) and closes, and keeps answering everyone else.
#[test]
fn an_oversized_http2_frame_gets_goaway() {
    let setup = Setup::start("dot-h2-frame", "");
    let mut config = (*client_config(&setup)).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let mut stream = tls_client(setup.doh, EXTERNAL, Arc::new(config), b"h2");
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // An empty SETTINGS frame, then a HEADERS frame header announcing 1 MiB on stream 1 (the
    // default largest frame is 16 KiB), and some of it.
    bytes.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    bytes.extend([0x10, 0x00, 0x00, 1, 0x04, 0, 0, 0, 1]);
    bytes.extend([0u8; 4096]);
    stream.write_all(&bytes).unwrap();
    stream.flush().unwrap();
    let mut received = Vec::new();
    // Until the close: a few frames at most.
    for _ in 0..100 {
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
    let mut goaway = None;
    let mut at = 0;
    while at + 9 <= received.len() {
        let length =
            u32::from_be_bytes([0, received[at], received[at + 1], received[at + 2]]) as usize;
        let payload = &received[at + 9..(at + 9 + length).min(received.len())];
        if received[at + 3] == 7 && payload.len() >= 8 {
            goaway = Some(u32::from_be_bytes([
                payload[4], payload[5], payload[6], payload[7],
            ]));
        }
        at += 9 + length;
    }
    assert_eq!(
        goaway,
        Some(6),
        "expected GOAWAY FRAME_SIZE_ERROR in {received:02x?}"
    );
    setup.assert_udp_answers();
}

/// One client address holds at most `[tcp] max_connections_per_source` connections, over TCP,
/// DoT and DoH together: the next is closed at once, while other addresses, and a trusted DoH
/// proxy, still connect.
#[test]
fn one_source_cannot_take_every_connection() {
    let setup = Setup::start("dot-per-source", "[tcp]\nmax_connections_per_source = 2\n");
    let _plain = connect_from(EXTERNAL, setup.daemon.dns);
    let _encrypted = dot_client(&setup, EXTERNAL);
    // Given time to be accepted and counted before the next arrives.
    std::thread::sleep(Duration::from_millis(200));
    let third = connect_from(EXTERNAL, setup.dot);
    let took = closed_within(third);
    assert!(took < Duration::from_secs(2), "{took:?}");
    let mut others: Vec<_> = (0..3).map(|_| dot_client(&setup, PROXY)).collect();
    others.push(dot_client(&setup, INTERNAL));
    let query = common::query("mail.contoso.example.", RecordType::A);
    for stream in &mut others {
        let answer = pipelined(stream, std::slice::from_ref(&query));
        assert!(!common::decode_reply(&query, &answer[0]).answer().is_empty());
    }
}

/// 10,000 connections to the DoT port from ten sources, each sending the first three octets of a
/// TLS record and nothing more: the server holds them (its limits raised for the test) until the
/// handshake timeout cuts each off, UDP queries are answered all the while (their latency is
/// printed), the server's descriptors go back to what they were, and DoT answers afterwards.
#[test]
fn a_flood_of_ten_thousand_half_handshakes_is_cut_off_and_udp_keeps_answering() {
    const FLOOD: usize = 10_000;
    let setup = Setup::start(
        "dot-flood",
        "handshake_timeout = 3\n\n[tcp]\nmax_connections = 12000\nmax_connections_per_source = 1000\n",
    );
    let pid = setup.daemon.child.id();
    let descriptors = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| dir.count())
            .unwrap_or(0)
    };
    let before = descriptors();
    // UDP queries every 10 ms while the flood is opened and held, on a thread of their own.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = {
        let (stop, server) = (stop.clone(), setup.daemon.server());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            // Bounded: stopped by the main thread, at most 2,000 probes (20 s) in any case.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && latencies.len() < 2000 {
                let asked = Instant::now();
                let reply = common::ask(
                    &server,
                    INTERNAL,
                    Via::Udp,
                    "mail.contoso.example.",
                    RecordType::A,
                );
                latencies.push(asked.elapsed());
                assert_eq!(common::sorted(reply.answer()).len(), 3, "{}", reply.dump());
                std::thread::sleep(Duration::from_millis(10));
            }
            latencies
        })
    };
    let opened = Instant::now();
    let mut flood = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + (i % 10) as u8));
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        socket.bind(&SocketAddr::new(from, 0).into()).unwrap();
        socket
            .connect_timeout(&setup.dot.into(), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connection {i} of the flood: {e}"));
        let mut stream: TcpStream = socket.into();
        stream.write_all(&[0x16, 0x03, 0x01]).unwrap();
        flood.push(stream);
    }
    let open_took = opened.elapsed();
    // Every one is cut off at the handshake timeout (3 s after it was accepted).
    for (i, stream) in flood.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 64];
        let cut = loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break true,
                // An alert may come before the close.
                Ok(_) => continue,
            }
        };
        assert!(cut, "connection {i} was not cut off");
    }
    let all_cut = opened.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut latencies = prober
        .join()
        .expect("every UDP query answered during the flood");
    drop(flood);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    eprintln!(
        "{FLOOD} half handshakes opened in {open_took:?}, all cut off {all_cut:?} after the first; \
         UDP during the flood: {} queries, median {:?}, 99th percentile {:?}, max {:?}",
        latencies.len(),
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1]
    );
    assert!(latencies.len() >= 50, "too few probes: {}", latencies.len());
    // The descriptors come back (a few may still be closing).
    let deadline = Instant::now() + Duration::from_secs(10);
    while descriptors() > before + 20 {
        assert!(
            Instant::now() < deadline,
            "the server holds {} descriptors, {before} before the flood",
            descriptors()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut after = dot_client(&setup, EXTERNAL);
    let answers = pipelined(
        &mut after,
        &[common::query("mail.contoso.example.", RecordType::A)],
    );
    assert_eq!(answers.len(), 1);
}
