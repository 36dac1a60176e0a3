//! Signing a zone's data for the views that serve it signed: every authoritative RRset gets its
//! RRSIGs, every authoritative name its NSEC, and the apex the key sets. The shared data is
//! signed once, for all views ([`ZoneData::signed`]); a view with an overlay then signs only what
//! its overlay changes — its own nodes, and the NSEC records of the shared names whose neighbour
//! in its chain differs ([`ViewZone::sign_overlay`]). Signatures already made, on the data itself
//! or on equal data in the previous snapshot, are kept while the signer says they are good, so a
//! reload signs what changed and a signature refresh signs what is due.
//!
//! What is in the NSEC chain (RFC 4035 §2.3): every name that has data and is not below a zone
//! cut or a DNAME; a cut is in it (its NS is not signed, its DS is), glue and empty non-terminals
//! are not.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::dns::name::{is_subdomain, suffix_offsets};
use crate::dns::{bitmap, rtype};
use crate::dnssec::rrsig::{self, Unsigned};
use crate::dnssec::{Signer, Sigs, canonical};
use crate::view::health::MAX_CHECKED_RECORDS;

use super::ViewZone;
use super::node::{Key, Node, Nodes, RRset, Signatures, Walked, ZoneData};

/// Health-checked RRsets of at most this many records are signed in every subset (2^n - 1
/// signatures); a larger one in a signed zone is refused by the checks.
pub(crate) const MAX_SIGNED_CHECKED_RECORDS: usize = 8;
const _: () = assert!(MAX_SIGNED_CHECKED_RECORDS <= MAX_CHECKED_RECORDS);

/// The shared data signed in one load, with the signatures each took: views that share data
/// share its signed copy.
#[derive(Default)]
pub(crate) struct SignedShared {
    copies: Vec<SignedCopy>,
    /// Signatures made so far in this load (each once, however many views read it).
    made: usize,
}

/// One shared data's signed copy in a load.
struct SignedCopy {
    unsigned: Arc<ZoneData>,
    signed: Arc<ZoneData>,
    /// The signatures its signing made.
    made: usize,
}

impl SignedShared {
    /// The signatures made so far in this load: the shared data's and the overlays'.
    pub(crate) fn made(&self) -> usize {
        self.made
    }

    fn find(&self, original: &Arc<ZoneData>) -> Option<(Arc<ZoneData>, usize)> {
        self.copies
            .iter()
            .find(|copy| Arc::ptr_eq(&copy.unsigned, original))
            .map(|copy| (copy.signed.clone(), copy.made))
    }

    /// The shared data signed in this load, each with its signed copy.
    pub(crate) fn copies(&self) -> impl Iterator<Item = (&Arc<ZoneData>, &Arc<ZoneData>)> {
        self.copies
            .iter()
            .map(|copy| (&copy.unsigned, &copy.signed))
    }
}

/// Unsigned shared data kept by a snapshot for a zone it serves signed, as its signed copy and
/// the nodes where the two differ by more than NSEC records: the apex (the signed copy's has the
/// signer's key sets) and names whose records from the files the signer leaves out. A reload
/// whose files are unchanged starts from the unsigned data; kept so, it costs that handful of
/// nodes rather than a second node table, and a second RRset per signed one, beside the signed
/// copy. [`KeptUnsigned::unsigned`] makes the table again (a copy of the signed copy's, its hash
/// index copied, not rebuilt) once per load that reads it. Its RRsets are the signed copy's,
/// signatures and all: the next signing keeps them while they are good, and whatever reads the
/// data unsigned writes none (a view that does not sign, a transfer from one).
#[derive(Debug)]
pub(crate) struct KeptUnsigned {
    signed: Arc<ZoneData>,
    /// Each differing node as the unsigned data has it (with the signed copy's sets where the
    /// records are the same), by name.
    differing: Box<[(Key, Node)]>,
    /// What walks over the unsigned data found, when its names are in the signed copy's order.
    walked: Walked,
}

impl KeptUnsigned {
    /// `unsigned` (the shared data of the zone at `origin`) kept beside `signed`, its signed
    /// copy; `None` when their names differ.
    pub(crate) fn new(
        unsigned: &ZoneData,
        signed: &Arc<ZoneData>,
        origin: &[u8],
    ) -> Option<KeptUnsigned> {
        if unsigned.nodes.len() != signed.nodes.len() {
            return None;
        }
        let mut differing = Vec::new();
        let mut same_order = true;
        for (index, (key, node)) in unsigned.nodes.iter().enumerate() {
            // Signed from this data, the copy has its names at the same indexes.
            let (at, theirs) = match signed.nodes.get_index(index) {
                Some((name, theirs)) if **name == **key => (index, theirs),
                _ => {
                    let (at, _, theirs) = signed.nodes.get_full(&key[..])?;
                    (at, theirs)
                }
            };
            same_order &= at == index;
            let rrsets: super::node::RRsets = if **key == *origin {
                node.rrsets.clone()
            } else {
                (node.rrsets.iter())
                    .map(|set| {
                        let same = theirs.get(set.rtype).filter(|s| same_bytes(s, set));
                        same.unwrap_or(set).clone()
                    })
                    .collect()
            };
            let same = rrsets.len() == theirs.rrsets.len()
                && (rrsets.iter().zip(theirs.rrsets.iter())).all(|(a, b)| Arc::ptr_eq(a, b));
            if !same {
                differing.push((key.clone(), Node { rrsets, nsec: None }));
            }
        }
        Some(KeptUnsigned {
            signed: signed.clone(),
            differing: differing.into_boxed_slice(),
            walked: if same_order {
                unsigned.walked.same_names()
            } else {
                Walked::default()
            },
        })
    }

    /// Whether this is kept beside `signed`.
    pub(crate) fn beside(&self, signed: &Arc<ZoneData>) -> bool {
        Arc::ptr_eq(&self.signed, signed)
    }

