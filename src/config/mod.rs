//! Configuration: reads the strict TOML file format ([`file`](mod@file)) and validates it into
//! the runtime types, one section per module: [`server`] (the top-level keys and `[tcp]`),
//! [`keys`], [`views`] (with [`resolver`] for their recursion), [`zones`], [`exchange`],
//! [`health`], [`dane`], [`tls`], [`acknowledge`] and [`control`] (with the query log). [`values`] holds what
//! several of them parse alike; [`locate`] turns spans into positions and carries the errors.
//! Relative paths resolve against the config file's directory. Every error carries
//! `file:line:column` so that `check` and start-up report the same, precise message.

mod acknowledge;
mod control;
mod dane;
mod dnssec;
mod exchange;
mod file;
mod health;
mod keyfile;
mod keys;
mod locate;
mod resolver;
mod server;
mod tls;
mod values;
mod views;
mod zones;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

pub(crate) use acknowledge::Acknowledgement;
pub(crate) use control::QueryLogConfig;
pub(crate) use dane::DaneConfig;
pub(crate) use exchange::ExchangeConfig;
pub(crate) use health::HealthConfig;
pub(crate) use keys::KeyConfig;
pub(crate) use server::SerialPolicy;
pub(crate) use tls::TlsConfig;
pub(crate) use views::ViewConfig;
pub(crate) use zones::ZoneConfig;

use crate::limits::TcpLimits;
use crate::located::Located;
use locate::{Context, Locator, PathSegment};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub listen: Vec<SocketAddr>,
    /// Receive loops per listen address; `None`: one per core.
    pub listen_loops: Option<NonZeroUsize>,
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
    /// A zone that does not load, or a check error, refuses the whole start or reload.
    pub all_or_nothing: bool,
    /// The query log, if on.
    pub query_log: Option<QueryLogConfig>,
    /// `[[health]]` blocks: checks on RRsets written in zone files.
    pub health: Vec<HealthConfig>,
    /// `[dane]`: the DANE checks, if on.
    pub dane: Option<DaneConfig>,
    /// `[tls]`: DNS over TLS and HTTPS, if on.
    pub tls: Option<TlsConfig>,
}

/// Reads and validates a config file, returning every problem found.
pub(crate) fn load(path: &Path) -> Result<Config, Vec<Located>> {
    let bytes = read(path)?;
    parse(text_of(&bytes, path)?, path)
}

/// The `[control] listen` address alone, for the commands that ask a running server
/// (`status`, `reload`): a mistake elsewhere in the file — a certificate that no longer reads, a
/// misspelt key — must not keep an admin from asking the server, which still serves what it
/// loaded before. Only the TOML itself and the `[control]` section are checked.
pub(crate) fn control_address(path: &Path) -> Result<Option<SocketAddr>, Vec<Located>> {
    let bytes = read(path)?;
    let text = text_of(&bytes, path)?;
    let locate = Locator { text, path };
    let toml_error = |e| vec![toml_error(&locate, e)];
    let document = DeTable::parse(text).map_err(toml_error)?;
    let raw: file::ConfigFile =
        serde::Deserialize::deserialize(toml::de::Deserializer::from(document))
            .map_err(toml_error)?;
    let mut cx = Context::new(locate, Vec::new());
    let address = raw
        .control
        .as_ref()
        .and_then(|section| control::control(section, &mut cx));
    cx.finish(address)
}

fn read(path: &Path) -> Result<Vec<u8>, Vec<Located>> {
    std::fs::read(path).map_err(|e| vec![whole_file(path, format!("cannot read config file: {e}"))])
}

/// A TOML syntax or type error, where it is.
fn toml_error(locate: &Locator, e: toml::de::Error) -> Located {
    let span = e.span().unwrap_or(0..0);
    locate.error(span, e.message().trim_end().to_string())
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
    let toml_error = |e| toml_error(&locate, e);
    // Parsed once as a spanned document: deserialized from a copy, and kept to locate the keys
    // serde ignores (its path to a key has no position).
    let document = DeTable::parse(text).map_err(|e| vec![toml_error(e)])?;
    let mut ignored: Vec<Vec<PathSegment>> = Vec::new();
    let raw: Result<file::ConfigFile, _> =
        serde_ignored::deserialize(toml::de::Deserializer::from(document.clone()), |key| {
            ignored.push(locate::segments(&key))
        });
    // Unknown keys first: a misspelt key is usually why a required one is "missing".
    let mut unknown: Vec<Located> = ignored
        .iter()
        .map(|key| locate::unknown_key(key, document.get_ref(), &locate))
        .collect();
    unknown.sort_by_key(|e| (e.line, e.column));
    match raw {
        Err(e) => {
            unknown.push(toml_error(e));
            Err(unknown)
        }
        Ok(raw) => {
            let mut cx = Context::new(locate, unknown);
            let config = validate(raw, document.get_ref(), &mut cx);
            cx.finish(config)
        }
    }
}

/// Checks the file's values section by section and resolves the references between them.
/// `document` is the same file as parsed, for the few keys whose type cannot carry a span.
fn validate(raw: file::ConfigFile, document: &DeTable, cx: &mut Context) -> Config {
    let listen = server::listen(&raw.listen, cx);
    let listen_loops = server::listen_loops(raw.listen_loops.as_ref(), cx);
    let serial_policy = server::serial_policy(raw.serial_policy.as_ref(), cx);
    let tcp = server::tcp(raw.tcp.as_ref(), cx);
    let control = raw.control.as_ref().and_then(|s| control::control(s, cx));
    let query_log = raw.query_log.as_ref().map(|s| control::query_log(s, cx));
    let ixfr_versions = server::ixfr_versions(raw.ixfr_versions.as_ref(), cx);
    let keys = keys::validate(&raw.keys, cx);
    let views = views::validate(&raw.views, &listen, &keys, cx);
    let state_dir = server::state_dir(raw.state_dir.as_ref(), cx);
    let policies = dnssec::policies(&raw.dnssec_policies, cx);
    let signing = zones::Signing {
        policies: &policies,
        has_state_dir: state_dir.is_some(),
    };
    let zones = zones::validate(&raw.zones, &raw.views, document, &keys, &signing, cx);
    let exchange: Vec<ExchangeConfig> = raw
        .exchange
        .iter()
        .filter_map(|section| exchange::validate(section, &views, cx))
        .collect();
    let acknowledgements = acknowledge::validate(&raw.acknowledgements, cx);
    exchange::check_site_order(&raw.views, &exchange, cx);
    let health = raw
        .health
        .iter()
        .filter_map(|section| health::validate(section, &views, cx))
        .collect();
    let dane = raw
        .dane
        .as_ref()
        .and_then(|section| dane::validate(section, &views, cx));
    let tls = raw
        .tls
        .as_ref()
        .and_then(|section| tls::validate(section, &listen, cx));
    Config {
        path: cx.path().to_path_buf(),
        listen,
        listen_loops,
        serial_policy,
        ixfr_versions,
        state_dir,
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
        dane,
        tls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const EXAMPLE: &str = r#"listen = ["127.0.0.1:5353"]          # UDP and TCP on each address

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

    pub(super) fn errors_of(text: &str) -> Vec<String> {
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
}
