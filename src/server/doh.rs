//! DNS over HTTPS (RFC 8484) on an accepted TLS connection: hyper's HTTP/2 server when the client
//! chose `h2` by ALPN, its HTTP/1.1 server otherwise. `GET <doh_path>?dns=<base64url>` and `POST
//! <doh_path>` with an `application/dns-message` body each carry one query, which goes through
//! the same request path as every other transport, with the client address of the connection —
//! or, from a peer in `[tls] trusted_proxies` only, the one its `Forwarded: for=` or
//! `X-Forwarded-For` header names. The answer goes back as `application/dns-message` with a
//! `cache-control: max-age` of its smallest TTL (§5.1).
//!
//! Each refusal is a status with a one-line reason: another path 404, another method 405,
//! another media type 415, a malformed `dns` parameter or message 400, a body over 65,535 octets
//! 413, a body that does not arrive within the message timeout 408. What HTTP itself allows is
//! bounded: header blocks (HTTP/1.1: the read buffer, 431 beyond; HTTP/2: the header list size),
//! concurrent HTTP/2 streams, the time headers take to arrive (HTTP/1.1), and the time a
//! connection may sit with no request in progress (the TCP idle timeout; this also ends an
//! HTTP/2 stream whose headers never finish).

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::{http1, http2};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use super::gather::{GatheredWrites, Gathering, Polls};
use super::{SHUTDOWN_GRACE, SharedState, TcpLimits};
use crate::answer::Next;
use crate::observe::{self, Delivery, LoopCounters};
use crate::wire::{HEADER_LEN, Transport};

/// The media type of a DNS message (RFC 8484 §6).
const DNS_MESSAGE: &str = "application/dns-message";
/// The largest DNS message.
const MAX_MESSAGE: usize = u16::MAX as usize;
/// Concurrent HTTP/2 streams per connection (RFC 8484 §5: a client may pipeline; this bounds
/// what one connection can have in progress, as RFC 9113 §5.1.2's advice of at least 100).
const MAX_STREAMS: u32 = 100;
/// The largest header block: a GET's URI carries a whole query in base64 (at most ~87 KiB for
/// a 64 KiB message, but a real query is a few hundred octets), so 16 KiB is ample.
const MAX_HEADERS: usize = 16 * 1024;

/// Serves DNS over HTTPS on one TLS connection until the client goes, it sits idle past the
/// idle timeout, or the stop (which lets requests in progress finish, within
/// [`SHUTDOWN_GRACE`]).
pub(super) async fn connection(
    mut stream: TlsStream<GatheredWrites<TcpStream>>,
    peer: SocketAddr,
    snapshot: SharedState,
    limits: TcpLimits,
    counters: &Arc<LoopCounters>,
    shutdown: CancellationToken,
) {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let conn = Arc::new(Conn {
        peer,
        snapshot,
        limits,
        counters: counters.clone(),
        counting: Mutex::new(()),
        started: Instant::now(),
        in_progress: AtomicUsize::new(0),
        last_done: AtomicU64::new(0),
        gathering: Arc::default(),
    });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |request| handle(request, conn.clone()))
    };
    if h2 {
        // The records of the responses answered together leave in one write.
        stream.get_mut().0.gather(conn.gathering.clone());
        let io = TokioIo::new(RecordPerResponse::new(stream));
        let mut builder = http2::Builder::new(InlineFirst);
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS)
            .max_header_list_size(MAX_HEADERS as u32);
        let served = builder.serve_connection(io, service);
        Polls::new(
            drive(served, |c| c.graceful_shutdown(), &conn, shutdown),
            conn.gathering.clone(),
        )
        .await;
    } else {
        let io = TokioIo::new(stream);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.message_timeout)
            .max_buf_size(MAX_HEADERS);
        let served = builder.serve_connection(io, service);
        drive(served, |c| c.graceful_shutdown(), &conn, shutdown).await;
    }
}

