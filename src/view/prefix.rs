//! Longest-prefix match from a client address to a view index. Built once per snapshot: the
//! nested prefixes are flattened into sorted, disjoint address ranges, each labelled with the most
//! specific prefix covering it, so a lookup is one binary search — O(log n) comparisons whatever
//! the mix of prefix lengths, with no allocation and no lock.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Default)]
pub struct PrefixTable {
    /// IPv4 ranges (addresses as u128 below 2^32), then IPv6 ranges, each sorted by start.
    v4: Vec<Range>,
    v6: Vec<Range>,
}

/// Addresses `start..=end`, all of whose most specific covering prefix is `matched`.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: u128,
    end: u128,
    matched: Match,
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
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for (net, view) in entries {
            let prefix = net.trunc();
            let matched = Match { view, prefix };
            match prefix {
                IpNet::V4(net) => v4.push((
                    u32::from(net.network()) as u128,
                    u32::from(net.broadcast()) as u128,
                    matched,
                )),
                IpNet::V6(net) => v6.push((
                    u128::from(net.network()),
                    u128::from(net.broadcast()),
                    matched,
                )),
            }
        }
        PrefixTable {
            v4: flatten(v4),
            v6: flatten(v6),
        }
    }

    /// The view for a client: the most specific prefix wins; IPv4-mapped IPv6 counts as IPv4.
    pub fn lookup(&self, client: IpAddr) -> Option<Match> {
        let (ranges, address) = match client.to_canonical() {
            IpAddr::V4(addr) => (&self.v4, u32::from(addr) as u128),
            IpAddr::V6(addr) => (&self.v6, u128::from(addr)),
        };
        let after = ranges.partition_point(|range| range.start <= address);
        let range = ranges.get(after.checked_sub(1)?)?;
        (address <= range.end).then_some(range.matched)
    }
}

/// Turns prefixes `(first, last, match)` — which nest or are disjoint, never partly overlap — into
/// disjoint ranges labelled with the innermost prefix, sorted by start.
fn flatten(mut prefixes: Vec<(u128, u128, Match)>) -> Vec<Range> {
    // Outer prefixes before the ones they contain: by start, then longest range first.
    prefixes.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut ranges = Vec::with_capacity(prefixes.len() * 2);
    let mut open: Vec<(u128, u128, Match)> = Vec::new();
    // The first address not yet assigned to a range (None once the whole space is done).
    let mut cursor: Option<u128> = Some(0);
    let mut emit = |cursor: &mut Option<u128>, end: u128, matched: Match| {
        if let Some(start) = *cursor
            && start <= end
        {
            ranges.push(Range {
                start,
                end,
                matched,
            });
            *cursor = end.checked_add(1);
        }
    };
    for prefix in prefixes {
        // Close the prefixes that end before this one starts.
        while let Some(&(_, end, matched)) = open.last() {
            if end >= prefix.0 {
                break;
            }
            emit(&mut cursor, end, matched);
            open.pop();
        }
        // The enclosing prefix covers the gap up to this one.
        if let (Some(&(_, _, matched)), Some(gap_end)) = (open.last(), prefix.0.checked_sub(1)) {
            emit(&mut cursor, gap_end, matched);
        }
        cursor = Some(prefix.0);
        open.push(prefix);
    }
    while let Some((_, end, matched)) = open.pop() {
        emit(&mut cursor, end, matched);
    }
    ranges
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

    /// The flattened table agrees with a brute-force longest-prefix match on random tables.
    #[test]
    fn agrees_with_brute_force() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..50 {
            let mut entries: Vec<(IpNet, usize)> = Vec::new();
            for _ in 0..(1 + round * 4) {
                let r = next();
                // Few distinct high bits, so that prefixes nest often.
                let addr = std::net::Ipv4Addr::from(
                    ((r as u32) & 0xff0f_0f0f) | (0x0a00_0000 * ((r >> 40) as u32 & 1)),
                );
                let len = (r >> 32) as u8 % 33;
                let net = IpNet::new(addr.into(), len).unwrap().trunc();
                if !entries.iter().any(|(n, _)| *n == net) {
                    entries.push((net, (r >> 50) as usize % 4));
                }
            }
            let table = PrefixTable::new(entries.clone());
            for _ in 0..500 {
                let r = next() as u32 & 0xff0f_0f0f | if next() & 1 == 0 { 0 } else { 0x0a00_0000 };
                let ip = IpAddr::V4(std::net::Ipv4Addr::from(r));
                let expected = entries
                    .iter()
                    .filter(|(net, _)| net.contains(&ip))
                    .max_by_key(|(net, _)| net.prefix_len())
                    .map(|(net, view)| Match {
                        view: *view,
                        prefix: *net,
                    });
                assert_eq!(table.lookup(ip), expected, "{ip} in {entries:?}");
            }
        }
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
