//! Where in the config file a value is written: byte spans turned into `file:line:column`, the
//! [`Context`] every section's validation reports into, and the unknown keys, which serde_ignored
//! reports as a path without a position and which are therefore looked up again in the parsed
//! document.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::file;
use crate::located::Located;

/// The config text and the path it was read from.
#[derive(Clone, Copy)]
pub(super) struct Locator<'a> {
    pub text: &'a str,
    pub path: &'a Path,
}

impl Locator<'_> {
    /// Line and column (both from 1) where a span starts.
    fn position(&self, span: Range<usize>) -> (u32, u32) {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() as u32 + 1;
        let column = (start - before.rfind('\n').map_or(0, |i| i + 1)) as u32 + 1;
        (line, column)
    }

    pub(super) fn error(&self, span: Range<usize>, message: String) -> Located {
        let (line, column) = self.position(span);
        Located {
            file: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

/// What validating one file carries through every section: where the file is, and every error
/// found so far. A section reports an error and goes on, so that one run names every problem.
pub(super) struct Context<'a> {
    locate: Locator<'a>,
    errors: Vec<Located>,
}

/// How many errors had been reported at some point: lets a section ask whether one block added
/// any, whatever came before it.
#[derive(Clone, Copy)]
pub(super) struct Mark(usize);

impl<'a> Context<'a> {
    /// A context that starts with `errors` (those found before validation: unknown keys).
    pub(super) fn new(locate: Locator<'a>, errors: Vec<Located>) -> Self {
        Context { locate, errors }
    }

    /// Reports an error at `span` of the config.
    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let error = self.locate.error(span, message.into());
        self.errors.push(error);
    }

    /// Reports an error located elsewhere (in a key file, or at a place taken earlier).
    pub(super) fn push(&mut self, error: Located) {
        self.errors.push(error);
    }

    /// The place of `span`, for an error whose message is not known yet.
    pub(super) fn at(&self, span: Range<usize>) -> Located {
        self.locate.error(span, String::new())
    }

    pub(super) fn line_of(&self, span: Range<usize>) -> u32 {
        self.locate.position(span).0
    }

    /// A path written in the config, resolved against the config's directory.
    pub(super) fn resolve(&self, relative: &str) -> PathBuf {
        let dir = self.locate.path.parent().unwrap_or_else(|| Path::new(""));
        dir.join(relative)
    }

    pub(super) fn path(&self) -> &Path {
        self.locate.path
    }

    pub(super) fn mark(&self) -> Mark {
        Mark(self.errors.len())
    }

    pub(super) fn erred_since(&self, mark: Mark) -> bool {
        self.errors.len() > mark.0
    }

    /// `value` when nothing was reported, otherwise every error.
    pub(super) fn finish<T>(self, value: T) -> Result<T, Vec<Located>> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

/// One step of the path serde_ignored reports: a key, or an index into an array of tables.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PathSegment {
    Key(String),
    Index(usize),
}

/// The keys and indexes from the top of the document down to an ignored key (the wrappers
/// serde passes through, such as `Option`, are no place in the file).
pub(super) fn segments(path: &serde_ignored::Path) -> Vec<PathSegment> {
    use serde_ignored::Path;
    let mut out = match path {
        Path::Root => return Vec::new(),
        Path::Seq { parent, .. }
        | Path::Map { parent, .. }
        | Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent),
    };
    match path {
        Path::Seq { index, .. } => out.push(PathSegment::Index(*index)),
        // A `Spanned<T>` table passes through a map of toml's own private keys: no place in
        // the file either.
        Path::Map { key, .. } if key.starts_with("$__serde_spanned_private") => {}
        Path::Map { key, .. } => out.push(PathSegment::Key(key.clone())),
        _ => {}
    }
    out
}

