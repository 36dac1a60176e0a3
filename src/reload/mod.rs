//! Live reload. A reload is a transaction: read → parse → validate → build a whole new snapshot
//! off the query path → publish it ([`publish`], the one way to go live, which start-up uses too),
//! or log why not and keep serving the previous one.
//!
//! It is triggered by SIGHUP, by a change to any file the snapshot was built from (`watch`),
//! and by the control listener's `POST /reload` (`splitdns reload`, the unit's `ExecReload`),
//! which asks through a [`ReloadHandle`] and is told the result; all run the one transaction
//! below, after the one wait: until no watched file is being written (`watch::settle`; a file
//! change also waits for its burst of events to end). A file still open for writing when the
//! wait ends is not read: the zones that read it keep their previous data, and the reload's log
//! line and record say so. A reload during which any other file event came in may have read a
//! file mid-write: it is dropped and read again once the files settle. The service manager hears
//! RELOADING=1 before it and READY=1 after it.

mod parents;
pub mod publish;
mod watch;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::load::{self, LoadError};
use crate::located::Located;
use crate::systemd;
pub use publish::Live;
use watch::{FileWatcher, MAX_WRITE_WAIT, Unfinished, Watched, barrier, lock, quiet_time, settle};

/// A reload's result: published (with the `file:line` errors of the zones held back, and the
/// findings worth a warning), or refused whole.
type Outcome = Result<Published, LoadError>;

/// What a published reload leaves to report.
struct Published {
    held_back: Vec<String>,
    findings: Vec<String>,
}

/// How a reload came out: the one word for it in the log lines, `splitdns reload`,
/// `splitdns status`, `/status` (`last_reload.outcome`), the metrics (`result` of
/// `splitdns_reloads_total` and `splitdns_last_reload`) and the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReloadOutcome {
    /// Everything loaded; the new data is served.
    Ok,
    /// Published, but some zone copies were held back: each is stale (its previous data is
    /// served) or unavailable (no previous data: SERVFAIL); the other zones' changes are served.
    Partial,
    /// Nothing published: the previous data is served, all of it.
    Refused,
}

impl ReloadOutcome {
    pub const ALL: [ReloadOutcome; 3] = [
        ReloadOutcome::Ok,
        ReloadOutcome::Partial,
        ReloadOutcome::Refused,
    ];

    /// The word: a metric label value and a JSON value, so never changed.
    pub fn word(self) -> &'static str {
        match self {
            ReloadOutcome::Ok => "ok",
            ReloadOutcome::Partial => "partial",
            ReloadOutcome::Refused => "refused",
        }
    }

    /// The word and what it means for what is served, as people read it: the log, the
    /// commands, the page.
    pub fn phrase(self) -> &'static str {
        match self {
            ReloadOutcome::Ok => "ok",
            ReloadOutcome::Partial => "partial: zones held back",
            ReloadOutcome::Refused => "refused: previous data kept",
        }
    }
}

impl std::fmt::Display for ReloadOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.phrase())
    }
}

/// What asked for a reload (named in the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    FileChange,
    Signal,
    /// `POST /reload` on the control listener (`splitdns reload`).
    Request,
    /// Signatures near their refresh margin, or a key's timing reached: the signed zones are
    /// signed anew (and everything else read again, as any reload does).
    Signing,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::FileChange => "file change",
            Trigger::Signal => "SIGHUP",
            Trigger::Request => "request",
            Trigger::Signing => "signature refresh",
        })
    }
}

/// How the last reload went, for `/status` and `splitdns reload`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReloadRecord {
    /// When it finished, in seconds since the Unix epoch.
    pub unix_time: u64,
    pub trigger: String,
    /// "ok", "partial" or "refused" (see [`ReloadOutcome`]); absent from servers before it, so
    /// read it with [`ReloadRecord::outcome`], which falls back on `ok` and `applied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ReloadOutcome>,
    /// Whether everything loaded and the new data is served (outcome "ok").
    pub ok: bool,
    /// Whether a new snapshot was published (outcome "ok" or "partial"): true also when some
    /// zones were held back (each stale or unavailable) while the others' changes were published.
    pub applied: bool,
    pub seconds: f64,
    /// What refused it, or held zones back, one `file:line: message` each.
    pub errors: Vec<String>,
    /// What else it is worth knowing: the checks' warnings and the serial notices (a zone's
    /// content changed without a serial increase), one line each. Absent from servers before it.
    #[serde(default)]
    pub findings: Vec<String>,
    /// One line with every view's zones and serials, as served after it.
    pub serving: String,
}

