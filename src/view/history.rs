//! The recent changes of one view's zone, for IXFR (RFC 1995): each reload that changes the zone
//! adds the difference between the version served before and the new one. Kept in memory only
//! (the systemd unit keeps the file system read-only), bounded by `ixfr_versions`; a secondary
//! whose serial is not in it gets the whole zone instead.

/// One record, with its owner as a lowercased wire name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    pub owner: Box<[u8]>,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Box<[u8]>,
}

/// What changed from one served version to the next: the two SOA records and the records
/// removed and added (SOA left out).
#[derive(Debug, Clone)]
pub struct Diff {
    pub from_serial: u32,
    pub from_soa: Change,
    pub to_soa: Change,
    pub removed: Vec<Change>,
    pub added: Vec<Change>,
}

/// The differences, oldest first; each leads to the next, the last to the version served. Each
/// is shared with the histories of the versions after it (a reload adds one, copies none).
#[derive(Debug, Default)]
pub struct History {
    pub diffs: Vec<std::sync::Arc<Diff>>,
}

impl History {
    /// The differences that bring a secondary at `serial` up to the version served, or `None`
    /// when that version is not in the history.
    pub fn since(&self, serial: u32) -> Option<&[std::sync::Arc<Diff>]> {
        let first = self.diffs.iter().position(|d| d.from_serial == serial)?;
        Some(&self.diffs[first..])
    }

    /// Records in the kept differences, for memory accounting and logs.
    pub fn record_count(&self) -> usize {
        self.diffs
            .iter()
            .map(|d| d.removed.len() + d.added.len() + 2)
            .sum()
    }
}
