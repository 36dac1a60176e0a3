//! Hardening (RFC 8906, RFC 6891, RFC 7766, RFC 8482): odd and hostile messages over real
//! sockets. Each scenario states what mature servers (NSD, Knot, BIND) do; the server must answer
//! everything well formed correctly, refuse or drop the rest, and keep serving everyone else.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};

use crate::common::*;
use splitdns::reader;

/// A query built by hand, so that every header bit and count can be wrong on purpose.
fn raw_query(
    id: u16,
    flags: u16,
    qdcount: u16,
    name: &[u8],
    qtype: u16,
    qclass: u16,
    additional: &[&[u8]],
) -> Vec<u8> {
    let mut packet = id.to_be_bytes().to_vec();
    packet.extend_from_slice(&flags.to_be_bytes());
    packet.extend_from_slice(&qdcount.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0]);
    packet.extend_from_slice(&(additional.len() as u16).to_be_bytes());
    packet.extend_from_slice(name);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&qclass.to_be_bytes());
    for record in additional {
        packet.extend_from_slice(record);
    }
    packet
}

const WWW: &[u8] = b"\x03www\x07contoso\x07example\x00";
const APEX: &[u8] = b"\x07contoso\x07example\x00";

/// An OPT record: root owner, payload, extended-rcode/version/flags, and options.
fn opt(payload: u16, version: u8, flags: u16, options: &[u8]) -> Vec<u8> {
    let mut record = vec![0, 0, 41];
    record.extend_from_slice(&payload.to_be_bytes());
    record.extend_from_slice(&[0, version]);
    record.extend_from_slice(&flags.to_be_bytes());
    record.extend_from_slice(&(options.len() as u16).to_be_bytes());
    record.extend_from_slice(options);
    record
}

