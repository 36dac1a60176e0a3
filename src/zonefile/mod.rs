//! Zone-file loading: RFC 1035 master files (with the BIND extensions every server accepts)
//! into records with uncompressed wire-format RDATA, each remembering where it was written,
//! and errors that point at `file:line`.
//!
//! We parse ourselves rather than use hickory-proto's reader because `check` must name the
//! line of every mistake and must never drop a line it does not understand.

mod lexer;
mod master;
pub mod rdata;

use crate::dns::name::Name;
pub use crate::located::{Located, SourceLoc};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct ZoneRecord {
    /// Absolute, in the case it was written.
    pub owner: Name,
    pub rtype: u16,
    pub ttl: u32,
    /// Uncompressed wire-format RDATA.
    pub rdata: Box<[u8]>,
    pub loc: SourceLoc,
}

#[derive(Debug)]
pub struct ParsedZoneFile {
    /// In file order (an included file's records where its `$INCLUDE` stands).
    pub records: Vec<ZoneRecord>,
    /// The file itself, then every `$INCLUDE`d file as opened: what a watcher should watch.
    pub files: Vec<PathBuf>,
}

/// Reads and parses a zone file for the zone `origin`; `$INCLUDE` paths are relative to the
/// including file's directory. All errors found are returned (up to a cap), not just the first.
pub fn load_zone_file(path: &Path, origin: &Name) -> Result<ParsedZoneFile, Vec<Located>> {
    match std::fs::read(path) {
        Ok(bytes) => master::parse(&bytes, path, origin),
        Err(e) => Err(vec![Located {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read zone file: {e}"),
        }]),
    }
}

/// Same as [`load_zone_file`] from text already in memory; `file` names it in messages and
/// locates `$INCLUDE`d files.
pub fn parse_zone_text(
    text: &str,
    file: &Path,
    origin: &Name,
) -> Result<ParsedZoneFile, Vec<Located>> {
    master::parse(text.as_bytes(), file, origin)
}

#[cfg(test)]
mod tests;
