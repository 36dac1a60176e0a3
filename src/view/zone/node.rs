//! The node store a zone's data lives in: records ([`Rdata`]) grouped into RRsets ([`RRset`])
//! grouped into nodes ([`Node`]), in a table keyed by lowercased wire name ([`ZoneData`]). An
//! RRset also decides which of its records one response carries ([`RRset::answered`]): rotation
//! and health checks are read here, at answer time, without writing anything.
//!
//! Most names of a large zone hold one RRset of one short record (a host's A or AAAA), so the
//! store keeps the first of each inline ([`Wire`], [`Rdatas`], [`RRsets`]): a record's RDATA of
//! up to 16 bytes sits in its [`Rdata`], a one-record set's record in its [`RRset`], a node's
//! first RRset pointer in its [`Node`], and a name of up to 32 bytes in the table's slot ([`Key`]).
//! That saves four allocations per such record, about 95 bytes with malloc's overhead, and the
//! parser's RDATA is inline too, so building leaves no 32-byte holes in the heap that nothing
//! reuses: the 1,000,000-record zone in two views went from 305 to 198 MiB resident. Larger data
//! spills to the heap as before. Readers see slices (one more branch per access, inline or not:
//! about 1% more instructions per query).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use smallvec::SmallVec;

use crate::dns::name;
use crate::dns::rdata::embedded_names;
pub(crate) use crate::dns::rdata::{Wire, tight};
use crate::dns::rtype;
use crate::dnssec::{SigIter, Sigs};
use crate::located::SourceLoc;
use crate::view::health::{Checked, MAX_CHECKED_RECORDS};

/// An RRset's records: one inline (most RRsets of a large zone hold one), several on the heap.
/// 40 bytes, a record's size: the boxed slice of `Many` sits beside the niche of `One`'s file
/// pointer, where a `SmallVec`'s length word made 48, and an [`RRset`] with its signatures' box
/// 80 bytes, one malloc size class up (112 bytes a set rather than 96).
#[derive(Debug, Clone)]
pub enum Rdatas {
    One(Rdata),
    Many(Box<[Rdata]>),
}

impl Rdatas {
    pub(super) fn into_vec(self) -> Vec<Rdata> {
        match self {
            Rdatas::One(rdata) => vec![rdata],
            Rdatas::Many(rdatas) => rdatas.into_vec(),
        }
    }
}

/// None (only while a set's records are taken out to be merged).
impl Default for Rdatas {
    fn default() -> Rdatas {
        Rdatas::Many(Box::default())
    }
}

/// One record inline; several in a boxed slice without spare capacity.
impl From<Vec<Rdata>> for Rdatas {
    fn from(mut rdatas: Vec<Rdata>) -> Rdatas {
        match rdatas.pop() {
            Some(rdata) if rdatas.is_empty() => Rdatas::One(rdata),
            Some(rdata) => {
                rdatas.push(rdata);
                Rdatas::Many(rdatas.into_boxed_slice())
            }
            None => Rdatas::default(),
        }
    }
}

impl FromIterator<Rdata> for Rdatas {
    fn from_iter<I: IntoIterator<Item = Rdata>>(rdatas: I) -> Rdatas {
        Rdatas::from(rdatas.into_iter().collect::<Vec<_>>())
    }
}

