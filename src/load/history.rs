//! IXFR history: at each load that replaces a served snapshot, the difference between a view's
//! zone as it was served and as it will be served is added to that zone's history (RFC 1995
//! needs the records removed and added between two serials). In memory only, bounded by
//! `ixfr_versions`; computed only for views that are transferred.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::dns::soa::is_newer;
use crate::view::history::{Change, Diff, History};
use crate::view::zone::{ViewZone, canonical_rdata};

/// The history to serve with `current`, given the zone served before. The same history when
/// nothing changed; a fresh one when the serial went back or stayed with different content
/// (the versions could not be told apart); otherwise the previous history plus this change,
/// keeping the newest `keep` differences.
pub fn next(previous: &ViewZone, current: &ViewZone, keep: usize) -> Arc<History> {
    if previous.serial == current.serial && previous.fingerprint == current.fingerprint {
        return previous.history.clone();
    }
    if keep == 0 || !is_newer(current.serial, previous.serial) {
        return Arc::default();
    }
    let (removed, added) = difference(previous, current);
    let soa = |zone: &ViewZone| Change {
        owner: zone.origin.as_wire().into(),
        rtype: crate::dns::rtype::SOA,
        ttl: zone.soa.ttl,
        rdata: zone.soa.rdatas[0].wire.clone(),
    };
    let mut diffs: Vec<Arc<Diff>> = previous.history.diffs.clone();
    diffs.push(Arc::new(Diff {
        from_serial: previous.serial,
        from_soa: soa(previous),
        to_soa: soa(current),
        removed,
        added,
    }));
    let excess = diffs.len().saturating_sub(keep);
    diffs.drain(..excess);
    Arc::new(History { diffs })
}

/// Records only `before` has, and records only `after` has (SOA left out). Records compare by
/// owner, type, TTL and RDATA with embedded names lowercased; a changed TTL is a removal and an
/// addition, as IXFR carries it.
fn difference(before: &ViewZone, after: &ViewZone) -> (Vec<Change>, Vec<Change>) {
    type Key<'z> = (&'z [u8], u16, u32, Cow<'z, [u8]>);
    fn records(zone: &ViewZone) -> HashMap<Key<'_>, &[u8]> {
        zone.rrsets()
            .flat_map(|(owner, set)| {
                set.rdatas.iter().map(move |rdata| {
                    let canonical = canonical_rdata(set.rtype, &rdata.wire);
                    ((owner, set.rtype, set.ttl, canonical), &rdata.wire[..])
                })
            })
            .collect()
    }
    let old = records(before);
    let new = records(after);
    let only = |a: &HashMap<Key, &[u8]>, b: &HashMap<Key, &[u8]>| -> Vec<Change> {
        let mut changes: Vec<Change> = a
            .iter()
            .filter(|(key, _)| !b.contains_key(*key))
            .map(|((owner, rtype, ttl, _), rdata)| Change {
                owner: (*owner).into(),
                rtype: *rtype,
                ttl: *ttl,
                rdata: (*rdata).into(),
            })
            .collect();
        // A stable order: the same change is sent the same way every time.
        changes.sort_by(|x, y| (&x.owner, x.rtype, &x.rdata).cmp(&(&y.owner, y.rtype, &y.rdata)));
        changes
    };
    (only(&old, &new), only(&new, &old))
}
