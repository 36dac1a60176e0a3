//! Batched datagram I/O for the UDP loop: a [`Batch`] owns the buffers for up to [`BATCH`]
//! queries and their responses. On Linux one `recvmmsg` takes every query already queued (it
//! blocks only for the first) and one `sendmmsg` sends every response queued so far (the loop
//! sends a small batch's first response alone, the rest together). Elsewhere the same interface
//! receives and sends one datagram per call.
//!
//! With [`crate::heap`]'s one call, [`super::steering`]'s one `setsockopt`, the compiled
//! answers' prefetch and `main`'s SIGPIPE reset, the crate's only `unsafe` code: the two system
//! calls and the `sockaddr` conversion.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Datagrams taken per receive call. NSD and Knot use batches of this order; more only adds
/// latency to the first response of a long burst.
pub(super) const BATCH: usize = 32;

/// Largest UDP payload; a query can never be cut short by our buffer.
const MAX_DATAGRAM: usize = 65_535;

/// Buffers for one batch. After [`Batch::receive`], queries `0..received()` are valid; the caller
/// writes each one's response into its [`Batch::slot`] and marks those to send with
/// [`Batch::queue`], then calls [`Batch::send`].
pub(super) struct Batch {
    /// `BATCH` query slots of `MAX_DATAGRAM` bytes in one allocation: large enough to be mapped
    /// lazily, so only the pages queries actually touch cost memory.
    requests: Box<[u8]>,
    lengths: [usize; BATCH],
    peers: [Option<SocketAddr>; BATCH],
    responses: Vec<Vec<u8>>,
    received: usize,
    /// Slots whose response is to be sent, in order.
    outgoing: Vec<usize>,
    #[cfg(target_os = "linux")]
    sys: linux::Headers,
}

impl Batch {
    pub(super) fn new() -> Batch {
        Batch {
            requests: vec![0u8; BATCH * MAX_DATAGRAM].into_boxed_slice(),
            lengths: [0; BATCH],
            peers: [None; BATCH],
            responses: (0..BATCH).map(|_| Vec::with_capacity(4096)).collect(),
            received: 0,
            outgoing: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            sys: linux::Headers::new(),
        }
    }

    /// How many datagrams the last [`Batch::receive`] took.
    pub(super) fn received(&self) -> usize {
        self.received
    }

    /// Who sent query `i` (`None` for an address family we do not serve).
    pub(super) fn peer(&self, i: usize) -> Option<SocketAddr> {
        self.peers[i]
    }

    /// Query `i`.
    pub(super) fn request(&self, i: usize) -> &[u8] {
        &self.requests[self.request_at(i)]
    }

    /// The response buffer for query `i` (and the query itself, for writing from it).
    pub(super) fn slot(&mut self, i: usize) -> (&[u8], &mut Vec<u8>) {
        (&self.requests[self.request_at(i)], &mut self.responses[i])
    }

    /// Where query `i` lies in `requests`.
    fn request_at(&self, i: usize) -> std::ops::Range<usize> {
        let start = i * MAX_DATAGRAM;
        start..start + self.lengths[i]
    }

    /// Marks response `i` to be sent back to the sender of query `i`.
    pub(super) fn queue(&mut self, i: usize) {
        self.outgoing.push(i);
    }

    /// Waits for at least one datagram (up to the socket's read timeout), then takes every
    /// datagram already queued, up to [`BATCH`].
    pub(super) fn receive(&mut self, socket: &UdpSocket) -> io::Result<()> {
        self.received = 0;
        self.outgoing.clear();
        #[cfg(target_os = "linux")]
        let received = linux::receive(socket, self)?;
        #[cfg(not(target_os = "linux"))]
        let received = {
            let (len, peer) = socket.recv_from(&mut self.requests[..MAX_DATAGRAM])?;
            self.lengths[0] = len;
            self.peers[0] = Some(peer);
            1
        };
        self.received = received;
        Ok(())
    }