    /// The unsigned data again, for a load that reads it: a copy of the signed copy's table
    /// (its hash index copied; made anew with every name hashed again it took no less), each
    /// node's NSEC record dropped. For the 200,000-name benchmark zone this takes 36-49 ms of
    /// every reload that reads the build (new memory for the table, and a reference count
    /// changed on each RRset and NSEC record).
    pub(crate) fn unsigned(&self) -> ZoneData {
        let mut nodes = self.signed.nodes.clone();
        for node in nodes.values_mut() {
            node.nsec = None;
        }
        for (key, node) in &self.differing {
            if let Some(slot) = nodes.get_mut(&key[..]) {
                *slot = node.clone();
            }
        }
        ZoneData {
            nodes,
            content: self.signed.content,
            walked: self.walked.same_names(),
            ..ZoneData::default()
        }
    }
}

/// What a signing pass needs besides the data: the signer, the apex's key sets (DNSKEY, CDS,
/// CDNSKEY, unsigned: they replace any of those types the files have), and the NSEC TTL.
pub(crate) struct Signing<'a> {
    pub origin: &'a [u8],
    pub signer: &'a Signer,
    pub apex_sets: &'a [Arc<RRset>],
    pub nsec_ttl: u32,
    /// Denial by NSEC3: no NSEC records; each view gets its chain from [`ViewZone::chain_nsec3`].
    pub nsec3: bool,
    /// What the signatures of this pass depend on besides the data (the keys and what they do,
    /// the apex sets, the denial and its TTL), as one number: equal in two passes, the same
    /// data signs the same.
    pub identity: u64,
}

/// One RRset to sign, by where its result goes.
pub(super) struct Job<'d> {
    pub owner: &'d [u8],
    pub set: &'d RRset,
    /// For a health-checked set, the subset (mask) this signature covers; `None`: the whole set.
    pub subset: Option<u64>,
}

/// Signs the jobs on every core; results in job order, each for its plan to take once.
pub(super) fn sign_all(signer: &Signer, jobs: &[Job<'_>]) -> Vec<Option<Sigs>> {
    let sign = |job: &Job<'_>| -> Option<Sigs> {
        let rdatas: Vec<&[u8]> = match job.subset {
            None => job.set.rdatas.iter().map(|r| &r.wire[..]).collect(),
            Some(mask) => (job.set.rdatas.iter().enumerate())
                .filter(|(i, _)| mask >> i & 1 == 1)
                .map(|(_, r)| &r.wire[..])
                .collect(),
        };
        Some(signer.sign(Unsigned {
            owner: job.owner,
            rtype: job.set.rtype,
            ttl: job.set.ttl,
            rdatas: &rdatas,
        }))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if jobs.len() < 64 || threads == 1 {
        return jobs.iter().map(sign).collect();
    }
    let chunk = jobs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(sign).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("signing does not panic"))
            .collect()
    })
}

/// Whether a node is where a zone cut is (NS below the apex).
fn is_cut(key: &[u8], origin: &[u8], node: &Node) -> bool {
    key.len() != origin.len() && node.is_cut()
}

/// Whether `key` is below a cut or a DNAME, as `node_at` sees the zone.
pub(super) fn occluded<'n>(
    key: &[u8],
    origin: &[u8],
    node_at: impl Fn(&[u8]) -> Option<&'n Node>,
) -> bool {
    suffix_offsets(key)
        .skip(1)
        .map(|offset| &key[offset..])
        .take_while(|ancestor| ancestor.len() > origin.len())
        .any(|ancestor| {
            node_at(ancestor).is_some_and(|n| n.is_cut() || n.get(rtype::DNAME).is_some())
        })
}

/// The types the signer makes at any name: any a zone file of a signed zone has are left out of
/// what is served (a zone signed elsewhere loads as the unsigned data it is; `check` says so).
/// The apex's own (DNSKEY, CDS, CDNSKEY, NSEC3PARAM) are replaced by [`Signing::apex_sets`].
pub(crate) const MADE_BY_SIGNER: [u16; 3] = [rtype::RRSIG, rtype::NSEC, rtype::NSEC3];

/// The types an RRset of which is signed at a name: at a cut only DS (the NS set and glue
/// belong to the child), elsewhere all.
pub(super) fn signed_here(cut: bool, set: &RRset) -> bool {
    !cut || set.rtype == rtype::DS
}

/// The NSEC RDATA for a name with `node`'s types whose successor in the chain is `next`.
fn nsec_rdata(next: &[u8], node: &Node, cut: bool) -> Vec<u8> {
    let mut types: Vec<u16> = node
        .rrsets
        .iter()
        .map(|set| set.rtype)
        .filter(|&t| !cut || t == rtype::NS || t == rtype::DS)
        .filter(|t| !MADE_BY_SIGNER.contains(t))
        .collect();
    types.extend([rtype::RRSIG, rtype::NSEC]);
    let mut rdata = next.to_vec();
    bitmap::encode(&mut types, &mut rdata);
    rdata
}

/// The node at `key` in `data`, looked for first at index `hint`: where it is when `data` was
/// built from the same files (the previous snapshot's copy, in file order), so that a walk over
/// the zone reads both tables front to back rather than probing a hash table per name.
fn node_near<'d>(data: &'d ZoneData, key: &[u8], hint: Option<usize>) -> Option<&'d Node> {
    match hint.and_then(|at| data.nodes.get_index(at)) {
        Some((name, node)) if **name == *key => Some(node),
        _ => data.get(key),
    }
}

/// Good signatures found for an RRset.
enum Good {
    /// Its own.
    Own,
    /// An earlier copy's set, the same records written at the same places (not health-checked):
    /// served in its place, signatures and all, rather than a copy of it with its signatures
    /// copied (a zone file read again after an edit elsewhere in it).
    Same(Arc<RRset>),
    /// A copy of those over the same data elsewhere.
    Copied(Signatures),
}

