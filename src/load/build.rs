//! Config + zone files → one snapshot: read every zone's files, add the records `[[exchange]]`
//! blocks generate, apply the serial policy against the snapshot being served, and build each
//! view's zones (shared data once, a per-view overlay where a view overrides). Every error found
//! is returned, each at its `file:line`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::history;
use super::serial::{self, SerialNotice};
use crate::config::Config;
use crate::dns::name::Name;
use crate::dns::rtype;
use crate::located::{Located, SourceLoc};
use crate::view::zone::{self, FileRead, FileStamp, SharedBuild};
use crate::view::{FailedZone, Recursion, Snapshot, View};
use crate::zonefile::{self, ParsedZoneFile, ZoneRecord};

/// Loads every zone file the config names, adds the records `[[exchange]]` blocks generate,
/// and builds all views. With the `previous` snapshot (on reload), content changes without a
/// serial increase are reported, or fixed under `serial_policy = "bump"`.
///
/// A zone whose files do not load or build (in every view, or in one view when only that view's
/// override is at fault) is left out and returned as a [`ZoneFailure`]: that (view, zone) keeps
/// the `previous` snapshot's copy where there is one, and is otherwise marked as not served.
/// Whether failures refuse the whole load is the caller's decision. Errors that belong to no one
/// zone (an `[[exchange]]` block that fits no zone) are returned as `Err`. The `unfinished` files
/// (still being written) are not read: each fails the zones that read it with its error.
pub(crate) fn snapshot(
    config: &Config,
    previous: Option<&Snapshot>,
    unfinished: &[Located],
) -> Result<(Snapshot, BuildNotes, Vec<ZoneFailure>), Vec<Located>> {
    // What was served before: the snapshot being replaced, or at start the serials a previous
    // run kept in the state directory.
    let state = match (previous, &config.state_dir) {
        (None, Some(dir)) => serial::read_state(dir),
        _ => Default::default(),
    };
    let served = |view: &str, origin: &Name| match previous {
        Some(previous) => previous.view_zone(view, origin).map(|zone| serial::Served {
            serial: zone.serial,
            fingerprint: zone.fingerprint,
        }),
        None => state.get(&(view.to_string(), origin.clone())).copied(),
    };
    let mut errors = Vec::new();
    let mut failures = Vec::new();
    let mut notes = BuildNotes::default();
    let mut files = vec![config.path.clone()];
    let previous_builds = previous.map_or(&[][..], |p| &p.shared_builds[..]);
    let mut sources = read_zone_files(
        config,
        unfinished,
        previous_builds,
        &mut files,
        &mut failures,
    );
    add_generated(config, &mut sources, &mut notes, &mut errors, &mut failures);
    let mut views: Vec<View> = config
        .views
        .iter()
        .map(|v| {
            let mut view = View::new(v.name.clone(), v.clients.clone(), v.chaos);
            view.recursion = v
                .recursion
                .as_ref()
                .map(|r| Recursion::new(r.forwarders.clone(), r.forward_zones.clone()));
            view
        })
        .collect();

    let mut builds = Vec::with_capacity(sources.len());
    for source in sources {
        let ZoneSource {
            origin,
            shared,
            mut overrides,
            failed_overrides,
            loc: zone_loc,
        } = source;
        let fingerprints = serial::view_fingerprints(shared.data().content, &overrides);
        // What the files say, before `enforce` may raise a view's serial (for status reports).
        let file_serials: Vec<Option<u32>> = overrides
            .iter()
            .map(|records| {
                records
                    .as_deref()
                    .and_then(|r| serial::apex_serial(r, &origin))
                    .or_else(|| serial::apex_serial(&shared.apex, &origin))
            })
            .collect();
        notes.serial.extend(serial::enforce(
            config,
            &served,
            &origin,
            &fingerprints,
            &shared.apex,
            &mut overrides,
        ));

        if !shared.errors.is_empty() {
            failures.push(ZoneFailure {
                origin,
                view: None,
                errors: shared.errors.clone(),
                consequence: None,
                cause: Cause::Files,
            });
            continue;
        }
        builds.push(shared.clone());
        let shared = shared.data().clone();
        for (index, ((view, records), fingerprint)) in views
            .iter_mut()
            .zip(overrides)
            .zip(fingerprints)
            .enumerate()
        {
            if failed_overrides.contains(&index) {
                continue;
            }
            let overlay = records.map(|r| zone::build_overlay(&origin, &shared, r));
            match zone::assemble(
                &origin,
                shared.clone(),
                overlay,
                &zone_loc,
                &view.name,
                fingerprint,
            ) {
                Ok(mut view_zone) => {
                    view_zone.files = zone_files(config, &origin, index);
                    view_zone.file_serial = file_serials[index].unwrap_or(view_zone.serial);
                    view_zone.transfer = config.transfer_acl(index, &origin).clone();
                    let transferred = view_zone.transfer != Default::default();
                    if let Some(before) = previous
                        .filter(|_| transferred)
                        .and_then(|p| p.view_zone(&view.name, &origin))
                    {
                        view_zone.history = history::next(before, &view_zone, config.ixfr_versions);
                    }
                    view.add_zone(view_zone)
                }
                Err(e) => failures.push(ZoneFailure {
                    origin: origin.clone(),
                    view: Some(index),
                    errors: e,
                    consequence: None,
                    cause: Cause::Files,
                }),
            }
        }
    }

    errors.dedup();
    if !errors.is_empty() {
        return Err(errors);
    }
    for failure in &failures {
        let affected: Vec<usize> = match failure.view {
            Some(view) => vec![view],
            None => (0..views.len()).collect(),
        };
        for index in affected {
            let view = &mut views[index];
            if view.failed.iter().any(|f| f.origin == failure.origin) {
                continue;
            }
            hold_back(view, failure, previous);
        }
    }
    if !failures.is_empty()
        && let Some(previous) = previous
    {
        // The kept copies' files (and their includes) stay watched.
        files.extend(previous.files.iter().cloned());
    }
    let prefixes = config
        .views
        .iter()
        .enumerate()
        .flat_map(|(index, view)| view.clients.iter().map(move |net| (*net, index)));
    let keys = config
        .keys
        .iter()
        .enumerate()
        .map(|(index, k)| {
            let view = config.views.iter().position(|v| v.keys.contains(&index));
            (k.key.clone(), view)
        })
        .collect();
    let mut snapshot = Snapshot::new(views, prefixes, files, keys);
    snapshot.shared_builds = builds;
    Ok((snapshot, notes, failures))
}