/// Runs each HTTP/2 stream hyper hands over right away, inside the connection's own poll, and
/// spawns it on the runtime only if it cannot finish there (a forwarded query waiting for its
/// upstream, a response waiting for flow-control window). An answer from our own data is
/// synchronous, so every request that arrived together is answered before the connection next
/// writes: their responses leave in one write instead of a task, a wake-up and a write each.
#[derive(Clone, Copy)]
struct InlineFirst;

impl<F> hyper::rt::Executor<F> for InlineFirst
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        let mut future = Box::pin(future);
        // No waker is needed for this first poll: a future still pending is spawned, and the
        // runtime polls it again at once with its own (a future registers its waker anew at
        // every poll).
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if future.as_mut().poll(&mut cx).is_pending() {
            tokio::spawn(future);
        }
    }
}

/// The TLS stream under HTTP/2, ending a TLS record after each frame that ends a stream (a
/// response's last frame). The h2 codec writes whatever frames it has gathered at once, and a
/// record holding several responses is read whole by a client that then hands out one response
/// per read of its socket: dnsperf 2.10 (`-m doh`) leaves the others in its buffer until more
/// bytes arrive, which in a closed-loop benchmark they never do. One record per response is what
/// other servers send. Writes are cut only; nothing is buffered or copied.
struct RecordPerResponse<S> {
    inner: S,
    frames: FrameCursor,
}

/// Where the bytes written so far stand in the HTTP/2 frame sequence (RFC 9113 §4.1).
#[derive(Clone, Copy, Default)]
struct FrameCursor {
    /// The frame header being read, and how much of it.
    header: [u8; 9],
    header_len: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: usize,
    /// Whether the current frame is a DATA or HEADERS frame with END_STREAM.
    ends_stream: bool,
}

impl FrameCursor {
    /// Moves over `bytes`; with `stop_at_end_of_stream`, stops after the first frame that ends a
    /// stream. Returns how many bytes it moved over.
    fn advance(&mut self, bytes: &[u8], stop_at_end_of_stream: bool) -> usize {
        let mut at = 0;
        while at < bytes.len() {
            if self.header_len < self.header.len() {
                let take = (self.header.len() - self.header_len).min(bytes.len() - at);
                self.header[self.header_len..self.header_len + take]
                    .copy_from_slice(&bytes[at..at + take]);
                self.header_len += take;
                at += take;
                if self.header_len < self.header.len() {
                    break;
                }
                let [l0, l1, l2, kind, flags, ..] = self.header;
                self.payload_left = u32::from_be_bytes([0, l0, l1, l2]) as usize;
                // DATA (0) or HEADERS (1) with END_STREAM (0x1).
                self.ends_stream = kind <= 1 && flags & 0x1 != 0;
            } else {
                let take = self.payload_left.min(bytes.len() - at);
                self.payload_left -= take;
                at += take;
            }
            if self.payload_left == 0 && self.header_len == self.header.len() {
                self.header_len = 0;
                if self.ends_stream && stop_at_end_of_stream {
                    break;
                }
            }
        }
        at
    }
}

impl<S> RecordPerResponse<S> {
    fn new(inner: S) -> Self {
        RecordPerResponse {
            inner,
            frames: FrameCursor::default(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RecordPerResponse<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RecordPerResponse<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        // Where to cut, found on a copy: the cursor moves only over what is written.
        let mut ahead = self.frames;
        let cut = ahead.advance(buf, true);
        let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..cut]))?;
        self.frames.advance(&buf[..written], false);
        std::task::Poll::Ready(Ok(written))
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Runs a hyper connection until it ends, stopping it gracefully at the stop or once it has
/// been idle for the idle timeout; after a graceful stop, at most [`SHUTDOWN_GRACE`] more.
async fn drive<C: Future>(
    served: C,
    stop: impl Fn(Pin<&mut C>),
    conn: &Conn,
    shutdown: CancellationToken,
) {
    let served = std::pin::pin!(served);
    let mut served = served;
    let idle = conn.limits.idle_timeout;
    let tick = (idle / 4).max(Duration::from_millis(50));
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = served.as_mut() => return,
            () = shutdown.cancelled(), if !stopping => {
                stop(served.as_mut());
                stopping = true;
            }
            () = tokio::time::sleep(tick), if !stopping => {
                if conn.idle_for() >= idle {
                    stop(served.as_mut());
                    stopping = true;
                }
            }
            () = tokio::time::sleep(SHUTDOWN_GRACE), if stopping => return,
        }
    }
}