/// Signatures to keep on `set` at `key`, if any are good: its own, else those of the same data
/// in `earlier` (a previous snapshot's copy, or the signed shared data; `hint` as for
/// [`node_near`]).
fn kept_sigs(
    signer: &Signer,
    set: &RRset,
    key: &[u8],
    hint: Option<usize>,
    earlier: &[Option<&ZoneData>],
) -> Option<Good> {
    // A health-checked set has the whole set's signatures and those of each subset but none and
    // all: 2^n - 1 in all.
    let groups = 1usize
        .checked_shl(set.rdatas.len() as u32)
        .map_or(0, |all| all - 1);
    let good = |sigs: &Signatures, from: &RRset| {
        signer.still_good(set.rtype, sigs.full())
            && (set.health.is_none() || from.health.is_some())
            && (set.health.is_none()
                || sigs.groups().count() == groups
                    && sigs
                        .groups()
                        .skip(1)
                        .all(|subset| signer.still_good(set.rtype, subset)))
    };
    if set.sigs.as_ref().is_some_and(|sigs| good(sigs, set)) {
        return Some(Good::Own);
    }
    earlier.iter().flatten().find_map(|data| {
        let other = node_near(data, key, hint)?.get(set.rtype)?;
        let sigs = other.sigs.as_ref()?;
        if !(same_data(other, set) && good(sigs, other)) {
            return None;
        }
        // A health-checked set answers from its own load's cell: never an earlier one.
        let same_places = same_bytes(other, set)
            && other.health.is_none()
            && set.health.is_none()
            && (other.rdatas.iter().zip(set.rdatas.iter())).all(|(a, b)| a.loc == b.loc);
        Some(if same_places {
            Good::Same(other.clone())
        } else {
            Good::Copied(sigs.clone())
        })
    })
}

/// [`RRset::same_data`], first tried by the records' bytes in order ([`same_bytes`]).
fn same_data(a: &RRset, b: &RRset) -> bool {
    same_bytes(a, b) || a.same_data(b)
}

/// The same type, TTL and records, byte for byte in the same order: a zone file read again gives
/// them so, and the comparison allocates nothing (at every reload it is made for each RRset of
/// the zone).
fn same_bytes(a: &RRset, b: &RRset) -> bool {
    a.rtype == b.rtype
        && a.ttl == b.ttl
        && a.rdatas.len() == b.rdatas.len()
        && a.rdatas
            .iter()
            .zip(&b.rdatas[..])
            .all(|(x, y)| x.wire == y.wire)
}

/// The NSEC to keep for `key` if an earlier copy has the same record with good signatures
/// (`hint` as for [`node_near`]).
fn kept_nsec(
    signer: &Signer,
    key: &[u8],
    hint: Option<usize>,
    rdata: &[u8],
    earlier: &[Option<&ZoneData>],
) -> Option<Arc<RRset>> {
    earlier.iter().flatten().find_map(|data| {
        let nsec = node_near(data, key, hint)?.nsec.as_ref()?;
        let good = nsec.rdatas[0].wire[..] == *rdata
            && nsec
                .sigs
                .as_ref()
                .is_some_and(|s| signer.still_good(rtype::NSEC, s.full()));
        good.then(|| nsec.clone())
    })
}

/// An NSEC RRset (unsigned yet).
fn nsec_set(rdata: Vec<u8>, ttl: u32, loc: &crate::located::SourceLoc) -> RRset {
    unsigned_set(rtype::NSEC, rdata, ttl, loc)
}

/// A one-record RRset the signer made (NSEC, NSEC3), unsigned yet.
pub(super) fn unsigned_set(
    rtype: u16,
    rdata: Vec<u8>,
    ttl: u32,
    loc: &crate::located::SourceLoc,
) -> RRset {
    RRset {
        rtype,
        ttl,
        rdatas: super::node::Rdatas::One(super::Rdata::new(rdata, loc.clone())),
        health: None,
        sigs: None,
    }
}

/// The plan for one node: its RRsets (each kept as it is, given kept signatures, or waiting for
/// jobs) and its NSEC.
struct NodePlan {
    rrsets: Vec<SetPlan>,
    nsec: Option<SetPlan>,
}

enum SetPlan {
    /// Served as it is (signed already, or not signed here).
    Keep(Arc<RRset>),
    /// The set with these signatures.
    Kept(Arc<RRset>, Signatures),
    /// Signed by jobs: the whole set at `first`, and for a checked set its `subsets` after it.
    Sign {
        set: Arc<RRset>,
        first: usize,
        subsets: usize,
    },
}

impl SetPlan {
    fn plan<'d>(
        signer: &Signer,
        key: &'d [u8],
        hint: Option<usize>,
        set: &'d Arc<RRset>,
        earlier: &[Option<&ZoneData>],
        jobs: &mut Vec<Job<'d>>,
    ) -> SetPlan {
        match kept_sigs(signer, set, key, hint, earlier) {
            Some(Good::Own) => return SetPlan::Keep(set.clone()),
            Some(Good::Same(earlier)) => return SetPlan::Keep(earlier),
            Some(Good::Copied(sigs)) => return SetPlan::Kept(set.clone(), sigs),
            None => {}
        }
        let first = jobs.len();
        jobs.push(Job {
            owner: key,
            set,
            subset: None,
        });
        let mut subsets = 0;
        if set.health.is_some() && set.rdatas.len() <= MAX_SIGNED_CHECKED_RECORDS {
            let all = (1u64 << set.rdatas.len()) - 1;
            for mask in 1..all {
                jobs.push(Job {
                    owner: key,
                    set,
                    subset: Some(mask),
                });
                subsets += 1;
            }
        }
        SetPlan::Sign {
            set: set.clone(),
            first,
            subsets,
        }
    }

    fn finish(self, signed: &mut [Option<Sigs>]) -> Arc<RRset> {
        match self {
            SetPlan::Keep(set) => set,
            SetPlan::Kept(set, sigs) => Arc::new(set.with_sigs(Some(sigs))),
            SetPlan::Sign {
                set,
                first,
                subsets,
            } => {
                let full = signed[first].take().expect("each job is taken once");
                let sigs = if set.health.is_some() {
                    let subsets: Vec<Sigs> = signed[first + 1..first + 1 + subsets]
                        .iter_mut()
                        .map(|sigs| sigs.take().expect("each job is taken once"))
                        .collect();
                    Signatures::with_subsets(&full, &subsets)
                } else {
                    Signatures::whole(full)
                };
                Arc::new(set.with_sigs(Some(sigs)))
            }
        }
    }
}