/// Sends raw bytes over UDP and returns the reply, or `None` if none came within `wait`.
fn udp_try(server: &Server, from: IpAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = udp_socket(server, from);
    socket.set_read_timeout(Some(wait)).unwrap();
    socket.send(bytes).unwrap();
    let mut buf = vec![0u8; 65535];
    socket.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

fn read(bytes: &[u8]) -> reader::Message {
    reader::read(bytes).unwrap_or_else(|| panic!("malformed response {bytes:02x?}"))
}

/// A normal query still gets the right answer, within a second.
fn assert_still_serving(server: &Server) {
    let started = Instant::now();
    let reply = ask(
        server,
        EXTERNAL,
        Via::Udp,
        "www.contoso.example.",
        RecordType::A,
    );
    assert_eq!(
        reply.answer(),
        vec!["www.contoso.example. 3600 A 203.0.113.80"],
        "{}",
        reply.dump()
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answer took {:?}",
        started.elapsed()
    );
}

#[test]
fn header_and_edns_conformance() {
    let server = Server::start("split");
    // (description, packet, expected rcode (None: no answer at all), expected extended rcode)
    let cases: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        (
            "opcode STATUS is not implemented",
            raw_query(1, 2 << 11, 1, WWW, 1, 1, &[]),
            Some(4),
        ),
        (
            "opcode 15 is not implemented",
            raw_query(2, 15 << 11, 1, WWW, 1, 1, &[]),
            Some(4),
        ),
        (
            "NOTIFY is refused",
            raw_query(3, 4 << 11, 1, APEX, 6, 1, &[]),
            Some(5),
        ),
        (
            "UPDATE is refused",
            raw_query(4, 5 << 11, 1, APEX, 6, 1, &[]),
            Some(5),
        ),
        (
            "no question: FORMERR",
            raw_query(5, 0, 0, b"", 0, 0, &[])
                .into_iter()
                .take(12)
                .collect(),
            Some(1),
        ),
        (
            "two questions: FORMERR",
            [
                raw_query(6, 0, 2, WWW, 1, 1, &[]),
                [WWW, &[0, 1, 0, 1]].concat(),
            ]
            .concat(),
            Some(1),
        ),
        (
            "two OPT records: FORMERR",
            raw_query(
                7,
                0,
                1,
                WWW,
                1,
                1,
                &[&opt(1232, 0, 0, &[]), &opt(1232, 0, 0, &[])],
            ),
            Some(1),
        ),
        (
            "OPT not owned by the root: FORMERR",
            raw_query(
                8,
                0,
                1,
                WWW,
                1,
                1,
                &[&[&b"\x01x"[..], &opt(1232, 0, 0, &[])[1..]].concat()],
            ),
            Some(1),
        ),
        (
            "a response (QR=1) is never answered",
            raw_query(9, 0x8000, 1, WWW, 1, 1, &[]),
            None,
        ),
        (
            "a truncated header is dropped",
            raw_query(10, 0, 1, WWW, 1, 1, &[])[..7].to_vec(),
            None,
        ),
        (
            "EDNS version 1: BADVERS",
            raw_query(11, 0, 1, WWW, 1, 1, &[&opt(1232, 1, 0x8000, &[])]),
            Some(16),
        ),
        (
            "unknown qclass is refused",
            raw_query(12, 0, 1, WWW, 1, 42, &[]),
            Some(5),
        ),
        (
            "AXFR is refused",
            raw_query(13, 0, 1, APEX, 252, 1, &[]),
            Some(5),
        ),
        (
            "IXFR is refused",
            raw_query(14, 0, 1, APEX, 251, 1, &[]),
            Some(5),
        ),
    ];
    for (what, packet, expected) in cases {
        let reply = udp_try(
            &server,
            EXTERNAL,
            &packet,
            Duration::from_millis(if expected.is_some() { 2000 } else { 300 }),
        );
        match (expected, reply) {
            (None, None) => {}
            (None, Some(bytes)) => panic!("{what}: answered {bytes:02x?}"),
            (Some(_), None) => panic!("{what}: no answer"),
            (Some(code), Some(bytes)) => {
                let message = read(&bytes);
                assert_eq!(message.rcode, code, "{what}: {message:?}");
                assert_eq!(
                    message.id,
                    u16::from_be_bytes([packet[0], packet[1]]),
                    "{what}"
                );
                assert_eq!(message.flags & 0x0080, 0, "{what}: RA must be clear");
                assert!(
                    message.answer.is_empty()
                        && message.authority.is_empty()
                        && message.additional.is_empty(),
                    "{what}: {message:?}"
                );
                if code == 16 {
                    let opt = message.opt.expect("BADVERS carries an OPT");
                    assert_eq!(opt.version, 0, "{what}");
                    assert!(opt.dnssec_ok, "{what}: DO is copied into BADVERS");
                }
            }
        }
    }
    assert_still_serving(&server);
}

#[test]
fn edns_options_flags_and_payload() {
    let server = Server::start("split");
    // An unknown option (code 65001) and an unknown flag bit (0x4000) next to DO.
    let packet = raw_query(
        21,
        0x0100,
        1,
        WWW,
        1,
        1,
        &[&opt(1232, 0, 0xc000, &[0xfd, 0xe9, 0, 2, 0xab, 0xcd])],
    );
    let bytes = udp_try(&server, EXTERNAL, &packet, TIMEOUT).expect("answered");
    let message = read(&bytes);
    assert_eq!(message.rcode, 0);
    assert_eq!(message.answer.len(), 1);
    let opt = message.opt.expect("OPT in the response");
    assert_eq!(
        (opt.version, opt.dnssec_ok, opt.udp_payload),
        (0, true, 1232)
    );
    // The OPT is the last 11 bytes: flags carry only DO, and no option is echoed.
    assert_eq!(
        &bytes[bytes.len() - 11..],
        &[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]
    );
    assert_eq!(message.flags & 0x0080, 0, "RD set, RA still clear");

    // A payload below 512 counts as 512: an answer over 512 bytes is truncated, not sent.
    let mut big = query("contoso.example.", RecordType::ANY);
    big.metadata.id = 22;
    let mut edns = Edns::new();
    edns.set_max_payload(100);
    big.set_edns(edns);
    let reply = exchange(&server, EXTERNAL, Via::Udp, &big);
    assert!(reply.size <= 512, "{}", reply.dump());
}

