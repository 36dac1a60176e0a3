//! The one loader behind `serve`, `check` and reload: config file → validated config → snapshot.
//! Whoever calls it reports the errors; nothing here prints.

use std::path::Path;

use crate::config::{self, Config, ConfigError};
use crate::view::BuildNotes;
use crate::view::Snapshot;
use crate::zone::ZoneFileError;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{} error(s) in the config file", .0.len())]
    Config(Vec<ConfigError>),
    #[error("{} error(s) in zone data", .0.len())]
    Zones(Vec<ZoneFileError>),
}

/// One problem, whichever stage found it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Problem<'a> {
    pub file: &'a Path,
    pub line: u32,
    pub message: &'a str,
}

impl LoadError {
    /// Every problem with its file and line.
    pub fn problems(&self) -> Vec<Problem<'_>> {
        match self {
            LoadError::Config(errors) => errors
                .iter()
                .map(|e| Problem {
                    file: &e.file,
                    line: e.line,
                    message: &e.message,
                })
                .collect(),
            LoadError::Zones(errors) => errors
                .iter()
                .map(|e| Problem {
                    file: &e.file,
                    line: e.line,
                    message: &e.message,
                })
                .collect(),
        }
    }

    /// The files the errors point at.
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        self.problems()
            .iter()
            .map(|p| p.file.to_path_buf())
            .collect()
    }

    /// Each problem as a `file:line: message` line.
    pub fn lines(&self) -> Vec<String> {
        match self {
            LoadError::Config(errors) => errors.iter().map(ToString::to_string).collect(),
            LoadError::Zones(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Reads the config and every zone it names, and builds the snapshot to serve.
pub fn load(config_path: &Path) -> Result<(Config, Snapshot), LoadError> {
    let loaded = reload(config_path, None)?;
    Ok((loaded.config, loaded.snapshot))
}

/// What a reload produced: the new state, and the zones whose serial discipline needs a word.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub snapshot: Snapshot,
    pub notes: BuildNotes,
}

/// [`load`], comparing against the snapshot being served so that content changes without a serial
/// increase are noticed.
pub fn reload(config_path: &Path, previous: Option<&Snapshot>) -> Result<Loaded, LoadError> {
    let config = config::load(config_path).map_err(LoadError::Config)?;
    let (snapshot, notes) = Snapshot::build(&config, previous).map_err(LoadError::Zones)?;
    Ok(Loaded {
        config,
        snapshot,
        notes,
    })
}
