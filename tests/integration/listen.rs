//! Dual-stack listening, through the real binary: `--listen` on an IPv4 and an
//! IPv6 address with the same port serves both families, and so does the wildcard pair
//! `0.0.0.0:P` + `[::]:P`, which only starts when IPv6 sockets are IPv6-only (without
//! IPV6_V6ONLY, `[::]:P` also claims IPv4 port P and the second bind fails). Queries are only
//! ever sent to loopback addresses; the wildcard is bound, never addressed.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::{
    Daemon, Server, TIMEOUT, Via, decode_reply, example_dir, exchange, framed, query, read_framed,
    scratch_copy,
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
