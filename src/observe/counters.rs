//! Query counters with nothing shared on the query path (NSD's per-child statistics, summed by
//! the parent). Each receive loop — a UDP loop thread, a TCP connection task — owns a
//! [`LoopCounters`] that only it writes: a plain load and store (no locked read-modify-write),
//! in blocks allocated per view the first time the loop sees that view, so no cache line is
//! written by two loops. A scrape sums every loop's counters under the registry's lock, which
//! only loops starting and ending (and scrapes) take.
//!
//! Views are counted by *slot*, not by their index in the snapshot: a reload may add, remove or
//! reorder views, and a slot stays with a view name for the life of the process, so a counter
//! never moves from one view's label to another's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::tsig_refusals::TsigRefusals;
use super::{Delivery, OVERFLOW_LABEL, querylog};

use crate::answer::Outcome;
use crate::dns::rtype;
use crate::view::Snapshot;
use crate::wire::Transport;

/// How many view slots the counters have. Slot 0 counts clients that matched no view; names
/// beyond the last slot (a process that saw more than 62 distinct view names) share
/// [`OVERFLOW_SLOT`].
pub(crate) const VIEW_SLOTS: usize = 64;
/// The slot of queries from clients that match no view (label `view=""`).
pub(crate) const NO_VIEW_SLOT: usize = 0;
/// Where view names go once every other slot is taken (label `view="_other"`).
pub(crate) const OVERFLOW_SLOT: usize = VIEW_SLOTS - 1;

/// The query types counted by name; every other type is counted as `other`.
pub(crate) const QTYPES: [(u16, &str); 12] = [
    (rtype::A, "A"),
    (rtype::AAAA, "AAAA"),
    (rtype::CNAME, "CNAME"),
    (rtype::MX, "MX"),
    (rtype::NS, "NS"),
    (rtype::PTR, "PTR"),
    (rtype::SOA, "SOA"),
    (rtype::SRV, "SRV"),
    (rtype::TXT, "TXT"),
    (rtype::HTTPS, "HTTPS"),
    (rtype::SVCB, "SVCB"),
    (rtype::ANY, "ANY"),
];
/// Label of the slot for every type not in [`QTYPES`] (and for messages without a question).
pub(crate) const OTHER_QTYPE: &str = "other";
const QTYPE_SLOTS: usize = QTYPES.len() + 1;

fn qtype_slot(qtype: u16) -> usize {
    QTYPES
        .iter()
        .position(|(code, _)| *code == qtype)
        .unwrap_or(QTYPES.len())
}

/// The label of a query-type slot.
pub(crate) fn qtype_label(slot: usize) -> &'static str {
    QTYPES.get(slot).map_or(OTHER_QTYPE, |(_, name)| name)
}

/// One view's counters in one loop.
#[derive(Debug, Default)]
struct ViewBlock {
    /// By family, then query-type slot.
    queries: [[AtomicU64; QTYPE_SLOTS]; 2],
    /// Responses sent (slipped ones included), by [`Outcome`].
    responses: [AtomicU64; Outcome::ALL.len()],
    /// Responses sent with TC=1 (too large for UDP, or slipped by rate limiting).
    truncated: AtomicU64,
    /// Rate limiting: responses dropped, responses slipped.
    dropped: AtomicU64,
    slipped: AtomicU64,
}

/// Adds one. Only the owning loop writes, so a load and a store suffice (no locked instruction).
fn bump(counter: &AtomicU64) {
    add(counter, 1);
}

