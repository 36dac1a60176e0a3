//! `GET /`: one page an admin opens when the phone rings. Server-rendered HTML with its style
//! inline, no script and nothing fetched from elsewhere; it reloads itself every
//! [`REFRESH_SECONDS`]. It shows what `/status` says — the verdict, each view's zones with their
//! serials and state, every checked address by site, the checked names (failover, fail-open),
//! each TLSA RRset against what its server presents, the latest health events and the last
//! reload with its findings — and each view's query rate
//! over the last minute ([`super::rates`]). Every value that comes from the config, the zone files or a probe
//! is HTML-escaped ([`escape`]); the `Content-Security-Policy` the reply carries forbids scripts
//! in case one ever slipped through.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;

use super::Control;
use super::rates::ViewRate;
use super::status::{self, CheckedAddress, CheckedName, Status, ZoneState, duration};
use crate::reload::ReloadOutcome;

/// How often the page reloads itself.
pub const REFRESH_SECONDS: u32 = 10;

/// What the reply's `Content-Security-Policy` allows: the inline style, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--warn:#9a6700;--warn-bg:#fff8c5;--crit:#cf222e;--crit-bg:#ffebe9;--mute:#57606a;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;background:#f6f8fa}
header{padding:12px 20px;border-bottom:4px solid var(--line);background:#fff}
header.OK{border-color:var(--ok)}header.WARNING{border-color:#d4a72c;background:var(--warn-bg)}header.CRITICAL{border-color:var(--crit);background:var(--crit-bg)}
h1{margin:0;font-size:22px}h1 .state{padding:1px 10px;border-radius:4px;color:#fff;margin-right:8px}
.OK h1 .state{background:var(--ok)}.WARNING h1 .state{background:var(--warn)}.CRITICAL h1 .state{background:var(--crit)}
.meta{color:var(--mute);font-size:12px;margin-top:4px}
main{padding:12px 20px;display:grid;gap:14px}
.views{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:14px}
.rate{margin:0 0 6px}.rate b{font-size:20px}
.views section{overflow-x:auto;padding:10px}.views td,.views th{padding:3px;white-space:nowrap}.views td.err{white-space:normal}th.num{text-align:right}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 14px}
h2{font-size:15px;margin:0 0 8px}h3{font-size:14px;margin:10px 0 4px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:var(--mute);font-weight:600;border-bottom:1px solid var(--line);padding:3px 6px}
td{border-bottom:1px solid #eaeef2;padding:3px 6px;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.ok{background:var(--ok-bg);color:var(--ok)}.warn{background:var(--warn-bg);color:var(--warn)}.crit{background:var(--crit-bg);color:var(--crit)}.mute{background:#eaeef2;color:var(--mute)}
ul.problems,ul.findings{margin:6px 0 0;padding:0;list-style:none}ul.problems li,ul.findings li{margin:2px 0}ul.findings{color:var(--warn);font-size:12px}
td.when{white-space:nowrap;color:var(--mute)}
.err{color:var(--crit);font-size:12px}.small{color:var(--mute);font-size:12px}
.events td:first-child{white-space:nowrap}
"#;

/// The page.
pub fn render(control: &Control) -> String {
    let status = status::report(control);
    let (rates, window) = control.rates.now(&control.metrics);
    let verdict = status
        .verdict
        .clone()
        .unwrap_or_else(|| status::assess(&status));
    let now = unix_now();
    let mut page = String::with_capacity(16 * 1024);
    let headline = verdict
        .summary
        .split_once(" - ")
        .map_or(verdict.summary.as_str(), |(_, rest)| rest);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} — splitdns</title><style>{STYLE}</style></head><body>\
         <header class=\"{}\"><h1><span class=\"state\">{}</span>{}</h1>",
        escape(&verdict.status),
        escape(&verdict.status),
        escape(&verdict.status),
        escape(headline),
    );
    if !verdict.problems.is_empty() {
        page.push_str("<ul class=\"problems\">");
        for problem in &verdict.problems {
            let class = if problem.severity == "CRITICAL" {
                "crit"
            } else {
                "warn"
            };
            let _ = write!(
                page,
                "<li><span class=\"badge {class}\">{}</span> {}</li>",
                escape(&problem.severity),
                escape(&problem.message)
            );
        }
        page.push_str("</ul>");
    }
    let listen: Vec<String> = status.listen.iter().map(ToString::to_string).collect();
    let _ = write!(
        page,
        "<div class=\"meta\">splitdns {} · up {} · DNS on {} · {} UTC · refreshes every {REFRESH_SECONDS} s · \
         <a href=\"/status\">/status</a> (JSON) · <a href=\"/metrics\">/metrics</a></div></header><main>",
        escape(&status.version),
        duration(status.uptime_seconds),
        escape(&listen.join(", ")),
        clock(now),
    );
    views(&mut page, &status, &rates, window);
    health(&mut page, &status, now);
    dane(&mut page, &status, now);
    events(&mut page, &status, now);
    reload(&mut page, &status, now);
    page.push_str("</main></body></html>\n");
    page
}

fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {class}\">{}</span>", escape(text))
}

