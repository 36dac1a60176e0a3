//! The top-level keys and `[tcp]`: where the server listens, how long it holds TCP clients, and
//! what it keeps across reloads and restarts (serial policy, IXFR versions, state directory).

use std::net::SocketAddr;
use std::path::PathBuf;

use toml::Spanned;

use super::file;
use super::locate::Context;
use super::values::{self, Integer, Min, Seconds};
use crate::limits::TcpLimits;

/// The listen address used when the config names none.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5353";

/// Earlier versions of each view's zone kept in memory for IXFR.
const IXFR_VERSIONS: Integer = Integer {
    min: 0,
    max: 1000,
    default: 10,
};

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

/// `listen`: every address parsed, [`DEFAULT_LISTEN`] when none is written.
pub(super) fn listen(raw: &[Spanned<String>], cx: &mut Context) -> Vec<SocketAddr> {
    let mut listen: Vec<SocketAddr> = raw
        .iter()
        .filter_map(|addr| {
            values::parsed(
                addr,
                "listen address",
                "expected IP:PORT, e.g. \"127.0.0.1:5353\" or \"[::1]:5353\"",
                cx,
            )
        })
        .collect();
    if raw.is_empty() {
        listen.push(
            DEFAULT_LISTEN
                .parse()
                .expect("default listen address is valid"),
        );
    }
    listen
}

pub(super) fn serial_policy(raw: Option<&Spanned<String>>, cx: &mut Context) -> SerialPolicy {
    match raw.map(|p| (p.get_ref().as_str(), p.span())) {
        None | Some(("warn", _)) => SerialPolicy::Warn,
        Some(("bump", _)) => SerialPolicy::Bump,
        Some((other, span)) => {
            cx.error(
                span,
                format!("bad serial_policy {other:?}: expected \"warn\" or \"bump\""),
            );
            SerialPolicy::Warn
        }
    }
}

pub(super) fn ixfr_versions(raw: Option<&Spanned<i64>>, cx: &mut Context) -> usize {
    IXFR_VERSIONS.check(raw, "ixfr_versions", cx) as usize
}

/// `state_dir`, or else the directory systemd made for the unit (`StateDirectory=`; the first,
/// if it lists several).
pub(super) fn state_dir(raw: Option<&Spanned<String>>, cx: &Context) -> Option<PathBuf> {
    raw.map(|d| cx.resolve(d.get_ref())).or_else(|| {
        let dirs = std::env::var_os("STATE_DIRECTORY")?;
        std::env::split_paths(&dirs)
            .next()
            .filter(|d| !d.as_os_str().is_empty())
    })
}

/// `[tcp]`. The bounds are the config's; the defaults are the server's own
/// ([`TcpLimits::default`]), so that a config without the table and one with it empty agree.
pub(super) fn tcp(raw: Option<&file::TcpSection>, cx: &mut Context) -> TcpLimits {
    let defaults = TcpLimits::default();
    let Some(raw) = raw else { return defaults };
    let max_connections = Integer {
        min: 1,
        max: 1_000_000,
        default: defaults.max_connections as i64,
    };
    let idle_timeout = Seconds {
        min: Min::Above(0.0),
        max: 3600.0,
        default: defaults.idle_timeout,
    };
    let message_timeout = Seconds {
        min: Min::Above(0.0),
        max: 3600.0,
        default: defaults.message_timeout,
    };
    TcpLimits {
        max_connections: max_connections.check(
            raw.max_connections.as_ref(),
            "[tcp] max_connections",
            cx,
        ) as usize,
        idle_timeout: idle_timeout.check(raw.idle_timeout.as_ref(), "[tcp] idle_timeout", cx),
        message_timeout: message_timeout.check(
            raw.message_timeout.as_ref(),
            "[tcp] message_timeout",
            cx,
        ),
    }
}
