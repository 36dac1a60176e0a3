//! The subcommands. `serve` runs the server; `check`, `explain`, `diff` and `secondary-config`
//! load through the same loader as `serve` and print a report, opening no socket; `status` and
//! `reload` ask the running server through its control listener ([`control`]); `tlsa` asks a
//! TLS server for its certificate chain, reading no config. They return the
//! process exit status; `main` only dispatches.
//! load through the same loader as `serve` and print a report, opening no socket; `dnssec ds`
//! and `dnssec status` read the config and the signed zones' key files; `status` and `reload`
//! ask the running server through its control listener ([`control`]). They return the process
//! exit status; `main` only dispatches.

pub mod check;
pub mod control;
pub mod diff;
pub mod dnssec;
pub mod explain;
pub mod secondary;
pub mod serve;
pub mod tlsa;

use crate::config::Config;
use crate::load::LoadError;
use crate::zonefile::SourceLoc;

/// Prints load errors, one `file:line: message` per line, on stderr.
pub fn report_load_error(error: &LoadError) {
    for line in error.lines() {
        eprintln!("{line}");
    }
}

/// Where a record came from, in words: the shared file, a view's override file, an included
/// file, or an `[[exchange]]` block.
pub fn describe_source(config: &Config, loc: &SourceLoc) -> String {
    let place = format!("{}:{}", loc.file.display(), loc.line);
    if *loc.file == config.path {
        return format!("[[exchange]] block, {place}");
    }
    for zone in &config.zones {
        if *loc.file == zone.file {
            return format!("shared file {place}");
        }
        if let Some((view, _)) = zone.overrides.iter().find(|(_, path)| *loc.file == *path) {
            return format!("override for view {}, {place}", config.views[*view].name);
        }
    }
    format!("included file {place}")
}

#[cfg(test)]
mod tests;
