//! Which records of a health-checked RRset are answered right now. The snapshot's zone data never
//! changes; each health-checked RRset holds, beside its records, one cell ([`Checked`]): an
//! atomic mask (bit i: its i-th record is answered) that the health stage stores on every state
//! change and the answer stage reads with one atomic load, no lock and no allocation. A
//! snapshot's cells, by slot, are its [`HealthBoard`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most records a health-checked RRset may hold: one bit each in a `u64` mask.
pub(crate) const MAX_CHECKED_RECORDS: usize = 64;

/// Where a health-checked RRset finds its mask.
#[derive(Debug, Clone)]
pub struct Checked {
    mask: Arc<AtomicU64>,
}

impl Checked {
    /// A new cell: every record answered (until the first result an address counts as up).
    pub fn new() -> Checked {
        Checked {
            mask: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }

    /// The records answered now. Relaxed: the mask is a value of its own, nothing else is read
    /// through it, and a query that sees the previous mask a moment longer is answered as if it
    /// had come a moment earlier.
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }
}

impl Default for Checked {
    fn default() -> Self {
        Checked::new()
    }
}

/// The cells of one snapshot's health-checked RRsets, by slot.
#[derive(Debug, Clone, Default)]
pub struct HealthBoard {
    cells: Vec<Checked>,
}

impl HealthBoard {
    /// Adds an RRset's cell as the next slot.
    pub fn push(&mut self, cell: &Checked) {
        self.cells.push(cell.clone());
    }

    /// Stores every slot's mask (`masks` indexed by slot).
    pub fn publish(&self, masks: &[u64]) {
        for (cell, &mask) in self.cells.iter().zip(masks) {
            cell.mask.store(mask, Ordering::Relaxed);
        }
    }
}
