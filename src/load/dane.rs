//! The DANE checks a config asks for (`[dane]`), planned on a signed snapshot: every TLSA RRset a
//! chosen view serves signed at `_PORT._tcp.HOST`, compared at each of HOST's addresses in that
//! view (its A and AAAA records, health-checked or not; a HOST with none is not checked). Only
//! those addresses become targets: the checks reach nothing the zones do not name, and nothing at
//! all without `[dane]`. A TLSA record in a view that does not sign means nothing to a sender
//! (RFC 7672): it is not compared, and `check` warns about it in a zone no view signs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::dns::name::fmt_wire_name;
use crate::dns::rtype;
use crate::health::dane::{Check, Opening, Plan, Target, Tlsa};
use crate::view::{Snapshot, View};

/// The DANE checks of `snapshot` (signed already) under `config`.
pub(crate) fn plan(config: &Config, snapshot: &Snapshot) -> Plan {
    let mut plan = Plan::default();
    let Some(dane) = &config.dane else {
        return plan;
    };
    let mut index: HashMap<Target, usize> = HashMap::new();
    for &view_index in &dane.views {
        let view = &snapshot.views[view_index];
        for zone in view.zones.iter().filter(|zone| zone.is_signed()) {
            for (key, node) in zone.picked(super::checks::picks::TLSA_OWNERS) {
                let Some((port, host)) = service(key) else {
                    continue;
                };
                let Some(set) = node.get(rtype::TLSA) else {
                    continue;
                };
                let records: Arc<[Tlsa]> = set
                    .rdatas
                    .iter()
                    .filter_map(|rdata| Tlsa::from_rdata(&rdata.wire))
                    .collect();
                let opening = if dane.settings.smtp_ports.contains(&port) {
                    Opening::SmtpStarttls
                } else {
                    Opening::Tls
                };
                for address in addresses(view, host) {
                    let target = Target {
                        address,
                        port,
                        server_name: text(host),
                        opening,
                        interval: dane.settings.interval,
                        timeout: dane.settings.timeout,
                    };
                    let next = plan.targets.len();
                    let target = *index.entry(target.clone()).or_insert_with(|| {
                        plan.targets.push(target);
                        next
                    });
                    plan.checks.push(Check {
                        view: view.name.clone(),
                        name: text(key),
                        target,
                        records: records.clone(),
                    });
                }
            }
        }
    }
    plan
}

/// The port and the host's wire name of a TLSA owner `_PORT._tcp.HOST` (a lowercased wire name).
fn service(key: &[u8]) -> Option<(u16, &[u8])> {
    let (&len, rest) = key.split_first()?;
    let (label, rest) = rest.split_at_checked(usize::from(len))?;
    let digits = label.strip_prefix(b"_")?;
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let port = std::str::from_utf8(digits).ok()?.parse::<u16>().ok()?;
    let host = rest.strip_prefix(b"\x04_tcp")?;
    (port != 0 && host != [0]).then_some((port, host))
}

/// The addresses of `host` (a lowercased wire name) in `view`: its A records, then its AAAA.
fn addresses(view: &View, host: &[u8]) -> Vec<IpAddr> {
    let Some(node) = view
        .zone_for(host, rtype::A)
        .and_then(|zone| zone.node(host))
    else {
        return Vec::new();
    };
    [rtype::A, rtype::AAAA]
        .into_iter()
        .filter_map(|rtype| node.get(rtype))
        .flat_map(|set| set.rdatas.iter())
        .filter_map(|rdata| match rdata.wire.len() {
            4 => <[u8; 4]>::try_from(&rdata.wire[..]).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(&rdata.wire[..]).ok().map(IpAddr::from),
            _ => None,
        })
        .collect()
}

