//! Which addresses belong inside: RFC 1918, RFC 6598 shared space, loopback, link-local and IPv6
//! unique-local. Used to flag private addresses published to the Internet, and to decide which
//! views face public address space (where rate limiting is on by default).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The blocks that never route on the Internet, with what to call them. Built as constants:
/// the checks ask about every address of every public view, 200,000 of them in a large zone.
const NON_PUBLIC: &[(IpNet, &str)] = &[
    (v4(10, 0, 0, 0, 8), "RFC 1918 private"),
    (v4(172, 16, 0, 0, 12), "RFC 1918 private"),
    (v4(192, 168, 0, 0, 16), "RFC 1918 private"),
    (v4(100, 64, 0, 0, 10), "RFC 6598 shared (carrier-grade NAT)"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v6(0, 1, 128), "loopback"),
    (v6(0xfc00, 0, 7), "unique local (ULA)"),
    (v6(0xfe80, 0, 10), "link-local"),
];

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> IpNet {
    IpNet::new_assert(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), len)
}

/// An IPv6 prefix whose first and last 16-bit groups are `first` and `last`.
const fn v6(first: u16, last: u16, len: u8) -> IpNet {
    IpNet::new_assert(
        IpAddr::V6(Ipv6Addr::new(first, 0, 0, 0, 0, 0, 0, last)),
        len,
    )
}

fn blocks() -> impl Iterator<Item = (IpNet, &'static str)> {
    NON_PUBLIC.iter().copied()
}

/// Why an address must not be published to the Internet, if it must not.
pub(crate) fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    let ip = ip.to_canonical();
    // Most addresses a public view holds are public: the first octet settles it for IPv4
    // before any prefix is compared (the checks ask for every address of a large zone).
    if let IpAddr::V4(v4) = ip
        && !matches!(v4.octets()[0], 10 | 100 | 127 | 169 | 172 | 192)
    {
        return None;
    }
    blocks()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, kind)| kind)
}

/// Whether a client prefix reaches beyond the non-public blocks (e.g. `0.0.0.0/0`).
pub(crate) fn covers_public_space(prefix: &IpNet) -> bool {
    !blocks().any(|(net, _)| net.contains(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_inside_private_blocks_do_not_cover_public_space() {
        for (prefix, public) in [
            ("0.0.0.0/0", true),
            ("::/0", true),
            ("10.0.0.0/8", false),
            ("10.1.0.0/16", false),
            ("8.0.0.0/7", true),
            ("127.0.0.2/32", false),
            ("192.0.2.0/24", true),
            ("fd00::/8", false),
        ] {
            assert_eq!(
                covers_public_space(&prefix.parse().unwrap()),
                public,
                "{prefix}"
            );
        }
    }
}