/// A badge with a tooltip: a state's word, and its phrase on hover.
fn badge_titled(class: &str, text: &str, title: &str) -> String {
    format!(
        "<span class=\"badge {class}\" title=\"{}\">{}</span>",
        escape(title),
        escape(text)
    )
}

fn views(page: &mut String, status: &Status, rates: &[ViewRate], window: std::time::Duration) {
    page.push_str("<div class=\"views\">");
    for view in &status.views {
        let rate = rates.iter().find(|r| r.view == view.name);
        let _ = write!(
            page,
            "<section><h2>View {} <span class=\"small\">clients {}</span></h2>",
            escape(&view.name),
            escape(&view.clients.join(", "))
        );
        match rate {
            Some(rate) => {
                let shares: Vec<String> = rate
                    .rcodes
                    .iter()
                    .map(|(rcode, share)| format!("{} {:.0}%", escape(rcode), share * 100.0))
                    .collect();
                let _ = write!(
                    page,
                    "<div class=\"rate\"><b>{:.1}</b> queries/s <span class=\"small\">over the last {} s{} · {} since start</span></div>",
                    rate.queries_per_second,
                    window.as_secs(),
                    if shares.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", shares.join(", "))
                    },
                    if rate.queries == 1 {
                        "1 query".to_string()
                    } else {
                        format!("{} queries", rate.queries)
                    }
                );
            }
            None => page.push_str("<div class=\"rate small\">no queries yet</div>"),
        }
        page.push_str(
            "<table><tr><th>zone</th><th class=\"num\" title=\"the SOA serial served\">serial</th><th class=\"num\" title=\"the SOA serial in the zone's files: splitdns serves one raised above it when the content changed without a serial increase and the view has secondaries or serial_policy = bump\">file serial</th><th class=\"num\">records</th></tr>",
        );
        for zone in &view.zones {
            let state = match ZoneState::from_word(&zone.state) {
                Some(ZoneState::Ok) => badge("ok", ZoneState::Ok.word()),
                Some(state @ ZoneState::Stale) => {
                    badge_titled("warn", state.word(), state.phrase())
                }
                Some(state @ ZoneState::Unavailable) => {
                    badge_titled("crit", state.word(), state.phrase())
                }
                None => badge("crit", &zone.state),
            };
            let number = |n: Option<u32>| n.map_or("—".to_string(), |n| n.to_string());
            let file = match (zone.serial, zone.file_serial) {
                (Some(served), Some(file)) if served == file => {
                    "<span class=\"small\">same</span>".to_string()
                }
                (Some(_), Some(file)) => format!(
                    "<span class=\"badge warn\" title=\"the served serial is raised above it\">{file}</span>"
                ),
                (_, file) => number(file),
            };
            let signed = zone.signatures_expire.map_or(String::new(), |expire| {
                format!(
                    " <span class=\"small\" title=\"DNSSEC: the first signature expires then; it is made anew well before\">signed until {}</span>",
                    crate::dns::time::utc(expire)
                )
            });
            let _ = write!(
                page,
                "<tr><td><code>{}</code> {state}{signed}</td><td class=\"num\">{}</td><td class=\"num\">{file}</td><td class=\"num\">{}</td></tr>",
                escape(&zone.origin),
                number(zone.serial),
                zone.records.map_or("—".to_string(), |n| n.to_string()),
            );
            for error in &zone.errors {
                let _ = write!(
                    page,
                    "<tr><td colspan=\"4\" class=\"err\"><code>{}</code></td></tr>",
                    escape(error)
                );
            }
        }
        page.push_str("</table></section>");
    }
    page.push_str("</div>");
}

