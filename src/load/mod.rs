//! The one loader behind `serve`, `check` and reload: config file → validated config → zone
//! files and `[[exchange]]` records → snapshot → checks. It decides once what may be served:
//! a config or zone file that does not load, or a check finding of severity error, refuses the
//! whole load — the same at start-up, at reload (the previous snapshot keeps serving) and in
//! `check`. Whoever calls it reports the errors; nothing here prints.

pub mod build;
pub mod checks;
pub mod exchange;
pub mod history;
pub mod serial;

use std::path::{Path, PathBuf};

use crate::config::{self, Config};
use crate::located::Located;
use crate::server::Published;
use crate::transfer::notify::Secondaries;
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
}

impl Loaded {
    /// The findings worth a warning at start-up (information is for `check`).
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// Keeps the served serials in the config's `state_dir`, so that a restart never serves a
    /// lower one. Called by `serve` once it serves this load (never by `check`); without a
    /// `state_dir`, nothing is written.
    pub fn save_serials(&self) -> Result<(), String> {
        let Some(dir) = &self.config.state_dir else {
            return Ok(());
        };
        serial::write_state(dir, &self.snapshot)
            .map_err(|e| format!("cannot keep the served serials in {}: {e}", dir.display()))
    }

    /// Each view's NOTIFY targets and the key that signs them (the view's first key).
    pub fn secondaries(&self) -> Vec<Secondaries> {
        self.config
            .views
            .iter()
            .map(|view| Secondaries {
                notify: view.notify.clone(),
                key: view
                    .keys
                    .first()
                    .map(|&index| self.config.keys[index].key.clone()),
            })
            .collect()
    }

    /// What the server answers from: the snapshot with each view's rate-limit policy.
    pub fn into_published(self) -> (Config, Published) {
        let rate_limits = self.config.views.iter().map(|v| v.rrl.clone()).collect();
        let published = Published {
            snapshot: self.snapshot,
            rate_limits,
        };
        (self.config, published)
    }
}

/// Reads the config and every zone it names, builds the snapshot to serve and checks it.
pub fn load(config_path: &Path) -> Result<Loaded, LoadError> {
    reload(config_path, None)
}

/// [`load`], comparing against the snapshot being served so that content changes without a serial
/// increase are noticed.
pub fn reload(config_path: &Path, previous: Option<&Snapshot>) -> Result<Loaded, LoadError> {
    let config = config::load(config_path).map_err(LoadError::Config)?;
    let (snapshot, notes) = build::snapshot(&config, previous).map_err(LoadError::Zones)?;
    let findings = checks::run(&config, &snapshot, &notes.shadowed);
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return Err(LoadError::Refused(findings));
    }
    Ok(Loaded {
        config,
        snapshot,
        serial: notes.serial,
        findings,
    })
}