fn add(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The counters of one receive loop: written by that loop only, read by scrapes.
#[derive(Debug)]
pub struct LoopCounters {
    transport: Transport,
    views: [OnceLock<Box<ViewBlock>>; VIEW_SLOTS],
    /// The query log, when on: this loop's own sender.
    log: Option<querylog::Sender>,
    /// Queries seen, for sampling the log.
    log_tick: AtomicU64,
    /// Log lines handed to the writer, and dropped because it was behind.
    log_queued: AtomicU64,
    log_dropped: AtomicU64,
    /// The rate limit on TSIG refusal log lines, shared by every loop (see
    /// [`tsig_refusals`](super::tsig_refusals)); touched only by a request that failed TSIG.
    tsig_refusals: Arc<TsigRefusals>,
}

impl LoopCounters {
    fn new(
        transport: Transport,
        log: Option<querylog::Sender>,
        tsig_refusals: Arc<TsigRefusals>,
    ) -> LoopCounters {
        LoopCounters {
            transport,
            views: std::array::from_fn(|_| OnceLock::new()),
            log,
            tsig_refusals,
            log_tick: AtomicU64::new(0),
            log_queued: AtomicU64::new(0),
            log_dropped: AtomicU64::new(0),
        }
    }

    /// Whether this query is one the log samples (counts it), and the log to write it to.
    pub fn log_sample(&self) -> Option<&querylog::Sender> {
        let log = self.log.as_ref()?;
        let tick = get(&self.log_tick);
        bump(&self.log_tick);
        tick.is_multiple_of(log.sample).then_some(log)
    }

    /// Counts a log line offered to the writer: `queued`, or dropped.
    pub fn count_log(&self, queued: bool) {
        bump(if queued {
            &self.log_queued
        } else {
            &self.log_dropped
        });
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn tsig_refusals(&self) -> &TsigRefusals {
        &self.tsig_refusals
    }

    fn block(&self, slot: usize) -> &ViewBlock {
        self.views[slot.min(VIEW_SLOTS - 1)].get_or_init(Box::default)
    }

    /// Counts one query and what became of it.
    pub fn count(
        &self,
        slot: usize,
        ipv6: bool,
        qtype: u16,
        outcome: Outcome,
        truncated: bool,
        delivery: Delivery,
    ) {
        let block = self.block(slot);
        bump(&block.queries[ipv6 as usize][qtype_slot(qtype)]);
        match delivery {
            Delivery::Dropped => bump(&block.dropped),
            Delivery::Slipped => {
                bump(&block.slipped);
                bump(&block.responses[outcome as usize]);
                bump(&block.truncated);
            }
            Delivery::Sent => {
                bump(&block.responses[outcome as usize]);
                if truncated {
                    bump(&block.truncated);
                }
            }
        }
    }

    /// Adds every count of `other` into these (the caller makes sure it is the only writer).
    fn absorb(&self, other: &LoopCounters) {
        for (slot, theirs) in other.views.iter().enumerate() {
            let Some(theirs) = theirs.get() else { continue };
            let ours = self.block(slot);
            for (a, b) in ours
                .queries
                .iter()
                .flatten()
                .zip(theirs.queries.iter().flatten())
            {
                add(a, get(b));
            }
            for (a, b) in ours.responses.iter().zip(&theirs.responses) {
                add(a, get(b));
            }
            add(&ours.truncated, get(&theirs.truncated));
            add(&ours.dropped, get(&theirs.dropped));
            add(&ours.slipped, get(&theirs.slipped));
        }
        add(&self.log_queued, get(&other.log_queued));
        add(&self.log_dropped, get(&other.log_dropped));
    }
}

/// Every loop's counters, and the names of the view slots.
#[derive(Debug)]
pub struct Registry {
    loops: Mutex<Vec<Arc<LoopCounters>>>,
    /// What loops that have ended counted (TCP connections), per transport; written only with
    /// `loops` locked.
    retired: [LoopCounters; Transport::ALL.len()],
    /// Slot → view name; grow-only, so a slot never changes name. Shared with the query log's
    /// writer, which names views by slot.
    slots: Arc<Mutex<Vec<String>>>,
    /// The query log, when on; each loop registered afterwards gets a sender.
    query_log: OnceLock<querylog::Sender>,
    /// Handed to every loop registered.
    tsig_refusals: Arc<TsigRefusals>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            loops: Mutex::default(),
            retired: Transport::ALL
                .map(|transport| LoopCounters::new(transport, None, Arc::default())),
            slots: Arc::new(Mutex::new(vec![String::new()])),
            query_log: OnceLock::new(),
            tsig_refusals: Arc::default(),
        }
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sums over all loops, one entry per (view slot, transport) that counted anything.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Totals {
    pub rows: Vec<Row>,
    /// Query log lines handed to the writer, and dropped because it was behind.
    pub log_queued: u64,
    pub log_dropped: u64,
}

/// What one view slot counted over one transport.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub view: String,
    pub transport: Transport,
    /// By family, then query-type slot (see [`qtype_label`]).
    pub queries: [[u64; QTYPE_SLOTS]; 2],
    /// By [`Outcome`] (`Outcome::ALL` order).
    pub responses: [u64; Outcome::ALL.len()],
    pub truncated: u64,
    pub dropped: u64,
    pub slipped: u64,
}

impl Registry {
    /// New counters for a loop that starts now; [`Registry::retire`] them when it ends.
    pub fn register(&self, transport: Transport) -> Arc<LoopCounters> {
        let counters = Arc::new(LoopCounters::new(
            transport,
            self.query_log.get().cloned(),
            self.tsig_refusals.clone(),
        ));
        locked(&self.loops).push(counters.clone());
        counters
    }

    /// Folds an ending loop's counts into the totals and stops reading it.
    pub fn retire(&self, counters: &Arc<LoopCounters>) {
        let mut loops = locked(&self.loops);
        if let Some(at) = loops.iter().position(|c| Arc::ptr_eq(c, counters)) {
            loops.swap_remove(at);
            self.retired[counters.transport as usize].absorb(counters);
        }
    }

    /// Turns the query log on for every loop registered from now on (call before serving).
    pub fn enable_query_log(
        &self,
        path: &std::path::Path,
        sample: u32,
    ) -> Result<(), querylog::OpenError> {
        let sender = querylog::start(path, sample, self.slots.clone())?;
        let _ = self.query_log.set(sender);
        Ok(())
    }

    /// Each view's slot (indexed like `snapshot.views`), giving new names the next free slot.
    /// Called when a snapshot is published, never on the query path.
    pub fn slots_for(&self, snapshot: &Snapshot) -> Vec<u8> {
        let mut slots = locked(&self.slots);
        snapshot
            .views
            .iter()
            .map(|view| {
                if let Some(at) = slots.iter().skip(1).position(|n| *n == view.name) {
                    return (at + 1) as u8;
                }
                if slots.len() < OVERFLOW_SLOT {
                    slots.push(view.name.clone());
                    (slots.len() - 1) as u8
                } else {
                    OVERFLOW_SLOT as u8
                }
            })
            .collect()
    }

    fn slot_name(slots: &[String], slot: usize) -> String {
        match slots.get(slot) {
            Some(name) => name.clone(),
            None => OVERFLOW_LABEL.to_string(),
        }
    }

    /// Sums every loop's counters (a scrape).
    pub fn totals(&self) -> Totals {
        let loops = locked(&self.loops);
        let names = locked(&self.slots).clone();
        let mut rows: Vec<Row> = Vec::new();
        let (mut log_queued, mut log_dropped) = (0, 0);
        for counters in loops.iter().map(|c| c.as_ref()).chain(&self.retired) {
            log_queued += get(&counters.log_queued);
            log_dropped += get(&counters.log_dropped);
            for (slot, block) in counters.views.iter().enumerate() {
                let Some(block) = block.get() else { continue };
                let view = Self::slot_name(&names, slot);
                let row = match rows
                    .iter_mut()
                    .position(|r| r.view == view && r.transport == counters.transport)
                {
                    Some(at) => &mut rows[at],
                    None => {
                        rows.push(Row {
                            view,
                            transport: counters.transport,
                            queries: [[0; QTYPE_SLOTS]; 2],
                            responses: [0; Outcome::ALL.len()],
                            truncated: 0,
                            dropped: 0,
                            slipped: 0,
                        });
                        rows.last_mut().expect("just pushed")
                    }
                };
                for (a, b) in row
                    .queries
                    .iter_mut()
                    .flatten()
                    .zip(block.queries.iter().flatten())
                {
                    *a += get(b);
                }
                for (a, b) in row.responses.iter_mut().zip(&block.responses) {
                    *a += get(b);
                }
                row.truncated += get(&block.truncated);
                row.dropped += get(&block.dropped);
                row.slipped += get(&block.slipped);
            }
        }
        rows.sort_by(|a, b| (&a.view, a.transport as u8).cmp(&(&b.view, b.transport as u8)));
        Totals {
            rows,
            log_queued,
            log_dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two loops count separately; the sum sees both, and a retired loop's counts stay.
    #[test]
    fn loops_are_summed_and_retired_counts_kept() {
        let registry = Registry::default();
        let udp = registry.register(Transport::Udp);
        let tcp = registry.register(Transport::Tcp);
        udp.count(1, false, rtype::A, Outcome::Answer, false, Delivery::Sent);
        udp.count(1, true, 65280, Outcome::NxDomain, true, Delivery::Sent);
        udp.count(
            1,
            false,
            rtype::A,
            Outcome::Answer,
            false,
            Delivery::Dropped,
        );
        tcp.count(1, false, rtype::MX, Outcome::Answer, false, Delivery::Sent);
        registry.retire(&tcp);
        tcp.count(1, false, rtype::MX, Outcome::Answer, false, Delivery::Sent);
        let totals = registry.totals();
        assert_eq!(totals.rows.len(), 2, "{totals:?}");
        let udp_row = &totals.rows[0];
        assert_eq!(udp_row.transport, Transport::Udp);
        assert_eq!(udp_row.queries[0][qtype_slot(rtype::A)], 2);
        assert_eq!(udp_row.queries[1][QTYPES.len()], 1);
        assert_eq!(udp_row.responses[Outcome::Answer as usize], 1);
        assert_eq!(udp_row.responses[Outcome::NxDomain as usize], 1);
        assert_eq!((udp_row.truncated, udp_row.dropped), (1, 1));
        // Counted after retirement: not read any more.
        assert_eq!(totals.rows[1].responses[Outcome::Answer as usize], 1);
    }

    /// `sample = 3` logs the first query of every three, per loop; loops registered before the
    /// log was turned on do not log.
    #[test]
    fn the_query_log_samples_one_in_n_per_loop() {
        let registry = Registry::default();
        let before = registry.register(Transport::Udp);
        let dir = crate::scratch::Scratch::new("sample");
        let path = dir.join("sample.jsonl");
        registry.enable_query_log(&path, 3).unwrap();
        let after = registry.register(Transport::Udp);
        let sampled = (0..9).filter(|_| after.log_sample().is_some()).count();
        assert_eq!(sampled, 3);
        assert!(before.log_sample().is_none());
    }

    /// A view keeps its slot across snapshots whatever the order of views; once 62 names have
    /// been seen, further names share the overflow slot.
    #[test]
    fn view_slots_are_stable_and_bounded() {
        use crate::view::{Snapshot, View};
        let snapshot = |names: &[String]| {
            let views = names
                .iter()
                .map(|name| View::new(name.clone(), Vec::new(), false))
                .collect();
            Snapshot::new(views, [], Vec::new(), Vec::new())
        };
        let registry = Registry::default();
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            registry.slots_for(&snapshot(&names(&["internal", "external"]))),
            [1, 2]
        );
        assert_eq!(
            registry.slots_for(&snapshot(&names(&["dmz", "external", "internal"]))),
            [3, 2, 1]
        );
        let many: Vec<String> = (0..70).map(|i| format!("v{i}")).collect();
        let slots = registry.slots_for(&snapshot(&many));
        assert_eq!(slots[0], 4);
        assert_eq!(slots[58], 62);
        assert!(slots[59..].iter().all(|&s| s as usize == OVERFLOW_SLOT));
        let counters = registry.register(Transport::Udp);
        counters.count(
            OVERFLOW_SLOT,
            false,
            rtype::A,
            Outcome::Answer,
            false,
            Delivery::Sent,
        );
        let totals = registry.totals();
        assert_eq!(totals.rows[0].view, OVERFLOW_LABEL);
    }

    #[test]
    fn outcome_order_matches_discriminants() {
        for (index, outcome) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*outcome as usize, index);
        }
    }
}
