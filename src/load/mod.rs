//! The one loader behind `serve`, `check` and reload: config file → validated config → zone
//! files and `[[exchange]]` records → snapshot → checks. It decides once what may be served:
//!
//! - a config file that does not load, or a check finding of severity error, refuses the whole
//!   load — at start-up, at reload (the previous snapshot keeps serving) and in `check`;
//! - a zone whose files do not load refuses the whole load in `check` ([`load`]) and when the
//!   config says `all_or_nothing = true`; otherwise, to serve ([`reload`]), only that zone (or
//!   that view's copy, when only its override is broken) is held back: it keeps the previous
//!   snapshot's data, or without any is not served (SERVFAIL), while every other zone's changes
//!   are published. Each such zone is named in [`Loaded::zone_failures`].
//!
//! It is pure: a config and files in, a snapshot and findings out. It imports nothing of the
//! runtime (listeners, counters, resolvers, NOTIFY, the health prober); what a load needs to be
//! served is added when it is published (`crate::reload::publish`). Whoever calls it reports the
//! errors; nothing here prints.

pub mod build;
pub mod checks;
pub mod exchange;
pub mod health;
pub mod history;
pub mod serial;

use std::path::{Path, PathBuf};

use crate::config::{self, Config};
use crate::located::Located;
use crate::view::Snapshot;
use checks::{Finding, Severity};
use serial::SerialNotice;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{} error(s) in the config file", .0.len())]
    Config(Vec<Located>),
    #[error("{} error(s) in zone data", .0.len())]
    Zones(Vec<Located>),
    /// The data loaded, but a check found what must not be served. Holds every finding (errors
    /// first), so that `check` can still show the warnings.
    #[error("{} check error(s): not served", .0.iter().filter(|f| f.severity == Severity::Error).count())]
    Refused(Vec<Finding>),
}

impl LoadError {
    /// Every problem with its file and line: the load errors, or the refusing findings.
    pub fn problems(&self) -> Vec<Located> {
        match self {
            LoadError::Config(errors) | LoadError::Zones(errors) => errors.clone(),
            LoadError::Refused(findings) => findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| Located {
                    file: f.file.clone().unwrap_or_default(),
                    line: f.line.unwrap_or(0),
                    column: 0,
                    message: f.headline(),
                })
                .collect(),
        }
    }

    /// The files the errors point at.
    pub fn files(&self) -> Vec<PathBuf> {
        self.problems().into_iter().map(|p| p.file).collect()
    }

    /// Each problem as a `file:line: message` line.
    pub fn lines(&self) -> Vec<String> {
        self.problems().iter().map(ToString::to_string).collect()
    }
}

/// What a load produced: the state to serve, and what it is worth telling the admin.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub snapshot: Snapshot,
    /// Zones whose content changed on reload without a serial increase.
    pub serial: Vec<SerialNotice>,
    /// Warnings and information from the checks (none of severity error: those refuse).
    pub findings: Vec<Finding>,
    /// Zones held back because their files did not load (only when loading to serve).
    pub zone_failures: Vec<build::ZoneFailure>,
    /// The health checks to run for this snapshot (none: an empty plan).
    pub health: crate::health::Plan,
}

impl Loaded {
    /// The findings worth a warning at start-up (information is for `check`).
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// Keeps the served serials in the config's `state_dir`, so that a restart never serves a
    /// lower one. Called when this load is published (never by `check`); without a
    /// `state_dir`, nothing is written.
    pub fn save_serials(&self) -> Result<(), String> {
        let Some(dir) = &self.config.state_dir else {
            return Ok(());
        };
        serial::write_state(dir, &self.snapshot)
            .map_err(|e| format!("cannot keep the served serials in {}: {e}", dir.display()))
    }
}

/// Reads the config and every zone it names, builds the snapshot and checks it; any file that
/// does not load refuses the load (what `check` judges).
pub fn load(config_path: &Path) -> Result<Loaded, LoadError> {
    run(config_path, None, Purpose::Check, &[])
}

/// Loads to serve, at start-up (`previous` = `None`) or on reload: a zone whose files do not
/// load is held back on its own (see the module's rule) unless the config says
/// `all_or_nothing = true`. With the snapshot being served, content changes without a serial
/// increase are noticed.
pub fn reload(config_path: &Path, previous: Option<&Snapshot>) -> Result<Loaded, LoadError> {
    run(config_path, previous, Purpose::Serve, &[])
}

