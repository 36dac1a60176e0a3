//! The one loader behind `serve`, `check` and reload: config file → validated config → zone
//! files and `[[exchange]]` records → snapshot → checks. It decides once what may be served, by
//! one rule: an error refuses what it is about, not the whole server.
//!
//! - A config file that does not load refuses the whole load — at start-up, at reload (the
//!   previous snapshot keeps serving) and in `check` — and so does a check finding of severity
//!   error that is not about one zone of one view (none of today's checks makes one).
//! - A zone whose files do not load, and a view's copy of a zone that a check finding of severity
//!   error is about, refuse the whole load in `check` ([`load`]) and when the config says
//!   `all_or_nothing = true`. Otherwise, to serve ([`reload`]), only that zone (or that view's
//!   copy: its override is broken, or only its copy has the error) is held back: it keeps the
//!   previous snapshot's data, or without any is not served (SERVFAIL), while every other zone's
//!   changes are published. Of the zones an error is about (its record's, and for an
//!   Autodiscover SRV target's error the target's), the copies that changed since the previous
//!   snapshot are held back — the change that caused it — or, when none did (and at start), its
//!   record's. Each is named in [`Loaded::zone_failures`].
//! - The checks run again on what is then served, until they find no error: a previous copy that
//!   fails them under the new config (say a view made public) is not served either. So what is
//!   served never has an error finding — the inside's addresses never reach the outside.
//!
//! It is pure: a config and files in, a snapshot and findings out. It imports nothing of the
//! runtime (listeners, counters, resolvers, NOTIFY, the health prober); what a load needs to be
//! served is added when it is published (`crate::reload::publish`). Whoever calls it reports the
//! errors; nothing here prints.

pub(crate) mod build;
pub(crate) mod checks;
pub(crate) mod dane;
pub(crate) mod exchange;
pub(crate) mod health;
pub(crate) mod history;
pub(crate) mod serial;
pub(crate) mod sign;

use std::path::{Path, PathBuf};

use crate::config::{self, Config};
use crate::dns::name::Name;
use crate::dnssec::keyring::Create;
use crate::located::Located;
use crate::view::Snapshot;
use checks::{Finding, Severity};
use serial::SerialNotice;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{} error(s) in the config file", .0.len())]
    Config(Vec<Located>),
    #[error("{} error(s) in zone data", .0.len())]
    Zones(Vec<Located>),
    /// The data loaded, but a check found what must not be served, and it is not held back on
    /// its own (`check`, `all_or_nothing`, or an error about no one zone). Holds every finding
    /// (errors first), so that `check` can still show the warnings.
    #[error("{} check error(s): what each is about is not served", .0.iter().filter(|f| f.severity == Severity::Error).count())]
    Refused(Vec<Finding>),
}

impl LoadError {
    /// Every problem with its file and line: the load errors, or the refusing findings.
    pub fn problems(&self) -> Vec<Located> {
        match self {
            LoadError::Config(errors) | LoadError::Zones(errors) => errors.clone(),
            LoadError::Refused(findings) => findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(Finding::located)
                .collect(),
        }
    }

    /// The files the errors point at.
    pub fn files(&self) -> Vec<PathBuf> {
        self.problems().into_iter().map(|p| p.file).collect()
    }

    /// Each problem as a `file:line: message` line.
    pub fn lines(&self) -> Vec<String> {
        self.problems().iter().map(ToString::to_string).collect()
    }
}

/// What a load produced: the state to serve, and what it is worth telling the admin.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub snapshot: Snapshot,
    /// Zones whose content changed on reload without a serial increase.
    pub serial: Vec<SerialNotice>,
    /// Warnings and information from the checks about what is served (none of severity error:
    /// those refuse, or are in `zone_failures`).
    pub findings: Vec<Finding>,
    /// Zones held back because their files did not load or a check found an error in a view's
    /// copy (only when loading to serve).
    pub zone_failures: Vec<build::ZoneFailure>,
    /// The health checks to run for this snapshot (none: an empty plan).
    pub health: crate::health::Plan,
    /// When the signed zones must be signed again (Unix seconds): a key's role changes, or
    /// signatures reach their refresh margin. `None` when nothing is signed.
    pub signing_due: Option<u64>,
    /// What the signing stage did (logged when this load is published); `None` when nothing is
    /// signed.
    pub signing: Option<sign::SigningReport>,
}

