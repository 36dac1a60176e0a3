//! `[control]` and `[query_log]`: the server's two outputs besides DNS, both off unless written.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::file;
use super::locate::Context;
use super::values::Integer;
use crate::located::Located;

/// Log one query in this many.
const SAMPLE: Integer = Integer {
    min: 1,
    max: 1_000_000,
    default: 1,
};

/// A validated `[query_log]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryLogConfig {
    /// Resolved against the config's directory.
    pub path: PathBuf,
    /// Log one query in `sample`.
    pub sample: u32,
    /// Where `path` is written (no message): what a problem with the file points at.
    pub path_at: Located,
}

impl QueryLogConfig {
    /// `problem` with the log file, at the `path` key's `file:line:column`.
    pub fn located(&self, problem: impl std::fmt::Display) -> Located {
        Located {
            message: format!("[query_log] path {}: {problem}", self.path.display()),
            ..self.path_at.clone()
        }
    }
}

/// The control listener's address: loopback unless the admin says otherwise, because whoever
/// reaches it can read the configuration and trigger reloads.
pub(super) fn control(section: &file::ControlSection, cx: &mut Context) -> Option<SocketAddr> {
    let listen = &section.listen;
    match listen.get_ref().parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() || section.allow_remote => Some(addr),
        Ok(addr) => {
            cx.error(
                listen.span(),
                format!(
                    "[control] listen = \"{addr}\" is not a loopback address: anyone who reaches it can read the status and trigger reloads; set allow_remote = true to accept that"
                ),
            );
            None
        }
        Err(_) => {
            cx.error(
                listen.span(),
                format!(
                    "bad [control] listen address {:?}: expected IP:PORT, e.g. \"127.0.0.1:9153\"",
                    listen.get_ref()
                ),
            );
            None
        }
    }
}

pub(super) fn query_log(section: &file::QueryLogSection, cx: &mut Context) -> QueryLogConfig {
    QueryLogConfig {
        path: cx.resolve(section.path.get_ref()),
        path_at: cx.at(section.path.span()),
        sample: SAMPLE.check(section.sample.as_ref(), "[query_log] sample", cx) as u32,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};

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
}
