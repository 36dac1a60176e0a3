//! Runs the checks a plan asks for: one task per target, started when a plan is applied (at
//! start-up and at each reload, not on a first query), stopped when a reload's plan no longer has
//! the target. A target that stays keeps its task and its state. Each change of state is one log
//! line and publishes new masks on the current plan's board.
//!
//! What those masks mean for a checked name is watched too: a site failover (the view's preferred
//! site all down, the next one answered) and back, and entering and leaving fail-open (every
//! address down) are each one log line, however many names and views one address change moves,
//! and are kept, with each address's last result, for `/status` ([`Prober::report`]).
//!
//! The plan's DANE checks run beside them ([`super::dane::Runner`]), started, reported and
//! stopped with them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::dane;
use super::events::{self, Event, Events, Severity, now_unix};
use super::probe::Checker;
use super::{Kind, Plan, Serving, Target, cert};

/// The running checks; cheap to clone (all clones share them).
#[derive(Clone, Default)]
pub struct Prober {
    shared: Arc<Mutex<Shared>>,
    dane: dane::Runner,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shared {
    plan: Option<Arc<Plan>>,
    running: HashMap<Target, Running>,
    /// What each checked RRset answers, and since when (Unix seconds).
    serving: HashMap<SlotKey, (Serving, u64)>,
    /// The latest events, oldest first.
    events: Events,
}

/// A checked RRset across reloads: its view, owner name and type.
type SlotKey = (String, String, &'static str);

struct Running {
    up: bool,
    /// Whether any check has finished (until then the address counts as up).
    checked: bool,
    /// Why the last check failed, or "check passed".
    reason: String,
    /// When `up` last changed, or the checks started (Unix seconds).
    since: u64,
    /// Failures in a row (below `fall` while the address is still up).
    failures: u32,
    /// The certificate's `notAfter` (Unix seconds), from the last passed HTTPS check.
    not_after: Option<i64>,
    /// Whether it expires within the check's `expiry_warning_days`.
    expiring: bool,
    stop: CancellationToken,
}

/// One address of one checked RRset, as `/status` lists it.
#[derive(Debug, Clone)]
pub struct AddressReport {
    /// The owner name (without the final dot), view, `A` or `AAAA`, and site (empty if none).
    pub name: String,
    pub view: String,
    pub rtype: &'static str,
    pub site: String,
    pub target: Target,
    pub up: bool,
    pub checked: bool,
    /// Whether it is in the answers now (a down address is, while its name fails open).
    pub answered: bool,
    pub reason: String,
    pub since: u64,
    pub failures: u32,
    pub not_after: Option<i64>,
    pub expiring: bool,
}

/// One checked RRset, as `/status` lists it.
#[derive(Debug, Clone)]
pub struct NameReport {
    pub name: String,
    pub view: String,
    pub rtype: &'static str,
    pub serving: Serving,
    pub since: u64,
    /// The view's preferred site for it (empty if its block names no sites).
    pub preferred_site: String,
}

/// Everything the checks know now.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub addresses: Vec<AddressReport>,
    pub names: Vec<NameReport>,
    /// Every DANE check.
    pub dane: Vec<dane::CheckReport>,
    /// The latest events (the DANE checks' too), oldest first.
    pub events: Vec<Event>,
}

impl Shared {
    /// Publishes the masks the current states give on the current plan's board, and logs (and
    /// keeps) what that changes for the names: failovers and fail-open.
    fn publish(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let up = |index: usize| {
            self.running
                .get(&plan.targets[index])
                .is_none_or(|running| running.up)
        };
        plan.board.publish(&plan.masks(up));
        let now = now_unix();
        let mut serving = HashMap::with_capacity(plan.slots.len());
        let mut changes = Changes::default();
        for (index, slot) in plan.slots.iter().enumerate() {
            let key = slot_key(&plan, index);
            let state = plan.serving(index, up);
            let (before, since) = self
                .serving
                .get(&key)
                .cloned()
                .unwrap_or((Serving::Preferred, now));
            let subject = (slot.name.clone(), slot.view.clone());
            let since = if before == state {
                since
            } else {
                changes.add(&before, &state, subject);
                now
            };
            serving.insert(key, (state, since));
        }
        self.serving = serving;
        for (severity, detail, subjects) in changes.0 {
            self.event(
                severity,
                format!("health: {}: {detail}", by_view(&subjects)),
            );
        }
    }

