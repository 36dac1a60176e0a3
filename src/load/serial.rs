//! SOA serial discipline across reloads. Each view's zone carries a fingerprint of its content
//! (order-independent, and blind to the SOA serial itself); when a reload changes the content but
//! not the serial, secondaries would never fetch the change, so the builder either warns or — with
//! `serial_policy = "bump"` — serves a serial one past the previous one.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::config::{Config, SerialPolicy};
use crate::dns::name::{Name, NameKey};
use crate::dns::rtype;
use crate::dns::soa::{is_newer, read_serial, serial_offset};
use crate::view::Snapshot;
use crate::view::zone::canonical_rdata;
use crate::zonefile::ZoneRecord;

/// An order-independent digest of a set of records. The SOA serial is left out so that a serial
/// change alone is not a content change.
pub fn fingerprint(records: &[ZoneRecord]) -> u64 {
    // Fixed seed: fingerprints are compared across reloads within one process.
    let state = foldhash::fast::FixedState::with_seed(0x5eed);
    records.iter().fold(0u64, |sum, record| {
        let mut hasher = state.build_hasher();
        hasher.write(
            NameKey::from_wire(record.owner.as_wire())
                .expect("owners are valid names")
                .as_wire(),
        );
        hasher.write_u16(record.rtype);
        hasher.write_u32(record.ttl);
        let mut rdata = canonical_rdata(record.rtype, &record.rdata);
        if record.rtype == rtype::SOA
            && let Some(at) = serial_offset(&rdata)
        {
            rdata.to_mut()[at..at + 4].fill(0);
        }
        hasher.write(&rdata);
        sum.wrapping_add(hasher.finish())
    })
}

/// Each view's fingerprint of a zone: the shared file's combined with that view's override file's
/// (`overrides` is indexed by view).
pub fn view_fingerprints(shared: &[ZoneRecord], overrides: &[Option<Vec<ZoneRecord>>]) -> Vec<u64> {
    let shared = fingerprint(shared);
    overrides
        .iter()
        .map(|records| {
            let mut hasher = std::hash::DefaultHasher::new();
            (shared, records.as_deref().map(fingerprint)).hash(&mut hasher);
            hasher.finish()
        })
        .collect()
}

/// Compares a zone about to be served with what `previous` served, view by view: content that
/// changed without a serial increase gets a notice, and under `serial_policy = "bump"` the SOA
/// records (the view's override SOA, or the shared one) are rewritten to one past the previous
/// serial — or kept at a previously bumped serial when the content did not change.
pub fn enforce(
    config: &Config,
    previous: &Snapshot,
    origin: &Name,
    fingerprints: &[u64],
    shared: &mut [ZoneRecord],
    overrides: &mut [Option<Vec<ZoneRecord>>],
) -> Vec<SerialNotice> {
    let bump = config.serial_policy == SerialPolicy::Bump;
    let mut notices = Vec::new();
    let mut shared_target: Option<u32> = None;
    for (index, view) in config.views.iter().enumerate() {
        let Some(before) = previous.view_zone(&view.name, origin) else {
            continue;
        };
        let own_soa = overrides[index]
            .as_deref()
            .and_then(|r| apex_serial(r, origin));
        let Some(now) = own_soa.or_else(|| apex_serial(shared, origin)) else {
            continue;
        };
        let changed = before.fingerprint != fingerprints[index];
        let target = if changed && !is_newer(now, before.serial) {
            before.serial.wrapping_add(1)
        } else if !changed && bump && is_newer(before.serial, now) {
            // Keep a serial raised by an earlier bump rather than going back.
            before.serial
        } else {
            continue;
        };
        if changed {
            notices.push(SerialNotice {
                view: view.name.clone(),
                zone: origin.clone(),
                previous: before.serial,
                serial: if bump { target } else { now },
                bumped: bump,
            });
        }
        if bump {
            match (own_soa, &mut overrides[index]) {
                (Some(_), Some(records)) => set_serial(records, origin, target),
                _ => {
                    shared_target = Some(match shared_target {
                        Some(other) if is_newer(other, target) => other,
                        _ => target,
                    })
                }
            }
        }
    }
    if let Some(target) = shared_target {
        set_serial(shared, origin, target);
    }
    notices
}

/// Rewrites the serial of the apex SOA record(s) in `records`.
pub fn set_serial(records: &mut [ZoneRecord], origin: &Name, serial: u32) {
    for record in records
        .iter_mut()
        .filter(|r| r.rtype == rtype::SOA && r.owner.to_lowercase() == *origin)
    {
        if let Some(at) = serial_offset(&record.rdata) {
            record.rdata[at..at + 4].copy_from_slice(&serial.to_be_bytes());
        }
    }
}

/// The serial of the apex SOA in `records`, if there is one.
pub fn apex_serial(records: &[ZoneRecord], origin: &Name) -> Option<u32> {
    records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner.to_lowercase() == *origin)
        .and_then(|r| read_serial(&r.rdata))
}

/// A zone whose content changed on reload without a serial increase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialNotice {
    pub view: String,
    pub zone: Name,
    /// The serial served before the reload.
    pub previous: u32,
    /// The serial served now.
    pub serial: u32,
    /// True when `serial_policy = "bump"` raised it.
    pub bumped: bool,
}

impl fmt::Display for SerialNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bumped {
            write!(
                f,
                "zone {} (view {}) changed without a serial increase: serving serial {} (was {}; serial_policy = \"bump\")",
                self.zone, self.view, self.serial, self.previous
            )
        } else {
            write!(
                f,
                "zone {} (view {}) changed but its SOA serial did not increase (was {}, now {}): secondaries will not pick up the change",
                self.zone, self.view, self.previous, self.serial
            )
        }
    }
}
