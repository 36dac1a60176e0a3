//! Listening. Dual-stack, through the real binary: `--listen` on an IPv4 and an IPv6 address
//! with the same port serves both families, and so does the wildcard pair `0.0.0.0:P` + `[::]:P`,
//! which only starts when IPv6 sockets are IPv6-only (without IPV6_V6ONLY, `[::]:P` also claims
//! IPv4 port P and the second bind fails). Several receive loops on one port: every loop
//! answers, over UDP and TCP, and a second server on that port refuses to start rather than
//! share it. Queries are only ever sent to loopback addresses; the wildcard is bound, never
//! addressed.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::num::NonZeroUsize;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::{
    Daemon, Server, TIMEOUT, Via, ask, decode_reply, example_config, example_dir, exchange, framed,
    loopback_listeners, query, read_framed, scratch_copy,
};

const V4_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6_LOOPBACK: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Whether this machine has `::1` (containers sometimes run without IPv6).
fn have_ipv6_loopback() -> bool {
    UdpSocket::bind((V6_LOOPBACK, 0)).is_ok()
}

/// `splitdns serve` on a copy of the bundled example (127.0.0.1/32 and ::1/128 are in its
/// internal view; its control listener moved to a free port) with one `--listen` per address of
/// `ips`, at one port free on all of them, once it answers.
fn serve_on(test: &str, ips: &[IpAddr]) -> Daemon {
    let dir = scratch_copy(&format!("listen/{test}"), &example_dir());
    Daemon::serve(dir.join("splitdns.toml"))
        .listen(ips)
        .control()
        .start()
}

/// The A records of `mail.contoso.example` as the client at `server.addr.ip()` gets them over
/// `via` (the source is the loopback address of the destination's family).
fn mail_addresses(server: &Server, via: Via) -> Vec<String> {
    let from = server.addr.ip();
    let question = query("mail.contoso.example.", RecordType::A);
    let reply = match via {
        Via::Udp => exchange(server, from, via, &question),
        // The harness's TCP client is IPv4-only; a plain connect from loopback to loopback has
        // a loopback source in either family.
        Via::Tcp => {
            let mut stream =
                TcpStream::connect_timeout(&server.addr, TIMEOUT).expect("TCP connect");
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream
                .write_all(&framed(&question.to_vec().expect("encode")))
                .expect("TCP write");
            decode_reply(&question, &read_framed(&mut stream))
        }
    };
    assert_eq!(
        reply.rcode(),
        ResponseCode::NoError,
        "{via:?} to {}: {}",
        server.addr,
        reply.dump()
    );
    let mut addresses: Vec<String> = reply
        .message
        .answers
        .iter()
        .map(|r| r.data.to_string())
        .collect();
    addresses.sort();
    addresses
}

/// Both families answer over UDP and TCP, from the internal view (the example's inside
/// addresses are in 10.0.0.0/8; the outside gets a documentation address).
fn assert_served_on_both(port: u16) {
    for ip in [V4_LOOPBACK, V6_LOOPBACK] {
        let server = Server::remote(SocketAddr::new(ip, port));
        for via in [Via::Udp, Via::Tcp] {
            let addresses = mail_addresses(&server, via);
            assert!(
                !addresses.is_empty() && addresses.iter().all(|a| a.starts_with("10.")),
                "mail.contoso.example A from {ip} over {via:?}: expected the internal view's \
                 10.x addresses, got {addresses:?}"
            );
        }
    }
}

#[test]
fn listen_on_ipv4_and_ipv6_loopback_with_one_port() {
    if !have_ipv6_loopback() {
        eprintln!("skipped: this machine has no IPv6 loopback (::1 cannot be bound)");
        return;
    }
    let daemon = serve_on("loopback-pair", &[V4_LOOPBACK, V6_LOOPBACK]);
    assert_served_on_both(daemon.port());
}

#[test]
fn listen_on_both_wildcards_with_one_port() {
    if !have_ipv6_loopback() {
        eprintln!("skipped: this machine has no IPv6 loopback (::1 cannot be bound)");
        return;
    }
    let wildcards = [
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ];
    let daemon = serve_on("wildcard-pair", &wildcards);
    assert_served_on_both(daemon.port());
}

/// Four receive loops on one port, each with its own UDP socket and TCP listener: 64 UDP queries
/// (each from a new source port, from 127.0.0.1 to 127.0.0.8) and 32 TCP connections are all
/// answered, each from its client's view. The kernel hashes each client's address and port to
/// one socket of the group, so 64 clients reach all four sockets (one left out: about once in
/// 10^7 runs, `server::bind`'s test counts them), and a socket whose loop did not serve would
/// leave its clients unanswered.
#[test]
fn every_receive_loop_on_one_port_answers() {
    let server = Server::with_listeners(
        &example_config(),
        loopback_listeners(NonZeroUsize::new(4).unwrap()),
    );
    for (i, via) in (0..64)
        .map(|i| (i, Via::Udp))
        .chain((0..32).map(|i| (i, Via::Tcp)))
    {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + i % 8));
        let reply = ask(&server, from, via, "mail.contoso.example.", RecordType::A);
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{via:?} from {from}");
        let inside = reply
            .message
            .answers
            .iter()
            .all(|r| r.data.to_string().starts_with("10."));
        assert!(
            !reply.message.answers.is_empty() && inside == (i % 8 == 0),
            "{via:?} from {from}: {}",
            reply.dump()
        );
    }
}

/// How many sockets of `table` (`/proc/net/udp` or `/proc/net/tcp`) are bound to 127.0.0.1 at
/// `port`; for TCP, listening ones only (state 0A). Each socket is one line, whatever number of
/// descriptors refer to it.
fn sockets_on(table: &str, port: u16) -> usize {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string(table)
        .unwrap_or_else(|e| panic!("{table}: {e}"))
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&local.as_str())
                && (table.ends_with("udp") || fields.get(3) == Some(&"0A"))
        })
        .count()
}

/// `splitdns serve` with `listen_loops = 3` holds three UDP sockets and three TCP listeners on
/// its port. A second `splitdns serve` on that port exits with "Address already in use" instead
/// of joining them and taking a share of the queries, and the first still answers.
#[test]
fn a_second_server_on_the_same_port_refuses_to_start() {
    let dir = scratch_copy("listen/second-server", &example_dir());
    let config = dir.join("splitdns.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("listen_loops = 3\n{text}")).unwrap();
    let mut first = Daemon::serve(&config).control().start();
    assert_eq!(sockets_on("/proc/net/udp", first.port()), 3);
    assert_eq!(sockets_on("/proc/net/tcp", first.port()), 3);
    let (status, log) = Daemon::serve(&config)
        .port(first.port())
        .control_at(first.control())
        .log(dir.join("second.log"))
        .start_fails();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "cannot bind UDP {}: Address already in use",
            first.dns
        )),
        "{log}"
    );
    first.assert_running();
    assert!(!mail_addresses(&first.server(), Via::Udp).is_empty());
    assert_eq!(sockets_on("/proc/net/udp", first.port()), 3);
}
