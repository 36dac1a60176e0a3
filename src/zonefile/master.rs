//! Master-file entries: the directives (`$ORIGIN`, `$TTL`, `$INCLUDE`) and record lines
//! `owner [ttl] [class] type rdata` (TTL and class in either order), with owner and TTL
//! inheritance, `$INCLUDE` nesting, and error collection that goes on past a bad line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lexer::{Entry, Lexer, Token};
use super::rdata::{self, text};
use super::{Located, ParsedZoneFile, SourceLoc, ZoneRecord};
use crate::dns::name::Name;
use crate::dns::rtype;

/// Enough to see what is wrong with a file, without flooding the terminal with the echoes of
/// one early mistake.
const MAX_ERRORS: usize = 100;
/// Deeper nesting is a mistake in practice; the cap also bounds the work one file can cause.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Parses `text`, the contents of `file` (whose bytes as read have the digest `digest`).
pub(super) fn parse(
    text: &[u8],
    digest: u64,
    file: &Path,
    zone_origin: &Name,
) -> Result<ParsedZoneFile, Vec<Located>> {
    let mut loader = Loader {
        zone_origin,
        records: Vec::new(),
        errors: Vec::new(),
        files: vec![file.to_path_buf()],
        digests: vec![digest],
        default_ttl: None,
        last_ttl: None,
        open_files: vec![identity(file)],
    };
    let state = FileState {
        path: Arc::new(file.to_path_buf()),
        origin: zone_origin.clone(),
        last_owner: None,
    };
    loader.parse_file(text, state, 0);
    if loader.errors.is_empty() {
        Ok(ParsedZoneFile {
            records: loader.records,
            files: loader.files,
            digests: loader.digests,
        })
    } else {
        Err(loader.errors)
    }
}

/// What is shared by a file and the files it includes.
struct Loader<'z> {
    zone_origin: &'z Name,
    records: Vec<ZoneRecord>,
    errors: Vec<Located>,
    files: Vec<PathBuf>,
    digests: Vec<u64>,
    /// `$TTL`, or the SOA's MINIMUM when the SOA had to supply one (as BIND does).
    default_ttl: Option<u32>,
    /// The last TTL written on a record: RFC 1035's default when there is no `$TTL`.
    last_ttl: Option<u32>,
    /// The files being read, outermost first, to refuse an `$INCLUDE` loop.
    open_files: Vec<PathBuf>,
}

/// What each file has of its own: an included file never changes its includer's origin
/// (RFC 1035 §5.1), nor, here, its current owner.
struct FileState {
    path: Arc<PathBuf>,
    origin: Name,
    last_owner: Option<Name>,
}

/// A path as the loop check compares it.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// RFC 2181 §8: a TTL with the top bit set is treated as zero; BIND loads such a file the same
/// way (with a warning), so refusing it would reject zones the other servers serve.
fn clamp_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX as u32 { 0 } else { ttl }
}

/// The class a token names, if it names one (RFC 3597 `CLASSnnn` included).
fn class_code(tok: &Token<'_>) -> Option<u16> {
    if tok.quoted {
        return None;
    }
    const NAMES: &[(&str, u16)] = &[
        ("IN", 1),
        ("CS", 2),
        ("CH", 3),
        ("CHAOS", 3),
        ("HS", 4),
        ("HESIOD", 4),
        ("NONE", 254),
    ];
    if let Some(&(_, code)) = NAMES.iter().find(|(n, _)| tok.is_word(n)) {
        return Some(code);
    }
    let digits = tok
        .text
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case(b"CLASS"))
        .map(|_| &tok.text[5..])?;
    rtype::parse_code(std::str::from_utf8(digits).ok()?)
}

