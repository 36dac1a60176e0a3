//! A signed view's NSEC3 chain (RFC 5155): one NSEC3 record per name the view has — empty
//! non-terminals included (§7.1), names below a cut or a DNAME not — at the name's hashed owner,
//! in hash order. Unlike NSEC records, which sit on the names they describe, the chain is the
//! view's own: hashing scatters a name's neighbours, so an override that adds one name changes
//! its hashed neighbour's record, which no other view need share. The records whose data and
//! signatures are unchanged are taken from the previous snapshot's chain, or from another view's
//! chain of the same load, so a reload signs only what changed.
//!
//! The records are not names of the zone to a lookup (a query for a hashed owner is answered as
//! for any name that does not exist, §7.2.8); the answer path asks for the record matching a
//! name or covering it, transfers walk them after the zone's nodes.

use std::collections::HashSet;
use std::sync::Arc;

use crate::dns::name::suffix_offsets;
use crate::dns::rtype;
use crate::dnssec::nsec3::{self, HASH_LEN};

use super::ViewZone;
use super::node::{Node, RRset};
use super::signed::{Job, Signing, occluded, sign_all, signed_here, unsigned_set};

/// A record of the chain: kept (signed already), or made now and waiting for its signatures.
type Planned = Result<Arc<RRset>, RRset>;

/// The chain, in hash order: each record's hash, and a node at its hashed owner that holds
/// nothing but the NSEC3 record (in `nsec`, where a transfer looks for it).
#[derive(Debug, Default)]
pub(crate) struct Nsec3Chain {
    hashes: Box<[[u8; HASH_LEN]]>,
    nodes: Box<[(Box<[u8]>, Node)]>,
    /// When the first of its signatures expires.
    earliest: Option<u32>,
}

impl Nsec3Chain {
    /// The record at `hash`'s owner, if the chain has one.
    fn at(&self, hash: &[u8; HASH_LEN]) -> Option<(&[u8], &Arc<RRset>)> {
        let index = self.hashes.binary_search(hash).ok()?;
        let (owner, node) = &self.nodes[index];
        Some((owner, node.nsec.as_ref()?))
    }

    /// The record whose owner is the hash of `key`: the name exists, and its bitmap lists its
    /// types.
    pub(crate) fn matching(&self, key: &[u8]) -> Option<(&[u8], &Arc<RRset>)> {
        self.at(&nsec3::hash(key))
    }

    /// The record whose owner and next hash enclose the hash of `key`, a name that does not
    /// exist (the last record covers the hashes after it and before the first).
    pub(crate) fn covering(&self, key: &[u8]) -> Option<(&[u8], &Arc<RRset>)> {
        if self.nodes.is_empty() {
            return None;
        }
        let hash = nsec3::hash(key);
        let after = self.hashes.partition_point(|h| *h <= hash);
        let index = if after == 0 {
            self.nodes.len() - 1
        } else {
            after - 1
        };
        let (owner, node) = &self.nodes[index];
        Some((owner, node.nsec.as_ref()?))
    }

    /// When the first of its signatures expires.
    pub(crate) fn earliest(&self) -> Option<u32> {
        self.earliest
    }

    /// Each hashed owner with its node, in hash order.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        self.nodes.iter().map(|(owner, node)| (&owner[..], node))
    }

    /// The node at a hashed owner (lowercased wire), if the chain has it.
    pub(crate) fn get(&self, owner: &[u8]) -> Option<&Node> {
        let index = self
            .nodes
            .binary_search_by(|(known, _)| known[..].cmp(owner))
            .ok()?;
        Some(&self.nodes[index].1)
    }
}