    /// Sends every queued response and empties the queue (so a batch can be sent in parts). A
    /// response the kernel refuses is skipped (and reported through `on_error`); the rest still
    /// go out.
    pub(super) fn send(
        &mut self,
        socket: &UdpSocket,
        mut on_error: impl FnMut(SocketAddr, io::Error),
    ) {
        #[cfg(target_os = "linux")]
        linux::send(socket, self, &mut on_error);
        #[cfg(not(target_os = "linux"))]
        for &i in &self.outgoing {
            if let Some(peer) = self.peers[i]
                && let Err(e) = socket.send_to(&self.responses[i], peer)
            {
                on_error(peer, e);
            }
        }
        self.outgoing.clear();
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::mem::{self, MaybeUninit};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::ptr;

    use super::{BATCH, Batch, MAX_DATAGRAM};

    /// The `msghdr`s, `iovec`s and peer addresses handed to the kernel. Receiving and sending
    /// have headers of their own, so a send never disturbs what the receive left: a response's
    /// header points straight at the address its query came from. The receive headers point into
    /// the batch's heap buffers, which never move: they are built on the first receive, and
    /// afterwards only the address lengths the kernel overwrote are set back (at a light load a
    /// batch holds one query, and rebuilding all 32 headers cost more than the rest of the
    /// loop's own work for it).
    pub(super) struct Headers {
        names: Box<[libc::sockaddr_storage; BATCH]>,
        receive_iovecs: Box<[libc::iovec; BATCH]>,
        receive_messages: Box<[libc::mmsghdr; BATCH]>,
        send_iovecs: Box<[libc::iovec; BATCH]>,
        send_messages: Box<[libc::mmsghdr; BATCH]>,
        /// Whether the receive headers have been built.
        built: bool,
        /// How many receive headers the last call filled (their address lengths to restore).
        filled: usize,
    }

    impl Headers {
        pub(super) fn new() -> Headers {
            // SAFETY: all-zero is a valid value for these plain C structs (null pointers, zero
            // lengths); every field the kernel reads is set before each call.
            unsafe {
                Headers {
                    names: Box::new(MaybeUninit::zeroed().assume_init()),
                    receive_iovecs: Box::new(MaybeUninit::zeroed().assume_init()),
                    receive_messages: Box::new(MaybeUninit::zeroed().assume_init()),
                    send_iovecs: Box::new(MaybeUninit::zeroed().assume_init()),
                    send_messages: Box::new(MaybeUninit::zeroed().assume_init()),
                    built: false,
                    filled: 0,
                }
            }
        }
    }

    /// A one-buffer message header with no control data.
    fn message(
        name: &mut libc::sockaddr_storage,
        name_len: libc::socklen_t,
        iovec: &mut libc::iovec,
    ) -> libc::mmsghdr {
        // SAFETY: all-zero is valid for msghdr (null control pointer, zero flags).
        let mut message: libc::mmsghdr = unsafe { MaybeUninit::zeroed().assume_init() };
        message.msg_hdr.msg_name = ptr::from_mut(name).cast();
        message.msg_hdr.msg_namelen = name_len;
        message.msg_hdr.msg_iov = ptr::from_mut(iovec);
        message.msg_hdr.msg_iovlen = 1;
        message
    }

    pub(super) fn receive(socket: &UdpSocket, batch: &mut Batch) -> io::Result<usize> {
        let sys = &mut batch.sys;
        let name_len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if sys.built {
            for header in &mut sys.receive_messages[..sys.filled] {
                header.msg_hdr.msg_namelen = name_len;
                header.msg_hdr.msg_flags = 0;
            }
        } else {
            let base = batch.requests.as_mut_ptr();
            for i in 0..BATCH {
                sys.receive_iovecs[i] = libc::iovec {
                    // SAFETY: slot i lies inside `requests` (BATCH * MAX_DATAGRAM bytes).
                    iov_base: unsafe { base.add(i * MAX_DATAGRAM) }.cast(),
                    iov_len: MAX_DATAGRAM,
                };
                sys.receive_messages[i] =
                    message(&mut sys.names[i], name_len, &mut sys.receive_iovecs[i]);
            }
            sys.built = true;
        }
        sys.filled = 0;
        // SAFETY: every header points at live buffers owned by `batch` (boxed: they never
        // move while it lives), which stays mutably borrowed for the call; the kernel writes at
        // most the lengths given. MSG_WAITFORONE
        // blocks (honouring SO_RCVTIMEO) for the first datagram only. The timeout argument is
        // null: recvmmsg's own timeout is only checked between datagrams.
        let received = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                sys.receive_messages.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                ptr::null_mut(),
            )
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        let received = received as usize;
        sys.filled = received;
        for i in 0..received {
            let header = &sys.receive_messages[i];
            // A datagram longer than the buffer cannot happen (65,535 bytes), but a cut one
            // must never be parsed as if whole: give it zero length and it is dropped.
            batch.lengths[i] = if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                0
            } else {
                header.msg_len as usize
            };
            batch.peers[i] = socket_addr(&sys.names[i]);
        }
        Ok(received)
    }

    pub(super) fn send(
        socket: &UdpSocket,
        batch: &mut Batch,
        on_error: &mut impl FnMut(SocketAddr, io::Error),
    ) {
        let sys = &mut batch.sys;
        for (position, &i) in batch.outgoing.iter().enumerate() {
            let response = &batch.responses[i];
            sys.send_iovecs[position] = libc::iovec {
                // The kernel only reads through this pointer.
                iov_base: response.as_ptr().cast_mut().cast(),
                iov_len: response.len(),
            };
            // Back to the address the query came from, exactly as the kernel gave it.
            let name_len = sys.receive_messages[i].msg_hdr.msg_namelen;
            sys.send_messages[position] =
                message(&mut sys.names[i], name_len, &mut sys.send_iovecs[position]);
        }
        let count = batch.outgoing.len();
        let mut sent = 0;
        while sent < count {
            // SAFETY: headers `sent..count` point at live response buffers and addresses owned
            // by `batch`, which stays borrowed for the call; the kernel only reads them.
            let result = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    sys.send_messages.as_mut_ptr().add(sent),
                    (count - sent) as libc::c_uint,
                    0,
                )
            };
            if result > 0 {
                sent += result as usize;
            } else {
                // The datagram at `sent` was refused (an unreachable peer, a full buffer):
                // report it and go on with the next.
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if let Some(peer) = batch.peers[batch.outgoing[sent]] {
                    on_error(peer, error);
                }
                sent += 1;
            }
        }
    }

    fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match i32::from(storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in; storage is larger
                // and suitably aligned for it.
                let v4: &libc::sockaddr_in = unsafe { &*ptr::from_ref(storage).cast() };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                    u16::from_be(v4.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for sockaddr_in6.
                let v6: &libc::sockaddr_in6 = unsafe { &*ptr::from_ref(storage).cast() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(v6.sin6_addr.s6_addr),
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}
