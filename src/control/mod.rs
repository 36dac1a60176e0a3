//! The control listener: a small HTTP/1.1 server (hyper) for operators and their tools, off the
//! query path. `GET /` (the status page, HTML for a person; [`page`]), `GET /metrics`
//! (OpenMetrics text for a scraper that asks for it, else the classic Prometheus text format;
//! [`metrics`]), `GET /status` (JSON, [`status`]) and `POST /reload` (the reload transaction of
//! [`crate::reload`], answered with its result). It is off unless `[control] listen` is set, and loopback-only unless the admin allows
//! otherwise, since whoever reaches it can read the configuration and trigger reloads.
//!
//! Hostile or broken clients cost bounded work: headers must arrive within
//! [`HEADER_TIMEOUT`] and fit in [`MAX_HEADER_BYTES`] (hyper answers 431 or closes), a
//! connection lives at most [`CONNECTION_TIMEOUT`], at most [`MAX_CONNECTIONS`] are open at once,
//! and request bodies are never read. They cannot lock the listener out either: a new connection
//! over the limit closes the oldest one that is not answering a request (idle, or still sending
//! its header), so a client that holds connections open, or trickles headers, only ever evicts its
//! own; a fresh request is read at once and is evicted only after [`MAX_CONNECTIONS`] newer
//! connections came in first. Per-source limits or a slot reserved for loopback would not do:
//! whoever locks the listener out is a local process, on loopback, and can bind any source in
//! 127.0.0.0/8. Out of file descriptors (EMFILE), the accept loop closes the oldest idle
//! connection to free one, or pauses, rather than retrying at once forever.
//!
//! Requests name their host as RFC 9112 §3.2 says: an HTTP/1.1 request without `Host`, any with
//! two, or with a malformed one is answered 400; an absolute-form target's authority is the host
//! (its `Host` header is then ignored). On a loopback listener, a request for anything but
//! `localhost`, an address in 127.0.0.0/8 or `[::1]` (with or without a port) is refused (403): a
//! web page the admin opens cannot reach the listener through DNS rebinding, since the browser
//! sends the page's name, not the address it resolved to.

pub mod metrics;
pub mod page;
pub mod rates;
pub mod status;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;

use crate::health::Prober;
use crate::observe::Metrics;
use crate::reload::ReloadHandle;
use crate::server::SharedState;

/// How long a client may take to send its request line and headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Longest a connection may stay open, whatever it does.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections kept open at once; a new one closes the oldest that is not answering a request.
pub const MAX_CONNECTIONS: usize = 64;
/// How long the accept loop waits after an accept error it could do nothing about (out of file
/// descriptors with no idle connection to close): the same error would come back at once.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Longest the accept loop waits for a connection it closed to let go of its descriptor.
const CLOSE_WAIT: Duration = Duration::from_millis(100);

/// What the endpoints report on.
pub struct Control {
    pub state: SharedState,
    pub metrics: Arc<Metrics>,
    pub reload: ReloadHandle,
    pub started: Instant,
    /// The DNS addresses served on.
    pub listen: Vec<SocketAddr>,
    /// The control listener's own address, once bound.
    pub address: Option<SocketAddr>,
    /// Accept only loopback `Host` headers (the listener is on a loopback address).
    pub loopback_only: bool,
    /// The health checks, for `/status` and the page.
    pub prober: Prober,
    /// The query counters' recent samples, for the page's rates.
    pub rates: rates::Rates,
    exposition: metrics::Exposition,
}

impl Control {
    pub fn new(
        state: SharedState,
        metrics: Arc<Metrics>,
        reload: ReloadHandle,
        listen: Vec<SocketAddr>,
        prober: Prober,
    ) -> Control {
        let exposition = metrics::Exposition::new(state.clone(), metrics.clone(), prober.clone());
        Control {
            state,
            metrics,
            reload,
            started: Instant::now(),
            listen,
            address: None,
            loopback_only: true,
            prober,
            rates: rates::Rates::new(),
            exposition,
        }
    }
}

