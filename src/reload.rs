//! Live reload. A reload is a transaction: read → parse → validate → build a whole new snapshot
//! off the query path → swap it in with one atomic store, or log why not and keep serving the
//! previous one. It is triggered by SIGHUP or by a change to any file the snapshot was built from
//! (the config, every zone and override file, every `$INCLUDE`), watched through their directories
//! so that editors that save by rename, and delete-then-create, are seen too.
//!
//! Changes are acted on when a writer closes the file, renames it into place or deletes it — not
//! on each write, and not on creation (a file is created empty by the `open` that then writes it,
//! so delete-then-create is acted on at its close); a burst of such events is debounced into one
//! reload.
//!
//! A file being written is not read: from the first write (an `O_TRUNC` open counts) or its
//! creation until its writer closes it, it counts as being written, and file-change reloads wait
//! for it (at most [`MAX_WRITE_WAIT`], in case a close event was lost). Events arrive late — the
//! watcher's thread may not have run yet — so before it looks, the reloader opens the config
//! file's directory and waits until the watcher has seen that open: events come in order, so
//! every event queued before has been seen. A reload during which any event came in may have read
//! a file mid-write: it is dropped and read again once the files settle. SIGHUP reloads at once
//! (the admin asked for it), but is dropped and redone the same way.
//!
//! The control listener's `POST /reload` asks through a [`ReloadHandle`] and is told the result;
//! SIGHUP, file changes and requests all run the one transaction below. The service manager hears
//! RELOADING=1 before it and READY=1 after it.
//!
//! What no watcher can see: the kernel makes a write or an `O_TRUNC` truncation visible before it
//! queues the event for it, and a writer stalled in between (an ext4 truncate waiting on the
//! journal under heavy I/O) leaves a short file on disk with no event yet. A reload in that window
//! reads the short file. Saving by rename (what editors, `sed -i` and configuration management
//! do) is atomic and has no such window.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::health::Prober;
use crate::load::{self, LoadError};
use crate::located::Located;
use crate::observe::Metrics;
use crate::server::SharedState;
use crate::systemd;
use crate::transfer::notify as dns_notify;

/// Quiet time after the last file event before reloading: long enough to gather an editor's
/// burst of events, short enough to serve a change well within a second.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// Longest a steady stream of events can hold a reload back.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// Longest a file left open mid-write holds a reload back (a stalled writer, or a lost close event).
const MAX_WRITE_WAIT: Duration = Duration::from_secs(5);
/// Longest [`barrier`] waits for the watcher to catch up (it gives up rather than stall reloads).
const BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// A reload's result: published (with the `file:line` errors of the zones held back), or
/// refused whole.
type Outcome = Result<Vec<String>, LoadError>;

/// What asked for a reload (named in the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    FileChange,
    Signal,
    /// `POST /reload` on the control listener (`splitdns reload`).
    Request,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::FileChange => "file change",
            Trigger::Signal => "SIGHUP",
            Trigger::Request => "request",
        })
    }
}

/// How the last reload went, for `/status` and `splitdns reload`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReloadRecord {
    /// When it finished, in seconds since the Unix epoch.
    pub unix_time: u64,
    pub trigger: String,
    /// Whether everything loaded and the new data is served.
    pub ok: bool,
    /// Whether a new snapshot was published: true also when some zones were held back (each
    /// keeps its previous data, or is not served) while the others' changes were published.
    pub applied: bool,
    pub seconds: f64,
    /// What refused it, or held zones back, one `file:line: message` each.
    pub errors: Vec<String>,
    /// One line with every view's zones and serials, as served after it.
    pub serving: String,
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

/// Owns the reload transaction for one served snapshot.
pub struct Reloader {
    config_path: PathBuf,
    state: SharedState,
    /// The config's `listen` when the sockets were bound: they cannot move live.
    listen: Vec<SocketAddr>,
    /// The addresses actually served on (the config's, or `--listen`'s).
    bound: Vec<SocketAddr>,
    /// The config's `[control] listen` and `[query_log]` at start: they too need a restart.
    started_with: (Option<SocketAddr>, Option<crate::config::QueryLogConfig>),
    /// Files a failed reload named: watched too, so that fixing them triggers the next reload.
    failed_files: Vec<PathBuf>,
    metrics: Arc<Metrics>,
    last: Arc<Mutex<Option<ReloadRecord>>>,
    /// The health checks: each new snapshot's plan is applied before the snapshot is served.
    prober: Prober,
}

impl Reloader {
    pub fn new(
        config_path: PathBuf,
        state: SharedState,
        listen: Vec<SocketAddr>,
        bound: Vec<SocketAddr>,
        started_with: &crate::config::Config,
        metrics: Arc<Metrics>,
        prober: Prober,
    ) -> Reloader {
        Reloader {
            config_path,
            state,
            listen,
            bound,
            started_with: (started_with.control, started_with.query_log.clone()),
            failed_files: Vec::new(),
            metrics,
            last: Arc::default(),
            prober,
        }
    }

