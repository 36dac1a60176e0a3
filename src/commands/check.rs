//! `splitdns check`: load exactly as `serve` would, then run the Exchange and split-view checks,
//! and foresee what would stop `serve` once loaded (a query log it cannot open). Human-readable
//! by default, JSON with `--format json`. Exit status 1 on any load error, error finding or
//! foreseen problem, and on warnings with `--strict`.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::report_load_error;
use crate::config::Config;
use crate::load::checks::{Finding, Severity};
use crate::load::{self, LoadError};
use crate::located::Located;
use crate::observe::querylog;
use crate::view::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    config: &'a Path,
    errors: Vec<Located>,
    views: Vec<JsonView>,
    findings: &'a [Finding],
}

#[derive(Serialize)]
struct JsonView {
    name: String,
    zones: Vec<JsonZone>,
    /// Whether names outside the view's zones are forwarded.
    recursion: bool,
    /// The view's forwarders, in order.
    forwarders: Vec<String>,
    /// Conditional forwarders: zone → servers.
    forward_zones: Vec<(String, Vec<String>)>,
}

#[derive(Serialize)]
struct JsonZone {
    origin: String,
    serial: u32,
    records: usize,
}

pub fn run(config_path: &Path, strict: bool, format: Format) -> ExitCode {
    let loaded = load::load(config_path);
    // What would stop `serve` after a load that passes, as far as it can be told without
    // opening the server's sockets: the config's rules already refuse a state_dir it cannot use.
    let foreseen: Vec<Located> = match &loaded {
        Ok(loaded) => foresee(&loaded.config),
        Err(_) => Vec::new(),
    };
    // Findings of severity error refuse the load here (a start or reload holds back only the
    // view's copy of the zone each is about, unless all_or_nothing): they are reported with the
    // warnings, as findings.
    let (findings, views, errors): (&[Finding], _, _) = match &loaded {
        Ok(loaded) => (
            &loaded.findings,
            json_views(&loaded.snapshot),
            foreseen.clone(),
        ),
        Err(LoadError::Refused(findings)) => (findings, vec![], vec![]),
        Err(error) => (&[], vec![], error.problems()),
    };
    let ok = loaded.is_ok()
        && foreseen.is_empty()
        && !(strict && findings.iter().any(Finding::fails_strict));
    match format {
        Format::Json => {
            let report = JsonReport {
                ok,
                config: config_path,
                errors,
                views,
                findings,
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("report serialises")
            );
        }
        Format::Human => match &loaded {
            Ok(_) | Err(LoadError::Refused(_)) => {
                match &loaded {
                    Ok(loaded) => {
                        println!("{}: loaded", config_path.display());
                        print!("{}", describe(&loaded.snapshot));
                        print!("{}", describe_health(&loaded.health));
                    }
                    Err(error) => println!("{}: {error}", config_path.display()),
                }
                for finding in findings {
                    println!("{finding}");
                }
                for problem in &foreseen {
                    println!("{problem}");
                }
                let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
                let acknowledged = findings
                    .iter()
                    .filter(|f| f.severity == Severity::Warning && f.acknowledged.is_some())
                    .count();
                println!(
                    "{} error(s), {} warning(s){}, {} info{}",
                    count(Severity::Error) + foreseen.len(),
                    count(Severity::Warning),
                    if acknowledged > 0 {
                        format!(" ({acknowledged} acknowledged)")
                    } else {
                        String::new()
                    },
                    count(Severity::Info),
                    if strict {
                        " (--strict: warnings fail)"
                    } else {
                        ""
                    }
                );
            }
            Err(error) => {
                report_load_error(error);
                eprintln!("{}: {error}", config_path.display());
            }
        },
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The problems `serve` would stop at after loading `config`: a query log it cannot open (its
/// directory missing, or not writable), at the `[query_log] path` line.
fn foresee(config: &Config) -> Vec<Located> {
    let Some(log) = &config.query_log else {
        return Vec::new();
    };
    match querylog::foresee(&log.path) {
        Ok(()) => Vec::new(),
        Err(e) => vec![log.located(format!("{e}; `serve` would not start"))],
    }
}

fn addresses(list: &[std::net::SocketAddr]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// Views with their recursion setting, zones, serials and record counts.
fn describe(snapshot: &Snapshot) -> String {
    let mut text = String::new();
    for view in &snapshot.views {
        text.push_str(&format!("view {}:\n", view.name));
        match &view.recursion {
            None => text.push_str("  recursion off (names outside its zones: REFUSED)\n"),
            Some(recursion) => {
                text.push_str(&format!(
                    "  recursion on: forwarders {}\n",
                    if recursion.forwarders.is_empty() {
                        "none".to_string()
                    } else {
                        addresses(&recursion.forwarders).join(", ")
                    }
                ));
                for zone in &recursion.zones {
                    text.push_str(&format!(
                        "  forward {} to {}\n",
                        zone.origin,
                        addresses(&zone.to).join(", ")
                    ));
                }
            }
        }
        for zone in &view.zones {
            text.push_str(&format!(
                "  {} serial {} ({} records)\n",
                zone.origin, zone.serial, zone.record_count
            ));
        }
    }
    text
}

/// Each health-checked name with its view and the checks of its addresses (`check` runs none).
fn describe_health(plan: &crate::health::Plan) -> String {
    let mut text = String::new();
    for slot in &plan.slots {
        let targets: Vec<String> = slot
            .targets
            .iter()
            .map(|&t| plan.targets[t].to_string())
            .collect();
        text.push_str(&format!(
            "health-checked {} in view {}: {}\n",
            slot.name,
            slot.view,
            targets.join(", ")
        ));
    }
    text
}

fn json_views(snapshot: &Snapshot) -> Vec<JsonView> {
    snapshot
        .views
        .iter()
        .map(|view| JsonView {
            recursion: view.recursion.is_some(),
            forwarders: view
                .recursion
                .as_ref()
                .map_or_else(Vec::new, |r| addresses(&r.forwarders)),
            forward_zones: view.recursion.as_ref().map_or_else(Vec::new, |r| {
                r.zones
                    .iter()
                    .map(|z| (z.origin.to_string(), addresses(&z.to)))
                    .collect()
            }),
            name: view.name.clone(),
            zones: view
                .zones
                .iter()
                .map(|z| JsonZone {
                    origin: z.origin.to_string(),
                    serial: z.serial,
                    records: z.record_count,
                })
                .collect(),
        })
        .collect()
}
