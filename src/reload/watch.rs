//! Seeing the served files change. Every file the snapshot was built from (the config, every
//! zone and override file, every `$INCLUDE`) is watched through its directory, so that editors
//! that save by rename, and delete-then-create, are seen too.
//!
//! Changes are acted on when a writer closes the file, renames it into place or deletes it — not
//! on each write, and not on creation (a file is created empty by the `open` that then writes it,
//! so delete-then-create is acted on at its close). A change after a quiet spell is read once
//! the files saved with it have had a moment to follow ([`GATHER`]); changes that keep coming are
//! debounced into few reloads ([`DEBOUNCE`]).
//!
//! A file being written is not read: from the first write (an `O_TRUNC` open counts) or its
//! creation until its writer closes it, it counts as being written, and every reload — on a file
//! change, SIGHUP or a request alike ([`settle`]) — waits for it, each write at most
//! [`MAX_WRITE_WAIT`] from its start and the whole wait at most that long after the reload was
//! asked. A file still open then is not read: the zones that read it keep their previous data,
//! and the reload says why. It stays marked until its writer closes it (or the kernel says events
//! were lost), so a writer that never closes costs one wait, not one per reload. Events arrive
//! late — the watcher's thread may not have run yet — so before it looks, the reloader opens the
//! config file's directory and waits until the watcher has seen that open ([`barrier`]): events
//! come in order, so every event queued before has been seen.
//!
//! What events alone miss: the kernel makes a write or an `O_TRUNC` truncation visible before it
//! queues the event for it, and a writer stalled in between (an ext4 truncate waiting on the
//! journal, milliseconds on a busy disk) leaves a short file on disk with no event yet. So each
//! file's inode, size and change time are noted when its events come in, and a reload whose files
//! look different afterwards without a new event is read again (after the bound, they are read
//! as they are: a file system that sends no events must not hold reloads back). Saving by rename
//! (what editors, `sed -i` and configuration management do) is atomic and needs none of this.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last file event before reloading, within a burst of changes (one came
/// less than this after the last reload on a file change): long enough to gather a script's or
/// a checkout's stream of saves into few reloads, short enough to serve a change well within a
/// second.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// Quiet time for a change after a quiet spell: enough to gather the other files saved in the
/// same moment (a checkout, an editor's "save all"), short enough that a save is served at once.
const GATHER: Duration = Duration::from_millis(20);
/// Longest a steady stream of events can hold a reload back.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// Longest a file left open mid-write holds a reload back (a stalled writer, or a lost close event).
pub(super) const MAX_WRITE_WAIT: Duration = Duration::from_secs(5);
/// How often a reload waiting for a writer looks again when no event comes, so that the wait ends
/// at its bound; a close wakes it at once.
const WRITE_POLL: Duration = Duration::from_millis(50);
/// Longest [`barrier`] waits for the watcher to catch up (it gives up rather than stall reloads).
const BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// What the watcher knows about the watched files, shared with its event callback.
#[derive(Debug, Default)]
pub(super) struct Watched {
    files: HashSet<PathBuf>,
    /// Watched files written to or created and not closed since (incomplete), with when that
    /// began.
    writing: HashMap<PathBuf, Instant>,
    /// Counts events about watched files, so that a reload can tell whether any came in while it
    /// read them.
    pub(super) generation: u64,
    /// The [`Watched::generation`] of each watched file's last event: which files those were.
    last_event: HashMap<PathBuf, u64>,
    /// How each watched file looked on disk when its last event came in (or it began to be
    /// watched): one that looks different now has an event still to come.
    seen: HashMap<PathBuf, Option<Look>>,
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
            if event.need_rescan() {
                // The kernel dropped events (its queue overflowed): a close may be among them, and
                // what is marked as being written, or was last seen, can no longer be trusted.
                watched.writing.clear();
                let files: Vec<PathBuf> = watched.files.iter().cloned().collect();
                for path in files {
                    let now = look(&path);
                    watched.seen.insert(path, now);
                }
                watched.generation += 1;
                let _ = events.send(());
                return;
            }
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
            let generation = watched.generation;
            for path in &paths {
                watched.last_event.insert(path.clone(), generation);
                watched.seen.insert(path.clone(), look(path));
            }
            match event.kind {
                // A write has begun, or the `open` that creates a file before writing it: the
                // file is incomplete until its writer closes it.
                EventKind::Modify(ModifyKind::Data(_)) | EventKind::Create(_) => {
                    let now = Instant::now();
                    for path in paths {
                        watched.writing.entry(path).or_insert(now);
                    }
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
    pub(super) fn set_files(&mut self, mut files: HashSet<PathBuf>) {
        // A file reached through a symlink (certbot's live/ → archive/ layout) is watched at its
        // target as well: a write through the link changes the target, in the target's directory,
        // and that directory is the one whose events say so.
        let targets: Vec<PathBuf> = files
            .iter()
            .filter_map(|file| {
                std::fs::canonicalize(file)
                    .ok()
                    .filter(|target| target != file)
            })
            .collect();
        files.extend(targets);
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
        watched.writing.retain(|path, _| files.contains(path));
        watched.last_event.retain(|path, _| files.contains(path));
        watched.seen.retain(|path, _| files.contains(path));
        for path in &files {
            if !watched.seen.contains_key(path) {
                watched.seen.insert(path.clone(), look(path));
            }
        }
        watched.files = files;
    }
}

impl Watched {
    /// The watched files but `except` that look different on disk than when their last event
    /// came in: the kernel makes a truncation or a write visible (the size changes) before it
    /// queues its event, and an ext4 truncate waiting on the journal takes milliseconds, so such
    /// a file may be mid-write.
    pub(super) fn changed_unseen(state: &WatchState, except: &[Unfinished]) -> Vec<PathBuf> {
        let seen: Vec<(PathBuf, Option<Look>)> = lock(state)
            .seen
            .iter()
            .filter(|(path, _)| except.iter().all(|u| &u.path != *path))
            .map(|(path, look)| (path.clone(), *look))
            .collect();
        seen.into_iter()
            .filter(|(path, before)| look(path) != *before)
            .map(|(path, _)| path)
            .collect()
    }

    /// Takes the files as they look now: a reload past its wait read them without their event
    /// (a file system that sends none must not hold every later reload back).
    pub(super) fn accept(state: &WatchState, files: &[PathBuf]) {
        let mut watched = lock(state);
        for path in files {
            watched.seen.insert(path.clone(), look(path));
        }
    }

    /// The watched files that had an event after `generation`.
    pub(super) fn changed_since(&self, generation: u64) -> impl Iterator<Item = &PathBuf> {
        self.last_event
            .iter()
            .filter(move |(_, last)| **last > generation)
            .map(|(path, _)| path)
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

/// A file's inode, size and change time, as `stat` gives them (`None`: it is missing).
type Look = (u64, u64, i64, i64);

fn look(path: &Path) -> Option<Look> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.ctime(), m.ctime_nsec()))
}

/// What a reload may read: the event count when it looked, for it to compare against, and the
/// files it must not read because a writer still had them open when the wait ended.
#[derive(Debug)]
pub(super) struct Settled {
    pub(super) generation: u64,
    pub(super) unfinished: Vec<Unfinished>,
}

/// A watched file a reload does not read: still open for writing when it stopped waiting, or
/// (once the wait is over) changed again while it read the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unfinished {
    pub(super) path: PathBuf,
    /// How long it had been open for writing; `None`: it changed while read.
    pub(super) open_for: Option<Duration>,
}