/// Holds back `view`'s copy of the zone `failure` names: the `previous` snapshot's copy takes its
/// place (whether or not the view has one now), or without one the zone is not served (SERVFAIL).
/// The one way a copy is held back, for a zone file that does not load and for a check error.
pub(crate) fn hold_back(view: &mut View, failure: &ZoneFailure, previous: Option<&Snapshot>) {
    let kept = previous
        .and_then(|p| p.view_zone(&view.name, &failure.origin))
        .cloned();
    view.add_failed(
        FailedZone {
            origin: failure.origin.clone(),
            errors: failure
                .errors
                .iter()
                .map(ToString::to_string)
                .chain(failure.consequence.clone())
                .collect(),
            stale: kept.is_some(),
        },
        kept,
    );
}

/// A zone held back, in one view (`Some`: only that view's override, or that view's copy, is at
/// fault) or in all.
#[derive(Debug, Clone)]
pub struct ZoneFailure {
    pub origin: Name,
    pub view: Option<usize>,
    pub errors: Vec<Located>,
    /// Why a zone without errors of its own is held back with another, or a copy's previous data
    /// is not served either.
    pub consequence: Option<String>,
    pub cause: Cause,
}

/// What holds a zone back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Its files (or the zone it copies its SOA and NS from) did not load or build.
    Files,
    /// A check found an error in this view's copy (see `crate::load`'s rule).
    Checks,
}