/// What every request of one connection shares.
struct Conn {
    peer: SocketAddr,
    snapshot: SharedState,
    limits: TcpLimits,
    counters: Arc<LoopCounters>,
    /// HTTP/2 answers a connection's streams concurrently, and the counters take one writer at
    /// a time (they add without a locked instruction): held while counting.
    counting: Mutex<()>,
    started: Instant,
    /// Requests being answered now, and when the last one ended (milliseconds from `started`).
    in_progress: AtomicUsize,
    last_done: AtomicU64,
    /// HTTP/2 responses answered together leave in one write, until a POST ([`Gathering`]).
    gathering: Arc<Gathering>,
}

impl Conn {
    fn idle_for(&self) -> Duration {
        if self.in_progress.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let done = Duration::from_millis(self.last_done.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(done)
    }
}

/// Marks a request in progress for as long as it lives.
struct InProgress<'a>(&'a Conn);

impl<'a> InProgress<'a> {
    fn new(conn: &'a Conn) -> Self {
        conn.in_progress.fetch_add(1, Ordering::Relaxed);
        InProgress(conn)
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        let now = self.0.started.elapsed().as_millis() as u64;
        self.0.last_done.fetch_max(now, Ordering::Relaxed);
        self.0.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a request gets no DNS answer: each an HTTP status with a one-line reason.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("not found: DNS over HTTPS is served at {0}")]
    NotFound(String),
    #[error("method not allowed: use GET with ?dns= or POST with an application/dns-message body")]
    Method,
    #[error("unsupported media type: the body must be application/dns-message")]
    MediaType,
    #[error("bad request: {0}")]
    Bad(&'static str),
    #[error("payload too large: a DNS message is at most 65535 octets")]
    TooLarge,
    #[error("request timeout: the body did not arrive in time")]
    Timeout,
    #[error("service unavailable: DNS over HTTPS is not configured")]
    Off,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::Method => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::MediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::Bad(_) => StatusCode::BAD_REQUEST,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Timeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::Off => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn response(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(format!("{self}\n"))));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if matches!(self, Refusal::Method) {
            headers.insert(ALLOW, HeaderValue::from_static("GET, POST"));
        }
        response
    }
}

async fn handle(
    request: Request<Incoming>,
    conn: Arc<Conn>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let _in_progress = InProgress::new(&conn);
    Ok(answer(request, &conn)
        .await
        .unwrap_or_else(|refusal| refusal.response()))
}

async fn answer(request: Request<Incoming>, conn: &Conn) -> Result<Response<Full<Bytes>>, Refusal> {
    // The settings as published now, read in place (no copy on the query path).
    let client = {
        let published = conn.snapshot.load();
        let settings = published.tls.as_ref().ok_or(Refusal::Off)?;
        if request.uri().path() != settings.doh_path {
            return Err(Refusal::NotFound(settings.doh_path.clone()));
        }
        client_of(request.headers(), conn.peer, &settings.trusted_proxies)
    };
    let message = match *request.method() {
        Method::GET => dns_parameter(request.uri().query())?,
        Method::POST => {
            conn.gathering.stop();
            body(request, conn.limits.message_timeout).await?
        }
        _ => return Err(Refusal::Method),
    };
    if message.len() < HEADER_LEN {
        return Err(Refusal::Bad("the message is shorter than a DNS header"));
    }
    let current = conn.snapshot.load_full();
    let mut response = Vec::with_capacity(512);
    let summary = super::respond_guarded(
        &current.snapshot,
        client,
        &message,
        Transport::Doh,
        &mut response,
    )
    .ok_or(Refusal::Bad("not a DNS query"))?;
    if matches!(summary.next, Next::Forward(_) | Next::Chase(_)) {
        super::forward::stream(
            &current,
            client,
            &summary,
            &message,
            Transport::Doh,
            &mut response,
        )
        .await;
    }
    {
        let _one_writer = conn
            .counting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        observe::query(
            &conn.counters,
            current.counter_slot(summary.view),
            &current.snapshot,
            client,
            &summary,
            Delivery::Sent,
            &response,
        );
    }
    let max_age = freshness(&response);
    let mut reply = Response::new(Full::new(Bytes::from(response)));
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
    if let Ok(value) = HeaderValue::from_str(&format!("max-age={max_age}")) {
        headers.insert(CACHE_CONTROL, value);
    }
    Ok(reply)
}

