//! Configuration: reads the strict TOML file format ([`file`]) and validates it into the runtime
//! types below. Relative paths resolve against the config file's directory. Every error carries
//! `file:line:column` so that `check` and start-up report the same, precise message.

mod file;
mod keyfile;

use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use toml::Spanned;

use crate::dns::name::Name;
use crate::located::Located;
use crate::server::{RrlPolicy, TcpLimits};
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
    /// Indexes into [`Config::keys`]: a request signed with one of them gets this view.
    pub keys: Vec<usize>,
    /// Who may transfer this view's zones.
    pub transfer: TransferAcl,
    /// Secondaries sent a NOTIFY when one of this view's zones changes.
    pub notify: Vec<SocketAddr>,
    /// Line of the view's `name` key, for findings about the view as a whole.
    pub line: u32,
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
}

/// TTL of records generated from `[[exchange]]` when the block gives none.
pub const DEFAULT_EXCHANGE_TTL: u32 = 300;

/// The ranges integer settings must be in. TTLs as RFC 2181 §8 allows; at most a million
/// responses a second keeps the rate limiter's token count (thousandths) within 32 bits; slip as
/// BIND allows it.
const TTL: RangeInclusive<i64> = 0..=0x7fff_ffff;
const MAX_CONNECTIONS: RangeInclusive<i64> = 1..=1_000_000;
const RESPONSES_PER_SECOND: RangeInclusive<i64> = 1..=1_000_000;
const SLIP: RangeInclusive<i64> = 0..=10;

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
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Located {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read config file: {e}"),
        }]
    })?;
    parse(&text, path)
}

/// Validates config text as if it had been read from `path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, Vec<Located>> {
    let locate = Locator { text, path };
    let raw: file::ConfigFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        vec![locate.error(span, e.message().trim_end().to_string())]
    })?;
    validate(raw, &locate)
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

fn validate(raw: file::ConfigFile, locate: &Locator) -> Result<Config, Vec<Located>> {
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
    let ixfr_versions = locate.integer(
        raw.ixfr_versions.as_ref(),
        "ixfr_versions",
        IXFR_VERSIONS,
        DEFAULT_IXFR_VERSIONS,
        &mut errors,
    ) as usize;
    let keys = validate_keys(&raw.keys, locate, &mut errors);
    let views = validate_views(&raw.views, &keys, locate, &mut errors);
    let zones = validate_zones(&raw.zones, &raw.views, &keys, locate, &mut errors);
    let exchange = raw
        .exchange
        .iter()
        .filter_map(|section| validate_exchange(section, &views, locate, &mut errors))
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
        })
    } else {
        Err(errors)
    }
}

fn validate_views(
    raw: &[file::ViewSection],
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
        views.push(ViewConfig {
            name: name.clone(),
            clients,
            public,
            chaos: section.chaos,
            rrl,
            keys: view_keys,
            transfer,
            notify,
            line: locate.line_of(section.name.span()),
        });
    }
    views
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
    keys: &[KeyConfig],
    locate: &Locator,
    errors: &mut Vec<Located>,
) -> Vec<ZoneConfig> {
    let mut zones: Vec<ZoneConfig> = Vec::new();
    for section in raw {
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
            match raw_views
                .iter()
                .position(|v| v.name.get_ref() == view.get_ref())
            {
                Some(index) => {
                    overrides.push((index, locate.resolve(file.get_ref())));
                    override_lines.push(locate.line_of(file.span()));
                }
                None => errors.push(locate.error(
                    view.span(),
                    format!(
                        "zone {origin} has an override for view {:?}, which is not defined",
                        view.get_ref()
                    ),
                )),
            }
        }
        let mut transfer = Vec::new();
        for (view, acl) in &section.transfer {
            match raw_views
                .iter()
                .position(|v| v.name.get_ref() == view.get_ref())
            {
                Some(index) => transfer.push((index, validate_transfer(acl, keys, locate, errors))),
                None => errors.push(locate.error(
                    view.span(),
                    format!(
                        "zone {origin} has a transfer ACL for view {:?}, which is not defined",
                        view.get_ref()
                    ),
                )),
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
    let mut addresses = |list: &[Spanned<String>]| -> Vec<std::net::IpAddr> {
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
    let internal = addresses(&section.internal);
    let external = addresses(&section.external);
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
            DEFAULT_EXCHANGE_TTL.into(),
            errors,
        ) as u32,
        line: locate.line_of(section.namespace.span()),
    })
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
    fn unknown_key_names_file_line_and_key() {
        let text = EXAMPLE.replace("name = \"external\"", "name = \"external\"\nclient = []");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("/etc/splitdns/splitdns.toml:9:1: unknown field `client`"),
            "{errors:?}"
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
            errors[1].contains(":16:") && errors[1].contains("view \"dmz\", which is not defined"),
            "{errors:?}"
        );
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
