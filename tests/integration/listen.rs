//! Dual-stack listening (issue 11, item 1), through the real binary: `--listen` on an IPv4 and an
//! IPv6 address with the same port serves both families, and so does the wildcard pair
//! `0.0.0.0:P` + `[::]:P`, which only starts when IPv6 sockets are IPv6-only (without
//! IPV6_V6ONLY, `[::]:P` also claims IPv4 port P and the second bind fails). Queries are only
//! ever sent to loopback addresses; the wildcard is bound, never addressed.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::{
    Server, TIMEOUT, Via, decode_reply, exchange, framed, query, read_framed, scratch_dir,
};

const V4_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6_LOOPBACK: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// The bundled example: 127.0.0.1/32 and ::1/128 are in its internal view.
fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/splitdns.toml")
}

/// Whether this machine has `::1` (containers sometimes run without IPv6).
fn have_ipv6_loopback() -> bool {
    UdpSocket::bind((V6_LOOPBACK, 0)).is_ok()
}

/// A port free for UDP and TCP on each of `ips` (checked one after the other: the server binds
/// all of them).
fn free_port_on(ips: &[IpAddr]) -> u16 {
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

/// `splitdns serve` on the bundled example with one `--listen` per address.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary listening on `ips` at one port free on all of them, and waits until it
/// answers on `probe` at that port. Another test may take the port between the pick and the
/// bind: then it picks again (twice at most).
fn serve_on(test: &str, ips: &[IpAddr], probe: IpAddr) -> (Running, u16) {
    let dir = scratch_dir(&format!("listen/{test}"));
    for attempt in 1..=3 {
        let port = free_port_on(ips);
        let log = dir.join(format!("splitdns-{attempt}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_splitdns"));
        command.arg("serve").arg("--config").arg(example_config());
        for ip in ips {
            command
                .arg("--listen")
                .arg(SocketAddr::new(*ip, port).to_string());
        }
        let child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start splitdns");
        let mut running = Running { child, log };
        let server = Server::remote(SocketAddr::new(probe, port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = running.child.try_wait().expect("poll splitdns") {
                let log = running.log_text();
                // A port taken by someone else since the pick is worth another try. Without
                // IPV6_V6ONLY, `[::]` collides with `0.0.0.0` every time: the last try fails.
                if attempt < 3 && log.contains("Address already in use") {
                    break;
                }
                panic!("splitdns exited at start-up ({status}):\n{log}");
            }
            if udp_answers(&server) {
                return (running, port);
            }
            assert!(
                Instant::now() < deadline,
                "splitdns did not answer on {} within 10 s:\n{}",
                server.addr,
                running.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    unreachable!("the loop either returns or panics on its last attempt")
}

/// One quick UDP query; true once the server answers at all.
fn udp_answers(server: &Server) -> bool {
    let Ok(socket) = UdpSocket::bind(SocketAddr::new(server.addr.ip(), 0)) else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    let bytes = query("contoso.example.", RecordType::SOA)
        .to_vec()
        .expect("encode");
    if socket.send_to(&bytes, server.addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    socket.recv_from(&mut buf).is_ok()
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
    let (_running, port) = serve_on("loopback-pair", &[V4_LOOPBACK, V6_LOOPBACK], V4_LOOPBACK);
    assert_served_on_both(port);
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
    let (_running, port) = serve_on("wildcard-pair", &wildcards, V4_LOOPBACK);
    assert_served_on_both(port);
}
