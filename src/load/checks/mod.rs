//! The checks behind `splitdns check`: the mistakes that break Outlook or leak the inside, found
//! in the built snapshot before clients find them (see DOMAIN.md, "Mistakes our checks should
//! catch"). Each finding has a stable id, a severity, the view, and the file:line of the record or
//! config entry it is about. Checks read the same snapshot `serve` would answer from.

mod exchange;
mod split;

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::load::build::Shadowed;
use crate::located::SourceLoc;
use crate::view::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One thing `check` has to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier, e.g. `private-address-in-public-view`.
    pub id: &'static str,
    pub severity: Severity,
    pub view: Option<String>,
    pub file: Option<PathBuf>,
    pub line: Option<u32>,
    /// The name the finding is about (a DNS name, or the view for view-wide findings), which an
    /// acknowledgement in the config names.
    pub name: Option<String>,
    pub message: String,
}

impl Finding {
    fn new(
        id: &'static str,
        severity: Severity,
        view: Option<&str>,
        loc: Option<&SourceLoc>,
        message: String,
    ) -> Finding {
        Finding {
            id,
            severity,
            view: view.map(str::to_string),
            file: loc.map(|l| l.file.to_path_buf()),
            line: loc.map(|l| l.line),
            name: None,
            message,
        }
    }

    /// The finding, about `name`.
    fn about(mut self, name: impl ToString) -> Finding {
        self.name = Some(name.to_string());
        self
    }
}

impl Finding {
    /// The finding without its place: `error[id] (view v): message`.
    pub fn headline(&self) -> String {
        let view = self
            .view
            .as_ref()
            .map(|view| format!(" (view {view})"))
            .unwrap_or_default();
        format!("{}[{}]{view}: {}", self.severity, self.id, self.message)
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(file), Some(line)) = (&self.file, self.line) {
            write!(f, "{}:{line}: ", file.display())?;
        }
        f.write_str(&self.headline())
    }
}

/// Runs every check, most severe first.
pub fn run(config: &Config, snapshot: &Snapshot, shadowed: &[Shadowed]) -> Vec<Finding> {
    let mut findings = Vec::new();
    split::private_addresses_in_public_views(config, snapshot, &mut findings);
    exchange::autodiscover_srv_records(snapshot, &mut findings);
    exchange::wildcards_capturing_autodiscover(snapshot, &mut findings);
    exchange::apex_addresses_probed_by_outlook(config, snapshot, &mut findings);
    exchange::namespace_addresses(config, snapshot, &mut findings);
    exchange::zones_only_for_autodiscover_srv(config, snapshot, &mut findings);
    split::inside_views_without_ipv6(config, &mut findings);
    split::transfers_open_to_anyone(config, snapshot, &mut findings);
    split::serials_not_kept(config, snapshot, &mut findings);
    split::names_missing_in_a_view(snapshot, &mut findings);
    split::redundant_overrides(config, snapshot, &mut findings);
    for shadowed in shadowed {
        findings.push(Finding::new(
            "generated-record-shadowed",
            Severity::Info,
            Some(&shadowed.view),
            Some(&shadowed.file_record),
            format!(
                "{} {} from this zone file is served instead of the {} [[exchange]] generates ({}:{})",
                shadowed.owner,
                crate::dns::rtype::mnemonic(shadowed.file_rtype),
                crate::dns::rtype::mnemonic(shadowed.rtype),
                shadowed.generated.file.display(),
                shadowed.generated.line
            ),
        )
        .about(&shadowed.owner));
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| (&a.file, a.line, &a.view).cmp(&(&b.file, b.line, &b.view)))
    });
    findings.dedup();
    findings
}

/// The views that face the Internet (`public = true`).
fn public_views<'s>(
    config: &'s Config,
    snapshot: &'s Snapshot,
) -> impl Iterator<Item = &'s crate::view::View> {
    snapshot
        .views
        .iter()
        .zip(&config.views)
        .filter(|(_, c)| c.public)
        .map(|(view, _)| view)
}

/// The address in an A or AAAA RDATA.
fn address_of(rtype: u16, rdata: &[u8]) -> Option<IpAddr> {
    match rtype {
        crate::dns::rtype::A => <[u8; 4]>::try_from(rdata).ok().map(IpAddr::from),
        crate::dns::rtype::AAAA => <[u8; 16]>::try_from(rdata).ok().map(IpAddr::from),
        _ => None,
    }
}

/// A lowercased wire name as text.
fn name_text(wire: &[u8]) -> String {
    let mut text = String::new();
    let _ = crate::dns::name::fmt_wire_name(wire, &mut text);
    text
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod address_tests {
    use crate::address_space::non_public_kind;

    #[test]
    fn classifies_addresses_that_must_stay_inside() {
        for (ip, kind) in [
            ("10.1.2.3", Some("RFC 1918 private")),
            ("172.31.0.1", Some("RFC 1918 private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("RFC 1918 private")),
            ("100.64.0.1", Some("RFC 6598 shared (carrier-grade NAT)")),
            ("100.128.0.1", None),
            ("127.0.0.1", Some("loopback")),
            ("203.0.113.10", None),
            ("fd00::1", Some("unique local (ULA)")),
            ("::1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("RFC 1918 private")),
            ("2001:db8::1", None),
        ] {
            assert_eq!(non_public_kind(ip.parse().unwrap()), kind, "{ip}");
        }
    }
}
