//! The on-disk config format, exactly as written: strict (unknown keys are rejected by serde)
//! and spanned, so that every later validation error can point at the file line it came from.
//! Nothing here is used at runtime; `super::validate` turns it into [`super::Config`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Addresses to serve on, UDP and TCP on each.
    #[serde(default)]
    pub listen: Vec<Spanned<String>>,
    /// What a reload does when a zone's content changed but its SOA serial did not increase:
    /// "warn" (default) or "bump".
    pub serial_policy: Option<Spanned<String>>,
    #[serde(default, rename = "view")]
    pub views: Vec<ViewSection>,
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSection {
    pub name: Spanned<String>,
    /// Source prefixes this view answers; the most specific prefix over all views wins.
    pub clients: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSection {
    pub origin: Spanned<String>,
    /// The records every view shares.
    pub file: Spanned<String>,
    /// Per-view override files: view name → file whose RRsets replace the shared ones.
    #[serde(default)]
    pub views: BTreeMap<Spanned<String>, Spanned<String>>,
}