impl ReloadRecord {
    /// How it came out; from `ok` and `applied` when an older server sent no `outcome`.
    pub fn outcome(&self) -> ReloadOutcome {
        self.outcome.unwrap_or(match (self.ok, self.applied) {
            (true, _) => ReloadOutcome::Ok,
            (false, true) => ReloadOutcome::Partial,
            (false, false) => ReloadOutcome::Refused,
        })
    }
}

/// What the control listener holds to ask for reloads and read how the last one went.
#[derive(Debug, Clone)]
pub struct ReloadHandle {
    requests: mpsc::Sender<oneshot::Sender<ReloadRecord>>,
    last: Arc<Mutex<Option<ReloadRecord>>>,
}

impl ReloadHandle {
    /// Runs a reload (after any that is under way) and returns how it went; `None` when the
    /// reloader has stopped.
    pub async fn reload(&self) -> Option<ReloadRecord> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(reply).await.ok()?;
        answer.await.ok()
    }

    /// The last reload since start, if any.
    pub fn last(&self) -> Option<ReloadRecord> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The settings only a restart applies, besides `listen`: the control listener's address, the
/// query log's file and sampling (not where in the config they are written: an edit above them
/// moves them without changing them), and the DNS over TLS and HTTPS addresses (the rest of
/// `[tls]`, the certificate first, a reload applies).
type RestartOnly = (
    Option<SocketAddr>,
    Option<(PathBuf, u32)>,
    Option<(Vec<SocketAddr>, Vec<SocketAddr>)>,
);

fn restart_only(config: &crate::config::Config) -> RestartOnly {
    (
        config.control,
        config
            .query_log
            .as_ref()
            .map(|log| (log.path.clone(), log.sample)),
        config
            .tls
            .as_ref()
            .map(|tls| (tls.dot_listen.clone(), tls.doh_listen.clone())),
    )
}

/// Owns the reload transaction for one served snapshot.
pub struct Reloader {
    config_path: PathBuf,
    /// What each load is published to.
    live: Live,
    /// The config's `listen` and `listen_loops` when the sockets were bound: they cannot change
    /// live.
    listen: Vec<SocketAddr>,
    listen_loops: Option<NonZeroUsize>,
    /// The addresses actually served on (the config's, or `--listen`'s).
    bound: Vec<SocketAddr>,
    /// The config's `[control] listen` and `[query_log]` at start: they too need a restart.
    started_with: RestartOnly,
    /// Files a failed reload named: watched too, so that fixing them triggers the next reload.
    failed_files: Vec<PathBuf>,
    /// When the signed zones are next due to be signed (Unix seconds).
    signing_due: Option<u64>,
    last: Arc<Mutex<Option<ReloadRecord>>>,
}

impl Reloader {
    /// Reloads what `live` serves, started with `started_with` (served on `bound`, its signed
    /// zones next due to be signed at `signing_due`).
    pub fn new(
        live: Live,
        started_with: &crate::config::Config,
        bound: Vec<SocketAddr>,
        signing_due: Option<u64>,
    ) -> Reloader {
        Reloader {
            config_path: started_with.path.clone(),
            live,
            listen: started_with.listen.clone(),
            listen_loops: started_with.listen_loops,
            bound,
            started_with: restart_only(started_with),
            failed_files: Vec::new(),
            signing_due,
            last: Arc::default(),
        }
    }

    fn record(&self, trigger: Trigger, started: Instant, result: &Outcome) {
        let seconds = started.elapsed().as_secs_f64();
        self.live.metrics.reload_seconds.observe(seconds);
        let (errors, findings) = match result {
            Ok(published) => (published.held_back.clone(), published.findings.clone()),
            Err(error) => (error.lines(), refused_findings(error)),
        };
        let outcome = outcome_of(result);
        let record = ReloadRecord {
            unix_time: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            trigger: trigger.to_string(),
            outcome: Some(outcome),
            ok: outcome == ReloadOutcome::Ok,
            applied: outcome != ReloadOutcome::Refused,
            seconds,
            errors,
            findings,
            serving: self.live.state.load().snapshot.summary(),
        };
        self.live
            .metrics
            .last_reload
            .store(outcome as u8 + 1, Ordering::Relaxed);
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(record);
    }

