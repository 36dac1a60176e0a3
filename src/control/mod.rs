//! The control listener: a small HTTP/1.1 server (hyper) for operators and their tools, off the
//! query path. `GET /metrics` (OpenMetrics text for a scraper that asks for it, else the classic
//! Prometheus text format; [`metrics`]), `GET /status` (JSON,
//! [`status`]) and `POST /reload` (the reload transaction of [`crate::reload`], answered with its
//! result). It is off unless `[control] listen` is set, and loopback-only unless the admin allows
//! otherwise, since whoever reaches it can read the configuration and trigger reloads.
//!
//! Hostile or broken clients cost bounded work: headers must arrive within
//! [`HEADER_TIMEOUT`] and fit in [`MAX_HEADER_BYTES`] (hyper answers 431 or closes), a
//! connection lives at most [`CONNECTION_TIMEOUT`], at most [`MAX_CONNECTIONS`] are open at once,
//! and request bodies are never read. On a loopback listener, a request whose `Host` names
//! anything but a loopback address or `localhost` is refused (403): a web page the admin opens
//! cannot reach the listener through DNS rebinding.

pub mod metrics;
pub mod status;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;
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
/// Concurrent connections; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;

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
        let exposition = metrics::Exposition::new(state.clone(), metrics.clone(), prober);
        Control {
            state,
            metrics,
            reload,
            started: Instant::now(),
            listen,
            address: None,
            loopback_only: true,
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
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::debug!("control accept error: {e}");
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::debug!("control connection from {peer} refused: too many open");
            continue;
        };
        let control = control.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let control = control.clone();
                async move { Ok::<_, Infallible>(route(&control, request).await) }
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
                () = shutdown.cancelled() => {}
            }
            drop(permit);
        });
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

/// Whether a `Host` header names this machine's loopback: `localhost`, `127.x.x.x` or `[::1]`,
/// with or without a port.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn route(control: &Control, request: Request<Incoming>) -> Reply {
    if control.loopback_only
        && let Some(host) = request.headers().get(hyper::header::HOST)
        && !host.to_str().is_ok_and(loopback_host)
    {
        return text(
            StatusCode::FORBIDDEN,
            "forbidden: this listener answers requests for localhost only\n",
        );
    }
    let method = request.method();
    let allowed = match request.uri().path() {
        "/metrics" | "/status" => Method::GET,
        "/reload" => Method::POST,
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                "not found: try /metrics, /status or POST /reload\n",
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
    use super::loopback_host;

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
}
