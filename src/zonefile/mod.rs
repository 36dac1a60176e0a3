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
pub(crate) use crate::located::{Located, SourceLoc};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct ZoneRecord {
    /// Absolute, in the case it was written.
    pub owner: Name,
    pub rtype: u16,
    pub ttl: u32,
    /// Uncompressed wire-format RDATA (short RDATA inline: no allocation per address record).
    pub rdata: crate::dns::rdata::Wire,
    pub loc: SourceLoc,
}

#[derive(Debug)]
pub struct ParsedZoneFile {
    /// In file order (an included file's records where its `$INCLUDE` stands).
    pub records: Vec<ZoneRecord>,
    /// The file itself, then every `$INCLUDE`d file as opened: what a watcher should watch.
    pub files: Vec<PathBuf>,
    /// The [`digest`] of each of `files` as read, in the same order.
    pub digests: Vec<u64>,
}

/// A digest of a file's bytes: a later load that reads the same bytes in every file of a zone
/// can take what was built from them. Not a defence against anyone: the files are the admin's.
pub(crate) fn digest(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    // Fixed seed: digests are compared across loads within one process.
    foldhash::quality::FixedState::with_seed(0x2f11e5).hash_one(bytes)
}

/// Reads and parses a zone file for the zone `origin`; `$INCLUDE` paths are relative to the
/// including file's directory. All errors found are returned (up to a cap), not just the first.
pub(crate) fn load_zone_file(path: &Path, origin: &Name) -> Result<ParsedZoneFile, Vec<Located>> {
    let whole_file = |message: String| {
        vec![Located {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message,
        }]
    };
    match std::fs::read(path) {
        Ok(bytes) => master::parse(
            edited_text(&bytes).map_err(whole_file)?,
            digest(&bytes),
            path,
            origin,
        ),
        Err(e) => Err(whole_file(format!("cannot read zone file: {e}"))),
    }
}

/// The bytes of a file an admin edits (a zone file or the config), ready to parse as UTF-8:
/// without the UTF-8 byte-order mark some Windows editors write, or an error for the whole file
/// when it is UTF-16. Notepad's "Unicode" is UTF-16; read as bytes, it puts a NUL after every
/// letter and turns each line into a baffling error (`unknown record type " n o r t h"`), so it
/// is refused once, saying what to do.
pub(crate) fn edited_text(bytes: &[u8]) -> Result<&[u8], String> {
    if is_utf16(bytes) {
        return Err("file is UTF-16 (Notepad's \"Unicode\"): save it as UTF-8".into());
    }
    Ok(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
}

/// UTF-16: a byte-order mark (FF FE little-endian, FE FF big-endian; neither can start UTF-8
/// text), or, without one, a NUL in most even or most odd positions of the first bytes (what
/// ASCII text looks like in UTF-16; config and zone text never holds a NUL).
fn is_utf16(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let sample = &bytes[..bytes.len().min(1024)];
    let pairs = sample.len() / 2;
    let nuls_at = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    pairs > 0 && (nuls_at(0) * 2 > pairs || nuls_at(1) * 2 > pairs)
}

/// Same as [`load_zone_file`] from text already in memory; `file` names it in messages and
/// locates `$INCLUDE`d files.
pub fn parse_zone_text(
    text: &str,
    file: &Path,
    origin: &Name,
) -> Result<ParsedZoneFile, Vec<Located>> {
    master::parse(text.as_bytes(), digest(text.as_bytes()), file, origin)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod encoding_tests {
    use super::edited_text;

    #[test]
    fn utf16_is_recognised_with_either_mark_or_none() {
        let text = "north A 203.0.113.80\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for bytes in [
            [&[0xFF, 0xFE][..], &le].concat(),
            [&[0xFE, 0xFF][..], &be].concat(),
            le.clone(),
            be.clone(),
            b"a\0".to_vec(),
        ] {
            assert!(
                edited_text(&bytes).unwrap_err().contains("UTF-16"),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn utf8_passes_without_its_mark() {
        assert_eq!(edited_text(b"").unwrap(), b"");
        assert_eq!(edited_text(b"a").unwrap(), b"a");
        assert_eq!(edited_text(b"\xEF\xBB\xBFa A 1\n").unwrap(), b"a A 1\n");
        // One stray NUL is a broken file, not UTF-16: the parser reports it where it is.
        assert_eq!(edited_text(b"a A 1\0\n").unwrap(), b"a A 1\0\n");
    }
}
