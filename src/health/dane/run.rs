//! Runs a DANE plan: one task per target, started when a plan is applied and stopped when a
//! reload's plan no longer has it. A target that stays keeps its task and the chain it last saw,
//! so a reload that fixes a TLSA record is judged at once, not at the next check. Each check's
//! state (match, mismatch, failed …) is kept with since when; each change is one log line and
//! one event for `/status`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::time::MissedTickBehavior;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_util::sync::CancellationToken;

use super::tlsa::{self, Comparison, Tlsa};
use super::{Check, Plan, Target};
use crate::health::events::{Event, Events, Severity, now_unix};
use crate::health::presented;

/// The running checks; cheap to clone (all clones share them).
#[derive(Clone, Default)]
pub(crate) struct Runner {
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shared {
    plan: Option<Arc<Plan>>,
    running: HashMap<Target, Running>,
    /// Each check's state and since when (Unix seconds), by view, TLSA owner and target.
    states: HashMap<(String, String, Target), (State, u64)>,
    /// The latest events, oldest first.
    events: Events,
}

struct Running {
    /// The last check's result, and when it was made.
    last: Option<(u64, Result<Vec<CertificateDer<'static>>, String>)>,
    stop: CancellationToken,
}

/// What a TLSA RRset makes of what its address presented at the last check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No check has finished yet.
    Unchecked,
    /// This record matches.
    Match(Tlsa),
    /// No record matches: senders that validate DANE refuse this server.
    Mismatch,
    /// No record of the RRset is one the checks compare.
    NoUsableRecord,
    /// The chain could not be had, and why.
    Failed(String),
}

impl State {
    /// The word for the state: a JSON value, so never changed.
    pub fn word(&self) -> &'static str {
        match self {
            State::Unchecked => "unchecked",
            State::Match(_) => "match",
            State::Mismatch => "mismatch",
            State::NoUsableRecord => "no-usable-record",
            State::Failed(_) => "failed",
        }
    }
}

/// One check as `/status` lists it.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub view: String,
    pub name: String,
    pub target: Target,
    pub state: State,
    /// When the state last changed (or the check began), Unix seconds.
    pub since: u64,
    /// When the last check finished.
    pub checked: Option<u64>,
    /// The records published.
    pub records: Arc<[Tlsa]>,
    /// What the address presented at the last check, as the records that would pin it (3 1 1
    /// for its certificate, 2 1 1 for the issuing CA's when it was sent).
    pub presented: Vec<Tlsa>,
}

impl Runner {
    /// Checks what `plan` asks for from now on. Call within the runtime.
    pub(crate) fn apply(&self, plan: Arc<Plan>) {
        let mut shared = lock(&self.shared);
        shared.running.retain(|target, running| {
            let kept = plan.targets.contains(target);
            if !kept {
                running.stop.cancel();
                tracing::info!("dane: stopped checking {}", target.socket());
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
                    last: None,
                    stop: stop.clone(),
                },
            );
            tokio::spawn(run(target.clone(), self.shared.clone(), stop));
        }
        shared.plan = Some(plan);
        shared.compare();
    }

    /// Every check of the plan, with its state.
    pub(crate) fn report(&self) -> Vec<CheckReport> {
        let shared = lock(&self.shared);
        let Some(plan) = &shared.plan else {
            return Vec::new();
        };
        plan.checks
            .iter()
            .map(|check| {
                let target = &plan.targets[check.target];
                let last = shared.running.get(target).and_then(|r| r.last.as_ref());
                let (state, since) = shared
                    .states
                    .get(&(check.view.clone(), check.name.clone(), target.clone()))
                    .cloned()
                    .unwrap_or((State::Unchecked, now_unix()));
                CheckReport {
                    view: check.view.clone(),
                    name: check.name.clone(),
                    target: target.clone(),
                    state,
                    since,
                    checked: last.map(|(at, _)| *at),
                    records: check.records.clone(),
                    presented: match last {
                        Some((_, Ok(chain))) => tlsa::presented(chain),
                        _ => Vec::new(),
                    },
                }
            })
            .collect()
    }

    /// The latest events, oldest first.
    pub(crate) fn events(&self) -> Vec<Event> {
        lock(&self.shared).events.latest().cloned().collect()
    }

    /// Stops every check.
    pub(crate) fn stop(&self) {
        let mut shared = lock(&self.shared);
        for running in shared.running.values() {
            running.stop.cancel();
        }
        shared.running.clear();
    }
}