/// Plans a node's RRsets: the apex's key sets replace those of the files, the sets signed at this
/// kind of name get signatures.
fn plan_rrsets<'d>(
    signing: &Signing<'_>,
    key: &'d [u8],
    hint: Option<usize>,
    node: &'d Node,
    earlier: &[Option<&ZoneData>],
    jobs: &mut Vec<Job<'d>>,
) -> Vec<SetPlan> {
    let cut = is_cut(key, signing.origin, node);
    node.rrsets
        .iter()
        .filter(|set| !MADE_BY_SIGNER.contains(&set.rtype))
        .map(|set| {
            if signed_here(cut, set) {
                SetPlan::plan(signing.signer, key, hint, set, earlier, jobs)
            } else {
                SetPlan::Keep(unsigned(set))
            }
        })
        .collect()
}

/// `set` without signatures (itself, when it has none).
fn unsigned(set: &Arc<RRset>) -> Arc<RRset> {
    match set.sigs {
        None => set.clone(),
        Some(_) => Arc::new(set.with_sigs(None)),
    }
}

/// `node` with the apex's key sets in place of any the files had.
fn with_apex_sets(node: &Node, apex_sets: &[Arc<RRset>]) -> Node {
    let mut rrsets: Vec<Arc<RRset>> = node
        .rrsets
        .iter()
        .filter(|set| {
            !matches!(
                set.rtype,
                rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY | rtype::NSEC3PARAM
            )
        })
        .cloned()
        .collect();
    rrsets.extend(apex_sets.iter().cloned());
    super::node::node_of(rrsets).with_nsec(node.nsec.clone())
}

impl Node {
    fn with_nsec(mut self, nsec: Option<Arc<RRset>>) -> Node {
        self.nsec = nsec;
        self
    }
}

/// When the first signature among `nodes` expires.
pub(super) fn earliest_in<'n>(nodes: impl Iterator<Item = &'n Node>) -> Option<u32> {
    nodes
        .flat_map(|node| node.rrsets.iter().chain(node.nsec.as_ref()))
        .filter_map(|set| set.sigs.as_ref())
        .flat_map(|sigs| sigs.groups().flatten())
        .map(rrsig::expiration)
        .min()
}

/// The [`canonical::key_prefix`] of each chain name, in chain order.
fn chain_prefixes(nodes: &Nodes, chain: &[u32], skip: usize) -> Box<[u64]> {
    chain
        .iter()
        .map(|&index| {
            let (name, _) = nodes
                .get_index(index as usize)
                .expect("chain indexes are nodes");
            canonical::key_prefix(name, skip)
        })
        .collect()
}