impl Loaded {
    /// The findings worth a warning at start-up (information is for `check`).
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// Keeps the served serials in the config's `state_dir`, so that a restart never serves a
    /// lower one. Called when this load is published (never by `check`); without a
    /// `state_dir`, nothing is written.
    pub fn save_serials(&self) -> Result<(), String> {
        let Some(dir) = &self.config.state_dir else {
            return Ok(());
        };
        serial::write_state(dir, &self.snapshot)
            .map_err(|e| format!("cannot keep the served serials in {}: {e}", dir.display()))
    }
}

/// Reads the config and every zone it names, builds the snapshot and checks it; any file that
/// does not load, and any check error, refuses the load (what `check` judges).
pub fn load(config_path: &Path) -> Result<Loaded, LoadError> {
    run(config_path, None, Purpose::Check, &[])
}

/// Loads to serve, at start-up (`previous` = `None`) or on reload: a zone whose files do not
/// load, and a view's copy of a zone with a check error, is held back on its own (see the
/// module's rule) unless the config says `all_or_nothing = true`. With the snapshot being
/// served, content changes without a serial increase are noticed.
pub fn reload(config_path: &Path, previous: Option<&Snapshot>) -> Result<Loaded, LoadError> {
    run(config_path, previous, Purpose::Serve, &[])
}

/// [`reload`] without reading the `unfinished` files (a writer still has them open), each named
/// by the error that says why: a zone that reads one is held back as if it did not load, and
/// the config among them refuses the load.
pub(crate) fn reload_without(
    config_path: &Path,
    previous: Option<&Snapshot>,
    unfinished: &[Located],
) -> Result<Loaded, LoadError> {
    run(config_path, previous, Purpose::Serve, unfinished)
}

/// What a load is for: the two differ in what a broken zone file or a check error does and in
/// how much is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// `check`: any file that does not load and any check error refuse the load, and every
    /// check runs.
    Check,
    /// Start-up and reload: a broken zone, or a view's copy with a check error, is held back on
    /// its own (unless the config says `all_or_nothing`), and only the checks that can refuse
    /// or warn run.
    Serve,
}

