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
    /// Health checks for A/AAAA RRsets written in zone files.
    #[serde(default, rename = "health")]
    pub health: Vec<HealthBlockSection>,
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
    /// The `[[exchange.site]]` names this view's clients prefer, best first: the view gets the
    /// namespace with the healthy addresses of the first site that has any.
    pub site_order: Option<Vec<Spanned<String>>>,
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
    /// Health checks on the internal addresses.
    pub health: Option<Spanned<HealthSection>>,
    /// Sites (datacenters), each with its own internal addresses: the multi-site form of
    /// `internal`.
    #[serde(default, rename = "site")]
    pub sites: Vec<SiteSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub name: Spanned<String>,
    pub internal: Vec<Spanned<String>>,
}

/// How addresses are checked. Every key has a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    /// "https" (default) or "tcp".
    pub kind: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    /// HTTPS: the path asked for (default /owa/healthcheck.htm).
    pub path: Option<Spanned<String>>,
    /// Seconds between checks, and for one check.
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
    /// Consecutive failures to take an address out, successes to put it back.
    pub fall: Option<Spanned<i64>>,
    pub rise: Option<Spanned<i64>>,
    /// PEM file of the CA the certificates must chain to.
    pub ca: Option<Spanned<String>>,
    pub certificate_check: Option<bool>,
    pub expiry_warning_days: Option<Spanned<i64>>,
    /// "all" (default: answer every address) or "servfail".
    pub all_down: Option<Spanned<String>>,
}

/// A `[[health]]` block: an A/AAAA RRset from the zone files, and how its addresses are checked
/// (the same keys as `[exchange.health]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthBlockSection {
    pub name: Spanned<String>,
    /// The view whose RRset is checked (default: every view that has one).
    pub view: Option<Spanned<String>>,
    /// TTL the checked RRset is answered with (default 30).
    pub ttl: Option<Spanned<i64>>,
    pub kind: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub path: Option<Spanned<String>>,
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
    pub fall: Option<Spanned<i64>>,
    pub rise: Option<Spanned<i64>>,
    pub ca: Option<Spanned<String>>,
    pub certificate_check: Option<bool>,
    pub expiry_warning_days: Option<Spanned<i64>>,
    pub all_down: Option<Spanned<String>>,
}

impl HealthBlockSection {
    /// The check keys, as in an `[exchange.health]` table.
    pub fn check(&self) -> HealthSection {
        HealthSection {
            kind: self.kind.clone(),
            port: self.port.clone(),
            path: self.path.clone(),
            interval: self.interval.clone(),
            timeout: self.timeout.clone(),
            fall: self.fall.clone(),
            rise: self.rise.clone(),
            ca: self.ca.clone(),
            certificate_check: self.certificate_check,
            expiry_warning_days: self.expiry_warning_days.clone(),
            all_down: self.all_down.clone(),
        }
    }
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
