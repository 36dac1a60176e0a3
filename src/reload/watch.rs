//! Seeing the served files change. Every file the snapshot was built from (the config, every
//! zone and override file, every `$INCLUDE`) is watched through its directory, so that editors
//! that save by rename, and delete-then-create, are seen too.
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
//! file's directory and waits until the watcher has seen that open ([`barrier`]): events come in
//! order, so every event queued before has been seen.
//!
//! What no watcher can see: the kernel makes a write or an `O_TRUNC` truncation visible before it
//! queues the event for it, and a writer stalled in between (an ext4 truncate waiting on the
//! journal under heavy I/O) leaves a short file on disk with no event yet. A reload in that window
//! reads the short file. Saving by rename (what editors, `sed -i` and configuration management
//! do) is atomic and has no such window.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last file event before reloading: long enough to gather an editor's
/// burst of events, short enough to serve a change well within a second.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// Longest a steady stream of events can hold a reload back.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// Longest a file left open mid-write holds a reload back (a stalled writer, or a lost close event).
pub(super) const MAX_WRITE_WAIT: Duration = Duration::from_secs(5);
/// Longest [`barrier`] waits for the watcher to catch up (it gives up rather than stall reloads).
const BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// What the watcher knows about the watched files, shared with its event callback.
#[derive(Debug, Default)]
pub(super) struct Watched {
    files: HashSet<PathBuf>,
    /// Watched files written to or created and not closed since: incomplete.
    pub(super) writing: HashSet<PathBuf>,
    /// Counts events about watched files, so that a reload can tell whether any came in while it
    /// read them.
    pub(super) generation: u64,
    /// The directory [`barrier`] opens (the config file's), and how many opens of it were seen.
    pub(super) probe: Option<PathBuf>,
    probe_opens: u64,
}

pub(super) type WatchState = Arc<Mutex<Watched>>;

pub(super) fn lock(state: &WatchState) -> std::sync::MutexGuard<'_, Watched> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Watches the directories of a set of files, keeps track of which are being written, and sends
/// `()` when one of the files was closed after writing, renamed or removed.
pub(super) struct FileWatcher {
    watcher: notify::RecommendedWatcher,
    pub(super) state: WatchState,
    dirs: HashSet<PathBuf>,
}

impl FileWatcher {
    pub(super) fn new(events: mpsc::UnboundedSender<()>) -> notify::Result<FileWatcher> {
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
    pub(super) fn set_files(&mut self, files: HashSet<PathBuf>) {
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
pub(super) async fn barrier(state: &WatchState) {
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

/// Waits until file events stop for [`DEBOUNCE`] (at most [`MAX_DELAY`]), swallowing them, and
/// no watched file is being written (at most [`MAX_WRITE_WAIT`] after `triggered`). Returns the
/// event count at that moment, for the reload to compare against.
pub(super) async fn settle(
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
