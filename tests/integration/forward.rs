//! The internal resolver, judged with real upstreams on loopback: Knot serves an
//! "internet" zone that only Unbound knows (a stub zone; everything else Unbound refuses, so it
//! never leaves the machine), NSD serves the "AD" zone that only the view's `[[view.forward]]`
//! knows. So a name of either zone that resolves proves it went through the right upstream, and
//! Unbound's query log says which names it saw. Faults use small sockets of the test's own as
//! hostile upstreams (real sockets, not a mock of our code), and splitdns servers as each
//! other's upstreams for the forwarding loop and serve-stale. Every upstream is on 127.0.0.1; a
//! test whose program is missing prints why and returns.

use std::fs::{self, File};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::common::{
    EXTERNAL, INTERNAL, Server, Via, example_config, example_dir, find_program, framed, free_port,
    query, read_framed, render, scratch_copy, scratch_dir, splitdns, tcp_connect, udp_socket,
    with_edns,
};

/// How long a daemon may take to start answering.
const STARTUP: Duration = Duration::from_secs(10);
/// How long a client waits for one answer in these tests (upstream timeouts are shorter).
const CLIENT_WAIT: Duration = Duration::from_secs(5);

const INTERNET_ZONE: &str = r#"$ORIGIN internet.test.
$TTL 300
@      SOA   ns1 hostmaster ( 1 3600 900 1209600 60 )
       NS    ns1
ns1    A     127.0.0.1
www    A     192.0.2.80
alias  CNAME www
"#;

const AD_ZONE: &str = r#"$ORIGIN corp.northwind.test.
$TTL 600
@      SOA   dc1 hostmaster ( 1 3600 900 1209600 120 )
       NS    dc1
dc1    A     192.0.2.10
_ldap._tcp.dc._msdcs  SRV  0 100 389 dc1
"#;

/// A TXT set of about 2,600 octets: more than any UDP answer we send (1232).
fn big_txt() -> String {
    (0..10)
        .map(|i| {
            format!(
                "big    TXT   \"{}\"\n",
                char::from(b'a' + i).to_string().repeat(250)
            )
        })
        .collect()
}

/// A reference upstream (Knot, NSD, Unbound) started by a test, killed on drop.
struct Upstream {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Upstream {
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Asks `addr` for `name` `rtype` (RD set) until it answers with `rcode`, or fails the test.
fn wait_for(daemon: &mut Upstream, name: &str, rtype: RecordType, rcode: ResponseCode) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let bytes = query(name, rtype).to_vec().unwrap();
    let deadline = Instant::now() + STARTUP;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("daemon exited ({status}):\n{}", daemon.log());
        }
        let _ = socket.send_to(&bytes, daemon.addr);
        if let Ok(len) = socket.recv(&mut buf)
            && Message::from_vec(&buf[..len]).is_ok_and(|m| m.metadata.response_code == rcode)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "no {rcode:?} for {name} within {STARTUP:?}:\n{}",
        daemon.log()
    );
}

