//! Configuration: reads the strict TOML file format ([`file`]) and validates it into the runtime
//! types below. Relative paths resolve against the config file's directory. Every error carries
//! `file:line:column` so that `check` and start-up report the same, precise message.

mod file;
mod keyfile;

use std::net::{IpAddr, SocketAddr};
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::dns::name::Name;
use crate::health::{self, AllDown, Check, Kind, Probe};
use crate::limits::{RrlPolicy, TcpLimits};
use crate::located::Located;
use crate::resolve::Settings as ResolverSettings;
use crate::view::TransferAcl;
use crate::wire::tsig::{self, Algorithm};

/// The listen address used when the config names none.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5353";

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub listen: Vec<SocketAddr>,
    pub serial_policy: SerialPolicy,
    /// Earlier versions of each view's zone kept for IXFR.
    pub ixfr_versions: usize,
    /// Where the served serials are kept across restarts (resolved against the config's folder);
    /// without `state_dir`, the unit's StateDirectory when systemd runs us.
    pub state_dir: Option<PathBuf>,
    pub tcp: TcpLimits,
    /// TSIG keys, in config order (views name them by index).
    pub keys: Vec<KeyConfig>,
    pub views: Vec<ViewConfig>,
    pub zones: Vec<ZoneConfig>,
    pub exchange: Vec<ExchangeConfig>,
    /// Check findings accepted by the admin (`[[acknowledge]]`), in file order.
    pub acknowledgements: Vec<Acknowledgement>,
    /// Where the control listener (metrics, status, reload) listens, if on.
    pub control: Option<SocketAddr>,
    /// A zone that does not load refuses the whole start or reload.
    pub all_or_nothing: bool,
    /// The query log, if on.
    pub query_log: Option<QueryLogConfig>,
    /// `[[health]]` blocks: checks on RRsets written in zone files.
    pub health: Vec<HealthConfig>,
}

/// A validated `[query_log]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryLogConfig {
    /// Resolved against the config's directory.
    pub path: PathBuf,
    /// Log one query in `sample`.
    pub sample: u32,
}

/// A validated `[[acknowledge]]` block: which finding about which name is accepted, and why.
/// Matching it against the checks' findings is the checks' business, not the config's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The check id, e.g. `apex-address-probed-by-outlook`.
    pub finding: String,
    /// The name the finding is about; lowercased.
    pub name: Name,
    /// Why it is acceptable; never blank.
    pub comment: String,
    /// Line of the block's `finding` key.
    pub line: u32,
}

/// What to do when a zone's content changes without an SOA serial increase (secondaries would
/// not notice the change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerialPolicy {
    /// Serve the new content and log a warning naming the zone and view.
    #[default]
    Warn,
    /// Serve the new content with the serial raised past the previous one.
    Bump,
}

#[derive(Debug, Clone)]
pub struct ViewConfig {
    pub name: String,
    pub clients: Vec<IpNet>,
    /// Faces the Internet: private addresses here are errors.
    pub public: bool,
    /// Answers the CHAOS-class identity queries.
    pub chaos: bool,
    /// Response Rate Limiting, if on for this view.
    pub rrl: Option<RrlPolicy>,
    /// Where names outside the view's zones go, when `recursion = true`.
    pub recursion: Option<RecursionConfig>,
    /// Indexes into [`Config::keys`]: a request signed with one of them gets this view.
    pub keys: Vec<usize>,
    /// Who may transfer this view's zones.
    pub transfer: TransferAcl,
    /// Secondaries sent a NOTIFY when one of this view's zones changes.
    pub notify: Vec<SocketAddr>,
    /// The address NOTIFYs of its family leave from; otherwise the one the system routes from.
    /// A secondary takes a NOTIFY only from its primary's address, which a server with several
    /// may not pick by itself.
    pub notify_source: Option<IpAddr>,
    /// Line of the view's `name` key, for findings about the view as a whole.
    pub line: u32,
    /// `[[exchange.site]]` names, preferred first.
    pub site_order: Vec<String>,
}

/// A recursive view's upstreams and resolver settings.
#[derive(Debug, Clone)]
pub struct RecursionConfig {
    /// Upstream recursive resolvers, in order.
    pub forwarders: Vec<SocketAddr>,
    /// Conditional forwarders: (lowercased zone, its servers in order).
    pub forward_zones: Vec<(Name, Vec<SocketAddr>)>,
    pub settings: ResolverSettings,
}

/// A validated TSIG key.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    pub key: Arc<tsig::Key>,
    /// Line of the `[[key]]` entry's first value, for findings about the key.
    pub line: u32,
}

/// Earlier versions of a zone kept for IXFR when the config says nothing.
pub const DEFAULT_IXFR_VERSIONS: i64 = 10;
const IXFR_VERSIONS: RangeInclusive<i64> = 0..=1000;

/// A validated `[[exchange]]` block.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// Lowercased.
    pub namespace: Name,
    pub internal: Vec<std::net::IpAddr>,
    pub external: Vec<std::net::IpAddr>,
    /// `autodiscover.<parent of namespace>`, when `autodiscover = true`.
    pub autodiscover: Option<Name>,
    /// Lowercased accepted domains that get an Autodiscover SRV record.
    pub srv_domains: Vec<Name>,
    /// Indexes into [`Config::views`] (`None` when the block has no addresses for that side
    /// and the view does not exist).
    pub internal_view: Option<usize>,
    pub external_view: Option<usize>,
    pub ttl: u32,
    /// Line of the block's `namespace` key: where generated records say they come from.
    pub line: u32,
    /// Health checks on the internal addresses, if on.
    pub health: Option<Check>,
    /// The internal addresses by site: the `[[exchange.site]]` entries, or one unnamed site
    /// holding `internal`.
    pub sites: Vec<Site>,
    /// The views that get the internal addresses (the internal view, and every view with a
    /// `site_order` naming one of this block's sites), each with the block's sites in that
    /// view's order of preference.
    pub inside: Vec<(usize, Vec<usize>)>,
}

#[derive(Debug, Clone)]
pub struct Site {
    /// Empty for the single-site form.
    pub name: String,
    pub internal: Vec<std::net::IpAddr>,
}

/// A validated `[[health]]` block.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Lowercased; also the server name the checks present.
    pub name: Name,
    /// The view checked (index into [`Config::views`]); `None`: every view with the RRset.
    pub view: Option<usize>,
    pub ttl: u32,
    pub check: Check,
    /// Line of the block's `name` key.
    pub line: u32,
}

/// TTL of records generated from `[[exchange]]` when the block gives none.
pub const DEFAULT_EXCHANGE_TTL: u32 = 300;
/// TTL of health-checked RRsets when their block gives none: short enough that a withdrawn
/// address leaves resolvers' caches within half a minute, long enough to keep DC caches useful.
pub const DEFAULT_CHECKED_TTL: u32 = 30;

/// Defaults of a health check: what a load balancer would use.
const HEALTH_PORT: i64 = 443;
const HEALTH_PATH: &str = "/owa/healthcheck.htm";
const HEALTH_INTERVAL: f64 = 5.0;
const HEALTH_TIMEOUT: f64 = 2.0;
const HEALTH_FALL: i64 = 3;
const HEALTH_RISE: i64 = 2;
const EXPIRY_WARNING_DAYS: i64 = 14;
const PORT: RangeInclusive<i64> = 1..=65535;
const FALL_RISE: RangeInclusive<i64> = 1..=100;
const EXPIRY_DAYS: RangeInclusive<i64> = 0..=3650;

/// The ranges integer settings must be in. TTLs as RFC 2181 §8 allows; at most a million
/// responses a second keeps the rate limiter's token count (thousandths) within 32 bits; slip as
/// BIND allows it.
const TTL: RangeInclusive<i64> = 0..=0x7fff_ffff;
const MAX_CONNECTIONS: RangeInclusive<i64> = 1..=1_000_000;
const RESPONSES_PER_SECOND: RangeInclusive<i64> = 1..=1_000_000;
const SLIP: RangeInclusive<i64> = 0..=10;
/// Resolver caps: up to a week of caching (RFC 8767 suggests stale data be kept 1 to 3 days),
/// failures up to RFC 9520's five minutes, a cache of up to 64 GiB.
const CACHE_TTL: RangeInclusive<i64> = 1..=604_800;
const FAILURE_TTL: RangeInclusive<i64> = 0..=300;
const SERVE_STALE: RangeInclusive<i64> = 0..=604_800;
const CACHE_SIZE_MIB: RangeInclusive<i64> = 1..=65_536;
const MAX_OUTSTANDING: RangeInclusive<i64> = 1..=1_000_000;
const SAMPLE: RangeInclusive<i64> = 1..=1_000_000;

#[derive(Debug, Clone)]
pub struct ZoneConfig {
    pub origin: Name,
    /// The shared file, already resolved against the config's directory.
    pub file: PathBuf,
    /// `(index into Config::views, override file)`, at most one per view.
    pub overrides: Vec<(usize, PathBuf)>,
    /// Line of the `origin` key, for errors about the zone as a whole.
    pub line: u32,
    /// Lines naming the shared file and each override file (same order as `overrides`), for
    /// errors about a file that cannot be read.
    pub file_line: u32,
    pub override_lines: Vec<u32>,
    /// `(index into Config::views, ACL)` where this zone's transfers differ from the view's.
    pub transfer: Vec<(usize, TransferAcl)>,
}

impl Config {
    /// Who may transfer `origin` from view `view`: the zone's own ACL for that view, or the
    /// view's.
    pub fn transfer_acl(&self, view: usize, origin: &Name) -> &TransferAcl {
        self.zones
            .iter()
            .find(|z| z.origin == *origin)
            .and_then(|z| z.transfer.iter().find(|(v, _)| *v == view))
            .map_or(&self.views[view].transfer, |(_, acl)| acl)
    }
}

/// Reads and validates a config file, returning every problem found.
pub fn load(path: &Path) -> Result<Config, Vec<Located>> {
    let bytes = std::fs::read(path)
        .map_err(|e| vec![whole_file(path, format!("cannot read config file: {e}"))])?;
    parse(text_of(&bytes, path)?, path)
}

