//! Where things were written, and the one error type for problems in the files an admin edits
//! (the config and the zone files): `file:line:column: message`, as `check`, start-up, reload
//! logs and `check --format json` all report it. Imports nothing of the project.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a record (or the config entry that generated it) was written: the file, shared by all
/// its records, and the line on which the record starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLoc {
    pub file: Arc<PathBuf>,
    pub line: u32,
}

/// A problem in a config or zone file. `line` is 0 when the file as a whole is meant (it could
/// not be read); `column` is 0 where the column is not known.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub struct Located {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Located {
    pub fn at(loc: &SourceLoc, message: String) -> Located {
        Located {
            file: loc.file.to_path_buf(),
            line: loc.line,
            column: 0,
            message,
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.as_os_str().is_empty() {
            return f.write_str(&self.message);
        }
        write!(f, "{}:", self.file.display())?;
        if self.line != 0 {
            write!(f, "{}:", self.line)?;
            if self.column != 0 {
                write!(f, "{}:", self.column)?;
            }
        }
        write!(f, " {}", self.message)
    }
}
