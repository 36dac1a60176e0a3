//! SOA serial discipline across reloads. Each view's zone carries a fingerprint of its content
//! (order-independent, and blind to the SOA serial itself); when a reload changes the content but
//! not the serial, a secondary would never fetch the change. So a view whose serial someone
//! follows — one transferred to secondaries (a transfer ACL or `notify`), or any view under
//! `serial_policy = "bump"` — is served a serial one past the previous one, and a notice says so.
//! A view nobody transfers, under the default policy, is served its file's serial and gets no
//! notice: no secondary can miss the change, and a line on every edit would only teach admins to
//! ignore the ones that matter. With a `state_dir`, the served serials outlive a restart, so a
//! bumped serial never falls back to the file's.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::Path;

use crate::config::{Config, SerialPolicy};
use crate::dns::name::{Name, NameKey};
use crate::dns::rtype;
use crate::dns::soa::{is_newer, read_serial, serial_offset};
use crate::view::Snapshot;
use crate::view::zone::canonical_rdata;
use crate::zonefile::ZoneRecord;

/// An order-independent digest of a set of records. The SOA serial is left out so that a serial
/// change alone is not a content change.
pub(crate) fn fingerprint(records: &[ZoneRecord]) -> u64 {
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
pub(crate) fn view_fingerprints(shared: u64, overrides: &[Option<Vec<ZoneRecord>>]) -> Vec<u64> {
    overrides
        .iter()
        .map(|records| {
            let mut hasher = std::hash::DefaultHasher::new();
            (shared, records.as_deref().map(fingerprint)).hash(&mut hasher);
            hasher.finish()
        })
        .collect()
}

/// What was served before, for one view's zone: its serial and content fingerprint. From the
/// snapshot being served (reload), or from the state directory (start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Served {
    pub serial: u32,
    pub fingerprint: u64,
}

/// Compares a zone about to be served with what was served before, view by view: when content
/// changed without a serial increase and the view's serial is managed ([`manager`]), that view's
/// SOA — and only that view's — is served at one past the previous serial, with a notice; an
/// unmanaged view is served its file's serial, without one. A serial raised before is kept
/// while the content does not change, whether the view's serial is managed now or not: a served
/// serial never goes back. A view without its own SOA gets a copy of the
/// shared one in its overlay, so the other views keep theirs. `shared` holds at least the
/// shared data's apex SOA.
pub(crate) fn enforce(
    config: &Config,
    previous: &dyn Fn(&str, &Name) -> Option<Served>,
    origin: &Name,
    fingerprints: &[u64],
    shared: &[ZoneRecord],
    overrides: &mut [Option<Vec<ZoneRecord>>],
) -> Vec<SerialNotice> {
    let mut notices = Vec::new();
    for (index, view) in config.views.iter().enumerate() {
        let Some(before) = previous(&view.name, origin) else {
            continue;
        };
        let manager = manager(config, index, origin);
        let own_soa = overrides[index]
            .as_deref()
            .and_then(|r| apex_serial(r, origin));
        let Some(now) = own_soa.or_else(|| apex_serial(shared, origin)) else {
            continue;
        };
        let changed = before.fingerprint != fingerprints[index];
        let target = if changed && !is_newer(now, before.serial) {
            // Unmanaged: the file's serial, as written, and nothing to tell.
            let Some(why) = manager else {
                continue;
            };
            let served = before.serial.wrapping_add(1);
            notices.push(SerialNotice {
                view: view.name.clone(),
                zone: origin.clone(),
                previous: before.serial,
                file: now,
                serial: served,
                why,
            });
            served
        } else if !changed && is_newer(before.serial, now) {
            // A serial raised earlier is kept rather than going back, managed or not now: a
            // view whose transfer ACL was removed for a moment, or a restart, must not serve
            // its secondaries a lower serial than they hold (they would ignore the zone).
            before.serial
        } else {
            continue;
        };
        if own_soa.is_none() {
            let soa = shared
                .iter()
                .find(|r| r.rtype == rtype::SOA && r.owner.to_lowercase() == *origin)
                .expect("the serial came from it")
                .clone();
            overrides[index].get_or_insert_with(Vec::new).push(soa);
        }
        let records = overrides[index].as_mut().expect("holds the SOA");
        set_serial(records, origin, target);
    }
    notices
}