fn spawn(command: &mut Command, log: &Path) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(File::create(log.with_extension("out")).unwrap())
        .stderr(File::create(log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"))
}

fn start_knot(binary: &Path, dir: &Path) -> Upstream {
    let port = free_port();
    let zone = dir.join("internet.test.zone");
    fs::write(&zone, format!("{INTERNET_ZONE}{}", big_txt())).unwrap();
    fs::create_dir_all(dir.join("knot-db")).unwrap();
    let conf = dir.join("knot.conf");
    let d = dir.display();
    fs::write(
        &conf,
        format!(
            "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    \
             tcp-workers: 1\n    background-workers: 1\n\
             database:\n    storage: \"{d}/knot-db\"\n\
             log:\n  - target: stderr\n    any: info\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    journal-content: none\n    \
             zonefile-sync: -1\n    zonefile-load: whole\n\
             zone:\n  - domain: \"internet.test\"\n    file: \"{}\"\n",
            zone.display()
        ),
    )
    .unwrap();
    let log = dir.join("knot.log");
    let child = spawn(Command::new(binary).arg("--config").arg(&conf), &log);
    let mut daemon = Upstream {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
    };
    wait_for(
        &mut daemon,
        "internet.test.",
        RecordType::SOA,
        ResponseCode::NoError,
    );
    daemon
}

fn start_nsd(binary: &Path, dir: &Path) -> Upstream {
    let port = free_port();
    let zone = dir.join("corp.northwind.test.zone");
    fs::write(&zone, AD_ZONE).unwrap();
    let conf = dir.join("nsd.conf");
    let d = dir.display();
    fs::write(
        &conf,
        format!(
            "server:\n    ip-address: 127.0.0.1@{port}\n    server-count: 1\n    username: \"\"\n    \
             chroot: \"\"\n    zonesdir: \"{d}\"\n    database: \"\"\n    zonelistfile: \"{d}/zone.list\"\n    \
             xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    pidfile: \"{d}/nsd.pid\"\n    \
             verbosity: 1\n    rrl-ratelimit: 0\n\
             remote-control:\n    control-enable: no\n\
             zone:\n    name: \"corp.northwind.test\"\n    zonefile: \"{}\"\n",
            zone.display()
        ),
    )
    .unwrap();
    let log = dir.join("nsd.log");
    let child = spawn(Command::new(binary).arg("-d").arg("-c").arg(&conf), &log);
    let mut daemon = Upstream {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
    };
    wait_for(
        &mut daemon,
        "corp.northwind.test.",
        RecordType::SOA,
        ResponseCode::NoError,
    );
    daemon
}

/// Unbound as the view's default forwarder: it resolves `internet.test` from Knot (a stub
/// zone) and refuses every other name (`local-zone: "." refuse`), sends only from 127.0.0.1,
/// does no DNSSEC work (iterator only) and logs every query it gets.
fn start_unbound(binary: &Path, dir: &Path, knot: SocketAddr) -> Upstream {
    let port = free_port();
    let conf = dir.join("unbound.conf");
    let d = dir.display();
    fs::write(
        &conf,
        format!(
            "server:\n    interface: 127.0.0.1@{port}\n    port: {port}\n    do-daemonize: no\n    \
             chroot: \"\"\n    username: \"\"\n    pidfile: \"\"\n    directory: \"{d}\"\n    \
             use-syslog: no\n    logfile: \"\"\n    verbosity: 1\n    log-queries: yes\n    \
             num-threads: 1\n    access-control: 127.0.0.0/8 allow\n    \
             do-not-query-localhost: no\n    outgoing-interface: 127.0.0.1\n    \
             module-config: \"iterator\"\n    qname-minimisation: no\n    \
             local-zone: \".\" refuse\n    local-zone: \"internet.test.\" transparent\n\
             stub-zone:\n    name: \"internet.test.\"\n    stub-addr: 127.0.0.1@{}\n\
             remote-control:\n    control-enable: no\n",
            knot.port()
        ),
    )
    .unwrap();
    let log = dir.join("unbound.log");
    let child = spawn(Command::new(binary).arg("-d").arg("-c").arg(&conf), &log);
    let mut daemon = Upstream {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
    };
    wait_for(
        &mut daemon,
        "ns1.internet.test.",
        RecordType::A,
        ResponseCode::NoError,
    );
    daemon
}

/// Knot, NSD and Unbound, or why the test cannot run.
struct Upstreams {
    _knot: Upstream,
    nsd: Upstream,
    unbound: Upstream,
}

fn upstreams(dir: &Path) -> Result<Upstreams, String> {
    let missing = |binary: &str, package: &str| {
        format!("{binary} not found (Debian package {package}); skipped")
    };
    let knotd = find_program("knotd").ok_or_else(|| missing("knotd", "knot"))?;
    let nsd = find_program("nsd").ok_or_else(|| missing("nsd", "nsd"))?;
    let unbound = find_program("unbound").ok_or_else(|| missing("unbound", "unbound"))?;
    let knot = start_knot(&knotd, dir);
    let nsd = start_nsd(&nsd, dir);
    let unbound = start_unbound(&unbound, dir, knot.addr);
    Ok(Upstreams {
        _knot: knot,
        nsd,
        unbound,
    })
}

/// Our own served zones: a zone of ours with a delegation of the AD domain (which the forward
/// zone overrides), and `contoso.example` for the authoritative answers.
const CONTOSO_ZONE: &str = r#"$ORIGIN contoso.example.
$TTL 3600
@      SOA   ns1 hostmaster ( 1 3600 900 1209600 300 )
       NS    ns1
ns1    A     203.0.113.53
www    A     203.0.113.80
web    CNAME www.internet.test.
gone   CNAME nx.internet.test.
"#;

const NORTHWIND_ZONE: &str = r#"$ORIGIN northwind.test.
$TTL 3600
@      SOA   ns1 hostmaster ( 1 3600 900 1209600 300 )
       NS    ns1
ns1    A     203.0.113.53
"#;

/// The inside's copy of `northwind.test` delegates the AD domain to its DC (glue on loopback):
/// the forward zone for it is more specific, so the delegation is never asked.
const NORTHWIND_INTERNAL: &str = r#"$ORIGIN northwind.test.
corp      3600  NS  dc1.corp
dc1.corp  3600  A   127.0.0.1
"#;

/// The config under test: 127.0.0.2 gets the recursive internal view, everyone else the
/// external one. `extra_views` is added as is.
fn write_config(dir: &Path, forwarders: &str, ad: SocketAddr, extra_views: &str) -> PathBuf {
    fs::write(dir.join("contoso.example.zone"), CONTOSO_ZONE).unwrap();
    fs::write(dir.join("northwind.test.zone"), NORTHWIND_ZONE).unwrap();
    fs::write(dir.join("northwind.test.internal.zone"), NORTHWIND_INTERNAL).unwrap();
    let config = format!(
        r#"[[view]]
name = "internal"
clients = ["127.0.0.2/32"]
recursion = true
forwarders = [{forwarders}]
[view.resolver]
timeout = 1.0

[[view.forward]]
zone = "corp.northwind.test"
to = ["{ad}"]
{extra_views}
[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"

[[zone]]
origin = "northwind.test"
file = "northwind.test.zone"
[zone.views]
internal = "northwind.test.internal.zone"
"#
    );
    let path = dir.join("splitdns.toml");
    fs::write(&path, config).unwrap();
    path
}

/// A decoded reply, checked against the query: same ID, QR set, the question echoed.
fn ask_message(server: &Server, from: IpAddr, via: Via, message: &Message) -> (Message, usize) {
    let bytes = message.to_vec().unwrap();
    let raw = match via {
        Via::Udp => {
            let socket = udp_socket(server, from);
            socket.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
            socket.send(&bytes).unwrap();
            let mut buf = vec![0u8; 65535];
            let len = socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no UDP reply to {:?}: {e}", message.queries));
            buf.truncate(len);
            buf
        }
        Via::Tcp => {
            use std::io::Write;
            let mut stream = tcp_connect(server, from);
            stream.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
            stream.write_all(&framed(&bytes)).unwrap();
            read_framed(&mut stream)
        }
    };
    let reply = Message::from_vec(&raw).unwrap_or_else(|e| panic!("undecodable ({e}): {raw:02x?}"));
    assert_eq!(reply.metadata.id, message.metadata.id, "ID not echoed");
    assert_eq!(
        reply.queries.first().map(|q| q.name().to_string()),
        message.queries.first().map(|q| q.name().to_string()),
        "question not echoed (case included)"
    );
    (reply, raw.len())
}

fn ask(server: &Server, from: IpAddr, name: &str, rtype: RecordType) -> Message {
    ask_message(server, from, Via::Udp, &query(name, rtype)).0
}

fn answers(message: &Message) -> Vec<String> {
    message.answers.iter().map(render).collect()
}

fn authorities(message: &Message) -> Vec<String> {
    message.authorities.iter().map(render).collect()
}

/// Records as text without their TTLs (which count down).
fn without_ttls(records: Vec<String>) -> Vec<String> {
    records
        .into_iter()
        .map(|r| {
            let mut parts: Vec<&str> = r.splitn(3, ' ').collect();
            parts.remove(1);
            parts.join(" ")
        })
        .collect()
}

/// How many times Unbound logged a query for `name` (its log-queries lines name it).
fn unbound_saw(unbound: &Upstream, name: &str) -> usize {
    unbound
        .log()
        .lines()
        .filter(|line| line.contains(&format!(" {name} ")))
        .count()
}

/// The inside resolves every name through the right upstream and gets the upstream's whole
/// answer; the outside gets REFUSED with RA clear; our own zones stay authoritative.
#[test]
fn forward_names_resolve_through_the_right_upstream() {
    let dir = scratch_dir("forward_names");
    let upstreams = match upstreams(&dir) {
        Ok(upstreams) => upstreams,
        Err(reason) => return eprintln!("{reason}"),
    };
    let config = write_config(
        &dir,
        &format!("\"{}\"", upstreams.unbound.addr),
        upstreams.nsd.addr,
        "",
    );
    let server = Server::with_config(&config);

    // The internet zone through Unbound (which alone knows it): relayed with AA clear, RA set.
    let reply = ask(&server, INTERNAL, "www.internet.test.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        without_ttls(answers(&reply)),
        ["www.internet.test. A 192.0.2.80"]
    );
    assert!(
        !reply.metadata.authoritative,
        "AA must be clear on a relayed answer"
    );
    assert!(
        reply.metadata.recursion_available,
        "RA must be set in a recursive view"
    );
    assert!(reply.edns.is_none(), "no OPT for a client that sent none");
    assert!(unbound_saw(&upstreams.unbound, "www.internet.test.") >= 1);

    // The AD zone through the conditional forwarder to NSD, not Unbound (which would refuse it)
    // and not the delegation in our northwind.test zone.
    let reply = ask(
        &server,
        INTERNAL,
        "_ldap._tcp.dc._msdcs.corp.northwind.test.",
        RecordType::SRV,
    );
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{reply:?}"
    );
    assert_eq!(
        without_ttls(answers(&reply)),
        ["_ldap._tcp.dc._msdcs.corp.northwind.test. SRV 0 100 389 dc1.corp.northwind.test."]
    );
    assert_eq!(
        unbound_saw(
            &upstreams.unbound,
            "_ldap._tcp.dc._msdcs.corp.northwind.test."
        ),
        0
    );

    // A miss over TCP: the connection's task waits for the upstream.
    let (tcp, _) = ask_message(
        &server,
        INTERNAL,
        Via::Tcp,
        &query("ns1.internet.test.", RecordType::A),
    );
    assert_eq!(
        without_ttls(answers(&tcp)),
        ["ns1.internet.test. A 127.0.0.1"]
    );

    // A CNAME chain relayed whole.
    let reply = ask(&server, INTERNAL, "alias.internet.test.", RecordType::A);
    assert_eq!(
        without_ttls(answers(&reply)),
        [
            "alias.internet.test. CNAME www.internet.test.",
            "www.internet.test. A 192.0.2.80"
        ]
    );

    // NXDOMAIN and NODATA relayed with the zone's SOA.
    let nx = ask(&server, INTERNAL, "nx.internet.test.", RecordType::A);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.answers.is_empty());
    assert!(
        authorities(&nx)
            .iter()
            .any(|r| r.starts_with("internet.test.") && r.contains(" SOA ")),
        "{nx:?}"
    );
    let nodata = ask(&server, INTERNAL, "www.internet.test.", RecordType::AAAA);
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert!(
        authorities(&nodata).iter().any(|r| r.contains(" SOA ")),
        "{nodata:?}"
    );

    // Our own zone: authoritative as ever, with RA set in this view.
    let own = ask(&server, INTERNAL, "www.contoso.example.", RecordType::A);
    assert!(own.metadata.authoritative);
    assert!(own.metadata.recursion_available);
    assert_eq!(answers(&own), ["www.contoso.example. 3600 A 203.0.113.80"]);

    // A CNAME of ours into a forwarded name: the inside gets the chain completed from
    // upstream (the rcode is the target's, RFC 6604), the outside just our CNAME.
    let web = ask(&server, INTERNAL, "web.contoso.example.", RecordType::A);
    assert_eq!(
        without_ttls(answers(&web)),
        [
            "web.contoso.example. CNAME www.internet.test.",
            "www.internet.test. A 192.0.2.80"
        ],
        "{web:?}"
    );
    assert!(web.metadata.recursion_available && !web.metadata.authoritative);
    let gone = ask(&server, INTERNAL, "gone.contoso.example.", RecordType::A);
    assert_eq!(
        gone.metadata.response_code,
        ResponseCode::NXDomain,
        "{gone:?}"
    );
    assert_eq!(
        without_ttls(answers(&gone)),
        ["gone.contoso.example. CNAME nx.internet.test."]
    );
    assert!(
        authorities(&gone)
            .iter()
            .any(|r| r.starts_with("internet.test.") && r.contains(" SOA ")),
        "{gone:?}"
    );
    let outside_web = ask(&server, EXTERNAL, "web.contoso.example.", RecordType::A);
    assert_eq!(
        answers(&outside_web),
        ["web.contoso.example. 3600 CNAME www.internet.test."]
    );
    assert!(outside_web.metadata.authoritative);

    // The outside never recurses: REFUSED, RA clear; our zone authoritative, RA clear.
    let outside = ask(&server, EXTERNAL, "www.internet.test.", RecordType::A);
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);
    assert!(!outside.metadata.recursion_available);
    let outside_own = ask(&server, EXTERNAL, "www.contoso.example.", RecordType::A);
    assert!(outside_own.metadata.authoritative && !outside_own.metadata.recursion_available);
}

