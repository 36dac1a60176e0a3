//! One zone as a view serves it: the shared records, plus (for a view with an override file) an
//! overlay of merged nodes that replaces the shared node of the same name. Views that share most
//! records therefore share them in memory; the overlay only holds the names an override touches
//! and the empty non-terminals it creates. Every lookup is one or two hash probes by the
//! lowercased wire name, so no per-query work grows with the zone.

use foldhash::{HashMap, HashMapExt};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::name::{self, Name};
use crate::wire::query::NameKey;
use crate::zone::rdata::embedded_names;
use crate::zone::{SourceLoc, ZoneFileError, ZoneRecord, rtype};

/// One record's data and where it was written.
#[derive(Debug)]
pub struct Rdata {
    /// Uncompressed wire-format RDATA, names in their original case.
    pub wire: Box<[u8]>,
    pub loc: SourceLoc,
}

/// All records of one owner and type. A/AAAA sets rotate: each response starts one further along
/// (BIND's "cyclic" order), so every address leads equally often.
#[derive(Debug)]
pub struct RRset {
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Box<[Rdata]>,
    rotation: AtomicU32,
}

impl RRset {
    /// Where the next response should start this RRset: advances the rotation for A and AAAA
    /// sets of several records, always 0 for everything else (SRV order matters to clients).
    pub fn next_rotation(&self) -> usize {
        let len = self.rdatas.len();
        if len > 1 && (self.rtype == rtype::A || self.rtype == rtype::AAAA) {
            self.rotation.fetch_add(1, Ordering::Relaxed) as usize % len
        } else {
            0
        }
    }

    /// Same TTL and the same records, in any order and whatever the case of embedded names.
    pub fn same_data(&self, other: &RRset) -> bool {
        fn canonical(set: &RRset) -> std::collections::BTreeSet<Cow<'_, [u8]>> {
            set.rdatas
                .iter()
                .map(|r| canonical_rdata(set.rtype, &r.wire))
                .collect()
        }
        self.rtype == other.rtype && self.ttl == other.ttl && canonical(self) == canonical(other)
    }

    /// Records in the order of a rotation started at `start`.
    pub fn rotated(&self, start: usize) -> impl Iterator<Item = &Rdata> {
        let (head, tail) = self.rdatas.split_at(start.min(self.rdatas.len()));
        tail.iter().chain(head.iter())
    }
}

/// The RRsets at one name; empty for an empty non-terminal (which exists: NODATA, not NXDOMAIN).
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub rrsets: Box<[Arc<RRset>]>,
}

impl Node {
    pub fn get(&self, rtype: u16) -> Option<&Arc<RRset>> {
        self.rrsets.iter().find(|set| set.rtype == rtype)
    }

    /// True for a delegation point (checked only below a zone's apex).
    pub fn is_cut(&self) -> bool {
        self.get(rtype::NS).is_some()
    }

    fn record_count(&self) -> usize {
        self.rrsets.iter().map(|set| set.rdatas.len()).sum()
    }
}

/// Nodes by lowercased wire name.
#[derive(Debug, Default)]
pub struct ZoneData {
    nodes: HashMap<Box<[u8]>, Node>,
}

impl ZoneData {
    pub fn get(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key)
    }

    fn record_count(&self) -> usize {
        self.nodes.values().map(Node::record_count).sum()
    }
}

/// A zone as one view serves it.
#[derive(Debug)]
pub struct ViewZone {
    /// Lowercased origin.
    pub origin: Name,
    shared: Arc<ZoneData>,
    overlay: Option<ZoneData>,
    pub soa: Arc<RRset>,
    pub serial: u32,
    pub record_count: usize,
    /// Digest of the content, for noticing changes across reloads (see [`super::serial`]).
    pub fingerprint: u64,
}

impl ViewZone {
    /// The node at a lowercased wire name, as this view sees it.
    pub fn node(&self, key: &[u8]) -> Option<&Node> {
        match &self.overlay {
            Some(overlay) => overlay.get(key).or_else(|| self.shared.get(key)),
            None => self.shared.get(key),
        }
    }

    /// The names this view's override (or generated records) changed: each merged node with the
    /// shared node it replaces, if any.
    pub fn overridden(&self) -> impl Iterator<Item = (&[u8], &Node, Option<&Node>)> {
        self.overlay
            .iter()
            .flat_map(|o| o.nodes.iter())
            .map(|(key, node)| (&key[..], node, self.shared.get(key)))
    }

    /// Every name of this view's zone with its node, overlay names replacing shared ones.
    pub fn nodes(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        let overlay = self.overlay.as_ref();
        let shared = self
            .shared
            .nodes
            .iter()
            .filter(move |(key, _)| overlay.is_none_or(|o| o.get(key).is_none()));
        overlay
            .into_iter()
            .flat_map(|o| o.nodes.iter())
            .chain(shared)
            .map(|(key, node)| (&key[..], node))
    }
}

