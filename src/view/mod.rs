//! The immutable snapshot the server answers from: the prefix table that routes a client to a
//! view, each view's zones, and the lookup over them ([`lookup`]). It is data only: the loader
//! builds it from the config and the zone files, the server publishes it with one atomic swap,
//! and request paths only ever read it.

pub(crate) mod health;
pub(crate) mod history;
pub(crate) mod lookup;
pub(crate) mod prefix;
pub(crate) mod recursion;
pub(crate) mod zone;

use foldhash::{HashMap, HashMapExt};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::dns::name::{self, Name};
use crate::dns::rtype;
use crate::wire::tsig::Key;
use prefix::PrefixTable;
pub(crate) use recursion::{Forward, Recursion};
use zone::ViewZone;

/// Everything needed to answer queries, for all views.
#[derive(Debug)]
pub struct Snapshot {
    pub prefixes: PrefixTable,
    pub views: Vec<View>,
    /// Every file the snapshot was built from (config, zone files, includes), for reload watching.
    pub files: Vec<PathBuf>,
    /// The TSIG keys, and for each the view it selects (if a view lists it).
    pub keys: Vec<Arc<Key>>,
    key_views: Vec<Option<usize>>,
    /// Each zone's shared data with the files it was built from: the next load takes what is
    /// unchanged from here.
    pub(crate) shared_builds: Vec<Arc<zone::SharedBuild>>,
    /// Different for every snapshot this process builds: what was compiled from one snapshot
    /// is known stale by it ([`crate::answer::CompiledAnswers`]).
    pub generation: u64,
}

/// The next snapshot's [`Snapshot::generation`].
static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Who may transfer a zone: a source in `allow`, or a request signed with one of `keys` (indexes
/// into [`Snapshot::keys`]). Empty (the default): nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferAcl {
    pub allow: Vec<IpNet>,
    pub keys: Vec<usize>,
}

impl TransferAcl {
    /// Whether a request from `client`, signed with `key` (verified), may transfer.
    pub fn permits(&self, client: IpAddr, key: Option<usize>) -> bool {
        let client = client.to_canonical();
        key.is_some_and(|k| self.keys.contains(&k))
            || self.allow.iter().any(|net| net.contains(&client))
    }

    /// Whether anyone at all may transfer (any source address, no key needed).
    pub fn anyone(&self) -> bool {
        self.allow.iter().any(|net| net.prefix_len() == 0)
    }
}

/// Why a request got its view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It was signed with this key (index into [`Snapshot::keys`]), which the view lists.
    Key(usize),
    /// This is the most specific prefix containing its source address.
    Prefix(IpNet),
}

/// The view a request gets, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub view: usize,
    pub reason: Reason,
}

/// One view: a name and the zones as this view serves them.
#[derive(Debug)]
pub struct View {
    pub name: String,
    /// The client prefixes that select this view (as configured; for status reports).
    pub clients: Vec<IpNet>,
    pub zones: Vec<ViewZone>,
    /// TXT RDATA for the CHAOS identity queries, when the view answers them.
    pub chaos: Option<ChaosIdentity>,
    /// Where names outside the view's zones are forwarded, for a view with `recursion = true`.
    pub recursion: Option<Recursion>,
    by_origin: HashMap<Box<[u8]>, usize>,
    /// Zones held back at the last start or reload (their files did not load, or a check found
    /// an error in this view's copy): served from the previous data where there was some,
    /// otherwise not served (SERVFAIL).
    pub failed: Vec<FailedZone>,
    /// Origins (lowercased wire) of the failed zones that have no data at all.
    unavailable: HashMap<Box<[u8]>, ()>,
}

/// A zone held back (its files did not load, or its checks found an error): what went wrong, and
/// whether older data still serves.
#[derive(Debug, Clone)]
pub struct FailedZone {
    pub origin: Name,
    /// Each problem as `file:line: message`.
    pub errors: Vec<String>,
    /// The previous snapshot's copy is served (false: the zone's names get SERVFAIL).
    pub stale: bool,
}

/// Which zone holds a name, as a view sees it.
#[derive(Debug, Clone, Copy)]
pub enum ZoneMatch<'a> {
    Served(&'a ViewZone),
    /// The most specific zone is configured but has no data (its files never loaded).
    Unavailable,
    None,
}

impl View {
    /// A view with no zones yet; `chaos`: answer the CHAOS identity queries with this host's.
    pub fn new(name: String, clients: Vec<IpNet>, chaos: bool) -> View {
        View {
            name,
            clients,
            zones: Vec::new(),
            chaos: chaos.then(ChaosIdentity::of_this_host),
            recursion: None,
            by_origin: HashMap::new(),
            failed: Vec::new(),
            unavailable: HashMap::new(),
        }
    }

    /// Records a zone held back: `previous` data takes the place of any copy of it this view has,
    /// or without it the zone is not served. Held back again (its previous data failing too), it
    /// keeps every reason given.
    pub fn add_failed(&mut self, failed: FailedZone, previous: Option<ViewZone>) {
        let origin: Box<[u8]> = failed.origin.as_wire().into();
        let served = self.by_origin.get(&origin).copied();
        match (previous, served) {
            (Some(zone), Some(index)) => self.zones[index] = zone,
            (Some(zone), None) => self.add_zone(zone),
            (None, served) => {
                if let Some(index) = served {
                    self.zones.remove(index);
                    self.by_origin = (self.zones.iter().enumerate())
                        .map(|(index, zone)| (zone.origin.as_wire().into(), index))
                        .collect();
                }
                self.unavailable.insert(origin, ());
            }
        }
        match self.failed.iter_mut().find(|f| f.origin == failed.origin) {
            Some(known) => {
                // Held back again (its previous data failed too): the same error is said once.
                for error in failed.errors {
                    if !known.errors.contains(&error) {
                        known.errors.push(error);
                    }
                }
                known.stale = failed.stale;
            }
            None => self.failed.push(failed),
        }
    }

