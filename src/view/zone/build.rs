//! Building a zone's node store from its records: the shared data every view reads
//! ([`build_shared`]) and one view's overlay of merged nodes ([`build_overlay`]). Records are
//! grouped by owner and type, duplicates dropped, and the empty non-terminals added so that they
//! answer NODATA rather than NXDOMAIN.

use indexmap::map::Entry;
use std::sync::Arc;

use crate::dns::name::{self, Name, NameKey};
use crate::dns::rtype;
use crate::zonefile::ZoneRecord;

use super::node::{Key, Node, Nodes, RRset, Rdata, ZoneData, canonical_rdata, node_of, tight};

/// Groups records into nodes of RRsets by lowercased owner, then type: duplicates (equal up to
/// the case of embedded names, RFC 4034 §6.2) are dropped and a set takes its first record's
/// TTL. Zone files list an owner's records together, so records are taken in runs of one owner:
/// one key and one hash probe per run, straight into the final table (sized once, never rebuilt).
/// An owner that appears again later is merged into its node.
fn group_into_nodes(records: Vec<ZoneRecord>) -> Nodes {
    let runs = 1 + records
        .windows(2)
        .filter(|pair| !same_owner(&pair[0], &pair[1]))
        .count();
    let mut nodes = Nodes::with_capacity_and_hasher(runs, Default::default());
    let mut records = records.into_iter().peekable();
    let mut run: Vec<ZoneRecord> = Vec::new();
    while let Some(first) = records.next() {
        run.push(first);
        while let Some(next) = records.next_if(|r| same_owner(&run[0], r)) {
            run.push(next);
        }
        let key = NameKey::from_wire(run[0].owner.as_wire()).expect("owners are valid names");
        let rrsets = rrsets_of_run(&mut run);
        match nodes.entry(key.as_wire().into()) {
            Entry::Vacant(slot) => {
                slot.insert(Node {
                    rrsets: tight(rrsets),
                    nsec: None,
                });
            }
            Entry::Occupied(mut slot) => merge_rrsets(slot.get_mut(), rrsets),
        }
    }
    nodes
}

fn same_owner(a: &ZoneRecord, b: &ZoneRecord) -> bool {
    // Length octets are below 64, so they never compare equal to a different letter's case.
    a.owner.as_wire().eq_ignore_ascii_case(b.owner.as_wire())
}

/// The RRsets of one run of records with the same owner (drained), sorted by type.
fn rrsets_of_run(run: &mut Vec<ZoneRecord>) -> Vec<Arc<RRset>> {
    // Stable: records of one type keep their file order.
    run.sort_by_key(|record| record.rtype);
    let types = 1 + run.windows(2).filter(|p| p[0].rtype != p[1].rtype).count();
    let mut rrsets = Vec::with_capacity(types);
    let mut records = run.drain(..).peekable();
    while let Some(first) = records.next() {
        let (rtype, ttl) = (first.rtype, first.ttl);
        let mut rdatas: Vec<Rdata> = Vec::with_capacity(1);
        rdatas.push(Rdata {
            wire: first.rdata,
            loc: first.loc,
        });
        while let Some(record) = records.next_if(|r| r.rtype == rtype) {
            push_unless_duplicate(
                rtype,
                &mut rdatas,
                Rdata {
                    wire: record.rdata,
                    loc: record.loc,
                },
            );
        }
        rrsets.push(Arc::new(RRset {
            rtype,
            ttl,
            rdatas: rdatas.into(),
            health: None,
            sigs: None,
        }));
    }
    rrsets
}

fn push_unless_duplicate(rtype: u16, rdatas: &mut Vec<Rdata>, rdata: Rdata) {
    let canonical = canonical_rdata(rtype, &rdata.wire);
    if !rdatas
        .iter()
        .any(|r| canonical_rdata(rtype, &r.wire) == canonical)
    {
        rdatas.push(rdata);
    }
}

/// Adds a later run's RRsets to a node built from an earlier run of the same owner.
fn merge_rrsets(node: &mut Node, later: Vec<Arc<RRset>>) {
    let mut rrsets = std::mem::take(&mut node.rrsets).into_vec();
    for set in later {
        match rrsets
            .iter_mut()
            .find(|existing| existing.rtype == set.rtype)
        {
            Some(existing) => {
                let existing =
                    Arc::get_mut(existing).expect("RRsets are not shared while a zone is built");
                let set =
                    Arc::into_inner(set).expect("RRsets are not shared while a zone is built");
                let mut rdatas = std::mem::take(&mut existing.rdatas).into_vec();
                for rdata in set.rdatas {
                    push_unless_duplicate(set.rtype, &mut rdatas, rdata);
                }
                existing.rdatas = rdatas.into();
            }
            None => rrsets.push(set),
        }
    }
    *node = node_of(rrsets);
}

/// Adds an empty node for every ancestor (below `origin`) of the names in `nodes` that neither
/// `nodes` nor `exists` has, so that empty non-terminals answer NODATA rather than NXDOMAIN.
fn add_empty_non_terminals(origin: &[u8], exists: impl Fn(&[u8]) -> bool, nodes: &mut Nodes) {
    let mut missing: Vec<Key> = Vec::new();
    for key in nodes.keys() {
        for offset in name::suffix_offsets(key).skip(1) {
            let ancestor = &key[offset..];
            if ancestor.len() < origin.len() {
                break;
            }
            if !exists(ancestor) && !nodes.contains_key(ancestor) {
                missing.push(ancestor.into());
            }
        }
    }
    for key in missing {
        nodes.entry(key).or_default();
    }
}

