//! The optional query log: one JSON line per (sampled) query, written off the receive loops. A
//! loop copies the few facts into a fixed-size [`Entry`] (no allocation) and offers it to a
//! bounded channel with `try_send`; a writer thread formats and appends the lines. When the
//! writer falls behind, lines are dropped and counted, never waited for: the log must not slow
//! answering down. Sampling (`sample = N`: one query in N, counted per loop) keeps its cost
//! proportional to what is kept.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;

use super::{Delivery, FAMILIES, OVERFLOW_LABEL};
use crate::answer::Outcome;
use crate::dns::{name, rtype};
use crate::wire::Transport;

/// Lines waiting for the writer; beyond this, new lines are dropped.
pub(crate) const QUEUE: usize = 16 * 1024;

/// One query, as a receive loop hands it over (plain data, no allocation).
#[derive(Debug, Clone)]
pub struct Entry {
    pub time: SystemTime,
    pub client: IpAddr,
    pub view_slot: u8,
    /// The question's name in wire form (case as asked), `qname_len` octets; empty when the
    /// message was rejected before its question was read.
    pub qname: [u8; 255],
    pub qname_len: u8,
    pub qtype: u16,
    pub transport: Transport,
    pub outcome: Outcome,
    /// Octets sent (0 when rate limiting dropped the response).
    pub size: u16,
    pub truncated: bool,
    pub delivery: Delivery,
}

/// What a receive loop holds to log: the channel and the sampling rate.
#[derive(Debug, Clone)]
pub struct Sender {
    channel: SyncSender<Entry>,
    /// Log one query in `sample`.
    pub sample: u64,
}

impl Sender {
    /// Offers a line; false when the writer is behind (or gone) and it was dropped.
    pub fn offer(&self, entry: Entry) -> bool {
        match self.channel.try_send(entry) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// Why the query log cannot be opened: at start-up, which it stops, and in `check`, which
/// foresees it ([`foresee`]).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The writer creates the file but never its directory (a typo, or a file system not yet
    /// mounted, would otherwise put the log where nobody looks).
    #[error(
        "its directory {} does not exist: create it, writable by the user splitdns runs as",
        .0.display()
    )]
    NoDirectory(PathBuf),
    #[error("cannot be opened for appending: {0}")]
    Open(io::Error),
    #[error("cannot start its writer thread: {0}")]
    Thread(io::Error),
}

/// Opens (appends to) the log file and starts the writer thread. `view_names` maps counter slots
/// to view names (see [`super::Registry`]).
pub(crate) fn start(
    path: &Path,
    sample: u32,
    view_names: Arc<Mutex<Vec<String>>>,
) -> Result<Sender, OpenError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| opening(path, e))?;
    let (channel, lines) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("query-log".into())
        .spawn(move || write_lines(lines, BufWriter::new(file), &view_names))
        .map_err(OpenError::Thread)?;
    Ok(Sender {
        channel,
        sample: u64::from(sample.max(1)),
    })
}

/// Whether [`start`] could open `path`, found without writing to it: an existing file is opened
/// for appending (and closed), otherwise a file of the process's own name is created in its
/// directory and removed at once (permission bits alone say nothing for root, nor for a
/// read-only mount). For `check`, which opens nothing of the server's.
pub(crate) fn foresee(path: &Path) -> Result<(), OpenError> {
    if path.exists() {
        return OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(OpenError::Open);
    }
    let dir = directory(path);
    let probe = dir.join(format!(".splitdns-write-test-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| opening(path, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The directory the log file is created in.
fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// An error opening `path` (or a file beside it), told apart: a missing directory says which.
fn opening(path: &Path, error: io::Error) -> OpenError {
    let dir = directory(path);
    if error.kind() == io::ErrorKind::NotFound && !dir.is_dir() {
        OpenError::NoDirectory(dir.to_path_buf())
    } else {
        OpenError::Open(error)
    }
}

#[derive(Serialize)]
struct Line<'a> {
    /// Seconds since the Unix epoch, with microseconds.
    ts: f64,
    client: String,
    family: &'static str,
    view: &'a str,
    name: String,
    #[serde(rename = "type")]
    qtype: String,
    transport: &'static str,
    outcome: &'static str,
    rcode: &'static str,
    size: u16,
    truncated: bool,
    /// "sent", or what rate limiting did: "slipped" (sent truncated) or "dropped".
    delivery: &'static str,
}

fn write_lines(lines: Receiver<Entry>, mut out: BufWriter<File>, names: &Mutex<Vec<String>>) {
    // Blocks for the first line of a burst, writes what else is queued, then flushes: lines reach
    // the file within one burst, without a write call per line.
    while let Ok(first) = lines.recv() {
        let names = names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for entry in std::iter::once(first).chain(lines.try_iter()) {
            let _ = write_line(&mut out, &entry, &names);
        }
        if let Err(e) = out.flush() {
            tracing::warn!("query log: {e}");
        }
    }
}

fn write_line(out: &mut impl Write, entry: &Entry, names: &[String]) -> io::Result<()> {
    let mut qname = String::new();
    if entry.qname_len > 0 {
        let _ = name::fmt_wire_name(&entry.qname[..entry.qname_len as usize], &mut qname);
    }
    let view = names
        .get(entry.view_slot as usize)
        .map_or(OVERFLOW_LABEL, String::as_str);
    let line = Line {
        ts: entry
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| (d.as_micros() as f64) / 1e6),
        client: entry.client.to_string(),
        family: FAMILIES[match entry.client {
            IpAddr::V4(_) => 0,
            IpAddr::V6(v6) => v6.to_ipv4_mapped().is_none() as usize,
        }],
        view,
        name: qname,
        qtype: if entry.qtype == 0 {
            String::new()
        } else {
            rtype::mnemonic(entry.qtype).into_owned()
        },
        transport: entry.transport.label(),
        outcome: entry.outcome.name(),
        rcode: entry.outcome.rcode_name(),
        size: entry.size,
        truncated: entry.truncated,
        delivery: match entry.delivery {
            Delivery::Sent => "sent",
            Delivery::Slipped => "slipped",
            Delivery::Dropped => "dropped",
        },
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check` and the start tell the same story: a missing directory is named as such by both, a
    /// directory that cannot be (here: under a regular file, since root ignores permission bits)
    /// is an error for both, and a writable one passes `foresee` without leaving a file behind.
    #[test]
    fn foresee_agrees_with_start() {
        let scratch = crate::scratch::Scratch::new("querylog");
        let dir = scratch.path();
        std::fs::write(dir.join("file"), "").unwrap();
        let names = Arc::new(Mutex::new(Vec::new()));

        let missing = dir.join("missing/queries.jsonl");
        assert!(
            matches!(foresee(&missing), Err(OpenError::NoDirectory(d)) if d == dir.join("missing"))
        );
        assert!(matches!(
            start(&missing, 1, names.clone()),
            Err(OpenError::NoDirectory(_))
        ));

        let under_a_file = dir.join("file/queries.jsonl");
        assert!(foresee(&under_a_file).is_err());
        assert!(start(&under_a_file, 1, names.clone()).is_err());

        let fine = dir.join("queries.jsonl");
        foresee(&fine).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["file"], "foresee left a file behind");
        start(&fine, 1, names).unwrap();
        foresee(&fine).unwrap();
    }
}
