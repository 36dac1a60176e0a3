//! IXFR history: at each load that replaces a served snapshot, the difference between a view's
//! zone as it was served and as it will be served is added to that zone's history (RFC 1995
//! needs the records removed and added between two serials). In memory only, bounded by
//! `ixfr_versions`; computed only for views that are transferred.

use std::sync::Arc;

use crate::dns::rtype;
use crate::dns::soa::is_newer;
use crate::view::history::{Diff, History, Record, Records};
use crate::view::zone::{Node, RRset, ViewZone, canonical_rdata};

/// The history to serve with `current`, given the zone served before. The same history when
/// nothing changed; a fresh one when the serial went back or stayed with different content
/// (the versions could not be told apart); otherwise the previous history plus this change,
/// keeping the newest `keep` differences.
pub(crate) fn next(previous: &ViewZone, current: &ViewZone, keep: usize) -> Arc<History> {
    if previous.serial == current.serial && previous.fingerprint == current.fingerprint {
        return previous.history.clone();
    }
    if keep == 0 || !is_newer(current.serial, previous.serial) {
        return Arc::default();
    }
    let (removed, added) = difference(previous, current);
    let soa = |zone: &ViewZone| {
        Records::pack([(
            zone.origin.as_wire(),
            rtype::SOA,
            zone.soa.ttl,
            &zone.soa.rdatas[0].wire[..],
        )])
    };
    let mut diffs: Vec<Arc<Diff>> = previous.history.diffs.clone();
    diffs.push(Arc::new(Diff {
        from_serial: previous.serial,
        from_soa: soa(previous),
        to_soa: soa(current),
        removed: Records::pack(removed),
        added: Records::pack(added),
    }));
    let excess = diffs.len().saturating_sub(keep);
    diffs.drain(..excess);
    Arc::new(History { diffs })
}

/// Records only `before` has, and records only `after` has (SOA left out). Records compare by
/// owner, type, TTL and RDATA with embedded names lowercased; a changed TTL is a removal and an
/// addition, as IXFR carries it. Walked name by name, RRset by RRset: only what differs is
/// borrowed, so a reload of a large zone with a small change builds nothing zone-sized; when
/// both read the same shared data, only the names their overlays hold are compared.
fn difference<'z>(before: &'z ViewZone, after: &'z ViewZone) -> (Vec<Record<'z>>, Vec<Record<'z>>) {
    let mut removed = Vec::new();
    let mut added = Vec::new();
    if before.is_signed() || after.is_signed() {
        signed_difference(before, after, &mut removed, &mut added);
        return sorted(removed, added);
    }
    if let Some(names) = after.names_differing_from(before) {
        for owner in names {
            node_difference(before, after, owner, &mut removed, &mut added);
        }
        return sorted(removed, added);
    }
    for (owner, _) in after.nodes() {
        node_difference(before, after, owner, &mut removed, &mut added);
    }
    for (owner, node) in before.nodes() {
        if after.node(owner).is_none() {
            for set in transferred(before, owner, node) {
                removed.extend(changes(owner, set, |_| true));
            }
        }
    }
    sorted(removed, added)
}

/// The records at `owner` that only `before` has, and those only `after` has.
fn node_difference<'z>(
    before: &'z ViewZone,
    after: &'z ViewZone,
    owner: &'z [u8],
    removed: &mut Vec<Record<'z>>,
    added: &mut Vec<Record<'z>>,
) {
    let old = before.node(owner);
    let new = after.node(owner);
    for set in new
        .into_iter()
        .flat_map(|node| transferred(after, owner, node))
    {
        match old.and_then(|old| old.get(set.rtype)) {
            Some(old_set) => rrset_difference(owner, old_set, set, removed, added),
            None => added.extend(changes(owner, set, |_| true)),
        }
    }
    for old_set in old
        .into_iter()
        .flat_map(|old| transferred(before, owner, old))
    {
        if new.is_none_or(|node| node.get(old_set.rtype).is_none()) {
            removed.extend(changes(owner, old_set, |_| true));
        }
    }
}

/// A stable order: the same change is sent the same way every time.
fn sorted<'z>(
    mut removed: Vec<Record<'z>>,
    mut added: Vec<Record<'z>>,
) -> (Vec<Record<'z>>, Vec<Record<'z>>) {
    for list in [&mut removed, &mut added] {
        list.sort_by(|x, y| (x.0, x.1, x.3).cmp(&(y.0, y.1, y.3)));
    }
    (removed, added)
}