/// Builds the shared data of a zone from its records.
pub fn build_shared(origin: &Name, records: Vec<ZoneRecord>) -> ZoneData {
    let mut nodes = group_into_nodes(records);
    add_empty_non_terminals(origin.as_wire(), |_| false, &mut nodes);
    ZoneData {
        nodes,
        ..ZoneData::default()
    }
}

/// Builds a view's overlay: each name the override file touches gets the shared node with the
/// override's RRsets replacing those of the same type. Where either side has a CNAME, which must
/// stand alone, the override replaces the shared name's data whole: a name can be an address in
/// one view and an alias in the other.
pub(crate) fn build_overlay(
    origin: &Name,
    shared: &ZoneData,
    records: Vec<ZoneRecord>,
) -> ZoneData {
    let mut nodes = group_into_nodes(records);
    for (key, node) in nodes.iter_mut() {
        let Some(shared_node) = shared.get(key) else {
            continue;
        };
        if node.get(rtype::CNAME).is_none() && shared_node.get(rtype::CNAME).is_none() {
            let mut rrsets = shared_node.rrsets.to_vec();
            let overrides = std::mem::take(&mut node.rrsets);
            rrsets.retain(|existing| overrides.iter().all(|set| set.rtype != existing.rtype));
            rrsets.extend(overrides);
            *node = node_of(rrsets);
        }
    }
    add_empty_non_terminals(origin.as_wire(), |k| shared.get(k).is_some(), &mut nodes);
    ZoneData {
        nodes,
        ..ZoneData::default()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::path::Path;

    pub(in crate::view::zone) fn records(text: &str) -> Vec<ZoneRecord> {
        let origin = Name::parse("example.", None).unwrap();
        crate::zonefile::parse_zone_text(text, Path::new("test.zone"), &origin)
            .unwrap()
            .records
    }

    pub(in crate::view::zone) fn origin() -> Name {
        Name::parse("example.", None).unwrap()
    }

    fn node<'a>(zone: &'a ZoneData, name: &str) -> Option<&'a Node> {
        let name = Name::parse(name, None).unwrap();
        zone.get(NameKey::from_wire(name.as_wire()).unwrap().as_wire())
    }

    fn lines(set: &RRset) -> Vec<u32> {
        set.rdatas.iter().map(|r| r.loc.line).collect()
    }

    pub(in crate::view::zone) const SHARED: &str = "\
$TTL 300
@        SOA ns hostmaster 1 3600 600 86400 300
@        NS  ns
Host     A   192.0.2.1
ns       A   192.0.2.53
host 60  A   192.0.2.2
HOST     A   192.0.2.1
mx       MX  10 Mail.example.
mx       MX  10 mail.EXAMPLE.
a.b      TXT \"deep\"
host     AAAA 2001:db8::1
";

    /// An owner written in several places and cases is one node; its A set keeps file order and
    /// the first record's TTL, and drops the repeated address; names inside RDATA compare
    /// without case, so the second MX is a duplicate.
    #[test]
    fn owners_in_separate_runs_merge_and_duplicates_drop() {
        let zone = build_shared(&origin(), records(SHARED));
        let host = node(&zone, "host.example.").expect("host exists");
        let types: Vec<u16> = host.rrsets.iter().map(|s| s.rtype).collect();
        assert_eq!(types, [rtype::A, rtype::AAAA], "sorted by type");
        let a = host.get(rtype::A).unwrap();
        assert_eq!(a.ttl, 300);
        assert_eq!(
            lines(a),
            [4, 6],
            "192.0.2.1 (line 4) then 192.0.2.2 (line 6)"
        );
        assert_eq!(&*a.rdatas[1].wire, &[192, 0, 2, 2]);
        let mx = node(&zone, "mx.example.").unwrap().get(rtype::MX).unwrap();
        assert_eq!(lines(mx), [8]);
    }

    /// `b.example` owns nothing but has a descendant: it exists, empty (NODATA, not NXDOMAIN).
    #[test]
    fn empty_non_terminals_exist() {
        let zone = build_shared(&origin(), records(SHARED));
        assert!(node(&zone, "b.example.").unwrap().rrsets.is_empty());
        assert!(
            node(&zone, "a.b.example.")
                .unwrap()
                .get(rtype::TXT)
                .is_some()
        );
        assert!(node(&zone, "c.example.").is_none());
    }

    /// An override replaces whole RRsets of its types and inherits the rest of the node; a name
    /// it adds gets its empty non-terminals in the overlay only.
    #[test]
    fn overlay_replaces_rrsets_by_type() {
        let shared = build_shared(&origin(), records(SHARED));
        let overlay = build_overlay(
            &origin(),
            &shared,
            records("host 30 A 10.0.0.1\nx.y A 10.0.0.2\n"),
        );
        let host = node(&overlay, "host.example.").unwrap();
        let a = host.get(rtype::A).unwrap();
        assert_eq!(
            (a.ttl, &*a.rdatas[0].wire, a.rdatas.len()),
            (30, &[10u8, 0, 0, 1][..], 1)
        );
        let aaaa = host.get(rtype::AAAA).unwrap();
        assert!(Arc::ptr_eq(
            aaaa,
            node(&shared, "host.example.")
                .unwrap()
                .get(rtype::AAAA)
                .unwrap()
        ));
        assert!(node(&overlay, "y.example.").unwrap().rrsets.is_empty());
        assert!(node(&shared, "y.example.").is_none());
    }
}
