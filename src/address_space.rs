//! Which addresses belong inside: RFC 1918, RFC 6598 shared space, loopback, link-local and IPv6
//! unique-local. Used to flag private addresses published to the Internet, and to decide which
//! views face public address space (where rate limiting is on by default).

use std::net::IpAddr;

use ipnet::IpNet;

/// The blocks that never route on the Internet, with what to call them.
const NON_PUBLIC: &[(&str, &str)] = &[
    ("10.0.0.0/8", "RFC 1918 private"),
    ("172.16.0.0/12", "RFC 1918 private"),
    ("192.168.0.0/16", "RFC 1918 private"),
    ("100.64.0.0/10", "RFC 6598 shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("::1/128", "loopback"),
    ("fc00::/7", "unique local (ULA)"),
    ("fe80::/10", "link-local"),
];

fn blocks() -> impl Iterator<Item = (IpNet, &'static str)> {
    NON_PUBLIC
        .iter()
        .map(|(net, kind)| (net.parse().expect("constant prefixes are valid"), *kind))
}

/// Why an address must not be published to the Internet, if it must not.
pub fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    let ip = ip.to_canonical();
    blocks()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, kind)| kind)
}

/// Whether a client prefix reaches beyond the non-public blocks (e.g. `0.0.0.0/0`).
pub fn covers_public_space(prefix: &IpNet) -> bool {
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