/// Groups records into RRsets by lowercased owner, then type: duplicates (equal up to the case
/// of embedded names, RFC 4034 §6.2) are dropped and the set takes the first record's TTL. One
/// allocation per distinct owner (its key), none per record beyond its RDATA.
fn group_rrsets(records: Vec<ZoneRecord>) -> HashMap<Box<[u8]>, Vec<RRsetBuilder>> {
    let mut owners: HashMap<Box<[u8]>, Vec<RRsetBuilder>> = HashMap::with_capacity(records.len());
    for record in records {
        let key = NameKey::from_wire(record.owner.as_wire()).expect("owners are valid names");
        let sets = match owners.get_mut(key.as_wire()) {
            Some(sets) => sets,
            None => owners.entry(key.as_wire().into()).or_default(),
        };
        let rdata = Rdata {
            wire: record.rdata,
            loc: record.loc,
        };
        match sets.iter_mut().find(|set| set.rtype == record.rtype) {
            Some(set) => {
                let canonical = canonical_rdata(record.rtype, &rdata.wire);
                if !set
                    .rdatas
                    .iter()
                    .any(|r| canonical_rdata(set.rtype, &r.wire) == canonical)
                {
                    set.rdatas.push(rdata);
                }
            }
            None => sets.push(RRsetBuilder {
                rtype: record.rtype,
                ttl: record.ttl,
                rdatas: vec![rdata],
            }),
        }
    }
    owners
}

struct RRsetBuilder {
    rtype: u16,
    ttl: u32,
    rdatas: Vec<Rdata>,
}

impl RRsetBuilder {
    fn finish(self) -> Arc<RRset> {
        Arc::new(RRset {
            rtype: self.rtype,
            ttl: self.ttl,
            rdatas: self.rdatas.into_boxed_slice(),
            rotation: AtomicU32::new(0),
        })
    }
}

/// RDATA with embedded domain names lowercased, for comparing records (borrowed, without a copy,
/// for the many types that embed no name).
pub(crate) fn canonical_rdata(rtype: u16, wire: &[u8]) -> Cow<'_, [u8]> {
    let names = embedded_names(rtype, wire);
    if names.count == 0 {
        return Cow::Borrowed(wire);
    }
    let mut canonical = wire.to_vec();
    for &offset in &names.offsets[..names.count as usize] {
        let start = offset as usize;
        if let Some(len) = wire.get(start..).and_then(name::wire_name_len) {
            canonical[start..start + len].make_ascii_lowercase();
        }
    }
    Cow::Owned(canonical)
}