/// An error about the file as a whole (line 0).
fn whole_file(path: &Path, message: String) -> Located {
    Located {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message,
    }
}

/// The config's bytes as text: a UTF-8 byte-order mark skipped, UTF-16 refused for the whole
/// file, and any other byte that is not UTF-8 (a Latin-1 "é" in a comment, say) located.
fn text_of<'b>(bytes: &'b [u8], path: &Path) -> Result<&'b str, Vec<Located>> {
    let bytes = crate::zonefile::edited_text(bytes).map_err(|m| vec![whole_file(path, m)])?;
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to here");
        let locate = Locator { text: valid, path };
        vec![locate.error(
            e.valid_up_to()..e.valid_up_to(),
            "this is not UTF-8 text: save the file as UTF-8".into(),
        )]
    })
}

/// Validates config text as if it had been read from `path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, Vec<Located>> {
    let locate = Locator { text, path };
    let toml_error = |e: toml::de::Error| {
        let span = e.span().unwrap_or(0..0);
        locate.error(span, e.message().trim_end().to_string())
    };
    // Parsed once as a spanned document: deserialized from a copy, and kept to locate the keys
    // serde ignores (its path to a key has no position).
    let document = DeTable::parse(text).map_err(|e| vec![toml_error(e)])?;
    let mut ignored: Vec<Vec<PathSegment>> = Vec::new();
    let raw: Result<file::ConfigFile, _> =
        serde_ignored::deserialize(toml::de::Deserializer::from(document.clone()), |key| {
            ignored.push(segments(&key))
        });
    // Unknown keys first: a misspelt key is usually why a required one is "missing".
    let mut errors: Vec<Located> = ignored
        .iter()
        .map(|key| unknown_key(key, document.get_ref(), &locate))
        .collect();
    errors.sort_by_key(|e| (e.line, e.column));
    match raw {
        Err(e) => {
            errors.push(toml_error(e));
            Err(errors)
        }
        Ok(raw) => match validate(raw, document.get_ref(), &locate) {
            Ok(config) if errors.is_empty() => Ok(config),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more);
                Err(errors)
            }
        },
    }
}

/// One step of the path serde_ignored reports: a key, or an index into an array of tables.
#[derive(Debug, Clone, PartialEq)]
enum PathSegment {
    Key(String),
    Index(usize),
}

/// The keys and indexes from the top of the document down to an ignored key (the wrappers
/// serde passes through, such as `Option`, are no place in the file).
fn segments(path: &serde_ignored::Path) -> Vec<PathSegment> {
    use serde_ignored::Path;
    let mut out = match path {
        Path::Root => return Vec::new(),
        Path::Seq { parent, .. }
        | Path::Map { parent, .. }
        | Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent),
    };
    match path {
        Path::Seq { index, .. } => out.push(PathSegment::Index(*index)),
        // A `Spanned<T>` table passes through a map of toml's own private keys: no place in
        // the file either.
        Path::Map { key, .. } if key.starts_with("$__serde_spanned_private") => {}
        Path::Map { key, .. } => out.push(PathSegment::Key(key.clone())),
        _ => {}
    }
    out
}

/// The error for one ignored key: at the key itself, naming its section and what it takes.
/// The wording starts as serde's own ("unknown field `x`"), which admins may already grep for.
fn unknown_key(path: &[PathSegment], document: &DeTable, locate: &Locator) -> Located {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            PathSegment::Key(k) => Some(k.as_str()),
            PathSegment::Index(_) => None,
        })
        .collect();
    let Some((key, parents)) = keys.split_last() else {
        return locate.error(0..0, "unknown field".into());
    };
    let mut message = format!("unknown field `{key}`");
    if let Some((place, expected)) = file::section(parents) {
        message.push_str(&format!(
            " {place} (expected one of: {})",
            expected.join(", ")
        ));
    }
    locate.error(key_span(document, path).unwrap_or(0..0), message)
}

/// Where the last key of `path` is written, following keys through tables and indexes through
/// arrays of tables.
fn key_span(document: &DeTable, path: &[PathSegment]) -> Option<Range<usize>> {
    let mut table = document;
    let mut rest = path;
    loop {
        let (PathSegment::Key(wanted), after) = rest.split_first()? else {
            return None;
        };
        let (key, value) = table.iter().find(|(k, _)| k.get_ref() == wanted)?;
        if after.is_empty() {
            return Some(key.span());
        }
        let mut value = value.get_ref();
        rest = after;
        while let Some((PathSegment::Index(i), more)) = rest.split_first() {
            let DeValue::Array(items) = value else {
                return None;
            };
            value = items.get(*i)?.get_ref();
            rest = more;
        }
        let DeValue::Table(inner) = value else {
            return None;
        };
        table = inner;
    }
}

struct Locator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Locator<'_> {
    /// Line and column (both from 1) where a span starts.
    fn position(&self, span: Range<usize>) -> (u32, u32) {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() as u32 + 1;
        let column = (start - before.rfind('\n').map_or(0, |i| i + 1)) as u32 + 1;
        (line, column)
    }

    fn error(&self, span: Range<usize>, message: String) -> Located {
        let (line, column) = self.position(span);
        Located {
            file: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }

    /// An integer setting: its value, or `default` when absent; out of `range`, an error naming
    /// the key and the range (and `default`, so validation goes on).
    fn integer(
        &self,
        value: Option<&Spanned<i64>>,
        key: &str,
        range: RangeInclusive<i64>,
        default: i64,
        errors: &mut Vec<Located>,
    ) -> i64 {
        match value {
            None => default,
            Some(v) if range.contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                errors.push(self.error(
                    v.span(),
                    format!(
                        "{key} = {} is out of range: use {} to {}",
                        v.get_ref(),
                        range.start(),
                        range.end()
                    ),
                ));
                default
            }
        }
    }

    fn line_of(&self, span: Range<usize>) -> u32 {
        self.position(span).0
    }

    fn resolve(&self, relative: &str) -> PathBuf {
        let dir = self.path.parent().unwrap_or_else(|| Path::new(""));
        dir.join(relative)
    }
}

/// Checks the file's values and resolves its references. `document` is the same file as
/// parsed, for the few keys whose type cannot carry a span.
fn validate(
    raw: file::ConfigFile,
    document: &DeTable,
    locate: &Locator,
) -> Result<Config, Vec<Located>> {
    let mut errors = Vec::new();

    let mut listen = Vec::new();
    for addr in &raw.listen {
        match addr.get_ref().parse::<SocketAddr>() {
            Ok(parsed) => listen.push(parsed),
            Err(_) => errors.push(locate.error(
                addr.span(),
                format!("bad listen address {:?}: expected IP:PORT, e.g. \"127.0.0.1:5353\" or \"[::1]:5353\"", addr.get_ref()),
            )),
        }
    }
    if raw.listen.is_empty() {
        listen.push(
            DEFAULT_LISTEN
                .parse()
                .expect("default listen address is valid"),
        );
    }

    let serial_policy = match raw
        .serial_policy
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        None | Some(("warn", _)) => SerialPolicy::Warn,
        Some(("bump", _)) => SerialPolicy::Bump,
        Some((other, span)) => {
            errors.push(locate.error(
                span,
                format!("bad serial_policy {other:?}: expected \"warn\" or \"bump\""),
            ));
            SerialPolicy::Warn
        }
    };
    let tcp = validate_tcp(raw.tcp.as_ref(), locate, &mut errors);
    let control = raw
        .control
        .as_ref()
        .and_then(|section| validate_control(section, locate, &mut errors));
    let query_log = raw.query_log.as_ref().map(|section| QueryLogConfig {
        path: locate.resolve(section.path.get_ref()),
        sample: locate.integer(
            section.sample.as_ref(),
            "[query_log] sample",
            SAMPLE,
            1,
            &mut errors,
        ) as u32,
    });
    let ixfr_versions = locate.integer(
        raw.ixfr_versions.as_ref(),
        "ixfr_versions",
        IXFR_VERSIONS,
        DEFAULT_IXFR_VERSIONS,
        &mut errors,
    ) as usize;
    let keys = validate_keys(&raw.keys, locate, &mut errors);
    let views = validate_views(&raw.views, &listen, &keys, locate, &mut errors);
    let zones = validate_zones(&raw.zones, &raw.views, document, &keys, locate, &mut errors);
    let exchange: Vec<ExchangeConfig> = raw
        .exchange
        .iter()
        .filter_map(|section| validate_exchange(section, &views, locate, &mut errors))
        .collect();
    let acknowledgements = validate_acknowledgements(&raw.acknowledgements, locate, &mut errors);
    // Every name a view's site_order lists must be a site of some [[exchange]] block.
    for section in &raw.views {
        for site in section.site_order.iter().flatten() {
            if !exchange
                .iter()
                .any(|block| block.sites.iter().any(|s| s.name == *site.get_ref()))
            {
                errors.push(locate.error(
                    site.span(),
                    format!(
                        "site_order names site {:?}, which no [[exchange.site]] defines",
                        site.get_ref()
                    ),
                ));
            }
        }
    }
    let health = raw
        .health
        .iter()
        .filter_map(|section| validate_health_block(section, &views, locate, &mut errors))
        .collect();

    if errors.is_empty() {
        Ok(Config {
            path: locate.path.to_path_buf(),
            listen,
            serial_policy,
            ixfr_versions,
            state_dir: raw
                .state_dir
                .as_ref()
                .map(|d| locate.resolve(d.get_ref()))
                .or_else(systemd_state_directory),
            tcp,
            keys,
            views,
            zones,
            exchange,
            acknowledgements,
            control,
            all_or_nothing: raw.all_or_nothing,
            query_log,
            health,
        })
    } else {
        Err(errors)
    }
}

