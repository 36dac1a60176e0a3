//! `/status`: what the server is serving now, as JSON for tools and for `splitdns status`, and
//! the verdict a monitoring check gives on it ([`assess`]): OK, WARNING or CRITICAL, with one
//! summary line and the problems behind it. Field names are an API: add, never rename; fields
//! added since the first version default when absent, so `splitdns status` reads an older
//! server's answer too.
//!
//! The words for states are defined once, here ([`ZoneState`], [`NAME_STATES`]) and in
//! [`crate::reload::ReloadOutcome`]: the JSON, the metrics' labels, `splitdns status`, the page
//! and the docs all use them, so that a zone copy `stale` on the page is `stale` in the alert.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Control;
use crate::health::dane::State;
use crate::health::{self, Serving};
use crate::reload::{ReloadOutcome, ReloadRecord};

#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    /// When this report was made (Unix seconds; 0 from servers before it).
    #[serde(default)]
    pub unix_time: u64,
    pub uptime_seconds: u64,
    /// The DNS addresses served on (UDP and TCP).
    pub listen: Vec<SocketAddr>,
    /// This control listener's address.
    pub control: Option<SocketAddr>,
    pub views: Vec<ViewStatus>,
    /// The last reload since start (`null` before the first).
    pub last_reload: Option<ReloadRecord>,
    /// Every address of every health-checked name, per view.
    #[serde(default)]
    pub health_checks: Vec<CheckedAddress>,
    /// Every health-checked name (per view and type), and what it answers.
    #[serde(default)]
    pub checked_names: Vec<CheckedName>,
    /// Every DANE check: a signed view's TLSA RRset compared with what one address presents.
    #[serde(default)]
    pub dane_checks: Vec<DaneCheck>,
    /// The latest health events (addresses up and down, failovers, fail-open, DANE), oldest
    /// first.
    #[serde(default)]
    pub health_events: Vec<HealthEvent>,
    /// The monitoring verdict on all of the above (absent from servers before it).
    #[serde(default)]
    pub verdict: Option<Verdict>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ViewStatus {
    pub name: String,
    /// The client prefixes that select it.
    pub clients: Vec<String>,
    pub zones: Vec<ZoneStatus>,
}

/// A zone copy's state (one view's copy of one zone): `ZoneStatus::state`, the `state` label of
/// `splitdns_zone_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    Ok,
    /// Held back at the last start or reload (its files did not load, or the checks found an
    /// error in this view's copy): the previous data is served.
    Stale,
    /// Held back with no previous data: its names get SERVFAIL.
    Unavailable,
}

impl ZoneState {
    pub const ALL: [ZoneState; 3] = [ZoneState::Ok, ZoneState::Stale, ZoneState::Unavailable];

    /// The word: a JSON value and a metric label value, so never changed.
    pub fn word(self) -> &'static str {
        match self {
            ZoneState::Ok => "ok",
            ZoneState::Stale => "stale",
            ZoneState::Unavailable => "unavailable",
        }
    }

    /// The word and what it means, as people read it.
    pub fn phrase(self) -> &'static str {
        match self {
            ZoneState::Ok => "ok",
            ZoneState::Stale => "stale: held back, previous data served",
            ZoneState::Unavailable => "unavailable: held back, no previous data (SERVFAIL)",
        }
    }

    pub fn from_word(word: &str) -> Option<ZoneState> {
        ZoneState::ALL
            .into_iter()
            .find(|state| state.word() == word)
    }
}

/// Every copy `view` has of a zone, with its state: those served first (in the view's order),
/// then the unavailable ones. What `/status` and `/metrics` both read.
pub fn zone_copies(
    view: &crate::view::View,
) -> impl Iterator<Item = (String, ZoneState, Option<&crate::view::zone::ViewZone>)> {
    let served = view.zones.iter().map(|zone| {
        let held = view.failed.iter().any(|f| f.origin == zone.origin);
        let state = if held {
            ZoneState::Stale
        } else {
            ZoneState::Ok
        };
        (zone.origin.to_string(), state, Some(zone))
    });
    let unavailable = view
        .failed
        .iter()
        .filter(|f| !f.stale)
        .map(|f| (f.origin.to_string(), ZoneState::Unavailable, None));
    served.chain(unavailable)
}