impl ViewZone {
    /// Gives this signed view its NSEC3 chain. `previous` is this view's copy in the snapshot
    /// served before, `others` the chains other views made in this load: a record equal to one
    /// of theirs with good signatures is taken from them. Returns the number of signatures made.
    pub(crate) fn chain_nsec3(
        &mut self,
        signing: &Signing<'_>,
        previous: Option<&ViewZone>,
        others: &[Arc<Nsec3Chain>],
    ) -> usize {
        let origin = signing.origin;
        // Every name of the view that is not below a cut or a DNAME, with its empty
        // non-terminals, and the types its bitmap lists.
        let mut names: HashSet<&[u8]> = HashSet::new();
        let mut entries: Vec<([u8; HASH_LEN], Vec<u16>)> = Vec::new();
        for (key, _) in self.nodes() {
            if occluded(key, origin, |k| self.node(k)) {
                continue;
            }
            for ancestor in suffix_offsets(key)
                .map(|offset| &key[offset..])
                .take_while(|name| name.len() >= origin.len())
            {
                if !names.insert(ancestor) {
                    break;
                }
                let types = self
                    .node(ancestor)
                    .map(|node| bitmap_types(ancestor, origin, node))
                    .unwrap_or_default();
                entries.push((nsec3::hash(ancestor), types));
            }
        }
        entries.sort_unstable_by_key(|entry| entry.0);
        entries.dedup_by(|a, b| a.0 == b.0);
        let earlier: Vec<&Nsec3Chain> = previous
            .and_then(|p| p.nsec3.as_deref())
            .into_iter()
            .chain(others.iter().map(|c| &**c))
            .collect();
        let loc = self.soa.rdatas[0].loc.clone();
        let mut hashes = Vec::with_capacity(entries.len());
        let mut sets: Vec<(Box<[u8]>, Planned)> = Vec::with_capacity(entries.len());
        for position in 0..entries.len() {
            let next = entries[(position + 1) % entries.len()].0;
            let (hash, types) = &mut entries[position];
            let rdata = nsec3::rdata(&next, types);
            let owner = nsec3::owner(hash, origin);
            let kept = earlier.iter().find_map(|chain| {
                let (_, set) = chain.at(hash)?;
                let good = set.rdatas[0].wire[..] == rdata[..]
                    && set.ttl == signing.nsec_ttl
                    && set
                        .sigs
                        .as_ref()
                        .is_some_and(|s| signing.signer.still_good(rtype::NSEC3, s.full()));
                good.then(|| set.clone())
            });
            hashes.push(*hash);
            sets.push((
                owner,
                kept.ok_or_else(|| unsigned_set(rtype::NSEC3, rdata, signing.nsec_ttl, &loc)),
            ));
        }
        let jobs: Vec<Job<'_>> = sets
            .iter()
            .filter_map(|(owner, set)| {
                set.as_ref().err().map(|set| Job {
                    owner,
                    set,
                    subset: None,
                })
            })
            .collect();
        let made = jobs.len();
        let mut signed = sign_all(signing.signer, &jobs).into_iter();
        drop(jobs);
        let nodes: Box<[(Box<[u8]>, Node)]> = sets
            .into_iter()
            .map(|(owner, set)| {
                let set = match set {
                    Ok(kept) => kept,
                    Err(set) => {
                        let sigs = signed.next().flatten().expect("one signature set per job");
                        Arc::new(set.with_sigs(Some(super::node::Signatures::whole(sigs))))
                    }
                };
                (
                    owner,
                    Node {
                        rrsets: Default::default(),
                        nsec: Some(set),
                    },
                )
            })
            .collect();
        self.nsec3 = Some(Arc::new(Nsec3Chain {
            hashes: hashes.into_boxed_slice(),
            earliest: super::signed::earliest_in(nodes.iter().map(|(_, node)| node)),
            nodes,
        }));
        made
    }

    /// The view's NSEC3 chain, when it is signed with NSEC3.
    pub(crate) fn nsec3(&self) -> Option<&Nsec3Chain> {
        self.nsec3.as_deref()
    }

    /// Every node a transfer carries: the zone's, then the NSEC3 chain's hashed owners.
    pub fn transfer_nodes(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        self.nodes()
            .chain(self.nsec3.iter().flat_map(|chain| chain.nodes()))
    }

    /// The node at `key` among [`ViewZone::transfer_nodes`].
    pub fn transfer_node(&self, key: &[u8]) -> Option<&Node> {
        self.node(key)
            .or_else(|| self.nsec3.as_ref().and_then(|chain| chain.get(key)))
    }

    /// The chain shared, for the next view of the load to take records from.
    pub(crate) fn nsec3_chain(&self) -> Option<Arc<Nsec3Chain>> {
        self.nsec3.clone()
    }
}

/// The types the NSEC3 record of a name with `node` lists: at a cut its NS and DS (and RRSIG
/// when the DS is signed), elsewhere every type and RRSIG.
fn bitmap_types(key: &[u8], origin: &[u8], node: &Node) -> Vec<u16> {
    let cut = key.len() != origin.len() && node.is_cut();
    let mut types: Vec<u16> = node
        .rrsets
        .iter()
        .map(|set| set.rtype)
        .filter(|&t| !cut || t == rtype::NS || t == rtype::DS)
        .collect();
    if node.rrsets.iter().any(|set| signed_here(cut, set)) {
        types.push(rtype::RRSIG);
    }
    types
}
