//! Live reload. A reload is a transaction: read → parse → validate → build a whole new snapshot
//! off the query path → swap it in with one atomic store, or log why not and keep serving the
//! previous one. It is triggered by SIGHUP or by a change to any file the snapshot was built from
//! (the config, every zone and override file, every `$INCLUDE`), watched through their directories
//! so that editors that save by rename, and delete-then-create, are seen too.
//!
//! Changes are acted on when a writer closes the file, renames it into place or deletes it — not
//! on each write, and not on creation (a file is created empty by the `open` that then writes it,
//! so delete-then-create is acted on at its close); a burst of such events is debounced into one
//! reload. A file is never read half-way: from the first write (an `O_TRUNC` open counts) or its
//! creation until its writer closes it, a file counts as being written and file-change reloads
//! wait for it; and a reload during which any watched file changed is discarded, not swapped in —
//! the writer's close brings the next one. (SIGHUP reloads at once: the admin asked for it.)
//!
//! File events arrive late — the watcher's thread may not have run yet when a reload looks — so
//! before each look the reloader opens the config file's directory and waits until the watcher
//! has seen that open: events come in order, so every write that happened before has been seen.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::load::{self, LoadError};
use crate::server::SharedSnapshot;

/// Quiet time after the last file event before reloading: long enough to gather an editor's
/// burst of events, short enough to serve a change well within a second.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// Longest a steady stream of events can hold a reload back.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// Longest a file left open mid-write holds a reload back (a stalled writer, or a lost close event).
const MAX_WRITE_WAIT: Duration = Duration::from_secs(5);
/// Longest [`barrier`] waits for the watcher to catch up (it gives up rather than stall reloads).
const BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// Reload outcomes since start, for logs and metrics.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
}

/// What asked for a reload (named in the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    FileChange,
    Signal,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::FileChange => "file change",
            Trigger::Signal => "SIGHUP",
        })
    }
}

/// Owns the reload transaction for one served snapshot.
pub struct Reloader {
    config_path: PathBuf,
    snapshot: SharedSnapshot,
    /// The `listen` addresses of the config last applied (sockets cannot move live).
    listen: Vec<SocketAddr>,
    /// Files a failed reload named: watched too, so that fixing them triggers the next reload.
    failed_files: Vec<PathBuf>,
    pub counters: Arc<ReloadCounters>,
}

impl Reloader {
    pub fn new(config_path: PathBuf, snapshot: SharedSnapshot, listen: Vec<SocketAddr>) -> Reloader {
        Reloader {
            config_path,
            snapshot,
            listen,
            failed_files: Vec::new(),
            counters: Arc::default(),
        }
    }

    /// Runs one reload transaction. The loading and building run on a blocking thread; queries
    /// keep being answered from the current snapshot until the single swap.
    pub async fn reload(&mut self, trigger: Trigger) -> Result<(), LoadError> {
        self.reload_unless_changed(trigger, || async { false }).await
    }