/// [`difference`] where either side is signed: node by node over every record a transfer
/// carries (signatures and NSEC records included), skipping the nodes whose RRsets and NSEC are
/// the very same in both (most of them, when a reload kept the signatures).
fn signed_difference<'z>(
    before: &'z ViewZone,
    after: &'z ViewZone,
    removed: &mut Vec<Record<'z>>,
    added: &mut Vec<Record<'z>>,
) {
    let same_node = |a: &Node, b: &Node| {
        a.rrsets.len() == b.rrsets.len()
            && a.rrsets
                .iter()
                .zip(b.rrsets.iter())
                .all(|(x, y)| std::sync::Arc::ptr_eq(x, y))
            && match (&a.nsec, &b.nsec) {
                (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
                (None, None) => true,
                _ => false,
            }
    };
    let key = |r: &Record<'_>| (r.1, r.2, canonical_rdata(r.1, r.3).into_owned());
    for (owner, node) in after.transfer_nodes() {
        let old = before.transfer_node(owner);
        if before.is_signed() == after.is_signed() && old.is_some_and(|old| same_node(old, node)) {
            continue;
        }
        let new: Vec<Record<'z>> = after.node_records(owner, node).collect();
        let old: Vec<Record<'z>> = old
            .map(|old| before.node_records(owner, old).collect())
            .unwrap_or_default();
        let new_keys: std::collections::HashSet<_> = new.iter().map(key).collect();
        let old_keys: std::collections::HashSet<_> = old.iter().map(key).collect();
        removed.extend(old.into_iter().filter(|r| !new_keys.contains(&key(r))));
        added.extend(new.into_iter().filter(|r| !old_keys.contains(&key(r))));
    }
    for (owner, node) in before.transfer_nodes() {
        if after.transfer_node(owner).is_none() {
            removed.extend(before.node_records(owner, node));
        }
    }
}

/// A node's RRsets as a transfer carries them between its SOAs: all but the apex SOA.
fn transferred<'z>(
    zone: &ViewZone,
    owner: &[u8],
    node: &'z Node,
) -> impl Iterator<Item = &'z RRset> {
    let apex = owner == zone.origin.as_wire();
    node.rrsets
        .iter()
        .map(|set| &**set)
        .filter(move |set| !(apex && set.rtype == rtype::SOA))
}

/// The records of one RRset that `old` and `new` do not share (all of both when the TTL changed).
fn rrset_difference<'z>(
    owner: &'z [u8],
    old: &'z RRset,
    new: &'z RRset,
    removed: &mut Vec<Record<'z>>,
    added: &mut Vec<Record<'z>>,
) {
    if old.ttl != new.ttl {
        removed.extend(changes(owner, old, |_| true));
        added.extend(changes(owner, new, |_| true));
        return;
    }
    let holds = |set: &RRset, wire: &[u8]| {
        let wanted = canonical_rdata(set.rtype, wire);
        set.rdatas
            .iter()
            .any(|rdata| canonical_rdata(set.rtype, &rdata.wire) == wanted)
    };
    removed.extend(changes(owner, old, move |wire| !holds(new, wire)));
    added.extend(changes(owner, new, move |wire| !holds(old, wire)));
}

/// The records of `set` whose RDATA `wanted` accepts.
fn changes<'s>(
    owner: &'s [u8],
    set: &'s RRset,
    wanted: impl Fn(&[u8]) -> bool + 's,
) -> impl Iterator<Item = Record<'s>> + 's {
    set.rdatas
        .iter()
        .filter(move |rdata| wanted(&rdata.wire))
        .map(move |rdata| (owner, set.rtype, set.ttl, &rdata.wire[..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::name::Name;
    use crate::located::SourceLoc;
    use crate::view::zone::{assemble, build_overlay, build_shared};
    use crate::zonefile::{ZoneRecord, parse_zone_text};
    use std::path::Path;

    fn records(text: &str) -> Vec<ZoneRecord> {
        let origin = Name::parse("example.", None).unwrap();
        parse_zone_text(text, Path::new("test.zone"), &origin)
            .unwrap()
            .records
    }

    /// A view's copy: the shared data with `overlay` (whose content `fingerprint` stands for).
    fn copy(
        shared: &Arc<crate::view::zone::ZoneData>,
        overlay: &str,
        fingerprint: u64,
    ) -> ViewZone {
        let origin = Name::parse("example.", None).unwrap();
        let overlay = build_overlay(&origin, shared, records(overlay));
        let loc = SourceLoc {
            file: Arc::new("test.toml".into()),
            line: 1,
        };
        assemble(
            &origin,
            shared.clone(),
            Some(overlay),
            &loc,
            "internal",
            fingerprint,
        )
        .unwrap()
    }

    /// Two versions of a view's copy that read the same shared data differ only where their
    /// overlays do: a name only the old overlay had falls back to the shared records, a name only
    /// the new one has is added, and a changed override is a removal and an addition.
    #[test]
    fn versions_on_the_same_shared_data_differ_where_their_overlays_do() {
        let shared = Arc::new(build_shared(
            &Name::parse("example.", None).unwrap(),
            records(
                "$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\nmail A 192.0.2.25\nold A 192.0.2.1\n",
            ),
        ));
        let before = copy(
            &shared,
            "$TTL 300\n@ SOA ns hm 1 2 3 4 5\nold A 10.0.0.1\n",
            1,
        );
        let after = copy(
            &shared,
            "$TTL 300\n@ SOA ns hm 2 2 3 4 5\nmail A 10.0.0.25\nnew A 10.0.0.2\nnew AAAA fd00::2\n",
            2,
        );
        assert!(after.names_differing_from(&before).is_some());
        let history = next(&before, &after, 5);
        let diff = &history.diffs[0];
        let text = |records: &crate::view::history::Records| {
            let mut lines: Vec<String> = records
                .iter()
                .map(|(owner, rtype, _, rdata)| {
                    format!(
                        "{} {} {rdata:?}",
                        crate::dns::name::Name::from_wire(owner).unwrap(),
                        rtype
                    )
                })
                .collect();
            lines.sort();
            lines
        };
        assert_eq!(
            text(&diff.removed),
            [
                "mail.example. 1 [192, 0, 2, 25]",
                "old.example. 1 [10, 0, 0, 1]"
            ]
        );
        assert_eq!(
            text(&diff.added),
            [
                "mail.example. 1 [10, 0, 0, 25]",
                "new.example. 1 [10, 0, 0, 2]",
                "new.example. 28 [253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]",
                "old.example. 1 [192, 0, 2, 1]"
            ]
        );
    }
}
