//! Binding the DNS listeners: for each listen address, one UDP socket and one TCP listener per
//! receive loop, all on one port. On Linux each is its own socket in an `SO_REUSEPORT` group, so
//! the kernel spreads clients over the loops (by a hash of the client's address and port, while
//! the UDP [`super::steering`] lets it) and no loop waits on another's socket lock; elsewhere the
//! loops share clones of one socket.
//!
//! The first socket of each protocol is bound *without* `SO_REUSEPORT` and is only allowed to
//! share afterwards, before its siblings bind. Bound alone, it fails with "Address already in
//! use" when anything holds the address, another splitdns among them, and while it holds the
//! address nothing else can bind it; Linux decides sharing by the flags at each later bind, and
//! forms the group when the second socket joins. So of two servers started on one port, the one
//! that binds first serves and the other refuses to start, whatever the timing, instead of the
//! two silently sharing the queries, which `SO_REUSEPORT` on every socket would allow between
//! processes of the same user. What remains: another program of the same user that sets
//! `SO_REUSEPORT` itself can still join the group (Linux checks only that the effective user
//! IDs match), the caveat every server that uses `SO_REUSEPORT` has (BIND, Knot, NSD with
//! `reuseport: yes`).

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::num::NonZeroUsize;

use socket2::{Domain, Protocol, Socket, Type};

/// Connections the kernel may queue on each listener before they are accepted (it caps this
/// at `net.core.somaxconn`); tokio's `TcpListener::bind` uses the same.
const TCP_BACKLOG: i32 = 1024;

/// The sockets of one listen address: as many of each protocol as there are receive loops, all
/// bound to the same address and port, nonblocking.
pub(super) struct Group {
    pub udp: Vec<UdpSocket>,
    pub tcp: Vec<TcpListener>,
}

/// Binds `loops` UDP sockets and TCP listeners on `addr`. Port 0 picks one port free for both
/// protocols, and every sibling binds that port.
pub(super) fn group(addr: SocketAddr, loops: NonZeroUsize) -> io::Result<Group> {
    let (udp, tcp, bound) = first_pair(addr, loops.get() > 1)?;
    let siblings = |first: &Socket, protocol| {
        (1..loops.get())
            .map(|_| sibling(first, bound).map_err(|e| context(e, protocol, bound)))
            .collect::<io::Result<Vec<_>>>()
    };
    let (udp_siblings, tcp_siblings) = (siblings(&udp, "UDP")?, siblings(&tcp, "TCP")?);
    Ok(Group {
        udp: nonblocking(udp, udp_siblings)?,
        tcp: nonblocking(tcp, tcp_siblings)?,
    })
}

/// `first` and its siblings, nonblocking (the loops and the runtime expect that), as std's type.
fn nonblocking<T: From<Socket>>(first: Socket, siblings: Vec<Socket>) -> io::Result<Vec<T>> {
    std::iter::once(first)
        .chain(siblings)
        .map(|socket| socket.set_nonblocking(true).map(|()| socket.into()))
        .collect()
}

/// The first UDP socket and TCP listener, each bound alone (see the module's note), then, when
/// `shared`, open to siblings; on port 0, at a port free for both. Returns them with the address
/// bound. The listener starts listening last: Linux puts a listener into its `SO_REUSEPORT`
/// group when it starts listening.
fn first_pair(addr: SocketAddr, shared: bool) -> io::Result<(Socket, Socket, SocketAddr)> {
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = new_socket(addr, Type::DGRAM, Protocol::UDP)
            .and_then(|udp| udp.bind(&addr.into()).map(|()| udp))
            .map_err(|e| context(e, "UDP", addr))?;
        let bound = udp
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("UDP socket bound to a non-IP address"))?;
        let tcp = new_tcp(bound).map_err(|e| context(e, "TCP", bound))?;
        match tcp.bind(&bound.into()) {
            Ok(()) => {}
            // Port 0 gave a UDP port whose TCP twin is taken: try another.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && addr.port() == 0 => {
                last_error = Some(e);
                continue;
            }
            Err(e) => return Err(context(e, "TCP", bound)),
        }
        if shared {
            share(&udp).map_err(|e| context(e, "UDP", bound))?;
            share(&tcp).map_err(|e| context(e, "TCP", bound))?;
        }
        tcp.listen(TCP_BACKLOG)
            .map_err(|e| context(e, "TCP", bound))?;
        return Ok((udp, tcp, bound));
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
}

/// One nonblocking TCP listener on `addr`, bound alone (no `SO_REUSEPORT`): the DNS over TLS and
/// DNS over HTTPS listeners, named `what` in an error.
pub(super) fn listener(addr: SocketAddr, what: &str) -> io::Result<TcpListener> {
    let bind = || -> io::Result<TcpListener> {
        let socket = new_tcp(addr)?;
        socket.bind(&addr.into())?;
        socket.listen(TCP_BACKLOG)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    bind().map_err(|e| context(e, what, addr))
}

/// "cannot bind UDP 127.0.0.1:53: Address already in use": the message names the protocol and
/// the address (the start reports it as is); the kind stays, for callers that retry.
fn context(e: io::Error, protocol: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("cannot bind {protocol} {addr}: {e}"))
}