/// A cached answer comes from our cache (Unbound sees the name once) with its TTL counted down;
/// a query with RD clear gets only what the cache has (REFUSED before, the answer after).
#[test]
fn forward_cache_counts_ttls_down_and_answers_rd_clear_from_cache_only() {
    let dir = scratch_dir("forward_cache");
    let upstreams = match upstreams(&dir) {
        Ok(upstreams) => upstreams,
        Err(reason) => return eprintln!("{reason}"),
    };
    let config = write_config(
        &dir,
        &format!("\"{}\"", upstreams.unbound.addr),
        upstreams.nsd.addr,
        "",
    );
    let server = Server::with_config(&config);

    let mut cache_only = query("www.internet.test.", RecordType::A);
    cache_only.metadata.recursion_desired = false;
    let (before, _) = ask_message(&server, INTERNAL, Via::Udp, &cache_only);
    assert_eq!(before.metadata.response_code, ResponseCode::Refused);
    assert_eq!(unbound_saw(&upstreams.unbound, "www.internet.test."), 0);

    let first = ask(&server, INTERNAL, "www.internet.test.", RecordType::A);
    let first_ttl = first.answers[0].ttl;
    std::thread::sleep(Duration::from_millis(2100));
    let second = ask(&server, INTERNAL, "www.internet.test.", RecordType::A);
    let second_ttl = second.answers[0].ttl;
    assert!(
        second_ttl + 2 <= first_ttl && second_ttl + 4 >= first_ttl,
        "TTL {first_ttl} then {second_ttl} about 2 s later"
    );
    // Negative answers are cached too (for the SOA's negative TTL, 60 s here).
    for _ in 0..2 {
        let nx = ask(&server, INTERNAL, "nothing.internet.test.", RecordType::A);
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    }
    assert_eq!(unbound_saw(&upstreams.unbound, "nothing.internet.test."), 1);
    let (after, _) = ask_message(&server, INTERNAL, Via::Udp, &cache_only);
    assert_eq!(after.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        without_ttls(answers(&after)),
        ["www.internet.test. A 192.0.2.80"]
    );
    assert!(!after.metadata.recursion_desired, "RD echoed");
    assert_eq!(
        unbound_saw(&upstreams.unbound, "www.internet.test."),
        1,
        "the cache answered the later queries"
    );
    // Names differing only in case share the entry; the client's case is echoed.
    let upper = ask(&server, INTERNAL, "WWW.Internet.TEST.", RecordType::A);
    assert_eq!(upper.answers.len(), 1);
    assert_eq!(unbound_saw(&upstreams.unbound, "www.internet.test."), 1);
}

/// An answer too big for UDP: Unbound truncates, we ask again over TCP and keep the whole
/// answer; a UDP client gets TC=1 (and retries over TCP, where it gets everything).
#[test]
fn forward_large_answers_are_fetched_over_tcp_and_truncated_for_small_clients() {
    let dir = scratch_dir("forward_large");
    let upstreams = match upstreams(&dir) {
        Ok(upstreams) => upstreams,
        Err(reason) => return eprintln!("{reason}"),
    };
    let config = write_config(
        &dir,
        &format!("\"{}\"", upstreams.unbound.addr),
        upstreams.nsd.addr,
        "",
    );
    let server = Server::with_config(&config);
    for (message, via) in [
        (
            with_edns(query("big.internet.test.", RecordType::TXT), 1232, false),
            Via::Udp,
        ),
        (query("big.internet.test.", RecordType::TXT), Via::Udp),
    ] {
        let (reply, size) = ask_message(&server, INTERNAL, via, &message);
        assert!(reply.metadata.truncation, "TC expected: {reply:?}");
        assert!(reply.answers.is_empty());
        assert!(size <= 1232);
    }
    let (full, size) = ask_message(
        &server,
        INTERNAL,
        Via::Tcp,
        &query("big.internet.test.", RecordType::TXT),
    );
    assert!(!full.metadata.truncation);
    assert_eq!(full.answers.len(), 10, "the whole TXT set over TCP");
    assert!(size > 2500);
}

/// A hostile or broken upstream on a socket of the test's own. `behaviour` gets each query and
/// the socket, and answers (or not) as it likes. Runs until dropped.
struct FakeUpstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    sources: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Behaviour = dyn Fn(&UdpSocket, &[u8], SocketAddr) + Send + Sync;

impl FakeUpstream {
    fn start(behaviour: Box<Behaviour>) -> FakeUpstream {
        FakeUpstream::start_on(UdpSocket::bind("127.0.0.1:0").unwrap(), behaviour)
    }

