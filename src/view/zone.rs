//! One zone as a view serves it: the shared records, plus (for a view with an override file) an
//! overlay of merged nodes that replaces the shared node of the same name. Views that share most
//! records therefore share them in memory; the overlay only holds the names an override touches
//! and the empty non-terminals it creates. Every lookup is one or two hash probes by the
//! lowercased wire name, so no per-query work grows with the zone.

use indexmap::map::Entry;
use std::borrow::Cow;
use std::sync::Arc;

use crate::dns::name::{self, Name, NameKey};
use crate::dns::rdata::embedded_names;
use crate::dns::{rtype, soa};
use crate::located::{Located, SourceLoc};
use crate::view::health::{Checked, MAX_CHECKED_RECORDS};
use crate::zonefile::ZoneRecord;

/// One record's data and where it was written.
#[derive(Debug, Clone)]
pub struct Rdata {
    /// Uncompressed wire-format RDATA, names in their original case.
    pub wire: Box<[u8]>,
    pub loc: SourceLoc,
}

/// All records of one owner and type, immutable once built.
#[derive(Debug)]
pub struct RRset {
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Box<[Rdata]>,
    /// Set for an address RRset whose records are health-checked: which are answered is read
    /// from its cell at answer time.
    pub health: Option<Checked>,
}

impl RRset {
    /// The records a response with this `seed` carries, in order. A and AAAA sets of several
    /// records rotate (round robin: each address leads as often as the others over many
    /// queries), everything else keeps its order (SRV order matters to clients). The seed comes
    /// from the query (its ID, as Knot does), so rotating writes nothing shared. A
    /// health-checked set answers only the records its cell's mask keeps (none when every
    /// address is down and the admin chose no answer), rotated over those.
    pub fn answered(&self, seed: u16) -> Answered<'_> {
        let len = self.rdatas.len();
        let mask = match &self.health {
            Some(checked) if len <= MAX_CHECKED_RECORDS => {
                let every = u64::MAX >> (64 - len.max(1));
                match checked.mask() & every {
                    // Every record kept: the same path as an unchecked set.
                    all if all == every => u64::MAX,
                    some => some,
                }
            }
            _ => u64::MAX,
        };
        let count = if mask == u64::MAX {
            len
        } else {
            mask.count_ones() as usize
        };
        let start = if count > 1 && (self.rtype == rtype::A || self.rtype == rtype::AAAA) {
            seed as usize % count
        } else {
            0
        };
        // The index of the `start`-th kept record: where the rotation begins.
        let first = if mask == u64::MAX {
            start
        } else {
            (0..len)
                .filter(|i| mask >> i & 1 == 1)
                .nth(start)
                .unwrap_or(0)
        };
        Answered {
            rdatas: &self.rdatas,
            mask,
            next: first,
            remaining: count,
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
}

/// The records of an RRset that one response carries: see [`RRset::answered`].
#[derive(Debug, Clone)]
pub struct Answered<'a> {
    rdatas: &'a [Rdata],
    /// Bit i: record i is kept (all ones: every record, however many).
    mask: u64,
    next: usize,
    remaining: usize,
}

impl<'a> Iterator for Answered<'a> {
    type Item = &'a Rdata;