/// The message of a GET: the `dns` parameter, base64url without padding (RFC 8484 §4.1; padding
/// is tolerated, as several clients send it).
fn dns_parameter(query: Option<&str>) -> Result<Vec<u8>, Refusal> {
    let value = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("dns="))
        .ok_or(Refusal::Bad("no dns parameter"))?;
    let value = value.trim_end_matches('=');
    if value.len() > MAX_MESSAGE.div_ceil(3) * 4 {
        return Err(Refusal::TooLarge);
    }
    data_encoding::BASE64URL_NOPAD
        .decode(value.as_bytes())
        .map_err(|_| Refusal::Bad("the dns parameter is not base64url"))
}

/// The message of a POST: its body, of type `application/dns-message`, at most a DNS message
/// long, arrived within `timeout`.
async fn body(request: Request<Incoming>, timeout: Duration) -> Result<Vec<u8>, Refusal> {
    let media_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    if !media_type.is_some_and(|t| t.eq_ignore_ascii_case(DNS_MESSAGE)) {
        return Err(Refusal::MediaType);
    }
    let limited = Limited::new(request.into_body(), MAX_MESSAGE);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(Refusal::Timeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Refusal::TooLarge),
        Ok(Err(_)) => Err(Refusal::Bad("the body could not be read")),
    }
}

/// The client of a request: the connection's peer, unless the peer is a trusted proxy and says
/// whom it forwards for. Proxies append to `Forwarded` (RFC 7239) and `X-Forwarded-For`, so the
/// list is read from the right: the first address that is not a trusted proxy is the client
/// (an address further left was written by the client itself and proves nothing). `Forwarded`
/// wins over `X-Forwarded-For` when both are sent; an element that names no address (`unknown`,
/// an obfuscated identifier) ends the walk at the hop after it.
fn client_of(headers: &HeaderMap, peer: SocketAddr, trusted: &[IpNet]) -> SocketAddr {
    let trusts = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !trusts(&peer.ip()) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = if headers.contains_key(hyper::header::FORWARDED) {
        headers
            .get_all(hyper::header::FORWARDED)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for").then(|| address(value))
                })?
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(address)
            .collect()
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = SocketAddr::new(*ip, 0);
                if !trusts(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// The address in one `for=` value or `X-Forwarded-For` element: `192.0.2.1`,
/// `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"` or `2001:db8::1`.
fn address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// How long the answer may be cached (RFC 8484 §5.1): the smallest TTL of its answer and
/// authority records (a negative answer's SOA), 0 when it has none.
fn freshness(response: &[u8]) -> u32 {
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([
            *response.get(at)?,
            *response.get(at + 1)?,
        ]))
    };
    let walk = || -> Option<u32> {
        let questions = u16_at(4)?;
        let records = u16_at(6)? as usize + u16_at(8)? as usize;
        let mut pos = HEADER_LEN;
        for _ in 0..questions {
            pos = skip_name(response, pos)? + 4;
        }
        let mut smallest: Option<u32> = None;
        for _ in 0..records {
            let fixed = skip_name(response, pos)?;
            let ttl = (u32::from(u16_at(fixed + 4)?) << 16) | u32::from(u16_at(fixed + 6)?);
            smallest = Some(smallest.map_or(ttl, |s| s.min(ttl)));
            pos = fixed + 10 + u16_at(fixed + 8)? as usize;
        }
        smallest
    };
    walk().unwrap_or(0)
}