impl Loader<'_> {
    fn stopped(&self) -> bool {
        self.errors.len() > MAX_ERRORS
    }

    fn error(&mut self, file: &Path, line: u32, message: impl Into<String>) {
        if self.stopped() {
            return;
        }
        self.errors.push(Located {
            file: file.to_path_buf(),
            line,
            column: 0,
            message: message.into(),
        });
        if self.errors.len() == MAX_ERRORS {
            self.errors.push(Located {
                file: file.to_path_buf(),
                line,
                column: 0,
                message: format!("too many errors ({MAX_ERRORS}); stopped reading here"),
            });
        }
    }

    fn parse_file(&mut self, text: &[u8], mut state: FileState, depth: usize) {
        let mut lexer = Lexer::new(text);
        let mut tokens = Vec::new();
        while let Some(entry) = lexer.next_entry(&mut tokens) {
            if self.stopped() {
                return;
            }
            match entry {
                Err(e) => self.error(&state.path, e.line, e.message),
                Ok(entry) if tokens[0].text.starts_with(b"$") && !tokens[0].quoted => {
                    self.directive(&mut state, entry, &tokens, depth)
                }
                Ok(entry) => self.record(&mut state, entry, &tokens),
            }
        }
    }

    fn directive(
        &mut self,
        state: &mut FileState,
        entry: Entry,
        tokens: &[Token<'_>],
        depth: usize,
    ) {
        let path = state.path.clone();
        let line = entry.line;
        let (keyword, args) = (&tokens[0], &tokens[1..]);
        if keyword.is_word("$GENERATE") {
            return self.error(&path, line, "$GENERATE is not supported");
        }
        let max_args = if keyword.is_word("$INCLUDE") { 2 } else { 1 };
        if let Some(extra) = args.get(max_args) {
            let name = String::from_utf8_lossy(keyword.text).to_uppercase();
            return self.error(
                &path,
                extra.line,
                format!("unexpected {} after {name}", extra.display()),
            );
        }
        if keyword.is_word("$ORIGIN") {
            let Some(tok) = args.first() else {
                return self.error(&path, line, "$ORIGIN needs a domain name");
            };
            match text::parse_name(tok, &state.origin) {
                Ok(origin) => state.origin = origin,
                Err(why) => {
                    self.error(&path, line, format!("bad $ORIGIN {}: {why}", tok.display()))
                }
            }
        } else if keyword.is_word("$TTL") {
            match args.first() {
                None => self.error(&path, line, "$TTL needs a TTL"),
                Some(tok) => match text::parse_ttl(tok.text).filter(|_| !tok.quoted) {
                    Some(ttl) => self.default_ttl = Some(clamp_ttl(ttl)),
                    None => self.error(&path, line, format!("bad $TTL {}", tok.display())),
                },
            }
        } else if keyword.is_word("$INCLUDE") {
            self.include(state, line, args, depth);
        } else {
            self.error(
                &path,
                line,
                format!("unknown directive {}", keyword.display()),
            );
        }
    }

    fn include(&mut self, state: &FileState, line: u32, args: &[Token<'_>], depth: usize) {
        let path = state.path.clone();
        let Some(file_tok) = args.first() else {
            return self.error(&path, line, "$INCLUDE needs a file name");
        };
        let Some(file_name) =
            text::decode_escapes(file_tok.text).and_then(|b| String::from_utf8(b).ok())
        else {
            return self.error(
                &path,
                line,
                format!("bad $INCLUDE file name {}", file_tok.display()),
            );
        };
        let origin = match args.get(1) {
            None => state.origin.clone(),
            Some(tok) => match text::parse_name(tok, &state.origin) {
                Ok(origin) => origin,
                Err(why) => {
                    return self.error(
                        &path,
                        line,
                        format!("bad $INCLUDE origin {}: {why}", tok.display()),
                    );
                }
            },
        };
        if depth + 1 > MAX_INCLUDE_DEPTH {
            let message = format!("$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep");
            return self.error(&path, line, message);
        }
        let target = path.parent().unwrap_or(Path::new("")).join(&file_name);
        let id = identity(&target);
        if self.open_files.contains(&id) {
            let message = format!("$INCLUDE loop: {} is already being read", target.display());
            return self.error(&path, line, message);
        }
        let bytes = match std::fs::read(&target) {
            Ok(bytes) => bytes,
            Err(e) => {
                let message = format!("cannot read included file {}: {e}", target.display());
                return self.error(&path, line, message);
            }
        };
        self.files.push(target.clone());
        self.digests.push(super::digest(&bytes));
        // A UTF-16 file is one error, the included file's own (line 0: the file as a whole).
        let bytes = match super::edited_text(&bytes) {
            Ok(text) => text,
            Err(message) => return self.error(&target, 0, message),
        };
        self.open_files.push(id);
        let inner = FileState {
            path: Arc::new(target),
            origin,
            last_owner: state.last_owner.clone(),
        };
        self.parse_file(bytes, inner, depth + 1);
        self.open_files.pop();
    }

    fn record(&mut self, state: &mut FileState, entry: Entry, tokens: &[Token<'_>]) {
        let path = state.path.clone();
        let line = entry.line;
        let mut rest = tokens;
        let owner = if entry.blank_owner {
            match &state.last_owner {
                Some(owner) => owner.clone(),
                None => return self.error(&path, line, "record has no owner name (the line starts with a blank and no record precedes it)"),
            }
        } else {
            let tok = &tokens[0];
            rest = &tokens[1..];
            match text::parse_name(tok, &state.origin) {
                Ok(owner) => owner,
                Err(why) => {
                    // Later blank-owner lines belong to this bad owner; check their data
                    // against a stand-in rather than report them as orphans.
                    state.last_owner = Some(self.zone_origin.clone());
                    return self.error(
                        &path,
                        line,
                        format!("bad owner name {}: {why}", tok.display()),
                    );
                }
            }
        };
        state.last_owner = Some(owner.clone());
        if !owner.is_subdomain_of(self.zone_origin) {
            let message = format!(
                "record owner \"{owner}\" is outside the zone origin {}",
                self.zone_origin
            );
            return self.error(&path, line, message);
        }

        let mut ttl = None;
        let mut class_seen = false;
        let type_tok = loop {
            let Some((tok, after)) = rest.split_first() else {
                return self.error(&path, line, format!("missing record type for {owner}"));
            };
            if !class_seen && let Some(class) = class_code(tok) {
                if class != 1 {
                    let class = String::from_utf8_lossy(tok.text);
                    return self.error(
                        &path,
                        tok.line,
                        format!("class {class} not supported (only IN)"),
                    );
                }
                class_seen = true;
            } else if ttl.is_none()
                && !tok.quoted
                && tok.text.first().is_some_and(u8::is_ascii_digit)
            {
                match text::parse_ttl(tok.text) {
                    Some(value) => {
                        // Recorded at once so that a later error on this line does not make
                        // the lines after it lose their inherited TTL too.
                        ttl = Some(clamp_ttl(value));
                        self.last_ttl = ttl;
                    }
                    None => {
                        return self.error(&path, tok.line, format!("bad TTL {}", tok.display()));
                    }
                }
            } else {
                rest = after;
                break tok;
            }
            rest = after;
        };
        let rtype = std::str::from_utf8(type_tok.text)
            .ok()
            .filter(|_| !type_tok.quoted)
            .and_then(rtype::from_mnemonic);
        let Some(rtype) = rtype else {
            return self.error(
                &path,
                type_tok.line,
                format!("unknown record type {}", type_tok.display()),
            );
        };
        if rtype::is_meta(rtype) {
            let message = format!(
                "type {} cannot appear in a zone file",
                rtype::mnemonic(rtype)
            );
            return self.error(&path, type_tok.line, message);
        }
        let rdata = match rdata::parse_rdata_tokens(rtype, rest, &state.origin) {
            Ok(rdata) => rdata,
            Err(e) => return self.error(&path, e.line.unwrap_or(line), e.message),
        };

        let ttl = match ttl {
            Some(ttl) => ttl,
            None => match self.default_ttl.or(self.last_ttl) {
                Some(ttl) => ttl,
                // RFC 1035 zones predate $TTL: BIND then takes the SOA's MINIMUM for the SOA,
                // and records after it inherit that until one states its own TTL (which they
                // then inherit in turn, RFC 1035 §5.1).
                None if rtype == rtype::SOA && rdata.len() >= 4 => {
                    let m = &rdata[rdata.len() - 4..];
                    let minimum = clamp_ttl(u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
                    self.last_ttl = Some(minimum);
                    minimum
                }
                None => {
                    let message = "no TTL for this record: give one, or set a default with $TTL";
                    return self.error(&path, line, message);
                }
            },
        };
        self.records.push(ZoneRecord {
            owner,
            rtype,
            ttl,
            rdata: crate::dns::rdata::tight(rdata),
            loc: SourceLoc { file: path, line },
        });
    }
}