impl ZoneFailure {
    /// What brings the zone back, for the log line that says it is held back.
    pub fn until(&self) -> &'static str {
        match self.cause {
            Cause::Files => "until its files load",
            Cause::Checks => "until its check errors are fixed",
        }
    }
}

/// The files a view's copy of a zone comes from: the shared file and the view's override file,
/// or the config itself for a zone synthesised from `[[exchange]]`.
fn zone_files(config: &Config, origin: &Name, view: usize) -> Vec<PathBuf> {
    match config.zones.iter().find(|zone| zone.origin == *origin) {
        Some(zone) => std::iter::once(zone.file.clone())
            .chain(
                zone.overrides
                    .iter()
                    .filter(|(v, _)| *v == view)
                    .map(|(_, path)| path.clone()),
            )
            .collect(),
        None => vec![config.path.clone()],
    }
}

/// What building a snapshot noticed that is not an error.
#[derive(Debug, Default)]
pub(crate) struct BuildNotes {
    /// Zones whose content changed on reload without a serial increase.
    pub serial: Vec<SerialNotice>,
    /// Generated records that a zone file's records replaced.
    pub shadowed: Vec<Shadowed>,
}

/// An `[[exchange]]` record not served because a zone file has the same owner and type.
#[derive(Debug, Clone)]
pub(crate) struct Shadowed {
    pub view: String,
    pub owner: Name,
    /// The type generated, and the type of the file record that replaced it (the same, or CNAME).
    pub rtype: u16,
    pub file_rtype: u16,
    /// Where the winning file record is.
    pub file_record: SourceLoc,
    /// The `[[exchange]]` block that generated the losing one.
    pub generated: SourceLoc,
}

/// One zone before building: the shared data (built, or the previous load's), and each view's
/// override file's records.
struct ZoneSource {
    origin: Name,
    shared: Arc<SharedBuild>,
    /// Indexed by view.
    overrides: Vec<Option<Vec<ZoneRecord>>>,
    /// Views whose override file did not load.
    failed_overrides: Vec<usize>,
    /// The config entry, for errors about the zone as a whole.
    loc: SourceLoc,
}