/// The error for one ignored key: at the key itself, naming its section and what it takes.
/// The wording starts as serde's own ("unknown field `x`"), which admins may already grep for.
pub(super) fn unknown_key(path: &[PathSegment], document: &DeTable, locate: &Locator) -> Located {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            PathSegment::Key(k) => Some(k.as_str()),
            PathSegment::Index(_) => None,
        })
        .collect();
    let Some((key, parents)) = keys.split_last() else {
        return locate.error(0..0, "unknown field".into());
    };
    let mut message = format!("unknown field `{key}`");
    if let Some((place, expected)) = file::section(parents) {
        message.push_str(&format!(
            " {place} (expected one of: {})",
            expected.join(", ")
        ));
    }
    locate.error(key_span(document, path).unwrap_or(0..0), message)
}

/// Where the last key of `path` is written, following keys through tables and indexes through
/// arrays of tables.
pub(super) fn key_span(document: &DeTable, path: &[PathSegment]) -> Option<Range<usize>> {
    let mut table = document;
    let mut rest = path;
    loop {
        let (PathSegment::Key(wanted), after) = rest.split_first()? else {
            return None;
        };
        let (key, value) = table.iter().find(|(k, _)| k.get_ref() == wanted)?;
        if after.is_empty() {
            return Some(key.span());
        }
        let mut value = value.get_ref();
        rest = after;
        while let Some((PathSegment::Index(i), more)) = rest.split_first() {
            let DeValue::Array(items) = value else {
                return None;
            };
            value = items.get(*i)?.get_ref();
            rest = more;
        }
        let DeValue::Table(inner) = value else {
            return None;
        };
        table = inner;
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{EXAMPLE, errors_of};

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = EXAMPLE.replace("name = \"external\"", "name = \"external\"\nclient = []");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("/etc/splitdns/splitdns.toml:9:1: unknown field `client`"),
            "{errors:?}"
        );
    }

    /// Every unknown key is reported in one run, each where it is written, naming its section
    /// and the keys that section takes.
    #[test]
    fn every_unknown_key_is_reported_at_its_place() {
        let text = format!(
            "{}\n[tcp]\nmax_conections = 10\n",
            EXAMPLE
                .replace(
                    "name = \"internal\"\n",
                    "name = \"internal\"\nclientz = []\n"
                )
                .replace(
                    "origin = \"contoso.example\"\n",
                    "origin = \"contoso.example\"\nfiles = \"x.zone\"\n"
                )
        );
        let errors = errors_of(&text);
        assert_eq!(
            errors,
            [
                "/etc/splitdns/splitdns.toml:5:1: unknown field `clientz` in [[view]] (expected one of: name, clients, public, chaos, rrl, recursion, open_resolver, forwarders, forward, resolver, site_order, keys, transfer, notify, dnssec, notify_source)",
                "/etc/splitdns/splitdns.toml:14:1: unknown field `files` in [[zone]] (expected one of: origin, file, views, transfer, dnssec, parent_agents)",
                "/etc/splitdns/splitdns.toml:21:1: unknown field `max_conections` in [tcp] (expected one of: max_connections, max_connections_per_source, idle_timeout, message_timeout)",
            ]
        );
    }

    /// The top level and a table inside the second element of an array of tables are walked
    /// too; an unknown key beside a value error is reported with it.
    #[test]
    fn unknown_keys_at_the_top_and_nested_are_located() {
        let text = EXAMPLE
            .replace(
                "# UDP and TCP",
                "\nforwarders = [\"10.0.0.1\"] # UDP and TCP",
            )
            .replace(
                "clients = [\"0.0.0.0/0\", \"::/0\"]",
                "clients = [\"0.0.0.0/0\", \"::/0\"]\n[view.rrl]\nrate = 5\nslip = 11",
            );
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("/etc/splitdns/splitdns.toml:2:1: unknown field `forwarders` at the top level (expected one of: tcp, listen, listen_loops, serial_policy, state_dir, ixfr_versions, key, view, zone, exchange"),
            "{errors:?}"
        );
        assert_eq!(
            errors[1],
            "/etc/splitdns/splitdns.toml:12:1: unknown field `rate` in [view.rrl] (expected one of: enabled, responses_per_second, slip, exempt)"
        );
        assert!(
            errors[2].contains(":13:8: [view.rrl] slip = 11"),
            "{errors:?}"
        );
    }
}
