//! The DANE checks a config asks for (`[dane]`), planned on a signed snapshot: every TLSA RRset a
//! chosen view serves signed at `_PORT._tcp.HOST`, compared at each of HOST's addresses in that
//! view (its A and AAAA records, health-checked or not; a HOST with none is not checked). Only
//! those addresses become targets: the checks reach nothing the zones do not name, and nothing at
//! all without `[dane]`. A TLSA record in a view that does not sign means nothing to a sender
//! (RFC 7672 §2.2): it is not compared, and `check` warns about it in a zone no view signs.

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
            // Only names whose first label starts with `_` are looked at further: the walk costs
            // one byte compare per name of a large zone.
            let services = zone.nodes_where(|key, node| {
                key.get(1) == Some(&b'_') && node.get(rtype::TLSA).is_some()
            });
            for (key, node) in services {
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