    fn next(&mut self) -> Option<&'a Rdata> {
        while self.remaining > 0 {
            let index = self.next;
            self.next = (index + 1) % self.rdatas.len();
            if self.mask == u64::MAX || self.mask >> index & 1 == 1 {
                self.remaining -= 1;
                return Some(&self.rdatas[index]);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Answered<'_> {}

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

/// Nodes by lowercased wire name, kept in the order the zone file wrote them. A node's records
/// sit behind several pointers (name, RRsets, each RRset, its records, each record's data), all
/// allocated as the file was read; walking the nodes in that order reads memory front to back,
/// where a hash table's own order jumps at random and waits for memory at every step. Walks are
/// what transfers, checks, IXFR differences and `diff` do: the 200,000-name benchmark zone's AXFR
/// took a third of the time, `check` a little over half. A lookup reads one more index, from a
/// table a quarter the size; CPU per query over 100,000 random names measured the same.
type Nodes = indexmap::IndexMap<Box<[u8]>, Node, foldhash::fast::RandomState>;

#[derive(Debug, Default, Clone)]
pub struct ZoneData {
    nodes: Nodes,
}

impl ZoneData {
    pub fn get(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key)
    }

    fn record_count(&self) -> usize {
        self.nodes.values().map(Node::record_count).sum()
    }
}

/// A zone as one view serves it. Cloning is cheap (the data is shared): a reload that cannot
/// load a zone's files keeps serving the previous copy in the new snapshot.
#[derive(Debug, Clone)]
pub struct ViewZone {
    /// Lowercased origin.
    pub origin: Name,
    shared: Arc<ZoneData>,
    overlay: Option<Arc<ZoneData>>,
    pub soa: Arc<RRset>,
    /// The serial served: the file's, or one splitdns raised above it (see `load::serial`).
    pub serial: u32,
    /// The serial the zone's files give (the view's override file's SOA, else the shared file's),
    /// for status reports; the loader fills it in where it raised `serial`.
    pub file_serial: u32,
    pub record_count: usize,
    /// Digest of the content: the loader compares it across reloads to notice changes.
    pub fingerprint: u64,
    /// The files this view's copy was read from (the shared file, then the view's override
    /// file), for status reports; the loader fills it in.
    pub files: Vec<std::path::PathBuf>,
    /// The changes that led to this version, for IXFR (empty unless the view is transferred).
    pub history: Arc<super::history::History>,
    /// Who may transfer this zone from this view, as the config decided it (the zone's own ACL
    /// for the view, or the view's): the answer stage only asks it.
    pub transfer: super::TransferAcl,
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

    /// Makes the `rtype` RRset at `key` (a lowercased wire name) health-checked in this view,
    /// answered with `ttl` when given. The view gets its own copy of the RRset (and of its node),
    /// so views that share the records are not affected. Returns the checked RRset, or `None`
    /// when this view has no such RRset at that name (a wildcard does not count).
    pub fn check_rrset(
        &mut self,
        key: &[u8],
        rtype: u16,
        ttl: Option<u32>,
        checked: Checked,
    ) -> Option<&RRset> {
        let node = self.node(key)?;
        let set = node.get(rtype)?;
        let copy = Arc::new(RRset {
            rtype,
            ttl: ttl.unwrap_or(set.ttl),
            rdatas: set.rdatas.clone(),
            health: Some(checked),
        });
        let rrsets: Vec<Arc<RRset>> = node
            .rrsets
            .iter()
            .map(|existing| {
                if existing.rtype == rtype {
                    copy.clone()
                } else {
                    existing.clone()
                }
            })
            .collect();
        // Copy on write: an overlay still shared with the previous snapshot is not changed.
        let overlay = self.overlay.get_or_insert_with(Arc::default);
        Arc::make_mut(overlay)
            .nodes
            .insert(key.into(), node_of(rrsets));
        self.node(key)?.get(rtype).map(|set| &**set)
    }

    /// Every record of this view's zone except the apex SOA, as `(owner key, RRset)`: what a
    /// transfer sends between the two SOAs.
    pub fn rrsets(&self) -> impl Iterator<Item = (&[u8], &RRset)> {
        let origin = self.origin.as_wire();
        self.nodes().flat_map(move |(key, node)| {
            node.rrsets
                .iter()
                .filter(move |set| !(set.rtype == rtype::SOA && key == origin))
                .map(move |set| (key, &**set))
        })
    }

    /// Every name of this view's zone with its node, overlay names replacing shared ones: the
    /// overlay's names first, then the shared ones, each in file order.
    pub fn nodes(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        self.nodes_where(|_, _| true)
    }

    /// The nodes of [`ViewZone::nodes`] that `wanted` accepts. It is asked before a shared node
    /// is looked up in the overlay, so a check that looks for a few names or records pays that
    /// hash lookup only for them (a 200,000-name zone is walked at every start and reload).
    pub fn nodes_where<'z>(
        &'z self,
        wanted: impl Fn(&[u8], &Node) -> bool + Copy + 'z,
    ) -> impl Iterator<Item = (&'z [u8], &'z Node)> + 'z {
        let overlay = self.overlay.as_ref();
        let shared = self
            .shared
            .nodes
            .iter()
            .filter(move |(key, node)| wanted(key, node))
            .filter(move |(key, _)| overlay.is_none_or(|o| o.get(key).is_none()));
        overlay
            .into_iter()
            .flat_map(|o| o.nodes.iter())
            .filter(move |(key, node)| wanted(key, node))
            .chain(shared)
            .map(|(key, node)| (&key[..], node))
    }
}

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
                    rrsets: rrsets.into_boxed_slice(),
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
            push_unless_duplicate(rtype, &mut rdatas, record.rdata, record.loc);
        }
        rrsets.push(Arc::new(RRset {
            rtype,
            ttl,
            rdatas: rdatas.into_boxed_slice(),
            health: None,
        }));
    }
    rrsets
}

fn push_unless_duplicate(rtype: u16, rdatas: &mut Vec<Rdata>, wire: Box<[u8]>, loc: SourceLoc) {
    let canonical = canonical_rdata(rtype, &wire);
    if !rdatas
        .iter()
        .any(|r| canonical_rdata(rtype, &r.wire) == canonical)
    {
        rdatas.push(Rdata { wire, loc });
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
                    push_unless_duplicate(set.rtype, &mut rdatas, rdata.wire, rdata.loc);
                }
                existing.rdatas = rdatas.into_boxed_slice();
            }
            None => rrsets.push(set),
        }
    }
    *node = node_of(rrsets);
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
fn add_empty_non_terminals(origin: &[u8], exists: impl Fn(&[u8]) -> bool, nodes: &mut Nodes) {
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
    let mut nodes = group_into_nodes(records);
    add_empty_non_terminals(origin.as_wire(), |_| false, &mut nodes);
    ZoneData { nodes }
}