fn run(
    config_path: &Path,
    previous: Option<&Snapshot>,
    purpose: Purpose,
    unfinished: &[Located],
) -> Result<Loaded, LoadError> {
    if let Some(config_file) = build::unfinished_file(unfinished, config_path) {
        return Err(LoadError::Config(vec![config_file.clone()]));
    }
    let config = config::load(config_path).map_err(LoadError::Config)?;
    let (mut snapshot, mut notes, mut zone_failures) =
        build::snapshot(&config, previous, unfinished).map_err(LoadError::Zones)?;
    let whole = purpose == Purpose::Check || config.all_or_nothing;
    if !zone_failures.is_empty() && whole {
        let mut errors: Vec<Located> = zone_failures
            .into_iter()
            .flat_map(|failure| failure.errors)
            .collect();
        // One message per problem, even when the same shared file fails in every view.
        errors.dedup();
        return Err(LoadError::Zones(errors));
    }
    let scope = match purpose {
        Purpose::Check => checks::Scope::Everything,
        Purpose::Serve => checks::Scope::Serving,
    };
    // Checked before the health checks are attached: a copy held back is replaced by the
    // previous snapshot's, which needs the new plan's cells like every other.
    let mut findings = checks::run(&config, &snapshot, &notes.shadowed, scope);
    let mut refuse = findings
        .iter()
        .any(|f| f.severity == Severity::Error && (whole || f.view_zones().is_none()));
    if !refuse {
        let rechecks = Rechecks {
            config: &config,
            shadowed: &notes.shadowed,
            scope,
        };
        let held = hold_back_errors(&rechecks, previous, &mut snapshot, findings);
        // Any error left is about no one zone: what is served never has one.
        refuse = held.findings.iter().any(|f| f.severity == Severity::Error);
        findings = held.findings;
        // A change held back is not served: nothing to say about its serial.
        notes.serial.retain(|notice| {
            !held.failures.iter().any(|failure| {
                failure.origin == notice.zone
                    && failure
                        .view
                        .is_some_and(|v| config.views[v].name == notice.view)
            })
        });
        zone_failures.extend(held.failures);
    }
    // The certificate and key are read with the config: a renewed one is a reload, and the
    // next TLS handshake presents it.
    if let Some(tls) = &config.tls {
        snapshot
            .files
            .extend([tls.certificate.clone(), tls.key.clone()]);
    }
    // (Sorted and deduplicated with the CA files the health checks add.)
    let mut health = health::plan(&config, &mut snapshot).map_err(LoadError::Config)?;
    if refuse {
        return Err(LoadError::Refused(findings));
    }
    // Signed last, over exactly what is served (health-checked sets included). `check` signs
    // with the keys there are, so that a key file that would refuse a start fails it, but makes
    // none.
    let create = match purpose {
        Purpose::Check => Create::No,
        Purpose::Serve => Create::Yes,
    };
    let signed = sign::sign(&config, &mut snapshot, previous, unix_now(), create)
        .map_err(LoadError::Zones)?;
    // On what is served signed: a TLSA record means something only there.
    health.dane = dane::plan(&config, &snapshot);
    Ok(Loaded {
        config,
        snapshot,
        serial: notes.serial,
        findings,
        zone_failures,
        health,
        signing_due: signed.next_due,
        signing: signed.report,
    })
}

/// Seconds since the Unix epoch: the signing clock.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the checks run with, to run them again on what is served after a hold-back.
struct Rechecks<'a> {
    config: &'a Config,
    shadowed: &'a [build::Shadowed],
    scope: checks::Scope,
}

/// What [`hold_back_errors`] did: the copies held back, and the findings: the warnings and
/// information of every run (the first says what the files hold, a later one what is served),
/// and the errors left (any refuses the load: it is about no one zone).
struct HeldBack {
    failures: Vec<build::ZoneFailure>,
    findings: Vec<Finding>,
}

