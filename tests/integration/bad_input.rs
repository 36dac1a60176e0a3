//! Bad input, through the real binary and the real sockets: broken configs and zone files stop
//! both `check` and `serve` with `file:line` messages; the shipped example and every fixture pass
//! `check`; and thousands of hostile UDP packets leave the server answering correctly.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::common::{
    Daemon, EXTERNAL, INTERNAL, Server, Via, exchange, fixture, query, scratch_dir, splitdns,
    tcp_connect, udp_socket, with_edns,
};

/// How long `check` may take to exit.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);

const CONFIG: &str = r#"# a valid config; each bad-input case changes one thing
[[view]]
name = "internal"
clients = ["127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"
[zone.views]
internal = "contoso.example.internal.zone"
"#;

const SHARED_ZONE: &str = r#"$ORIGIN contoso.example.
$TTL 3600
@       SOA   ns1 hostmaster ( 1 3600 900 1209600 300 )
        NS    ns1
ns1     A     203.0.113.53
www     A     203.0.113.80
mail    A     203.0.113.10
"#;

const INTERNAL_ZONE: &str = r#"$ORIGIN contoso.example.
$TTL 300
mail    A     10.0.0.11
        A     10.0.0.12
"#;

/// Which file a case's error must point at.
#[derive(Debug, Clone, Copy)]
enum Blame {
    Config,
    Shared,
    Internal,
}

struct BadCase {
    name: &'static str,
    config: String,
    shared: String,
    internal: String,
    blame: Blame,
    /// Text on the offending line of the blamed file: the expected line is where it occurs.
    marker: &'static str,
    /// What the message must mention (the bad key or value).
    mention: &'static str,
}

fn case(name: &'static str, blame: Blame, marker: &'static str, mention: &'static str) -> BadCase {
    BadCase {
        name,
        config: CONFIG.to_string(),
        shared: SHARED_ZONE.to_string(),
        internal: INTERNAL_ZONE.to_string(),
        blame,
        marker,
        mention,
    }
}

fn bad_cases() -> Vec<BadCase> {
    let mut cases = Vec::new();

    let mut c = case("unknown key", Blame::Config, "forwarders", "forwarders");
    c.config = c.config.replace(
        "name = \"internal\"\n",
        "name = \"internal\"\nforwarders = [\"10.0.0.1\"]\n",
    );
    cases.push(c);

    // The internal resolver: an open resolver, a forwarder that is ourselves, and a
    // recursive view with nowhere to forward are refused where they are written.
    let mut c = case(
        "recursion on a public view",
        Blame::Config,
        "recursion = true",
        "open resolver",
    );
    c.config = c.config.replace(
        "name = \"external\"\n",
        "name = \"external\"\nrecursion = true\nforwarders = [\"127.0.0.9:5300\"]\n",
    );
    cases.push(c);

    let mut c = case(
        "forwarder is ourselves",
        Blame::Config,
        "127.0.0.1:5353\"]",
        "own listen",
    );
    c.config = c.config.replace(
        "name = \"internal\"\n",
        "name = \"internal\"\nrecursion = true\nforwarders = [\"127.0.0.9:5300\", \"127.0.0.1:5353\"]\n",
    );
    cases.push(c);

    let mut c = case(
        "recursion without forwarders",
        Blame::Config,
        "recursion = true",
        "no forwarders",
    );
    c.config = c.config.replace(
        "name = \"internal\"\n",
        "name = \"internal\"\nrecursion = true\n",
    );
    cases.push(c);

    let mut c = case(
        "bad forwarder address",
        Blame::Config,
        "dc1.corp",
        "dc1.corp",
    );
    c.config = c.config.replace(
        "clients = [\"127.0.0.2/32\"]\n",
        "clients = [\"127.0.0.2/32\"]\nrecursion = true\nforwarders = [\"127.0.0.9\"]\n\
         [[view.forward]]\nzone = \"corp.example\"\nto = [\"dc1.corp\"]\n",
    );
    cases.push(c);

    let mut c = case("bad CIDR", Blame::Config, "10.0.0.0/33", "10.0.0.0/33");
    c.config = c
        .config
        .replace("[\"127.0.0.2/32\"]", "[\"127.0.0.2/32\", \"10.0.0.0/33\"]");
    cases.push(c);

    let mut c = case(
        "duplicate prefix",
        Blame::Config,
        "\"::/0\", \"127.0.0.2/32\"",
        "127.0.0.2/32",
    );
    c.config = c.config.replace("\"::/0\"]", "\"::/0\", \"127.0.0.2/32\"]");
    cases.push(c);

    // The zone file cannot point at a line of itself: the config line that names it is blamed.
    let mut c = case(
        "missing zone file",
        Blame::Config,
        "missing.zone",
        "missing.zone",
    );
    c.config = c
        .config
        .replace("file = \"contoso.example.zone\"", "file = \"missing.zone\"");
    cases.push(c);

    let mut c = case(
        "missing override file",
        Blame::Config,
        "missing.internal.zone",
        "missing.internal.zone",
    );
    c.config = c.config.replace(
        "internal = \"contoso.example.internal.zone\"",
        "internal = \"missing.internal.zone\"",
    );
    cases.push(c);

    // Health checks: each broken key is blamed on its own line.
    let health = |block: &str| {
        format!(
            "{CONFIG}\n[[health]]\nname = \"mail.contoso.example\"\nview = \"internal\"\n{block}\n"
        )
    };
    for (name, block, marker, mention) in [
        ("unknown check kind", "kind = \"icmp\"", "icmp", "icmp"),
        ("zero interval", "interval = 0", "interval = 0", "interval"),
        (
            "negative timeout",
            "timeout = -1",
            "timeout = -1",
            "timeout",
        ),
        ("zero fall", "fall = 0", "fall = 0", "fall"),
        (
            "CA file that is not PEM",
            "ca = \"contoso.example.zone\"",
            "ca = ",
            "does not parse",
        ),
        (
            "unknown all_down policy",
            "all_down = \"none\"",
            "all_down",
            "none",
        ),
    ] {
        let mut c = case(name, Blame::Config, marker, mention);
        c.config = health(block);
        cases.push(c);
    }
    let mut c = case(
        "health check on a name without addresses",
        Blame::Config,
        "www2",
        "www2.contoso.example",
    );
    c.config = format!("{CONFIG}\n[[health]]\nname = \"www2.contoso.example\"\n");
    cases.push(c);
    let mut c = case(
        "one name checked twice",
        Blame::Config,
        "MAIL.contoso.example",
        "already health-checked",
    );
    c.config = format!(
        "{CONFIG}\n[[health]]\nname = \"mail.contoso.example\"\n\n[[health]]\nname = \"MAIL.contoso.example\"\nview = \"internal\"\nkind = \"tcp\"\n"
    );
    cases.push(c);
    let mut c = case(
        "health check on a name without addresses in its view",
        Blame::Config,
        "inside.contoso.example",
        "view external",
    );
    c.internal.push_str("inside  A  10.0.0.20\n");
    c.config = format!(
        "{CONFIG}\n[[health]]\nname = \"inside.contoso.example\"\nview = \"external\"\nkind = \"tcp\"\n"
    );
    cases.push(c);

    let mut c = case(
        "zone syntax error",
        Blame::Shared,
        "203.0.113.300",
        "203.0.113.300",
    );
    c.shared = c
        .shared
        .replace("www     A     203.0.113.80", "www     A     203.0.113.300");
    cases.push(c);

    let mut c = case("record without a type", Blame::Shared, "ftp", "ftp");
    c.shared.push_str("ftp     3600  IN\n");
    cases.push(c);

    let mut c = case(
        "syntax error in an override file",
        Blame::Internal,
        "AAAA",
        "",
    );
    c.internal.push_str("autodiscover  AAAA  10.0.0.11\n");
    cases.push(c);

    cases
}

/// Runs the binary to completion, failing the test if it outlives [`EXIT_DEADLINE`].
fn run_binary(args: &[&str]) -> Output {
    let mut child = splitdns()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start splitdns");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for splitdns").is_some() {
            return child.wait_with_output().expect("collect splitdns output");
        }
        if start.elapsed() > EXIT_DEADLINE {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect splitdns output");
            panic!(
                "splitdns {args:?} still running after {EXIT_DEADLINE:?}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn line_of(text: &str, marker: &str) -> usize {
    text.lines()
        .position(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("{marker:?} not in the case's text"))
        + 1
}

/// Each broken config or zone file makes `check` and `serve` exit non-zero, printing a line that
/// starts with exactly `file:line:` for the problem and names the bad key or value. (A broken
/// zone file refuses `serve` only with `all_or_nothing = true`; otherwise that zone alone is not
/// served, as the control tests show.)
#[test]
fn bad_configs_and_zones_stop_check_and_serve_with_file_and_line() {
    let mut failures = Vec::new();
    for (index, case) in bad_cases().into_iter().enumerate() {
        let dir = scratch_dir(&format!("bad_input_{index}"));
        let config = dir.join("splitdns.toml");
        std::fs::write(&config, &case.config).unwrap();
        std::fs::write(dir.join("contoso.example.zone"), &case.shared).unwrap();
        std::fs::write(dir.join("contoso.example.internal.zone"), &case.internal).unwrap();
        let (file, text): (PathBuf, &str) = match case.blame {
            Blame::Config => (config.clone(), &case.config),
            Blame::Shared => (dir.join("contoso.example.zone"), &case.shared),
            Blame::Internal => (dir.join("contoso.example.internal.zone"), &case.internal),
        };
        let prefix = format!("{}:{}:", file.display(), line_of(text, case.marker));
        let config_arg = config.to_str().unwrap();
        let strict = dir.join("all-or-nothing.toml");
        std::fs::write(&strict, format!("all_or_nothing = true\n{}", case.config)).unwrap();
        // The strict copy has one line more at the top.
        let strict_prefix = match case.blame {
            Blame::Config => format!("{}:{}:", strict.display(), line_of(text, case.marker) + 1),
            Blame::Shared | Blame::Internal => prefix.clone(),
        };
        for (command, prefix) in [("check", &prefix), ("serve", &strict_prefix)] {
            let (status, stderr) = match command {
                "check" => {
                    let output = run_binary(&["check", "--config", config_arg]);
                    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
                    (output.status, stderr)
                }
                _ => Daemon::serve(&strict).start_fails(),
            };
            let located = stderr
                .lines()
                .find(|line| line.starts_with(prefix.as_str()));
            let problem = if status.success() {
                Some("exited 0".to_string())
            } else if let Some(line) = located {
                (!line.contains(case.mention))
                    .then(|| format!("the message does not name {:?}", case.mention))
            } else {
                Some(format!("no line starts with {prefix:?}"))
            };
            if let Some(problem) = problem {
                failures.push(format!(
                    "{} / {command}: {problem}; stderr:\n{stderr}",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The bundled example passes `check`, which lists both views with their zones; so does every
/// fixture these tests serve.
#[test]
fn the_bundled_example_and_every_fixture_pass_check() {
    let example = crate::common::example_config();
    let output = run_binary(&["check", "--config", example.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for view in ["internal", "external"] {
        let section = stdout
            .split("view ")
            .find(|s| s.starts_with(&format!("{view}:")))
            .unwrap_or_else(|| panic!("view {view} not listed:\n{stdout}"));
        for zone in ["contoso.example. serial ", "fabrikam.example. serial "] {
            assert!(
                section.contains(zone),
                "view {view} does not list {zone}:\n{stdout}"
            );
        }
    }
    for name in ["split", "rfc4592", "no_default_view"] {
        let output = run_binary(&["check", "--config", fixture(name).to_str().unwrap()]);
        assert!(
            output.status.success(),
            "fixture {name}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The binary itself: `serve --listen 127.0.0.1:0` logs the address it bound, and answers each
/// source from its view there.
#[test]
fn the_binary_serves_both_views() {
    // `ephemeral`: the daemon is found through its 'serving on ADDR' log line.
    let daemon = Daemon::serve(fixture("split"))
        .ephemeral()
        .log(scratch_dir("bad_input_binary").join("splitdns.log"))
        .start();
    let server = daemon.server();
    let inside = crate::common::ask(
        &server,
        INTERNAL,
        Via::Udp,
        "mail.contoso.example.",
        RecordType::A,
    );
    assert_eq!(inside.answer().len(), 3, "{}", inside.dump());
    let outside = crate::common::ask(
        &server,
        EXTERNAL,
        Via::Tcp,
        "mail.contoso.example.",
        RecordType::A,
    );
    assert_eq!(
        outside.answer(),
        ["mail.contoso.example. 3600 A 203.0.113.10"],
        "{}",
        outside.dump()
    );
}

/// A small xorshift generator: reproducible "random" packets without another crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Well-formed queries to mutate.
fn templates() -> Vec<Vec<u8>> {
    let mut templates = Vec::new();
    for (name, rtype) in [
        ("mail.contoso.example.", RecordType::A),
        ("_autodiscover._tcp.fabrikam.example.", RecordType::SRV),
        ("huge.contoso.example.", RecordType::TXT),
        ("mail.old.contoso.example.", RecordType::A),
        ("host.branch.contoso.example.", RecordType::AAAA),
    ] {
        templates.push(query(name, rtype).to_vec().unwrap());
        templates.push(with_edns(query(name, rtype), 4096, true).to_vec().unwrap());
    }
    templates
}

/// 10,000 packets: pure noise of every length (including shorter than a header), truncated
/// queries, queries with flipped bytes, and queries with random header counts.
fn hostile_packets(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = XorShift(seed);
    let templates = templates();
    (0..10_000)
        .map(|_| {
            let template = &templates[rng.below(templates.len())];
            match rng.below(4) {
                0 => (0..rng.below(700)).map(|_| rng.byte()).collect(),
                1 => template[..rng.below(template.len())].to_vec(),
                2 => {
                    let mut packet = template.clone();
                    for _ in 0..=rng.below(3) {
                        let at = rng.below(packet.len());
                        packet[at] ^= rng.byte() | 1;
                    }
                    packet
                }
                _ => {
                    let mut packet = template.clone();
                    // The four section counts.
                    for count in &mut packet[4..12] {
                        if rng.below(3) == 0 {
                            *count = rng.byte();
                        }
                    }
                    let tail = rng.below(40);
                    packet.extend((0..tail).map(|_| rng.byte()));
                    packet
                }
            }
        })
        .collect()
}

/// The request path itself, on every hostile packet: a response (QR set) is never answered, and
/// whatever answer is produced decodes as a DNS response with the query's ID.
#[test]
fn hostile_packets_get_well_formed_answers_or_none() {
    let snapshot = splitdns::load(&fixture("split"))
        .map_err(|e| e.lines())
        .unwrap()
        .snapshot;
    let mut out = Vec::new();
    let mut answered = 0;
    for packet in hostile_packets(0x5eed_1234_abcd_0001) {
        let summary = splitdns::respond(
            &snapshot,
            IpAddr::from([127, 0, 0, 3]),
            &packet,
            splitdns::Transport::Udp,
            &mut out,
        );
        if summary.is_none() {
            continue;
        }
        answered += 1;
        assert!(
            packet.len() >= 12,
            "answered a {}-octet packet",
            packet.len()
        );
        assert_eq!(packet[2] & 0x80, 0, "answered a response: {packet:02x?}");
        let message = Message::from_vec(&out)
            .unwrap_or_else(|e| panic!("undecodable answer ({e}) to {packet:02x?}: {out:02x?}"));
        // The OPT record is there exactly when the query had one; without it, 512 is the limit.
        let limit = if message.edns.is_some() { 1232 } else { 512 };
        assert!(
            out.len() <= limit,
            "{} octets over UDP for {packet:02x?}",
            out.len()
        );
        assert_eq!(
            message.metadata.id,
            u16::from_be_bytes([packet[0], packet[1]])
        );
        assert_eq!(
            message.metadata.message_type,
            hickory_proto::op::MessageType::Response
        );
    }
    assert!(
        answered > 1000,
        "only {answered} of 10000 packets answered: the mix is not exercising the parser"
    );
}

/// Every `SYNC_EVERY` hostile packets the flood waits for the answer to a normal query: the
/// server's queue is then drained, so the kernel never drops the flood for want of buffer space
/// (every packet reaches the parser) and the server is seen answering correctly throughout.
const SYNC_EVERY: usize = 100;

/// Sends a normal query on the flooding socket and reads until its answer comes (replies to
/// hostile packets before it must still be well-formed DNS responses). A probe lost to a full
/// queue is sent again, a bounded number of times.
fn sync_with(server: &Server, socket: &std::net::UdpSocket, round: usize) {
    let mut buf = vec![0u8; 65535];
    for _attempt in 0..3 {
        let mut probe = query("mail.contoso.example.", RecordType::A);
        probe.metadata.id = 0xa000 | round as u16;
        socket.send(&probe.to_vec().unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let Ok(len) = socket.recv(&mut buf) else {
                break;
            };
            let message = Message::from_vec(&buf[..len]).unwrap_or_else(|e| {
                panic!(
                    "undecodable reply during the flood ({e}): {:02x?}",
                    &buf[..len]
                )
            });
            assert_eq!(message.metadata.message_type, MessageType::Response);
            let is_probe = message.metadata.id == probe.metadata.id
                && message
                    .queries
                    .first()
                    .is_some_and(|q| q.name() == probe.queries[0].name());
            if is_probe {
                let reply = crate::common::decode_reply(&probe, &buf[..len]);
                assert_eq!(
                    reply.answer(),
                    ["mail.contoso.example. 3600 A 203.0.113.10"],
                    "during the flood, round {round}:\n{}",
                    reply.dump()
                );
                return;
            }
        }
    }
    panic!(
        "no answer to a normal query after {round} x {SYNC_EVERY} hostile packets (server {})",
        server.addr
    );
}

/// 10,000 hostile UDP packets (and some garbage TCP connections) at the running server, with a
/// normal query answered correctly every 100 packets; then a normal query from each view, over
/// UDP and TCP, is answered correctly within a second.
#[test]
fn hostile_packets_leave_the_server_answering() {
    let server = Server::start("split");
    let socket = udp_socket(&server, EXTERNAL);
    for (index, packet) in hostile_packets(0x5eed_1234_abcd_0002).iter().enumerate() {
        socket.send(packet).expect("UDP send");
        if index % SYNC_EVERY == SYNC_EVERY - 1 {
            sync_with(&server, &socket, index / SYNC_EVERY);
        }
    }
    let mut rng = XorShift(7);
    for _ in 0..50 {
        let mut stream = tcp_connect(&server, EXTERNAL);
        let garbage: Vec<u8> = (0..rng.below(300)).map(|_| rng.byte()).collect();
        let _ = stream.write_all(&garbage);
        drop(stream);
    }

    for (from, expected) in [
        (
            INTERNAL,
            vec![
                "mail.contoso.example. 300 A 10.0.0.11",
                "mail.contoso.example. 300 A 10.0.0.12",
                "mail.contoso.example. 300 A 10.0.0.13",
            ],
        ),
        (EXTERNAL, vec!["mail.contoso.example. 3600 A 203.0.113.10"]),
    ] {
        for via in [Via::Udp, Via::Tcp] {
            let start = Instant::now();
            let reply = exchange(
                &server,
                from,
                via,
                &query("mail.contoso.example.", RecordType::A),
            );
            let elapsed = start.elapsed();
            assert!(
                elapsed < Duration::from_secs(1),
                "answered after {elapsed:?}"
            );
            assert_eq!(
                crate::common::sorted(reply.answer()),
                expected,
                "{from} {via:?}:\n{}",
                reply.dump()
            );
        }
    }

    // A TCP peer that stops mid-message does not stop others from being served.
    let mut stalled = tcp_connect(&server, EXTERNAL);
    stalled.write_all(&[0, 200, 1, 2, 3]).unwrap();
    let q = query("www.contoso.example.", RecordType::A);
    let reply = exchange(&server, INTERNAL, Via::Tcp, &q);
    assert_eq!(reply.answer(), ["www.contoso.example. 3600 A 203.0.113.80"]);
    let mut rest = Vec::new();
    stalled
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let _ = stalled.read_to_end(&mut rest);
    assert!(rest.is_empty(), "an answer to half a message");
}

/// Malformed or unsupported messages over the wire: a response (QR set) or a packet shorter than
/// a header is never answered (answering could loop two servers); an unknown opcode gets NOTIMP
/// (RFC 1035 §4.1.1) and two questions FORMERR (RFC 9619), each echoing the ID.
#[test]
fn malformed_messages_get_the_right_rcode_or_no_answer() {
    let server = Server::start("split");
    let valid = query("mail.contoso.example.", RecordType::A)
        .to_vec()
        .unwrap();

    let mut response = valid.clone();
    response[2] |= 0x80;
    let short = valid[..11].to_vec();
    for (what, packet) in [("a response", response), ("11 octets", short)] {
        let socket = udp_socket(&server, EXTERNAL);
        socket.send(&packet).unwrap();
        let probe = query("www.contoso.example.", RecordType::A);
        socket.send(&probe.to_vec().unwrap()).unwrap();
        let mut buf = vec![0u8; 65535];
        let mut received = Vec::new();
        loop {
            let len = socket.recv(&mut buf).expect("the probe's answer");
            let message = Message::from_vec(&buf[..len]).expect("decodable");
            if message.metadata.id == probe.metadata.id {
                break;
            }
            received.push(message);
        }
        // Anything still on its way after the probe's answer.
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Ok(len) = socket.recv(&mut buf) {
            received.push(Message::from_vec(&buf[..len]).expect("decodable"));
        }
        assert!(received.is_empty(), "{what} was answered: {received:?}");
    }

    let mut unknown_opcode = valid.clone();
    unknown_opcode[2] = (unknown_opcode[2] & 0x87) | (15 << 3);
    let mut two_questions = valid.clone();
    two_questions[5] = 2;
    two_questions.extend_from_slice(&valid[12..]);
    for (what, packet, rcode) in [
        ("opcode 15", unknown_opcode, ResponseCode::NotImp),
        ("two questions", two_questions, ResponseCode::FormErr),
    ] {
        for via in [Via::Udp, Via::Tcp] {
            let bytes = match via {
                Via::Udp => crate::common::udp_raw(&server, EXTERNAL, &packet),
                Via::Tcp => crate::common::tcp_raw(&server, EXTERNAL, &packet),
            };
            let reply =
                Message::from_vec(&bytes).unwrap_or_else(|e| panic!("{what}: undecodable ({e})"));
            assert_eq!(
                reply.metadata.id,
                u16::from_be_bytes([packet[0], packet[1]]),
                "{what}"
            );
            assert_eq!(reply.metadata.message_type, MessageType::Response, "{what}");
            assert_eq!(reply.metadata.response_code, rcode, "{what} over {via:?}");
            assert!(reply.answers.is_empty(), "{what}: answers");
        }
    }
}