/// A checked name's states (`CheckedName::state`, the `state` label of
/// `splitdns_checked_name_state`): the preferred site's up addresses; a later site's; every
/// address down and all answered; every address down and SERVFAIL.
pub const NAME_STATES: [&str; 4] = ["ok", "failed-over", "failing-open", "servfail"];

/// The word for what a checked name answers (one of [`NAME_STATES`]).
pub fn name_state(serving: &Serving) -> &'static str {
    match serving {
        Serving::Preferred => NAME_STATES[0],
        Serving::FailedOver { .. } => NAME_STATES[1],
        Serving::FailingOpen => NAME_STATES[2],
        Serving::AllDown => NAME_STATES[3],
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ZoneStatus {
    /// With the trailing dot.
    pub origin: String,
    /// A [`ZoneState`]'s word: "ok"; "stale" (held back at the last start or reload — its files
    /// did not load, or the checks found an error in this view's copy — and the previous data is
    /// served); or "unavailable" (held back with no previous data: its names get SERVFAIL).
    pub state: String,
    /// What is served (absent when unavailable).
    pub serial: Option<u32>,
    /// What the zone's files say; below `serial` when splitdns raised the served serial (the
    /// content changed without a serial increase, and the view has secondaries or
    /// `serial_policy = "bump"`).
    #[serde(default)]
    pub file_serial: Option<u32>,
    pub records: Option<usize>,
    /// For a copy served signed: when its first signature expires, and when that signature was
    /// due to be made anew (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures_expire: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures_refresh_due: Option<u64>,
    /// The files this view's copy was read from.
    pub files: Vec<PathBuf>,
    /// Why the zone is stale or unavailable, one `file:line: message` each.
    pub errors: Vec<String>,
}

/// One address of one health-checked name in one view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckedAddress {
    /// Without the final dot.
    pub name: String,
    pub view: String,
    /// "A" or "AAAA".
    #[serde(rename = "type")]
    pub rtype: String,
    /// The `[[exchange.site]]` listing it; empty when its block names no sites.
    pub site: String,
    pub address: std::net::IpAddr,
    pub port: u16,
    /// The check, e.g. `https://mail.contoso.com/owa/healthcheck.htm at 10.0.0.11:443`.
    pub check: String,
    /// "up", "down", or "unchecked" (no result yet: answered as up).
    pub state: String,
    /// Whether it is in the answers now (a down one is while its name fails open; an up one is
    /// not while its site is not the one answered).
    pub answered: bool,
    /// The last check's result: "check passed", or why it failed.
    pub reason: String,
    /// When the state last changed (or checking began), in seconds since the Unix epoch.
    pub since: u64,
    /// Failed checks in a row (below `fall` while still up).
    pub failures: u32,
    /// The certificate's expiry date (`YYYY-MM-DD`), for HTTPS checks that read one.
    pub certificate_expires: Option<String>,
    /// Whether that is within the check's `expiry_warning_days`.
    pub certificate_expiring: bool,
}

/// One health-checked name (one RRset) in one view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckedName {
    pub name: String,
    pub view: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// "ok" (the preferred site's up addresses), "failed-over" (a later site's), "failing-open"
    /// (every address down: all answered), or "servfail" (every address down: SERVFAIL).
    pub state: String,
    pub failing_open: bool,
    /// The view's preferred site, and the site answered now (empty without sites; the latter
    /// also when every address is down).
    pub preferred_site: String,
    pub answering_site: String,
    /// When `state` last changed, in seconds since the Unix epoch.
    pub since: u64,
}

/// One TLSA RRset of one view, compared with what one address of its host presents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaneCheck {
    /// The TLSA owner, `_25._tcp.mail.contoso.com`, without the final dot.
    pub name: String,
    pub view: String,
    pub address: std::net::IpAddr,
    pub port: u16,
    /// "smtp" when TLS starts with STARTTLS, "tls" when at once.
    pub starttls: String,
    /// "match", "mismatch" (no record matches: senders that validate DANE will not deliver),
    /// "no-usable-record", "failed" (the chain could not be had) or "unchecked".
    pub state: String,
    /// The record that matches, or why there is none.
    pub reason: String,
    /// When the state last changed, in seconds since the Unix epoch.
    pub since: u64,
    /// When the last check finished.
    pub checked: Option<u64>,
    /// The records published, as `3 1 1 <hex>`.
    pub records: Vec<String>,
    /// What the address presented at the last check, as the records that would match it: `3 1
    /// 1` for its certificate, `2 1 1` for the issuing CA's when the server sent it.
    pub presented: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthEvent {
    pub unix_time: u64,
    /// "info", "warning" or "critical".
    pub severity: String,
    /// The log line.
    pub message: String,
}