/// A wire name as text, without the final dot.
fn text(wire: &[u8]) -> String {
    let mut text = String::new();
    let _ = fmt_wire_name(wire, &mut text);
    text.trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    /// A signed load's plan: each TLSA RRset of a view that `[dane]` names and that serves the
    /// zone signed, at its host's A and AAAA there, with STARTTLS on the SMTP ports; nothing in a
    /// view that serves it unsigned, nor in one `[dane]` leaves out. One target per address,
    /// port and name, whichever views share it.
    #[test]
    fn checks_are_planned_where_a_view_signs_and_dane_asks() {
        let digest = "0123456789abcdef".repeat(4);
        let dir = Scratch::new("load-dane");
        dir.write("state/.keep", "");
        dir.write(
            "z.zone",
            &format!(
                "$ORIGIN contoso.example.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.53\n\
                 mail A 192.0.2.25\nmail AAAA 2001:db8::25\nwww A 192.0.2.80\n\
                 _25._tcp.mail TLSA 3 1 1 {digest}\n_443._tcp.www TLSA 2 1 1 {digest}\n\
                 _443._tcp.nohost TLSA 3 1 1 {digest}\n"
            ),
        );
        let config = dir.write(
            "splitdns.toml",
            "state_dir = \"state\"\n\
             [[view]]\nname = \"inside\"\nclients = [\"10.0.0.0/8\"]\ndnssec = false\n\
             [[view]]\nname = \"branch\"\nclients = [\"192.168.0.0/16\"]\n\
             [[view]]\nname = \"outside\"\nclients = [\"0.0.0.0/0\"]\n\
             [[zone]]\norigin = \"contoso.example\"\nfile = \"z.zone\"\ndnssec = true\n\
             [dane]\nviews = [\"inside\", \"outside\", \"branch\"]\n",
        );
        let plan = crate::load::reload(&config, None)
            .expect("loads")
            .health
            .dane;
        let mut checks: Vec<(String, String, String, Opening)> = plan
            .checks
            .iter()
            .map(|check| {
                let target = &plan.targets[check.target];
                (
                    check.view.clone(),
                    check.name.clone(),
                    target.socket().to_string(),
                    target.opening,
                )
            })
            .collect();
        checks.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
        let expected = |view: &str| {
            [
                (
                    view,
                    "_443._tcp.www.contoso.example",
                    "192.0.2.80:443",
                    Opening::Tls,
                ),
                (
                    view,
                    "_25._tcp.mail.contoso.example",
                    "192.0.2.25:25",
                    Opening::SmtpStarttls,
                ),
                (
                    view,
                    "_25._tcp.mail.contoso.example",
                    "[2001:db8::25]:25",
                    Opening::SmtpStarttls,
                ),
            ]
            .map(|(v, n, a, o)| (v.to_string(), n.to_string(), a.to_string(), o))
        };
        let mut both: Vec<_> = expected("branch")
            .into_iter()
            .chain(expected("outside"))
            .collect();
        both.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
        assert_eq!(checks, both);
        assert_eq!(plan.targets.len(), 3, "shared by the two views");
        assert_eq!(plan.checks[0].records.len(), 1);
    }

    /// The namespace's `_443._tcp` record is compared at the addresses its `[[exchange]]` block
    /// gives each view: the internal ones inside, the external one outside.
    #[test]
    fn an_exchange_namespace_is_checked_at_the_addresses_its_block_gives() {
        let digest = "0123456789abcdef".repeat(4);
        let dir = Scratch::new("load-dane-exchange");
        dir.write("state/.keep", "");
        dir.write(
            "z.zone",
            &format!(
                "$ORIGIN contoso.example.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.53\n\
                 _443._tcp.mail TLSA 3 1 1 {digest}\n"
            ),
        );
        let config = dir.write(
            "splitdns.toml",
            "state_dir = \"state\"\n\
             [[view]]\nname = \"internal\"\nclients = [\"10.0.0.0/8\"]\n\
             [[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\"]\n\
             [[exchange]]\nnamespace = \"mail.contoso.example\"\n\
             internal = [\"10.0.0.11\", \"10.0.0.12\"]\nexternal = [\"203.0.113.10\"]\n\
             [[zone]]\norigin = \"contoso.example\"\nfile = \"z.zone\"\ndnssec = true\n\
             [dane]\n",
        );
        let plan = crate::load::reload(&config, None)
            .expect("loads")
            .health
            .dane;
        let checks: Vec<(String, String)> = plan
            .checks
            .iter()
            .map(|check| {
                let target = &plan.targets[check.target];
                assert_eq!(target.server_name, "mail.contoso.example");
                assert_eq!(target.opening, Opening::Tls);
                (check.view.clone(), target.socket().to_string())
            })
            .collect();
        assert_eq!(
            checks,
            [
                ("internal".to_string(), "10.0.0.11:443".to_string()),
                ("internal".to_string(), "10.0.0.12:443".to_string()),
                ("external".to_string(), "203.0.113.10:443".to_string()),
            ]
        );
    }

    #[test]
    fn tlsa_owners_name_a_port_and_a_host() {
        let wire = |text: &str| {
            crate::dns::name::Name::parse(text, None)
                .unwrap()
                .as_wire()
                .to_vec()
        };
        let mx = wire("_25._tcp.mail.contoso.example.");
        assert_eq!(service(&mx), Some((25, &wire("mail.contoso.example.")[..])));
        for other in [
            "_25._udp.mail.contoso.example.",
            "_smtp._tcp.mail.contoso.example.",
            "_0._tcp.mail.contoso.example.",
            "_65536._tcp.mail.contoso.example.",
            "_25._tcp.",
            "mail.contoso.example.",
        ] {
            assert_eq!(service(&wire(other)), None, "{other}");
        }
    }
}
