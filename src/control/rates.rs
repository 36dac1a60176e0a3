//! Per-view query rates for the status page: the query counters ([`crate::observe::Registry`])
//! are sampled every [`SAMPLE_EVERY`] by a task of the control listener, and a rate is the
//! difference between now and the oldest sample at most [`WINDOW`] old, over the time between
//! them: the last minute's rate however often (or seldom) the page is opened, and the same for
//! every viewer. Until a sample is that old, the rate is since the listener started. Reading the
//! counters sums the receive loops' own counters; the query path is not touched.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::answer::Outcome;
use crate::observe::Metrics;

/// How often the counters are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// The span rates are measured over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// One view's counters at one moment: queries, and responses by response code.
#[derive(Debug, Clone, Default)]
struct Counts {
    queries: u64,
    rcodes: BTreeMap<&'static str, u64>,
}

#[derive(Debug)]
struct Sample {
    at: Instant,
    views: BTreeMap<String, Counts>,
}

/// The samples of the last [`WINDOW`].
#[derive(Debug)]
pub struct Rates {
    started: Instant,
    samples: Mutex<VecDeque<Sample>>,
}

/// One view's rates over the window.
#[derive(Debug, Clone)]
pub struct ViewRate {
    pub view: String,
    pub queries_per_second: f64,
    /// Queries since start.
    pub queries: u64,
    /// Each response code's share of the window's responses (0..=1), most frequent first.
    pub rcodes: Vec<(&'static str, f64)>,
}

impl Rates {
    pub fn new() -> Rates {
        Rates {
            started: Instant::now(),
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes a sample, dropping those the window no longer needs (one older than it is kept,
    /// as the window's start).
    pub fn sample(&self, metrics: &Metrics) {
        let now = Sample {
            at: Instant::now(),
            views: read(metrics),
        };
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        while samples.len() > 1 && samples[1].at.elapsed() >= WINDOW {
            samples.pop_front();
        }
        samples.push_back(now);
    }

    /// Each view's rates from the window's start to now, and the window's length.
    pub fn now(&self, metrics: &Metrics) -> (Vec<ViewRate>, Duration) {
        let current = read(metrics);
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let empty = BTreeMap::new();
        let (since, before) = samples
            .iter()
            .find(|s| s.at.elapsed() <= WINDOW + SAMPLE_EVERY)
            .map_or((self.started, &empty), |s| (s.at, &s.views));
        let seconds = since.elapsed().as_secs_f64().max(1.0);
        let rates = current
            .iter()
            .map(|(view, counts)| {
                let old = before.get(view).cloned().unwrap_or_default();
                let responses: BTreeMap<&'static str, u64> = counts
                    .rcodes
                    .iter()
                    .map(|(rcode, n)| {
                        let before = old.rcodes.get(rcode).copied().unwrap_or(0);
                        (*rcode, n.saturating_sub(before))
                    })
                    .filter(|(_, n)| *n > 0)
                    .collect();
                let total: u64 = responses.values().sum();
                let mut rcodes: Vec<(&'static str, f64)> = responses
                    .into_iter()
                    .map(|(rcode, n)| (rcode, n as f64 / total as f64))
                    .collect();
                rcodes.sort_by(|a, b| b.1.total_cmp(&a.1));
                ViewRate {
                    view: view.clone(),
                    queries_per_second: counts.queries.saturating_sub(old.queries) as f64 / seconds,
                    queries: counts.queries,
                    rcodes,
                }
            })
            .collect();
        (rates, since.elapsed())
    }
}

impl Default for Rates {
    fn default() -> Self {
        Rates::new()
    }
}

/// The counters now, by view (transports, families and query types summed).
fn read(metrics: &Metrics) -> BTreeMap<String, Counts> {
    let mut views: BTreeMap<String, Counts> = BTreeMap::new();
    for row in metrics.queries.totals().rows {
        let counts = views.entry(row.view.clone()).or_default();
        counts.queries += row.queries.iter().flatten().sum::<u64>();
        for (outcome, &n) in Outcome::ALL.iter().zip(&row.responses) {
            *counts.rcodes.entry(outcome.rcode_name()).or_default() += n;
        }
    }
    views
}