/// Why splitdns keeps a view's serial rising by itself, or `None` when it does not: a view
/// transferred to secondaries (or notifying them) would otherwise never fetch a change made
/// without a serial increase, and `serial_policy = "bump"` asks for it in every view.
pub(crate) fn manager(config: &Config, view: usize, origin: &Name) -> Option<Managed> {
    if *config.transfer_acl(view, origin) != Default::default()
        || !config.views[view].notify.is_empty()
    {
        Some(Managed::Secondaries)
    } else if config.serial_policy == SerialPolicy::Bump {
        Some(Managed::Policy)
    } else {
        None
    }
}

/// Why a view's serial is managed (see [`manager`]); a notice names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Managed {
    /// The view has a transfer ACL or `notify` for the zone.
    Secondaries,
    /// `serial_policy = "bump"`.
    Policy,
}

/// The file in the state directory that keeps the served serials across restarts.
pub(crate) const STATE_FILE: &str = "serials";

/// Reads the served serials a previous run kept: `view zone serial fingerprint` per line. A
/// missing or unreadable file is an empty state (the first start).
pub(crate) fn read_state(dir: &Path) -> HashMap<(String, Name), Served> {
    let mut state = HashMap::new();
    let Ok(text) = std::fs::read_to_string(dir.join(STATE_FILE)) else {
        return state;
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [view, zone, serial, fingerprint] = fields[..] else {
            continue;
        };
        let (Ok(zone), Ok(serial), Ok(fingerprint)) = (
            Name::parse(zone, None),
            serial.parse::<u32>(),
            u64::from_str_radix(fingerprint, 16),
        ) else {
            continue;
        };
        state.insert(
            (view.to_string(), zone.to_lowercase()),
            Served {
                serial,
                fingerprint,
            },
        );
    }
    state
}

/// Writes the serials `snapshot` serves into the state directory (a new file renamed into
/// place, so a crash leaves the old state or the new, never half of one).
pub(crate) fn write_state(dir: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let mut text = String::from(
        "# splitdns: the serial each view's zone was served with, so that a restart never serves a lower one.\n# view zone serial fingerprint\n",
    );
    for view in &snapshot.views {
        for zone in &view.zones {
            text.push_str(&format!(
                "{} {} {} {:016x}\n",
                view.name, zone.origin, zone.serial, zone.fingerprint
            ));
        }
    }
    let path = dir.join(STATE_FILE);
    let temporary = dir.join(format!("{STATE_FILE}.new"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, &path)
}

/// Rewrites the serial of the apex SOA record(s) in `records`.
pub(crate) fn set_serial(records: &mut [ZoneRecord], origin: &Name, serial: u32) {
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
pub(crate) fn apex_serial(records: &[ZoneRecord], origin: &Name) -> Option<u32> {
    records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner.to_lowercase() == *origin)
        .and_then(|r| read_serial(&r.rdata))
}

/// A zone whose content changed on reload without a serial increase, in a view whose serial is
/// managed: it is served one past the previous serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialNotice {
    pub view: String,
    pub zone: Name,
    /// The serial served before the reload.
    pub previous: u32,
    /// The serial the files give now.
    pub file: u32,
    /// The serial served now.
    pub serial: u32,
    /// Why the serial was raised.
    pub why: Managed,
}

impl fmt::Display for SerialNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zone {} (view {}) changed ", self.zone, self.view)?;
        if self.file == self.previous {
            f.write_str("without a serial increase")?;
        } else {
            // The admin raised the file's serial, but not past what a bump served earlier: say
            // how far it must go, or the next raise by one changes nothing visible either.
            write!(
                f,
                "and its file's serial {} is not above the one served ({})",
                self.file, self.previous
            )?;
        }
        let why = match self.why {
            Managed::Secondaries => "the view has secondaries",
            Managed::Policy => "serial_policy = \"bump\"",
        };
        write!(
            f,
            ": serving serial {} ({why}); the file's serial is served again once it is above {}",
            self.serial, self.serial
        )
    }
}