/// The control listener's address: loopback unless the admin says otherwise, because whoever
/// reaches it can read the configuration and trigger reloads.
fn validate_control(
    section: &file::ControlSection,
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<SocketAddr> {
    let listen = &section.listen;
    match listen.get_ref().parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() || section.allow_remote => Some(addr),
        Ok(addr) => {
            errors.push(locate.error(
                listen.span(),
                format!(
                    "[control] listen = \"{addr}\" is not a loopback address: anyone who reaches it can read the status and trigger reloads; set allow_remote = true to accept that"
                ),
            ));
            None
        }
        Err(_) => {
            errors.push(locate.error(
                listen.span(),
                format!(
                    "bad [control] listen address {:?}: expected IP:PORT, e.g. \"127.0.0.1:9153\"",
                    listen.get_ref()
                ),
            ));
            None
        }
    }
}

fn validate_views(
    raw: &[file::ViewSection],
    listen: &[SocketAddr],
    keys: &[KeyConfig],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Vec<ViewConfig> {
    // Which view each key selects, so that a key listed by two views can name both.
    let mut selecting: std::collections::HashMap<usize, String> = Default::default();
    if raw.is_empty() {
        errors.push(locate.error(
            0..0,
            "no [[view]] defined: at least one view is needed".into(),
        ));
    }
    let mut views: Vec<ViewConfig> = Vec::new();
    // Where each prefix was first claimed, so a duplicate can name both places.
    let mut claimed: std::collections::HashMap<IpNet, (String, u32)> = Default::default();
    for section in raw {
        let name = section.name.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errors.push(locate.error(
                section.name.span(),
                format!("bad view name {name:?}: use letters, digits, '-' and '_'"),
            ));
        }
        if views.iter().any(|v| &v.name == name) {
            errors.push(locate.error(
                section.name.span(),
                format!("view {name:?} is defined twice"),
            ));
        }
        let mut clients = Vec::new();
        for prefix in &section.clients {
            let text = prefix.get_ref();
            match parse_prefix(text) {
                Ok(net) => {
                    let line = locate.line_of(prefix.span());
                    if let Some((other, other_line)) = claimed.get(&net) {
                        errors.push(locate.error(
                            prefix.span(),
                            format!(
                                "prefix {net} is listed in view {other:?} (line {other_line}) and again in view {name:?}: each prefix may select only one view"
                            ),
                        ));
                    } else {
                        claimed.insert(net, (name.clone(), line));
                    }
                    clients.push(net);
                }
                Err(message) => errors.push(locate.error(prefix.span(), message)),
            }
        }
        let public = section.public.unwrap_or(name == "external");
        let rrl = validate_rrl(section.rrl.as_ref(), &clients, locate, errors);
        let recursion = validate_recursion(section, public, &clients, listen, locate, errors);
        let view_keys = key_indexes(&section.keys, keys, "keys", locate, errors);
        for (index, spanned) in view_keys.iter().zip(&section.keys) {
            if let Some(other) = selecting.insert(*index, name.clone()) {
                errors.push(locate.error(
                    spanned.span(),
                    format!(
                        "key {:?} already selects view {other:?}: a key may select only one view",
                        spanned.get_ref()
                    ),
                ));
            }
        }
        let transfer = section
            .transfer
            .as_ref()
            .map(|t| validate_transfer(t, keys, locate, errors))
            .unwrap_or_default();
        let notify = section
            .notify
            .iter()
            .filter_map(|addr| match addr.get_ref().parse::<SocketAddr>() {
                Ok(parsed) => Some(parsed),
                Err(_) => {
                    errors.push(locate.error(
                        addr.span(),
                        format!(
                            "bad notify address {:?}: expected IP:PORT, e.g. \"192.0.2.53:53\"",
                            addr.get_ref()
                        ),
                    ));
                    None
                }
            })
            .collect();
        let notify_source = section.notify_source.as_ref().and_then(|source| {
            match source.get_ref().parse::<IpAddr>() {
                Ok(parsed) => Some(parsed),
                Err(_) => {
                    errors.push(locate.error(
                        source.span(),
                        format!(
                            "bad notify_source {:?}: expected one of this server's IP addresses, e.g. \"10.0.0.53\"",
                            source.get_ref()
                        ),
                    ));
                    None
                }
            }
        });
        views.push(ViewConfig {
            name: name.clone(),
            clients,
            public,
            chaos: section.chaos,
            rrl,
            recursion,
            keys: view_keys,
            transfer,
            notify,
            notify_source,
            line: locate.line_of(section.name.span()),
            site_order: section
                .site_order
                .iter()
                .flatten()
                .map(|s| s.get_ref().clone())
                .collect(),
        });
    }
    views
}

