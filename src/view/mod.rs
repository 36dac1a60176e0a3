//! The immutable snapshot the server answers from: the prefix table that routes a client to a
//! view, and each view's zones. A snapshot is built by exactly one function, [`Snapshot::build`],
//! from a validated config and the zone files it names; the server publishes it with one atomic
//! swap, and request tasks only ever read it.

pub mod prefix;
pub mod serial;
pub mod zone;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, SerialPolicy};
use crate::name::Name;
use crate::name;
use crate::zone::{self as zonefile, SourceLoc, ZoneFileError, rtype};
use prefix::{Match, PrefixTable};
use serial::SerialNotice;
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

    /// One line naming each view with its zones and serials, for start-up and reload logs.
    pub fn summary(&self) -> String {
        let views: Vec<String> = self
            .views
            .iter()
            .map(|view| {
                let zones: Vec<String> =
                    view.zones.iter().map(|z| format!("{} serial {}", z.origin, z.serial)).collect();
                format!("view {} [{}]", view.name, zones.join(", "))
            })
            .collect();
        views.join("; ")
    }

    /// A view's zone by view name and (lowercased) origin.
    pub fn view_zone(&self, view: &str, origin: &Name) -> Option<&ViewZone> {
        let view = self.views.iter().find(|v| v.name == view)?;
        view.by_origin.get(origin.as_wire()).map(|&index| &view.zones[index])
    }

    /// Loads every zone file the config names and builds all views, or returns every error found.
    /// With the `previous` snapshot (on reload), content changes without a serial increase are
    /// reported, or fixed under `serial_policy = "bump"`.
    pub fn build(
        config: &Config,
        previous: Option<&Snapshot>,
    ) -> Result<(Snapshot, Vec<SerialNotice>), Vec<ZoneFileError>> {
        let mut errors = Vec::new();
        let mut notices = Vec::new();
        let mut files = vec![config.path.clone()];
        let mut views: Vec<View> = config
            .views
            .iter()
            .map(|v| View { name: v.name.clone(), zones: Vec::new(), by_origin: HashMap::new() })
            .collect();

        for zone in &config.zones {
            let zone_loc = SourceLoc { file: Arc::new(config.path.clone()), line: zone.line };
            let mut shared = match zonefile::load_zone_file(&zone.file, &zone.origin) {
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

            let shared_fingerprint = serial::fingerprint(&shared);
            let fingerprints: Vec<u64> = overrides
                .iter()
                .map(|records| serial::combine(shared_fingerprint, records.as_deref().map(serial::fingerprint)))
                .collect();
            if let Some(previous) = previous {
                let policy = config.serial_policy;
                let mut shared_bump: Option<u32> = None;
                for (index, view) in config.views.iter().enumerate() {
                    let Some(before) = previous.view_zone(&view.name, &zone.origin) else { continue };
                    let own_soa = overrides[index].as_deref().and_then(|r| serial::apex_serial(r, &zone.origin));
                    let Some(now) = own_soa.or_else(|| serial::apex_serial(&shared, &zone.origin)) else {
                        continue;
                    };
                    let changed = before.fingerprint != fingerprints[index];
                    let target = if changed && !serial::is_newer(now, before.serial) {
                        Some(before.serial.wrapping_add(1))
                    } else if !changed && serial::is_newer(before.serial, now) && policy == SerialPolicy::Bump {
                        // Keep a serial raised by an earlier bump rather than going back.
                        Some(before.serial)
                    } else {
                        None
                    };
                    let Some(target) = target else { continue };
                    if changed {
                        notices.push(SerialNotice {
                            view: view.name.clone(),
                            zone: zone.origin.clone(),
                            previous: before.serial,
                            serial: if policy == SerialPolicy::Bump { target } else { now },
                            bumped: policy == SerialPolicy::Bump,
                        });
                    }
                    if policy == SerialPolicy::Bump {
                        match (own_soa, &mut overrides[index]) {
                            (Some(_), Some(records)) => serial::set_serial(records, &zone.origin, target),
                            _ => {
                                shared_bump = Some(match shared_bump {
                                    Some(other) if serial::is_newer(other, target) => other,
                                    _ => target,
                                })
                            }
                        }
                    }
                }
                if let Some(target) = shared_bump {
                    serial::set_serial(&mut shared, &zone.origin, target);
                }
            }

            let shared = Arc::new(zone::build_shared(&zone.origin, shared));
            errors.extend(zone::check_shared(&shared));
            for ((view, records), fingerprint) in views.iter_mut().zip(overrides).zip(fingerprints) {
                let overlay = records.map(|r| zone::build_overlay(&zone.origin, &shared, r));
                match zone::assemble(&zone.origin, shared.clone(), overlay, &zone_loc, &view.name, fingerprint) {
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
        Ok((Snapshot { prefixes, views, files }, notices))
    }
}