/// [`reload`] without reading the `unfinished` files (a writer still has them open), each named
/// by the error that says why: a zone that reads one is held back as if it did not load, and
/// the config among them refuses the load.
pub fn reload_without(
    config_path: &Path,
    previous: Option<&Snapshot>,
    unfinished: &[Located],
) -> Result<Loaded, LoadError> {
    run(config_path, previous, Purpose::Serve, unfinished)
}

/// What a load is for: the two differ in what a broken zone file does and in how much is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// `check`: any file that does not load refuses the load, and every check runs.
    Check,
    /// Start-up and reload: a broken zone is held back on its own (unless the config says
    /// `all_or_nothing`), and only the checks that can refuse or warn run.
    Serve,
}

fn run(
    config_path: &Path,
    previous: Option<&Snapshot>,
    purpose: Purpose,
    unfinished: &[Located],
) -> Result<Loaded, LoadError> {
    if let Some(config_file) = build::unfinished_file(unfinished, config_path) {
        return Err(LoadError::Config(vec![config_file.clone()]));
    }
    let config = config::load(config_path).map_err(LoadError::Config)?;
    let (mut snapshot, notes, zone_failures) =
        build::snapshot(&config, previous, unfinished).map_err(LoadError::Zones)?;
    if !zone_failures.is_empty() && (purpose == Purpose::Check || config.all_or_nothing) {
        let mut errors: Vec<Located> = zone_failures
            .into_iter()
            .flat_map(|failure| failure.errors)
            .collect();
        // One message per problem, even when the same shared file fails in every view.
        errors.dedup();
        return Err(LoadError::Zones(errors));
    }
    let health = health::plan(&config, &mut snapshot).map_err(LoadError::Config)?;
    let scope = match purpose {
        Purpose::Check => checks::Scope::Everything,
        Purpose::Serve => checks::Scope::Serving,
    };
    let findings = checks::run(&config, &snapshot, &notes.shadowed, scope);
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return Err(LoadError::Refused(findings));
    }
    Ok(Loaded {
        config,
        snapshot,
        serial: notes.serial,
        findings,
        zone_failures,
        health,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled example with its namespace zone broken on reload: that zone and the zone
    /// synthesised from it (fabrikam's Autodiscover SRV, which copies its SOA and NS) keep their
    /// previous data in both views; `load` (what `check` runs) refuses the same files.
    #[test]
    fn a_broken_namespace_zone_keeps_itself_and_its_synthesised_zone() {
        let dir =
            std::env::temp_dir().join(format!("splitdns-load-isolation-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
        for entry in std::fs::read_dir(&zones).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        let config = dir.join("splitdns.toml");
        let first = reload(&config, None).unwrap();
        assert!(first.zone_failures.is_empty());
        let shared = dir.join("contoso.example.zone");
        let text = std::fs::read_to_string(&shared).unwrap();
        std::fs::write(&shared, format!("{text}\nbroken A 300.0.0.1\n")).unwrap();

        let second = reload(&config, Some(&first.snapshot)).unwrap();
        let failed: Vec<String> = second
            .zone_failures
            .iter()
            .map(|f| f.origin.to_string())
            .collect();
        assert_eq!(
            failed,
            ["contoso.example.", "_autodiscover._tcp.fabrikam.example."]
        );
        for view in &second.snapshot.views {
            for origin in ["contoso.example.", "_autodiscover._tcp.fabrikam.example."] {
                let before = first.snapshot.views[0]
                    .zones
                    .iter()
                    .find(|z| z.origin.to_string() == origin)
                    .map(|z| z.serial);
                let kept = view.zones.iter().find(|z| z.origin.to_string() == origin);
                assert_eq!(kept.map(|z| z.serial), before, "{origin} in {}", view.name);
                assert!(
                    view.failed
                        .iter()
                        .any(|f| f.origin.to_string() == origin && f.stale),
                    "{origin} not marked stale in {}",
                    view.name
                );
            }
            assert_eq!(view.zones.len(), 2, "no zone twice in {}", view.name);
        }
        assert!(matches!(load(&config), Err(LoadError::Zones(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
