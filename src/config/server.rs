//! The top-level keys and `[tcp]`: where the server listens and with how many receive loops, how
//! long it holds TCP clients, and what it keeps across reloads and restarts (serial policy, IXFR
//! versions, state directory).

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::file;
use super::locate::Context;
use super::values::{self, Integer, Min, Seconds};
use crate::limits::TcpLimits;
use crate::located::Located;

/// The listen address used when the config names none.
pub(super) const DEFAULT_LISTEN: &str = "127.0.0.1:5353";

/// `listen_loops`: receive loops per listen address, each with its own UDP socket and TCP
/// listener. More loops than cores only adds threads and sockets (each loop keeps a 2 MiB batch
/// buffer, mapped as it is touched). Not written: one per core, counted when the server starts
/// (`server::loops_per_core`), so the row's default is only what validation goes on with after
/// an out-of-range value, which refuses the config.
const LISTEN_LOOPS: Integer = Integer {
    min: 1,
    max: 256,
    default: 1,
};

/// Earlier versions of each view's zone kept in memory for IXFR.
const IXFR_VERSIONS: Integer = Integer {
    min: 0,
    max: 1000,
    default: 10,
};

/// What to do when a zone's content changes without an SOA serial increase (secondaries would
/// not notice the change). A view with secondaries is managed under either (`load::serial`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerialPolicy {
    /// Raise the serial past the previous one, with a warning naming the zone and view, only in
    /// a view with secondaries; serve the others' content with the file's serial, silently
    /// (nobody transfers them, so nobody misses the change).
    #[default]
    Warn,
    /// Serve the new content with the serial raised past the previous one, in every view.
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

/// `listen_loops`, or `None` for one per core.
pub(super) fn listen_loops(raw: Option<&Spanned<i64>>, cx: &mut Context) -> Option<NonZeroUsize> {
    let loops = LISTEN_LOOPS.check(Some(raw?), "listen_loops", cx);
    NonZeroUsize::new(usize::try_from(loops).ok()?)
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
/// if it lists several). It must be a directory this process can write: otherwise every restart
/// could serve a serial lower than the last one served, which secondaries ignore. One rule, here,
/// for `serve`, reload and `check`: an error at the `state_dir` line (the whole file for systemd's
/// directory, which the config does not name). splitdns creates its file in the directory but
/// never the directory itself, as BIND and Knot do: a typo or an unmounted file system would
/// otherwise keep the serials somewhere no later start looks.
pub(super) fn state_dir(raw: Option<&Spanned<String>>, cx: &mut Context) -> Option<PathBuf> {
    if let Some(raw) = raw {
        let dir = cx.resolve(raw.get_ref());
        if let Err(problem) = usable(&dir) {
            cx.error(
                raw.span(),
                format!(
                    "state_dir {:?} ({}) {problem}",
                    raw.get_ref(),
                    dir.display()
                ),
            );
        }
        return Some(dir);
    }
    let dirs = std::env::var_os("STATE_DIRECTORY")?;
    let dir = std::env::split_paths(&dirs)
        .next()
        .filter(|d| !d.as_os_str().is_empty())?;
    if let Err(problem) = usable(&dir) {
        // The advice for a missing state_dir (leave it out under systemd) is this case already.
        let problem = match problem {
            StateDirProblem::Missing(dir) => format!(
                "does not exist: systemd creates it when the unit starts; outside systemd, unset \
                 STATE_DIRECTORY or create it (`install -d -m 0750 -o splitdns -g splitdns {}`)",
                dir.display()
            ),
            other => other.to_string(),
        };
        cx.push(Located {
            file: cx.path().to_path_buf(),
            line: 0,
            column: 0,
            message: format!(
                "the unit's StateDirectory {} (used because state_dir is not set) {problem}",
                dir.display()
            ),
        });
    }
    Some(dir)
}

/// Why a state directory cannot keep the served serials.
#[derive(Debug, thiserror::Error)]
enum StateDirProblem {
    #[error(
        "does not exist: create it for the user splitdns runs as (e.g. `install -d -m 0750 -o splitdns -g splitdns {}`; under systemd, leave state_dir out and the unit's StateDirectory= is used), or a restart may serve serials lower than those served before",
        .0.display()
    )]
    Missing(PathBuf),
    #[error("is not a directory")]
    NotADirectory,
    #[error("cannot be used: {0}")]
    Unusable(std::io::Error),
    #[error("cannot be written ({0}): the served serials could not be kept across restarts")]
    NotWritable(std::io::Error),
}