impl IntoIterator for Rdatas {
    type Item = Rdata;
    type IntoIter = std::vec::IntoIter<Rdata>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl std::ops::Deref for Rdatas {
    type Target = [Rdata];

    #[inline]
    fn deref(&self) -> &[Rdata] {
        match self {
            Rdatas::One(rdata) => std::slice::from_ref(rdata),
            Rdatas::Many(rdatas) => rdatas,
        }
    }
}

impl std::ops::DerefMut for Rdatas {
    fn deref_mut(&mut self) -> &mut [Rdata] {
        match self {
            Rdatas::One(rdata) => std::slice::from_mut(rdata),
            Rdatas::Many(rdatas) => rdatas,
        }
    }
}

/// A node's RRsets: the first pointer inline (most names of a large zone own one type).
pub(super) type RRsets = SmallVec<[Arc<RRset>; 1]>;

/// One record's data and where it was written.
#[derive(Debug, Clone)]
pub struct Rdata {
    /// Uncompressed wire-format RDATA, names in their original case.
    pub wire: Wire,
    pub loc: SourceLoc,
}

impl Rdata {
    /// A record from its RDATA: inline when short (the heap buffer is given back), otherwise
    /// `wire`'s own buffer, trimmed to its length.
    pub fn new(wire: Vec<u8>, loc: SourceLoc) -> Rdata {
        Rdata {
            wire: tight(wire),
            loc,
        }
    }
}

/// All records of one owner and type, immutable once built.
#[derive(Debug)]
pub struct RRset {
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Rdatas,
    /// Set for an address RRset whose records are health-checked: which are answered is read
    /// from its cell at answer time.
    pub health: Option<Checked>,
    /// Its RRSIGs, in a signed zone (kept across reloads while they stay good).
    pub sigs: Option<Signatures>,
}

/// The RRSIG RDATAs over an RRset: one per signing key over all its records, and for a
/// health-checked set one set over each subset its checks can leave, so that what is answered is
/// exactly what is signed. Packed in one allocation (a signed zone has one per RRset and per
/// NSEC record): the whole set's [`Sigs`], then for a health-checked set of n records those over
/// each subset mask from 1 to 2^n - 2 in mask order (mask 0 answers no record, and the mask of
/// all is the whole set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures(Box<[u8]>);

impl Signatures {
    /// Over the whole set only (a set that is not health-checked).
    pub(crate) fn whole(sigs: Sigs) -> Signatures {
        Signatures(sigs.into_bytes())
    }

    /// Over the whole set, then over each subset in mask order from 1.
    pub(crate) fn with_subsets<'a>(
        whole: &Sigs,
        subsets: impl IntoIterator<Item = &'a Sigs>,
    ) -> Signatures {
        let mut packed = whole.as_bytes().to_vec();
        for subset in subsets {
            packed.extend_from_slice(subset.as_bytes());
        }
        Signatures(packed.into_boxed_slice())
    }