/// Holds back each view's copy of a zone that an error in `findings` is about — the `previous`
/// snapshot's copy takes its place, or it is not served — and checks again, until no error is
/// found. A copy held back whose previous data fails the checks too is then not served. Each copy
/// changes at most twice (to its previous data, to nothing), and a copy not served has no
/// findings, so this ends; the bound only guards that reasoning.
fn hold_back_errors(
    rechecks: &Rechecks,
    previous: Option<&Snapshot>,
    snapshot: &mut Snapshot,
    mut findings: Vec<Finding>,
) -> HeldBack {
    let mut failures: Vec<build::ZoneFailure> = Vec::new();
    let mut said: Vec<Finding> = Vec::new();
    let copies: usize = snapshot.views.iter().map(|v| v.zones.len()).sum();
    'rechecks: for run in 0..=2 * copies {
        for finding in findings.iter().filter(|f| f.severity != Severity::Error) {
            // Acknowledgements are judged against the files as written: the first run.
            let judged = run == 0 || finding.id != "acknowledgement-unused";
            if judged && !said.contains(finding) {
                said.push(finding.clone());
            }
        }
        let mut found: Vec<(usize, Name, Vec<Located>)> = Vec::new();
        for finding in findings.iter().filter(|f| f.severity == Severity::Error) {
            let Some((view, zones)) = finding.view_zones() else {
                break 'rechecks;
            };
            let Some(index) = snapshot.views.iter().position(|v| v.name == view) else {
                break 'rechecks;
            };
            // The change that caused it: of the zones it is about, the copies that changed since
            // the previous snapshot (an SRV's zone, or its target's); without any, or at start,
            // its record's.
            let mut chosen: Vec<&Name> = zones
                .iter()
                .filter(|origin| changed(previous, snapshot, view, origin))
                .collect();
            if chosen.is_empty() {
                chosen.push(&zones[0]);
            }
            for origin in chosen {
                match found
                    .iter_mut()
                    .find(|(v, o, _)| *v == index && o == origin)
                {
                    Some((_, _, errors)) => errors.push(finding.located()),
                    None => found.push((index, origin.clone(), vec![finding.located()])),
                }
            }
        }
        if found.is_empty() {
            break;
        }
        for (index, origin, errors) in found {
            let view = &mut snapshot.views[index];
            // Held back before (its files, or a check, this load): the previous data it serves
            // fails the checks too.
            let again = view.failed.iter().any(|f| f.origin == origin);
            let failure = build::ZoneFailure {
                origin,
                view: Some(index),
                errors,
                consequence: again
                    .then(|| "its previous data fails the checks too: not served".to_string()),
                cause: build::Cause::Checks,
            };
            build::hold_back(view, &failure, previous.filter(|_| !again));
            // A copy held back twice (its previous data failed too) is one failure to report.
            match failures
                .iter_mut()
                .find(|f| f.view == failure.view && f.origin == failure.origin)
            {
                Some(earlier) => {
                    for error in failure.errors {
                        if !earlier.errors.contains(&error) {
                            earlier.errors.push(error);
                        }
                    }
                    earlier.consequence = failure.consequence;
                }
                None => failures.push(failure),
            }
        }
        findings = checks::run(rechecks.config, snapshot, rechecks.shadowed, rechecks.scope);
    }
    if let Some(previous) = previous.filter(|_| !failures.is_empty()) {
        // The kept copies' files (and their includes) stay watched.
        snapshot.files.extend(previous.files.iter().cloned());
        snapshot.files.sort();
        snapshot.files.dedup();
    }
    said.extend(
        findings
            .into_iter()
            .filter(|f| f.severity == Severity::Error),
    );
    HeldBack {
        failures,
        findings: said,
    }
}

