//! The TCP stream under a TLS connection, gathering what TLS writes: the TLS layer writes each
//! record to its transport as soon as it is sealed, and the HTTP/2 server flushes after every
//! response it hands out (it takes the next request only after writing what is queued), so a
//! DNS over HTTPS connection ([`super::doh`]) would pay one system call per response. Gathering,
//! a flush inside the same poll of the connection's task as the first one only keeps the bytes
//! (and makes sure the task is polled again); the next poll's flush sends everything gathered
//! by then in one write — every response to the requests that arrived together. Off (the
//! default) every write passes through: the TLS handshake and DNS over TLS, which gathers its
//! answers itself, are unchanged.
//!
//! A connection that carries a POST stops gathering for good ([`Gathering::stop`]): a POST
//! client writes each request as two records (headers, then body), and one that leaves Nagle's
//! algorithm on (dnsperf does) holds the body back until our ACK of the headers, which the
//! kernel delays up to 40 ms unless a response carries it; answered at once, it rides along.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this much gathered, a write first sends what is gathered (a large response, or many).
const MAX_GATHERED: usize = 64 * 1024;

pub(super) struct GatheredWrites<S> {
    inner: S,
    /// Set while gathering: shared with the connection task's [`Polls`].
    gathering: Option<Arc<Gathering>>,
    gathered: Vec<u8>,
    /// How much of `gathered` is already sent.
    sent: usize,
    /// The poll in which a flush was put off, if one is.
    put_off_in: Option<u64>,
}

impl<S> GatheredWrites<S> {
    pub(super) fn new(inner: S) -> Self {
        GatheredWrites {
            inner,
            gathering: None,
            gathered: Vec::new(),
            sent: 0,
            put_off_in: None,
        }
    }

    /// From now on writes are gathered, and a flush sends them in the next poll of the task
    /// that [`Polls`] counts for `gathering` — until it is stopped.
    pub(super) fn gather(&mut self, gathering: Arc<Gathering>) {
        self.gathering = Some(gathering);
    }

    /// Whether writes are gathered now (a stopped gathering sends what it holds at the next
    /// write or flush).
    fn gathering(&self) -> Option<&Gathering> {
        self.gathering
            .as_deref()
            .filter(|g| !g.stopped.load(Ordering::Relaxed))
    }
}

/// What a connection's task and its [`GatheredWrites`] share: how often the task was polled,
/// and whether gathering has stopped.
#[derive(Default)]
pub(super) struct Gathering {
    polls: AtomicU64,
    stopped: AtomicBool,
}

impl Gathering {
    /// Every write of the connection goes out as it comes from now on.
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// A future whose polls are counted, for [`GatheredWrites`] to tell one poll from the next.
    pub(super) struct Polls<F> {
        #[pin]
        inner: F,
        gathering: Arc<Gathering>,
    }
}

impl<F: Future> Polls<F> {
    pub(super) fn new(inner: F, gathering: Arc<Gathering>) -> Self {
        Polls { inner, gathering }
    }
}

impl<F: Future> Future for Polls<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.gathering.polls.fetch_add(1, Ordering::Relaxed);
        this.inner.poll(cx)
    }
}

impl<S: AsyncWrite + Unpin> GatheredWrites<S> {
    /// Sends everything gathered.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.gathered.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.gathered[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.sent = 0;
        // Given back at once: most connections sit idle between bursts, and an allocation per
        // write costs little beside the write.
        self.gathered = Vec::new();
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GatheredWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GatheredWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.gathering().is_none() {
            ready!(this.poll_send(cx))?;
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        if this.gathered.len() + buf.len() > MAX_GATHERED {
            ready!(this.poll_send(cx))?;
        }
        this.gathered.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(gathering) = self.gathering()
            && self.sent < self.gathered.len()
        {
            let now = gathering.polls.load(Ordering::Relaxed);
            match self.put_off_in {
                // Later in the poll that put it off: more may come before it ends.
                Some(poll) if poll == now => return Poll::Ready(Ok(())),
                Some(_) => {}
                None => {
                    self.put_off_in = Some(now);
                    cx.waker().wake_by_ref();
                    return Poll::Ready(Ok(()));
                }
            }
        }
        ready!(self.poll_send(cx))?;
        self.put_off_in = None;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
