//! Runs the checks a plan asks for: one task per target, started when a plan is applied (at
//! start-up and at each reload, not on a first query), stopped when a reload's plan no longer has
//! the target. A target that stays keeps its task and its state. Each change of state is one log
//! line and publishes new masks on the current plan's board.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::probe::Checker;
use super::{Kind, Plan, Target, cert};

/// The running checks; cheap to clone (all clones share them).
#[derive(Clone, Default)]
pub struct Prober {
    shared: Arc<Mutex<Shared>>,
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
}

struct Running {
    up: bool,
    stop: CancellationToken,
}

impl Shared {
    /// Publishes the masks the current states give on the current plan's board.
    fn publish(&self) {
        if let Some(plan) = &self.plan {
            let up = |index: usize| {
                self.running
                    .get(&plan.targets[index])
                    .is_none_or(|running| running.up)
            };
            plan.board.publish(&plan.masks(up));
        }
    }
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
                    stop: stop.clone(),
                },
            );
            tokio::spawn(run(target.clone(), self.shared.clone(), stop));
        }
        shared.plan = Some(plan);
        shared.publish();
    }

    /// Every target checked now and whether it is up (a target not yet checked counts as
    /// up, as it is answered), in a stable order.
    pub fn states(&self) -> Vec<(Target, bool)> {
        let shared = lock(&self.shared);
        let mut states: Vec<(Target, bool)> = shared
            .running
            .iter()
            .map(|(target, running)| (target.clone(), running.up))
            .collect();
        states.sort_by_cached_key(|(target, _)| target.to_string());
        states
    }

    /// Stops every check.
    pub fn stop(&self) {
        let mut shared = lock(&self.shared);
        for running in shared.running.values() {
            running.stop.cancel();
        }
        shared.running.clear();
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One target's checks, every `interval` until `stop`: `fall` failures in a row take it out,
/// `rise` successes in a row put it back.
async fn run(target: Target, shared: Arc<Mutex<Shared>>, stop: CancellationToken) {
    let checker = match Checker::new(&target) {
        Ok(checker) => checker,
        Err(reason) => {
            tracing::error!("health: cannot check {target}: {reason}");
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
        let change = match result {
            Ok(passed) => {
                failures = 0;
                successes = successes.saturating_add(1);
                if let (Some(not_after), Kind::Https(https)) =
                    (passed.not_after, &target.probe.kind)
                {
                    let left = not_after - now();
                    if https.certificate_check
                        && left < i64::from(https.expiry_warning_days) * 86_400
                        && warned_expiry != Some(not_after)
                    {
                        warned_expiry = Some(not_after);
                        tracing::warn!(
                            "health: {target}: certificate expires {} (within {} days); the address stays in",
                            cert::date(not_after),
                            https.expiry_warning_days
                        );
                    }
                }
                (!up && successes >= target.probe.rise).then(|| (true, "check passed".to_string()))
            }
            Err(reason) => {
                successes = 0;
                failures = failures.saturating_add(1);
                tracing::debug!("health: {target}: check failed: {reason}");
                (up && failures >= target.probe.fall).then_some((false, reason))
            }
        };
        if let Some((now_up, reason)) = change {
            up = now_up;
            let mut shared = lock(&shared);
            // A reload may have dropped the target while this check ran.
            if stop.is_cancelled() {
                return;
            }
            if let Some(running) = shared.running.get_mut(&target) {
                running.up = up;
            }
            let names = shared.plan.as_ref().map_or_else(String::new, |plan| {
                plan.targets
                    .iter()
                    .position(|t| *t == target)
                    .map_or_else(String::new, |index| plan.names_of(index))
            });
            let address = std::net::SocketAddr::new(target.address, target.probe.port);
            let (from, to) = if up { ("down", "up") } else { ("up", "down") };
            let message = format!("health: {address} ({names}) {from} -> {to}: {reason}");
            if up {
                tracing::info!("{message}");
            } else {
                tracing::warn!("{message}");
            }
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