    /// Runs one reload transaction, reading none of `unfinished` (each zone that reads one keeps
    /// its previous data), unless `stable()`, asked once the files have been read, says they may
    /// have changed meanwhile: then what was read (snapshot or error alike) may come from a
    /// half-written file, and it is dropped without a word (`None`); the current snapshot stays.
    /// The loading and building run on a blocking thread; queries keep being answered from the
    /// current snapshot until the single swap.
    async fn reload_if_stable<F: Future<Output = bool>>(
        &mut self,
        trigger: Trigger,
        unfinished: &[Unfinished],
        stable: impl FnOnce() -> F,
    ) -> Option<Outcome> {
        let started = Instant::now();
        systemd::reloading();
        let result = self
            .load_and_swap(trigger, started, unfinished, stable)
            .await;
        if let Some(result) = &result {
            self.record(trigger, started, result);
        }
        systemd::reloaded(&self.live.state.load().snapshot.summary());
        result
    }

    async fn load_and_swap<F: Future<Output = bool>>(
        &mut self,
        trigger: Trigger,
        started: Instant,
        unfinished: &[Unfinished],
        stable: impl FnOnce() -> F,
    ) -> Option<Outcome> {
        let previous = self.live.state.load_full();
        let path = self.config_path.clone();
        let before = previous.clone();
        let not_read: Vec<Located> = unfinished.iter().map(not_read).collect();
        let loaded = tokio::task::spawn_blocking(move || {
            load::reload_without(&path, Some(&before.snapshot), &not_read)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        if !stable().await {
            tracing::debug!(
                "files changed while the reload on {trigger} read them; reading again once written"
            );
            return None;
        }
        Some(match loaded {
            Ok(loaded) => {
                // Said on every reload until the restart: it stays true until then.
                if loaded.config.listen != self.listen {
                    tracing::warn!(
                        "{}: listen changed to {:?}: a restart is needed to apply it; still serving on {:?}",
                        self.config_path.display(),
                        loaded.config.listen,
                        self.bound
                    );
                }
                if loaded.config.listen_loops != self.listen_loops {
                    tracing::warn!(
                        "{}: listen_loops changed: a restart is needed to apply it",
                        self.config_path.display(),
                    );
                }
                if restart_only(&loaded.config) != self.started_with {
                    tracing::warn!(
                        "{}: [control], [query_log] or the [tls] listen addresses changed: a restart is needed to apply it",
                        self.config_path.display()
                    );
                }
                let summary = loaded.snapshot.summary();
                self.signing_due = loaded.signing_due;
                let held_back: Vec<Located> = loaded
                    .zone_failures
                    .iter()
                    .flat_map(|failure| failure.errors.iter().cloned())
                    .collect();
                // Taken before publishing, which consumes them (and logs the serial notices).
                let findings: Vec<String> = loaded
                    .warnings()
                    .map(ToString::to_string)
                    .chain(loaded.serial.iter().map(ToString::to_string))
                    .collect();
                self.live.publish(loaded);
                // The replaced snapshot goes when its last query or transfer ends; this drops
                // the reloader's reference, and then gives back what the build and the old
                // data freed.
                drop(previous);
                tokio::task::spawn_blocking(crate::heap::release_free_memory);
                self.failed_files = held_back.iter().map(|e| e.file.clone()).collect();
                let took = started.elapsed().as_secs_f64() * 1000.0;
                if held_back.is_empty() {
                    self.live.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        "reload on {trigger}: {} in {took:.1} ms: {summary}",
                        ReloadOutcome::Ok
                    );
                } else {
                    self.live
                        .metrics
                        .reloads_partial
                        .fetch_add(1, Ordering::Relaxed);
                    let lines: Vec<String> = held_back.iter().map(ToString::to_string).collect();
                    tracing::error!(
                        "reload on {trigger}: {} in {took:.1} ms (each stale: its previous data served; or unavailable: SERVFAIL): {}; serving {summary}",
                        ReloadOutcome::Partial,
                        lines.join("; ")
                    );
                }
                Ok(Published {
                    held_back: held_back.iter().map(ToString::to_string).collect(),
                    findings,
                })
            }
            Err(error) => {
                let refused = self
                    .live
                    .metrics
                    .reloads_refused
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                tracing::error!(
                    "reload on {trigger}: {}: {} ({refused} refused reloads so far)",
                    ReloadOutcome::Refused,
                    error.lines().join("; ")
                );
                self.failed_files = error.files();
                Err(error)
            }
        })
    }

    fn last(&self) -> Option<ReloadRecord> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Every file whose change should trigger a reload.
    pub fn watched_files(&self) -> HashSet<PathBuf> {
        let state = self.live.state.load();
        std::iter::once(&self.config_path)
            .chain(state.snapshot.files.iter())
            .chain(self.failed_files.iter())
            .map(|path| absolute(path))
            .collect()
    }
}

fn outcome_of(result: &Outcome) -> ReloadOutcome {
    match result {
        Ok(published) if published.held_back.is_empty() => ReloadOutcome::Ok,
        Ok(_) => ReloadOutcome::Partial,
        Err(_) => ReloadOutcome::Refused,
    }
}

/// The warnings of a reload the checks refused (its errors are the record's `errors`).
fn refused_findings(error: &LoadError) -> Vec<String> {
    match error {
        LoadError::Refused(findings) => findings
            .iter()
            .filter(|f| f.severity == load::checks::Severity::Warning)
            .map(ToString::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Why a reload did not read `file`, as the error that holds its zones back.
fn not_read(file: &Unfinished) -> Located {
    let message = match file.open_for {
        Some(open_for) => format!(
            "still open for writing ({:.1} s) when the reload stopped waiting for it: not read, so its zone keeps its previous data",
            open_for.as_secs_f64()
        ),
        None => format!(
            "written to again while the reload read it, {} s after the reload was asked: not read, so its zone keeps its previous data",
            MAX_WRITE_WAIT.as_secs()
        ),
    };
    Located {
        file: file.path.clone(),
        line: 0,
        column: 0,
        message,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Starts watching (SIGHUP and the files) before returning, so that no change made once the
/// server answers is missed, then reloads on each, and on each request through the returned
/// handle, until `shutdown`. Call within the runtime.
pub fn spawn(reloader: Reloader, shutdown: CancellationToken) -> ReloadHandle {
    use tokio::signal::unix::{SignalKind, signal};
    let hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP: {e}");
            None
        }
    };
    let (sender, events) = mpsc::unbounded_channel();
    let mut watcher = match FileWatcher::new(sender) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!("cannot watch files for changes ({e}); reload with SIGHUP");
            None
        }
    };
    if let Some(watcher) = &mut watcher {
        watcher.set_files(reloader.watched_files());
        lock(&watcher.state).probe = absolute(&reloader.config_path)
            .parent()
            .map(Path::to_path_buf);
    }
    // Requests queue behind a reload under way; a few waiting is plenty.
    let (requests, asked) = mpsc::channel(8);
    let handle = ReloadHandle {
        requests,
        last: reloader.last.clone(),
    };
    tokio::spawn(run(reloader, watcher, hangup, events, asked, shutdown));
    handle
}

/// Sleeps until `due` (Unix seconds), or for ever. A refused reload keeps the previous due time,
/// which has passed: it is tried again a minute later rather than at once.
async fn signing_due(due: Option<u64>) {
    let Some(due) = due else {
        return std::future::pending().await;
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let wait = if due > now { due - now } else { 60 };
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
}

async fn run(
    mut reloader: Reloader,
    mut watcher: Option<FileWatcher>,
    mut hangup: Option<tokio::signal::unix::Signal>,
    mut events: mpsc::UnboundedReceiver<()>,
    mut asked: mpsc::Receiver<oneshot::Sender<ReloadRecord>>,
    shutdown: CancellationToken,
) {
    let state = watcher
        .as_ref()
        .map(|w| w.state.clone())
        .unwrap_or_default();
    // When the last reload on a file change finished: a change soon after is part of a burst.
    let mut last_file_reload = None;
    loop {
        let mut reply = None;
        let trigger = tokio::select! {
            () = shutdown.cancelled() => return,
            Some(()) = async { match &mut hangup { Some(h) => h.recv().await, None => std::future::pending().await } } => Trigger::Signal,
            Some(()) = events.recv() => Trigger::FileChange,
            Some(sender) = asked.recv() => {
                reply = Some(sender);
                Trigger::Request
            }
            () = signing_due(reloader.signing_due) => Trigger::Signing,
        };
        if trigger == Trigger::Signing {
            // A KSK or CSK rollover may wait for the parent: asked first, so that this reload
            // signs with what it learns.
            let path = reloader.config_path.clone();
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let _ = tokio::task::spawn_blocking(move || parents::ask(&path, now)).await;
        }
        let triggered = tokio::time::Instant::now();
        // A file change waits for its burst of events to end; every trigger then waits for the
        // files being written (see `watch`).
        let quiet = quiet_time(last_file_reload);
        let mut debounce = (trigger == Trigger::FileChange).then_some(quiet);
        // Files that changed while read once the wait was over: not read from then on, so that a
        // writer that never pauses cannot keep the reload going round (the set only grows, and
        // there are finitely many watched files).
        let mut changing: Vec<Unfinished> = Vec::new();
        // Until what was read is known to be whole: files that change while being read are read
        // again once they have settled.
        loop {
            let settled = settle(&mut events, &state, triggered, debounce).await;
            let mut unfinished = settled.unfinished;
            unfinished.extend(
                changing
                    .iter()
                    .filter(|f| unfinished.iter().all(|u| u.path != f.path))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let generation = settled.generation;
            let stable = || async {
                barrier(&state).await;
                let in_flight = Watched::changed_unseen(&state, &unfinished);
                if !in_flight.is_empty() && triggered.elapsed() >= MAX_WRITE_WAIT {
                    Watched::accept(&state, &in_flight);
                } else if !in_flight.is_empty() {
                    return false;
                }
                lock(&state)
                    .changed_since(generation)
                    .all(|path| unfinished.iter().any(|u| &u.path == path))
            };
            if reloader
                .reload_if_stable(trigger, &unfinished, stable)
                .await
                .is_some()
            {
                break;
            }
            if triggered.elapsed() >= MAX_WRITE_WAIT {
                let watched = lock(&state);
                changing.extend(
                    watched
                        .changed_since(generation)
                        .filter(|path| unfinished.iter().all(|u| &u.path != *path))
                        .map(|path| Unfinished {
                            path: path.clone(),
                            open_for: None,
                        }),
                );
            }
            debounce = Some(quiet);
        }
        if trigger == Trigger::FileChange {
            last_file_reload = Some(tokio::time::Instant::now());
        }
        if let Some(reply) = reply
            && let Some(record) = reloader.last()
        {
            let _ = reply.send(record);
        }
        if let Some(watcher) = &mut watcher {
            watcher.set_files(reloader.watched_files());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ReloadOutcome, ReloadRecord};

    /// An older server sends no `outcome` and no `findings`: the outcome comes from `ok` and
    /// `applied`, and a new server's record reads back as written.
    #[test]
    fn a_record_without_an_outcome_reads_it_from_ok_and_applied() {
        let old = |ok: bool, applied: bool| -> ReloadRecord {
            serde_json::from_str(&format!(
                r#"{{"unix_time":1,"trigger":"SIGHUP","ok":{ok},"applied":{applied},"seconds":0.1,"errors":[],"serving":""}}"#
            ))
            .unwrap()
        };
        assert_eq!(old(true, true).outcome(), ReloadOutcome::Ok);
        assert_eq!(old(false, true).outcome(), ReloadOutcome::Partial);
        assert_eq!(old(false, false).outcome(), ReloadOutcome::Refused);
        assert!(old(false, true).findings.is_empty());

        let mut record = old(false, true);
        record.outcome = Some(ReloadOutcome::Partial);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["outcome"], "partial");
        assert_eq!(json["findings"], serde_json::json!([]));
        for outcome in ReloadOutcome::ALL {
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                outcome.word(),
                "the JSON value and the metric label are one word"
            );
            assert!(outcome.phrase().starts_with(outcome.word()));
        }
    }
}