/// Reads every configured zone's files. A file that cannot be read is reported at the config
/// line that names it. A shared file that, with its includes, is unchanged since the previous
/// load built it is not read: that build is taken as it is.
fn read_zone_files(
    config: &Config,
    unfinished: &[Located],
    previous_builds: &[Arc<SharedBuild>],
    files: &mut Vec<PathBuf>,
    failures: &mut Vec<ZoneFailure>,
) -> Vec<ZoneSource> {
    let config_file = Arc::new(config.path.clone());
    // What was parsed (its `files` are the ones to watch), or the files to watch when nothing
    // was, its errors in `errors`.
    let read = |path: &PathBuf,
                origin: &Name,
                line: u32,
                errors: &mut Vec<Located>|
     -> Result<ParsedZoneFile, Vec<PathBuf>> {
        if let Some(error) = unfinished_file(unfinished, path) {
            errors.push(error.clone());
            return Err(vec![path.clone()]);
        }
        match zonefile::load_zone_file(path, origin) {
            Ok(parsed) => {
                // An `$INCLUDE` still being written holds the zone back with it.
                let open: Vec<Located> = parsed
                    .files
                    .iter()
                    .filter_map(|file| unfinished_file(unfinished, file).cloned())
                    .collect();
                if !open.is_empty() {
                    errors.extend(open);
                    return Err(parsed.files);
                }
                Ok(parsed)
            }
            Err(e) => {
                // Watch the missing file anyway, so that creating it triggers a reload.
                errors.extend(e.into_iter().map(|error| {
                    if error.line == 0 && &error.file == path {
                        Located {
                            file: config.path.clone(),
                            line,
                            column: 0,
                            message: format!("{}: {}", path.display(), error.message),
                        }
                    } else {
                        error
                    }
                }));
                Err(vec![path.clone()])
            }
        }
    };
    let mut sources = Vec::new();
    for zone in &config.zones {
        let mut errors = Vec::new();
        // Stamps are judged against the moment before reading: a file changed after it is
        // not trusted to be as read.
        let read_at = SystemTime::now();
        let shared = match unchanged_build(
            previous_builds,
            &zone.origin,
            &zone.file,
            unfinished,
            read_at,
        ) {
            Some(build) => {
                files.extend(build.read.iter().map(|file| file.path.clone()));
                Some(build)
            }
            None => match read(&zone.file, &zone.origin, zone.file_line, &mut errors) {
                Err(watch) => {
                    files.extend(watch);
                    None
                }
                Ok(parsed) => {
                    files.extend(parsed.files.iter().cloned());
                    let read = parsed
                        .files
                        .into_iter()
                        .zip(parsed.digests)
                        .map(|(path, digest)| FileRead {
                            stamp: settled_stamp(&path, read_at),
                            path,
                            digest,
                        })
                        .collect();
                    Some(Arc::new(build_shared(&zone.origin, parsed.records, read)))
                }
            },
        };
        let mut overrides: Vec<Option<Vec<ZoneRecord>>> = vec![None; config.views.len()];
        let mut failed_overrides = Vec::new();
        for ((view, path), line) in zone.overrides.iter().zip(&zone.override_lines) {
            let mut override_errors = Vec::new();
            overrides[*view] = match read(path, &zone.origin, *line, &mut override_errors) {
                Ok(parsed) => {
                    files.extend(parsed.files);
                    Some(parsed.records)
                }
                Err(watch) => {
                    files.extend(watch);
                    None
                }
            };
            if !override_errors.is_empty() {
                failed_overrides.push(*view);
                if shared.is_some() {
                    failures.push(ZoneFailure {
                        origin: zone.origin.clone(),
                        view: Some(*view),
                        errors: override_errors,
                        consequence: None,
                        cause: Cause::Files,
                    });
                } else {
                    errors.extend(override_errors);
                }
            }
        }
        match shared {
            Some(shared) => sources.push(ZoneSource {
                origin: zone.origin.clone(),
                shared,
                overrides,
                failed_overrides,
                loc: SourceLoc {
                    file: config_file.clone(),
                    line: zone.line,
                },
            }),
            None => failures.push(ZoneFailure {
                origin: zone.origin.clone(),
                view: None,
                errors,
                consequence: None,
                cause: Cause::Files,
            }),
        }
    }
    sources
}

/// The previous load's build of `origin`'s shared data from `file`, if that file and its
/// includes hold the same bytes and none is being written: known by its stamp where the file had
/// settled when last read and its stamp is the same, otherwise by reading it and comparing
/// digests (milliseconds, where parsing and building take a second). The build is returned with
/// the files' stamps as of `read_at`.
fn unchanged_build(
    previous_builds: &[Arc<SharedBuild>],
    origin: &Name,
    file: &Path,
    unfinished: &[Located],
    read_at: SystemTime,
) -> Option<Arc<SharedBuild>> {
    let build = previous_builds.iter().find(|b| b.origin == *origin)?;
    if build.read.first().is_none_or(|first| first.path != file) {
        return None;
    }
    let mut read = Vec::with_capacity(build.read.len());
    for before in &build.read {
        if unfinished_file(unfinished, &before.path).is_some() {
            return None;
        }
        let unchanged = before.stamp.is_some() && file_stamp(&before.path) == before.stamp;
        if !unchanged {
            let bytes = std::fs::read(&before.path).ok()?;
            if zonefile::digest(&bytes) != before.digest {
                return None;
            }
        }
        read.push(FileRead {
            stamp: if unchanged {
                before.stamp
            } else {
                settled_stamp(&before.path, read_at)
            },
            ..before.clone()
        });
    }
    let build = build.for_load();
    if read
        .iter()
        .zip(&build.read)
        .all(|(now, before)| now.stamp == before.stamp)
    {
        return Some(build);
    }
    Some(Arc::new(build.with_read(read)))
}

