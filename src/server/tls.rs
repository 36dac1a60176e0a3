//! The TLS side of DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484): one rustls server
//! configuration per protocol (ALPN `dot`; `h2` and `http/1.1`), TLS 1.2 and 1.3 over ring,
//! session resumption by tickets and a session cache, and the certificate taken from the
//! published state at each handshake — so a certificate a reload read is presented from the next
//! connection on, and a connection keeps the one it was opened with. A handshake is cut off
//! after `[tls] handshake_timeout` (a client that stalls its hello holds a connection slot
//! otherwise), or at the stop. After the handshake, DNS over TLS is the plain TCP connection
//! loop over the TLS stream ([`super::stream::connection`]); DNS over HTTPS is [`super::doh`].

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig, crypto::ring};
use tokio_util::sync::CancellationToken;

use super::gather::GatheredWrites;
use super::{SharedState, TcpLimits};
use crate::observe::Metrics;
use crate::wire::Transport;

/// TLS sessions remembered for resumption by session ID (TLS 1.2) and stateful tickets; the
/// stateless tickets need no memory of ours. About 1 KiB each.
const SESSION_CACHE: usize = 4096;

/// The configurations both encrypted protocols accept with, built once at start.
pub(super) struct Acceptors {
    pub dot: Acceptor,
    pub doh: Acceptor,
}

/// Why TLS cannot be served at all (not about one connection).
#[derive(Debug, thiserror::Error)]
pub(super) enum TlsSetupError {
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

impl Acceptors {
    pub(super) fn new(state: &SharedState) -> Result<Acceptors, TlsSetupError> {
        let resolver = Arc::new(Current(state.clone()));
        // One ticket key and one session cache for both: a client resumes with either.
        let ticketer = ring::Ticketer::new()?;
        let sessions = ServerSessionMemoryCache::new(SESSION_CACHE);
        let config = |alpn: &[&[u8]]| -> Result<Arc<ServerConfig>, TlsSetupError> {
            let mut config =
                ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
                    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                    .with_no_client_auth()
                    .with_cert_resolver(resolver.clone());
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            config.ticketer = ticketer.clone();
            config.session_storage = sessions.clone();
            Ok(Arc::new(config))
        };
        Ok(Acceptors {
            dot: Acceptor {
                tls: TlsAcceptor::from(config(&[b"dot"])?),
                transport: Transport::Dot,
            },
            doh: Acceptor {
                tls: TlsAcceptor::from(config(&[b"h2", b"http/1.1"])?),
                transport: Transport::Doh,
            },
        })
    }
}

/// The certificate of the state published now (none while `[tls]` is off: the handshake fails).
#[derive(Debug)]
struct Current(SharedState);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.load().tls.as_ref().map(|tls| tls.key.clone())
    }
}

/// Accepts one protocol's connections: TLS first, then DNS over TLS or DNS over HTTPS.
#[derive(Clone)]
pub(super) struct Acceptor {
    tls: TlsAcceptor,
    transport: Transport,
}

impl Acceptor {
    /// Serves one accepted connection until it ends.
    pub(super) async fn serve(
        &self,
        stream: TcpStream,
        client: SocketAddr,
        snapshot: SharedState,
        limits: TcpLimits,
        metrics: &Arc<Metrics>,
        shutdown: CancellationToken,
    ) {
        let Some(handshake_timeout) = snapshot.load().tls.as_ref().map(|t| t.handshake_timeout)
        else {
            // `[tls]` was removed by a reload: the listeners stay until a restart, serving nothing.
            return;
        };
        let accepted = tokio::select! {
            accepted = tokio::time::timeout(handshake_timeout, self.tls.accept(GatheredWrites::new(stream))) => accepted,
            () = shutdown.cancelled() => return,
        };
        let stream = match accepted {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake with {client} failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake with {client} cut off after {handshake_timeout:?}");
                return;
            }
        };
        // This connection's own counters: it is their only writer.
        let counters = metrics.queries.register(self.transport);
        match self.transport {
            Transport::Doh => {
                super::doh::connection(stream, client, snapshot, limits, &counters, shutdown).await
            }
            _ => {
                super::stream::connection(stream, client, snapshot, limits, &counters, shutdown)
                    .await
            }
        }
        metrics.queries.retire(&counters);
    }
}
