//! The on-disk config format, exactly as written: strict (unknown keys are rejected by serde)
//! and spanned, so that every later validation error can point at the file line it came from.
//! Nothing here is used at runtime; `super::validate` turns it into [`super::Config`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Limits for DNS over TCP.
    pub tcp: Option<TcpSection>,
    /// Addresses to serve on, UDP and TCP on each.
    #[serde(default)]
    pub listen: Vec<Spanned<String>>,
    /// What a reload does when a zone's content changed but its SOA serial did not increase:
    /// "warn" (default) or "bump".
    pub serial_policy: Option<Spanned<String>>,
    #[serde(default, rename = "view")]
    pub views: Vec<ViewSection>,
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneSection>,
    #[serde(default, rename = "exchange")]
    pub exchange: Vec<ExchangeSection>,
    /// Refuse a start or reload when any zone's files do not load (default false: such a zone
    /// keeps its previous data, or is not served, and the other zones are).
    #[serde(default)]
    pub all_or_nothing: bool,
    /// The control listener (metrics, status, reload); off when absent.
    pub control: Option<ControlSection>,
    /// A JSON-lines log of queries; off when absent.
    pub query_log: Option<QueryLogSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryLogSection {
    /// The file lines are appended to (relative to the config's directory).
    pub path: Spanned<String>,
    /// Log one query in this many (default 1: every query).
    pub sample: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// HTTP address for `/metrics`, `/status` and `POST /reload`, e.g. "127.0.0.1:9153".
    pub listen: Spanned<String>,
    /// Accept a non-loopback `listen` (anyone who reaches it can read the status and reload).
    #[serde(default)]
    pub allow_remote: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSection {
    pub name: Spanned<String>,
    /// Source prefixes this view answers; the most specific prefix over all views wins.
    pub clients: Vec<Spanned<String>>,
    /// Whether this view faces the Internet (checked for private addresses, rate-limited).
    /// Default: true only for a view named "external".
    pub public: Option<bool>,
    /// Answer CHAOS-class `version.bind`, `version.server`, `hostname.bind` and `id.server`
    /// (default false: REFUSED, so the server does not advertise itself).
    #[serde(default)]
    pub chaos: bool,
    /// Response Rate Limiting for UDP answers to this view's clients.
    pub rrl: Option<RrlSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RrlSection {
    /// Default: on when the view's clients reach beyond private address space.
    pub enabled: Option<bool>,
    /// Identical responses per second to one client network (/24 or /56). Default 20.
    pub responses_per_second: Option<Spanned<i64>>,
    /// Every Nth limited response is sent truncated instead of dropped (0: never). Default 2.
    pub slip: Option<Spanned<i64>>,
    /// Client prefixes never limited. Default: loopback (cannot be spoofed from outside).
    pub exempt: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSection {
    pub origin: Spanned<String>,
    /// The records every view shares.
    pub file: Spanned<String>,
    /// Per-view override files: view name → file whose RRsets replace the shared ones.
    #[serde(default)]
    pub views: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// An Exchange namespace described in a few lines; the records it implies are generated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSection {
    /// The one name for OWA, EWS, MAPI, ActiveSync, OAB and Autodiscover.
    pub namespace: Spanned<String>,
    /// Addresses the inside gets, in round robin.
    #[serde(default)]
    pub internal: Vec<Spanned<String>>,
    /// Addresses the outside gets.
    #[serde(default)]
    pub external: Vec<Spanned<String>>,
    /// Also publish autodiscover.<the namespace's parent domain> with the same addresses.
    #[serde(default)]
    pub autodiscover: bool,
    /// Other accepted domains: each gets `_autodiscover._tcp SRV 0 0 443 <namespace>.`.
    #[serde(default)]
    pub srv_domains: Vec<Spanned<String>>,
    /// The views that get the internal and external addresses.
    pub internal_view: Option<Spanned<String>>,
    pub external_view: Option<Spanned<String>>,
    /// TTL of the generated records.
    pub ttl: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSection {
    pub max_connections: Option<Spanned<i64>>,
    /// Seconds a connection may stay idle between queries.
    pub idle_timeout: Option<Spanned<f64>>,
    /// Seconds one query may take to arrive once it has started.
    pub message_timeout: Option<Spanned<f64>>,
}
