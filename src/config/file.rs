//! The on-disk config format, exactly as written: strict and spanned, so that every later
//! validation error can point at the file line it came from. Nothing here is used at runtime;
//! `super::validate` turns it into [`super::Config`].
//!
//! Strict without `#[serde(deny_unknown_fields)]`, which stops at the first unknown key: the
//! loader collects every key serde ignores (`serde_ignored`) and refuses the file for each,
//! naming the [`section`] it is in and the keys that section takes.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
pub(super) struct ConfigFile {
    /// Limits for DNS over TCP.
    pub tcp: Option<TcpSection>,
    /// Addresses to serve on, UDP and TCP on each.
    #[serde(default)]
    pub listen: Vec<Spanned<String>>,
    /// Receive loops per listen address, each with its own UDP socket and TCP listener
    /// (default: one per core).
    pub listen_loops: Option<Spanned<i64>>,
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
    /// Check findings the admin has looked at and accepted, each with the reason.
    #[serde(default, rename = "acknowledge")]
    pub acknowledgements: Vec<AcknowledgeSection>,
    /// Refuse a start or reload when any zone's files do not load or a check finds an error
    /// (default false: such a zone, or that view's copy of it, keeps its previous data, or is
    /// not served, and the other zones are).
    #[serde(default)]
    pub all_or_nothing: bool,
    /// The control listener (metrics, status, reload); off when absent.
    pub control: Option<ControlSection>,
    /// A JSON-lines log of queries; off when absent.
    pub query_log: Option<QueryLogSection>,
    /// Health checks for A/AAAA RRsets written in zone files.
    #[serde(default, rename = "health")]
    pub health: Vec<HealthBlockSection>,
    /// How signed zones are signed (`[[dnssec_policy]]`), named by a zone's `dnssec`; one named
    /// "default" replaces the built-in default.
    #[serde(default, rename = "dnssec_policy")]
    pub dnssec_policies: Vec<DnssecPolicySection>,
    /// DANE checks: signed views' TLSA records compared with what their servers present; off
    /// when absent.
    pub dane: Option<DaneSection>,
    /// DNS over TLS and DNS over HTTPS; off when absent.
    pub tls: Option<TlsSection>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TlsSection {
    /// PEM certificate chain, the server's certificate first (relative to the config's folder).
    pub certificate: Spanned<String>,
    /// PEM private key of that certificate.
    pub key: Spanned<String>,
    /// The host name clients are configured with; `check` warns when the certificate does not
    /// cover it.
    pub name: Option<Spanned<String>>,
    /// DNS over TLS addresses, "IP" (port 853) or "IP:PORT" (default: each `listen` IP on 853;
    /// `[]`: none).
    pub dot_listen: Option<Vec<Spanned<String>>>,
    /// DNS over HTTPS addresses, "IP" (port 443) or "IP:PORT" (default: each `listen` IP on 443;
    /// `[]`: none).
    pub doh_listen: Option<Vec<Spanned<String>>>,
    /// The DoH path (default "/dns-query").
    pub doh_path: Option<Spanned<String>>,
    /// Reverse proxies (prefixes) whose `Forwarded`/`X-Forwarded-For` header names the client.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    /// Seconds a TLS handshake may take (default 5).
    pub handshake_timeout: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct DaneSection {
    /// The views whose TLSA records are compared, connecting to their hosts' addresses in that
    /// view (default: every view).
    pub views: Option<Vec<Spanned<String>>>,
    /// Seconds between checks of one address (default 60), and for one check (default 10).
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
    /// Ports where TLS starts with SMTP's STARTTLS (default 25 and 587).
    pub smtp_ports: Option<Vec<Spanned<i64>>>,
}

/// A zone's `dnssec`: `true` (the default policy), `false`, or a policy's name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum DnssecChoice {
    On(bool),
    Policy(String),
}

#[derive(Debug, Deserialize)]
pub(super) struct DnssecPolicySection {
    pub name: Spanned<String>,
    /// "ecdsap256sha256" (13, the default) or "ed25519" (15).
    pub algorithm: Option<Spanned<String>>,
    /// "csk" (one combined key, the default) or "ksk+zsk".
    pub keys: Option<Spanned<String>>,
    /// "nsec" (the default) or "nsec3" (RFC 9276: no extra iterations, no salt, no opt-out).
    pub denial: Option<Spanned<String>>,
    /// Seconds a new signature is valid (default 14 days).
    pub signature_validity: Option<Spanned<f64>>,
    /// Seconds before expiry a signature is made anew (default 7 days).
    pub signature_refresh: Option<Spanned<f64>>,
    /// Seconds before signing that a signature's validity starts, for clocks behind ours
    /// (default 1 hour).
    pub inception_offset: Option<Spanned<f64>>,
    /// Seconds a KSK or CSK signs before its successor is rolled in (0, the default: never).
    pub key_lifetime: Option<Spanned<f64>>,
    /// Seconds a ZSK signs before its successor is rolled in (default 30 days; 0: never).
    pub zsk_lifetime: Option<Spanned<f64>>,
    /// The TTL of DNSKEY, CDS and CDNSKEY (default 1 hour).
    pub dnskey_ttl: Option<Spanned<f64>>,
    /// Seconds until a change reaches every secondary (default 5 minutes).
    pub propagation_delay: Option<Spanned<f64>>,
    /// The longest TTL in the zone, which cached signatures live for (default 1 day).
    pub max_zone_ttl: Option<Spanned<f64>>,
    /// The TTL of the DS at the parent (default 1 day).
    pub parent_ds_ttl: Option<Spanned<f64>>,
    /// Seconds until a change of the DS reaches every server of the parent (default 1 hour).
    pub parent_propagation_delay: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct QueryLogSection {
    /// The file lines are appended to (relative to the config's directory).
    pub path: Spanned<String>,
    /// Log one query in this many (default 1: every query).
    pub sample: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ControlSection {
    /// HTTP address for `/metrics`, `/status` and `POST /reload`, e.g. "127.0.0.1:9153".
    pub listen: Spanned<String>,
    /// Accept a non-loopback `listen` (anyone who reaches it can read the status and reload).
    #[serde(default)]
    pub allow_remote: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct ViewSection {
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
    /// Answer every name: names outside this view's zones are forwarded (default false:
    /// REFUSED).
    pub recursion: Option<Spanned<bool>>,
    /// Allow `recursion = true` on a view that faces the public: an open resolver, which
    /// anyone can use for amplification. Default false: such a config is refused.
    #[serde(default)]
    pub open_resolver: bool,
    /// Upstream recursive resolvers, tried in order: "192.0.2.53", "198.51.100.53:5353",
    /// "[2001:db8::53]:53" (port 53 when none is given).
    #[serde(default)]
    pub forwarders: Vec<Spanned<String>>,
    /// Conditional forwarders (`[[view.forward]]`).
    #[serde(default)]
    pub forward: Vec<ForwardSection>,
    /// Tuning for the resolver of a recursive view.
    pub resolver: Option<ResolverSection>,
    /// The `[[exchange.site]]` names this view's clients prefer, best first: the view gets the
    /// namespace with the healthy addresses of the first site that has any.
    pub site_order: Option<Vec<Spanned<String>>>,
    /// TSIG keys that select this view: a request signed with one gets this view whatever its
    /// source address.
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
    /// Who may transfer this view's zones (AXFR, IXFR). Default: nobody.
    pub transfer: Option<TransferSection>,
    /// Secondaries (`IP:PORT`) sent a NOTIFY when one of this view's zones changes.
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
    /// Serve the zones that are signed signed (default true); false: this view serves them
    /// unsigned.
    pub dnssec: Option<Spanned<bool>>,
    /// The address NOTIFYs to secondaries of its family leave from (BIND's `notify-source`).
    pub notify_source: Option<Spanned<String>>,
}

/// A TSIG key: a name, an algorithm and a base64 secret, written here or in a `tsig-keygen`
/// file (`key "name" { algorithm hmac-sha256; secret "..."; };`).
#[derive(Debug, Deserialize)]
pub(super) struct KeySection {
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
pub(super) struct TransferSection {
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
}

/// Names at and below `zone` are forwarded to `to` (e.g. the AD domain to its DCs).
#[derive(Debug, Deserialize)]
pub(super) struct ForwardSection {
    pub zone: Spanned<String>,
    pub to: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ResolverSection {
    /// Seconds one try at one upstream may take before the next is tried. Default 1.5.
    pub timeout: Option<Spanned<f64>>,
    /// Longest time an answer is cached, in seconds. Default 86400.
    pub max_ttl: Option<Spanned<i64>>,
    /// Longest time an NXDOMAIN or NODATA answer is cached, in seconds. Default 3600.
    pub max_negative_ttl: Option<Spanned<i64>>,
    /// Seconds a failed resolution is remembered (RFC 9520). Default 5.
    pub failure_ttl: Option<Spanned<i64>>,
    /// Seconds past its TTL an answer may be served when no upstream answers (RFC 8767); 0
    /// turns serve-stale off. Default 86400.
    pub serve_stale: Option<Spanned<i64>>,
    /// Cache size cap in MiB. Default 64.
    pub cache_size_mib: Option<Spanned<i64>>,
    /// Forwarded queries in progress at once; beyond, SERVFAIL. Default 1000.
    pub max_outstanding: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RrlSection {
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
pub(super) struct ZoneSection {
    pub origin: Spanned<String>,
    /// The records every view shares.
    pub file: Spanned<String>,
    /// Per-view override files: view name → file whose RRsets replace the shared ones. The
    /// name is a plain string (serde_ignored cannot follow a spanned key); where it is written
    /// is looked up in the parsed document when it is needed.
    #[serde(default)]
    pub views: BTreeMap<String, Spanned<String>>,
    /// Per-view transfer ACLs for this zone, where they differ from the view's `transfer`
    /// (view name → ACL; plain-string keys, as for `views`).
    #[serde(default)]
    pub transfer: BTreeMap<String, TransferSection>,
    /// Sign the zone: `true` (the default policy) or the name of a `[[dnssec_policy]]`.
    pub dnssec: Option<Spanned<DnssecChoice>>,
    /// Servers of the parent zone (IP:PORT) asked for the zone's DS during a KSK or CSK
    /// rollover: once all serve the new DS, the old key retires by itself.
    #[serde(default)]
    pub parent_agents: Vec<Spanned<String>>,
}

/// An Exchange namespace described in a few lines; the records it implies are generated.
#[derive(Debug, Deserialize)]
pub(super) struct ExchangeSection {
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
pub(super) struct SiteSection {
    pub name: Spanned<String>,
    pub internal: Vec<Spanned<String>>,
}

/// How addresses are checked. Every key has a default.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HealthSection {
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
pub(super) struct HealthBlockSection {
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
    pub(super) fn check(&self) -> HealthSection {
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

/// One `[[acknowledge]]` block: a check finding about one name that the admin has looked at
/// and accepts, with the reason written next to it.
#[derive(Debug, Deserialize)]
pub(super) struct AcknowledgeSection {
    /// The check's id, as `check` prints it, e.g. "apex-address-probed-by-outlook".
    pub finding: Spanned<String>,
    /// The name (owner) the finding is about, e.g. "contoso.example".
    pub name: Spanned<String>,
    /// Why the finding is acceptable here, for whoever reads the config next. Required: optional
    /// only so that its absence gets a message saying so, located at the block.
    pub comment: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TcpSection {
    /// Connections open at once (TCP, DoT and DoH together).
    pub max_connections: Option<Spanned<i64>>,
    /// Connections one client address (IPv4 address, IPv6 /64) may hold at once.
    pub max_connections_per_source: Option<Spanned<i64>>,
    /// Seconds a connection may stay idle between queries.
    pub idle_timeout: Option<Spanned<f64>>,
    /// Seconds one query may take to arrive once it has started.
    pub message_timeout: Option<Spanned<f64>>,
}

/// The section an unknown key was found in, from the keys leading to it (array indexes left
/// out): how an admin writes its header, and the keys it takes. `None` for a path that is no
/// section of ours (not reached: only struct fields can be ignored).
pub(super) fn section(path: &[&str]) -> Option<(&'static str, &'static [&'static str])> {
    Some(match path {
        [] => ("at the top level", keys_of::<ConfigFile>()),
        ["tcp"] => ("in [tcp]", keys_of::<TcpSection>()),
        ["view"] => ("in [[view]]", keys_of::<ViewSection>()),
        ["view", "rrl"] => ("in [view.rrl]", keys_of::<RrlSection>()),
        ["view", "forward"] => ("in [[view.forward]]", keys_of::<ForwardSection>()),
        ["view", "resolver"] => ("in [view.resolver]", keys_of::<ResolverSection>()),
        ["zone"] => ("in [[zone]]", keys_of::<ZoneSection>()),
        ["exchange"] => ("in [[exchange]]", keys_of::<ExchangeSection>()),
        ["exchange", "health"] => ("in [exchange.health]", keys_of::<HealthSection>()),
        ["exchange", "site"] => ("in [[exchange.site]]", keys_of::<SiteSection>()),
        ["health"] => ("in [[health]]", keys_of::<HealthBlockSection>()),
        ["acknowledge"] => ("in [[acknowledge]]", keys_of::<AcknowledgeSection>()),
        ["control"] => ("in [control]", keys_of::<ControlSection>()),
        ["query_log"] => ("in [query_log]", keys_of::<QueryLogSection>()),
        ["key"] => ("in [[key]]", keys_of::<KeySection>()),
        ["view", "transfer"] => ("in [view.transfer]", keys_of::<TransferSection>()),
        ["zone", "transfer", _] => ("in [zone.transfer]", keys_of::<TransferSection>()),
        ["dnssec_policy"] => ("in [[dnssec_policy]]", keys_of::<DnssecPolicySection>()),
        ["dane"] => ("in [dane]", keys_of::<DaneSection>()),
        ["tls"] => ("in [tls]", keys_of::<TlsSection>()),
        _ => return None,
    })
}

/// The keys a section type accepts, renames applied, asked of the type itself (serde's derive
/// hands them to `deserialize_struct`), so that "expected one of" cannot drift from the struct.
fn keys_of<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(KeyProbe) {
        Err(KeysOf(keys)) => keys,
        Ok(_) => &[],
    }
}

/// A deserializer that only answers `deserialize_struct`, with the struct's keys as its error.
struct KeyProbe;

#[derive(Debug)]
struct KeysOf(&'static [&'static str]);

impl std::fmt::Display for KeysOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "keys {:?}", self.0)
    }
}

impl std::error::Error for KeysOf {}

impl serde::de::Error for KeysOf {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        KeysOf(&[])
    }
}

impl<'de> serde::Deserializer<'de> for KeyProbe {
    type Error = KeysOf;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, KeysOf> {
        Err(KeysOf(&[]))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, KeysOf> {
        Err(KeysOf(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::section;

    /// Every table the file format has is a section that unknown keys can be reported in, with
    /// the keys it takes (a new section without an entry would lose "expected one of").
    #[test]
    fn every_table_of_the_format_names_its_keys() {
        const VALUES: &[&str] = &[
            "listen",
            "listen_loops",
            "serial_policy",
            "all_or_nothing",
            "state_dir",
            "ixfr_versions",
        ];
        let (_, top) = section(&[]).unwrap();
        for key in top.iter().filter(|k| !VALUES.contains(k)) {
            let (place, keys) =
                section(&[key]).unwrap_or_else(|| panic!("no section entry for {key}"));
            assert!(
                place.contains(key) && !keys.is_empty(),
                "{key}: {place} {keys:?}"
            );
        }
        for nested in ["rrl", "forward", "resolver"] {
            assert!(section(&["view", nested]).is_some(), "[view.{nested}]");
        }
        for nested in ["health", "site"] {
            assert!(
                section(&["exchange", nested]).is_some(),
                "[exchange.{nested}]"
            );
        }
    }
}
