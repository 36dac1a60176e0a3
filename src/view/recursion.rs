//! A recursive view's forwarding table: which upstream servers a name outside the view's zones
//! goes to. The most specific of the view's served zones and its forward zones wins; a name in
//! no forward zone goes to the view's `forwarders`, and a name below a delegation inside one of
//! our zones goes to the delegated servers (their glue). Data only, like the rest of the
//! snapshot: the answer stage decides "forward", the resolver asks.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use super::View;
use super::zone::ViewZone;
use crate::dns::name::{self, Name, NameKey};
use crate::dns::rtype;

/// The port delegated name servers are asked on (glue carries addresses only).
pub(crate) const DNS_PORT: u16 = 53;

/// A view's forwarders and conditional forwarders.
#[derive(Debug)]
pub struct Recursion {
    /// Upstream recursive resolvers, in order: for every name no forward zone covers.
    pub forwarders: Arc<[SocketAddr]>,
    /// Conditional forwarders (`[[view.forward]]`), in config order.
    pub zones: Vec<ForwardZone>,
    by_origin: HashMap<Box<[u8]>, usize>,
}

/// Names at and below `origin` go to `to`.
#[derive(Debug)]
pub struct ForwardZone {
    /// Lowercased.
    pub origin: Name,
    pub to: Arc<[SocketAddr]>,
}

/// Where a forwarded query goes; small and `Copy`, so the request path can carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// To the servers of forward zone `Recursion::zones[i]`.
    Zone(usize),
    /// To the view's `forwarders`.
    Forwarders,
    /// To the name servers of the delegation whose cut is the last `cut_len` octets of the
    /// query name, at their glue addresses.
    Delegation { cut_len: usize },
}

impl Recursion {
    pub fn new(forwarders: Vec<SocketAddr>, zones: Vec<(Name, Vec<SocketAddr>)>) -> Recursion {
        let mut by_origin = HashMap::new();
        let zones: Vec<ForwardZone> = zones
            .into_iter()
            .enumerate()
            .map(|(index, (origin, to))| {
                by_origin.insert(origin.as_wire().into(), index);
                ForwardZone {
                    origin,
                    to: to.into(),
                }
            })
            .collect();
        Recursion {
            forwarders: forwarders.into(),
            zones,
            by_origin,
        }
    }

    /// The most specific forward zone containing `key` (a lowercased wire name): its index and
    /// the length of its origin.
    pub fn forward_zone(&self, key: &[u8]) -> Option<(usize, usize)> {
        if self.by_origin.is_empty() {
            return None;
        }
        name::suffix_offsets(key)
            .chain(std::iter::once(key.len() - 1))
            .find_map(|offset| {
                self.by_origin
                    .get(&key[offset..])
                    .map(|&index| (index, key.len() - offset))
            })
    }
}

impl View {
    /// Whether a recursive view forwards `key`, given `zone`, the served zone that contains it
    /// (if any): the most specific of the served zones and the forward zones wins, and a name
    /// in no zone at all goes to the forwarders. `None`: ours to answer (or not a recursive
    /// view).
    pub fn forward_for(&self, key: &[u8], zone: Option<&ViewZone>) -> Option<Forward> {
        let recursion = self.recursion.as_ref()?;
        let forward_zone = recursion
            .forward_zone(key)
            .filter(|&(_, len)| zone.is_none_or(|z| z.origin.as_wire().len() < len));
        match (forward_zone, zone) {
            (Some((index, _)), _) => Some(Forward::Zone(index)),
            (None, None) => Some(Forward::Forwarders),
            (None, Some(_)) => None,
        }
    }

    /// The servers a query for `key` routed to `forward` is sent to, in order. For a
    /// delegation: the addresses (A, then AAAA) of its name servers found in this view's
    /// zones, port 53; none when there is no glue (we do not resolve name server names).
    pub fn upstreams(&self, forward: Forward, key: &[u8]) -> Arc<[SocketAddr]> {
        let Some(recursion) = &self.recursion else {
            return Arc::new([]);
        };
        match forward {
            Forward::Zone(index) => recursion.zones[index].to.clone(),
            Forward::Forwarders => recursion.forwarders.clone(),
            Forward::Delegation { cut_len } => {
                let cut = &key[key.len().saturating_sub(cut_len)..];
                self.glue(cut).into()
            }
        }
    }

    /// The glue addresses of the delegation at `cut`.
    fn glue(&self, cut: &[u8]) -> Vec<SocketAddr> {
        let Some(ns) = self
            .zone_for(cut, rtype::NS)
            .and_then(|zone| zone.node(cut))
            .and_then(|node| node.get(rtype::NS))
        else {
            return Vec::new();
        };
        let mut addresses = Vec::new();
        for rdata in ns.rdatas.iter() {
            let Some(target) = NameKey::from_wire(&rdata.wire) else {
                continue;
            };
            let Some(node) = self
                .zone_for(target.as_wire(), rtype::A)
                .and_then(|zone| zone.node(target.as_wire()))
            else {
                continue;
            };
            for set in [rtype::A, rtype::AAAA].iter().filter_map(|&t| node.get(t)) {
                for address in set.rdatas.iter() {
                    let ip = match *address.wire {
                        [a, b, c, d] => IpAddr::from([a, b, c, d]),
                        ref v6 if v6.len() == 16 => {
                            IpAddr::from(<[u8; 16]>::try_from(v6).expect("16 octets"))
                        }
                        _ => continue,
                    };
                    let addr = SocketAddr::new(ip, DNS_PORT);
                    if !addresses.contains(&addr) {
                        addresses.push(addr);
                    }
                }
            }
        }
        addresses
    }
}