/// A file's stamp if it can be trusted to tell a later change: the file last changed more than
/// [`STAMP_MARGIN`] before `read_at` (a write in the same tick of the file system's clock as the
/// read would leave the stamp as it was).
fn settled_stamp(path: &Path, read_at: SystemTime) -> Option<FileStamp> {
    let settled = read_at.checked_sub(STAMP_MARGIN)?;
    let settled = i128::try_from(
        settled
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_nanos(),
    )
    .ok()?;
    let stamp = file_stamp(path)?;
    (stamp.modified_ns < settled && stamp.changed_ns < settled).then_some(stamp)
}

/// How long before a read a file must have last changed for its stamp to be trusted. Generous:
/// file system clocks tick in milliseconds or coarser (FAT's in two seconds); a file changed
/// more recently is read again and compared by digest.
const STAMP_MARGIN: Duration = Duration::from_secs(2);

fn file_stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    Some(FileStamp {
        device: meta.dev(),
        inode: meta.ino(),
        len: meta.len(),
        modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
        changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
    })
}

/// Builds a zone's shared data from its records, keeping what later stages read of the records
/// (their fingerprint, the apex SOA and NS) and what its checks found.
fn build_shared(origin: &Name, records: Vec<ZoneRecord>, read: Vec<FileRead>) -> SharedBuild {
    let content = serial::fingerprint(&records);
    let apex = records
        .iter()
        .filter(|r| {
            (r.rtype == rtype::SOA || r.rtype == rtype::NS) && r.owner.to_lowercase() == *origin
        })
        .cloned()
        .collect();
    let mut data = zone::build_shared(origin, records);
    data.content = content;
    let errors = zone::check_shared(&data);
    SharedBuild::new(origin.clone(), read, data, apex, errors)
}

/// The entry of `unfinished` for `file`, if any (paths compared made absolute: the watcher's are).
pub(super) fn unfinished_file<'a>(unfinished: &'a [Located], file: &Path) -> Option<&'a Located> {
    if unfinished.is_empty() {
        return None;
    }
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    unfinished
        .iter()
        .find(|entry| std::path::absolute(&entry.file).is_ok_and(|entry| entry == file))
}

/// Adds the `[[exchange]]` records to the zones that contain them (as per-view overrides, unless
/// a zone file already has that owner and type), and synthesises a minimal zone (SOA and NS copied
/// from the namespace's zone, plus the SRV) for an SRV-only domain that is not configured.
fn add_generated(
    config: &Config,
    sources: &mut Vec<ZoneSource>,
    notes: &mut BuildNotes,
    errors: &mut Vec<Located>,
    failures: &mut Vec<ZoneFailure>,
) {
    let views = config.views.len();
    for generated in super::exchange::generate(config) {
        let record = generated.record;
        let owner = record.owner.to_lowercase();
        let index = match containing_zone(sources, &owner) {
            Some(index) => index,
            // The zone that would hold it did not load: that zone's errors say why, once.
            None if in_failed_zone(config, sources, &owner) => continue,
            None if record.rtype == rtype::SRV => {
                let domain = owner
                    .parent()
                    .and_then(|p| p.parent())
                    .unwrap_or_else(Name::root);
                if let Some(target) = srv_target(&record)
                    && in_failed_zone(config, sources, &target)
                {
                    // Its SOA and NS come from the namespace's zone: held back with it.
                    // Not an error of its own (the namespace zone's errors say what is wrong).
                    failures.push(ZoneFailure {
                        origin: owner.clone(),
                        view: None,
                        errors: Vec::new(),
                        consequence: Some(format!(
                            "held back: it copies the SOA and NS of {target}'s zone, which did not load"
                        )),
                        cause: Cause::Files,
                    });
                    continue;
                }
                match synthesized_zone(sources, &owner, &record, views) {
                    Some(source) => {
                        sources.push(source);
                        sources.len() - 1
                    }
                    None => {
                        errors.push(Located::at(
                            &record.loc,
                            format!(
                                "srv_domains entry {domain} is not a configured zone, and no configured zone holds the namespace whose SOA and NS its synthesised zone would copy"
                            ),
                        ));
                        continue;
                    }
                }
            }
            None => {
                errors.push(Located::at(
                    &record.loc,
                    format!(
                        "{} is not inside any [[zone]]: add the zone that should hold it",
                        record.owner
                    ),
                ));
                continue;
            }
        };
        let source = &mut sources[index];
        let targets: Vec<usize> = match generated.view {
            Some(view) => vec![view],
            None => (0..views).collect(),
        };
        for view in targets {
            // A record written in a file wins over a generated one of its type, and a CNAME
            // written there wins over everything generated at its name.
            let in_override = source.overrides[view]
                .iter()
                .flatten()
                .find(|r| {
                    (r.rtype == record.rtype || r.rtype == rtype::CNAME)
                        && r.owner.to_lowercase() == owner
                        && r.loc.file != record.loc.file
                })
                .map(|r| (r.rtype, r.loc.clone()));
            let written = in_override.or_else(|| {
                let node = source.shared.data().get(owner.as_wire())?;
                let set = node.get(rtype::CNAME).or_else(|| node.get(record.rtype))?;
                Some((set.rtype, set.rdatas.first()?.loc.clone()))
            });
            if let Some((file_rtype, file_record)) = written {
                notes.shadowed.push(Shadowed {
                    view: config.views[view].name.clone(),
                    owner: owner.clone(),
                    rtype: record.rtype,
                    file_rtype,
                    file_record,
                    generated: record.loc.clone(),
                });
                continue;
            }
            source.overrides[view]
                .get_or_insert_with(Vec::new)
                .push(record.clone());
        }
    }
}

