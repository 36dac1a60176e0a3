//! `[[zone]]`: a zone's origin, its shared file, the per-view override files and the per-view
//! transfer ACLs. The views are named by plain-string keys (serde_ignored cannot follow spanned
//! ones), so an error about a view name is located through the parsed document.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use toml::de::DeTable;

use super::keys::KeyConfig;
use super::locate::{Context, PathSegment, key_span};
use super::{Config, dnssec, file, values, views};
use crate::dns::name::Name;
use crate::dnssec::Policy;
use crate::view::TransferAcl;

#[derive(Debug, Clone)]
pub struct ZoneConfig {
    pub origin: Name,
    /// The shared file, already resolved against the config's directory.
    pub file: PathBuf,
    /// `(index into Config::views, override file)`, at most one per view.
    pub overrides: Vec<(usize, PathBuf)>,
    /// Line of the `origin` key, for errors about the zone as a whole.
    pub line: u32,
    /// Lines naming the shared file and each override file (same order as `overrides`), for
    /// errors about a file that cannot be read.
    pub file_line: u32,
    pub override_lines: Vec<u32>,
    /// `(index into Config::views, ACL)` where this zone's transfers differ from the view's.
    pub transfer: Vec<(usize, TransferAcl)>,
    /// How the zone is signed, when it is (views with `dnssec = false` serve it unsigned).
    pub dnssec: Option<Arc<Policy>>,
    /// Servers of the parent zone asked for the DS during a KSK or CSK rollover.
    pub parent_agents: Vec<std::net::SocketAddr>,
}

/// What a zone's `dnssec` key is checked against: the policies, and whether keys have a place.
pub(super) struct Signing<'a> {
    pub policies: &'a [Arc<Policy>],
    pub has_state_dir: bool,
}

impl Config {
    /// Who may transfer `origin` from view `view`: the zone's own ACL for that view, or the
    /// view's.
    pub fn transfer_acl(&self, view: usize, origin: &Name) -> &TransferAcl {
        self.zones
            .iter()
            .find(|z| z.origin == *origin)
            .and_then(|z| z.transfer.iter().find(|(v, _)| *v == view))
            .map_or(&self.views[view].transfer, |(_, acl)| acl)
    }
}

pub(super) fn validate(
    raw: &[file::ZoneSection],
    raw_views: &[file::ViewSection],
    document: &DeTable,
    keys: &[KeyConfig],
    signing: &Signing<'_>,
    cx: &mut Context,
) -> Vec<ZoneConfig> {
    let mut zones: Vec<ZoneConfig> = Vec::new();
    for (index, section) in raw.iter().enumerate() {
        let origin = match values::name(section.origin.get_ref()) {
            Ok(origin) => origin.to_lowercase(),
            Err(e) => {
                cx.error(section.origin.span(), format!("bad zone origin: {e}"));
                continue;
            }
        };
        if zones.iter().any(|z| z.origin == origin) {
            cx.error(
                section.origin.span(),
                format!("zone {origin} is defined twice"),
            );
        }
        // Where `[zone.<table>] <view> = …` is written, for an error about the view's name.
        let view_key = |table: &str, view: &str| -> Option<Range<usize>> {
            let key = [
                PathSegment::Key("zone".into()),
                PathSegment::Index(index),
                PathSegment::Key(table.into()),
                PathSegment::Key(view.into()),
            ];
            key_span(document, &key)
        };
        let view_index = |view: &str| raw_views.iter().position(|v| v.name.get_ref() == view);
        let mut overrides = Vec::new();
        let mut override_lines = Vec::new();
        for (view, file) in &section.views {
            match view_index(view) {
                Some(index) => {
                    overrides.push((index, cx.resolve(file.get_ref())));
                    override_lines.push(cx.line_of(file.span()));
                }
                None => cx.error(
                    view_key("views", view).unwrap_or_else(|| file.span()),
                    format!(
                        "zone {origin} has an override for view {view:?}, which is not defined"
                    ),
                ),
            }
        }
        let mut transfer = Vec::new();
        for (view, acl) in &section.transfer {
            match view_index(view) {
                Some(index) => transfer.push((index, views::transfer(acl, keys, cx))),
                None => cx.error(
                    view_key("transfer", view).unwrap_or_else(|| section.origin.span()),
                    format!(
                        "zone {origin} has a transfer ACL for view {view:?}, which is not defined"
                    ),
                ),
            }
        }
        let dnssec = dnssec::zone_policy(
            section.dnssec.as_ref(),
            signing.policies,
            signing.has_state_dir,
            cx,
        );
        let parent_agents = section
            .parent_agents
            .iter()
            .filter_map(|addr| {
                values::parsed(
                    addr,
                    "parent agent",
                    "expected IP:PORT of a server of the parent zone, e.g. \"192.0.2.53:53\"",
                    cx,
                )
            })
            .collect();
        zones.push(ZoneConfig {
            dnssec,
            parent_agents,
            transfer,
            origin,
            file: cx.resolve(section.file.get_ref()),
            overrides,
            line: cx.line_of(section.origin.span()),
            file_line: cx.line_of(section.file.span()),
            override_lines,
        });
    }
    zones
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{EXAMPLE, errors_of};

    #[test]
    fn host_bits_and_unknown_override_view_are_rejected() {
        let text = EXAMPLE
            .replace("192.168.0.0/16", "192.168.1.1/16")
            .replace("external = \"contoso", "dmz = \"contoso");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains(":5:") && errors[0].contains("did you mean \"192.168.0.0/16\""),
            "{errors:?}"
        );
        assert!(
            errors[1].contains(":16:1:")
                && errors[1].contains("view \"dmz\", which is not defined"),
            "{errors:?}"
        );
    }
}
