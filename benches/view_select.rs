//! View selection micro-benchmark: `PrefixTable::lookup` with 10,000 client prefixes of
//! mixed lengths, IPv4 and IPv6, against a two-prefix table. Run with
//! `cargo bench --bench view_select`.
//!
//! The prefixes are generated with a fixed seed: 7,500 IPv4 prefixes (/12 to /32 inside 10/8 and
//! 172.16/12) and 2,500 IPv6 prefixes (/16 to /128 inside fd00::/8), spread over two views, plus
//! the default routes. A client that matches nothing specific probes every prefix length in use
//! before reaching /0: that is the worst case, measured separately.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use splitdns::PrefixTable;

const PREFIXES: usize = 10_000;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn many_prefixes() -> Vec<(IpNet, usize)> {
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    let mut seen = std::collections::HashSet::new();
    let mut entries = vec![
        ("0.0.0.0/0".parse().unwrap(), 1),
        ("::/0".parse().unwrap(), 1),
    ];
    seen.extend(entries.iter().map(|(net, _)| *net));
    while entries.len() < PREFIXES {
        let net = if !entries.len().is_multiple_of(4) {
            let base: u32 = if rng.next().is_multiple_of(2) {
                0x0A00_0000 | (rng.next() as u32 & 0x00FF_FFFF)
            } else {
                0xAC10_0000 | (rng.next() as u32 & 0x000F_FFFF)
            };
            let len = rng.range(12, 32) as u8;
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base), len).unwrap().trunc())
        } else {
            let bits =
                (0xFDu128 << 120) | (u128::from(rng.next()) << 56) | u128::from(rng.next() >> 8);
            let len = rng.range(16, 128) as u8;
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits), len).unwrap().trunc())
        };
        if seen.insert(net) {
            entries.push((net, entries.len() % 2));
        }
    }
    entries
}

fn bench(c: &mut Criterion) {
    let entries = many_prefixes();
    let big = PrefixTable::new(entries.iter().copied());
    let small = PrefixTable::new([
        ("127.0.0.2/32".parse().unwrap(), 0),
        ("0.0.0.0/0".parse().unwrap(), 1),
        ("::/0".parse().unwrap(), 1),
    ]);

    // A host inside the longest IPv4 prefix of the table, and one inside an IPv6 prefix.
    let v4_hit = entries
        .iter()
        .find_map(|(net, _)| match net {
            IpNet::V4(n) if n.prefix_len() == 32 => Some(IpAddr::V4(n.addr())),
            _ => None,
        })
        .expect("a /32 among the prefixes");
    let v6_hit = entries
        .iter()
        .find_map(|(net, _)| match net {
            IpNet::V6(n) if n.prefix_len() >= 64 => Some(IpAddr::V6(n.addr())),
            _ => None,
        })
        .expect("a long IPv6 prefix");
    // Outside every specific prefix: falls through to the default route.
    let v4_default: IpAddr = "198.51.100.7".parse().unwrap();
    let v6_default: IpAddr = "2001:db8::7".parse().unwrap();
    let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
    assert_eq!(
        big.lookup(v4_default).map(|m| m.prefix.prefix_len()),
        Some(0)
    );
    assert_eq!(
        big.lookup(v6_default).map(|m| m.prefix.prefix_len()),
        Some(0)
    );
    assert!(
        big.lookup(v4_hit)
            .is_some_and(|m| m.prefix.prefix_len() == 32)
    );

    let mut group = c.benchmark_group("view_select");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    let cases: [(&str, &PrefixTable, IpAddr); 7] = [
        (
            "2 prefixes, v4 /32 hit",
            &small,
            "127.0.0.2".parse().unwrap(),
        ),
        ("2 prefixes, v4 default", &small, v4_default),
        ("10k prefixes, v4 /32 hit", &big, v4_hit),
        ("10k prefixes, v4 default (worst)", &big, v4_default),
        ("10k prefixes, v6 long hit", &big, v6_hit),
        ("10k prefixes, v6 default (worst)", &big, v6_default),
        ("10k prefixes, v4-mapped v6 default", &big, mapped),
    ];
    for (name, table, ip) in cases {
        group.bench_function(name, |b| b.iter(|| black_box(table.lookup(black_box(ip)))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
