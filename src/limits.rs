//! What the server enforces, as settings: Response Rate Limiting per view and the limits of the
//! TCP side. Data only, standing on nothing of ours, so that the config that validates them and
//! the server that enforces them share them without the config knowing the server.

use std::time::Duration;

use ipnet::IpNet;

/// Response Rate Limiting settings for one view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrlPolicy {
    /// Identical responses per second to one client network.
    pub responses_per_second: u32,
    /// Every `slip`-th limited response is sent truncated instead of dropped (0: none is).
    pub slip: u32,
    /// Client prefixes never limited.
    pub exempt: Vec<IpNet>,
}

/// Limits that protect the TCP side (RFC 7766 §6.2.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcpLimits {
    /// Connections open at once, TCP, DNS over TLS and DNS over HTTPS together.
    pub max_connections: usize,
    /// Connections one client address (an IPv4 address, an IPv6 /64) may hold at once, so that
    /// one client cannot take them all; a DoH reverse proxy in `[tls] trusted_proxies` is exempt.
    pub max_connections_per_source: usize,
    /// How long a connection may sit between messages.
    pub idle_timeout: Duration,
    /// How long one message may take to arrive once its first byte has (defeats slow senders).
    pub message_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 4096,
            max_connections_per_source: 1024,
            idle_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(3),
        }
    }
}

/// What the encrypted listeners (DNS over TLS and DNS over HTTPS) serve with. Published with
/// each load, beside the snapshot: a replaced certificate, a new `doh_path` or proxy list takes
/// effect at the next connection or request, and connections already established keep the
/// certificate they were opened with.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The certificate chain (the server's own first) and its private key, checked to match.
    pub key: std::sync::Arc<tokio_rustls::rustls::sign::CertifiedKey>,
    /// Where DNS over HTTPS answers (`/dns-query`); any other path is 404.
    pub doh_path: String,
    /// Peers whose `Forwarded: for=` or `X-Forwarded-For` names the client of a DoH request.
    pub trusted_proxies: Vec<IpNet>,
    /// How long a TLS handshake may take from the connection's accept.
    pub handshake_timeout: Duration,
}