#[test]
fn any_is_minimal_over_udp_and_full_over_tcp() {
    let server = Server::start("split");
    let udp = ask(
        &server,
        EXTERNAL,
        Via::Udp,
        "contoso.example.",
        RecordType::ANY,
    );
    assert_eq!(udp.rcode(), ResponseCode::NoError);
    let types: std::collections::BTreeSet<RecordType> = udp
        .message
        .answers
        .iter()
        .map(|r| r.record_type())
        .collect();
    assert_eq!(
        types.len(),
        1,
        "RFC 8482: one RRset over UDP; {}",
        udp.dump()
    );
    let tcp = ask(
        &server,
        EXTERNAL,
        Via::Tcp,
        "contoso.example.",
        RecordType::ANY,
    );
    let types: std::collections::BTreeSet<RecordType> = tcp
        .message
        .answers
        .iter()
        .map(|r| r.record_type())
        .collect();
    assert!(
        types.contains(&RecordType::SOA)
            && types.contains(&RecordType::NS)
            && types.contains(&RecordType::MX),
        "{}",
        tcp.dump()
    );
}

#[test]
fn unknown_types_get_nodata_and_foreign_names_are_refused_in_every_view() {
    let server = Server::start("split");
    for from in [INTERNAL, EXTERNAL] {
        let reply = ask(
            &server,
            from,
            Via::Udp,
            "www.contoso.example.",
            RecordType::Unknown(65000),
        );
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.dump());
        assert!(
            reply.answer().is_empty() && reply.authority()[0].contains(" SOA "),
            "{}",
            reply.dump()
        );
        for name in ["example.org.", "com.", "."] {
            let reply = ask(&server, from, Via::Udp, name, RecordType::A);
            assert_eq!(
                reply.rcode(),
                ResponseCode::Refused,
                "{name}: {}",
                reply.dump()
            );
            assert!(!reply.aa(), "{name}: not authoritative for it");
        }
    }
}

#[test]
fn chaos_identity_is_refused_unless_the_view_opts_in() {
    let server = Server::start("rrl");
    for name in [
        &b"\x07version\x04bind\x00"[..],
        b"\x08hostname\x04bind\x00",
        b"\x02id\x06server\x00",
    ] {
        let packet = raw_query(31, 0, 1, name, 16, 3, &[]);
        let outside = read(&udp_try(&server, EXTERNAL, &packet, TIMEOUT).expect("answered"));
        assert_eq!(
            outside.rcode, 5,
            "external view does not opt in: {outside:?}"
        );
        let inside = read(&udp_try(&server, INTERNAL, &packet, TIMEOUT).expect("answered"));
        assert_eq!(inside.rcode, 0, "{inside:?}");
        assert_eq!(inside.answer.len(), 1);
        assert_eq!((inside.answer[0].rtype, inside.answer[0].class), (16, 3));
    }
    let version = read(
        &udp_try(
            &server,
            INTERNAL,
            &raw_query(32, 0, 1, b"\x07version\x04bind\x00", 16, 3, &[]),
            TIMEOUT,
        )
        .unwrap(),
    );
    assert!(
        String::from_utf8_lossy(&version.answer[0].rdata).contains("splitdns"),
        "{version:?}"
    );
}

