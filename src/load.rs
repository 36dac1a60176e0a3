//! The one loader behind `serve`, `check` and reload: config file → validated config → snapshot.
//! Whoever calls it reports the errors; nothing here prints.

use std::path::Path;

use crate::config::{self, Config, ConfigError};
use crate::view::Snapshot;
use crate::zone::ZoneFileError;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{} error(s) in the config file", .0.len())]
    Config(Vec<ConfigError>),
    #[error("{} error(s) in zone data", .0.len())]
    Zones(Vec<ZoneFileError>),
}

impl LoadError {
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
    let config = config::load(config_path).map_err(LoadError::Config)?;
    let snapshot = Snapshot::build(&config).map_err(LoadError::Zones)?;
    Ok((config, snapshot))
}