/// A socket for `addr`'s family. An IPv6 socket is IPv6-only, whatever the system default
/// (`net.ipv6.bindv6only`): otherwise `[::]:53` also takes IPv4 port 53 and the usual pair
/// `0.0.0.0:53` + `[::]:53` fails with "Address already in use". Each family is then served by
/// the sockets bound for it, as BIND and NSD do.
fn new_socket(addr: SocketAddr, kind: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

/// An unbound TCP socket for `addr`'s family. SO_REUSEADDR as std sets it on Unix: a restart can
/// listen again while the last run's connections sit in TIME_WAIT (it lets no second listener
/// bind the port).
fn new_tcp(addr: SocketAddr) -> io::Result<Socket> {
    let socket = new_socket(addr, Type::STREAM, Protocol::TCP)?;
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// Lets later sockets of the same user bind the first one's address, as one group the kernel
/// spreads clients over.
#[cfg(target_os = "linux")]
fn share(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// Another socket of `first`'s protocol in its group at `bound` (listening, for TCP).
#[cfg(target_os = "linux")]
fn sibling(first: &Socket, bound: SocketAddr) -> io::Result<Socket> {
    let stream = first.r#type()? == Type::STREAM;
    let socket = match stream {
        true => new_tcp(bound)?,
        false => new_socket(bound, Type::DGRAM, Protocol::UDP)?,
    };
    share(&socket)?;
    socket.bind(&bound.into())?;
    if stream {
        socket.listen(TCP_BACKLOG)?;
    }
    Ok(socket)
}

/// Elsewhere `SO_REUSEPORT` is not known to spread datagrams over a group (FreeBSD has a
/// separate `SO_REUSEPORT_LB`): the loops share the first socket, each through its own
/// descriptor, and the first socket stays alone on its address.
#[cfg(not(target_os = "linux"))]
fn share(_: &Socket) -> io::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn sibling(first: &Socket, _: SocketAddr) -> io::Result<Socket> {
    first.try_clone()
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::net::UdpSocket;

    use super::*;

    const LOOPBACK: &str = "127.0.0.1:0";

    fn loops(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    /// Datagrams from 64 client ports to one address reach every socket of its group (the kernel
    /// hashes each client's address and port to one socket: with four sockets, one left out
    /// would happen about once in 10^7 runs), and 64 connections reach every listener.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_spreads_clients_over_every_socket_of_a_group() {
        use std::net::TcpStream;
        use std::time::{Duration, Instant};

        let group = group(LOOPBACK.parse().unwrap(), loops(4)).unwrap();
        let addr = group.udp[0].local_addr().unwrap();
        assert!(group.udp.iter().all(|s| s.local_addr().unwrap() == addr));
        assert!(group.tcp.iter().all(|l| l.local_addr().unwrap() == addr));
        let clients: Vec<UdpSocket> = (0..64)
            .map(|_| UdpSocket::bind(LOOPBACK).unwrap())
            .collect();
        for client in &clients {
            client.send_to(b"query", addr).unwrap();
        }
        let connections: Vec<TcpStream> =
            (0..64).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut datagrams = vec![0; group.udp.len()];
        let mut accepted = vec![0; group.tcp.len()];
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buffer = [0u8; 16];
        while datagrams.iter().sum::<usize>() < clients.len()
            || accepted.iter().sum::<usize>() < connections.len()
        {
            assert!(
                Instant::now() < deadline,
                "datagrams {datagrams:?}, connections {accepted:?}"
            );
            for (socket, count) in group.udp.iter().zip(&mut datagrams) {
                while socket.recv_from(&mut buffer).is_ok() {
                    *count += 1;
                }
            }
            for (listener, count) in group.tcp.iter().zip(&mut accepted) {
                while listener.accept().is_ok() {
                    *count += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(datagrams.iter().all(|&n| n > 0), "{datagrams:?}");
        assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");
    }

    /// A second server on a port the first serves does not start, with one loop or several, and
    /// the error names the protocol and the address; a port any other program holds refuses
    /// the group too.
    #[test]
    fn a_second_server_on_the_same_port_fails_to_bind() {
        for first in [1, 3] {
            let group = group(LOOPBACK.parse().unwrap(), loops(first)).unwrap();
            let addr = group.udp[0].local_addr().unwrap();
            for second in [1, 3] {
                let Err(e) = super::group(addr, loops(second)) else {
                    panic!("{second} loops bound {addr}, where {first} serve");
                };
                assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
                assert!(
                    e.to_string()
                        .starts_with(&format!("cannot bind UDP {addr}: ")),
                    "{e}"
                );
            }
        }
        let other = UdpSocket::bind(LOOPBACK).unwrap();
        let taken = other.local_addr().unwrap();
        let e = group(taken, loops(2)).err().expect("UDP port taken");
        assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
    }

    /// What `SO_REUSEPORT` leaves open, as the module's note says: a socket of the same user that
    /// asks to share joins a group of several loops. A one-loop server never opens its sockets
    /// to sharing, so there it is refused.
    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_socket_that_asks_to_share_joins_and_only_several_loops() {
        for (loops_, joins) in [(1, false), (2, true)] {
            let group = group(LOOPBACK.parse().unwrap(), loops(loops_)).unwrap();
            let addr = group.udp[0].local_addr().unwrap();
            for kind in [Type::DGRAM, Type::STREAM] {
                let socket = Socket::new(Domain::IPV4, kind, None).unwrap();
                socket.set_reuse_port(true).unwrap();
                let bound = socket.bind(&addr.into());
                assert_eq!(bound.is_ok(), joins, "{loops_} loops, {kind:?}: {bound:?}");
            }
        }
    }
}