impl Shared {
    /// Judges every check of the plan on its target's last result, and logs (and keeps) each
    /// change.
    fn compare(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let now = now_unix();
        let mut states = HashMap::with_capacity(plan.checks.len());
        for check in &plan.checks {
            let target = &plan.targets[check.target];
            let chain = self.running.get(target).and_then(|r| r.last.as_ref());
            let state = match chain {
                None => State::Unchecked,
                Some((_, Err(reason))) => State::Failed(reason.clone()),
                Some((_, Ok(chain))) => match tlsa::compare(&check.records, chain) {
                    Comparison::Match(record) => State::Match(record),
                    Comparison::Mismatch => State::Mismatch,
                    Comparison::NoUsableRecord => State::NoUsableRecord,
                },
            };
            let key = (check.view.clone(), check.name.clone(), target.clone());
            let since = match self.states.get(&key) {
                Some((before, since)) if *before == state => *since,
                before => {
                    let presented = match chain {
                        Some((_, Ok(chain))) => tlsa::presented(chain),
                        _ => Vec::new(),
                    };
                    if let Some((severity, detail)) =
                        change(before.map(|(state, _)| state), &state, &presented)
                    {
                        let message = format!("dane: {}: {detail}", subject(check, target));
                        match severity {
                            Severity::Info => tracing::info!("{message}"),
                            Severity::Warning => tracing::warn!("{message}"),
                            Severity::Critical => tracing::error!("{message}"),
                        }
                        self.events.keep(severity, message);
                    }
                    now
                }
            };
            states.insert(key, (state, since));
        }
        self.states = states;
    }
}

/// `_25._tcp.mail.contoso.example (view internal) at 10.0.0.21:25`.
fn subject(check: &Check, target: &Target) -> String {
    format!(
        "{} (view {}) at {}",
        check.name,
        check.view,
        target.socket()
    )
}

/// What a change of state is worth saying, and how loudly.
fn change(before: Option<&State>, now: &State, presented: &[Tlsa]) -> Option<(Severity, String)> {
    Some(match now {
        State::Unchecked => return None,
        State::Match(record) => match before {
            Some(State::Match(earlier)) => (
                Severity::Info,
                format!("now matches TLSA {record} (matched {earlier} before)"),
            ),
            None | Some(State::Unchecked) => {
                (Severity::Info, format!("matches TLSA {record}"))
            }
            Some(_) => (Severity::Info, format!("matches TLSA {record} again")),
        },
        State::Mismatch => {
            let shown: Vec<String> = presented.iter().map(ToString::to_string).collect();
            (
                Severity::Warning,
                format!(
                    "the presented certificate matches none of its TLSA records: senders that validate DANE will not deliver; it presents {}",
                    shown.join(", ")
                ),
            )
        }
        State::NoUsableRecord => (
            Severity::Warning,
            "none of its TLSA records is usable (usage 2 or 3, selector 0 or 1, matching type 0, 1 or 2): nothing to compare".to_string(),
        ),
        State::Failed(reason) => (Severity::Warning, format!("cannot compare: {reason}")),
    })
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One target's checks, every `interval` until `stop`, each result judged at once.
async fn run(target: Target, shared: Arc<Mutex<Shared>>, stop: CancellationToken) {
    tracing::info!(
        "dane: checking the certificate {} presents at {} every {:?}",
        target.server_name,
        target.socket(),
        target.interval
    );
    let mut ticks = tokio::time::interval(target.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let result = tokio::select! {
            () = stop.cancelled() => return,
            result = presented::chain(target.socket(), &target.server_name, target.opening, target.timeout) => result,
        };
        let mut shared = lock(&shared);
        // A reload may have dropped the target while this check ran.
        if stop.is_cancelled() {
            return;
        }
        if let Some(running) = shared.running.get_mut(&target) {
            running.last = Some((now_unix(), result));
        }
        shared.compare();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Going wrong is a warning that says what to publish; coming back and the first match are
    /// information; a new record matching (the pre-published key in use) says which.
    #[test]
    fn changes_are_worded_by_what_they_mean() {
        let record = |byte: u8| Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![byte; 2].into(),
        };
        let (severity, text) = change(None, &State::Mismatch, &[record(0xab)]).unwrap();
        assert_eq!(severity, Severity::Warning);
        assert!(text.ends_with("it presents 3 1 1 ABAB"), "{text}");
        let (severity, text) =
            change(Some(&State::Mismatch), &State::Match(record(1)), &[]).unwrap();
        assert_eq!(
            (severity, text.as_str()),
            (Severity::Info, "matches TLSA 3 1 1 0101 again")
        );
        let (_, text) = change(
            Some(&State::Match(record(1))),
            &State::Match(record(2)),
            &[],
        )
        .unwrap();
        assert_eq!(
            text,
            "now matches TLSA 3 1 1 0202 (matched 3 1 1 0101 before)"
        );
        let (severity, text) = change(
            Some(&State::Unchecked),
            &State::Failed("timeout".into()),
            &[],
        )
        .unwrap();
        assert_eq!(
            (severity, text.as_str()),
            (Severity::Warning, "cannot compare: timeout")
        );
        assert!(change(None, &State::Unchecked, &[]).is_none());
    }
}
