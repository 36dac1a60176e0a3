//! The checks behind `splitdns check`: the mistakes that break Outlook or leak the inside, found
//! in the built snapshot before clients find them. Each finding has a stable id, a severity, the
//! view, and the file:line of the record or config entry it is about; one about records also
//! names their zones, which is what a finding of severity error holds back when serving (see
//! `crate::load`). Checks read the same snapshot `serve` would answer from.

mod dane;
mod exchange;
mod health;
pub(crate) mod picks;
mod signing;
mod split;
mod tls;

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::dns::name::Name;
use crate::load::build::Shadowed;
use crate::located::{Located, SourceLoc};
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
    /// The zones of [`Finding::view`] the finding is about: its record's first, then, for an
    /// Autodiscover SRV target's finding, the target's. An error holds back that view's copies
    /// when serving (which of them: see `crate::load`). Empty for a finding about a view or the
    /// config, which an error refuses whole. Not in `check`'s JSON: `check` holds nothing back.
    #[serde(skip)]
    pub zones: Vec<Name>,
    /// The comment of the `[[acknowledge]]` block that accepts this finding: shown, but not
    /// counted by `check --strict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<String>,
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
            zones: Vec::new(),
            acknowledged: None,
        }
    }

    /// A warning that fails `check --strict`: not acknowledged.
    pub fn fails_strict(&self) -> bool {
        self.severity == Severity::Warning && self.acknowledged.is_none()
    }

    /// The finding, about `name`.
    fn about(mut self, name: impl ToString) -> Finding {
        self.name = Some(name.to_string());
        self
    }

    /// The finding, about a record of the view's zone `origin` too.
    fn in_zone(mut self, origin: &Name) -> Finding {
        if !self.zones.contains(origin) {
            self.zones.push(origin.clone());
        }
        self
    }

    /// The view and the zones whose copies a finding of severity error may hold back when
    /// serving, its record's first; `None` when it is not about zones of one view (then it
    /// refuses the whole load).
    pub fn view_zones(&self) -> Option<(&str, &[Name])> {
        match (&self.view, self.zones.is_empty()) {
            (Some(view), false) => Some((view, &self.zones)),
            _ => None,
        }
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

    /// The finding as a problem at its `file:line`, as load errors are reported.
    pub fn located(&self) -> Located {
        Located {
            file: self.file.clone().unwrap_or_default(),
            line: self.line.unwrap_or(0),
            column: 0,
            message: self.headline(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(file), Some(line)) = (&self.file, self.line) {
            write!(f, "{}:{line}: ", file.display())?;
        }
        f.write_str(&self.headline())?;
        if let Some(comment) = &self.acknowledged {
            write!(f, " (acknowledged: {comment})")?;
        }
        Ok(())
    }
}

/// How much to check: what `check` reports, or what serving acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every check (`splitdns check`).
    Everything,
    /// The checks that can refuse the data (errors) or warn at start-up; not the information
    /// about the split, which only `check` shows and which walks every name of every view (on
    /// a 200,000-record zone most of a start-up's time).
    Serving,
}

/// The checks whose findings are information only: skipped under [`Scope::Serving`].
const INFORMATION_ONLY: [&str; 3] = [
    "name-missing-in-view",
    "redundant-override",
    "generated-record-shadowed",
];

/// Runs the checks `scope` asks for, most severe first.
pub(crate) fn run(
    config: &Config,
    snapshot: &Snapshot,
    shadowed: &[Shadowed],
    scope: Scope,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    split::private_addresses_in_public_views(config, snapshot, &mut findings);
    exchange::autodiscover_srv_records(snapshot, &mut findings);
    exchange::wildcards_capturing_autodiscover(snapshot, &mut findings);
    exchange::apex_addresses_probed_by_outlook(config, snapshot, &mut findings);
    exchange::namespace_addresses(config, snapshot, &mut findings);
    exchange::zones_only_for_autodiscover_srv(config, snapshot, &mut findings);
    exchange::domains_without_autodiscover(config, snapshot, &mut findings);
    split::inside_views_without_ipv6(config, &mut findings);
    health::ttl_longer_than_the_checks(config, &mut findings);
    split::transfers_open_to_anyone(config, snapshot, &mut findings);
    split::serials_not_kept(config, snapshot, &mut findings);
    signing::signed_zones_served_unsigned(config, snapshot, &mut findings);
    signing::dnssec_records_in_signed_zones(config, snapshot, &mut findings);
    dane::tlsa_in_unsigned_zones(config, snapshot, &mut findings);
    tls::certificate(config, unix_now(), &mut findings);
    if scope == Scope::Serving {
        acknowledge(config, &mut findings, scope);
        return sorted(findings);
    }
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
    acknowledge(config, &mut findings, scope);
    sorted(findings)
}

/// Seconds since the Unix epoch: what the certificate checks compare dates with.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Most severe first, then by place; without repeats.
fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| (&a.file, a.line, &a.view).cmp(&(&b.file, b.line, &b.view)))
    });
    findings.dedup();
    findings
}

/// Marks the findings the config's `[[acknowledge]]` blocks accept (by check id and name), and
/// reports each block that accepts nothing — including one that names an error, which holds back
/// the data it is about and so cannot be accepted — among the checks that `scope` ran.
fn acknowledge(config: &Config, findings: &mut Vec<Finding>, scope: Scope) {
    let normal = |name: &str| name.trim_end_matches('.').to_ascii_lowercase();
    let mut unused = Vec::new();
    for ack in &config.acknowledgements {
        let name = normal(&ack.name.to_string());
        let mut matched = false;
        let mut error = false;
        for finding in findings
            .iter_mut()
            .filter(|f| f.id == ack.finding && f.name.as_deref().is_some_and(|n| normal(n) == name))
        {
            if finding.severity == Severity::Error {
                error = true;
            } else {
                finding.acknowledged = Some(ack.comment.clone());
                matched = true;
            }
        }
        let not_run = scope == Scope::Serving && INFORMATION_ONLY.contains(&ack.finding.as_str());
        if !matched && !not_run {
            let why = if error {
                "an error: errors hold back the data they are about and cannot be acknowledged"
            } else {
                "nothing: no such finding about that name (fixed, or mistyped?)"
            };
            unused.push(
                Finding::new(
                    "acknowledgement-unused",
                    Severity::Warning,
                    None,
                    Some(&SourceLoc {
                        file: std::sync::Arc::new(config.path.clone()),
                        line: ack.line,
                    }),
                    format!(
                        "[[acknowledge]] of {} for {} matches {why}",
                        ack.finding, ack.name
                    ),
                )
                .about(&ack.name),
            );
        }
    }
    findings.extend(unused);
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