/// The position after the name at `pos` (a compression pointer ends it).
fn skip_name(bytes: &[u8], mut pos: usize) -> Option<usize> {
    // A name has at most 127 labels.
    for _ in 0..128 {
        let len = *bytes.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => return Some(pos + 2),
            l if l < 64 => pos += 1 + l as usize,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// The peer is believed about the client only when it is a trusted proxy, and then only
    /// as far as the chain of trusted proxies reaches.
    #[test]
    fn forwarded_client_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.80/32".parse().unwrap()];
        let proxy: SocketAddr = "10.0.0.80:50000".parse().unwrap();
        let stranger: SocketAddr = "192.0.2.7:50000".parse().unwrap();
        let ip = |h: &HeaderMap, peer| client_of(h, peer, &trusted).ip().to_string();
        let xff = headers(&[("x-forwarded-for", "10.1.2.3")]);
        assert_eq!(ip(&xff, proxy), "10.1.2.3");
        assert_eq!(ip(&xff, stranger), "192.0.2.7");
        // The client wrote the left part itself: the proxy's own entry is the one to take.
        let spoofed = headers(&[("x-forwarded-for", "10.9.9.9, 203.0.113.5")]);
        assert_eq!(ip(&spoofed, proxy), "203.0.113.5");
        let forwarded = headers(&[
            ("forwarded", "for=\"[2001:db8::7]:4711\";proto=https"),
            ("x-forwarded-for", "10.1.2.3"),
        ]);
        assert_eq!(ip(&forwarded, proxy), "2001:db8::7");
        let chain = headers(&[("forwarded", "for=198.51.100.1, for=10.0.0.80")]);
        assert_eq!(ip(&chain, proxy), "198.51.100.1");
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(ip(&unknown, proxy), "10.0.0.80");
    }

    /// Writes are cut after each frame that ends a stream, wherever the write starts.
    #[test]
    fn writes_are_cut_after_each_response() {
        let frame = |kind: u8, flags: u8, payload: usize| {
            let mut bytes = (payload as u32).to_be_bytes()[1..].to_vec();
            bytes.extend([kind, flags, 0, 0, 0, 1]);
            bytes.extend(vec![0xaa; payload]);
            bytes
        };
        // SETTINGS, then two responses: HEADERS + DATA (END_STREAM) each.
        let mut bytes = frame(4, 0, 6);
        let first_end = bytes.len() + 9 + 20 + 9 + 33;
        for _ in 0..2 {
            bytes.extend(frame(1, 0x4, 20));
            bytes.extend(frame(0, 0x1, 33));
        }
        let mut cursor = FrameCursor::default();
        let mut ahead = cursor;
        assert_eq!(ahead.advance(&bytes, true), first_end);
        // Written in pieces: each cut still falls at the end of a response.
        let mut at = 0;
        let mut cuts = Vec::new();
        while at < bytes.len() {
            let end = (at + 7).min(bytes.len());
            let mut ahead = cursor;
            let cut = ahead.advance(&bytes[at..end], true);
            cursor.advance(&bytes[at..at + cut], false);
            at += cut;
            cuts.push(at);
        }
        assert!(cuts.contains(&first_end) && cuts.last() == Some(&bytes.len()));
        // A frame with END_STREAM and no payload ends a response too.
        let empty = frame(0, 0x1, 0);
        assert_eq!(
            FrameCursor::default().advance(&[empty.clone(), empty].concat(), true),
            9
        );
    }

    #[test]
    fn dns_parameter_is_base64url() {
        // RFC 8484 §4.1.1's example query for www.example.com A.
        let q = "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";
        assert_eq!(dns_parameter(Some(&format!("dns={q}"))).unwrap().len(), 33);
        assert_eq!(
            dns_parameter(Some(&format!("ct=x&dns={q}==")))
                .unwrap()
                .len(),
            33
        );
        assert!(matches!(
            dns_parameter(Some("dns=%%%")),
            Err(Refusal::Bad(_))
        ));
        assert!(matches!(dns_parameter(None), Err(Refusal::Bad(_))));
    }
}