/// What a monitoring check makes of the status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// "OK", "WARNING" or "CRITICAL".
    pub status: String,
    /// The monitoring plugins' exit code: 0, 1 or 2.
    pub code: u8,
    /// `SPLITDNS <STATUS> - <what, counted>`.
    pub summary: String,
    /// Each problem, the worst first.
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    /// "WARNING" or "CRITICAL".
    pub severity: String,
    pub message: String,
}

pub fn report(control: &Control) -> Status {
    let published = control.state.load();
    let health = control.prober.report();
    let mut status = Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        uptime_seconds: control.started.elapsed().as_secs(),
        listen: control.listen.clone(),
        control: control.address,
        views: published
            .snapshot
            .views
            .iter()
            .map(|view| ViewStatus {
                name: view.name.clone(),
                clients: view.clients.iter().map(ToString::to_string).collect(),
                zones: zone_copies(view)
                    .map(|(origin, state, zone)| {
                        let errors = view
                            .failed
                            .iter()
                            .find(|f| f.origin.to_string() == origin)
                            .map(|f| f.errors.clone())
                            .unwrap_or_default();
                        ZoneStatus {
                            origin,
                            state: state.word().to_string(),
                            serial: zone.map(|z| z.serial),
                            file_serial: zone.map(|z| z.file_serial),
                            records: zone.map(|z| z.record_count),
                            signatures_expire: zone
                                .and_then(|z| z.signatures_expire)
                                .map(u64::from),
                            signatures_refresh_due: zone
                                .and_then(|z| z.signatures_refresh_due)
                                .map(u64::from),
                            files: zone.map(|z| z.files.clone()).unwrap_or_default(),
                            errors,
                        }
                    })
                    .collect(),
            })
            .collect(),
        last_reload: control.reload.last(),
        health_checks: health.addresses.iter().map(checked_address).collect(),
        checked_names: health.names.iter().map(checked_name).collect(),
        dane_checks: health.dane.iter().map(dane_check).collect(),
        health_events: health
            .events
            .iter()
            .map(|event| HealthEvent {
                unix_time: event.unix_time,
                severity: event.severity.name().to_string(),
                message: event.message.clone(),
            })
            .collect(),
        verdict: None,
    };
    status.verdict = Some(assess(&status));
    status
}

fn checked_address(report: &health::AddressReport) -> CheckedAddress {
    let state = match (report.checked, report.up) {
        (_, false) => "down",
        (false, true) => "unchecked",
        (true, true) => "up",
    };
    CheckedAddress {
        name: report.name.clone(),
        view: report.view.clone(),
        rtype: report.rtype.to_string(),
        site: report.site.clone(),
        address: report.target.address,
        port: report.target.probe.port,
        check: report.target.to_string(),
        state: state.to_string(),
        answered: report.answered,
        reason: report.reason.clone(),
        since: report.since,
        failures: report.failures,
        certificate_expires: report.not_after.map(health::cert::date),
        certificate_expiring: report.expiring,
    }
}

fn checked_name(report: &health::NameReport) -> CheckedName {
    let state = name_state(&report.serving);
    let answering = match &report.serving {
        Serving::Preferred => report.preferred_site.clone(),
        Serving::FailedOver { to, .. } => to.clone(),
        Serving::FailingOpen | Serving::AllDown => String::new(),
    };
    CheckedName {
        name: report.name.clone(),
        view: report.view.clone(),
        rtype: report.rtype.to_string(),
        state: state.to_string(),
        failing_open: report.serving == Serving::FailingOpen,
        preferred_site: report.preferred_site.clone(),
        answering_site: answering,
        since: report.since,
    }
}