#[test]
fn hostile_names_and_counts_get_formerr_or_nothing() {
    let server = Server::start("split");
    let long_label = [&[64u8][..], &[b'a'; 64], &[0]].concat();
    let long_name: Vec<u8> = (0..5)
        .flat_map(|_| [&[63u8][..], &[b'b'; 63]].concat())
        .chain([0])
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "compression pointer loop in the question",
            raw_query(41, 0, 1, b"\xc0\x0c", 1, 1, &[]),
        ),
        (
            "pointer chain in an additional record",
            raw_query(
                42,
                0,
                1,
                WWW,
                1,
                1,
                &[b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x00\x00\xff"],
            ),
        ),
        (
            "label over 63 octets",
            raw_query(43, 0, 1, &long_label, 1, 1, &[]),
        ),
        (
            "name over 255 octets",
            raw_query(44, 0, 1, &long_name, 1, 1, &[]),
        ),
        ("counts larger than the data", {
            let mut p = raw_query(45, 0, 1, WWW, 1, 1, &[]);
            p[7] = 9;
            p
        }),
        (
            "garbage OPT (length past the end)",
            raw_query(
                46,
                0,
                1,
                WWW,
                1,
                1,
                &[&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0x10, 0]],
            ),
        ),
        (
            "trailing garbage",
            [raw_query(47, 0, 1, WWW, 1, 1, &[]), vec![1, 2, 3]].concat(),
        ),
    ];
    for (what, packet) in cases {
        match udp_try(&server, EXTERNAL, &packet, Duration::from_millis(500)) {
            None => {}
            Some(bytes) => {
                let message = read(&bytes);
                assert_eq!(message.rcode, 1, "{what}: {message:?}");
            }
        }
    }
    assert_still_serving(&server);
}

#[test]
fn edns_client_subnet_never_changes_the_view() {
    let server = Server::start("split");
    let mut message = query("mail.contoso.example.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut()
        .insert(EdnsOption::Subnet(ClientSubnet::new(
            "10.0.0.0".parse().unwrap(),
            24,
            0,
        )));
    message.set_edns(edns);
    assert!(
        message
            .edns
            .as_ref()
            .unwrap()
            .option(EdnsCode::Subnet)
            .is_some()
    );
    let reply = exchange(&server, EXTERNAL, Via::Udp, &message);
    assert_eq!(
        reply.answer(),
        vec!["mail.contoso.example. 3600 A 203.0.113.10"],
        "ECS must not select the internal view: {}",
        reply.dump()
    );
}

/// Resident memory of this test process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_barrage_of_malformed_packets_and_hostile_streams_changes_nothing() {
    let server = Server::start("split");
    assert_still_serving(&server);
    let before = rss_kib();
    let www = query("www.contoso.example.", RecordType::A);
    let valid = www.to_vec().unwrap();
    let socket = udp_socket(&server, EXTERNAL);
    socket
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut sink = vec![0u8; 65535];
    for i in 0..20_000u32 {
        let r = next();
        let packet: Vec<u8> = match i % 4 {
            0 => (0..(r % 600) as usize).map(|_| next() as u8).collect(),
            1 => valid[..(r as usize % valid.len())].to_vec(),
            2 => {
                let mut p = valid.clone();
                let at = (r as usize >> 8) % p.len();
                p[at] ^= (r as u8) | 1;
                p
            }
            _ => {
                // A plausible header (QR clear) with random counts and a random tail.
                let mut p = vec![
                    (r >> 8) as u8,
                    r as u8,
                    0,
                    0,
                    0,
                    (r >> 16) as u8 % 3,
                    0,
                    (r >> 24) as u8,
                    0,
                    (r >> 32) as u8,
                    0,
                    (r >> 40) as u8,
                ];
                p.extend((0..(r >> 48) as usize % 300).map(|_| next() as u8));
                p
            }
        };
        let _ = socket.send(&packet);
        if i % 64 == 0 {
            while socket.recv(&mut sink).is_ok() {}
        }
    }
    // Ten hostile TCP streams: garbage, a zero-length frame, a 64 KiB frame, a frame that lies
    // about its length, half a length prefix, and a few that stop mid-message.
    let hostile: Vec<Vec<u8>> = vec![
        vec![0, 0],
        [vec![0xff, 0xff], vec![0xaa; 65535]].concat(),
        [vec![0x10, 0x00], valid.clone()].concat(),
        vec![0x01],
        [framed(&valid[..5])].concat(),
        (0..5000).map(|i| (i * 7) as u8).collect(),
        [framed(&valid), vec![0, 0]].concat(),
        [vec![0, 40], valid[..20].to_vec()].concat(),
        framed(&[0u8; 12]),
        [framed(&valid), framed(&[1, 2, 3])].concat(),
    ];
    let streams: Vec<TcpStream> = hostile
        .iter()
        .map(|bytes| {
            let mut stream = tcp_connect(&server, EXTERNAL);
            let _ = stream.write_all(bytes);
            stream
        })
        .collect();
    assert_still_serving(&server);
    let mut fresh = tcp_connect(&server, EXTERNAL);
    fresh.write_all(&framed(&valid)).unwrap();
    let reply = decode_reply(&www, &read_framed(&mut fresh));
    assert_eq!(reply.answer().len(), 1);
    drop(streams);
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB");
}