/// Whether `view`'s copy of `origin` differs from the one the `previous` snapshot served (a zone
/// new to the view has changed; at start, with nothing to compare, none has).
fn changed(previous: Option<&Snapshot>, snapshot: &Snapshot, view: &str, origin: &Name) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    match (
        snapshot.view_zone(view, origin),
        previous.view_zone(view, origin),
    ) {
        (Some(now), Some(before)) => now.fingerprint != before.fingerprint,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use std::sync::Arc;
    use std::time::Duration;

    /// The bundled example with its namespace zone broken on reload: that zone and the zone
    /// synthesised from it (fabrikam's Autodiscover SRV, which copies its SOA and NS) keep their
    /// previous data in both views; `load` (what `check` runs) refuses the same files.
    #[test]
    fn a_broken_namespace_zone_keeps_itself_and_its_synthesised_zone() {
        let scratch = Scratch::new("load-isolation");
        let dir = scratch.path();
        let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
        for entry in std::fs::read_dir(&zones).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        let config = dir.join("splitdns.toml");
        let first = reload(&config, None).unwrap();
        assert!(first.zone_failures.is_empty());
        let shared = dir.join("contoso.example.zone");
        let text = std::fs::read_to_string(&shared).unwrap();
        std::fs::write(&shared, format!("{text}\nbroken A 300.0.0.1\n")).unwrap();

        let second = reload(&config, Some(&first.snapshot)).unwrap();
        let failed: Vec<String> = second
            .zone_failures
            .iter()
            .map(|f| f.origin.to_string())
            .collect();
        assert_eq!(
            failed,
            ["contoso.example.", "_autodiscover._tcp.fabrikam.example."]
        );
        for view in &second.snapshot.views {
            for origin in ["contoso.example.", "_autodiscover._tcp.fabrikam.example."] {
                let before = first.snapshot.views[0]
                    .zones
                    .iter()
                    .find(|z| z.origin.to_string() == origin)
                    .map(|z| z.serial);
                let kept = view.zones.iter().find(|z| z.origin.to_string() == origin);
                assert_eq!(kept.map(|z| z.serial), before, "{origin} in {}", view.name);
                assert!(
                    view.failed
                        .iter()
                        .any(|f| f.origin.to_string() == origin && f.stale),
                    "{origin} not marked stale in {}",
                    view.name
                );
            }
            assert_eq!(view.zones.len(), 2, "no zone twice in {}", view.name);
        }
        assert!(matches!(load(&config), Err(LoadError::Zones(_))));
    }

    /// Two views, `internal` and `dmz` (`public` as given), serving contoso (whose shared file
    /// has an inside address on line 5) and fabrikam; the config's path.
    fn write_split(dir: &Path, dmz_public: bool, all_or_nothing: bool) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let zone = |origin: &str, extra: &str| {
            format!(
                "$ORIGIN {origin}.\n@ 300 SOA ns hm 1 2 3 4 5\n@ 300 NS ns\nns 300 A 203.0.113.53\n{extra}"
            )
        };
        std::fs::write(
            dir.join("contoso.zone"),
            zone("contoso.example", "intranet 300 A 10.1.1.1\n"),
        )
        .unwrap();
        std::fs::write(dir.join("fabrikam.zone"), zone("fabrikam.example", "")).unwrap();
        let config = dir.join("splitdns.toml");
        std::fs::write(
            &config,
            format!(
                "all_or_nothing = {all_or_nothing}\n\
                 [[view]]\nname = \"internal\"\nclients = [\"10.0.0.0/8\"]\n\
                 [[view]]\nname = \"dmz\"\nclients = [\"0.0.0.0/0\"]\npublic = {dmz_public}\n\
                 [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.zone\"\n\
                 [[zone]]\norigin = \"fabrikam.example\"\nfile = \"fabrikam.zone\"\n"
            ),
        )
        .unwrap();
        config
    }

    /// At start, a check error about one view's copy holds back that copy (not served) and
    /// nothing else; `check` and `all_or_nothing = true` refuse the same files.
    #[test]
    fn a_check_error_holds_back_that_views_copy_at_start() {
        let scratch = Scratch::new("load-check-error-start");
        let dir = scratch.path();
        let config = write_split(dir, true, false);
        let loaded = reload(&config, None).unwrap();
        let held: Vec<(String, Option<usize>, build::Cause)> = loaded
            .zone_failures
            .iter()
            .map(|f| (f.origin.to_string(), f.view, f.cause))
            .collect();
        assert_eq!(
            held,
            [(
                "contoso.example.".to_string(),
                Some(1),
                build::Cause::Checks
            )]
        );
        assert!(
            loaded.zone_failures[0].errors[0]
                .to_string()
                .contains("contoso.zone:5: error[private-address-in-public-view] (view dmz)")
        );
        let contoso = Name::parse("contoso.example.", None).unwrap();
        let fabrikam = Name::parse("fabrikam.example.", None).unwrap();
        assert!(loaded.snapshot.view_zone("internal", &contoso).is_some());
        assert!(loaded.snapshot.view_zone("dmz", &contoso).is_none());
        assert!(loaded.snapshot.view_zone("dmz", &fabrikam).is_some());
        let dmz = &loaded.snapshot.views[1];
        assert_eq!(dmz.failed.len(), 1);
        assert!(!dmz.failed[0].stale);
        assert!(loaded.snapshot.views[0].failed.is_empty());
        assert!(
            loaded
                .findings
                .iter()
                .all(|f| f.severity != Severity::Error)
        );

        assert!(matches!(load(&config), Err(LoadError::Refused(_))));
        let config = write_split(dir, true, true);
        assert!(matches!(reload(&config, None), Err(LoadError::Refused(_))));
    }

    /// Fabrikam's Autodiscover SRV points at contoso's `mail`. A reload whose contoso edit removes
    /// `mail`'s address holds back contoso (the change that caused the error: its previous copy,
    /// with `mail`, keeps serving), not fabrikam; a start on those files holds back fabrikam, the
    /// SRV's zone, and serves contoso.
    #[test]
    fn an_srv_target_error_holds_back_the_zone_that_changed() {
        let scratch = Scratch::new("load-check-error-srv");
        let dir = scratch.path();
        std::fs::create_dir_all(dir).unwrap();
        let contoso = |serial: u32, mail: &str| {
            format!(
                "$ORIGIN contoso.example.\n@ 300 SOA ns hm {serial} 2 3 4 5\n@ 300 NS ns\nns 300 A 10.0.0.53\n{mail}"
            )
        };
        std::fs::write(
            dir.join("contoso.zone"),
            contoso(1, "mail 300 A 10.0.0.10\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("fabrikam.zone"),
            "$ORIGIN fabrikam.example.\n@ 300 SOA ns hm 1 2 3 4 5\n@ 300 NS ns\nns 300 A 10.0.0.53\n\
             _autodiscover._tcp 300 SRV 0 0 443 mail.contoso.example.\n",
        )
        .unwrap();
        let config = dir.join("splitdns.toml");
        std::fs::write(
            &config,
            "[[view]]\nname = \"inside\"\nclients = [\"0.0.0.0/0\"]\n\
             [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.zone\"\n\
             [[zone]]\norigin = \"fabrikam.example\"\nfile = \"fabrikam.zone\"\n",
        )
        .unwrap();
        let first = reload(&config, None).unwrap();
        assert!(first.zone_failures.is_empty());
        std::fs::write(dir.join("contoso.zone"), contoso(2, "")).unwrap();
        let held = |loaded: &Loaded| -> Vec<(String, bool)> {
            loaded.snapshot.views[0]
                .failed
                .iter()
                .map(|f| (f.origin.to_string(), f.stale))
                .collect()
        };
        let contoso = Name::parse("contoso.example.", None).unwrap();

        let second = reload(&config, Some(&first.snapshot)).unwrap();
        assert_eq!(held(&second), [("contoso.example.".to_string(), true)]);
        assert_eq!(
            second
                .snapshot
                .view_zone("inside", &contoso)
                .map(|z| z.serial),
            Some(1)
        );
        assert!(
            second.zone_failures[0].errors[0]
                .message
                .contains("autodiscover-srv-target-no-address")
        );

        let start = reload(&config, None).unwrap();
        assert_eq!(held(&start), [("fabrikam.example.".to_string(), false)]);
        assert_eq!(
            start
                .snapshot
                .view_zone("inside", &contoso)
                .map(|z| z.serial),
            Some(2)
        );
    }

    /// A reload that makes a view public: its previous copy of contoso has the inside address
    /// too, so it is not served either (the leak stays closed), while fabrikam and the other
    /// view's contoso are.
    #[test]
    fn a_previous_copy_that_fails_the_new_checks_is_not_served() {
        let scratch = Scratch::new("load-check-error-previous");
        let dir = scratch.path();
        let config = write_split(dir, false, false);
        let first = reload(&config, None).unwrap();
        assert!(first.zone_failures.is_empty());
        let config = write_split(dir, true, false);
        let second = reload(&config, Some(&first.snapshot)).unwrap();
        let contoso = Name::parse("contoso.example.", None).unwrap();
        let fabrikam = Name::parse("fabrikam.example.", None).unwrap();
        assert!(second.snapshot.view_zone("dmz", &contoso).is_none());
        assert!(second.snapshot.view_zone("dmz", &fabrikam).is_some());
        assert!(second.snapshot.view_zone("internal", &contoso).is_some());
        let dmz = &second.snapshot.views[1];
        assert_eq!(dmz.failed.len(), 1);
        assert!(!dmz.failed[0].stale, "{:?}", dmz.failed);
        assert!(
            dmz.failed[0]
                .errors
                .iter()
                .any(|e| e.contains("its previous data fails the checks too")),
            "{:?}",
            dmz.failed
        );
    }

    /// A reload takes each zone's shared data as the previous load built it while its file and
    /// `$INCLUDE`s are unchanged, and reads again the zone whose file or include changed; a file
    /// changed moments before it was read is compared by its bytes at the next load (its stamp
    /// could miss a write in the same tick).
    #[test]
    fn a_reload_reads_only_the_zone_files_that_changed() {
        let scratch = Scratch::new("load-unchanged-files");
        let dir = scratch.path();
        let config = write_split(dir, false, false);
        let contoso = dir.join("contoso.zone");
        let text = std::fs::read_to_string(&contoso).unwrap();
        std::fs::write(&contoso, format!("{text}$INCLUDE hosts.inc\n")).unwrap();
        std::fs::write(dir.join("hosts.inc"), "www 300 A 203.0.113.80\n").unwrap();
        // Older than the stamp margin, as files are that an admin did not just save.
        std::thread::sleep(Duration::from_millis(2100));
        let build = |loaded: &Loaded, origin: &str| {
            let origin = Name::parse(origin, None).unwrap();
            loaded
                .snapshot
                .shared_builds
                .iter()
                .find(|b| b.origin == origin)
                .unwrap()
                .clone()
        };
        let same = |a: &Loaded, b: &Loaded, origin: &str| {
            Arc::ptr_eq(build(a, origin).data(), build(b, origin).data())
        };
        let address = |loaded: &Loaded, name: &str| {
            let zone = loaded
                .snapshot
                .view_zone("internal", &Name::parse("contoso.example.", None).unwrap())
                .unwrap();
            let key = Name::parse(name, None).unwrap();
            zone.node(key.as_wire())
                .and_then(|node| node.get(crate::dns::rtype::A))
                .map(|set| set.rdatas[0].wire.to_vec())
        };

        let first = reload(&config, None).unwrap();
        let read = &build(&first, "contoso.example.").read;
        assert_eq!(read.len(), 2);
        assert!(read.iter().all(|file| file.stamp.is_some()));
        let second = reload(&config, Some(&first.snapshot)).unwrap();
        assert!(same(&first, &second, "contoso.example."));
        assert!(same(&first, &second, "fabrikam.example."));
        assert!(second.snapshot.files.contains(&dir.join("hosts.inc")));

        // The include, rewritten in place with the same length.
        std::fs::write(dir.join("hosts.inc"), "www 300 A 203.0.113.81\n").unwrap();
        let third = reload(&config, Some(&second.snapshot)).unwrap();
        assert!(!same(&second, &third, "contoso.example."));
        assert!(same(&second, &third, "fabrikam.example."));
        assert_eq!(
            address(&third, "www.contoso.example."),
            Some(vec![203, 0, 113, 81])
        );
        // Just written: its stamp is not trusted, its bytes are compared.
        let read = &build(&third, "contoso.example.").read;
        assert!(read[0].stamp.is_some() && read[1].stamp.is_none());
        let fourth = reload(&config, Some(&third.snapshot)).unwrap();
        assert!(same(&third, &fourth, "contoso.example."));
        std::fs::write(dir.join("hosts.inc"), "www 300 A 203.0.113.83\n").unwrap();
        let changed = reload(&config, Some(&fourth.snapshot)).unwrap();
        assert!(!same(&fourth, &changed, "contoso.example."));
        assert_eq!(
            address(&changed, "www.contoso.example."),
            Some(vec![203, 0, 113, 83])
        );

        // The zone file itself, saved by rename.
        let saved = dir.join("contoso.zone.new");
        std::fs::write(&saved, format!("{text}extra 300 A 203.0.113.82\n")).unwrap();
        std::fs::rename(&saved, &contoso).unwrap();
        let fifth = reload(&config, Some(&fourth.snapshot)).unwrap();
        assert_eq!(
            address(&fifth, "extra.contoso.example."),
            Some(vec![203, 0, 113, 82])
        );
        assert_eq!(address(&fifth, "www.contoso.example."), None);
        assert!(same(&fourth, &fifth, "fabrikam.example."));
    }
}