    fn record(&self, trigger: Trigger, started: Instant, result: &Outcome) {
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.reload_seconds.observe(seconds);
        let errors = match result {
            Ok(held_back) => held_back.clone(),
            Err(error) => error.lines(),
        };
        let record = ReloadRecord {
            unix_time: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            trigger: trigger.to_string(),
            ok: errors.is_empty(),
            applied: result.is_ok(),
            seconds,
            errors,
            serving: self.state.load().snapshot.summary(),
        };
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(record);
    }

    /// Runs one reload transaction. The loading and building run on a blocking thread; queries
    /// keep being answered from the current snapshot until the single swap.
    pub async fn reload(&mut self, trigger: Trigger) -> Result<(), LoadError> {
        self.reload_if_stable(trigger, || async { true })
            .await
            .unwrap_or(Ok(Vec::new()))
            .map(|_| ())
    }

    /// [`Reloader::reload`], unless `stable()`, asked once the files have been read, says they may
    /// have changed meanwhile: then what was read (snapshot or error alike) may come from a
    /// half-written file, and it is dropped without a word (`None`); the current snapshot stays.
    async fn reload_if_stable<F: Future<Output = bool>>(
        &mut self,
        trigger: Trigger,
        stable: impl FnOnce() -> F,
    ) -> Option<Outcome> {
        let started = Instant::now();
        systemd::reloading();
        let result = self.load_and_swap(trigger, started, stable).await;
        if let Some(result) = &result {
            self.record(trigger, started, result);
        }
        systemd::reloaded(&self.state.load().snapshot.summary());
        result
    }

    async fn load_and_swap<F: Future<Output = bool>>(
        &mut self,
        trigger: Trigger,
        started: Instant,
        stable: impl FnOnce() -> F,
    ) -> Option<Outcome> {
        let previous = self.state.load_full();
        let path = self.config_path.clone();
        let before = previous.clone();
        let loaded =
            tokio::task::spawn_blocking(move || load::reload(&path, Some(&before.snapshot)))
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
                let now = (loaded.config.control, loaded.config.query_log.clone());
                if now != self.started_with {
                    tracing::warn!(
                        "{}: [control] or [query_log] changed: a restart is needed to apply it",
                        self.config_path.display()
                    );
                }
                for notice in &loaded.serial {
                    tracing::warn!("{notice}");
                }
                if let Err(e) = loaded.save_serials() {
                    tracing::warn!("{e}");
                }
                let summary = loaded.snapshot.summary();
                let held_back: Vec<Located> = loaded
                    .zone_failures
                    .iter()
                    .flat_map(|failure| failure.errors.iter().cloned())
                    .collect();
                // Addresses that stay keep their state: the new board starts from it, before
                // the snapshot that reads it is served.
                self.prober.apply(Arc::new(loaded.health.clone()));
                let notifies = dns_notify::due(
                    &loaded.secondaries(),
                    Some(&previous.snapshot),
                    &loaded.snapshot,
                );
                let (_, published) =
                    loaded.into_published_after(&self.metrics.queries, Some(&previous));
                self.state.store(Arc::new(published));
                dns_notify::spawn_all(notifies);
                // The replaced snapshot goes when its last query or transfer ends; this drops
                // the reloader's reference, and then gives back what the build and the old
                // data freed.
                drop(previous);
                tokio::task::spawn_blocking(crate::heap::release_free_memory);
                self.failed_files = held_back.iter().map(|e| e.file.clone()).collect();
                let took = started.elapsed().as_secs_f64() * 1000.0;
                if held_back.is_empty() {
                    self.metrics
                        .reloads_succeeded
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!("reloaded on {trigger} in {took:.1} ms: {summary}");
                } else {
                    self.metrics.reloads_partial.fetch_add(1, Ordering::Relaxed);
                    let lines: Vec<String> = held_back.iter().map(ToString::to_string).collect();
                    tracing::error!(
                        "reload on {trigger}: keeping previous data (or, without any, not serving) for the zones whose files did not load: {}",
                        lines.join("; ")
                    );
                    tracing::info!(
                        "reloaded on {trigger} in {took:.1} ms, those zones held back: {summary}"
                    );
                }
                Ok(held_back.iter().map(ToString::to_string).collect())
            }
            Err(error) => {
                let failures = self.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    "reload on {trigger} failed, keeping previous data: {} ({failures} failed reloads so far)",
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
        let state = self.state.load();
        std::iter::once(&self.config_path)
            .chain(state.snapshot.files.iter())
            .chain(self.failed_files.iter())
            .map(|path| absolute(path))
            .collect()
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What the watcher knows about the watched files, shared with its event callback.
#[derive(Debug, Default)]
struct Watched {
    files: HashSet<PathBuf>,
    /// Watched files written to or created and not closed since: incomplete.
    writing: HashSet<PathBuf>,
    /// Counts events about watched files, so that a reload can tell whether any came in while it
    /// read them.
    generation: u64,
    /// The directory [`barrier`] opens (the config file's), and how many opens of it were seen.
    probe: Option<PathBuf>,
    probe_opens: u64,
}

type WatchState = Arc<Mutex<Watched>>;

fn lock(state: &WatchState) -> std::sync::MutexGuard<'_, Watched> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Watches the directories of a set of files, keeps track of which are being written, and sends
/// `()` when one of the files was closed after writing, renamed or removed.
struct FileWatcher {
    watcher: notify::RecommendedWatcher,
    state: WatchState,
    dirs: HashSet<PathBuf>,
}

impl FileWatcher {
    fn new(events: mpsc::UnboundedSender<()>) -> notify::Result<FileWatcher> {
        let state = WatchState::default();
        let watched = state.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            let mut watched = lock(&watched);
            if matches!(event.kind, EventKind::Access(AccessKind::Open(_))) {
                if watched
                    .probe
                    .as_ref()
                    .is_some_and(|probe| event.paths.contains(probe))
                {
                    watched.probe_opens += 1;
                }
                return;
            }
            let paths: Vec<PathBuf> = event
                .paths
                .iter()
                .filter(|path| watched.files.contains(*path))
                .cloned()
                .collect();
            if paths.is_empty() {
                return;
            }
            watched.generation += 1;
            match event.kind {
                // A write has begun, or the `open` that creates a file before writing it: the
                // file is incomplete until its writer closes it.
                EventKind::Modify(ModifyKind::Data(_)) | EventKind::Create(_) => {
                    watched.writing.extend(paths)
                }
                EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_)) => {
                    for path in &paths {
                        watched.writing.remove(path);
                    }
                    let _ = events.send(());
                }
                _ => {}
            }
        })?;
        Ok(FileWatcher {
            watcher,
            state,
            dirs: HashSet::new(),
        })
    }

    /// Watches exactly the directories holding `files` from now on.
    fn set_files(&mut self, files: HashSet<PathBuf>) {
        let dirs: HashSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in dirs.difference(&self.dirs) {
            if let Err(e) = self.watcher.watch(new, RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch {} for changes: {e}", new.display());
            }
        }
        self.dirs = dirs;
        let mut watched = lock(&self.state);
        watched.writing.retain(|path| files.contains(path));
        watched.files = files;
    }
}

