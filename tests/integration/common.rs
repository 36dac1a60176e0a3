//! The harness: starts the real server in-process on an ephemeral loopback port and talks to it
//! over real UDP and TCP sockets bound to chosen loopback source addresses (the source is what
//! selects the view). Queries are built and answers decoded with hickory-proto, independently of
//! our own wire code, and answers are compared as text so that a failing scenario prints what the
//! server actually said.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

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

/// The config file of a fixture directory under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("splitdns.toml")
}

/// A port free for both UDP and TCP on 127.0.0.1 (from the ephemeral range: never 53), for a
/// server the test starts as a process.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        let port = udp.local_addr().expect("local address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free UDP+TCP port on 127.0.0.1");
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

/// A scratch directory for one test, emptied first (under Cargo's target dir, never /tmp).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("integration")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
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
        let listeners =
            Listeners::bind(&["127.0.0.1:0".parse().unwrap()]).expect("bind 127.0.0.1:0");
        Server::with_listeners(config, listeners)
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
        let listeners =
            Listeners::bind(&["127.0.0.1:0".parse().unwrap()]).expect("bind 127.0.0.1:0");
        Server::serve(loaded, listeners)
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
                runtime
                    .block_on(server::run(
                        listeners,
                        state,
                        TcpLimits::default(),
                        metrics,
                        token,
                    ))
                    .expect("server stopped with an error");
            })
            .expect("spawn server thread");
        Server {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }
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