fn dane_check(report: &health::dane::CheckReport) -> DaneCheck {
    let reason = match &report.state {
        State::Unchecked => "not checked yet".to_string(),
        State::Match(record) => format!("matches {record}"),
        State::Mismatch => "no record matches the presented certificate".to_string(),
        State::NoUsableRecord => {
            "no record is usable (usage 2 or 3, selector 0 or 1, matching type 0, 1 or 2)"
                .to_string()
        }
        State::Failed(reason) => reason.clone(),
    };
    DaneCheck {
        name: report.name.clone(),
        view: report.view.clone(),
        address: report.target.address,
        port: report.target.port,
        starttls: match report.target.opening {
            health::dane::Opening::SmtpStarttls => "smtp",
            health::dane::Opening::Tls => "tls",
        }
        .to_string(),
        state: report.state.word().to_string(),
        reason,
        since: report.since,
        checked: report.checked,
        records: report.records.iter().map(ToString::to_string).collect(),
        presented: report.presented.iter().map(ToString::to_string).collect(),
    }
}

/// How late a signature refresh may be before the verdict says so: a reload is a minute or so
/// at worst; an hour late, signing has stopped (a config that no longer loads, most likely).
const SIGNING_GRACE: u64 = 3600;

/// `n thing` or `n things`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The monitoring verdict: CRITICAL for a zone copy unavailable, a checked name failing open or
/// answering SERVFAIL, or a last reload refused; WARNING for a zone copy stale, an address down,
/// a name failed over to another site, a certificate expiring, a TLSA RRset that does not match
/// what its server presents (or cannot be compared), signatures not made anew when due (an hour
/// late: signing has stopped), or a last reload partial; else OK.
pub fn assess(status: &Status) -> Verdict {
    let mut critical: Vec<(String, Vec<String>)> = Vec::new();
    let mut warning: Vec<(String, Vec<String>)> = Vec::new();
    let overdue: Vec<String> = status
        .views
        .iter()
        .flat_map(|view| {
            view.zones.iter().filter_map(move |zone| {
                let due = zone.signatures_refresh_due?;
                (status.unix_time > 0 && due + SIGNING_GRACE < status.unix_time).then(|| {
                    format!(
                        "zone {} in view {}: signatures due to be made anew {} ago, the first expires {}",
                        zone.origin,
                        view.name,
                        duration(status.unix_time - due),
                        zone.signatures_expire
                            .map_or("soon".to_string(), crate::dns::time::utc)
                    )
                })
            })
        })
        .collect();
    if !overdue.is_empty() {
        warning.push((
            count(
                overdue.len(),
                "zone's signatures overdue",
                "zones' signatures overdue",
            ),
            overdue,
        ));
    }
    // `zone Z in view V: <the state's phrase>: <the first error>`.
    let zones = |state: ZoneState| -> Vec<String> {
        status
            .views
            .iter()
            .flat_map(|view| {
                view.zones
                    .iter()
                    .filter(move |zone| zone.state == state.word())
                    .map(move |zone| {
                        let why = zone
                            .errors
                            .first()
                            .map_or(String::new(), |e| format!(": {e}"));
                        format!(
                            "zone {} in view {}: {}{why}",
                            zone.origin,
                            view.name,
                            state.phrase()
                        )
                    })
            })
            .collect()
    };
    let unavailable = zones(ZoneState::Unavailable);
    if !unavailable.is_empty() {
        critical.push((
            format!(
                "{} unavailable (SERVFAIL)",
                count(unavailable.len(), "zone copy", "zone copies")
            ),
            unavailable,
        ));
    }
    // Checked names in `state`: how many distinct names, and one line per view.
    let names = |state: &str| -> (usize, Vec<String>) {
        let mut distinct: Vec<&str> = Vec::new();
        let mut views: Vec<(&str, Vec<&str>)> = Vec::new();
        for name in status.checked_names.iter().filter(|n| n.state == state) {
            if !distinct.contains(&name.name.as_str()) {
                distinct.push(&name.name);
            }
            match views.iter_mut().find(|(v, _)| *v == name.view) {
                Some((_, names)) if names.contains(&name.name.as_str()) => {}
                Some((_, names)) => names.push(&name.name),
                None => views.push((&name.view, vec![&name.name])),
            }
        }
        let lines = views
            .iter()
            .map(|(view, names)| format!("{} in view {view}", names.join(", ")))
            .collect();
        (distinct.len(), lines)
    };
    let (open, lines) = names("failing-open");
    if open > 0 {
        critical.push((
            format!(
                "{} failing open",
                count(open, "checked name", "checked names")
            ),
            lines
                .into_iter()
                .map(|n| format!("{n}: every address down, failing open (answering all of them)"))
                .collect(),
        ));
    }
    let (servfail, lines) = names("servfail");
    if servfail > 0 {
        critical.push((
            format!(
                "{} all down (SERVFAIL)",
                count(servfail, "checked name", "checked names")
            ),
            lines
                .into_iter()
                .map(|n| format!("{n}: every address down, answering SERVFAIL"))
                .collect(),
        ));
    }
    if let Some(reload) = &status.last_reload {
        let errors = count(reload.errors.len(), "error", "errors");
        let first = reload
            .errors
            .first()
            .map_or(String::new(), |e| format!(": {e}"));
        let outcome = reload.outcome();
        let problem = (
            format!("last reload {} ({errors})", outcome.word()),
            vec![format!(
                "last reload (on {}): {}{first}",
                reload.trigger,
                outcome.phrase()
            )],
        );
        match outcome {
            ReloadOutcome::Ok => {}
            ReloadOutcome::Partial => warning.push(problem),
            ReloadOutcome::Refused => critical.push(problem),
        }
    }
    let stale = zones(ZoneState::Stale);
    if !stale.is_empty() {
        warning.push((
            count(stale.len(), "zone copy stale", "zone copies stale"),
            stale,
        ));
    }
    // Each address once: its sites, the names it serves, why it is down.
    let mut down: Vec<(SocketAddr, Vec<&str>, Vec<&str>, &str)> = Vec::new();
    let mut expiring: Vec<String> = Vec::new();
    for check in &status.health_checks {
        let address = SocketAddr::new(check.address, check.port);
        if check.state == "down" {
            let at = match down.iter().position(|d| d.0 == address) {
                Some(at) => at,
                None => {
                    down.push((address, Vec::new(), Vec::new(), &check.reason));
                    down.len() - 1
                }
            };
            let (_, sites, names, _) = &mut down[at];
            if !check.site.is_empty() && !sites.contains(&check.site.as_str()) {
                sites.push(&check.site);
            }
            if !names.contains(&check.name.as_str()) {
                names.push(&check.name);
            }
        }
        if check.certificate_expiring {
            let line = format!(
                "{address} ({}): certificate expires {}",
                check.name,
                check.certificate_expires.as_deref().unwrap_or("soon")
            );
            if !expiring.contains(&line) {
                expiring.push(line);
            }
        }
    }
    let down: Vec<String> = down
        .into_iter()
        .map(|(address, sites, names, reason)| {
            let site = if sites.is_empty() {
                String::new()
            } else {
                format!("site {}: ", sites.join(", "))
            };
            format!("{address} ({site}{}) down: {reason}", names.join(", "))
        })
        .collect();
    if !down.is_empty() {
        warning.push((count(down.len(), "address down", "addresses down"), down));
    }
    let mut over: Vec<(&str, &str, &str, Vec<&str>)> = Vec::new();
    let mut over_names: Vec<&str> = Vec::new();
    for name in status
        .checked_names
        .iter()
        .filter(|n| n.state == "failed-over")
    {
        if !over_names.contains(&name.name.as_str()) {
            over_names.push(&name.name);
        }
        let key = (
            name.view.as_str(),
            name.preferred_site.as_str(),
            name.answering_site.as_str(),
        );
        match over.iter_mut().find(|o| (o.0, o.1, o.2) == key) {
            Some((.., names)) if names.contains(&name.name.as_str()) => {}
            Some((.., names)) => names.push(&name.name),
            None => over.push((key.0, key.1, key.2, vec![&name.name])),
        }
    }
    if !over.is_empty() {
        warning.push((
            format!(
                "{} failed over to another site",
                count(over_names.len(), "name", "names")
            ),
            over.into_iter()
                .map(|(view, from, to, names)| {
                    format!(
                        "{} in view {view}: site {from} down, answering site {to}",
                        names.join(", ")
                    )
                })
                .collect(),
        ));
    }
    if !expiring.is_empty() {
        warning.push((
            count(
                expiring.len(),
                "certificate expiring",
                "certificates expiring",
            ),
            expiring,
        ));
    }
    let dane = |states: &[&str]| -> Vec<String> {
        status
            .dane_checks
            .iter()
            .filter(|check| states.contains(&check.state.as_str()))
            .map(|check| {
                let presented = if check.state == "mismatch" && !check.presented.is_empty() {
                    format!("; it presents {}", check.presented.join(", "))
                } else {
                    String::new()
                };
                format!(
                    "{} (view {}) at {}: {}{presented}",
                    check.name,
                    check.view,
                    SocketAddr::new(check.address, check.port),
                    check.reason
                )
            })
            .collect()
    };
    let mismatched = dane(&["mismatch", "no-usable-record"]);
    if !mismatched.is_empty() {
        warning.push((
            count(mismatched.len(), "DANE mismatch", "DANE mismatches"),
            mismatched,
        ));
    }
    let failed = dane(&["failed"]);
    if !failed.is_empty() {
        warning.push((
            count(failed.len(), "DANE check failed", "DANE checks failed"),
            failed,
        ));
    }
    let (name, code) = if !critical.is_empty() {
        ("CRITICAL", 2)
    } else if !warning.is_empty() {
        ("WARNING", 1)
    } else {
        ("OK", 0)
    };
    let mut headlines: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for (severity, list) in [("CRITICAL", critical), ("WARNING", warning)] {
        for (headline, details) in list {
            headlines.push(headline);
            problems.extend(details.into_iter().map(|message| Problem {
                severity: severity.to_string(),
                message,
            }));
        }
    }
    let summary = if headlines.is_empty() {
        let copies: usize = status.views.iter().map(|v| v.zones.len()).sum();
        let mut text = format!(
            "{}, {} served",
            count(status.views.len(), "view", "views"),
            count(copies, "zone copy", "zone copies")
        );
        let mut addresses: Vec<(std::net::IpAddr, u16)> = status
            .health_checks
            .iter()
            .map(|c| (c.address, c.port))
            .collect();
        addresses.sort_unstable();
        addresses.dedup();
        if !addresses.is_empty() {
            text.push_str(&format!(
                ", {} up",
                count(addresses.len(), "checked address", "checked addresses")
            ));
        }
        let matching = status
            .dane_checks
            .iter()
            .filter(|check| check.state == "match")
            .count();
        if matching > 0 {
            text.push_str(&format!(
                ", {} matching",
                count(matching, "TLSA check", "TLSA checks")
            ));
        }
        text
    } else {
        headlines.join("; ")
    };
    Verdict {
        status: name.to_string(),
        code,
        summary: format!("SPLITDNS {name} - {summary}"),
        problems,
    }
}