/// Returns once the watcher has seen every event queued before the call (it opens the probe
/// directory and waits for that open to come through), or after [`BARRIER_TIMEOUT`]. Without a
/// watcher, at once.
async fn barrier(state: &WatchState) {
    let (probe, before) = {
        let watched = lock(state);
        (watched.probe.clone(), watched.probe_opens)
    };
    let Some(probe) = probe else { return };
    if std::fs::read_dir(&probe).is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + BARRIER_TIMEOUT;
    while lock(state).probe_opens == before && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
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
    loop {
        let mut reply = None;
        let mut trigger = tokio::select! {
            () = shutdown.cancelled() => return,
            Some(()) = async { match &mut hangup { Some(h) => h.recv().await, None => std::future::pending().await } } => Trigger::Signal,
            Some(()) = events.recv() => Trigger::FileChange,
            Some(sender) = asked.recv() => {
                reply = Some(sender);
                Trigger::Request
            }
        };
        let triggered = tokio::time::Instant::now();
        // Until what was read is known to be whole: files that change while being read are read
        // again once they have settled.
        loop {
            let generation = match trigger {
                Trigger::Signal | Trigger::Request => {
                    barrier(&state).await;
                    lock(&state).generation
                }
                Trigger::FileChange => settle(&mut events, &state, triggered).await,
            };
            let stable = || async {
                barrier(&state).await;
                let watched = lock(&state);
                watched.generation == generation
                    && (trigger != Trigger::FileChange
                        || triggered.elapsed() >= MAX_WRITE_WAIT
                        || watched.writing.is_empty())
            };
            if reloader.reload_if_stable(trigger, stable).await.is_some() {
                break;
            }
            trigger = Trigger::FileChange;
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

/// Waits until file events stop for [`DEBOUNCE`] (at most [`MAX_DELAY`]), swallowing them, and
/// no watched file is being written (at most [`MAX_WRITE_WAIT`] after `triggered`). Returns the
/// event count at that moment, for the reload to compare against.
async fn settle(
    events: &mut mpsc::UnboundedReceiver<()>,
    state: &WatchState,
    triggered: tokio::time::Instant,
) -> u64 {
    let started = tokio::time::Instant::now();
    loop {
        let quiet = match tokio::time::timeout(DEBOUNCE, events.recv()).await {
            Ok(Some(())) => false,
            Ok(None) => return lock(state).generation,
            Err(_) => true,
        };
        if !quiet && started.elapsed() < MAX_DELAY {
            continue;
        }
        barrier(state).await;
        let mut watched = lock(state);
        if !watched.writing.is_empty() {
            let waited = triggered.elapsed();
            if waited < MAX_WRITE_WAIT {
                continue;
            }
            let files: Vec<String> = watched
                .writing
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            tracing::warn!(
                "reloading although {} still open for writing after {waited:?}",
                files.join(", ")
            );
            // Forgotten, so that one writer that never closes does not hold every later reload
            // back too; its next write marks the file again.
            watched.writing.clear();
        }
        return watched.generation;
    }
}