/// Builds a view's overlay: each name the override file touches gets the shared node with the
/// override's RRsets replacing those of the same type. Where either side has a CNAME, which must
/// stand alone, the override replaces the shared name's data whole: a name can be an address in
/// one view and an alias in the other.
pub fn build_overlay(origin: &Name, shared: &ZoneData, records: Vec<ZoneRecord>) -> ZoneData {
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
) -> Result<ViewZone, Vec<Located>> {
    let mut errors = Vec::new();
    let zone_error = |message: String| Located::at(zone_loc, message);
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
        check_node(key, node, Some(view_name), &mut errors);
    }

    let soa = match soa {
        Some(soa) if errors.is_empty() => soa,
        _ => return Err(errors),
    };
    let serial = soa::read_serial(&soa.rdatas[0].wire).unwrap_or(0);
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
        overlay: overlay.map(Arc::new),
        soa,
        serial,
        file_serial: serial,
        record_count,
        fingerprint,
        files: Vec::new(),
        history: Arc::default(),
        transfer: super::TransferAcl::default(),
    })
}

/// Checks the node-local rules every view must obey: CNAME stands alone (RFC 1034 §3.6.2,
/// DNSSEC records excepted), and a name has at most one CNAME and one DNAME. A node merged for
/// one `view` (shared data, an override file, `[[exchange]]` records) may hold records of several
/// files, so each conflict names where both records were written, and the view.
fn check_node(key: &[u8], node: &Node, view: Option<&str>, errors: &mut Vec<Located>) {
    let in_view = view.map(|v| format!(" in view {v}")).unwrap_or_default();
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
                    "{} has more than one {} record{in_view} (the first at {})",
                    owner(),
                    rtype::mnemonic(set.rtype),
                    place(&set.rdatas[0].loc)
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
                    "{} has a CNAME ({}) and other data{in_view} ({} at {}): a CNAME must stand alone",
                    owner(),
                    place(&cname.rdatas[0].loc),
                    rtype::mnemonic(other.rtype),
                    place(&other.rdatas[0].loc)
                ),
            ));
        }
    }
}

/// `file:line` of a record.
fn place(loc: &SourceLoc) -> String {
    format!("{}:{}", loc.file.display(), loc.line)
}

/// Checks every shared node once (the per-view overlays are checked in [`assemble`]).
pub fn check_shared(shared: &ZoneData) -> Vec<Located> {
    let mut errors = Vec::new();
    for (key, node) in &shared.nodes {
        check_node(key, node, None, &mut errors);
    }
    errors
}

fn record_error(rdata: &Rdata, message: String) -> Located {
    Located::at(&rdata.loc, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn records(text: &str) -> Vec<ZoneRecord> {
        let origin = Name::parse("example.", None).unwrap();
        crate::zonefile::parse_zone_text(text, Path::new("test.zone"), &origin)
            .unwrap()
            .records
    }

    fn origin() -> Name {
        Name::parse("example.", None).unwrap()
    }

    fn node<'a>(zone: &'a ZoneData, name: &str) -> Option<&'a Node> {
        let name = Name::parse(name, None).unwrap();
        zone.get(NameKey::from_wire(name.as_wire()).unwrap().as_wire())
    }

    fn lines(set: &RRset) -> Vec<u32> {
        set.rdatas.iter().map(|r| r.loc.line).collect()
    }

    const SHARED: &str = "\
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

    /// A checked RRset answers the records its cell's mask keeps, rotated over those by the
    /// seed; with nothing kept it answers nothing; a cell that has not been published keeps all.
    #[test]
    fn checked_rrsets_answer_the_kept_records_in_rotation() {
        use crate::view::health::HealthBoard;
        let mut board = HealthBoard::default();
        let shared = build_shared(&origin(), records(SHARED));
        let mut zone = assemble(
            &origin(),
            Arc::new(shared),
            None,
            &SourceLoc {
                file: Arc::new("test.toml".into()),
                line: 1,
            },
            "internal",
            0,
        )
        .unwrap();
        let key = Name::parse("host.example.", None).unwrap();
        let checked = Checked::new();
        board.push(&checked);
        let set = zone
            .check_rrset(key.as_wire(), rtype::A, Some(30), checked)
            .unwrap();
        let firsts = |set: &RRset| -> Vec<Vec<u8>> {
            (0..4u16)
                .map(|seed| set.answered(seed).map(|r| r.wire[3]).collect())
                .collect()
        };
        assert_eq!(set.ttl, 30);
        assert_eq!(
            firsts(set),
            [vec![1, 2], vec![2, 1], vec![1, 2], vec![2, 1]]
        );
        board.publish(&[0b10]);
        let set = zone.node(key.as_wire()).unwrap().get(rtype::A).unwrap();
        assert_eq!(firsts(set), [vec![2], vec![2], vec![2], vec![2]]);
        board.publish(&[0]);
        assert_eq!(set.answered(7).len(), 0);
        // The shared data, which other views read, is not checked.
        assert!(
            zone.shared
                .get(key.as_wire())
                .unwrap()
                .get(rtype::A)
                .unwrap()
                .health
                .is_none()
        );
    }
}
