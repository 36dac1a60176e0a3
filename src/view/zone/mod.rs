//! One zone as a view serves it: the shared records, plus (for a view with an override file) an
//! overlay of merged nodes that replaces the shared node of the same name. Views that share most
//! records therefore share them in memory; the overlay only holds the names an override touches
//! and the empty non-terminals it creates. Every lookup is one or two hash probes by the
//! lowercased wire name, so no per-query work grows with the zone.
//!
//! The node store is `node`, its build from records `build`, the rules every node obeys
//! `check`; this module holds [`ViewZone`] itself: its assembly from shared data and overlay,
//! and the lookups and walks over what one view sees.

mod build;
mod check;
mod node;
mod nsec3;
mod signed;
mod source;

use std::sync::Arc;

use crate::dns::name::Name;
use crate::dns::{rtype, soa};
use crate::located::{Located, SourceLoc};
use crate::view::health::Checked;

pub(crate) use build::build_overlay;
pub use build::build_shared;
pub(crate) use check::check_shared;
use check::{check_node, record_error};
pub(crate) use node::canonical_rdata;
use node::node_of;
pub(crate) use node::{Answered, Node, PICK_SLOTS, Pick, RRset, Rdata, ZoneData, rotation_start};
pub(crate) use nsec3::Nsec3Chain;
pub(crate) use signed::{MADE_BY_SIGNER, MAX_SIGNED_CHECKED_RECORDS, SignedShared, Signing};
pub(crate) use source::{FileRead, FileStamp, SharedBuild};

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
    /// Served signed: RRSIGs and NSEC records are in its answers and transfers.
    signed: bool,
    /// The NSEC3 chain of a view signed with NSEC3 (its nodes then have no NSEC records).
    nsec3: Option<Arc<nsec3::Nsec3Chain>>,
    /// When the first of a signed view's signatures expires (Unix seconds), for monitoring.
    pub signatures_expire: Option<u32>,
    /// When that signature is due to be made anew (its policy's refresh margin before).
    pub signatures_refresh_due: Option<u32>,
    /// The [`Signing::identity`] of the pass that signed it.
    signed_with: Option<u64>,
}

impl ViewZone {
    /// Whether this view's copy is served signed (DNSSEC).
    pub fn is_signed(&self) -> bool {
        self.signed
    }

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
            sigs: None,
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

    /// The records a transfer carries for one node of this view's zone, between the two SOAs:
    /// its RRsets but the apex SOA, and in a signed view each RRset's signatures (the apex SOA's
    /// too) and the node's NSEC record with its own.
    pub fn node_records<'z>(
        &'z self,
        owner: &'z [u8],
        node: &'z Node,
    ) -> impl Iterator<Item = (&'z [u8], u16, u32, &'z [u8])> + 'z {
        let apex = owner == self.origin.as_wire();
        let signed = self.signed;
        let nsec = node.nsec.as_deref().filter(|_| signed);
        node.rrsets
            .iter()
            .map(|set| &**set)
            .chain(nsec)
            .flat_map(move |set| {
                let records = set
                    .rdatas
                    .iter()
                    .filter(move |_| !(apex && set.rtype == rtype::SOA))
                    .map(move |rdata| (owner, set.rtype, set.ttl, &rdata.wire[..]));
                let sigs = set
                    .sigs
                    .iter()
                    .filter(move |_| signed)
                    .flat_map(|sigs| sigs.full())
                    .map(move |sig| (owner, rtype::RRSIG, set.ttl, sig));
                records.chain(sigs)
            })
    }

    /// When this copy and `before` read the very same shared data (a reload that took it
    /// unchanged), the only names where they can differ: those either overlay holds, each once.
    /// `None` when the shared data differs, and every name must be compared.
    pub fn names_differing_from<'z>(
        &'z self,
        before: &'z ViewZone,
    ) -> Option<impl Iterator<Item = &'z [u8]> + 'z> {
        if !Arc::ptr_eq(&self.shared, &before.shared) {
            return None;
        }
        let ours = self.overlay.as_ref();
        let theirs = before
            .overlay
            .iter()
            .flat_map(|o| o.nodes.keys())
            .filter(move |key| ours.is_none_or(|o| o.get(key).is_none()));
        Some(
            ours.into_iter()
                .flat_map(|o| o.nodes.keys())
                .chain(theirs)
                .map(|key| &key[..]),
        )
    }

    /// Every name of this view's zone with its node, overlay names replacing shared ones: the
    /// overlay's names first, then the shared ones, each in file order.
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

    /// The nodes of [`ViewZone::nodes`] that `pick` wants. The shared data remembers which of
    /// its nodes those are, so a load that takes it unchanged does not walk it again (a zone of a
    /// million names is looked through for a few at every start and reload).
    pub(crate) fn picked(&self, pick: Pick) -> impl Iterator<Item = (&[u8], &Node)> {
        let overlay = self.overlay.as_ref();
        let shared = self
            .shared
            .picked(pick)
            .filter(move |(key, _)| overlay.is_none_or(|o| o.get(key).is_none()));
        overlay
            .into_iter()
            .flat_map(|o| o.nodes.iter())
            .filter(move |(key, node)| (pick.wanted)(key, node))
            .map(|(key, node)| (&key[..], node))
            .chain(shared)
    }
}

