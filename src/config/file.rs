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
    /// Where served serials are kept across restarts (the systemd unit's StateDirectory).
    pub state_dir: Option<Spanned<String>>,
    /// IXFR: how many earlier versions of each view's zone are kept in memory (default 10).
    pub ixfr_versions: Option<Spanned<i64>>,
    /// TSIG keys, named by views (`keys`, `transfer.keys`).
    #[serde(default, rename = "key")]
    pub keys: Vec<KeySection>,
    #[serde(default, rename = "view")]
    pub views: Vec<ViewSection>,
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneSection>,
    #[serde(default, rename = "exchange")]
    pub exchange: Vec<ExchangeSection>,
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
    /// TSIG keys that select this view: a request signed with one gets this view whatever its
    /// source address.
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
    /// Who may transfer this view's zones (AXFR, IXFR). Default: nobody.
    pub transfer: Option<TransferSection>,
    /// Secondaries (`IP:PORT`) sent a NOTIFY when one of this view's zones changes.
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
}

/// A TSIG key: a name, an algorithm and a base64 secret, written here or in a `tsig-keygen`
/// file (`key "name" { algorithm hmac-sha256; secret "..."; };`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    /// Required with `secret`; with `secret_file`, picks a key from the file (default: its only
    /// key).
    pub name: Option<Spanned<String>>,
    /// "hmac-sha256" (default), "hmac-sha384" or "hmac-sha512"; with `secret_file`, the file's.
    pub algorithm: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    /// A key file as `tsig-keygen` writes it, so that the secret stays out of this file.
    pub secret_file: Option<Spanned<String>>,
}

/// Who may transfer: source prefixes, and keys (a request signed with one). Either suffices.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSection {
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
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
    /// Per-view transfer ACLs for this zone, where they differ from the view's `transfer`.
    #[serde(default)]
    pub transfer: BTreeMap<Spanned<String>, TransferSection>,
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
