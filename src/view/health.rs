//! Which records of a health-checked RRset are answered right now. The snapshot's zone data never
//! changes; beside it, each snapshot has one [`HealthBoard`]: a mask per health-checked RRset
//! (bit i: its i-th record is answered), replaced whole by the health stage on every state
//! change. An RRset that is checked holds its slot on the board ([`Checked`]), so the answer stage
//! reads its mask with one atomic load, no lock and no allocation.

use std::sync::Arc;

use arc_swap::ArcSwap;

/// Most records a health-checked RRset may hold: one bit each in a `u64` mask.
pub const MAX_CHECKED_RECORDS: usize = 64;

/// The answer masks of one snapshot's health-checked RRsets, by slot.
#[derive(Debug)]
pub struct HealthBoard {
    masks: ArcSwap<Box<[u64]>>,
}

impl HealthBoard {
    /// A board for `slots` RRsets, every record answered (until the first result an address
    /// counts as up).
    pub fn new(slots: usize) -> HealthBoard {
        HealthBoard {
            masks: ArcSwap::from_pointee(vec![u64::MAX; slots].into_boxed_slice()),
        }
    }

    /// Replaces every mask at once (`masks` indexed by slot).
    pub fn publish(&self, masks: Box<[u64]>) {
        self.masks.store(Arc::new(masks));
    }

    /// The records of `slot` answered now; every record for a slot the board does not have.
    pub fn mask(&self, slot: u32) -> u64 {
        self.masks
            .load()
            .get(slot as usize)
            .copied()
            .unwrap_or(u64::MAX)
    }
}

/// Where a health-checked RRset finds its mask.
#[derive(Debug, Clone)]
pub struct Checked {
    pub board: Arc<HealthBoard>,
    pub slot: u32,
}
