//! SOA serial discipline across reloads. Each view's zone carries a fingerprint of its content
//! (order-independent, and blind to the SOA serial itself); when a reload changes the content but
//! not the serial, secondaries would never fetch the change, so the builder either warns or — with
//! `serial_policy = "bump"` — serves a serial one past the previous one.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::name::{self, Name};
use crate::wire::query::NameKey;
use crate::zone::{ZoneRecord, rtype};

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
        let mut rdata = super::zone::canonical_rdata(record.rtype, &record.rdata);
        if record.rtype == rtype::SOA
            && let Some(at) = serial_offset(&rdata)
        {
            rdata.to_mut()[at..at + 4].fill(0);
        }
        hasher.write(&rdata);
        sum.wrapping_add(hasher.finish())
    })
}

/// Combines the shared file's fingerprint with a view's override file's.
pub fn combine(shared: u64, overrides: Option<u64>) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (shared, overrides).hash(&mut hasher);
    hasher.finish()
}

/// RFC 1982 serial number arithmetic: is `a` newer than `b`?
pub fn is_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// Byte offset of the SERIAL field in an SOA RDATA (after MNAME and RNAME).
pub fn serial_offset(rdata: &[u8]) -> Option<usize> {
    let mname = name::wire_name_len(rdata)?;
    let rname = name::wire_name_len(rdata.get(mname..)?)?;
    let at = mname + rname;
    (rdata.len() >= at + 20).then_some(at)
}

pub fn read_serial(rdata: &[u8]) -> Option<u32> {
    let at = serial_offset(rdata)?;
    Some(u32::from_be_bytes(rdata[at..at + 4].try_into().ok()?))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(is_newer(2, 1));
        assert!(!is_newer(1, 1));
        assert!(!is_newer(1, 2));
        assert!(is_newer(0, u32::MAX));
        assert!(!is_newer(0x8000_0000, 0));
    }
}