    /// Logs `message` and keeps it for `/status`.
    fn event(&mut self, severity: Severity, message: String) {
        match severity {
            Severity::Info => tracing::info!("{message}"),
            Severity::Warning => tracing::warn!("{message}"),
            Severity::Critical => tracing::error!("{message}"),
        }
        self.events.keep(severity, message);
    }
}

/// The names' changes of one publish, grouped so that one address change that moves several
/// names (the namespace and autodiscover, in several views) is one line.
#[derive(Default)]
struct Changes(Vec<(Severity, String, Vec<Subject>)>);

/// A checked name and its view.
type Subject = (String, String);

/// `a, b (view v); c (view w)` for (name, view) pairs, views in order of appearance.
fn by_view(subjects: &[Subject]) -> String {
    let mut views: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, view) in subjects {
        match views.iter_mut().find(|(v, _)| v == view) {
            Some((_, names)) => names.push(name),
            None => views.push((view, vec![name])),
        }
    }
    views
        .iter()
        .map(|(view, names)| format!("{} (view {view})", names.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Changes {
    fn add(&mut self, before: &Serving, now: &Serving, subject: Subject) {
        let (severity, detail) = match (before, now) {
            (_, Serving::FailingOpen) => (
                Severity::Critical,
                "every address is down: failing open, answering all of them".to_string(),
            ),
            (_, Serving::AllDown) => (
                Severity::Critical,
                "every address is down: answering SERVFAIL (all_down = \"servfail\")".to_string(),
            ),
            (Serving::FailingOpen, Serving::Preferred) => (
                Severity::Info,
                "an address is up again: no longer failing open".to_string(),
            ),
            (Serving::FailingOpen, Serving::FailedOver { to, .. }) => (
                Severity::Warning,
                format!("an address is up again: no longer failing open, answering site {to}"),
            ),
            (Serving::AllDown, _) => (
                Severity::Info,
                "an address is up again: answering it (no longer SERVFAIL)".to_string(),
            ),
            (Serving::FailedOver { from, to }, Serving::Preferred) => (
                Severity::Info,
                format!("site {from} is up again: failing back from site {to} to site {from}"),
            ),
            (Serving::FailedOver { to: was, .. }, Serving::FailedOver { from, to }) => (
                Severity::Warning,
                format!("failing over from site {was} to site {to} (site {from} is still down)"),
            ),
            (Serving::Preferred, Serving::FailedOver { from, to }) => (
                Severity::Warning,
                format!("site {from} is down: failing over to site {to}"),
            ),
            (_, Serving::Preferred) => return,
        };
        match self
            .0
            .iter_mut()
            .find(|(s, d, _)| *s == severity && *d == detail)
        {
            Some((_, _, subjects)) => {
                if !subjects.contains(&subject) {
                    subjects.push(subject);
                }
            }
            None => self.0.push((severity, detail, vec![subject])),
        }
    }
}

fn slot_key(plan: &Plan, index: usize) -> SlotKey {
    let slot = &plan.slots[index];
    let rtype = match slot.targets.first().map(|&t| plan.targets[t].address) {
        Some(std::net::IpAddr::V6(_)) => "AAAA",
        _ => "A",
    };
    (slot.view.clone(), slot.name.clone(), rtype)
}

impl Prober {
    pub fn new() -> Prober {
        Prober::default()
    }

    /// Checks what `plan` asks for from now on, and publishes its board's masks from the states
    /// known now (a new address counts as up until its first results). Call within the runtime,
    /// before the snapshot that reads `plan.board` is served.
    pub fn apply(&self, plan: Arc<Plan>) {
        let mut shared = lock(&self.shared);
        shared.running.retain(|target, running| {
            let kept = plan.targets.contains(target);
            if !kept {
                running.stop.cancel();
                tracing::info!("health: stopped checking {target}");
            }
            kept
        });
        for target in &plan.targets {
            if shared.running.contains_key(target) {
                continue;
            }
            let stop = CancellationToken::new();
            shared.running.insert(
                target.clone(),
                Running {
                    up: true,
                    checked: false,
                    reason: "not checked yet".to_string(),
                    since: now_unix(),
                    failures: 0,
                    not_after: None,
                    expiring: false,
                    stop: stop.clone(),
                },
            );
            tokio::spawn(run(target.clone(), self.shared.clone(), stop));
        }
        self.dane.apply(Arc::new(plan.dane.clone()));
        shared.plan = Some(plan);
        shared.publish();
    }

    /// Every target checked now, whether it is up (a target not yet checked counts as up, as
    /// it is answered) and its site (the names of the sites that list it, joined with `,`;
    /// empty if none does), in a stable order.
    pub fn states(&self) -> Vec<(Target, bool, String)> {
        let shared = lock(&self.shared);
        let mut states: Vec<(Target, bool, String)> = shared
            .running
            .iter()
            .map(|(target, running)| {
                let site = shared
                    .plan
                    .as_ref()
                    .map_or_else(String::new, |plan| sites_of(plan, target));
                (target.clone(), running.up, site)
            })
            .collect();
        states.sort_by_cached_key(|(target, _, _)| target.to_string());
        states
    }

    /// Every checked address of every checked name, what each name answers, and the latest
    /// events.
    pub fn report(&self) -> Report {
        let shared = lock(&self.shared);
        let mut report = Report {
            dane: self.dane.report(),
            events: self.events(&shared),
            ..Report::default()
        };
        let Some(plan) = shared.plan.clone() else {
            return report;
        };
        let up = |index: usize| {
            shared
                .running
                .get(&plan.targets[index])
                .is_none_or(|running| running.up)
        };
        let masks = plan.masks(up);
        for (index, slot) in plan.slots.iter().enumerate() {
            let key = slot_key(&plan, index);
            let (serving, since) = shared
                .serving
                .get(&key)
                .cloned()
                .unwrap_or((Serving::Preferred, now_unix()));
            let preferred_site = slot
                .ranks
                .iter()
                .min()
                .map(|&rank| slot.site_of_rank(rank))
                .filter(|_| slot.sites.iter().any(|s| !s.is_empty()))
                .unwrap_or_default();
            report.names.push(NameReport {
                name: slot.name.clone(),
                view: slot.view.clone(),
                rtype: key.2,
                serving,
                since,
                preferred_site,
            });
            for (record, (&target, site)) in slot.targets.iter().zip(&slot.sites).enumerate() {
                let target = &plan.targets[target];
                let running = shared.running.get(target);
                report.addresses.push(AddressReport {
                    name: slot.name.clone(),
                    view: slot.view.clone(),
                    rtype: key.2,
                    site: site.clone(),
                    target: target.clone(),
                    up: running.is_none_or(|r| r.up),
                    checked: running.is_some_and(|r| r.checked),
                    answered: masks[index] >> record & 1 == 1,
                    reason: running.map_or_else(String::new, |r| r.reason.clone()),
                    since: running.map_or(0, |r| r.since),
                    failures: running.map_or(0, |r| r.failures),
                    not_after: running.and_then(|r| r.not_after),
                    expiring: running.is_some_and(|r| r.expiring),
                });
            }
        }
        report
    }

    /// The latest events of the health and DANE checks, oldest first.
    fn events(&self, shared: &Shared) -> Vec<Event> {
        events::merged([
            shared.events.latest().cloned().collect(),
            self.dane.events(),
        ])
    }

    /// Stops every check.
    pub fn stop(&self) {
        self.dane.stop();
        let mut shared = lock(&self.shared);
        for running in shared.running.values() {
            running.stop.cancel();
        }
        shared.running.clear();
    }
}

/// The sites that list `target` in `plan`, joined with `,`.
fn sites_of(plan: &Plan, target: &Target) -> String {
    let Some(index) = plan.targets.iter().position(|t| t == target) else {
        return String::new();
    };
    let mut sites: Vec<&str> = plan
        .slots
        .iter()
        .flat_map(|slot| slot.targets.iter().zip(&slot.sites))
        .filter(|(t, site)| **t == index && !site.is_empty())
        .map(|(_, site)| site.as_str())
        .collect();
    sites.sort_unstable();
    sites.dedup();
    sites.join(",")
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One target's checks, every `interval` until `stop`: `fall` failures in a row take it out,
/// `rise` successes in a row put it back. Each result is kept for `/status`.
async fn run(target: Target, shared: Arc<Mutex<Shared>>, stop: CancellationToken) {
    let checker = match Checker::new(&target) {
        Ok(checker) => checker,
        Err(reason) => {
            tracing::error!("health: cannot check {target}: {reason}");
            if let Some(running) = lock(&shared).running.get_mut(&target) {
                running.reason = format!("cannot check: {reason}");
            }
            return;
        }
    };
    tracing::info!(
        "health: checking {target} every {:?}",
        target.probe.interval
    );
    let mut ticks = tokio::time::interval(target.probe.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut up, mut failures, mut successes) = (true, 0u32, 0u32);
    let mut warned_expiry = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let result = tokio::select! {
            () = stop.cancelled() => return,
            result = checker.check() => result,
        };
        let (mut not_after, mut expiring) = (None, false);
        let (change, reason) = match result {
            Ok(passed) => {
                failures = 0;
                successes = successes.saturating_add(1);
                if let (Some(expires), Kind::Https(https)) = (passed.not_after, &target.probe.kind)
                {
                    not_after = Some(expires);
                    let left = expires - now();
                    expiring = https.certificate_check
                        && left < i64::from(https.expiry_warning_days) * 86_400;
                    if expiring && warned_expiry != Some(expires) {
                        warned_expiry = Some(expires);
                        tracing::warn!(
                            "health: {target}: certificate expires {} (within {} days); the address stays in",
                            cert::date(expires),
                            https.expiry_warning_days
                        );
                    }
                }
                let reason = "check passed".to_string();
                (
                    (!up && successes >= target.probe.rise).then_some(true),
                    reason,
                )
            }
            Err(reason) => {
                successes = 0;
                failures = failures.saturating_add(1);
                tracing::debug!("health: {target}: check failed: {reason}");
                (
                    (up && failures >= target.probe.fall).then_some(false),
                    reason,
                )
            }
        };
        let mut shared = lock(&shared);
        // A reload may have dropped the target while this check ran.
        if stop.is_cancelled() {
            return;
        }
        if let Some(running) = shared.running.get_mut(&target) {
            running.checked = true;
            running.failures = failures;
            running.reason.clone_from(&reason);
            running.not_after = not_after.or(running.not_after.filter(|_| failures > 0));
            running.expiring = expiring || (failures > 0 && running.expiring);
            if let Some(now_up) = change {
                running.up = now_up;
                running.since = now_unix();
            }
        }
        if let Some(now_up) = change {
            up = now_up;
            let names = shared.plan.as_ref().map_or_else(String::new, |plan| {
                plan.targets
                    .iter()
                    .position(|t| *t == target)
                    .map_or_else(String::new, |index| plan.names_of(index))
            });
            let address = std::net::SocketAddr::new(target.address, target.probe.port);
            let (from, to, severity) = if up {
                ("down", "up", Severity::Info)
            } else {
                ("up", "down", Severity::Warning)
            };
            shared.event(
                severity,
                format!("health: {address} ({names}) {from} -> {to}: {reason}"),
            );
            shared.publish();
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}