/// Whether `dir` is a directory this process can create files in: tried, with a file of its
/// own name that is removed at once (permission bits alone say nothing for root, nor for a
/// read-only mount).
fn usable(dir: &Path) -> Result<(), StateDirProblem> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StateDirProblem::Missing(dir.to_path_buf()));
        }
        Err(e) => return Err(StateDirProblem::Unusable(e)),
        Ok(meta) if !meta.is_dir() => return Err(StateDirProblem::NotADirectory),
        Ok(_) => {}
    }
    let probe = dir.join(format!(".splitdns-write-test-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(StateDirProblem::NotWritable)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
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
    let max_connections_per_source = Integer {
        min: 1,
        max: 1_000_000,
        default: defaults.max_connections_per_source as i64,
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
        max_connections_per_source: max_connections_per_source.check(
            raw.max_connections_per_source.as_ref(),
            "[tcp] max_connections_per_source",
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

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};

    /// One rule for `serve`, reload and `check`: a state directory that is missing, or sits under
    /// a file (root ignores permission bits, so that is how a test makes one unwritable), is an
    /// error at the `state_dir` line; a writable one is not, and the write test leaves nothing.
    #[test]
    fn state_dir_must_be_a_writable_directory() {
        let scratch = crate::scratch::Scratch::new("state-dir");
        let dir = scratch.path();
        std::fs::write(dir.join("file"), "").unwrap();
        let with = |state: &std::path::Path| {
            errors_of(&format!(
                "state_dir = {:?}\n{EXAMPLE}",
                state.display().to_string()
            ))
        };
        let missing = with(&dir.join("missing"));
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].starts_with("/etc/splitdns/splitdns.toml:1:13: state_dir ")
                && missing[0].contains("does not exist: create it"),
            "{missing:?}"
        );
        let under_a_file = with(&dir.join("file/sub"));
        assert_eq!(under_a_file.len(), 1, "{under_a_file:?}");
        assert!(
            under_a_file[0].contains("cannot be used"),
            "{under_a_file:?}"
        );
        let a_file = with(&dir.join("file"));
        assert!(a_file[0].ends_with("is not a directory"), "{a_file:?}");
        let config = parse(
            &format!("state_dir = {:?}\n{EXAMPLE}", dir.display().to_string()),
            std::path::Path::new("/etc/splitdns/splitdns.toml"),
        )
        .unwrap();
        assert_eq!(config.state_dir.as_deref(), Some(dir));
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            1,
            "the write test left a file"
        );
    }

    /// `listen_loops`: absent means one per core (decided at start, so `None` here); 1 to 256
    /// are taken; 0, 257 and a negative count are errors at the value naming the range.
    #[test]
    fn listen_loops_is_one_to_256_or_one_per_core() {
        let with = |line: &str| {
            parse(
                &format!("{line}\n{EXAMPLE}"),
                std::path::Path::new("/etc/splitdns/splitdns.toml"),
            )
        };
        assert_eq!(with("").unwrap().listen_loops, None);
        for n in [1, 4, 256] {
            let config = with(&format!("listen_loops = {n}")).unwrap();
            assert_eq!(config.listen_loops.map(|l| l.get()), Some(n));
        }
        for bad in ["0", "257", "-2"] {
            let errors = errors_of(&format!("listen_loops = {bad}\n{EXAMPLE}"));
            assert_eq!(
                errors,
                [format!(
                    "/etc/splitdns/splitdns.toml:1:16: listen_loops = {bad} is out of range: use 1 to 256"
                )]
            );
        }
        let errors = errors_of(&format!("listen_loops = \"many\"\n{EXAMPLE}"));
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}
