//! Longest-prefix match from a client address to a view index. Built once per snapshot; a lookup
//! is at most one hash probe per distinct prefix length in use, with no allocation and no lock.

use foldhash::{HashMap, HashMapExt};
use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Default)]
pub struct PrefixTable {
    /// Prefix lengths in use, longest first, each with its networks → view index.
    v4: Vec<(u8, HashMap<u32, usize>)>,
    v6: Vec<(u8, HashMap<u128, usize>)>,
}

/// The prefix that selected a view, with that view's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub view: usize,
    pub prefix: IpNet,
}

impl PrefixTable {
    /// Builds the table from `(prefix, view index)` pairs; duplicates were rejected by config
    /// validation, so the last one simply wins here.
    pub fn new(entries: impl IntoIterator<Item = (IpNet, usize)>) -> PrefixTable {
        let mut v4: HashMap<u8, HashMap<u32, usize>> = HashMap::new();
        let mut v6: HashMap<u8, HashMap<u128, usize>> = HashMap::new();
        for (net, view) in entries {
            match net.trunc() {
                IpNet::V4(net) => {
                    v4.entry(net.prefix_len())
                        .or_default()
                        .insert(u32::from(net.network()), view);
                }
                IpNet::V6(net) => {
                    v6.entry(net.prefix_len())
                        .or_default()
                        .insert(u128::from(net.network()), view);
                }
            }
        }
        let mut v4: Vec<_> = v4.into_iter().collect();
        let mut v6: Vec<_> = v6.into_iter().collect();
        v4.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        v6.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        PrefixTable { v4, v6 }
    }

    /// The view for a client: the most specific prefix wins; IPv4-mapped IPv6 counts as IPv4.
    pub fn lookup(&self, client: IpAddr) -> Option<Match> {
        match client.to_canonical() {
            IpAddr::V4(addr) => {
                let bits = u32::from(addr);
                self.v4.iter().find_map(|(len, nets)| {
                    let network = bits & mask32(*len);
                    nets.get(&network).map(|&view| Match {
                        view,
                        prefix: IpNet::new(std::net::Ipv4Addr::from(network).into(), *len)
                            .expect("length came from a valid prefix"),
                    })
                })
            }
            IpAddr::V6(addr) => {
                let bits = u128::from(addr);
                self.v6.iter().find_map(|(len, nets)| {
                    let network = bits & mask128(*len);
                    nets.get(&network).map(|&view| Match {
                        view,
                        prefix: IpNet::new(std::net::Ipv6Addr::from(network).into(), *len)
                            .expect("length came from a valid prefix"),
                    })
                })
            }
        }
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, usize)]) -> PrefixTable {
        PrefixTable::new(
            entries
                .iter()
                .map(|(net, view)| (net.parse().unwrap(), *view)),
        )
    }

    fn view_of(table: &PrefixTable, ip: &str) -> Option<usize> {
        table.lookup(ip.parse().unwrap()).map(|m| m.view)
    }

    #[test]
    fn most_specific_prefix_wins_whatever_the_order() {
        let forward = table(&[("0.0.0.0/0", 1), ("10.0.0.0/8", 0), ("10.9.0.0/16", 2)]);
        let backward = table(&[("10.9.0.0/16", 2), ("10.0.0.0/8", 0), ("0.0.0.0/0", 1)]);
        for t in [&forward, &backward] {
            assert_eq!(view_of(t, "10.1.2.3"), Some(0));
            assert_eq!(view_of(t, "10.9.2.3"), Some(2));
            assert_eq!(view_of(t, "192.0.2.1"), Some(1));
        }
        let m = forward.lookup("10.9.0.1".parse().unwrap()).unwrap();
        assert_eq!(m.prefix.to_string(), "10.9.0.0/16");
    }

    #[test]
    fn mapped_ipv6_counts_as_ipv4_and_families_do_not_mix() {
        let t = table(&[("10.0.0.0/8", 0), ("2001:db8::/32", 1)]);
        assert_eq!(view_of(&t, "::ffff:10.1.1.1"), Some(0));
        assert_eq!(view_of(&t, "2001:db8::1"), Some(1));
        assert_eq!(view_of(&t, "192.0.2.1"), None);
        assert_eq!(view_of(&t, "2001:db9::1"), None);
    }

    #[test]
    fn host_routes_and_default_routes() {
        let t = table(&[
            ("127.0.0.2/32", 0),
            ("::/0", 1),
            ("0.0.0.0/0", 1),
            ("::1/128", 0),
        ]);
        assert_eq!(view_of(&t, "127.0.0.2"), Some(0));
        assert_eq!(view_of(&t, "127.0.0.3"), Some(1));
        assert_eq!(view_of(&t, "::1"), Some(0));
        assert_eq!(view_of(&t, "::2"), Some(1));
    }
}
