//! The log line for a request refused for its TSIG signature over TCP, at most one per key and
//! source address per [`INTERVAL`], each saying how many were left out since the last. A
//! secondary with a wrong secret retries for as long as nobody fixes it, and anyone who reaches
//! the port can send badly signed requests; one line a minute per pair still shows the admin who
//! and which key, and the NOTAUTH counter in `/metrics` counts every one.
//!
//! The table is shared by every TCP connection (a flood over fresh connections must be limited
//! too), so it sits behind a mutex. Only a request that failed TSIG reaches it — no other query
//! takes the lock or writes anything here — and the lock is held for one lookup, no I/O.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line per key and source in this long.
pub(crate) const INTERVAL: Duration = Duration::from_secs(60);
/// Key and source pairs tracked at once. Beyond (a flood from many addresses), new pairs share one
/// allowance, so the log still gets at most one more line per interval.
const CAPACITY: usize = 1024;

/// One key and source: when its last line was written, and the refusals left out since.
#[derive(Debug, Clone, Copy)]
struct Pair {
    logged: Instant,
    suppressed: u64,
}

#[derive(Debug, Default)]
struct Table {
    pairs: HashMap<(Box<[u8]>, IpAddr), Pair>,
    /// The allowance shared by the pairs that found the table full.
    crowded: Option<Pair>,
}

/// Whether a refusal is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write the line: `suppressed` refusals of the same pair were left out since its last line.
    Log { suppressed: u64 },
    /// Write the line for this pair and every other untracked one (the table is full):
    /// `suppressed` of theirs were left out since the last such line.
    LogCrowded { suppressed: u64 },
    /// Leave it out (counted for the next line).
    Quiet,
}

#[derive(Debug, Default)]
pub struct TsigRefusals {
    table: Mutex<Table>,
}

impl TsigRefusals {
    /// A refusal of a request signed with `key` (its lowercased wire name) from `source`, at
    /// `now`.
    pub fn note(&self, key: &[u8], source: IpAddr, now: Instant) -> Verdict {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fresh = |pair: &Pair| now.saturating_duration_since(pair.logged) < INTERVAL;
        let id = (Box::<[u8]>::from(key), source);
        if table.pairs.len() >= CAPACITY && !table.pairs.contains_key(&id) {
            // Pairs whose interval is over need no entry: their next refusal is logged anyway.
            // What they left out since their last line is not reported; /metrics counts it.
            table.pairs.retain(|_, pair| fresh(pair));
        }
        if table.pairs.len() >= CAPACITY && !table.pairs.contains_key(&id) {
            return match table.crowded.as_mut() {
                Some(pair) if fresh(pair) => {
                    pair.suppressed += 1;
                    Verdict::Quiet
                }
                _ => {
                    let suppressed = table.crowded.map_or(0, |pair| pair.suppressed);
                    table.crowded = Some(Pair {
                        logged: now,
                        suppressed: 0,
                    });
                    Verdict::LogCrowded { suppressed }
                }
            };
        }
        match table.pairs.get_mut(&id) {
            Some(pair) if fresh(pair) => {
                pair.suppressed += 1;
                Verdict::Quiet
            }
            Some(pair) => {
                let suppressed = pair.suppressed;
                *pair = Pair {
                    logged: now,
                    suppressed: 0,
                };
                Verdict::Log { suppressed }
            }
            None => {
                table.pairs.insert(
                    id,
                    Pair {
                        logged: now,
                        suppressed: 0,
                    },
                );
                Verdict::Log { suppressed: 0 }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_and_source_per_interval_with_the_count_left_out() {
        let refusals = TsigRefusals::default();
        let start = Instant::now();
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        let key = b"\x03key\x00";
        let other = b"\x05other\x00";
        assert_eq!(
            refusals.note(key, one, start),
            Verdict::Log { suppressed: 0 }
        );
        for _ in 0..5 {
            assert_eq!(refusals.note(key, one, start), Verdict::Quiet);
        }
        assert_eq!(
            refusals.note(other, one, start),
            Verdict::Log { suppressed: 0 }
        );
        assert_eq!(
            refusals.note(key, two, start),
            Verdict::Log { suppressed: 0 }
        );
        let later = start + INTERVAL;
        assert_eq!(
            refusals.note(key, one, later),
            Verdict::Log { suppressed: 5 }
        );
        assert_eq!(refusals.note(key, one, later), Verdict::Quiet);
        assert_eq!(
            refusals.note(key, two, later),
            Verdict::Log { suppressed: 0 }
        );
    }

    #[test]
    fn beyond_the_table_new_pairs_share_one_allowance() {
        let refusals = TsigRefusals::default();
        let start = Instant::now();
        let key = b"\x03key\x00";
        let source = |n: usize| {
            IpAddr::from(std::net::Ipv6Addr::from(
                (0x2001_0db8_u128 << 96) + n as u128,
            ))
        };
        for n in 0..CAPACITY {
            assert_eq!(
                refusals.note(key, source(n), start),
                Verdict::Log { suppressed: 0 }
            );
        }
        let beyond = CAPACITY..CAPACITY + 10;
        let verdicts: Vec<Verdict> = beyond
            .map(|n| refusals.note(key, source(n), start))
            .collect();
        assert_eq!(verdicts[0], Verdict::LogCrowded { suppressed: 0 });
        assert!(
            verdicts[1..].iter().all(|v| *v == Verdict::Quiet),
            "{verdicts:?}"
        );
        // Tracked pairs keep their own allowance meanwhile.
        assert_eq!(refusals.note(key, source(0), start), Verdict::Quiet);
        // Once the interval is over, the stale pairs make room again.
        let later = start + INTERVAL;
        assert_eq!(
            refusals.note(key, source(CAPACITY + 1), later),
            Verdict::Log { suppressed: 0 }
        );
    }
}