/// One address as the page lists it: the names it serves, each with its views.
struct Address<'a> {
    check: &'a CheckedAddress,
    names: BTreeMap<&'a str, Vec<&'a str>>,
}

fn health(page: &mut String, status: &Status, now: u64) {
    if status.checked_names.is_empty() {
        return;
    }
    page.push_str("<section><h2>Health checks</h2><table><tr><th>names</th><th>view</th><th>answering</th><th>since</th></tr>");
    // The names a view checks alike (the namespace and autodiscover) share a row.
    let mut rows: Vec<(&CheckedName, Vec<&str>)> = Vec::new();
    for name in &status.checked_names {
        let alike = |row: &&mut (&CheckedName, Vec<&str>)| {
            let first = row.0;
            (
                &first.view,
                &first.rtype,
                &first.state,
                &first.answering_site,
                first.since,
            ) == (
                &name.view,
                &name.rtype,
                &name.state,
                &name.answering_site,
                name.since,
            )
        };
        match rows.iter_mut().find(alike) {
            Some((_, names)) => names.push(&name.name),
            None => rows.push((name, vec![&name.name])),
        }
    }
    for (name, names) in rows {
        let state = match name.state.as_str() {
            "ok" if name.preferred_site.is_empty() => badge("ok", "ok"),
            "ok" => badge("ok", &format!("site {}", name.preferred_site)),
            "failed-over" => badge(
                "warn",
                &format!(
                    "FAILED OVER to {} ({} down)",
                    name.answering_site, name.preferred_site
                ),
            ),
            "failing-open" => badge("crit", "FAILING OPEN: all down, all answered"),
            "servfail" => badge("crit", "ALL DOWN: SERVFAIL"),
            other => badge("mute", other),
        };
        let _ = write!(
            page,
            "<tr><td><code>{}</code> <span class=\"small\">{}</span></td><td>{}</td><td>{state}</td><td class=\"when\">{}</td></tr>",
            escape(&names.join(", ")),
            escape(&name.rtype),
            escape(&name.view),
            ago(name.since, now)
        );
    }
    page.push_str("</table>");
    // Each address once per site, with the names and views it serves.
    let mut sites: BTreeMap<&str, Vec<Address>> = BTreeMap::new();
    for check in &status.health_checks {
        let list = sites.entry(check.site.as_str()).or_default();
        let at = match list.iter().position(|a| {
            a.check.address == check.address
                && a.check.port == check.port
                && a.check.check == check.check
        }) {
            Some(at) => at,
            None => {
                list.push(Address {
                    check,
                    names: BTreeMap::new(),
                });
                list.len() - 1
            }
        };
        let views = list[at].names.entry(check.name.as_str()).or_default();
        if !views.contains(&check.view.as_str()) {
            views.push(check.view.as_str());
        }
    }
    for (site, addresses) in &sites {
        let _ = write!(
            page,
            "<h3>{}</h3><table><tr><th>address</th><th>state</th><th>result</th><th>since</th><th>certificate</th><th>serves</th></tr>",
            if site.is_empty() {
                "Addresses (no site)".to_string()
            } else {
                format!("Site {}", escape(site))
            }
        );
        for address in addresses {
            let check = address.check;
            let state = match check.state.as_str() {
                "up" => badge("ok", "up"),
                "down" => badge("crit", "DOWN"),
                other => badge("mute", other),
            };
            let certificate = match (&check.certificate_expires, check.certificate_expiring) {
                (Some(date), true) => badge("warn", &format!("expires {date}")),
                (Some(date), false) => {
                    format!("<span class=\"small\">until {}</span>", escape(date))
                }
                (None, _) => String::new(),
            };
            let serves: Vec<String> = address
                .names
                .iter()
                .map(|(name, views)| format!("{name} ({})", views.join(", ")))
                .collect();
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td>{state}</td><td>{}</td><td class=\"when\">{}</td><td>{certificate}</td><td class=\"small\">{}</td></tr>",
                escape(&SocketAddr::new(check.address, check.port).to_string()),
                escape(&check.reason),
                ago(check.since, now),
                escape(&serves.join("; ")),
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

/// Each TLSA RRset at each address: its state, and on a mismatch what the server presents (the
/// record to publish).
fn dane(page: &mut String, status: &Status, now: u64) {
    if status.dane_checks.is_empty() {
        return;
    }
    page.push_str("<section><h2>DANE</h2><table><tr><th>TLSA</th><th>view</th><th>address</th><th>state</th><th>result</th><th>since</th></tr>");
    for check in &status.dane_checks {
        let state = match check.state.as_str() {
            "match" => badge("ok", "match"),
            "mismatch" => badge("crit", "MISMATCH"),
            "no-usable-record" => badge("warn", "NO USABLE RECORD"),
            "failed" => badge("warn", "NOT CHECKED"),
            other => badge("mute", other),
        };
        let presented = if check.state == "match" || check.presented.is_empty() {
            String::new()
        } else {
            format!(
                "<div class=\"small\">presents <code>{}</code></div>",
                escape(&check.presented.join(", "))
            )
        };
        let _ = write!(
            page,
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code>{}</td><td>{state}</td><td>{}{presented}</td><td class=\"when\">{}</td></tr>",
            escape(&check.name),
            escape(&check.view),
            escape(&SocketAddr::new(check.address, check.port).to_string()),
            if check.starttls == "smtp" {
                " <span class=\"small\">STARTTLS</span>"
            } else {
                ""
            },
            escape(&check.reason),
            ago(check.since, now),
        );
    }
    page.push_str("</table></section>");
}

fn events(page: &mut String, status: &Status, now: u64) {
    if status.health_events.is_empty() {
        return;
    }
    page.push_str("<section><h2>Health events</h2><table class=\"events\">");
    for event in status.health_events.iter().rev() {
        let class = match event.severity.as_str() {
            "critical" => "crit",
            "warning" => "warn",
            _ => "ok",
        };
        let _ = write!(
            page,
            "<tr><td class=\"when\">{}</td><td>{}</td><td>{}</td></tr>",
            ago(event.unix_time, now),
            badge(class, &event.severity),
            escape(&event.message)
        );
    }
    page.push_str("</table></section>");
}

fn reload(page: &mut String, status: &Status, now: u64) {
    page.push_str("<section><h2>Last reload</h2>");
    match &status.last_reload {
        None => page.push_str("<div class=\"small\">none since start</div>"),
        Some(reload) => {
            let outcome = reload.outcome();
            let class = match outcome {
                ReloadOutcome::Ok => "ok",
                ReloadOutcome::Partial => "warn",
                ReloadOutcome::Refused => "crit",
            };
            let state = badge(class, outcome.phrase());
            let _ = write!(
                page,
                "<div>{state} on {}, {}, took {:.1} ms</div>",
                escape(&reload.trigger),
                ago(reload.unix_time, now),
                reload.seconds * 1000.0
            );
            if !reload.errors.is_empty() {
                page.push_str("<ul class=\"problems\">");
                for error in &reload.errors {
                    let _ = write!(
                        page,
                        "<li class=\"err\"><code>{}</code></li>",
                        escape(error)
                    );
                }
                page.push_str("</ul>");
            }
            if !reload.findings.is_empty() {
                page.push_str("<ul class=\"findings\">");
                for finding in &reload.findings {
                    let _ = write!(page, "<li><code>{}</code></li>", escape(finding));
                }
                page.push_str("</ul>");
            }
            let _ = write!(
                page,
                "<div class=\"small\">serving: {}</div>",
                escape(&reload.serving)
            );
        }
    }
    page.push_str("</section>");
}

/// `5m6s ago`, with the UTC time as a tooltip.
fn ago(unix_time: u64, now: u64) -> String {
    format!(
        "<span title=\"{} UTC\">{} ago</span>",
        clock(unix_time),
        duration(now.saturating_sub(unix_time))
    )
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
fn clock(unix_time: u64) -> String {
    let seconds = i64::try_from(unix_time).unwrap_or(0);
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        crate::health::cert::date(seconds),
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::{clock, escape};

    #[test]
    fn escapes_what_html_reads_as_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("mail.contoso.example"), "mail.contoso.example");
    }

    #[test]
    fn clock_is_utc() {
        assert_eq!(clock(0), "1970-01-01 00:00:00");
        assert_eq!(clock(1_793_491_200 + 3723), "2026-11-01 01:02:03");
    }
}