/// A view's `recursion`, `forwarders`, `[[view.forward]]` and `[view.resolver]`. A view that
/// faces the public may not recurse unless `open_resolver = true` says the admin means it; an
/// upstream that is one of our own listen addresses would ask ourselves; a recursive view with
/// nowhere to forward could only fail.
fn validate_recursion(
    section: &file::ViewSection,
    public: bool,
    clients: &[IpNet],
    listen: &[SocketAddr],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<RecursionConfig> {
    let name = section.name.get_ref();
    let upstreams = |list: &[Spanned<String>], key: &str, errors: &mut Vec<Located>| {
        let mut parsed = Vec::new();
        for entry in list {
            match parse_upstream(entry.get_ref()) {
                Some(addr) if is_own_listen_address(addr, listen) => errors.push(locate.error(
                    entry.span(),
                    format!(
                        "{key} {:?} is one of this server's own listen addresses: it would forward to itself",
                        entry.get_ref()
                    ),
                )),
                Some(addr) => parsed.push(addr),
                None => errors.push(locate.error(
                    entry.span(),
                    format!(
                        "bad {key} address {:?}: expected an IP address with an optional port, e.g. \"192.0.2.53\", \"192.0.2.53:5353\" or \"[2001:db8::53]:53\"",
                        entry.get_ref()
                    ),
                )),
            }
        }
        parsed
    };
    let forwarders = upstreams(&section.forwarders, "forwarder", errors);
    let mut forward_zones: Vec<(Name, Vec<SocketAddr>)> = Vec::new();
    for zone in &section.forward {
        let to = upstreams(&zone.to, "[[view.forward]] server", errors);
        if zone.to.is_empty() {
            errors.push(locate.error(
                zone.zone.span(),
                format!(
                    "[[view.forward]] zone {:?} has no servers in `to`",
                    zone.zone.get_ref()
                ),
            ));
        }
        let Ok(origin) = Name::parse(
            zone.zone.get_ref().trim_end_matches('.'),
            Some(&Name::root()),
        ) else {
            errors.push(locate.error(
                zone.zone.span(),
                format!("bad [[view.forward]] zone {:?}", zone.zone.get_ref()),
            ));
            continue;
        };
        let origin = origin.to_lowercase();
        if forward_zones.iter().any(|(other, _)| *other == origin) {
            errors.push(locate.error(
                zone.zone.span(),
                format!("[[view.forward]] zone {origin} is listed twice in view {name:?}"),
            ));
        }
        forward_zones.push((origin, to));
    }
    let settings = validate_resolver(section.resolver.as_ref(), locate, errors);
    let recursion = section.recursion.as_ref();
    let enabled = recursion.is_some_and(|r| *r.get_ref());
    let first_key = section
        .forwarders
        .first()
        .map(|f| f.span())
        .or_else(|| section.forward.first().map(|f| f.zone.span()));
    if !enabled {
        if let Some(span) = first_key {
            errors.push(locate.error(
                span,
                format!("view {name:?} lists forwarders but has no `recursion = true`: they would never be asked"),
            ));
        }
        return None;
    }
    let span = recursion.expect("enabled").span();
    let faces_public = public
        || clients
            .iter()
            .any(crate::address_space::covers_public_space);
    if faces_public && !section.open_resolver {
        errors.push(locate.error(
            span.clone(),
            format!(
                "view {name:?} faces the public (public = true, or clients beyond private address space) and would recurse for anyone: an open resolver. Turn recursion off here, or set open_resolver = true if that is really meant"
            ),
        ));
    }
    if section.forwarders.is_empty() && section.forward.is_empty() {
        errors.push(locate.error(
            span,
            format!(
                "view {name:?} has recursion = true but no forwarders and no [[view.forward]]: set forwarders = [\"ADDRESS\", …]"
            ),
        ));
    }
    Some(RecursionConfig {
        forwarders,
        forward_zones,
        settings,
    })
}

/// An upstream address: `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53` or `[2001:db8::53]:5353`.
fn parse_upstream(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>()
        .ok()
        .or_else(|| Some(SocketAddr::new(text.parse().ok()?, 53)))
}

/// Whether queries to `addr` would reach this server: one of the listen addresses, or a
/// loopback address on the port of a wildcard listener.
fn is_own_listen_address(addr: SocketAddr, listen: &[SocketAddr]) -> bool {
    listen.iter().any(|own| {
        *own == addr
            || (own.ip().is_unspecified()
                && own.port() == addr.port()
                && (addr.ip().is_loopback() || addr.ip().is_unspecified()))
    })
}

fn validate_resolver(
    raw: Option<&file::ResolverSection>,
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> ResolverSettings {
    let defaults = ResolverSettings::default();
    let Some(raw) = raw else { return defaults };
    let timeout = match raw.timeout.as_ref() {
        None => defaults.timeout,
        Some(s) if *s.get_ref() >= 0.05 && *s.get_ref() <= 30.0 => {
            Duration::from_secs_f64(*s.get_ref())
        }
        Some(s) => {
            errors.push(locate.error(
                s.span(),
                format!(
                    "[view.resolver] timeout = {} is out of range: use seconds from 0.05 to 30",
                    s.get_ref()
                ),
            ));
            defaults.timeout
        }
    };
    let seconds = |value: Option<Duration>| value.map_or(0, |d| d.as_secs() as i64);
    let serve_stale = locate.integer(
        raw.serve_stale.as_ref(),
        "[view.resolver] serve_stale",
        SERVE_STALE,
        seconds(defaults.serve_stale),
        errors,
    );
    ResolverSettings {
        timeout,
        max_ttl: locate.integer(
            raw.max_ttl.as_ref(),
            "[view.resolver] max_ttl",
            CACHE_TTL,
            defaults.max_ttl.into(),
            errors,
        ) as u32,
        max_negative_ttl: locate.integer(
            raw.max_negative_ttl.as_ref(),
            "[view.resolver] max_negative_ttl",
            CACHE_TTL,
            defaults.max_negative_ttl.into(),
            errors,
        ) as u32,
        failure_ttl: locate.integer(
            raw.failure_ttl.as_ref(),
            "[view.resolver] failure_ttl",
            FAILURE_TTL,
            defaults.failure_ttl.into(),
            errors,
        ) as u32,
        serve_stale: (serve_stale > 0).then(|| Duration::from_secs(serve_stale as u64)),
        cache_bytes: (locate.integer(
            raw.cache_size_mib.as_ref(),
            "[view.resolver] cache_size_mib",
            CACHE_SIZE_MIB,
            (defaults.cache_bytes >> 20) as i64,
            errors,
        ) as usize)
            << 20,
        max_outstanding: locate.integer(
            raw.max_outstanding.as_ref(),
            "[view.resolver] max_outstanding",
            MAX_OUTSTANDING,
            defaults.max_outstanding as i64,
            errors,
        ) as usize,
    }
}

/// A `transfer = { allow, keys }` table.
fn validate_transfer(
    raw: &file::TransferSection,
    keys: &[KeyConfig],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> TransferAcl {
    TransferAcl {
        allow: raw
            .allow
            .iter()
            .filter_map(|p| {
                parse_prefix(p.get_ref())
                    .map_err(|m| errors.push(locate.error(p.span(), m)))
                    .ok()
            })
            .collect(),
        keys: key_indexes(&raw.keys, keys, "transfer.keys", locate, errors),
    }
}

/// The directory systemd made for the unit (`StateDirectory=`; the first, if it lists several):
/// where the served serials go when the config names no `state_dir`.
fn systemd_state_directory() -> Option<PathBuf> {
    let dirs = std::env::var_os("STATE_DIRECTORY")?;
    std::env::split_paths(&dirs)
        .next()
        .filter(|d| !d.as_os_str().is_empty())
}

/// The indexes of the keys a list names; a name no `[[key]]` defines is an error.
fn key_indexes(
    names: &[Spanned<String>],
    keys: &[KeyConfig],
    what: &str,
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Vec<usize> {
    names
        .iter()
        .filter_map(|name| {
            let wanted = name.get_ref().trim_end_matches('.');
            let found = keys
                .iter()
                .position(|k| k.key.name_text().eq_ignore_ascii_case(wanted));
            if found.is_none() {
                errors.push(locate.error(
                    name.span(),
                    format!(
                        "{what} names key {:?}, which no [[key]] defines",
                        name.get_ref()
                    ),
                ));
            }
            found
        })
        .collect()
}

/// Validates the `[[key]]` entries: a name, a known algorithm and a base64 secret, written here
/// or read from a key file (errors in it point into it).
fn validate_keys(
    raw: &[file::KeySection],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Vec<KeyConfig> {
    let mut keys: Vec<KeyConfig> = Vec::new();
    for section in raw {
        let first_span = section
            .name
            .as_ref()
            .map(|n| n.span())
            .or_else(|| section.secret_file.as_ref().map(|f| f.span()))
            .or_else(|| section.secret.as_ref().map(|s| s.span()))
            .unwrap_or(0..0);
        let line = locate.line_of(first_span.clone());
        let before = errors.len();
        // (name, algorithm, secret), each with where to point an error about it.
        let found: Option<FoundKey> = match (&section.secret, &section.secret_file) {
            (Some(_), Some(file)) => {
                errors.push(locate.error(
                    file.span(),
                    "a [[key]] has either `secret` or `secret_file`, not both".into(),
                ));
                None
            }
            (None, None) => {
                errors.push(locate.error(
                        first_span.clone(),
                        "a [[key]] needs `secret = \"base64\"` or `secret_file = \"file\"` (as tsig-keygen writes it)".into(),
                    ));
                None
            }
            (Some(secret), None) => match &section.name {
                None => {
                    errors.push(locate.error(
                        secret.span(),
                        "a [[key]] with `secret` needs a `name`".into(),
                    ));
                    None
                }
                Some(name) => Some((
                    name.get_ref().clone(),
                    locate.error(name.span(), String::new()),
                    section.algorithm.as_ref().map(|a| a.get_ref().clone()),
                    section.algorithm.as_ref().map_or_else(
                        || locate.error(name.span(), String::new()),
                        |a| locate.error(a.span(), String::new()),
                    ),
                    secret.get_ref().clone(),
                    locate.error(secret.span(), String::new()),
                )),
            },
            (None, Some(file)) => key_from_file(section, file, locate, errors),
        };
        let Some((name_text, name_at, algorithm, algorithm_at, secret, secret_at)) = found else {
            continue;
        };
        let at = |place: &Located, message: String| Located {
            message,
            ..place.clone()
        };
        let name = match Name::parse(name_text.trim_end_matches('.'), Some(&Name::root())) {
            Ok(name) if !name.is_root() => Some(name.to_lowercase()),
            _ => {
                errors.push(at(&name_at, format!("bad key name {name_text:?}")));
                None
            }
        };
        let algorithm = match algorithm.as_deref() {
            None => Some(Algorithm::HmacSha256),
            Some(text) => {
                let found = Algorithm::from_text(text);
                if found.is_none() {
                    errors.push(at(
                        &algorithm_at,
                        format!("unknown TSIG algorithm {text:?}: use \"hmac-sha256\", \"hmac-sha384\" or \"hmac-sha512\""),
                    ));
                }
                found
            }
        };
        let secret = match data_encoding::BASE64.decode(secret.trim().as_bytes()) {
            Ok(bytes) if !bytes.is_empty() => Some(bytes),
            Ok(_) => {
                errors.push(at(&secret_at, "the key's secret is empty".into()));
                None
            }
            Err(e) => {
                errors.push(at(
                    &secret_at,
                    format!("the key's secret is not valid base64 ({e}): use the secret tsig-keygen prints"),
                ));
                None
            }
        };
        if let (Some(name), Some(algorithm), Some(secret)) = (&name, algorithm, secret) {
            if keys.iter().any(|k| k.key.name == *name) {
                errors.push(at(&name_at, format!("key {name_text:?} is defined twice")));
            }
            if errors.len() == before {
                keys.push(KeyConfig {
                    key: Arc::new(tsig::Key::new(name, algorithm, &secret)),
                    line,
                });
            }
        }
    }
    keys
}

type FoundKey = (String, Located, Option<String>, Located, String, Located);

/// The key a `secret_file` holds: the one named by `name`, or the file's only key.
fn key_from_file(
    section: &file::KeySection,
    file: &Spanned<String>,
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<FoundKey> {
    let path = locate.resolve(file.get_ref());
    if let Some(algorithm) = &section.algorithm {
        errors.push(locate.error(
            algorithm.span(),
            "the algorithm comes from the secret_file: leave `algorithm` out".into(),
        ));
        return None;
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(locate.error(
                file.span(),
                format!("cannot read key file {}: {e}", path.display()),
            ));
            return None;
        }
    };
    let in_file = |line: u32, column: u32, message: String| Located {
        file: path.clone(),
        line,
        column,
        message,
    };
    let blocks = match keyfile::parse(&text) {
        Ok(blocks) => blocks,
        Err(e) => {
            errors.push(in_file(e.line, e.column, e.message));
            return None;
        }
    };
    let block = match &section.name {
        Some(name) => blocks.iter().find(|b| {
            b.name
                .text
                .trim_end_matches('.')
                .eq_ignore_ascii_case(name.get_ref().trim_end_matches('.'))
        }),
        None if blocks.len() == 1 => blocks.first(),
        None => None,
    };
    let Some(block) = block else {
        let message = match &section.name {
            Some(name) => format!("{} has no key {:?}", path.display(), name.get_ref()),
            None => format!(
                "{} holds {} keys: pick one with `name`",
                path.display(),
                blocks.len()
            ),
        };
        errors.push(locate.error(file.span(), message));
        return None;
    };
    let name_at = in_file(block.name.line, block.name.column, String::new());
    let Some(secret) = &block.secret else {
        errors.push(in_file(
            block.name.line,
            block.name.column,
            format!("key {:?} has no secret", block.name.text),
        ));
        return None;
    };
    let algorithm_at = block.algorithm.as_ref().map_or(name_at.clone(), |a| {
        in_file(a.line, a.column, String::new())
    });
    Some((
        block.name.text.clone(),
        name_at,
        block.algorithm.as_ref().map(|a| a.text.clone()),
        algorithm_at,
        secret.text.clone(),
        in_file(secret.line, secret.column, String::new()),
    ))
}

/// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a host prefix). Host bits must be
/// zero: `10.0.0.1/8` is almost always a typo, and silently truncating it would hide it.
fn parse_prefix(text: &str) -> Result<IpNet, String> {
    let net: IpNet = if text.contains('/') {
        text.parse()
            .map_err(|_| format!("bad client prefix {text:?}: expected CIDR like \"10.0.0.0/8\""))?
    } else {
        let addr: std::net::IpAddr = text.parse().map_err(|_| {
            format!("bad client prefix {text:?}: expected CIDR like \"10.0.0.0/8\"")
        })?;
        IpNet::from(addr)
    };
    if net.trunc() != net {
        return Err(format!(
            "client prefix {text:?} has host bits set: did you mean \"{}\"?",
            net.trunc()
        ));
    }
    Ok(net)
}

fn validate_zones(
    raw: &[file::ZoneSection],
    raw_views: &[file::ViewSection],
    document: &DeTable,
    keys: &[KeyConfig],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Vec<ZoneConfig> {
    let mut zones: Vec<ZoneConfig> = Vec::new();
    for (index, section) in raw.iter().enumerate() {
        let origin_text = section.origin.get_ref();
        let origin = match Name::parse(origin_text.trim_end_matches('.'), Some(&Name::root())) {
            Ok(origin) => origin,
            Err(e) => {
                errors.push(locate.error(section.origin.span(), format!("bad zone origin: {e}")));
                continue;
            }
        };
        let origin = origin.to_lowercase();
        if zones.iter().any(|z| z.origin == origin) {
            errors.push(locate.error(
                section.origin.span(),
                format!("zone {origin} is defined twice"),
            ));
        }
        let mut overrides = Vec::new();
        let mut override_lines = Vec::new();
        for (view, file) in &section.views {
            match raw_views.iter().position(|v| v.name.get_ref() == view) {
                Some(index) => {
                    overrides.push((index, locate.resolve(file.get_ref())));
                    override_lines.push(locate.line_of(file.span()));
                }
                None => {
                    let key = [
                        PathSegment::Key("zone".into()),
                        PathSegment::Index(index),
                        PathSegment::Key("views".into()),
                        PathSegment::Key(view.clone()),
                    ];
                    errors.push(locate.error(
                        key_span(document, &key).unwrap_or_else(|| file.span()),
                        format!(
                            "zone {origin} has an override for view {view:?}, which is not defined"
                        ),
                    ))
                }
            }
        }
        let mut transfer = Vec::new();
        for (view, acl) in &section.transfer {
            match raw_views.iter().position(|v| v.name.get_ref() == view) {
                Some(index) => transfer.push((index, validate_transfer(acl, keys, locate, errors))),
                None => {
                    let key = [
                        PathSegment::Key("zone".into()),
                        PathSegment::Index(index),
                        PathSegment::Key("transfer".into()),
                        PathSegment::Key(view.clone()),
                    ];
                    errors.push(locate.error(
                        key_span(document, &key).unwrap_or_else(|| section.origin.span()),
                        format!(
                            "zone {origin} has a transfer ACL for view {view:?}, which is not defined"
                        ),
                    ))
                }
            }
        }
        zones.push(ZoneConfig {
            transfer,
            origin,
            file: locate.resolve(section.file.get_ref()),
            overrides,
            line: locate.line_of(section.origin.span()),
            file_line: locate.line_of(section.file.span()),
            override_lines,
        });
    }
    zones
}

fn validate_tcp(
    raw: Option<&file::TcpSection>,
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> TcpLimits {
    let defaults = TcpLimits::default();
    let Some(raw) = raw else { return defaults };
    let seconds = |value: Option<&Spanned<f64>>,
                   key: &str,
                   default: Duration,
                   errors: &mut Vec<Located>| match value {
        None => default,
        Some(s) if *s.get_ref() > 0.0 && *s.get_ref() <= 3600.0 => {
            Duration::from_secs_f64(*s.get_ref())
        }
        Some(s) => {
            errors.push(locate.error(
                s.span(),
                format!(
                    "[tcp] {key} = {} is out of range: use seconds above 0 and up to 3600",
                    s.get_ref()
                ),
            ));
            default
        }
    };
    TcpLimits {
        max_connections: locate.integer(
            raw.max_connections.as_ref(),
            "[tcp] max_connections",
            MAX_CONNECTIONS,
            defaults.max_connections as i64,
            errors,
        ) as usize,
        idle_timeout: seconds(
            raw.idle_timeout.as_ref(),
            "idle_timeout",
            defaults.idle_timeout,
            errors,
        ),
        message_timeout: seconds(
            raw.message_timeout.as_ref(),
            "message_timeout",
            defaults.message_timeout,
            errors,
        ),
    }
}

fn validate_rrl(
    raw: Option<&file::RrlSection>,
    clients: &[IpNet],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<RrlPolicy> {
    let enabled = raw.and_then(|r| r.enabled).unwrap_or_else(|| {
        clients
            .iter()
            .any(crate::address_space::covers_public_space)
    });
    if !enabled {
        return None;
    }
    let exempt = match raw.and_then(|r| r.exempt.as_ref()) {
        Some(list) => list
            .iter()
            .filter_map(|p| {
                parse_prefix(p.get_ref())
                    .map_err(|m| errors.push(locate.error(p.span(), m)))
                    .ok()
            })
            .collect(),
        None => vec![
            "127.0.0.0/8".parse().expect("valid"),
            "::1/128".parse().expect("valid"),
        ],
    };
    Some(RrlPolicy {
        responses_per_second: locate.integer(
            raw.and_then(|r| r.responses_per_second.as_ref()),
            "[view.rrl] responses_per_second",
            RESPONSES_PER_SECOND,
            20,
            errors,
        ) as u32,
        slip: locate.integer(
            raw.and_then(|r| r.slip.as_ref()),
            "[view.rrl] slip",
            SLIP,
            2,
            errors,
        ) as u32,
        exempt,
    })
}

fn parse_domain(
    text: &Spanned<String>,
    what: &str,
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<Name> {
    match Name::parse(text.get_ref().trim_end_matches('.'), Some(&Name::root())) {
        Ok(name) if !name.is_root() => Some(name.to_lowercase()),
        Ok(_) => {
            errors.push(locate.error(text.span(), format!("bad {what}: the root is not allowed")));
            None
        }
        Err(e) => {
            errors.push(locate.error(text.span(), format!("bad {what} {:?}: {e}", text.get_ref())));
            None
        }
    }
}

fn validate_exchange(
    section: &file::ExchangeSection,
    views: &[ViewConfig],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<ExchangeConfig> {
    let before = errors.len();
    let namespace = parse_domain(&section.namespace, "namespace", locate, errors);
    let addresses =
        |list: &[Spanned<String>], errors: &mut Vec<Located>| -> Vec<std::net::IpAddr> {
            list.iter()
                .filter_map(|addr| match addr.get_ref().parse() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        errors.push(locate.error(
                            addr.span(),
                            format!(
                                "bad address {:?}: expected an IPv4 or IPv6 address",
                                addr.get_ref()
                            ),
                        ));
                        None
                    }
                })
                .collect()
        };
    let single_site = addresses(&section.internal, errors);
    let external = addresses(&section.external, errors);
    let mut sites: Vec<Site> = Vec::new();
    for site in &section.sites {
        if !section.internal.is_empty() {
            errors.push(locate.error(
                site.name.span(),
                "[[exchange.site]] and internal = [...] in one [[exchange]] block: list the addresses in the sites only".into(),
            ));
        }
        if sites.iter().any(|s| s.name == *site.name.get_ref()) || site.name.get_ref().is_empty() {
            errors.push(locate.error(
                site.name.span(),
                format!("site name {:?} is empty or used twice", site.name.get_ref()),
            ));
        }
        sites.push(Site {
            name: site.name.get_ref().clone(),
            internal: addresses(&site.internal, errors),
        });
    }
    if sites.is_empty() && !single_site.is_empty() {
        sites.push(Site {
            name: String::new(),
            internal: single_site,
        });
    }
    let internal: Vec<std::net::IpAddr> = sites
        .iter()
        .flat_map(|s| s.internal.iter().copied())
        .collect();
    let mut view_index = |key: &Option<Spanned<String>>,
                          default: &str,
                          needed: bool|
     -> Option<usize> {
        let (name, span) = match key {
            Some(name) => (name.get_ref().as_str(), name.span()),
            None => (default, section.namespace.span()),
        };
        let index = views.iter().position(|v| v.name == name);
        if index.is_none() && (needed || key.is_some()) {
            errors.push(locate.error(
                span,
                format!("[[exchange]] addresses go to view {name:?}, which is not defined (set internal_view / external_view)"),
            ));
        }
        index
    };
    let internal_view = view_index(&section.internal_view, "internal", !internal.is_empty());
    let external_view = view_index(&section.external_view, "external", !external.is_empty());
    let srv_domains: Vec<Name> = section
        .srv_domains
        .iter()
        .filter_map(|d| parse_domain(d, "srv_domains entry", locate, errors))
        .collect();
    let health = section
        .health
        .as_ref()
        .and_then(|h| validate_check(h.get_ref(), "[exchange.health]", locate, errors));
    if section.health.is_some() && internal.is_empty() {
        let span = section.health.as_ref().map_or(0..0, |h| h.span());
        errors.push(locate.error(
            span,
            "[exchange.health] checks the internal addresses, and this block has none".into(),
        ));
    }
    // The views that get the internal addresses, each with its order of this block's sites: the
    // sites its site_order names first, then the others as declared.
    let mut inside: Vec<(usize, Vec<usize>)> = Vec::new();
    for (index, view) in views.iter().enumerate() {
        let named: Vec<usize> = view
            .site_order
            .iter()
            .filter_map(|name| {
                sites
                    .iter()
                    .position(|s| !s.name.is_empty() && s.name == *name)
            })
            .collect();
        if Some(index) != internal_view && named.is_empty() || internal.is_empty() {
            continue;
        }
        let rest: Vec<usize> = (0..sites.len())
            .filter(|site| !named.contains(site))
            .collect();
        let mut order = named;
        order.extend(rest);
        inside.push((index, order));
    }
    if errors.len() > before {
        return None;
    }
    let namespace = namespace?;
    let autodiscover = match (section.autodiscover, namespace.parent()) {
        (false, _) => None,
        (true, Some(parent)) if !parent.is_root() => {
            Some(parent.prepend_label(b"autodiscover").ok()?)
        }
        (true, _) => {
            errors.push(locate.error(section.namespace.span(), "autodiscover = true needs a namespace below a domain (e.g. mail.contoso.example)".into()));
            return None;
        }
    };
    Some(ExchangeConfig {
        namespace,
        internal,
        external,
        autodiscover,
        srv_domains,
        internal_view,
        external_view,
        ttl: locate.integer(
            section.ttl.as_ref(),
            "[[exchange]] ttl",
            TTL,
            if health.is_some() {
                DEFAULT_CHECKED_TTL
            } else {
                DEFAULT_EXCHANGE_TTL
            }
            .into(),
            errors,
        ) as u32,
        line: locate.line_of(section.namespace.span()),
        health,
        sites,
        inside,
    })
}

fn validate_health_block(
    section: &file::HealthBlockSection,
    views: &[ViewConfig],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<HealthConfig> {
    let name = parse_domain(&section.name, "[[health]] name", locate, errors);
    let view = match &section.view {
        None => None,
        Some(view) => match views.iter().position(|v| v.name == *view.get_ref()) {
            Some(index) => Some(index),
            None => {
                errors.push(locate.error(
                    view.span(),
                    format!("[[health]] view {:?} is not defined", view.get_ref()),
                ));
                return None;
            }
        },
    };
    let ttl = locate.integer(
        section.ttl.as_ref(),
        "[[health]] ttl",
        TTL,
        DEFAULT_CHECKED_TTL.into(),
        errors,
    ) as u32;
    let check = validate_check(&section.check(), "[[health]]", locate, errors)?;
    Some(HealthConfig {
        name: name?,
        view,
        ttl,
        check,
        line: locate.line_of(section.name.span()),
    })
}

/// The check keys of `[exchange.health]` or `[[health]]` (`what`, for messages), with defaults.
fn validate_check(
    section: &file::HealthSection,
    what: &str,
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Option<Check> {
    let before = errors.len();
    let seconds =
        |value: &Option<Spanned<f64>>, key: &str, default: f64, errors: &mut Vec<Located>| {
            match value {
                None => Duration::from_secs_f64(default),
                Some(s) if *s.get_ref() > 0.0 && *s.get_ref() <= 3600.0 => {
                    Duration::from_secs_f64(*s.get_ref())
                }
                Some(s) => {
                    errors.push(locate.error(
                        s.span(),
                        format!(
                            "{what} {key} = {} is out of range: use seconds above 0 and up to 3600",
                            s.get_ref()
                        ),
                    ));
                    Duration::from_secs_f64(default)
                }
            }
        };
    let interval = seconds(&section.interval, "interval", HEALTH_INTERVAL, errors);
    let timeout = seconds(&section.timeout, "timeout", HEALTH_TIMEOUT, errors);
    if let Some(span) = section.timeout.as_ref().map(Spanned::span)
        && timeout > interval
    {
        errors.push(locate.error(
            span,
            format!(
                "{what} timeout ({timeout:?}) is longer than the interval ({interval:?}): one check would still run when the next is due"
            ),
        ));
    }
    let port = locate.integer(
        section.port.as_ref(),
        &format!("{what} port"),
        PORT,
        HEALTH_PORT,
        errors,
    );
    let fall = locate.integer(
        section.fall.as_ref(),
        &format!("{what} fall"),
        FALL_RISE,
        HEALTH_FALL,
        errors,
    );
    let rise = locate.integer(
        section.rise.as_ref(),
        &format!("{what} rise"),
        FALL_RISE,
        HEALTH_RISE,
        errors,
    );
    let expiry_warning_days = locate.integer(
        section.expiry_warning_days.as_ref(),
        &format!("{what} expiry_warning_days"),
        EXPIRY_DAYS,
        EXPIRY_WARNING_DAYS,
        errors,
    );
    let all_down = match section
        .all_down
        .as_ref()
        .map(|a| (a.get_ref().as_str(), a.span()))
    {
        None | Some(("all", _)) => AllDown::All,
        Some(("servfail", _)) => AllDown::ServFail,
        Some((other, span)) => {
            errors.push(locate.error(
                span,
                format!("{what} all_down = {other:?}: expected \"all\" (answer every address) or \"servfail\""),
            ));
            AllDown::All
        }
    };
    let ca = section.ca.as_ref().and_then(|ca| {
        let file = locate.resolve(ca.get_ref());
        let loaded = std::fs::read(&file)
            .map_err(|e| format!("cannot read CA file {}: {e}", file.display()))
            .and_then(|pem| {
                health::cert::parse_ca_pem(&pem)
                    .map_err(|e| format!("CA file {} does not parse: {e}", file.display()))
            });
        match loaded {
            Ok(certificates) => Some(health::Ca {
                file,
                certificates: certificates.into(),
            }),
            Err(message) => {
                errors.push(locate.error(ca.span(), format!("{what} ca: {message}")));
                None
            }
        }
    });
    let kind = match section
        .kind
        .as_ref()
        .map(|k| (k.get_ref().as_str(), k.span()))
    {
        None | Some(("https", _)) => Kind::Https(health::Https {
            path: section
                .path
                .as_ref()
                .map_or_else(|| HEALTH_PATH.to_string(), |p| p.get_ref().clone()),
            certificate_check: section.certificate_check.unwrap_or(true),
            ca,
            expiry_warning_days: expiry_warning_days as u32,
        }),
        Some(("tcp", _)) => {
            for (key, span) in [
                ("path", section.path.as_ref().map(Spanned::span)),
                ("ca", section.ca.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    errors.push(locate.error(
                        span,
                        format!("{what} {key} is for kind = \"https\"; a tcp check only connects"),
                    ));
                }
            }
            Kind::Tcp
        }
        Some((other, span)) => {
            errors.push(locate.error(
                span,
                format!(
                    "{what} kind = {other:?} is not a check kind: expected \"https\" or \"tcp\""
                ),
            ));
            return None;
        }
    };
    if let Some(path) = &section.path
        && (!path.get_ref().starts_with('/')
            || path
                .get_ref()
                .chars()
                .any(|c| c.is_whitespace() || c.is_control()))
    {
        errors.push(locate.error(
            path.span(),
            format!(
                "{what} path {:?} must start with / and hold no spaces",
                path.get_ref()
            ),
        ));
    }
    if errors.len() > before {
        return None;
    }
    Some(Check {
        probe: Probe {
            kind,
            port: port as u16,
            interval,
            timeout,
            fall: fall as u32,
            rise: rise as u32,
        },
        all_down,
    })
}

fn validate_acknowledgements(
    raw: &[file::AcknowledgeSection],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Vec<Acknowledgement> {
    let mut acknowledgements: Vec<Acknowledgement> = Vec::new();
    for section in raw {
        let before = errors.len();
        let finding = section.finding.get_ref();
        // Check ids are kebab-case words (`private-address-in-public-view`); anything else can
        // never match one, and would silently acknowledge nothing.
        if finding.is_empty()
            || !finding
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            errors.push(locate.error(
                section.finding.span(),
                format!("bad finding {finding:?}: use the check id as `check` prints it, e.g. \"apex-address-probed-by-outlook\""),
            ));
        }
        let name = parse_domain(&section.name, "acknowledged name", locate, errors);
        let comment = match &section.comment {
            None => {
                errors.push(locate.error(
                    section.finding.span(),
                    format!(
                        "[[acknowledge]] of {finding} for {} has no comment: say why it is acceptable (comment = \"...\")",
                        section.name.get_ref().trim_end_matches('.')
                    ),
                ));
                None
            }
            Some(comment) if comment.get_ref().trim().is_empty() => {
                errors.push(locate.error(
                    comment.span(),
                    "[[acknowledge]] comment is empty: say why the finding is acceptable".into(),
                ));
                None
            }
            Some(comment) => Some(comment.get_ref().trim().to_string()),
        };
        let (Some(name), Some(comment), true) = (name, comment, errors.len() == before) else {
            continue;
        };
        let line = locate.line_of(section.finding.span());
        if let Some(first) = acknowledgements
            .iter()
            .find(|a| a.finding == *finding && a.name == name)
        {
            errors.push(locate.error(
                section.finding.span(),
                format!(
                    "{finding} for {} is acknowledged twice (first at line {})",
                    section.name.get_ref().trim_end_matches('.'),
                    first.line
                ),
            ));
            continue;
        }
        acknowledgements.push(Acknowledgement {
            finding: finding.clone(),
            name,
            comment,
            line,
        });
    }
    acknowledgements
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"listen = ["127.0.0.1:5353"]          # UDP and TCP on each address

[[view]]
name = "internal"
clients = ["10.0.0.0/8", "192.168.0.0/16", "127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"                  # records every view shares
[zone.views]
internal = "contoso.example.internal.zone"     # this view's overrides
external = "contoso.example.external.zone"
"#;

    fn errors_of(text: &str) -> Vec<String> {
        parse(text, Path::new("/etc/splitdns/splitdns.toml"))
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn notify_source_is_an_address_located_when_bad() {
        let text = "[[view]]\nname = \"internal\"\nclients = [\"10.0.0.0/8\"]\n\
                    notify = [\"10.0.0.54:53\"]\nnotify_source = \"10.0.0.53:53\"\n";
        assert_eq!(
            errors_of(text),
            [
                "/etc/splitdns/splitdns.toml:5:17: bad notify_source \"10.0.0.53:53\": expected one of this server's IP addresses, e.g. \"10.0.0.53\""
            ]
        );
        let good = text.replace("10.0.0.53:53", "10.0.0.53");
        let config = parse(&good, Path::new("/etc/splitdns/splitdns.toml")).unwrap();
        assert_eq!(
            config.views[0].notify_source,
            Some("10.0.0.53".parse().unwrap())
        );
    }

    #[test]
    fn issue_example_loads_with_paths_relative_to_the_config() {
        let config = parse(EXAMPLE, Path::new("/etc/splitdns/splitdns.toml")).unwrap();
        assert_eq!(config.listen, vec!["127.0.0.1:5353".parse().unwrap()]);
        assert_eq!(config.views.len(), 2);
        assert_eq!(config.views[0].clients.len(), 3);
        let zone = &config.zones[0];
        assert_eq!(zone.origin.to_string(), "contoso.example.");
        assert_eq!(zone.file, Path::new("/etc/splitdns/contoso.example.zone"));
        assert_eq!(
            zone.overrides,
            vec![
                (
                    1,
                    PathBuf::from("/etc/splitdns/contoso.example.external.zone")
                ),
                (
                    0,
                    PathBuf::from("/etc/splitdns/contoso.example.internal.zone")
                ),
            ]
        );
    }

    #[test]
    fn control_listener_is_loopback_unless_allowed() {
        let config = parse(
            &format!("{EXAMPLE}\n[control]\nlisten = \"127.0.0.1:9153\"\n"),
            Path::new("/etc/splitdns/splitdns.toml"),
        )
        .unwrap();
        assert_eq!(config.control, Some("127.0.0.1:9153".parse().unwrap()));
        let errors = errors_of(&format!(
            "{EXAMPLE}\n[control]\nlisten = \"0.0.0.0:9153\"\n"
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("/etc/splitdns/splitdns.toml:19:10: [control] listen = \"0.0.0.0:9153\" is not a loopback address"),
            "{errors:?}"
        );
        let config = parse(
            &format!("{EXAMPLE}\n[control]\nlisten = \"0.0.0.0:9153\"\nallow_remote = true\n"),
            Path::new("/etc/splitdns/splitdns.toml"),
        )
        .unwrap();
        assert_eq!(config.control, Some("0.0.0.0:9153".parse().unwrap()));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = EXAMPLE.replace("name = \"external\"", "name = \"external\"\nclient = []");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("/etc/splitdns/splitdns.toml:9:1: unknown field `client`"),
            "{errors:?}"
        );
    }

    /// Every unknown key is reported in one run, each where it is written, naming its section
    /// and the keys that section takes.
    #[test]
    fn every_unknown_key_is_reported_at_its_place() {
        let text = format!(
            "{}\n[tcp]\nmax_conections = 10\n",
            EXAMPLE
                .replace(
                    "name = \"internal\"\n",
                    "name = \"internal\"\nclientz = []\n"
                )
                .replace(
                    "origin = \"contoso.example\"\n",
                    "origin = \"contoso.example\"\nfiles = \"x.zone\"\n"
                )
        );
        let errors = errors_of(&text);
        assert_eq!(
            errors,
            [
                "/etc/splitdns/splitdns.toml:5:1: unknown field `clientz` in [[view]] (expected one of: name, clients, public, chaos, rrl, recursion, open_resolver, forwarders, forward, resolver, site_order, keys, transfer, notify, notify_source)",
                "/etc/splitdns/splitdns.toml:14:1: unknown field `files` in [[zone]] (expected one of: origin, file, views, transfer)",
                "/etc/splitdns/splitdns.toml:21:1: unknown field `max_conections` in [tcp] (expected one of: max_connections, idle_timeout, message_timeout)",
            ]
        );
    }

    /// The top level and a table inside the second element of an array of tables are walked
    /// too; an unknown key beside a value error is reported with it.
    #[test]
    fn unknown_keys_at_the_top_and_nested_are_located() {
        let text = EXAMPLE
            .replace(
                "# UDP and TCP",
                "\nforwarders = [\"10.0.0.1\"] # UDP and TCP",
            )
            .replace(
                "clients = [\"0.0.0.0/0\", \"::/0\"]",
                "clients = [\"0.0.0.0/0\", \"::/0\"]\n[view.rrl]\nrate = 5\nslip = 11",
            );
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("/etc/splitdns/splitdns.toml:2:1: unknown field `forwarders` at the top level (expected one of: tcp, listen, serial_policy, state_dir, ixfr_versions, key, view, zone, exchange"),
            "{errors:?}"
        );
        assert_eq!(
            errors[1],
            "/etc/splitdns/splitdns.toml:12:1: unknown field `rate` in [view.rrl] (expected one of: enabled, responses_per_second, slip, exempt)"
        );
        assert!(
            errors[2].contains(":13:8: [view.rrl] slip = 11"),
            "{errors:?}"
        );
    }

    /// Every table the file format has is a section that unknown keys can be reported in, with
    /// the keys it takes (a new section without an entry would lose "expected one of").
    #[test]
    fn every_table_of_the_format_names_its_keys() {
        const VALUES: &[&str] = &[
            "listen",
            "serial_policy",
            "all_or_nothing",
            "state_dir",
            "ixfr_versions",
        ];
        let (_, top) = file::section(&[]).unwrap();
        for key in top.iter().filter(|k| !VALUES.contains(k)) {
            let (place, keys) =
                file::section(&[key]).unwrap_or_else(|| panic!("no section entry for {key}"));
            assert!(
                place.contains(key) && !keys.is_empty(),
                "{key}: {place} {keys:?}"
            );
        }
        for nested in ["rrl", "forward", "resolver"] {
            assert!(
                file::section(&["view", nested]).is_some(),
                "[view.{nested}]"
            );
        }
        for nested in ["health", "site"] {
            assert!(
                file::section(&["exchange", nested]).is_some(),
                "[exchange.{nested}]"
            );
        }
    }

    /// Bytes as an editor may save them: the UTF-8 mark is skipped, UTF-16 is one error for the
    /// file, and a stray Latin-1 byte is located.
    #[test]
    fn config_bytes_are_checked_before_parsing() {
        let path = Path::new("/etc/splitdns/splitdns.toml");
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), EXAMPLE.as_bytes()].concat();
        assert_eq!(text_of(&with_bom, path).unwrap(), EXAMPLE);
        let utf16: Vec<u8> = EXAMPLE.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let errors = text_of(&utf16, path).unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "/etc/splitdns/splitdns.toml: file is UTF-16 (Notepad's \"Unicode\"): save it as UTF-8"
            ]
        );
        let latin1 = b"# caf\xE9\nlisten = []\n# na\xEFve\n";
        let errors = text_of(latin1, path).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "/etc/splitdns/splitdns.toml:1:6: this is not UTF-8 text: save the file as UTF-8"
        );
    }

    /// `[[acknowledge]]` blocks become acknowledgements: the check id, the owner name
    /// (lowercased, absolute), the reason, and the line of `finding`.
    #[test]
    fn acknowledgements_are_parsed() {
        let text = format!(
            "{EXAMPLE}\n[[acknowledge]]\nfinding = \"apex-address-probed-by-outlook\"\nname = \"Contoso.Example.\"\ncomment = \"our website serves /autodiscover/ redirects\"\n\n[[acknowledge]]\nfinding = \"autodiscover-missing\"\nname = \"fabrikam.example\"\ncomment = \"mail for fabrikam is hosted elsewhere\"\n"
        );
        let config = parse(&text, Path::new("/etc/splitdns/splitdns.toml")).unwrap();
        let seen: Vec<(&str, String, &str, u32)> = config
            .acknowledgements
            .iter()
            .map(|a| {
                (
                    a.finding.as_str(),
                    a.name.to_string(),
                    a.comment.as_str(),
                    a.line,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "apex-address-probed-by-outlook",
                    "contoso.example.".to_string(),
                    "our website serves /autodiscover/ redirects",
                    19
                ),
                (
                    "autodiscover-missing",
                    "fabrikam.example.".to_string(),
                    "mail for fabrikam is hosted elsewhere",
                    24
                ),
            ]
        );
        assert!(
            parse(EXAMPLE, Path::new("/etc/splitdns/splitdns.toml"))
                .unwrap()
                .acknowledgements
                .is_empty()
        );
    }

    /// An acknowledgement must say why: a missing or blank comment is a located error, as are
    /// a malformed check id or name, a block given twice, and an unknown key.
    #[test]
    fn acknowledgement_without_a_reason_is_a_located_error() {
        let block = |body: &str| format!("{EXAMPLE}\n[[acknowledge]]\n{body}");
        let errors = errors_of(&block(
            "finding = \"apex-address-probed-by-outlook\"\nname = \"contoso.example\"\n",
        ));
        assert_eq!(
            errors,
            [
                "/etc/splitdns/splitdns.toml:19:11: [[acknowledge]] of apex-address-probed-by-outlook for contoso.example has no comment: say why it is acceptable (comment = \"...\")"
            ]
        );
        let errors = errors_of(&block(
            "finding = \"apex-address-probed-by-outlook\"\nname = \"contoso.example\"\ncomment = \"  \"\n",
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .starts_with("/etc/splitdns/splitdns.toml:21:11: [[acknowledge]] comment is empty"),
            "{errors:?}"
        );
        let errors = errors_of(&block(
            "finding = \"Apex Address\"\nname = \"contoso..example\"\ncomment = \"x\"\nreason = \"y\"\n",
        ));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("/etc/splitdns/splitdns.toml:22:1: unknown field `reason` in [[acknowledge]] (expected one of: finding, name, comment)"), "{errors:?}");
        assert!(
            errors[1]
                .starts_with("/etc/splitdns/splitdns.toml:19:11: bad finding \"Apex Address\""),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with(
                "/etc/splitdns/splitdns.toml:20:8: bad acknowledged name \"contoso..example\""
            ),
            "{errors:?}"
        );
        let twice = "finding = \"a-b\"\nname = \"contoso.example\"\ncomment = \"x\"\n";
        let errors = errors_of(&format!("{}\n[[acknowledge]]\n{twice}", block(twice)));
        assert_eq!(
            errors,
            [
                "/etc/splitdns/splitdns.toml:24:11: a-b for contoso.example is acknowledged twice (first at line 19)"
            ]
        );
    }

    #[test]
    fn bad_cidr_and_duplicate_prefix_are_located() {
        let text = EXAMPLE.replace("\"0.0.0.0/0\"", "\"10.0.0.0/8\", \"300.1.0.0/16\"");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("/etc/splitdns/splitdns.toml:9:12: prefix 10.0.0.0/8 is listed in view \"internal\" (line 5)"), "{errors:?}");
        assert!(
            errors[1].starts_with(
                "/etc/splitdns/splitdns.toml:9:26: bad client prefix \"300.1.0.0/16\""
            ),
            "{errors:?}"
        );
    }

    #[test]
    fn host_bits_and_unknown_override_view_are_rejected() {
        let text = EXAMPLE
            .replace("192.168.0.0/16", "192.168.1.1/16")
            .replace("external = \"contoso", "dmz = \"contoso");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains(":5:") && errors[0].contains("did you mean \"192.168.0.0/16\""),
            "{errors:?}"
        );
        assert!(
            errors[1].contains(":16:1:")
                && errors[1].contains("view \"dmz\", which is not defined"),
            "{errors:?}"
        );
    }

    #[test]
    fn recursion_settings_are_validated_where_written() {
        let inside = "name = \"internal\"\nclients = [\"10.0.0.0/8\", \"192.168.0.0/16\", \"127.0.0.2/32\"]\n";
        let text = EXAMPLE.replace(
            inside,
            &format!("{inside}recursion = true\nforwarders = [\"192.0.2.53\", \"[2001:db8::53]:5353\", \"2001:db8::54\"]\n[[view.forward]]\nzone = \"Corp.Example.\"\nto = [\"10.0.0.21:5353\"]\n[view.resolver]\nserve_stale = 0\ntimeout = 0.5\n"),
        );
        let config = parse(&text, Path::new("/etc/splitdns/splitdns.toml")).unwrap();
        let recursion = config.views[0].recursion.as_ref().unwrap();
        assert_eq!(
            recursion.forwarders,
            [
                "192.0.2.53:53".parse().unwrap(),
                "[2001:db8::53]:5353".parse().unwrap(),
                "[2001:db8::54]:53".parse().unwrap()
            ]
        );
        assert_eq!(recursion.forward_zones[0].0.to_string(), "corp.example.");
        assert_eq!(recursion.settings.serve_stale, None);
        assert_eq!(recursion.settings.timeout, Duration::from_millis(500));
        assert!(config.views[1].recursion.is_none());

        // The external view may not recurse; nor may a view forward to our own listen address.
        let text = EXAMPLE
            .replace(
                "name = \"external\"\n",
                "name = \"external\"\nrecursion = true\nforwarders = [\"127.0.0.1:5353\"]\n",
            )
            .replace("[view.resolver]", "");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("/etc/splitdns/splitdns.toml:10:15: forwarder \"127.0.0.1:5353\" is one of this server's own listen addresses"), "{errors:?}");
        assert!(
            errors[1].starts_with(
                "/etc/splitdns/splitdns.toml:9:13: view \"external\" faces the public"
            ),
            "{errors:?}"
        );
        let open = text.replace(
            "recursion = true\n",
            "recursion = true\nopen_resolver = true\n",
        );
        assert_eq!(errors_of(&open).len(), 1, "open_resolver allows it");
    }

    /// Every section reports the line of the bad value, and a zero or out-of-range limit is an
    /// error naming the key and the range, never silently raised.
    #[test]
    fn limits_out_of_range_are_located_errors() {
        let text = format!(
            "{EXAMPLE}\n[tcp]\nmax_connections = 0\nidle_timeout = 0\n\n[[exchange]]\nnamespace = \"mail.contoso.example\"\nttl = 2147483648\n"
        )
        .replace(
            "clients = [\"0.0.0.0/0\", \"::/0\"]",
            "clients = [\"0.0.0.0/0\", \"::/0\"]\n[view.rrl]\nresponses_per_second = 0\nslip = 11",
        );
        let errors = errors_of(&text);
        let tail = |needle: &str| {
            errors
                .iter()
                .find(|e| e.contains(needle))
                .unwrap_or_else(|| panic!("no error about {needle}: {errors:?}"))
                .clone()
        };
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(
            tail("responses_per_second").starts_with("/etc/splitdns/splitdns.toml:11:24: [view.rrl] responses_per_second = 0 is out of range: use 1 to 1000000"),
            "{errors:?}"
        );
        assert!(tail("slip").contains(":12:8: [view.rrl] slip = 11 is out of range: use 0 to 10"));
        assert!(
            tail("max_connections")
                .contains(":22:19: [tcp] max_connections = 0 is out of range: use 1 to 1000000")
        );
        assert!(tail("idle_timeout").contains(":23:16: [tcp] idle_timeout = 0 is out of range"));
        assert!(
            tail("ttl").contains(
                ":27:7: [[exchange]] ttl = 2147483648 is out of range: use 0 to 2147483647"
            )
        );
    }

    /// `health` as an inline table or as an `[exchange.health]` table is the same; the defaults
    /// are a load balancer's (https, 443, /owa/healthcheck.htm, 5 s, 2 s, 3 down, 2 up), a
    /// checked namespace gets TTL 30, and an unknown key in it is located like any other.
    #[test]
    fn health_tables_defaults_and_unknown_keys() {
        let block =
            "\n[[exchange]]\nnamespace = \"mail.contoso.example\"\ninternal = [\"10.0.0.11\"]\n";
        let inline = parse(
            &format!("{EXAMPLE}{block}health = {{}}\n"),
            Path::new("/etc/splitdns/splitdns.toml"),
        )
        .unwrap();
        let table = parse(
            &format!("{EXAMPLE}{block}[exchange.health]\nkind = \"https\"\n"),
            Path::new("/etc/splitdns/splitdns.toml"),
        )
        .unwrap();
        let check = inline.exchange[0].health.clone().unwrap();
        assert_eq!(Some(&check), table.exchange[0].health.as_ref());
        assert_eq!(inline.exchange[0].ttl, DEFAULT_CHECKED_TTL);
        assert_eq!(check.probe.port, 443);
        assert_eq!(check.probe.interval, Duration::from_secs(5));
        assert_eq!(check.probe.timeout, Duration::from_secs(2));
        assert_eq!((check.probe.fall, check.probe.rise), (3, 2));
        assert_eq!(check.all_down, AllDown::All);
        let Kind::Https(https) = &check.probe.kind else {
            panic!("https by default")
        };
        assert_eq!(https.path, "/owa/healthcheck.htm");
        assert!(https.certificate_check && https.ca.is_none());

        let errors = errors_of(&format!(
            "{EXAMPLE}{block}health = {{ kind = \"tcp\", intervall = 5 }}\n"
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains(":21:26:") && errors[0].contains("intervall"),
            "{errors:?}"
        );
        let errors = errors_of(&format!(
            "{EXAMPLE}{block}health = {{ interval = 1, timeout = 2 }}\n"
        ));
        assert!(errors[0].contains("longer than the interval"), "{errors:?}");
        let errors = errors_of(&format!(
            "{EXAMPLE}[[view]]\nname = \"branch\"\nclients = [\"192.0.2.0/24\"]\nsite_order = [\"dc9\"]\n"
        ));
        assert!(errors[0].contains("site \"dc9\""), "{errors:?}");
    }

    /// Unknown keys inside the health-check tables (one of them read through `Spanned`) are
    /// located and name their section too.
    #[test]
    fn unknown_keys_in_health_tables_are_located() {
        let text = format!(
            "{EXAMPLE}\n[[exchange]]\nnamespace = \"mail.contoso.example\"\ninternal = [\"10.0.0.11\"]\n[exchange.health]\nintervall = 5\n\n[[health]]\nname = \"www.contoso.example\"\nkindd = \"tcp\"\n"
        );
        let errors = errors_of(&text);
        assert!(
            errors
                .iter()
                .any(|e| e.contains(":22:1: unknown field `intervall` in [exchange.health]")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains(":26:1: unknown field `kindd` in [[health]]")),
            "{errors:?}"
        );
    }

    /// A secret that is not base64, an unknown algorithm, a view naming an undefined key, and a
    /// key selecting two views: each an error at the value's line and column.
    #[test]
    fn key_errors_are_located() {
        let text = format!(
            "{}\n[[key]]\nname = \"a\"\nsecret = \"not base64!\"\n\n[[key]]\nname = \"b\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2VjcmV0\"\n\n[[key]]\nname = \"c\"\nsecret = \"c2VjcmV0\"\n",
            EXAMPLE
                .replace(
                    "clients = [\"10.0.0.0/8\", \"192.168.0.0/16\", \"127.0.0.2/32\"]",
                    "clients = []\nkeys = [\"c\", \"nope\"]"
                )
                .replace(
                    "clients = [\"0.0.0.0/0\", \"::/0\"]",
                    "clients = []\nkeys = [\"c\"]\ntransfer = { keys = [\"gone\"] }"
                )
        );
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "/etc/splitdns/splitdns.toml:23:10: the key's secret is not valid base64"
            ),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with(
                "/etc/splitdns/splitdns.toml:27:13: unknown TSIG algorithm \"hmac-md5\""
            ),
            "{errors:?}"
        );
        assert!(errors[2].starts_with("/etc/splitdns/splitdns.toml:6:14: keys names key \"nope\", which no [[key]] defines"), "{errors:?}");
        assert!(
            errors[3].contains(":11:9: key \"c\" already selects view \"internal\""),
            "{errors:?}"
        );
        assert!(
            errors[4].contains(":12:22: transfer.keys names key \"gone\""),
            "{errors:?}"
        );
    }

    /// A key file as tsig-keygen writes it is read; a bad secret in it is reported in the key
    /// file, at its line and column.
    #[test]
    fn key_files_are_read_and_their_errors_located() {
        let dir = std::env::temp_dir().join(format!("splitdns-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("xfr.key");
        std::fs::write(
            &key_file,
            "key \"xfr\" {\n\talgorithm hmac-sha384;\n\tsecret \"c2VjcmV0\";\n};\n",
        )
        .unwrap();
        let config = dir.join("splitdns.toml");
        let text = format!("{EXAMPLE}\n[[key]]\nsecret_file = \"xfr.key\"\n");
        let parsed = parse(&text, &config).unwrap();
        assert_eq!(parsed.keys[0].key.name_text(), "xfr");
        assert_eq!(parsed.keys[0].key.algorithm, Algorithm::HmacSha384);
        assert_eq!(parsed.keys[0].key.secret_base64(), "c2VjcmV0");
        std::fs::write(
            &key_file,
            "key \"xfr\" {\n\talgorithm hmac-sha384;\n\tsecret \"c2Vj*\";\n};\n",
        )
        .unwrap();
        let errors: Vec<String> = parse(&text, &config)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!(
                "{}:3:9: the key's secret is not valid base64",
                key_file.display()
            )),
            "{errors:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
