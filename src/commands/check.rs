//! `splitdns check`: load exactly as `serve` would, then run the Exchange and split-view checks.
//! Human-readable by default, JSON with `--format json`. Exit status 1 on any load error or
//! error finding, and on warnings with `--strict`.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::report_load_error;
use crate::checks::{self, Finding, Severity};
use crate::load;
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
    errors: Vec<load::Problem<'a>>,
    views: Vec<JsonView>,
    findings: &'a [Finding],
}

#[derive(Serialize)]
struct JsonView {
    name: String,
    zones: Vec<JsonZone>,
}

#[derive(Serialize)]
struct JsonZone {
    origin: String,
    serial: u32,
    records: usize,
}

pub fn run(config_path: &Path, strict: bool, format: Format) -> ExitCode {
    let loaded = load::reload(config_path, None);
    let (findings, views, errors) = match &loaded {
        Ok(loaded) => (
            checks::run(&loaded.config, &loaded.snapshot, &loaded.notes),
            json_views(&loaded.snapshot),
            vec![],
        ),
        Err(error) => (vec![], vec![], error.problems()),
    };
    let failing =
        |f: &&Finding| f.severity == Severity::Error || (strict && f.severity == Severity::Warning);
    let ok = loaded.is_ok() && !findings.iter().any(|f| failing(&f));
    match format {
        Format::Json => {
            let report = JsonReport {
                ok,
                config: config_path,
                errors,
                views,
                findings: &findings,
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("report serialises")
            );
        }
        Format::Human => match &loaded {
            Ok(loaded) => {
                println!("{}: loaded", config_path.display());
                print!("{}", describe(&loaded.snapshot));
                for finding in &findings {
                    println!("{finding}");
                }
                let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
                println!(
                    "{} error(s), {} warning(s), {} info{}",
                    count(Severity::Error),
                    count(Severity::Warning),
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

/// Views with their zones, serials and record counts.
fn describe(snapshot: &Snapshot) -> String {
    let mut text = String::new();
    for view in &snapshot.views {
        text.push_str(&format!("view {}:\n", view.name));
        for zone in &view.zones {
            text.push_str(&format!(
                "  {} serial {} ({} records)\n",
                zone.origin, zone.serial, zone.record_count
            ));
        }
    }
    text
}

fn json_views(snapshot: &Snapshot) -> Vec<JsonView> {
    snapshot
        .views
        .iter()
        .map(|view| JsonView {
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
