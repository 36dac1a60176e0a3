//! `[dane]`: which views' TLSA records are compared with the certificates their servers present,
//! how often, and on which ports SMTP comes before TLS. Without the section nothing is compared
//! and nothing connects: a DANE check opens a connection (on port 25, an SMTP session) to every
//! address of every host with a TLSA record, which the admin asks for, not the defaults.

use std::time::Duration;

use super::file;
use super::locate::Context;
use super::values::{Integer, Min, Seconds};
use super::views::ViewConfig;
use crate::health::dane::Settings;

/// Between checks of one address. Longer than the health checks' 5 s: a certificate changes
/// every few months, and each check is a session in the server's logs (an SMTP one on port 25).
const INTERVAL: Seconds = Seconds {
    min: Min::Above(0.0),
    max: 86400.0,
    default: Duration::from_secs(60),
};
/// For one check: an SMTP server may take its time with its greeting.
const TIMEOUT: Seconds = Seconds {
    min: Min::Above(0.0),
    max: 3600.0,
    default: Duration::from_secs(10),
};
const PORT: Integer = Integer {
    min: 1,
    max: 65535,
    default: 25,
};
/// SMTP (RFC 5321) and submission (RFC 6409): both start in clear text and upgrade with
/// STARTTLS. SMTPS on 465 starts with TLS, like any other port.
const SMTP_PORTS: [u16; 2] = [25, 587];

/// A validated `[dane]` section.
#[derive(Debug, Clone)]
pub struct DaneConfig {
    /// The views whose TLSA records are compared, with their host's addresses in that view
    /// (indexes into [`super::Config::views`]).
    pub views: Vec<usize>,
    pub settings: Settings,
}

pub(super) fn validate(
    section: &file::DaneSection,
    views: &[ViewConfig],
    cx: &mut Context,
) -> Option<DaneConfig> {
    let mark = cx.mark();
    let chosen = match &section.views {
        None => (0..views.len()).collect(),
        Some(names) => names
            .iter()
            .filter_map(|name| {
                let index = views.iter().position(|v| v.name == *name.get_ref());
                if index.is_none() {
                    cx.error(
                        name.span(),
                        format!("[dane] views: view {:?} is not defined", name.get_ref()),
                    );
                }
                index
            })
            .collect(),
    };
    let interval = INTERVAL.check(section.interval.as_ref(), "[dane] interval", cx);
    let timeout = TIMEOUT.check(section.timeout.as_ref(), "[dane] timeout", cx);
    if let Some(written) = &section.timeout
        && timeout > interval
    {
        cx.error(
            written.span(),
            format!(
                "[dane] timeout ({timeout:?}) is longer than the interval ({interval:?}): one check would still run when the next is due"
            ),
        );
    }
    let smtp_ports = match &section.smtp_ports {
        None => SMTP_PORTS.to_vec(),
        Some(ports) => ports
            .iter()
            .map(|port| PORT.check(Some(port), "[dane] smtp_ports", cx) as u16)
            .collect(),
    };
    if cx.erred_since(mark) {
        return None;
    }
    Some(DaneConfig {
        views: chosen,
        settings: Settings {
            interval,
            timeout,
            smtp_ports,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};

    /// No section: nothing is compared. An empty one: every view, checked every minute within
    /// 10 s, STARTTLS on 25 and 587. A view that is not defined is located.
    #[test]
    fn the_section_is_opt_in_and_its_defaults() {
        let path = Path::new("/etc/splitdns/splitdns.toml");
        assert!(parse(EXAMPLE, path).unwrap().dane.is_none());
        let config = parse(&format!("{EXAMPLE}\n[dane]\n"), path).unwrap();
        let dane = config.dane.unwrap();
        assert_eq!(dane.views, [0, 1]);
        assert_eq!(dane.settings.interval, Duration::from_secs(60));
        assert_eq!(dane.settings.timeout, Duration::from_secs(10));
        assert_eq!(dane.settings.smtp_ports, [25, 587]);
        let config = parse(
            &format!(
                "{EXAMPLE}\n[dane]\nviews = [\"internal\"]\ninterval = 0.5\ntimeout = 0.2\nsmtp_ports = [2525]\n"
            ),
            path,
        )
        .unwrap();
        let dane = config.dane.unwrap();
        assert_eq!(dane.views, [0]);
        assert_eq!(dane.settings.smtp_ports, [2525]);
        assert_eq!(dane.settings.interval, Duration::from_millis(500));

        let errors = errors_of(&format!(
            "{EXAMPLE}\n[dane]\nviews = [\"dmz\"]\ntimeout = 90\nsmtp_ports = [0]\nintervall = 5\n"
        ));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[0].contains("unknown field `intervall` in [dane]"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("view \"dmz\" is not defined"),
            "{errors:?}"
        );
        assert!(errors[2].contains("longer than the interval"), "{errors:?}");
        assert!(
            errors[3].contains("smtp_ports = 0 is out of range"),
            "{errors:?}"
        );
    }
}