#[test]
fn idle_and_trickling_tcp_connections_do_not_stop_anyone_else() {
    let server = Server::start("split");
    let mut idle: Vec<TcpStream> = (0..450).map(|_| tcp_connect(&server, EXTERNAL)).collect();
    // Fifty slowloris clients: one byte of a length prefix, then nothing.
    for _ in 0..50 {
        let mut stream = tcp_connect(&server, EXTERNAL);
        stream.write_all(&[0]).unwrap();
        idle.push(stream);
    }
    let started = Instant::now();
    assert_still_serving(&server);
    let reply = ask(
        &server,
        EXTERNAL,
        Via::Tcp,
        "www.contoso.example.",
        RecordType::A,
    );
    assert_eq!(reply.answer().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );

    // A client sending one byte at a time loses its connection after the per-message deadline
    // (3 s by default), however steadily it trickles.
    let valid = framed(
        &query("www.contoso.example.", RecordType::A)
            .to_vec()
            .unwrap(),
    );
    let mut slow = tcp_connect(&server, EXTERNAL);
    slow.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for byte in valid.iter().cycle().take(200) {
        if slow.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        match slow.read(&mut probe) {
            Ok(0) => {
                closed = true;
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    assert!(
        closed,
        "the trickling connection was still open after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed only after {:?}",
        started.elapsed()
    );
}

#[test]
fn response_rate_limiting_drops_and_slips_repeats_from_one_network() {
    let server = Server::start("rrl");
    let socket = udp_socket(&server, EXTERNAL);
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let valid = query("www.contoso.example.", RecordType::A)
        .to_vec()
        .unwrap();
    for _ in 0..60 {
        socket.send(&valid).unwrap();
    }
    let (mut full, mut slipped) = (0, 0);
    let mut buf = vec![0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf) {
        let message = read(&buf[..n]);
        if message.truncated() {
            assert!(
                message.answer.is_empty(),
                "a slipped response carries no records"
            );
            slipped += 1;
        } else {
            assert_eq!(message.answer.len(), 1);
            full += 1;
        }
    }
    // 10 per second with a one-second burst: about 10 full answers; half of the other 50 slip.
    assert!((10..=14).contains(&full), "{full} full answers");
    assert!((20..=27).contains(&slipped), "{slipped} slipped answers");
    // The internal view has no rate limiting: every query answered.
    let inside = udp_socket(&server, INTERNAL);
    inside
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for _ in 0..60 {
        inside.send(&valid).unwrap();
    }
    let mut answered = 0;
    while inside.recv(&mut buf).is_ok() {
        answered += 1;
    }
    assert_eq!(answered, 60);
}

#[test]
fn amplification_of_the_largest_answers_is_reported_and_bounded() {
    let config = crate::common::example_config();
    let server = Server::with_config(&config);
    println!(
        "{:<45} {:>6} {:>6} {:>7}  (UDP, no EDNS / EDNS 1232)",
        "query", "query", "reply", "ratio"
    );
    let mut worst = 0.0f64;
    for (name, rtype) in [
        ("contoso.example.", RecordType::ANY),
        ("contoso.example.", RecordType::MX),
        ("contoso.example.", RecordType::NS),
        ("_autodiscover._tcp.fabrikam.example.", RecordType::SRV),
        ("_autodiscover._tcp.contoso.example.", RecordType::SRV),
        ("mail.contoso.example.", RecordType::A),
        ("nosuch.contoso.example.", RecordType::A),
    ] {
        for edns in [false, true] {
            let mut message = query(name, rtype);
            if edns {
                message = with_edns(message, 1232, true);
            }
            let sent = message.to_vec().unwrap().len();
            let reply = exchange(&server, EXTERNAL, Via::Udp, &message);
            let ratio = reply.size as f64 / sent as f64;
            worst = worst.max(ratio);
            println!(
                "{:<45} {sent:>6} {:>6} {ratio:>7.2}",
                format!("{name} {rtype}{}", if edns { " +edns" } else { "" }),
                reply.size
            );
        }
    }
    println!("largest amplification: {worst:.2}x");
    assert!(worst < 6.0, "amplification {worst:.2}x");
}

/// One SOA query over a fresh TCP connection, waiting at most `wait` in all: true when a
/// response comes back.
fn tcp_answers_within(server: std::net::SocketAddr, wait: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&server, wait) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(wait));
    let bytes = query("contoso.example.", RecordType::SOA).to_vec().unwrap();
    if stream.write_all(&framed(&bytes)).is_err() {
        return false;
    }
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).is_ok()
}

