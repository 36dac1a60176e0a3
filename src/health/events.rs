//! The health stage's events: each change an admin would want to hear about (an address down, a
//! failover, a TLSA mismatch), with how much it matters and when. Whoever notices a change logs
//! it and keeps it here; `/status` shows the latest few, of every kind, in time order.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

/// Events kept for `/status`: enough for the last incident, bounded whatever flaps.
const MAX_EVENTS: usize = 32;

/// How much an event matters to whoever watches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One change an admin would want to hear about: its log line, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub unix_time: u64,
    pub severity: Severity,
    pub message: String,
}

/// The latest events of one kind of check, oldest first.
#[derive(Debug, Default)]
pub(super) struct Events(VecDeque<Event>);

impl Events {
    /// Keeps `message` (already logged), the oldest going once there are [`MAX_EVENTS`].
    pub(super) fn keep(&mut self, severity: Severity, message: String) {
        if self.0.len() == MAX_EVENTS {
            self.0.pop_front();
        }
        self.0.push_back(Event {
            unix_time: now_unix(),
            severity,
            message,
        });
    }

    pub(super) fn latest(&self) -> impl Iterator<Item = &Event> {
        self.0.iter()
    }
}

/// The latest of several kinds' events, in time order (events of one second keep their order).
pub(super) fn merged(kinds: impl IntoIterator<Item = Vec<Event>>) -> Vec<Event> {
    let mut events: Vec<Event> = kinds.into_iter().flatten().collect();
    events.sort_by_key(|event| event.unix_time);
    let extra = events.len().saturating_sub(MAX_EVENTS);
    events.drain(..extra);
    events
}

/// Seconds since the Unix epoch: when an event happened, or a state began.
pub(super) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