/// Assembles and checks one view's zone. `zone_loc` names the config entry for errors about the
/// zone as a whole (no SOA, no NS).
pub(crate) fn assemble(
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
    // An overlay may hold fewer records than the shared names it replaces: a signed difference.
    let record_count = shared
        .record_count()
        .saturating_add_signed(overlay.as_ref().map_or(0, |o| {
            o.nodes
                .iter()
                .map(|(key, node)| {
                    node.record_count() as isize
                        - shared.get(key).map_or(0, |n| n.record_count() as isize)
                })
                .sum::<isize>()
        }));
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
        signed: false,
        nsec3: None,
        signatures_expire: None,
        signatures_refresh_due: None,
        signed_with: None,
    })
}

#[cfg(test)]
mod tests {
    use super::build::tests::{SHARED, origin, records};
    use super::*;

    /// The internal view's copy of `shared` with `overlay` over it.
    fn internal_copy(shared: &Arc<ZoneData>, overlay: Option<ZoneData>) -> ViewZone {
        let loc = SourceLoc {
            file: Arc::new("test.toml".into()),
            line: 1,
        };
        assemble(&origin(), shared.clone(), overlay, &loc, "internal", 0).unwrap()
    }

    /// An override that holds fewer records than the shared name it replaces lowers the view's
    /// record count (it once overflowed, and a debug build panicked loading such a zone).
    #[test]
    fn an_override_with_fewer_records_lowers_the_count() {
        let shared = Arc::new(build_shared(&origin(), records(SHARED)));
        let overlay = build::build_overlay(
            &origin(),
            &shared,
            records("$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\nhost A 10.0.0.1\n"),
        );
        let zone = internal_copy(&shared, Some(overlay));
        let host = Name::parse("host.example.", None).unwrap();
        let shared_host = shared.get(host.as_wire()).unwrap().record_count();
        let view_host = zone.node(host.as_wire()).unwrap().record_count();
        assert!(view_host < shared_host, "{view_host} < {shared_host}");
        assert_eq!(
            zone.record_count,
            shared.record_count() - shared_host + view_host
        );
    }

    /// A checked RRset answers the records its cell's mask keeps, rotated over those by the
    /// seed; with nothing kept it answers nothing; a cell that has not been published keeps all.
    #[test]
    fn checked_rrsets_answer_the_kept_records_in_rotation() {
        use crate::view::health::HealthBoard;
        let mut board = HealthBoard::default();
        let shared = Arc::new(build_shared(&origin(), records(SHARED)));
        let mut zone = internal_copy(&shared, None);
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