/// RFC 7766 §6.2 asks servers to survive running out of resources. With its soft
/// `RLIMIT_NOFILE` a few above what it holds, connections that exhaust it must not make the DNS
/// TCP accept loop spin (EMFILE on every try, at once): the server stays idle, answers UDP, and
/// takes TCP again once the connections are gone.
#[test]
fn tcp_accept_loop_backs_off_at_the_fd_limit() {
    let dir = scratch_copy("hardening-tcp-fd-limit", &example_dir());
    let daemon = Daemon::serve(dir.join("splitdns.toml")).control().start();
    let pid = daemon.child.id();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as libc::rlim_t;
    limit_open_files(pid, open + 16);

    // More connections than descriptors left: the kernel completes them (the listen backlog),
    // the server's accepts fail with EMFILE.
    let idle: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect_timeout(&daemon.dns, Duration::from_secs(2)).ok())
        .collect();
    assert!(idle.len() >= 90, "only {} connections", idle.len());
    std::thread::sleep(Duration::from_millis(200));

    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_time(pid) - before;

    let mut failures = Vec::new();
    if spent > Duration::from_millis(100) {
        failures.push(format!(
            "{spent:?} of CPU in one idle second: the accept loop spins"
        ));
    }
    if !daemon.answers_within(EXTERNAL, Duration::from_secs(1)) {
        failures.push("no UDP answer within 1 s".into());
    }
    drop(idle);
    // The server sees each closed connection's end (or accepts it from the backlog and then
    // sees it), freeing its descriptors; TCP must work again within a few tries.
    let answered = (0..20).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        tcp_answers_within(daemon.dns, Duration::from_millis(500))
    });
    if !answered {
        failures.push("no TCP answer once the connections closed".into());
    }
    assert!(
        failures.is_empty(),
        "at the fd limit ({open} open, limit {}):\n{}\n{}",
        open + 16,
        failures.join("\n"),
        daemon.log_text()
    );
}
