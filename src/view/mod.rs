//! The immutable snapshot the server answers from: the prefix table that routes a client to a
//! view, and each view's zones. A snapshot is built by exactly one function, [`Snapshot::build`],
//! from a validated config and the zone files it names; the server publishes it with one atomic
//! swap, and request tasks only ever read it.

pub mod prefix;
pub mod zone;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::name;
use crate::zone::{self as zonefile, SourceLoc, ZoneFileError, rtype};
use prefix::{Match, PrefixTable};
use zone::ViewZone;

/// Everything needed to answer queries, for all views.
#[derive(Debug)]
pub struct Snapshot {
    pub prefixes: PrefixTable,
    pub views: Vec<View>,
    /// Every file the snapshot was built from (config, zone files, includes), for reload watching.
    pub files: Vec<PathBuf>,
}

/// One view: a name and the zones as this view serves them.
#[derive(Debug)]
pub struct View {
    pub name: String,
    pub zones: Vec<ViewZone>,
    by_origin: HashMap<Box<[u8]>, usize>,
}

impl View {
    /// The most specific zone containing `qname` (lowercased wire). A DS query for a zone's apex
    /// belongs to the parent side of the cut (RFC 4035 §3.1.4.1), so it skips that zone when the
    /// view also serves the parent.
    pub fn zone_for(&self, qname: &[u8], qtype: u16) -> Option<&ViewZone> {
        let mut found = None;
        for offset in name::suffix_offsets(qname).chain(std::iter::once(qname.len() - 1)) {
            if let Some(&index) = self.by_origin.get(&qname[offset..]) {
                if qtype == rtype::DS && offset == 0 && found.is_none() {
                    found = Some(index);
                    continue;
                }
                return Some(&self.zones[index]);
            }
        }
        found.map(|index| &self.zones[index])
    }
}

impl Snapshot {
    /// The view a client gets, with the prefix that chose it.
    pub fn view_for(&self, client: IpAddr) -> Option<(&View, Match)> {
        self.prefixes.lookup(client).map(|m| (&self.views[m.view], m))
    }

    /// Loads every zone file the config names and builds all views, or returns every error found.
    pub fn build(config: &Config) -> Result<Snapshot, Vec<ZoneFileError>> {
        let mut errors = Vec::new();
        let mut files = vec![config.path.clone()];
        let mut views: Vec<View> = config
            .views
            .iter()
            .map(|v| View { name: v.name.clone(), zones: Vec::new(), by_origin: HashMap::new() })
            .collect();

        for zone in &config.zones {
            let zone_loc = SourceLoc { file: Arc::new(config.path.clone()), line: zone.line };
            let shared = match zonefile::load_zone_file(&zone.file, &zone.origin) {
                Ok(parsed) => {
                    files.extend(parsed.files);
                    parsed.records
                }
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
            };
            let mut overrides: Vec<Option<Vec<zonefile::ZoneRecord>>> = vec![None; config.views.len()];
            for (view, path) in &zone.overrides {
                match zonefile::load_zone_file(path, &zone.origin) {
                    Ok(parsed) => {
                        files.extend(parsed.files);
                        overrides[*view] = Some(parsed.records);
                    }
                    Err(e) => errors.extend(e),
                }
            }
            let shared = Arc::new(zone::build_shared(&zone.origin, shared));
            errors.extend(zone::check_shared(&shared));
            for (view, records) in views.iter_mut().zip(overrides) {
                let overlay = records.map(|r| zone::build_overlay(&zone.origin, &shared, r));
                match zone::assemble(&zone.origin, shared.clone(), overlay, &zone_loc, &view.name) {
                    Ok(view_zone) => {
                        view.by_origin.insert(zone.origin.as_wire().into(), view.zones.len());
                        view.zones.push(view_zone);
                    }
                    Err(e) => errors.extend(e),
                }
            }
        }

        // One message per problem, even when the same shared file fails in every view.
        errors.dedup();
        if !errors.is_empty() {
            return Err(errors);
        }
        let prefixes = PrefixTable::new(
            config
                .views
                .iter()
                .enumerate()
                .flat_map(|(index, view)| view.clients.iter().map(move |net| (*net, index))),
        );
        files.sort();
        files.dedup();
        Ok(Snapshot { prefixes, views, files })
    }
}