/// Serves the control endpoints on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    control: Arc<Control>,
    shutdown: CancellationToken,
) {
    let connections = Arc::new(Connections::default());
    tokio::spawn(sample_rates(control.clone(), shutdown.clone()));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e, &connections, &shutdown).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let Some(admitted) = connections.admit() else {
            tracing::debug!(
                "control connection from {peer} refused: {MAX_CONNECTIONS} requests being answered"
            );
            continue;
        };
        let control = control.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let slot = admitted.slot.clone();
            let service = hyper::service::service_fn(move |request| {
                let control = control.clone();
                let slot = slot.clone();
                async move {
                    let Some(_answering) = Answering::begin(slot) else {
                        // Chosen for closing an instant ago: the connection is going.
                        return Ok::<_, Infallible>(text(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "too many connections\n",
                        ));
                    };
                    Ok(route(&control, request).await)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = tokio::time::timeout(CONNECTION_TIMEOUT, connection) => {
                    if let Ok(Err(e)) = result {
                        tracing::debug!("control connection from {peer}: {e}");
                    }
                }
                () = admitted.slot.close.cancelled() => {
                    tracing::debug!("control connection from {peer} closed for a newer one");
                }
                () = shutdown.cancelled() => {}
            }
            // The socket is closed (the connection future dropped) before `admitted` reports it.
            drop(admitted);
        });
        // Let the connections run before the next accept: with a full backlog the loop would
        // otherwise accept (and evict for) dozens of newer connections before a fresh one had
        // read the request already waiting in its socket, and close it unanswered.
        tokio::task::yield_now().await;
    }
}

/// Samples the query counters for the page's rates, every [`rates::SAMPLE_EVERY`] until
/// `shutdown`.
async fn sample_rates(control: Arc<Control>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(rates::SAMPLE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => control.rates.sample(&control.metrics),
            () = shutdown.cancelled() => return,
        }
    }
}

/// After a failed accept. A connection reset while it was queued concerns that connection only.
/// Anything else (out of file descriptors, EMFILE or ENFILE; out of memory) would fail the next
/// accept the same way at once: the oldest idle connection is closed to free a descriptor, or when
/// none is idle the loop pauses, so that it never spins.
async fn accept_failed(
    error: &std::io::Error,
    connections: &Connections,
    shutdown: &CancellationToken,
) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
    ) {
        tracing::debug!("control accept error: {error}");
        return;
    }
    if let Some(done) = connections.evict_oldest_idle() {
        tracing::debug!("control accept error: {error}; closed the oldest idle connection");
        let _ = tokio::time::timeout(CLOSE_WAIT, done.cancelled_owned()).await;
        return;
    }
    tracing::warn!(
        "control accept error: {error}; no idle control connection to close, pausing {ACCEPT_PAUSE:?}"
    );
    tokio::select! {
        () = tokio::time::sleep(ACCEPT_PAUSE) => {}
        () = shutdown.cancelled() => {}
    }
}

/// A connection's state: waiting for (or reading) a request, answering one, or chosen for closing.
const IDLE: u8 = 0;
const ANSWERING: u8 = 1;
const CLOSING: u8 = 2;

/// One open control connection.
struct Slot {
    /// [`IDLE`], [`ANSWERING`] or [`CLOSING`].
    state: AtomicU8,
    /// Cancelled to close the connection.
    close: CancellationToken,
    /// Cancelled once the connection's task let go of its socket.
    done: CancellationToken,
}

/// The open connections.
#[derive(Default)]
struct Connections {
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    /// The last connection's number.
    last: u64,
    /// By number, which is accept order: the first idle one is the oldest.
    slots: BTreeMap<u64, Arc<Slot>>,
}

impl Connections {
    /// Room for a new connection: at [`MAX_CONNECTIONS`], the oldest idle one is closed. `None`
    /// when every open connection is answering a request.
    fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut open = self.open.lock().expect("not poisoned");
        if open.slots.len() >= MAX_CONNECTIONS {
            Self::evict(&mut open.slots)?;
        }
        open.last += 1;
        let id = open.last;
        let slot = Arc::new(Slot {
            state: AtomicU8::new(IDLE),
            close: CancellationToken::new(),
            done: CancellationToken::new(),
        });
        open.slots.insert(id, slot.clone());
        Some(Admitted {
            connections: self.clone(),
            id,
            slot,
        })
    }

    /// Closes the oldest idle connection; what tells when its socket is closed.
    fn evict_oldest_idle(&self) -> Option<CancellationToken> {
        Self::evict(&mut self.open.lock().expect("not poisoned").slots)
    }

    fn evict(open: &mut BTreeMap<u64, Arc<Slot>>) -> Option<CancellationToken> {
        let (&id, slot) = open.iter().find(|(_, slot)| {
            slot.state
                .compare_exchange(IDLE, CLOSING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })?;
        slot.close.cancel();
        let done = slot.done.clone();
        open.remove(&id);
        Some(done)
    }
}