    /// The signatures over every record of the set.
    pub fn full(&self) -> SigIter<'_> {
        SigIter::over(&self.0)
    }

    /// Each packed set of signatures: the whole set's, then the subsets' in mask order from 1.
    pub(crate) fn groups(&self) -> impl Iterator<Item = SigIter<'_>> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let group = SigIter::over(rest);
            rest = &rest[SigIter::packed_len(rest)..];
            Some(group)
        })
    }

    /// The signatures over the records `mask` keeps (none for none; a mask of every record is
    /// read as [`Signatures::full`] by the caller). Health-checked sets only: a walk over at most
    /// 2^8 short headers.
    fn subset(&self, mask: u64) -> SigIter<'_> {
        match usize::try_from(mask) {
            Ok(0) | Err(_) => SigIter::default(),
            Ok(index) => self.groups().nth(index).unwrap_or_default(),
        }
    }
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
        let start = if self.rotates(count) {
            rotation_start(seed, count)
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

    /// Whether `count` answered records of this set rotate: A and AAAA sets of several.
    pub fn rotates(&self, count: usize) -> bool {
        count > 1 && (self.rtype == rtype::A || self.rtype == rtype::AAAA)
    }

    /// The signatures over the records `answered` carries (none in an unsigned zone).
    pub fn signatures(&self, answered: &Answered<'_>) -> SigIter<'_> {
        match &self.sigs {
            None => SigIter::default(),
            Some(sigs) if answered.mask == u64::MAX => sigs.full(),
            Some(sigs) => sigs.subset(answered.mask),
        }
    }

    /// A copy of this set with `sigs` in place of its signatures.
    pub fn with_sigs(&self, sigs: Option<Signatures>) -> RRset {
        RRset {
            rtype: self.rtype,
            ttl: self.ttl,
            rdatas: self.rdatas.clone(),
            health: self.health.clone(),
            sigs,
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

/// Which of `count` rotating records a response to a query with this `seed` (its ID) leads with.
pub(crate) fn rotation_start(seed: u16, count: usize) -> usize {
    seed as usize % count
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

impl Answered<'_> {
    /// The index of the record that comes first.
    pub fn first(&self) -> usize {
        self.next
    }
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
    pub rrsets: RRsets,
    /// The name's NSEC record (with its signature), where a signed view's chain passes through
    /// it. Kept beside the RRsets rather than among them: a view that does not sign reads the
    /// same node and must not see it.
    pub nsec: Option<Arc<RRset>>,
}

impl Node {
    pub fn get(&self, rtype: u16) -> Option<&Arc<RRset>> {
        self.rrsets.iter().find(|set| set.rtype == rtype)
    }

    /// True for a delegation point (checked only below a zone's apex).
    pub fn is_cut(&self) -> bool {
        self.get(rtype::NS).is_some()
    }

    pub(super) fn record_count(&self) -> usize {
        self.rrsets.iter().map(|set| set.rdatas.len()).sum()
    }
}

/// Nodes by lowercased wire name, kept in the order the zone file wrote them. A node's records
/// sit behind pointers (each RRset; a long name, further RRsets and records, long RDATA), all
/// allocated as the file was read; walking the nodes in that order reads memory front to back,
/// where a hash table's own order jumps at random and waits for memory at every step. Walks are
/// what transfers, checks, IXFR differences and `diff` do: the 200,000-name benchmark zone's AXFR
/// took a third of the time, `check` a little over half. A lookup reads one more index, from a
/// table a quarter the size; CPU per query over 100,000 random names measured the same.
pub(super) type Nodes = indexmap::IndexMap<Key, Node, foldhash::fast::RandomState>;

/// A node's lowercased wire name, the table's key: up to 32 bytes inline (`host1234.example.com`
/// is 22), longer on the heap. 40 bytes in the table's slot against a boxed slice's 16 plus an
/// allocation of 32 to 48 bytes: about 24 bytes less per name, and a lookup compares the name in
/// the slot it already reads rather than behind one more pointer.
pub(super) type Key = SmallVec<[u8; 32]>;

#[derive(Debug, Default, Clone)]
pub struct ZoneData {
    pub(super) nodes: Nodes,
    /// The nodes with an NSEC record (indexes into `nodes`) in canonical order (RFC 4034 §6.1):
    /// where the record covering a name that does not exist is found. Empty unless signed.
    pub(super) chain: Box<[u32]>,
    /// Each chain name's [`crate::dnssec::canonical::key_prefix`] below the origin (whose
    /// `chain_skip` labels every name shares): a search over the chain reads this array and
    /// walks to a node's name only among equal prefixes.
    pub(super) chain_prefixes: Box<[u64]>,
    pub(super) chain_skip: u8,
    /// The fingerprint of the records the shared data was built from (0: not known), kept by
    /// its signed copy: a load whose shared data has the same may take the previous signed copy
    /// as it is.
    pub(crate) content: u64,
    /// When the first signature in it expires (signed data only).
    pub(crate) earliest: Option<u32>,
    /// What walks over every node found, remembered with the data, which never changes: a load
    /// that takes it unchanged from the previous one does not walk it again.
    pub(super) walked: Walked,
}

/// A kind of node that the loader looks for in every zone at every load (TLSA records,
/// Autodiscover SRV owners, non-public addresses): a walk over every name of the zone, for a
/// handful of nodes. The nodes each kind picks are remembered in the data's slot for it.
#[derive(Clone, Copy)]
pub(crate) struct Pick {
    /// The slot of [`Walked::picks`] for this kind: one per kind, fixed where the kinds are
    /// defined.
    pub slot: usize,
    /// Whether a node is of this kind, from its name and itself alone.
    pub wanted: fn(&[u8], &Node) -> bool,
}

/// How many kinds of [`Pick`] there are at most.
pub(crate) const PICK_SLOTS: usize = 4;

/// The results of walks over a [`ZoneData`], each made once.
#[derive(Debug, Default)]
pub(super) struct Walked {
    /// Per [`Pick`] slot, the indexes of the nodes it picked.
    picks: [OnceLock<Box<[u32]>>; PICK_SLOTS],
    records: OnceLock<usize>,
}

/// A copy starts with nothing walked: it is made to be changed (copy on write).
impl Clone for Walked {
    fn clone(&self) -> Walked {
        Walked::default()
    }
}

impl Walked {
    /// What was walked, for a table of the same names in the same order holding the same records.
    pub(super) fn same_names(&self) -> Walked {
        Walked {
            picks: self.picks.clone(),
            records: self.records.clone(),
        }
    }
}

impl ZoneData {
    // Every lookup of a query comes here: inlined into `ViewZone::node`, as when they shared a
    // file.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key)
    }

    pub(super) fn record_count(&self) -> usize {
        *self
            .walked
            .records
            .get_or_init(|| self.nodes.values().map(Node::record_count).sum())
    }

    /// The nodes `pick` wants, in file order: found by one walk, the first time it is asked.
    pub(super) fn picked(&self, pick: Pick) -> impl Iterator<Item = (&[u8], &Node)> {
        let indexes = self.walked.picks[pick.slot].get_or_init(|| {
            self.nodes
                .iter()
                .enumerate()
                .filter(|(_, (key, node))| (pick.wanted)(key, node))
                .map(|(index, _)| u32::try_from(index).expect("fewer than 2^32 names"))
                .collect()
        });
        indexes.iter().filter_map(|&index| {
            let (key, node) = self.nodes.get_index(index as usize)?;
            Some((&key[..], node))
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

/// A node from its RRsets, kept sorted by type.
pub(super) fn node_of(mut rrsets: Vec<Arc<RRset>>) -> Node {
    rrsets.sort_by_key(|set| set.rtype);
    Node {
        rrsets: tight(rrsets),
        nsec: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes the inline storage is chosen for (64-bit): a record with short RDATA needs no
    /// allocation of its own, a one-record RRset holds it in its own allocation (with its
    /// signatures' box, 72 bytes: 88 with the `Arc`'s counts, malloc's 96-byte class), and a
    /// one-RRset node adds 8 bytes to its table slot instead of an allocation.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn inline_storage_stays_small() {
        assert_eq!(size_of::<Wire>(), 24);
        assert_eq!(size_of::<Rdata>(), 40);
        assert_eq!(size_of::<Rdatas>(), 40);
        assert_eq!(size_of::<RRset>(), 72);
        assert_eq!(size_of::<Node>(), 32);
        assert_eq!(size_of::<Key>(), 40);
    }

    /// Short data goes inline and gives its buffer back; longer data keeps no spare capacity.
    #[test]
    fn tight_inlines_what_fits() {
        let short: Wire = tight(vec![192, 0, 2, 1]);
        assert!(!short.spilled());
        let mut long = Vec::with_capacity(64);
        long.extend_from_slice(&[7u8; 20]);
        let long: Wire = tight(long);
        assert!(long.spilled());
        assert_eq!((long.len(), long.capacity()), (20, 20));
        let record = Rdata::new(
            vec![1, 2, 3, 4],
            SourceLoc {
                file: Arc::new("z".into()),
                line: 1,
            },
        );
        let one = Rdatas::from(vec![record.clone()]);
        assert!(matches!(one, Rdatas::One(_)));
        let two = Rdatas::from(vec![record.clone(), record]);
        assert!(matches!(&two, Rdatas::Many(records) if records.len() == 2));
    }
}