/// Seconds as `1d2h`, `3h4m`, `5m6s` or `7s`.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A status of one signed zone copy, its signatures due to be made anew at `due`.
    fn signed_zone_status(now: u64, due: u64) -> Status {
        let json = format!(
            r#"{{"version":"0","unix_time":{now},"uptime_seconds":1,"listen":[],"control":null,
            "views":[{{"name":"external","clients":["0.0.0.0/0"],"zones":[{{"origin":"contoso.example.",
            "state":"ok","serial":1,"records":5,"files":[],"errors":[],
            "signatures_expire":{},"signatures_refresh_due":{due}}}]}}],"last_reload":null}}"#,
            due + 7 * 86400
        );
        serde_json::from_str(&json).expect("a status")
    }

    #[test]
    fn signatures_not_made_anew_an_hour_after_due_warn() {
        let now = 1_800_000_000;
        let on_time = assess(&signed_zone_status(now, now - 60));
        assert_eq!(on_time.status, "OK", "{on_time:?}");
        let overdue = assess(&signed_zone_status(now, now - 2 * 3600));
        assert_eq!(overdue.status, "WARNING", "{overdue:?}");
        assert!(
            overdue.summary.contains("1 zone's signatures overdue"),
            "{}",
            overdue.summary
        );
    }
}