    fn start_on(socket: UdpSocket, behaviour: Box<Behaviour>) -> FakeUpstream {
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sources = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop2, seen2, sources2) = (stop.clone(), seen.clone(), sources.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((len, from)) = socket.recv_from(&mut buf) {
                    seen2.lock().unwrap().push(buf[..len].to_vec());
                    sources2.lock().unwrap().push(from);
                    behaviour(&socket, &buf[..len], from);
                }
            }
        });
        FakeUpstream {
            addr,
            stop,
            seen,
            sources,
            thread: Some(thread),
        }
    }

    fn queries(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The question section of a query (header excluded): qname, type, class.
fn question_of(query: &[u8]) -> &[u8] {
    let mut pos = 12;
    while query[pos] != 0 {
        pos += 1 + query[pos] as usize;
    }
    &query[12..pos + 5]
}

/// A response to `query` under `id` with `flags`, answering A `address` (TTL 60) unless the
/// rcode in `flags` is an error.
fn response(query: &[u8], id: u16, flags: u16, address: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, u8::from(address.is_some()), 0, 0, 0, 0]);
    m.extend_from_slice(question_of(query));
    if let Some(address) = address {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&address);
    }
    m
}

fn id_of(query: &[u8]) -> u16 {
    u16::from_be_bytes([query[0], query[1]])
}

const QR_RA_RD: u16 = 0x8180;

/// Config with one internal view per fault, each on its own client address.
/// (view name, client address, forwarders, extra `[view.resolver]` lines)
type FaultView<'a> = (&'a str, &'a str, String, &'a str);

fn fault_config(dir: &Path, views: &[FaultView]) -> PathBuf {
    fs::write(dir.join("contoso.example.zone"), CONTOSO_ZONE).unwrap();
    let mut config = String::new();
    for (name, client, forwarders, extra) in views {
        // 0.3 s per try unless the view says otherwise.
        let timeout = if extra.contains("timeout") {
            ""
        } else {
            "timeout = 0.3\n"
        };
        config.push_str(&format!(
            "[[view]]\nname = \"{name}\"\nclients = [\"{client}/32\"]\nrecursion = true\n\
             forwarders = [{forwarders}]\n[view.resolver]\n{timeout}failure_ttl = 1\n{extra}\n"
        ));
    }
    config.push_str(
        "[[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\"]\n\n\
         [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\n",
    );
    let path = dir.join("splitdns.toml");
    fs::write(&path, config).unwrap();
    path
}

