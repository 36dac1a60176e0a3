//! DANE checks (RFC 6698, RFC 7671; RFC 7672 for SMTP): each TLSA RRset that a signed view
//! publishes at `_PORT._tcp.HOST` is compared with the chain each of HOST's addresses in that view
//! presents on PORT, so that a certificate renewed without its TLSA record is seen here before
//! senders refuse to deliver. Report-only: a mismatch is a log line, a metric and a status warning,
//! and never changes an answer.
//!
//! The loader plans the checks ([`Plan`]: one [`Target`] per address, port, server name and way
//! of starting TLS, however many views publish records for it); the [`Runner`] connects to each
//! target every `interval` and compares what it presents with every RRset that names it.

mod run;
pub(crate) mod tlsa;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub(crate) use super::presented::Opening;
pub(crate) use run::Runner;
pub(crate) use run::{CheckReport, State};
pub(crate) use tlsa::Tlsa;

/// How the checks run (`[dane]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// From the start of one check of an address to the start of the next.
    pub interval: Duration,
    /// Longest one check (connect, STARTTLS, TLS handshake) may take.
    pub timeout: Duration,
    /// The ports where SMTP comes first and TLS starts with STARTTLS.
    pub smtp_ports: Vec<u16>,
}

/// One connection's subject: what is connected to, the name presented (SNI: the TLSA owner's
/// host), and how TLS starts there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub address: IpAddr,
    pub port: u16,
    /// Lowercased, without the final dot.
    pub server_name: String,
    pub opening: Opening,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Target {
    pub fn socket(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
}

/// One view's TLSA RRset, compared with what one of its host's addresses presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub view: String,
    /// The TLSA owner, `_25._tcp.mail.contoso.example`, without the final dot.
    pub name: String,
    /// Index into [`Plan::targets`].
    pub target: usize,
    pub records: Arc<[Tlsa]>,
}

/// Every DANE check a snapshot asks for.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub checks: Vec<Check>,
}