    /// [`Reloader::reload`], except that when `changed()` says a watched file changed while the
    /// files were being read, what was read (new snapshot or error alike) may come from a
    /// half-written file: it is dropped without a word, and the current snapshot stays.
    async fn reload_unless_changed<F: Future<Output = bool>>(
        &mut self,
        trigger: Trigger,
        changed: impl FnOnce() -> F,
    ) -> Result<(), LoadError> {
        let started = Instant::now();
        let previous = self.snapshot.load_full();
        let path = self.config_path.clone();
        let loaded = tokio::task::spawn_blocking(move || load::reload(&path, Some(&previous)))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let c = changed().await;
        tracing::debug!("LOADED ok={} changed={c}", loaded.is_ok());
        if c {
            tracing::debug!("files changed while the reload on {trigger} read them; waiting for the writer");
            return Ok(());
        }
        match loaded {
            Ok(loaded) => {
                if loaded.config.listen != self.listen {
                    tracing::warn!(
                        "{}: listen changed to {:?}: a restart is needed to apply it; still serving on {:?}",
                        self.config_path.display(),
                        loaded.config.listen,
                        self.listen
                    );
                    self.listen = loaded.config.listen.clone();
                }
                for notice in &loaded.notes.serial {
                    tracing::warn!("{notice}");
                }
                let summary = loaded.snapshot.summary();
                self.snapshot.store(Arc::new(loaded.snapshot));
                self.failed_files.clear();
                self.counters.succeeded.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    "reloaded on {trigger} in {:.1} ms: {summary}",
                    started.elapsed().as_secs_f64() * 1000.0
                );
                Ok(())
            }
            Err(error) => {
                let failures = self.counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    "reload on {trigger} failed, keeping previous data: {} ({failures} failed reloads so far)",
                    error.lines().join("; ")
                );
                self.failed_files = error.files();
                Err(error)
            }
        }
    }

    /// Every file whose change should trigger a reload.
    pub fn watched_files(&self) -> HashSet<PathBuf> {
        let snapshot = self.snapshot.load();
        std::iter::once(&self.config_path)
            .chain(snapshot.files.iter())
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
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
            if matches!(event.kind, EventKind::Access(AccessKind::Open(_)))
                && watched.probe.as_ref().is_some_and(|probe| event.paths.contains(probe))
            {
                watched.probe_opens += 1;
                return;
            }
            let paths: Vec<PathBuf> =
                event.paths.iter().filter(|path| watched.files.contains(*path)).cloned().collect();
            if paths.is_empty() {
                return;
            }
            tracing::debug!("EVENT {:?} {:?} gen {}", event.kind, event.paths, watched.generation);
            match event.kind {
                // A write has begun, or the `open` that creates a file before writing it: the
                // file is incomplete until its writer closes it.
                EventKind::Modify(ModifyKind::Data(_)) | EventKind::Create(_) => {
                    watched.writing.extend(paths);
                    watched.generation += 1;
                }
                EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_)) => {
                    for path in &paths {
                        watched.writing.remove(path);
                    }
                    watched.generation += 1;
                    let _ = events.send(());
                }
                _ => {}
            }
        })?;
        Ok(FileWatcher { watcher, state, dirs: HashSet::new() })
    }

    /// Watches exactly the directories holding `files` from now on.
    fn set_files(&mut self, files: HashSet<PathBuf>) {
        let dirs: HashSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
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

/// Returns once the watcher has seen every event from before the call (it opens the probe
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

/// Reloads on SIGHUP and on file changes until `shutdown`.
pub async fn run(mut reloader: Reloader, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP: {e}");
            None
        }
    };
    let (sender, mut events) = mpsc::unbounded_channel();
    let mut watcher = match FileWatcher::new(sender) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!("cannot watch files for changes ({e}); reload with SIGHUP");
            None
        }
    };
    if let Some(watcher) = &mut watcher {
        watcher.set_files(reloader.watched_files());
        lock(&watcher.state).probe = absolute(&reloader.config_path).parent().map(Path::to_path_buf);
    }
    let state = watcher.as_ref().map(|w| w.state.clone()).unwrap_or_default();
    loop {
        let (trigger, generation) = tokio::select! {
            () = shutdown.cancelled() => return,
            Some(()) = async { match &mut hangup { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                barrier(&state).await;
                (Trigger::Signal, lock(&state).generation)
            }
            Some(()) = events.recv() => (Trigger::FileChange, settle(&mut events, &state).await),
        };
        let changed = || async {
            barrier(&state).await;
            lock(&state).generation != generation
        };
        let _ = reloader.reload_unless_changed(trigger, changed).await;
        if let Some(watcher) = &mut watcher {
            watcher.set_files(reloader.watched_files());
        }
    }
}

/// Waits until file events stop for [`DEBOUNCE`] (at most [`MAX_DELAY`]), swallowing them, and
/// no watched file is being written (at most [`MAX_WRITE_WAIT`]). Returns the event count at
/// that moment, for the reload to compare against.
async fn settle(events: &mut mpsc::UnboundedReceiver<()>, state: &WatchState) -> u64 {
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
        let watched = lock(state);
        let waited = started.elapsed();
        if !watched.writing.is_empty() {
            if waited < MAX_WRITE_WAIT {
                continue;
            }
            let files: Vec<String> = watched.writing.iter().map(|f| f.display().to_string()).collect();
            tracing::warn!("reloading although {} still open for writing after {waited:?}", files.join(", "));
        }
        return watched.generation;
    }
}