fn client(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Dead, failing and lying upstreams: each gives the specified behaviour, within the timeouts,
/// and authoritative answers from the same server keep flowing meanwhile.
#[test]
fn forward_faults_fail_over_relay_servfail_and_ignore_forged_answers() {
    let dir = scratch_dir("forward_faults");
    // Reads and never answers.
    let dead = FakeUpstream::start(Box::new(|_, _, _| {}));
    // Answers every query with SERVFAIL.
    let failing = FakeUpstream::start(Box::new(|socket, query, from| {
        let _ = socket.send_to(&response(query, id_of(query), QR_RA_RD | 2, None), from);
    }));
    // Answers 6.6.6.6 with a wrong ID, for another question, and from another port, then the
    // real answer (192.0.2.99): only that one may be accepted.
    let forger = FakeUpstream::start(Box::new(|socket, query, from| {
        let id = id_of(query);
        let _ = socket.send_to(
            &response(query, id ^ 0x5a5a, QR_RA_RD, Some([6, 6, 6, 6])),
            from,
        );
        let mut other = query.to_vec();
        other[13] ^= 0x01;
        let _ = socket.send_to(&response(&other, id, QR_RA_RD, Some([6, 6, 6, 6])), from);
        let elsewhere = UdpSocket::bind("127.0.0.1:0").unwrap();
        let _ = elsewhere.send_to(&response(query, id, QR_RA_RD, Some([6, 6, 6, 6])), from);
        std::thread::sleep(Duration::from_millis(20));
        let _ = socket.send_to(&response(query, id, QR_RA_RD, Some([192, 0, 2, 99])), from);
    }));
    // Answers, but after 800 ms: later than the 0.3 s a try may take.
    let slow = FakeUpstream::start(Box::new(|socket, query, from| {
        std::thread::sleep(Duration::from_millis(800));
        let _ = socket.send_to(
            &response(query, id_of(query), QR_RA_RD, Some([6, 6, 6, 6])),
            from,
        );
    }));
    let answering = FakeUpstream::start(Box::new(|socket, query, from| {
        let _ = socket.send_to(
            &response(query, id_of(query), QR_RA_RD, Some([192, 0, 2, 7])),
            from,
        );
    }));
    let q = |f: &FakeUpstream| format!("\"{}\"", f.addr);
    let config = fault_config(
        &dir,
        &[
            ("dead", "127.0.0.5", q(&dead), ""),
            (
                "failover",
                "127.0.0.6",
                format!("{}, {}", q(&dead), q(&answering)),
                "",
            ),
            ("failing", "127.0.0.7", q(&failing), ""),
            ("forged", "127.0.0.8", q(&forger), ""),
            // A long timeout, so that "at once" below is told from it on a loaded machine.
            (
                "capped",
                "127.0.0.9",
                q(&dead),
                "max_outstanding = 1\ntimeout = 2.0\n",
            ),
            (
                "slow",
                "127.0.0.10",
                format!("{}, {}", q(&slow), q(&answering)),
                "",
            ),
        ],
    );
    let server = Server::with_config(&config);

    // A dead upstream alone: SERVFAIL once the 0.3 s try is over, well within a second.
    // Meanwhile authoritative answers keep coming from the same server.
    let started = Instant::now();
    let pending = udp_socket(&server, client(5));
    pending.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
    let slow = query("slow.dead.test.", RecordType::A);
    pending.send(&slow.to_vec().unwrap()).unwrap();
    for _ in 0..20 {
        let own = ask(&server, client(5), "www.contoso.example.", RecordType::A);
        assert!(own.metadata.authoritative);
    }
    let authoritative_took = started.elapsed();
    let mut buf = [0u8; 4096];
    let len = pending
        .recv(&mut buf)
        .expect("SERVFAIL from the dead upstream's view");
    let took = started.elapsed();
    let reply = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(
        authoritative_took < took,
        "20 authoritative answers ({authoritative_took:?}) came while the upstream was dead"
    );
    assert!(!dead.queries().is_empty(), "the dead upstream was asked");

    // Failover: the dead one first, then the one that answers.
    let started = Instant::now();
    let reply = ask(&server, client(6), "www.failover.test.", RecordType::A);
    assert_eq!(
        without_ttls(answers(&reply)),
        ["www.failover.test. A 192.0.2.7"]
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // SERVFAIL relayed, and remembered for failure_ttl (1 s): not asked again meanwhile.
    let reply = ask(&server, client(7), "www.failing.test.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(failing.queries().len(), 1);
    let reply = ask(&server, client(7), "www.failing.test.", RecordType::A);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(failing.queries().len(), 1, "the failure is cached briefly");
    std::thread::sleep(Duration::from_millis(1100));
    let _ = ask(&server, client(7), "www.failing.test.", RecordType::A);
    assert_eq!(failing.queries().len(), 2, "then asked again");

    // Forged answers ignored: the one with our ID and question, from the address asked, wins.
    let reply = ask(&server, client(8), "www.forged.test.", RecordType::A);
    assert_eq!(
        without_ttls(answers(&reply)),
        ["www.forged.test. A 192.0.2.99"]
    );

    // A slow upstream: given up after its 0.3 s, the next one answers; its late answer
    // (6.6.6.6) is never used.
    let started = Instant::now();
    let reply = ask(&server, client(10), "www.slow.test.", RecordType::A);
    assert_eq!(
        without_ttls(answers(&reply)),
        ["www.slow.test. A 192.0.2.7"]
    );
    assert!(
        started.elapsed() < Duration::from_millis(780),
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(700));
    let again = ask(&server, client(10), "www.slow.test.", RecordType::A);
    assert_eq!(
        without_ttls(answers(&again)),
        ["www.slow.test. A 192.0.2.7"]
    );

    // Beyond the cap on outstanding queries: SERVFAIL at once, not after the 2 s timeout.
    let pending = udp_socket(&server, client(9));
    pending.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
    pending
        .send(&query("one.capped.test.", RecordType::A).to_vec().unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let over = ask(&server, client(9), "two.capped.test.", RecordType::A);
    assert_eq!(over.metadata.response_code, ResponseCode::ServFail);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    let len = pending.recv(&mut buf).expect("the first query's SERVFAIL");
    assert_eq!(
        Message::from_vec(&buf[..len])
            .unwrap()
            .metadata
            .response_code,
        ResponseCode::ServFail
    );
    assert!(
        !dead
            .queries()
            .iter()
            .any(|q| q.windows(4).any(|w| w == b"\x03two")),
        "the query over the cap was not sent upstream"
    );

    // Each upstream query has its own random ID and source port.
    let ids: std::collections::BTreeSet<u16> = dead.queries().iter().map(|q| id_of(q)).collect();
    let _ = ask(&server, client(5), "other.dead.test.", RecordType::A);
    let ids_after: std::collections::BTreeSet<u16> =
        dead.queries().iter().map(|q| id_of(q)).collect();
    let ports: std::collections::BTreeSet<u16> = dead
        .sources
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.port())
        .collect();
    // Each query has a socket of its own, on a port the kernel picks at random (two may
    // collide by chance, so only most must differ).
    let sent = dead.queries().len();
    assert!(
        sent >= 3 && ports.len() * 2 > sent,
        "{} source ports for {sent} upstream queries",
        ports.len()
    );
    assert!(
        ids_after.len() > ids.len(),
        "a new query with a new ID: {ids:?} {ids_after:?}"
    );
}

/// DO and CD go upstream as the client set them; AD comes back only to a client that set DO
/// or AD. The upstream (a socket of the test's) sets AD on every answer.
#[test]
fn forward_passes_do_and_cd_on_and_ad_back_only_when_asked() {
    let dir = scratch_dir("forward_dnssec_bits");
    let upstream = FakeUpstream::start(Box::new(|socket, query, from| {
        // QR RD RA AD.
        let _ = socket.send_to(
            &response(query, id_of(query), 0x81a0, Some([192, 0, 2, 5])),
            from,
        );
    }));
    let config = fault_config(
        &dir,
        &[(
            "inside",
            "127.0.0.2",
            format!("\"{}\"", upstream.addr),
            "max_ttl = 10\n",
        )],
    );
    let server = Server::with_config(&config);

    let plain = ask(&server, INTERNAL, "a.dnssec.test.", RecordType::A);
    assert_eq!(
        plain.answers[0].ttl, 10,
        "the upstream's 60 s capped at max_ttl"
    );
    assert!(
        !plain.metadata.authentic_data,
        "no AD for a client that did not ask"
    );
    let mut with_ad = query("a.dnssec.test.", RecordType::A);
    with_ad.metadata.authentic_data = true;
    let (reply, _) = ask_message(&server, INTERNAL, Via::Udp, &with_ad);
    assert!(reply.metadata.authentic_data, "AD for a client that set AD");
    let mut with_do_cd = with_edns(query("b.dnssec.test.", RecordType::A), 1232, true);
    with_do_cd.metadata.checking_disabled = true;
    let (reply, _) = ask_message(&server, INTERNAL, Via::Udp, &with_do_cd);
    assert!(reply.metadata.authentic_data, "AD for a client that set DO");
    assert!(reply.metadata.checking_disabled, "CD echoed");
    assert!(
        reply.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
        "DO echoed in our OPT"
    );

    let queries = upstream.queries();
    let sent_for = |name: &[u8]| {
        queries
            .iter()
            .find(|q| q.windows(name.len()).any(|w| w == name))
            .cloned()
            .expect("the upstream saw the query")
    };
    let a = Message::from_vec(&sent_for(b"\x01a\x06dnssec")).unwrap();
    let b = Message::from_vec(&sent_for(b"\x01b\x06dnssec")).unwrap();
    let edns = |m: &Message| m.edns.clone().expect("EDNS to the upstream");
    assert_eq!(edns(&a).max_payload(), 1232);
    assert!(!edns(&a).flags().dnssec_ok && !a.metadata.checking_disabled);
    assert!(edns(&b).flags().dnssec_ok && b.metadata.checking_disabled);
}

/// Two splitdns servers each forwarding `loop.test` to the other: the loop is detected and
/// broken with SERVFAIL in far less than a timeout, instead of ping-pong until both time out.
#[test]
fn forward_loop_between_two_servers_is_broken_with_servfail() {
    let dir = scratch_dir("forward_loop");
    fs::write(dir.join("contoso.example.zone"), CONTOSO_ZONE).unwrap();
    let (a, b) = (
        crate::common::loopback_listeners(crate::common::LOOPS),
        crate::common::loopback_listeners(crate::common::LOOPS),
    );
    let (a_addr, b_addr) = (a.local_addrs()[0], b.local_addrs()[0]);
    let write = |name: &str, to: SocketAddr| {
        let path = dir.join(name);
        fs::write(
            &path,
            format!(
                "[[view]]\nname = \"internal\"\nclients = [\"127.0.0.0/8\"]\nrecursion = true\n\
                 forwarders = [\"{to}\"]\n[view.resolver]\ntimeout = 3\n\n\
                 [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\n"
            ),
        )
        .unwrap();
        path
    };
    let a = Server::with_listeners(&write("a.toml", b_addr), a);
    let b = Server::with_listeners(&write("b.toml", a_addr), b);
    let started = Instant::now();
    let reply = ask(&a, INTERNAL, "x.loop.test.", RecordType::A);
    let took = started.elapsed();
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(
        took < Duration::from_secs(2),
        "loop broken in {took:?} (a timeout is 3 s)"
    );
    // Both servers keep answering their own zone.
    for server in [&a, &b] {
        let own = ask(server, INTERNAL, "www.contoso.example.", RecordType::A);
        assert!(own.metadata.authoritative);
    }
}

/// Serve-stale: the upstream (a second splitdns, authoritative for `stale.test` with TTL 1)
/// answers once and is stopped; the expired answer is served with TTL 30 within the configured
/// window, then no more.
#[test]
fn forward_serves_stale_answers_within_the_window_then_not() {
    let dir = scratch_dir("forward_stale");
    fs::write(
        dir.join("stale.test.zone"),
        "$ORIGIN stale.test.\n$TTL 1\n@ SOA ns1 hostmaster ( 1 3600 900 1209600 1 )\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.44\n",
    )
    .unwrap();
    fs::write(
        dir.join("upstream.toml"),
        "[[view]]\nname = \"all\"\nclients = [\"0.0.0.0/0\"]\n[view.rrl]\nenabled = false\n\n[[zone]]\norigin = \"stale.test\"\nfile = \"stale.test.zone\"\n",
    )
    .unwrap();
    let upstream = Server::with_config(&dir.join("upstream.toml"));
    fs::write(dir.join("contoso.example.zone"), CONTOSO_ZONE).unwrap();
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        format!(
            "[[view]]\nname = \"internal\"\nclients = [\"127.0.0.2/32\"]\nrecursion = true\n\
             forwarders = [\"{}\"]\n[view.resolver]\ntimeout = 0.2\nfailure_ttl = 1\nserve_stale = 3\n\n\
             [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\n",
            upstream.addr
        ),
    )
    .unwrap();
    let server = Server::with_config(&config);
    let first = ask(&server, INTERNAL, "www.stale.test.", RecordType::A);
    let received = Instant::now();
    assert_eq!(answers(&first), ["www.stale.test. 1 A 192.0.2.44"]);
    drop(upstream);
    std::thread::sleep(Duration::from_millis(1500));
    let stale = ask(&server, INTERNAL, "www.stale.test.", RecordType::A);
    assert_eq!(
        answers(&stale),
        ["www.stale.test. 30 A 192.0.2.44"],
        "stale, TTL 30"
    );
    assert!(
        received.elapsed() < Duration::from_secs(4),
        "still inside the window"
    );
    // TTL 1 + 3 s of serve-stale: gone after 4 s.
    std::thread::sleep(
        Duration::from_secs(4).saturating_sub(received.elapsed()) + Duration::from_millis(1200),
    );
    let gone = ask(&server, INTERNAL, "www.stale.test.", RecordType::A);
    assert_eq!(
        gone.metadata.response_code,
        ResponseCode::ServFail,
        "{gone:?}"
    );
}

fn run(args: &[&str]) -> (bool, String) {
    let output = splitdns()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run splitdns");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// `explain` says where a forwarded name goes and whom it would ask (nothing is sent: the
/// upstreams here do not exist); the most specific of served and forward zones wins; `check`
/// lists each view's recursion setting and forwarders.
#[test]
fn forward_explain_and_check_show_routes_and_upstreams() {
    let dir = scratch_dir("forward_explain");
    fs::write(dir.join("contoso.example.zone"), CONTOSO_ZONE).unwrap();
    fs::write(dir.join("northwind.test.zone"), NORTHWIND_ZONE).unwrap();
    fs::write(
        dir.join("northwind.test.internal.zone"),
        "$ORIGIN northwind.test.\nbranch 3600 NS dc9.branch\ndc9.branch 3600 A 127.0.0.9\n",
    )
    .unwrap();
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        r#"[[view]]
name = "internal"
clients = ["10.0.0.0/8"]
recursion = true
forwarders = ["127.0.0.1:5300", "[::1]:5301"]

[[view.forward]]
zone = "corp.northwind.test"
to = ["127.0.0.1:5302", "127.0.0.2"]

[[view.forward]]
zone = "example"
to = ["127.0.0.1:5303"]

[[view]]
name = "external"
clients = ["0.0.0.0/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"

[[zone]]
origin = "northwind.test"
file = "northwind.test.zone"
[zone.views]
internal = "northwind.test.internal.zone"
"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let explain = |client: &str, name: &str| {
        let (ok, text) = run(&["explain", "--config", config, "--client", client, name]);
        assert!(ok, "{text}");
        text
    };
    let out = explain("10.1.2.3", "dc1.corp.northwind.test");
    assert!(
        out.contains("forward zone corp.northwind.test. ([[view.forward]])"),
        "{out}"
    );
    assert!(
        out.contains("upstreams, in order: 127.0.0.1:5302, 127.0.0.2:53"),
        "{out}"
    );
    let out = explain("10.1.2.3", "www.example.org");
    assert!(out.contains("the view's forwarders"), "{out}");
    assert!(
        out.contains("upstreams, in order: 127.0.0.1:5300, [::1]:5301"),
        "{out}"
    );
    let out = explain("10.1.2.3", "x.branch.northwind.test");
    assert!(
        out.contains("below the delegation branch.northwind.test."),
        "{out}"
    );
    assert!(out.contains("upstreams, in order: 127.0.0.9:53"), "{out}");
    // A forward zone above a served zone: the served zone is more specific and answers.
    let out = explain("10.1.2.3", "www.contoso.example");
    assert!(
        out.contains("status NOERROR, flags aa") && !out.contains("forwarded"),
        "{out}"
    );
    let out = explain("10.1.2.3", "www.fabrikam.example");
    assert!(out.contains("forward zone example."), "{out}");
    // Our CNAME into a forwarded name: our answer, then where the target goes.
    let out = explain("10.1.2.3", "web.contoso.example");
    assert!(
        out.contains("web.contoso.example. 3600 IN CNAME www.internet.test.")
            && out.contains(";; the chain continues at www.internet.test., which is forwarded:")
            && out.contains("upstreams, in order: 127.0.0.1:5300, [::1]:5301"),
        "{out}"
    );
    // Outside: not forwarded, REFUSED.
    let out = explain("192.0.2.1", "www.example.org");
    assert!(
        out.contains("status REFUSED") && !out.contains("forwarded"),
        "{out}"
    );

    let (ok, out) = run(&["check", "--config", config]);
    assert!(ok, "{out}");
    assert!(out.contains("view internal:\n  recursion on: forwarders 127.0.0.1:5300, [::1]:5301\n  forward corp.northwind.test. to 127.0.0.1:5302, 127.0.0.2:53\n  forward example. to 127.0.0.1:5303\n"), "{out}");
    assert!(out.contains("view external:\n  recursion off"), "{out}");
    let (ok, json) = run(&["check", "--config", config, "--format", "json"]);
    assert!(ok, "{json}");
    assert!(
        json.contains("\"recursion\": true") && json.contains("\"127.0.0.1:5300\""),
        "{json}"
    );
}

/// Identical misses in flight are joined: many clients asking the same name at once cost one
/// upstream query (the upstream answers after 300 ms). Two views never share cache entries,
/// and a different DO bit is a different entry.
#[test]
fn forward_joins_identical_misses_and_keeps_views_apart() {
    let dir = scratch_dir("forward_join");
    let upstream = FakeUpstream::start(Box::new(|socket, query, from| {
        std::thread::sleep(Duration::from_millis(300));
        let _ = socket.send_to(
            &response(query, id_of(query), QR_RA_RD, Some([192, 0, 2, 33])),
            from,
        );
    }));
    let to = format!("\"{}\"", upstream.addr);
    let config = fault_config(
        &dir,
        &[
            ("inside", "127.0.0.2", to.clone(), "timeout = 2\n"),
            ("lab", "127.0.0.5", to, "timeout = 2\n"),
        ],
    );
    let server = Server::with_config(&config);
    let sockets: Vec<UdpSocket> = (0..8)
        .map(|_| {
            let socket = udp_socket(&server, INTERNAL);
            socket.set_read_timeout(Some(CLIENT_WAIT)).unwrap();
            socket
        })
        .collect();
    for socket in &sockets {
        socket
            .send(&query("joined.test.", RecordType::A).to_vec().unwrap())
            .unwrap();
    }
    let mut buf = [0u8; 512];
    for socket in &sockets {
        let len = socket.recv(&mut buf).expect("every client gets the answer");
        let reply = Message::from_vec(&buf[..len]).unwrap();
        assert_eq!(without_ttls(answers(&reply)), ["joined.test. A 192.0.2.33"]);
    }
    let asked = |name: &[u8]| {
        upstream
            .queries()
            .iter()
            .filter(|q| q.windows(name.len()).any(|w| w == name))
            .count()
    };
    assert_eq!(
        asked(b"\x06joined"),
        1,
        "one upstream query for eight clients"
    );
    // The other view has its own cache: it asks again.
    let lab = ask(&server, client(5), "joined.test.", RecordType::A);
    assert_eq!(lab.answers.len(), 1);
    assert_eq!(
        asked(b"\x06joined"),
        2,
        "the lab view does not see the inside's cache"
    );
    // DO set: another entry.
    let _ = ask_message(
        &server,
        INTERNAL,
        Via::Udp,
        &with_edns(query("joined.test.", RecordType::A), 1232, true),
    );
    assert_eq!(asked(b"\x06joined"), 3, "DO is part of the cache key");
    let _ = ask(&server, INTERNAL, "joined.test.", RecordType::A);
    assert_eq!(asked(b"\x06joined"), 3, "cached");
}

/// The bundled example's commented-out resolver block is a working config once uncommented
/// (loaded only: nothing is served or sent), and the example as shipped has no recursive view.
#[test]
fn forward_the_bundled_examples_resolver_block_loads_when_uncommented() {
    let dir = scratch_copy("forward_example", &example_dir());
    let text = fs::read_to_string(example_config()).unwrap();
    let keys = [
        "# recursion",
        "# forwarders",
        "# [[view.forward]]",
        "# zone",
        "# to",
    ];
    let uncommented: String = text
        .lines()
        .map(|line| match keys.iter().any(|k| line.starts_with(k)) {
            true => &line[2..],
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        uncommented, text,
        "the example has a commented resolver block"
    );
    let config = dir.join("splitdns.toml");
    fs::write(&config, &uncommented).unwrap();
    let (ok, out) = run(&["check", "--config", config.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("view internal:\n  recursion on: forwarders 192.0.2.53:53, 198.51.100.53:53\n  forward corp.contoso.example. to 10.0.0.21:53, 10.0.0.22:53\n"),
        "{out}"
    );
    let (ok, out) = run(&["check", "--config", example_config().to_str().unwrap()]);
    assert!(ok && !out.contains("recursion on"), "{out}");
}

/// A reload keeps a recursive view's resolver (and so its cache) while the view's name and
/// resolver settings stay; a change to them starts a fresh one. Views that do not recurse have
/// none.
#[test]
fn forward_resolver_survives_a_reload_with_the_same_settings() {
    let dir = scratch_dir("forward_reload");
    fs::write(dir.join("contoso.example.zone"), CONTOSO_ZONE).unwrap();
    let config = dir.join("splitdns.toml");
    let write = |timeout: &str| {
        fs::write(
            &config,
            format!(
                "[[view]]\nname = \"internal\"\nclients = [\"10.0.0.0/8\"]\nrecursion = true\n\
                 forwarders = [\"127.0.0.1:5300\"]\n[view.resolver]\ntimeout = {timeout}\n\n\
                 [[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\"]\n\n\
                 [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\n"
            ),
        )
        .unwrap();
    };
    write("1");
    let metrics = splitdns::Metrics::default();
    let registry = &metrics.queries;
    let (_, first) = splitdns::load(&config).unwrap().into_published(registry);
    assert!(first.views[0].resolver.is_some() && first.views[1].resolver.is_none());
    let (_, same) = splitdns::load(&config)
        .unwrap()
        .into_published_after(registry, Some(&first));
    assert!(Arc::ptr_eq(
        first.views[0].resolver.as_ref().unwrap(),
        same.views[0].resolver.as_ref().unwrap()
    ));
    write("2");
    let (_, changed) = splitdns::load(&config)
        .unwrap()
        .into_published_after(registry, Some(&same));
    assert!(!Arc::ptr_eq(
        same.views[0].resolver.as_ref().unwrap(),
        changed.views[0].resolver.as_ref().unwrap()
    ));
}

/// A view facing the public that recurses only with `open_resolver = true`, and then Response
/// Rate Limiting (on by default there) also limits the forwarded answers sent from the
/// runtime: identical answers beyond the rate are dropped. The upstream answers with TTL 0, so
/// every query goes upstream.
#[test]
fn forward_open_resolver_answers_are_rate_limited() {
    let dir = scratch_dir("forward_open");
    let upstream = FakeUpstream::start(Box::new(|socket, query, from| {
        let mut answer = response(query, id_of(query), QR_RA_RD, Some([192, 0, 2, 8]));
        let ttl_at = answer.len() - 10;
        answer[ttl_at..ttl_at + 4].copy_from_slice(&[0, 0, 0, 0]);
        let _ = socket.send_to(&answer, from);
    }));
    fs::write(dir.join("contoso.example.zone"), CONTOSO_ZONE).unwrap();
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        format!(
            "[[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\"]\nrecursion = true\n\
             open_resolver = true\nforwarders = [\"{}\"]\n[view.resolver]\nfailure_ttl = 0\n\
             [view.rrl]\nresponses_per_second = 1\nslip = 0\nexempt = []\n\n\
             [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\n",
            upstream.addr
        ),
    )
    .unwrap();
    let server = Server::with_config(&config);
    let socket = udp_socket(&server, EXTERNAL);
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut answered = 0;
    let mut buf = [0u8; 512];
    for _ in 0..10 {
        socket
            .send(&query("open.test.", RecordType::A).to_vec().unwrap())
            .unwrap();
        if socket.recv(&mut buf).is_ok() {
            answered += 1;
        }
    }
    let asked = upstream.queries().len();
    assert!(asked >= 8, "every query went upstream (TTL 0): {asked}");
    assert!(
        (1..=3).contains(&answered),
        "{answered} of 10 identical answers sent at 1/s"
    );
}

/// An upstream on IPv6 loopback, written in brackets with its port: asked over IPv6.
#[test]
fn forward_to_an_ipv6_upstream() {
    let Ok(socket) = UdpSocket::bind("[::1]:0") else {
        return eprintln!("no IPv6 loopback here; skipped");
    };
    let dir = scratch_dir("forward_ipv6");
    let upstream = FakeUpstream::start_on(
        socket,
        Box::new(|socket, query, from| {
            let _ = socket.send_to(
                &response(query, id_of(query), QR_RA_RD, Some([192, 0, 2, 6])),
                from,
            );
        }),
    );
    let config = fault_config(
        &dir,
        &[("inside", "127.0.0.2", format!("\"{}\"", upstream.addr), "")],
    );
    assert!(fs::read_to_string(&config).unwrap().contains("\"[::1]:"));
    let server = Server::with_config(&config);
    let reply = ask(&server, INTERNAL, "v6.test.", RecordType::A);
    assert_eq!(without_ttls(answers(&reply)), ["v6.test. A 192.0.2.6"]);
    assert_eq!(upstream.queries().len(), 1);
}

/// An upstream that keeps failing is skipped (asked after the others, so clients stop waiting
/// on it) and probed in the background; once it answers again it is back in its place.
#[test]
fn forward_skips_a_failing_upstream_and_probes_it_back() {
    let dir = scratch_dir("forward_probe");
    let alive = Arc::new(AtomicBool::new(false));
    let flag = alive.clone();
    let first = FakeUpstream::start(Box::new(move |socket, query, from| {
        if flag.load(Ordering::Relaxed) {
            let _ = socket.send_to(
                &response(query, id_of(query), QR_RA_RD, Some([192, 0, 2, 70])),
                from,
            );
        }
    }));
    let second = FakeUpstream::start(Box::new(|socket, query, from| {
        let _ = socket.send_to(
            &response(query, id_of(query), QR_RA_RD, Some([192, 0, 2, 7])),
            from,
        );
    }));
    let config = fault_config(
        &dir,
        &[(
            "inside",
            "127.0.0.2",
            format!("\"{}\", \"{}\"", first.addr, second.addr),
            "",
        )],
    );
    let server = Server::with_config(&config);
    let address = |reply: &Message| without_ttls(answers(reply)).join(" ");
    // Three failures in a row, each costing a 0.3 s try before the second upstream answers.
    for i in 0..3 {
        let reply = ask(
            &server,
            INTERNAL,
            &format!("n{i}.probe.test."),
            RecordType::A,
        );
        assert!(address(&reply).ends_with("192.0.2.7"), "{reply:?}");
    }
    // Skipped now: the second upstream is asked first, at once.
    let started = Instant::now();
    let reply = ask(&server, INTERNAL, "fast.probe.test.", RecordType::A);
    assert!(address(&reply).ends_with("192.0.2.7"));
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    // It comes back: the probe notices within a few seconds and it is asked first again.
    alive.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut back = false;
    for i in 0.. {
        let reply = ask(
            &server,
            INTERNAL,
            &format!("b{i}.probe.test."),
            RecordType::A,
        );
        if address(&reply).ends_with("192.0.2.70") {
            back = true;
            break;
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(back, "the upstream was not taken back");
    let probed = first
        .queries()
        .iter()
        .any(|q| question_of(q) == [0, 0, 2, 0, 1]);
    assert!(probed, "the root NS probe reached the skipped upstream");
}

/// A negative response from an upstream that does not lower its SOA's TTL itself: NXDOMAIN or
/// NODATA (by `rcode`) with `neg.test. 300 SOA … MINIMUM 4` in the authority section.
fn negative_response(query: &[u8], rcode: u16) -> Vec<u8> {
    let mut m = id_of(query).to_be_bytes().to_vec();
    m.extend_from_slice(&(QR_RA_RD | rcode).to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0, 1, 0, 0]);
    m.extend_from_slice(question_of(query));
    let mut rdata = b"\x03ns1\x03neg\x04test\x00\x0ahostmaster\x03neg\x04test\x00".to_vec();
    for field in [1u32, 3600, 900, 1_209_600, 4] {
        rdata.extend_from_slice(&field.to_be_bytes());
    }
    m.extend_from_slice(b"\x03neg\x04test\x00\x00\x06\x00\x01");
    m.extend_from_slice(&300u32.to_be_bytes());
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
    m
}

/// RFC 2308 §3 and §5: the SOA of a relayed NXDOMAIN or NODATA goes out with the negative TTL,
/// min(SOA TTL, MINIMUM) = 4 here, not the SOA's own 300 — else Windows clients and the DCs
/// that ask us would hold "does not exist" 75 times as long as we do — and a cached answer
/// counts it down. Over UDP and TCP, from an upstream that sends the SOA's TTL as it is.
#[test]
fn forward_negative_answers_carry_the_negative_ttl_counting_down() {
    let dir = scratch_dir("forward_negative_ttl");
    let upstream = FakeUpstream::start(Box::new(|socket, query, from| {
        // NXDOMAIN for nx.neg.test., NODATA for anything else.
        let nx = question_of(query).starts_with(b"\x02nx\x03neg\x04test\x00");
        let rcode = if nx { 3 } else { 0 };
        let _ = socket.send_to(&negative_response(query, rcode), from);
    }));
    let config = fault_config(
        &dir,
        &[("inside", "127.0.0.2", format!("\"{}\"", upstream.addr), "")],
    );
    let server = Server::with_config(&config);
    let cases = [
        ("nx.neg.test.", RecordType::A, ResponseCode::NXDomain),
        ("nodata.neg.test.", RecordType::TXT, ResponseCode::NoError),
    ];
    let soa_ttl = |reply: &Message, via: Via| -> u32 {
        assert!(reply.answers.is_empty(), "{via:?} {reply:?}");
        assert_eq!(
            without_ttls(authorities(reply)),
            ["neg.test. SOA ns1.neg.test. hostmaster.neg.test. 1 3600 900 1209600 4"],
            "{via:?}"
        );
        reply.authorities[0].ttl
    };
    let mut first = Vec::new();
    for (name, rtype, rcode) in cases {
        let (reply, _) = ask_message(&server, INTERNAL, Via::Udp, &query(name, rtype));
        assert_eq!(reply.metadata.response_code, rcode, "{name}");
        let ttl = soa_ttl(&reply, Via::Udp);
        assert!(
            ttl <= 4,
            "{name}: the SOA went out with TTL {ttl}, not the negative TTL 4"
        );
        first.push(ttl);
    }
    std::thread::sleep(Duration::from_millis(2100));
    for ((name, rtype, rcode), first) in cases.into_iter().zip(first) {
        for via in [Via::Udp, Via::Tcp] {
            let (reply, _) = ask_message(&server, INTERNAL, via, &query(name, rtype));
            assert_eq!(reply.metadata.response_code, rcode, "{name} {via:?}");
            let ttl = soa_ttl(&reply, via);
            assert!(
                ttl + 2 <= first && ttl + 3 >= first,
                "{name} {via:?}: SOA TTL {first}, then {ttl} about 2 s later from the cache"
            );
        }
    }
    assert_eq!(
        upstream.queries().len(),
        2,
        "the later answers came from the cache"
    );
}

/// On one TCP connection, a query the resolver must wait on does not hold up the answers behind
/// it (RFC 7766 §6.2.1.1): an authoritative answer asked after it comes first, and the forwarded
/// answer follows when the upstream (which takes 600 ms) gives it.
#[test]
fn a_slow_forwarded_query_does_not_hold_up_the_next_answer_on_its_connection() {
    let dir = scratch_dir("forward_out_of_order");
    let slow = FakeUpstream::start(Box::new(|socket, query, from| {
        std::thread::sleep(Duration::from_millis(600));
        let _ = socket.send_to(
            &response(query, id_of(query), QR_RA_RD, Some([192, 0, 2, 66])),
            from,
        );
    }));
    let config = fault_config(
        &dir,
        &[(
            "slow",
            "127.0.0.9",
            format!("\"{}\"", slow.addr),
            "timeout = 2",
        )],
    );
    let server = Server::with_config(&config);
    let mut stream = tcp_connect(&server, client(9));
    let mut forwarded = query("www.internet.test.", RecordType::A);
    forwarded.metadata.id = 1;
    let mut ours = query("www.contoso.example.", RecordType::A);
    ours.metadata.id = 2;
    let started = Instant::now();
    for message in [&forwarded, &ours] {
        stream
            .write_all(&framed(&message.to_vec().unwrap()))
            .unwrap();
    }
    let first = Message::from_vec(&read_framed(&mut stream)).unwrap();
    let first_after = started.elapsed();
    let second = Message::from_vec(&read_framed(&mut stream)).unwrap();
    assert_eq!(first.metadata.id, 2, "the authoritative answer first");
    assert!(
        first_after < Duration::from_millis(500),
        "it waited {first_after:?}"
    );
    assert_eq!(
        first.answers.iter().map(render).collect::<Vec<_>>(),
        ["www.contoso.example. 3600 A 203.0.113.80"]
    );
    assert_eq!(second.metadata.id, 1);
    assert_eq!(
        second.answers.iter().map(render).collect::<Vec<_>>(),
        ["www.internet.test. 60 A 192.0.2.66"]
    );
    assert_eq!(slow.queries().len(), 1);
}