/// Sorts node indexes into canonical order of their names: by each name's sort key, made once
/// into one buffer ([`canonical::push_sort_key`]), so that each of the n·log n comparisons is a
/// memcmp within it rather than a walk over two names' labels behind the node table's entries
/// (for the 200,000-name benchmark zone, 3.6 million comparisons at every load).
fn sort_canonical(nodes: &Nodes, indexes: &mut [u32]) {
    let mut keys: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(indexes.len());
    for &index in indexes.iter() {
        let (name, _) = nodes
            .get_index(index as usize)
            .expect("an index of this table");
        canonical::push_sort_key(name, &mut keys);
        ends.push(keys.len());
    }
    let key = |position: u32| {
        let position = position as usize;
        let start = if position == 0 { 0 } else { ends[position - 1] };
        &keys[start..ends[position]]
    };
    let mut order: Vec<u32> = (0..indexes.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    let sorted: Vec<u32> = order
        .iter()
        .map(|&position| indexes[position as usize])
        .collect();
    indexes.copy_from_slice(&sorted);
}

impl ZoneData {
    /// This data signed as the zone it is on its own (the shared data every view reads): the
    /// apex's key sets added, each authoritative RRset signed and each chain name given its
    /// NSEC. `previous` is an earlier signed copy whose good signatures are kept.
    /// Returns it with the number of signatures made.
    pub(crate) fn signed(
        &self,
        signing: &Signing<'_>,
        previous: Option<&ZoneData>,
    ) -> (ZoneData, usize) {
        let origin = signing.origin;
        let apex = self
            .get(origin)
            .map(|node| with_apex_sets(node, signing.apex_sets));
        let node_at = |key: &[u8]| -> Option<&Node> {
            if key == origin {
                apex.as_ref()
            } else {
                self.get(key)
            }
        };
        let mut chain: Vec<u32> = (self.nodes.iter().enumerate())
            .filter(|(_, (key, node))| {
                let node = if &key[..] == origin {
                    apex.as_ref().unwrap_or(node)
                } else {
                    node
                };
                !node.rrsets.is_empty() && !occluded(key, origin, node_at)
            })
            .map(|(index, _)| index as u32)
            .collect();
        sort_canonical(&self.nodes, &mut chain);
        // The chain's names are planned in the table's (file) order, each NSEC's next name from
        // its successor in the chain: the walk then reads this table, and the previous copy
        // looked up at the same index, front to back.
        let mut next_of: Vec<u32> = vec![u32::MAX; self.nodes.len()];
        for (position, &index) in chain.iter().enumerate() {
            next_of[index as usize] = chain[(position + 1) % chain.len()];
        }
        let mut walk = chain.clone();
        walk.sort_unstable();
        let earlier = [previous];
        let mut jobs: Vec<Job<'_>> = Vec::new();
        let mut plans: Vec<Option<NodePlan>> = (0..self.nodes.len()).map(|_| None).collect();
        let mut nsec_sets: Vec<Arc<RRset>> = Vec::new();
        for &index in &walk {
            if signing.nsec3 {
                plans[index as usize] = Some(NodePlan {
                    rrsets: Vec::new(),
                    nsec: None,
                });
                continue;
            }
            let (key, node) = self
                .nodes
                .get_index(index as usize)
                .expect("chain indexes are nodes");
            let node = if **key == *origin {
                apex.as_ref().expect("the apex is in the chain")
            } else {
                node
            };
            let (next, _) = self
                .nodes
                .get_index(next_of[index as usize] as usize)
                .expect("chain indexes are nodes");
            let cut = is_cut(key, origin, node);
            let rdata = nsec_rdata(next, node, cut);
            let hint = Some(index as usize);
            let nsec = match kept_nsec(signing.signer, key, hint, &rdata, &earlier) {
                Some(nsec) => SetPlan::Keep(nsec),
                None => {
                    let loc = &node.rrsets[0].rdatas[0].loc;
                    nsec_sets.push(Arc::new(nsec_set(rdata, signing.nsec_ttl, loc)));
                    SetPlan::Sign {
                        set: nsec_sets.last().expect("just pushed").clone(),
                        first: usize::MAX,
                        subsets: 0,
                    }
                }
            };
            plans[index as usize] = Some(NodePlan {
                rrsets: Vec::new(),
                nsec: Some(nsec),
            });
        }
        // The RRsets' jobs, then the NSECs' (their sets live in `nsec_sets`, which must not move
        // while jobs borrow them).
        for &index in &walk {
            let (key, node) = self
                .nodes
                .get_index(index as usize)
                .expect("chain indexes are nodes");
            let node = if **key == *origin {
                apex.as_ref().expect("the apex is in the chain")
            } else {
                node
            };
            let rrsets = plan_rrsets(
                signing,
                key,
                Some(index as usize),
                node,
                &earlier,
                &mut jobs,
            );
            plans[index as usize]
                .as_mut()
                .expect("planned above")
                .rrsets = rrsets;
        }
        let mut nsec_jobs = nsec_sets.iter();
        for &index in &walk {
            let (key, _) = self
                .nodes
                .get_index(index as usize)
                .expect("chain indexes are nodes");
            let plan = plans[index as usize].as_mut().expect("planned above");
            if let Some(SetPlan::Sign { first, .. }) = &mut plan.nsec {
                *first = jobs.len();
                let set = nsec_jobs.next().expect("one NSEC set per planned NSEC");
                jobs.push(Job {
                    owner: key,
                    set,
                    subset: None,
                });
            }
        }
        let made = jobs.len();
        let mut signed = sign_all(signing.signer, &jobs);
        let mut nodes = Nodes::with_capacity_and_hasher(self.nodes.len(), Default::default());
        for (index, (key, node)) in self.nodes.iter().enumerate() {
            let node = match plans[index].take() {
                Some(plan) => Node {
                    rrsets: plan
                        .rrsets
                        .into_iter()
                        .map(|p| p.finish(&mut signed))
                        .collect(),
                    nsec: plan.nsec.map(|p| p.finish(&mut signed)),
                },
                // Glue and names below a DNAME: served unsigned; an empty non-terminal as is.
                None => Node {
                    rrsets: node.rrsets.iter().map(unsigned).collect(),
                    nsec: None,
                },
            };
            nodes.insert(key.clone(), node);
        }
        let skip = canonical::labels(origin);
        (
            ZoneData {
                chain_prefixes: chain_prefixes(&nodes, &chain, skip),
                chain_skip: skip as u8,
                earliest: earliest_in(nodes.values()),
                nodes,
                chain: chain.into_boxed_slice(),
                content: self.content,
                walked: Default::default(),
            },
            made,
        )
    }

    /// How many chain names sort before `key` in canonical order (`or_equal`: before it or equal
    /// to it): a binary search on the names' 8-octet prefixes, whole names compared only among
    /// equal prefixes — a comparison that reads this array, not a name behind the node table.
    fn chain_partition(&self, key: &[u8], or_equal: bool) -> usize {
        let target = canonical::key_prefix(key, usize::from(self.chain_skip));
        let (mut low, mut high) = (0, self.chain.len());
        while low < high {
            let middle = low + (high - low) / 2;
            let before = match self.chain_prefixes[middle].cmp(&target) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => {
                    let (name, _) = self
                        .nodes
                        .get_index(self.chain[middle] as usize)
                        .expect("chain indexes are nodes");
                    match canonical::cmp_names(name, key) {
                        Ordering::Less => true,
                        Ordering::Equal => or_equal,
                        Ordering::Greater => false,
                    }
                }
            };
            if before {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The chain node that precedes `key` in canonical order (the one whose NSEC covers it, when
    /// `key` is not itself in the chain), for which `usable` holds; walks back over those it
    /// refuses.
    fn chain_before(
        &self,
        key: &[u8],
        usable: impl Fn(&[u8], &Node) -> bool,
    ) -> Option<(&[u8], &Node)> {
        if self.chain.is_empty() {
            return None;
        }
        let at = |position: usize| {
            let (key, node) = self
                .nodes
                .get_index(self.chain[position] as usize)
                .expect("chain indexes are nodes");
            (&key[..], node)
        };
        let after = self.chain_partition(key, true);
        // Before the first name (only names outside the zone): the last covers them.
        let mut position = if after == 0 { self.chain.len() } else { after };
        for _ in 0..self.chain.len() {
            position -= 1;
            let (name, node) = at(position);
            if usable(name, node) {
                return Some((name, node));
            }
            if position == 0 {
                position = self.chain.len();
            }
        }
        None
    }
}

impl ViewZone {
    /// Signs what this view's overlay changes over the shared data, which must be signed
    /// already: its own nodes, and an overlay copy (with the right NSEC) of each shared name
    /// whose place in this view's chain differs. `previous` is this view's copy in the previous
    /// snapshot, whose good signatures are kept.
    /// Returns the number of signatures made.
    fn sign_overlay(&mut self, signing: &Signing<'_>, previous: Option<&ViewZone>) -> usize {
        let origin = signing.origin;
        let Some(overlay) = self.overlay.clone() else {
            self.refresh_soa();
            return 0;
        };
        let shared = self.shared.clone();
        // The overlay as this view serves it: the apex's key sets in its apex copy, if it has one.
        let mut own: Nodes = overlay
            .nodes
            .iter()
            .map(|(key, node)| {
                let node = if **key == *origin {
                    with_apex_sets(node, signing.apex_sets)
                } else {
                    node.clone()
                };
                (key.clone(), node)
            })
            .collect();
        // Cuts and DNAMEs the overlay adds hide the shared names below them; those it removes
        // bring shared names below them into the chain.
        let mut hidden: Vec<Key> = Vec::new();
        let mut revealed: Vec<Key> = Vec::new();
        for (key, node) in &own {
            let stops = |n: &Node| is_cut(key, origin, n) || n.get(rtype::DNAME).is_some();
            let stops_here = stops(node);
            let stopped_before = shared.get(key).is_some_and(stops);
            if stops_here && !stopped_before {
                let start = shared.chain_partition(key, true);
                for &index in &shared.chain[start..] {
                    let (name, _) = shared
                        .nodes
                        .get_index(index as usize)
                        .expect("chain indexes are nodes");
                    if !is_subdomain(name, key) {
                        break;
                    }
                    hidden.push(name.clone());
                }
            } else if stopped_before && !stops_here {
                for (name, _) in shared.nodes.iter() {
                    if **name != **key && is_subdomain(name, key) {
                        revealed.push(name.clone());
                    }
                }
            }
        }
        for name in hidden {
            if !own.contains_key(&name) {
                let node = shared.get(&name).expect("a shared name");
                own.insert(
                    name,
                    Node {
                        rrsets: node.rrsets.iter().map(unsigned).collect(),
                        nsec: None,
                    },
                );
            }
        }
        for name in revealed {
            if !own.contains_key(&name) {
                let node = shared.get(&name).expect("a shared name").clone();
                own.insert(name, node);
            }
        }
        // This view's chain: the shared chain without the names the overlay decides, merged with
        // the overlay's names that are in the chain.
        let in_chain = |own: &Nodes, key: &[u8], node: &Node| {
            !node.rrsets.is_empty()
                && !occluded(key, origin, |k| own.get(k).or_else(|| shared.get(k)))
        };
        let mut own_chain: Vec<u32> = (own.iter().enumerate())
            .filter(|(_, (key, node))| in_chain(&own, key, node))
            .map(|(index, _)| index as u32)
            .collect();
        sort_canonical(&own, &mut own_chain);
        // Each name's NSEC in this view names its successor in the view's chain: the shared
        // chain without the names the overlay decides, merged with the overlay's chain names.
        // Only the overlay's names and the shared names just before a change have a successor
        // other than in the shared chain: found by binary search, not by walking the chain.
        let name_at = |index: u32| -> &[u8] {
            let (key, _) = shared
                .nodes
                .get_index(index as usize)
                .expect("chain indexes are nodes");
            key
        };
        let shared_name = |position: usize| name_at(shared.chain[position]);
        let own_names: Vec<&[u8]> = own_chain
            .iter()
            .map(|&index| {
                let (key, _) = own.get_index(index as usize).expect("an overlay index");
                &key[..]
            })
            .collect();
        // The shared chain positions whose names the overlay decides, sorted, each with the first
        // position of its run of consecutive ones and the one after it: stepping over a run is
        // one search, however many names the overlay replaces in a row.
        let mut decided: Vec<usize> = own
            .keys()
            .filter_map(|key| {
                let position = shared.chain_partition(key, false);
                (position < shared.chain.len() && *shared_name(position) == **key)
                    .then_some(position)
            })
            .collect();
        decided.sort_unstable();
        let mut run_first = decided.clone();
        for i in 1..decided.len() {
            if decided[i - 1] + 1 == decided[i] {
                run_first[i] = run_first[i - 1];
            }
        }
        let mut run_after: Vec<usize> = decided.iter().map(|&position| position + 1).collect();
        for i in (0..decided.len().saturating_sub(1)).rev() {
            if decided[i] + 1 == decided[i + 1] {
                run_after[i] = run_after[i + 1];
            }
        }
        // The first shared chain position from `position` on whose name the overlay leaves.
        let kept_from = |position: usize| {
            let i = decided.partition_point(|&d| d < position);
            let position = match decided.get(i) {
                Some(&d) if d == position => run_after[i],
                _ => position,
            };
            (position < shared.chain.len()).then_some(position)
        };
        // The last shared chain position before `position` whose name the overlay leaves.
        let kept_before = |position: usize| {
            let before = position.checked_sub(1)?;
            let i = decided.partition_point(|&d| d < before);
            match decided.get(i) {
                Some(&d) if d == before => run_first[i].checked_sub(1),
                _ => Some(before),
            }
        };
        // The first shared chain position whose name sorts after `key`.
        let shared_after = |key: &[u8]| shared.chain_partition(key, true);
        let first_in_view = || {
            let shared_first = kept_from(0).map(shared_name);
            match (shared_first, own_names.first()) {
                (Some(a), Some(b)) if canonical::cmp_names(a, b) == Ordering::Less => a,
                (_, Some(b)) => b,
                (Some(a), None) => a,
                (None, None) => origin,
            }
        };
        let successor = |key: &[u8]| -> &[u8] {
            let shared_next = kept_from(shared_after(key)).map(shared_name);
            let own_next =
                own_names
                    .get(own_names.partition_point(|name| {
                        canonical::cmp_names(name, key) != Ordering::Greater
                    }))
                    .copied();
            match (shared_next, own_next) {
                (Some(a), Some(b)) if canonical::cmp_names(a, b) == Ordering::Less => a,
                (_, Some(b)) => b,
                (Some(a), None) => a,
                (None, None) => first_in_view(),
            }
        };
        let earlier_own: Option<&ZoneData> = previous.and_then(|p| p.overlay.as_deref());
        let earlier_shared: Option<&ZoneData> = previous.map(|p| &*p.shared);
        let mut changed: Vec<(Key, Node, Vec<u8>)> = Vec::new();
        let mut own_nsec: Vec<(usize, Vec<u8>)> = Vec::new();
        if !signing.nsec3 {
            // The shared names whose successor may have changed: the last one the overlay leaves
            // before each overlay name, and the last of the chain (its successor wraps round).
            let mut around: Vec<usize> = own
                .keys()
                .filter_map(|key| kept_before(shared.chain_partition(key, false)))
                .chain(kept_before(shared.chain.len()))
                .collect();
            around.sort_unstable();
            around.dedup();
            for &index in &own_chain {
                let (key, node) = own.get_index(index as usize).expect("an overlay index");
                let rdata = nsec_rdata(successor(key), node, is_cut(key, origin, node));
                own_nsec.push((index as usize, rdata));
            }
            for position in around {
                let key = shared_name(position);
                let node = shared.get(key).expect("a shared name");
                let rdata = nsec_rdata(successor(key), node, is_cut(key, origin, node));
                let same = node
                    .nsec
                    .as_ref()
                    .is_some_and(|nsec| nsec.rdatas[0].wire[..] == rdata[..]);
                if !same {
                    changed.push((key.into(), node.clone(), rdata));
                }
            }
        }
        for (key, node, rdata) in changed {
            let (index, _) = own.insert_full(key, node);
            own_nsec.push((index, rdata));
            own_chain.push(index as u32);
        }
        sort_canonical(&own, &mut own_chain);
        // Sign the overlay's RRsets and NSECs, keeping what the signed shared data, or this
        // view's previous copy, has good for the same data.
        let earlier = [Some(&*shared), earlier_own, earlier_shared];
        let mut jobs: Vec<Job<'_>> = Vec::new();
        let mut nsec_sets: Vec<Option<Arc<RRset>>> = vec![None; own.len()];
        let mut nsec_kept: Vec<Option<Arc<RRset>>> = vec![None; own.len()];
        for (index, rdata) in own_nsec {
            let (key, node) = own.get_index(index).expect("an overlay index");
            match kept_nsec(signing.signer, key, None, &rdata, &earlier) {
                Some(nsec) => nsec_kept[index] = Some(nsec),
                None => {
                    let loc = &node.rrsets[0].rdatas[0].loc;
                    nsec_sets[index] = Some(Arc::new(nsec_set(rdata, signing.nsec_ttl, loc)));
                }
            }
        }
        let chained: Vec<bool> = {
            let mut chained = vec![false; own.len()];
            for &index in &own_chain {
                chained[index as usize] = true;
            }
            chained
        };
        let mut plans: Vec<Option<Vec<SetPlan>>> = Vec::with_capacity(own.len());
        for (index, (key, node)) in own.iter().enumerate() {
            plans.push(
                chained[index].then(|| plan_rrsets(signing, key, None, node, &earlier, &mut jobs)),
            );
        }
        let mut nsec_first: Vec<Option<usize>> = vec![None; own.len()];
        for (index, set) in nsec_sets.iter().enumerate() {
            if let Some(set) = set {
                let (key, _) = own.get_index(index).expect("an overlay index");
                nsec_first[index] = Some(jobs.len());
                jobs.push(Job {
                    owner: key,
                    set,
                    subset: None,
                });
            }
        }
        let made = jobs.len();
        let mut signed = sign_all(signing.signer, &jobs);
        let mut nodes = Nodes::with_capacity_and_hasher(own.len(), Default::default());
        for (index, (key, node)) in own.iter().enumerate() {
            let rrsets: super::node::RRsets = match plans[index].take() {
                Some(plan) => plan.into_iter().map(|p| p.finish(&mut signed)).collect(),
                None => node.rrsets.clone(),
            };
            let nsec = match (nsec_first[index], &nsec_sets[index]) {
                (Some(first), Some(set)) => Some(
                    SetPlan::Sign {
                        set: set.clone(),
                        first,
                        subsets: 0,
                    }
                    .finish(&mut signed),
                ),
                _ => nsec_kept[index].clone(),
            };
            nodes.insert(key.clone(), Node { rrsets, nsec });
        }
        let skip = canonical::labels(origin);
        self.overlay = Some(Arc::new(ZoneData {
            chain_prefixes: chain_prefixes(&nodes, &own_chain, skip),
            chain_skip: skip as u8,
            earliest: earliest_in(nodes.values()),
            nodes,
            chain: own_chain.into_boxed_slice(),
            content: 0,
            walked: Default::default(),
        }));
        self.refresh_soa();
        made
    }

    /// Serves this view's copy signed: its shared data signed once for every view that shares
    /// it (`made` remembers the copies signed in this load), then what its overlay changes.
    /// `previous` is this view's copy in the snapshot served before. Returns the number of
    /// signatures made for it (those of shared data counted for each view that reads it).
    pub(crate) fn sign(
        &mut self,
        signing: &Signing<'_>,
        previous: Option<&ViewZone>,
        made: &mut SignedShared,
    ) -> usize {
        // Shared data read from the same records as the previous snapshot's, signed the same way,
        // none of its signatures due: the previous signed copy serves as it is, unwalked (a
        // reload for an edit elsewhere signs none of it).
        let unchanged = previous.filter(|p| {
            p.signed
                && p.signed_with == Some(signing.identity)
                && p.shared.content != 0
                && p.shared.content == self.shared.content
                && p.signatures_expire.is_some_and(|e| signing.signer.keeps(e))
        });
        let count = match made.find(&self.shared) {
            Some((signed, count)) => {
                self.shared = signed;
                count
            }
            None if unchanged.is_some() => {
                let signed = unchanged.expect("just checked").shared.clone();
                made.copies.push(SignedCopy {
                    unsigned: self.shared.clone(),
                    signed: signed.clone(),
                    made: 0,
                });
                self.shared = signed;
                0
            }
            None => {
                let (signed, count) = self.shared.signed(signing, previous.map(|p| &*p.shared));
                let signed = Arc::new(signed);
                made.copies.push(SignedCopy {
                    unsigned: self.shared.clone(),
                    signed: signed.clone(),
                    made: count,
                });
                made.made += count;
                self.shared = signed;
                count
            }
        };
        self.signed = true;
        self.signed_with = Some(signing.identity);
        let overlay = self.sign_overlay(signing, previous);
        made.made += overlay;
        count + overlay
    }

    /// When the first of this view's signatures expires: the signer must have made it anew a
    /// refresh margin before. From what each part found when it was signed (a shared name the
    /// overlay replaces counts too: it is made anew with the rest of the shared data).
    pub(crate) fn earliest_expiration(&self) -> Option<u32> {
        [
            self.shared.earliest,
            self.overlay.as_ref().and_then(|o| o.earliest),
            self.nsec3.as_ref().and_then(|c| c.earliest()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// For a view that does not sign a zone other views sign: it reads the signed copy of the
    /// shared data (the signatures take no memory twice; it never writes them), without the
    /// apex's key sets.
    pub(crate) fn share_unsigned(&mut self, made: &SignedShared) {
        if let Some((signed, _)) = made.find(&self.shared) {
            self.shared = signed;
            self.without_apex_keys();
        }
    }

    /// Serves `serial` in this view's SOA (a copy in its overlay) and signs it: a change of
    /// signatures alone is a change a secondary must fetch. Returns the signatures made.
    pub(crate) fn raise_serial(&mut self, serial: u32, signing: &Signing<'_>) -> usize {
        let origin = self.origin.as_wire().to_vec();
        let Some(apex) = self.node(&origin) else {
            return 0;
        };
        let Some(soa) = apex.get(rtype::SOA) else {
            return 0;
        };
        let mut rdatas = soa.rdatas.clone();
        if let Some(at) = crate::dns::soa::serial_offset(&rdatas[0].wire) {
            rdatas[0].wire[at..at + 4].copy_from_slice(&serial.to_be_bytes());
        }
        let soa = Arc::new(RRset {
            rtype: rtype::SOA,
            ttl: soa.ttl,
            rdatas,
            health: None,
            sigs: None,
        });
        let rrsets: Vec<Arc<RRset>> = apex
            .rrsets
            .iter()
            .map(|set| {
                if set.rtype == rtype::SOA {
                    soa.clone()
                } else {
                    set.clone()
                }
            })
            .collect();
        let apex = super::node::node_of(rrsets).with_nsec(apex.nsec.clone());
        let overlay = self.overlay.get_or_insert_with(Arc::default);
        Arc::make_mut(overlay).nodes.insert(origin.into(), apex);
        self.serial = serial;
        self.sign_overlay(signing, None)
    }

    /// The SOA set served in negative answers: the apex's, signatures and all.
    fn refresh_soa(&mut self) {
        if let Some(soa) = self
            .node(self.origin.as_wire())
            .and_then(|n| n.get(rtype::SOA))
        {
            self.soa = soa.clone();
        }
    }

    /// Takes the key sets out of this view's apex: for a view that does not sign but shares data
    /// signed for another (it must not publish DNSKEY, CDS or CDNSKEY without signing).
    pub(crate) fn without_apex_keys(&mut self) {
        let origin = self.origin.as_wire().to_vec();
        let Some(apex) = self.node(&origin) else {
            return;
        };
        if !apex.rrsets.iter().any(|set| {
            matches!(
                set.rtype,
                rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY | rtype::NSEC3PARAM
            )
        }) {
            return;
        }
        let apex = with_apex_sets(apex, &[]);
        let overlay = self.overlay.get_or_insert_with(Arc::default);
        Arc::make_mut(overlay).nodes.insert(origin.into(), apex);
    }

    /// The NSEC record that covers `key` (a name this view's chain does not have), with its
    /// owner.
    pub(crate) fn covering_nsec(&self, key: &[u8]) -> Option<(&[u8], &Arc<RRset>)> {
        let overlay = self.overlay.as_deref();
        let from_shared = self
            .shared
            .chain_before(key, |name, _| overlay.is_none_or(|o| o.get(name).is_none()));
        let from_own = overlay.and_then(|o| o.chain_before(key, |_, node| node.nsec.is_some()));
        let before = |name: &[u8]| canonical::cmp_names(name, key) != Ordering::Greater;
        let (name, node) = match (from_shared, from_own) {
            (Some(a), Some(b)) => {
                // The nearer one before the key; a wrapped one (after the key) loses to one
                // before it.
                match (before(a.0), before(b.0)) {
                    (true, false) => a,
                    (false, true) => b,
                    _ => {
                        if canonical::cmp_names(a.0, b.0) == Ordering::Greater {
                            a
                        } else {
                            b
                        }
                    }
                }
            }
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return None,
        };
        node.nsec.as_ref().map(|nsec| (name, nsec))
    }
}