/// Adds an empty node for every ancestor (below `origin`) of the names in `nodes` that neither
/// `nodes` nor `exists` has, so that empty non-terminals answer NODATA rather than NXDOMAIN.
fn add_empty_non_terminals(
    origin: &[u8],
    exists: impl Fn(&[u8]) -> bool,
    nodes: &mut HashMap<Box<[u8]>, Node>,
) {
    let mut missing: Vec<Box<[u8]>> = Vec::new();
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

/// A node from its RRsets, kept sorted by type.
fn node_of(mut rrsets: Vec<Arc<RRset>>) -> Node {
    rrsets.sort_by_key(|set| set.rtype);
    Node {
        rrsets: rrsets.into_boxed_slice(),
    }
}

/// Builds the shared data of a zone from its records.
pub fn build_shared(origin: &Name, records: Vec<ZoneRecord>) -> ZoneData {
    let mut nodes: HashMap<Box<[u8]>, Node> = group_rrsets(records)
        .into_iter()
        .map(|(key, sets)| {
            (
                key,
                node_of(sets.into_iter().map(RRsetBuilder::finish).collect()),
            )
        })
        .collect();
    add_empty_non_terminals(origin.as_wire(), |_| false, &mut nodes);
    ZoneData { nodes }
}

/// Builds a view's overlay: each name the override file touches gets the shared node with the
/// override's RRsets replacing those of the same type.
pub fn build_overlay(origin: &Name, shared: &ZoneData, records: Vec<ZoneRecord>) -> ZoneData {
    let mut nodes: HashMap<Box<[u8]>, Node> = group_rrsets(records)
        .into_iter()
        .map(|(key, sets)| {
            let mut rrsets = shared
                .get(&key)
                .map(|node| node.rrsets.to_vec())
                .unwrap_or_default();
            for set in sets {
                rrsets.retain(|existing| existing.rtype != set.rtype);
                rrsets.push(set.finish());
            }
            (key, node_of(rrsets))
        })
        .collect();
    add_empty_non_terminals(origin.as_wire(), |k| shared.get(k).is_some(), &mut nodes);
    ZoneData { nodes }
}

/// Assembles and checks one view's zone. `zone_loc` names the config entry for errors about the
/// zone as a whole (no SOA, no NS).
pub fn assemble(
    origin: &Name,
    shared: Arc<ZoneData>,
    overlay: Option<ZoneData>,
    zone_loc: &SourceLoc,
    view_name: &str,
    fingerprint: u64,
) -> Result<ViewZone, Vec<ZoneFileError>> {
    let mut errors = Vec::new();
    let zone_error = |message: String| ZoneFileError {
        file: zone_loc.file.to_path_buf(),
        line: zone_loc.line,
        message,
    };
    let apex = match &overlay {
        Some(o) => o
            .get(origin.as_wire())
            .or_else(|| shared.get(origin.as_wire())),
        None => shared.get(origin.as_wire()),
    };
    let soa = apex.and_then(|node| node.get(rtype::SOA)).cloned();
    let soa = match soa {
        Some(soa) if soa.rdatas.len() == 1 => Some(soa),
        Some(soa) => {
            errors.push(record_error(
                &soa.rdatas[1],
                format!("zone {origin} has more than one SOA record"),
            ));
            None
        }
        None => {
            errors.push(zone_error(format!(
                "zone {origin} has no SOA record at its apex (view {view_name})"
            )));
            None
        }
    };
    if apex.and_then(|node| node.get(rtype::NS)).is_none() {
        errors.push(zone_error(format!(
            "zone {origin} has no NS records at its apex (view {view_name})"
        )));
    }

    // Shared nodes are checked by the caller once for all views; here only what the view adds.
    for (key, node) in overlay.iter().flat_map(|o| o.nodes.iter()) {
        check_node(key, node, &mut errors);
    }

    let soa = match soa {
        Some(soa) if errors.is_empty() => soa,
        _ => return Err(errors),
    };
    let serial = super::serial::read_serial(&soa.rdatas[0].wire).unwrap_or(0);
    let record_count = shared.record_count()
        + overlay.as_ref().map_or(0, |o| {
            o.nodes
                .iter()
                .map(|(key, node)| {
                    node.record_count() as isize
                        - shared.get(key).map_or(0, |n| n.record_count() as isize)
                })
                .sum::<isize>()
        }) as usize;
    Ok(ViewZone {
        origin: origin.clone(),
        shared,
        overlay,
        soa,
        serial,
        record_count,
        fingerprint,
    })
}

/// Checks the node-local rules every view must obey: CNAME stands alone (RFC 1034 §3.6.2,
/// DNSSEC records excepted), and a name has at most one CNAME and one DNAME.
pub fn check_node(key: &[u8], node: &Node, errors: &mut Vec<ZoneFileError>) {
    let owner = || {
        let mut text = String::new();
        let _ = name::fmt_wire_name(key, &mut text);
        text
    };
    for set in node.rrsets.iter() {
        if (set.rtype == rtype::CNAME || set.rtype == rtype::DNAME) && set.rdatas.len() > 1 {
            errors.push(record_error(
                &set.rdatas[1],
                format!(
                    "{} has more than one {} record",
                    owner(),
                    rtype::mnemonic(set.rtype)
                ),
            ));
        }
    }
    if let Some(cname) = node.get(rtype::CNAME) {
        let other = node
            .rrsets
            .iter()
            .find(|set| !matches!(set.rtype, rtype::CNAME | rtype::RRSIG | rtype::NSEC));
        if let Some(other) = other {
            errors.push(record_error(
                &other.rdatas[0],
                format!(
                    "{} has a CNAME (line {}) and other data ({}): a CNAME must stand alone",
                    owner(),
                    cname.rdatas[0].loc.line,
                    rtype::mnemonic(other.rtype)
                ),
            ));
        }
    }
}

/// Checks every shared node once (the per-view overlays are checked in [`assemble`]).
pub fn check_shared(shared: &ZoneData) -> Vec<ZoneFileError> {
    let mut errors = Vec::new();
    for (key, node) in &shared.nodes {
        check_node(key, node, &mut errors);
    }
    errors
}

fn record_error(rdata: &Rdata, message: String) -> ZoneFileError {
    ZoneFileError {
        file: rdata.loc.file.to_path_buf(),
        line: rdata.loc.line,
        message,
    }
}

/// The MINIMUM field of an SOA RDATA (the last 32 bits).
pub fn soa_minimum(wire: &[u8]) -> u32 {
    wire.len()
        .checked_sub(4)
        .and_then(|at| wire.get(at..))
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}