fn containing_zone(sources: &[ZoneSource], name: &Name) -> Option<usize> {
    sources
        .iter()
        .enumerate()
        .filter(|(_, source)| name.is_subdomain_of(&source.origin))
        .max_by_key(|(_, source)| source.origin.as_wire().len())
        .map(|(index, _)| index)
}

/// Whether `name` belongs to a configured zone whose files did not load.
fn in_failed_zone(config: &Config, sources: &[ZoneSource], name: &Name) -> bool {
    config
        .zones
        .iter()
        .filter(|zone| name.is_subdomain_of(&zone.origin))
        .max_by_key(|zone| zone.origin.as_wire().len())
        .is_some_and(|zone| sources.iter().all(|s| s.origin != zone.origin))
}

/// The lowercased target of an SRV record.
fn srv_target(srv: &ZoneRecord) -> Option<Name> {
    let target = srv.rdata.get(6..)?;
    Some(Name::from_wire(target).ok()?.to_lowercase())
}

/// A zone for an SRV-only accepted domain whose apex is the SRV's own name,
/// `_autodiscover._tcp.<domain>`, served by the same name servers as the namespace. Only that
/// name is ours: the rest of the domain (its web site, its MX) stays with whoever serves it, which
/// delegates this one name to us with an NS record (or, on a DC, a conditional forwarder).
fn synthesized_zone(
    sources: &[ZoneSource],
    apex_name: &Name,
    srv: &ZoneRecord,
    views: usize,
) -> Option<ZoneSource> {
    let target = srv_target(srv)?;
    let model = &sources[containing_zone(sources, &target)?];
    let apex = |rtype: u16| model.shared.apex.iter().filter(move |r| r.rtype == rtype);
    let mut records: Vec<ZoneRecord> = Vec::new();
    for record in apex(rtype::SOA).take(1).chain(apex(rtype::NS)) {
        records.push(ZoneRecord {
            owner: apex_name.clone(),
            loc: srv.loc.clone(),
            ..record.clone()
        });
    }
    // Made from the config, not from files: built anew by every load (it is two or three
    // records).
    let shared = Arc::new(build_shared(apex_name, records, Vec::new()));
    Some(ZoneSource {
        origin: apex_name.clone(),
        shared,
        overrides: vec![None; views],
        failed_overrides: Vec::new(),
        loc: srv.loc.clone(),
    })
}