    /// [`View::zone_for`], telling apart a name in a configured zone that has no data.
    pub fn find_zone(&self, qname: &[u8], qtype: u16) -> ZoneMatch<'_> {
        if !self.unavailable.is_empty() {
            let offsets = name::suffix_offsets(qname).chain(std::iter::once(qname.len() - 1));
            for offset in offsets {
                let suffix = &qname[offset..];
                if self.unavailable.contains_key(suffix) {
                    return ZoneMatch::Unavailable;
                }
                if self.by_origin.contains_key(suffix) {
                    break;
                }
            }
        }
        match self.zone_for(qname, qtype) {
            Some(zone) => ZoneMatch::Served(zone),
            None => ZoneMatch::None,
        }
    }

    /// Adds a zone (its origin must not be served by this view already).
    pub fn add_zone(&mut self, zone: ViewZone) {
        self.by_origin
            .insert(zone.origin.as_wire().into(), self.zones.len());
        self.zones.push(zone);
    }

    /// The most specific zone containing `qname` (lowercased wire). A DS query for a zone's apex
    /// belongs to the parent side of the cut (RFC 4035 §3.1.4.1), so it skips that zone when the
    /// view also serves the parent.
    pub fn zone_for(&self, qname: &[u8], qtype: u16) -> Option<&ViewZone> {
        let mut found = None;
        for offset in name::suffix_offsets(qname).chain(std::iter::once(qname.len() - 1)) {
            if let Some(&index) = self.by_origin.get(&qname[offset..]) {
                if qtype == rtype::DS && offset == 0 && found.is_none() {
                    found = Some(index);
                    continue;
                }
                return Some(&self.zones[index]);
            }
        }
        found.map(|index| &self.zones[index])
    }
}

impl Snapshot {
    /// The view a request gets, and why: a request signed with a key (already verified) that a
    /// view lists gets that view whatever its source; any other by the most specific prefix
    /// containing its source address. The one place a view is chosen.
    pub fn view_for(&self, client: IpAddr, key: Option<usize>) -> Option<(&View, Route)> {
        if let Some(key) = key
            && let Some(Some(view)) = self.key_views.get(key)
        {
            let route = Route {
                view: *view,
                reason: Reason::Key(key),
            };
            return Some((&self.views[*view], route));
        }
        self.prefixes.lookup(client).map(|m| {
            let route = Route {
                view: m.view,
                reason: Reason::Prefix(m.prefix),
            };
            (&self.views[m.view], route)
        })
    }

    /// A key by its (wire, any case) name.
    pub fn key(&self, name: &[u8]) -> Option<(usize, &Key)> {
        let wanted = name::NameKey::from_wire(name)?;
        self.keys
            .iter()
            .position(|k| k.name.as_wire() == wanted.as_wire())
            .map(|index| (index, &*self.keys[index]))
    }

    /// One line naming each view with its zones and serials, for start-up and reload logs.
    pub fn summary(&self) -> String {
        let views: Vec<String> = self
            .views
            .iter()
            .map(|view| {
                let zones: Vec<String> = view
                    .zones
                    .iter()
                    .map(|z| format!("{} serial {}", z.origin, z.serial))
                    .collect();
                format!("view {} [{}]", view.name, zones.join(", "))
            })
            .collect();
        views.join("; ")
    }

    /// A view's zone by view name and (lowercased) origin.
    pub fn view_zone(&self, view: &str, origin: &Name) -> Option<&ViewZone> {
        let view = self.views.iter().find(|v| v.name == view)?;
        view.by_origin
            .get(origin.as_wire())
            .map(|&index| &view.zones[index])
    }

    /// A snapshot of `views` (indexed as the prefixes' view numbers), built from `files`;
    /// `keys` with the view each selects.
    pub fn new(
        views: Vec<View>,
        prefixes: impl IntoIterator<Item = (IpNet, usize)>,
        mut files: Vec<PathBuf>,
        keys: Vec<(Arc<Key>, Option<usize>)>,
    ) -> Snapshot {
        files.sort();
        files.dedup();
        let (keys, key_views) = keys.into_iter().unzip();
        Snapshot {
            prefixes: PrefixTable::new(prefixes),
            views,
            files,
            keys,
            key_views,
            shared_builds: Vec::new(),
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// What `version.bind` and `hostname.bind` (CHAOS class) answer, as TXT RDATA.
#[derive(Debug, Clone)]
pub struct ChaosIdentity {
    pub version: Box<[u8]>,
    pub hostname: Box<[u8]>,
}

impl ChaosIdentity {
    fn of_this_host() -> ChaosIdentity {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        ChaosIdentity {
            version: txt_rdata(&format!("splitdns {}", env!("CARGO_PKG_VERSION"))),
            hostname: txt_rdata(hostname.trim()),
        }
    }
}

/// One character-string (truncated to 255 octets) as TXT RDATA.
fn txt_rdata(text: &str) -> Box<[u8]> {
    let bytes = &text.as_bytes()[..text.len().min(255)];
    let mut rdata = Vec::with_capacity(bytes.len() + 1);
    rdata.push(bytes.len() as u8);
    rdata.extend_from_slice(bytes);
    rdata.into()
}