/// How long file events must stop before a reload on a file change: [`GATHER`] when it starts
/// after a quiet spell, [`DEBOUNCE`] when it follows the last reload on a file change (finished
/// at `last`) within that time — a burst.
pub(super) fn quiet_time(last: Option<tokio::time::Instant>) -> Duration {
    match last {
        Some(last) if last.elapsed() < DEBOUNCE => DEBOUNCE,
        _ => GATHER,
    }
}

/// The wait before every reload. With `debounce` (a file change, or a reload read again because
/// files changed under it), first until file events stop for that long (at most [`MAX_DELAY`]),
/// swallowing them. Then, for every trigger, until no watched file is being
/// written: each write is waited for at most [`MAX_WRITE_WAIT`] from its first event, and the whole
/// wait ends at most [`MAX_WRITE_WAIT`] after `triggered`. The files still open then are returned
/// as [`Settled::unfinished`], with the event count at that moment.
pub(super) async fn settle(
    events: &mut mpsc::UnboundedReceiver<()>,
    state: &WatchState,
    triggered: tokio::time::Instant,
    debounce: Option<Duration>,
) -> Settled {
    let started = tokio::time::Instant::now();
    let mut quiet = debounce.is_none();
    loop {
        if let Some(debounce) = debounce.filter(|_| !quiet) {
            quiet = match tokio::time::timeout(debounce, events.recv()).await {
                Ok(Some(())) => started.elapsed() >= MAX_DELAY,
                Ok(None) | Err(_) => true,
            };
            continue;
        }
        barrier(state).await;
        if let Some((generation, unfinished)) = settled(&lock(state), triggered) {
            return Settled {
                generation,
                unfinished,
            };
        }
        // A close (or any file event) wakes the wait; the poll ends it at the bound.
        if let Ok(None) = tokio::time::timeout(WRITE_POLL, events.recv()).await {
            tokio::time::sleep(WRITE_POLL).await;
        }
    }
}

/// The event count and the files not to read, or `None` while the reload is to wait for a writer
/// (see [`settle`]).
fn settled(watched: &Watched, triggered: tokio::time::Instant) -> Option<(u64, Vec<Unfinished>)> {
    let waiting = triggered.elapsed() < MAX_WRITE_WAIT
        && watched
            .writing
            .values()
            .any(|since| since.elapsed() < MAX_WRITE_WAIT);
    (!waiting).then(|| {
        let unfinished = watched
            .writing
            .iter()
            .map(|(path, since)| Unfinished {
                path: path.clone(),
                open_for: Some(since.elapsed()),
            })
            .collect();
        (watched.generation, unfinished)
    })
}