/// A connection's place in [`Connections`], given up when its task ends.
struct Admitted {
    connections: Arc<Connections>,
    id: u64,
    slot: Arc<Slot>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections
            .open
            .lock()
            .expect("not poisoned")
            .slots
            .remove(&self.id);
        self.slot.done.cancel();
    }
}

/// While a request is answered its connection is not closed for a newer one.
struct Answering(Arc<Slot>);

impl Answering {
    /// `None` if the connection was just chosen for closing.
    fn begin(slot: Arc<Slot>) -> Option<Answering> {
        slot.state
            .compare_exchange(IDLE, ANSWERING, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(Answering(slot))
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.state.store(IDLE, Ordering::Release);
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Reply {
    let mut body = serde_json::to_vec_pretty(value).expect("status serialises");
    body.push(b'\n');
    reply(status, "application/json", body)
}

/// The host of a `Host` value or of an absolute-form target's authority, `uri-host [ ":" port ]`
/// (RFC 9110 §7.2, RFC 3986 §3.2.2), without the brackets of an IPv6 literal; `None` when
/// malformed, userinfo included (RFC 9110 §4.2.4: a recipient treats it as an error).
fn authority_host(authority: &str) -> Option<&str> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (literal, after) = rest.split_once(']')?;
            literal.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':')?),
            };
            (literal, port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            // reg-name (an IPv4 address is one too): unreserved, pct-encoded, sub-delims.
            let reg_name = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
            if host.is_empty() || !host.bytes().all(reg_name) {
                return None;
            }
            (host, port)
        }
    };
    port.is_none_or(|port| port.bytes().all(|b| b.is_ascii_digit()))
        .then_some(host)
}

/// Whether a host names this machine's loopback: `localhost`, an address in 127.0.0.0/8 or
/// `::1`. Any address of 127.0.0.0/8 is the loopback as much as 127.0.0.1 (the listener may be
/// bound to 127.0.0.53), and a name an attacker's DNS can point there never passes: that is
/// what keeps DNS rebinding out.
fn loopback_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a `Host` value names this machine's loopback, with or without a port.
#[cfg(test)]
fn loopback_host(value: &str) -> bool {
    authority_host(value).is_some_and(loopback_name)
}

/// The host a request is for (RFC 9112 §3.2, §3.2.2): the authority of an absolute-form target
/// (the `Host` header is then ignored), else its one `Host` header; `None` for an HTTP/1.0
/// request without one. 400 for an HTTP/1.1 request without `Host`, for two `Host` headers, or
/// for a malformed `Host` or authority.
fn target_host(request: &Request<Incoming>) -> Result<Option<String>, &'static str> {
    let mut hosts = request.headers().get_all(hyper::header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err("bad request: more than one Host header\n"),
        (None, _) if request.version() != hyper::Version::HTTP_10 => {
            return Err("bad request: no Host header\n");
        }
        (None, _) => None,
        (Some(value), None) => Some(
            value
                .to_str()
                .ok()
                .and_then(authority_host)
                .ok_or("bad request: malformed Host header\n")?,
        ),
    };
    match request.uri().authority() {
        Some(authority) => authority_host(authority.as_str())
            .map(|host| Some(host.to_string()))
            .ok_or("bad request: malformed authority in the request target\n"),
        None => Ok(host.map(str::to_string)),
    }
}

