//! Zone-file loading end to end, one topic a module: `syntax` (directives, TTL and owner
//! inheritance, quoting), `errors` (what is refused and where it is reported), `files`
//! (`$INCLUDE` and reading from disk), `types` (every supported type against its RFC, and
//! random edits of them), `corpus` (other servers' test zones, and parse speed). What they share,
//! the parse and summary helpers, is here.

mod corpus;
mod errors;
mod files;
mod syntax;
mod types;

use std::fmt::Write as _;
use std::path::Path;

use super::rdata::{parse_rdata_text, rdata_to_text};
use super::*;
use crate::dns::rtype::{self, *};

fn n(text: &str) -> Name {
    Name::parse(text, None).unwrap()
}

fn parse(text: &str) -> Result<ParsedZoneFile, Vec<Located>> {
    parse_zone_text(text, Path::new("zones/x.zone"), &n("contoso.example."))
}

fn records(text: &str) -> Vec<ZoneRecord> {
    match parse(text) {
        Ok(parsed) => parsed.records,
        Err(errors) => panic!("unexpected errors: {errors:#?}"),
    }
}

/// The errors as `file:line: message` lines.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(parsed) => panic!("expected errors, got {} records", parsed.records.len()),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// (owner, type, ttl, rdata text, line) for compact assertions.
fn summary(records: &[ZoneRecord]) -> Vec<(String, String, u32, String, u32)> {
    records
        .iter()
        .map(|r| {
            (
                r.owner.to_string(),
                rtype::mnemonic(r.rtype).into_owned(),
                r.ttl,
                rdata_to_text(r.rtype, &r.rdata),
                r.loc.line,
            )
        })
        .collect()
}

const SOA: &str = "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n";

fn hex(data: &[u8]) -> String {
    data.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
