//! `[[health]]` blocks and the check keys they share with `[exchange.health]`: how an address
//! is probed (https or tcp, port, path, CA), how often, and what a name answers when every
//! address is down. The defaults are a load balancer's.

use std::time::Duration;

use toml::Spanned;

use super::file;
use super::locate::Context;
use super::values::{self, Integer, Min, Seconds, TTL_MAX};
use super::views::ViewConfig;
use crate::dns::name::Name;
use crate::health::{self, AllDown, Check, Kind, Probe};

/// TTL of health-checked RRsets when their block gives none: short enough that a withdrawn
/// address leaves resolvers' caches within half a minute, long enough to keep DC caches useful.
pub(super) const DEFAULT_CHECKED_TTL: u32 = 30;

const TTL: Integer = Integer {
    min: 0,
    max: TTL_MAX,
    default: DEFAULT_CHECKED_TTL as i64,
};
const PORT: Integer = Integer {
    min: 1,
    max: 65535,
    default: 443,
};
const PATH: &str = "/owa/healthcheck.htm";
/// Between checks, and for one check.
const INTERVAL: Seconds = Seconds {
    min: Min::Above(0.0),
    max: 3600.0,
    default: Duration::from_secs(5),
};
const TIMEOUT: Seconds = Seconds {
    min: Min::Above(0.0),
    max: 3600.0,
    default: Duration::from_secs(2),
};
/// Consecutive failures to take an address out, and successes to put it back.
const FALL: Integer = Integer {
    min: 1,
    max: 100,
    default: 3,
};
const RISE: Integer = Integer {
    min: 1,
    max: 100,
    default: 2,
};
/// Days before a certificate's expiry that a check warns.
const EXPIRY_WARNING_DAYS: Integer = Integer {
    min: 0,
    max: 3650,
    default: 14,
};

/// A validated `[[health]]` block.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Lowercased; also the server name the checks present.
    pub name: Name,
    /// The view checked (index into [`super::Config::views`]); `None`: every view with the
    /// RRset.
    pub view: Option<usize>,
    pub ttl: u32,
    pub check: Check,
    /// Line of the block's `name` key.
    pub line: u32,
}

pub(super) fn validate(
    section: &file::HealthBlockSection,
    views: &[ViewConfig],
    cx: &mut Context,
) -> Option<HealthConfig> {
    let name = values::domain(&section.name, "[[health]] name", cx);
    let view = match &section.view {
        None => None,
        Some(view) => match views.iter().position(|v| v.name == *view.get_ref()) {
            Some(index) => Some(index),
            None => {
                cx.error(
                    view.span(),
                    format!("[[health]] view {:?} is not defined", view.get_ref()),
                );
                return None;
            }
        },
    };
    let ttl = TTL.check(section.ttl.as_ref(), "[[health]] ttl", cx) as u32;
    let check = check(&section.check(), "[[health]]", cx)?;
    Some(HealthConfig {
        name: name?,
        view,
        ttl,
        check,
        line: cx.line_of(section.name.span()),
    })
}

/// The check keys of `[exchange.health]` or `[[health]]` (`what`, for messages).
pub(super) fn check(section: &file::HealthSection, what: &str, cx: &mut Context) -> Option<Check> {
    let mark = cx.mark();
    let key = |key: &str| format!("{what} {key}");
    let interval = INTERVAL.check(section.interval.as_ref(), &key("interval"), cx);
    let timeout = TIMEOUT.check(section.timeout.as_ref(), &key("timeout"), cx);
    if let Some(span) = section.timeout.as_ref().map(Spanned::span)
        && timeout > interval
    {
        cx.error(
            span,
            format!(
                "{what} timeout ({timeout:?}) is longer than the interval ({interval:?}): one check would still run when the next is due"
            ),
        );
    }
    let port = PORT.check(section.port.as_ref(), &key("port"), cx);
    let fall = FALL.check(section.fall.as_ref(), &key("fall"), cx);
    let rise = RISE.check(section.rise.as_ref(), &key("rise"), cx);
    let expiry_warning_days = EXPIRY_WARNING_DAYS.check(
        section.expiry_warning_days.as_ref(),
        &key("expiry_warning_days"),
        cx,
    );
    let all_down = match section
        .all_down
        .as_ref()
        .map(|a| (a.get_ref().as_str(), a.span()))
    {
        None | Some(("all", _)) => AllDown::All,
        Some(("servfail", _)) => AllDown::ServFail,
        Some((other, span)) => {
            cx.error(
                span,
                format!("{what} all_down = {other:?}: expected \"all\" (answer every address) or \"servfail\""),
            );
            AllDown::All
        }
    };
    let ca = section.ca.as_ref().and_then(|ca| ca_file(ca, what, cx));
    let kind = kind(section, what, ca, expiry_warning_days as u32, cx)?;
    if let Some(path) = &section.path
        && (!path.get_ref().starts_with('/')
            || path
                .get_ref()
                .chars()
                .any(|c| c.is_whitespace() || c.is_control()))
    {
        cx.error(
            path.span(),
            format!(
                "{what} path {:?} must start with / and hold no spaces",
                path.get_ref()
            ),
        );
    }
    if cx.erred_since(mark) {
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

/// `ca`: a PEM file of the CA the certificates must chain to, read now so that a reload with an
/// unreadable one is refused.
fn ca_file(ca: &Spanned<String>, what: &str, cx: &mut Context) -> Option<health::Ca> {
    let file = cx.resolve(ca.get_ref());
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
            cx.error(ca.span(), format!("{what} ca: {message}"));
            None
        }
    }
}

/// `kind`, with the keys only an https check takes; `None` for a kind that is none.
fn kind(
    section: &file::HealthSection,
    what: &str,
    ca: Option<health::Ca>,
    expiry_warning_days: u32,
    cx: &mut Context,
) -> Option<Kind> {
    match section
        .kind
        .as_ref()
        .map(|k| (k.get_ref().as_str(), k.span()))
    {
        None | Some(("https", _)) => Some(Kind::Https(health::Https {
            path: section
                .path
                .as_ref()
                .map_or_else(|| PATH.to_string(), |p| p.get_ref().clone()),
            certificate_check: section.certificate_check.unwrap_or(true),
            ca,
            expiry_warning_days,
        })),
        Some(("tcp", _)) => {
            for (key, span) in [
                ("path", section.path.as_ref().map(Spanned::span)),
                ("ca", section.ca.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    cx.error(
                        span,
                        format!("{what} {key} is for kind = \"https\"; a tcp check only connects"),
                    );
                }
            }
            Some(Kind::Tcp)
        }
        Some((other, span)) => {
            cx.error(
                span,
                format!(
                    "{what} kind = {other:?} is not a check kind: expected \"https\" or \"tcp\""
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::DEFAULT_CHECKED_TTL;
    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};
    use crate::health::{AllDown, Kind};

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
}