async fn route(control: &Control, request: Request<Incoming>) -> Reply {
    let host = match target_host(&request) {
        Ok(host) => host,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };
    if control.loopback_only && host.is_some_and(|host| !loopback_name(&host)) {
        return text(
            StatusCode::FORBIDDEN,
            "forbidden: this listener answers requests for localhost only\n",
        );
    }
    let method = request.method();
    let allowed = match request.uri().path() {
        "/" | "/metrics" | "/status" => Method::GET,
        "/reload" => Method::POST,
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                "not found: try /, /metrics, /status or POST /reload\n",
            );
        }
    };
    if method != allowed && !(allowed == Method::GET && method == Method::HEAD) {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response.headers_mut().insert(
            ALLOW,
            HeaderValue::from_str(allowed.as_str()).expect("a method"),
        );
        return response;
    }
    match request.uri().path() {
        "/metrics" => {
            // Prometheus asks for OpenMetrics; curl and older scrapers get the classic format.
            let openmetrics = request
                .headers()
                .get_all(hyper::header::ACCEPT)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .any(|value| value.contains("application/openmetrics-text"));
            let content_type = if openmetrics {
                metrics::OPENMETRICS
            } else {
                metrics::PROMETHEUS_TEXT
            };
            reply(
                StatusCode::OK,
                content_type,
                control.exposition.render(openmetrics),
            )
        }
        "/status" => json(StatusCode::OK, &status::report(control)),
        "/" => {
            let mut response = reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                page::render(control),
            );
            let headers = response.headers_mut();
            headers.insert(
                hyper::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(page::CONTENT_SECURITY_POLICY),
            );
            headers.insert(
                hyper::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                hyper::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            response
        }
        _ => match control.reload.reload().await {
            // 409: the files conflict with what may be served; the previous data still is.
            Some(record) if !record.ok => json(StatusCode::CONFLICT, &record),
            Some(record) => json(StatusCode::OK, &record),
            None => text(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping\n"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Answering, Connections, MAX_CONNECTIONS, authority_host, loopback_host};
    use std::sync::Arc;

    #[test]
    fn a_new_connection_closes_the_oldest_idle_one() {
        let connections = Arc::new(Connections::default());
        let admitted: Vec<_> = (0..MAX_CONNECTIONS)
            .map(|_| connections.admit().expect("room"))
            .collect();
        // The oldest is answering a request: the second oldest goes.
        let answering = Answering::begin(admitted[0].slot.clone()).expect("idle");
        let newer = connections.admit().expect("an idle one to close");
        assert!(!admitted[0].slot.close.is_cancelled());
        assert!(admitted[1].slot.close.is_cancelled());
        assert!(Answering::begin(admitted[1].slot.clone()).is_none());
        assert!(admitted[2..].iter().all(|a| !a.slot.close.is_cancelled()));
        // Its task ends: the socket is reported closed.
        let done = admitted[1].slot.done.clone();
        drop(admitted);
        assert!(done.is_cancelled());
        drop(answering);
        assert!(!newer.slot.close.is_cancelled());
    }

    #[test]
    fn with_every_connection_answering_a_new_one_is_refused() {
        let connections = Arc::new(Connections::default());
        let admitted: Vec<_> = (0..MAX_CONNECTIONS)
            .map(|_| connections.admit().expect("room"))
            .collect();
        let answering: Vec<_> = admitted
            .iter()
            .map(|a| Answering::begin(a.slot.clone()).expect("idle"))
            .collect();
        assert!(connections.admit().is_none());
        assert!(connections.evict_oldest_idle().is_none());
        drop(answering);
        assert!(connections.admit().is_some());
        assert!(admitted[0].slot.close.is_cancelled());
    }

    #[test]
    fn only_loopback_hosts_pass() {
        for host in [
            "127.0.0.1:9153",
            "localhost:9153",
            "LOCALHOST",
            "[::1]:9153",
            "127.1.2.3",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:9153",
            "10.0.0.53:9153",
            "[2001:db8::1]:9153",
            "",
            "localhost.evil.example",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[test]
    fn hosts_are_read_as_rfc_3986_authorities() {
        for (value, host) in [
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.1:9153", "127.0.0.1"),
            ("127.0.0.1:", "127.0.0.1"),
            ("LocalHost:9153", "LocalHost"),
            ("[::1]", "::1"),
            ("[::1]:9153", "::1"),
            ("evil.example:80", "evil.example"),
        ] {
            assert_eq!(authority_host(value), Some(host), "{value}");
        }
        for value in [
            "",
            ":9153",
            "admin@127.0.0.1",
            "127.0.0.1 evil",
            "127.0.0.1:x",
            "127.0.0.1:9153:1",
            "::1",
            "[::1",
            "[::1]x",
            "[evil.example]",
            "127.0.0.1/status",
        ] {
            assert_eq!(authority_host(value), None, "{value}");
        }
    }
}
