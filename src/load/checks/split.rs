//! Checks about the split itself: what the outside must not see, what the inside cannot resolve,
//! and overrides that change nothing.

use std::sync::Arc;

use ipnet::IpNet;

use super::{Finding, Severity, address_of, name_text};
use crate::address_space::non_public_kind;
use crate::config::Config;
use crate::dns::rtype;
use crate::located::SourceLoc;
use crate::view::Snapshot;
use crate::view::lookup::Found;

/// Private, shared, loopback or link-local addresses published in a view that faces the Internet.
pub(super) fn private_addresses_in_public_views(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    for view in super::public_views(config, snapshot) {
        for zone in &view.zones {
            for (key, node) in zone.picked(super::picks::NON_PUBLIC_ADDRESSES) {
                for set in node
                    .rrsets
                    .iter()
                    .filter(|s| s.rtype == rtype::A || s.rtype == rtype::AAAA)
                {
                    for rdata in set.rdatas.iter() {
                        let Some(ip) = address_of(set.rtype, &rdata.wire) else {
                            continue;
                        };
                        if let Some(kind) = non_public_kind(ip) {
                            // "an RFC 1918 …" is read letter by letter; the other kinds are words.
                            let article = if kind.starts_with("RFC") { "an" } else { "a" };
                            findings.push(Finding::new(
                                "private-address-in-public-view",
                                Severity::Error,
                                Some(&view.name),
                                Some(&rdata.loc),
                                format!(
                                    "{} {} {ip} is {article} {kind} address, published in public view {:?}",
                                    name_text(key),
                                    rtype::mnemonic(set.rtype),
                                    view.name
                                ),
                            )
                            .about(name_text(key))
                            .in_zone(&zone.origin));
                        }
                    }
                }
            }
        }
    }
}

/// Names that exist in one view but are NXDOMAIN in another view of the same zone: what those
/// clients cannot resolve (the most common split-DNS complaint).
pub(super) fn names_missing_in_a_view(snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    for (index, view) in snapshot.views.iter().enumerate() {
        for zone in &view.zones {
            for (key, node) in zone.nodes() {
                let Some(first) = node.rrsets.first() else {
                    continue;
                };
                for (other_index, other) in snapshot.views.iter().enumerate() {
                    if other_index == index {
                        continue;
                    }
                    let Some(other_zone) = other.zone_for(key, rtype::A) else {
                        continue;
                    };
                    if other_zone.origin != zone.origin {
                        continue;
                    }
                    if let Found::NxDomain { .. } = other_zone.find(key, rtype::A) {
                        findings.push(
                            Finding::new(
                                "name-missing-in-view",
                                Severity::Info,
                                Some(&other.name),
                                Some(&first.rdatas[0].loc),
                                format!(
                                    "{} exists in view {:?} but is NXDOMAIN in view {:?}",
                                    name_text(key),
                                    view.name,
                                    other.name
                                ),
                            )
                            .about(name_text(key)),
                        );
                    }
                }
            }
        }
    }
}

/// Override RRsets identical to the shared RRset they replace.
pub(super) fn redundant_overrides(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    for view in &snapshot.views {
        for zone in &view.zones {
            for (key, node, shared) in zone.overridden() {
                let Some(shared) = shared else { continue };
                for set in node.rrsets.iter() {
                    let Some(shared_set) = shared.get(set.rtype) else {
                        continue;
                    };
                    let from_override = set.rdatas[0].loc != shared_set.rdatas[0].loc
                        && *set.rdatas[0].loc.file != config.path;
                    if from_override && set.same_data(shared_set) {
                        findings.push(Finding::new(
                            "redundant-override",
                            Severity::Info,
                            Some(&view.name),
                            Some(&set.rdatas[0].loc),
                            format!(
                                "{} {} is identical to the shared RRset it overrides ({}:{}); the override can go",
                                name_text(key),
                                rtype::mnemonic(set.rtype),
                                shared_set.rdatas[0].loc.file.display(),
                                shared_set.rdatas[0].loc.line
                            ),
                        )
                        .about(name_text(key)));
                    }
                }
            }
        }
    }
}

/// An inside view reached only over IPv4 while the server listens on IPv6 and a public view takes
/// every IPv6 client: an inside client (or a DC) asking over IPv6 gets the outside's answers.
pub(super) fn inside_views_without_ipv6(config: &Config, findings: &mut Vec<Finding>) {
    let listens_on_ipv6 = config.listen.iter().any(|addr| addr.is_ipv6());
    let public_takes_all_ipv6 = config.views.iter().any(|v| {
        v.public
            && v.clients
                .iter()
                .any(|net| matches!(net, IpNet::V6(_)) && net.prefix_len() == 0)
    });
    if !listens_on_ipv6 || !public_takes_all_ipv6 {
        return;
    }
    for view in config.views.iter().filter(|v| !v.public) {
        if view.clients.iter().all(|net| matches!(net, IpNet::V4(_))) {
            findings.push(Finding::new(
                "inside-view-without-ipv6",
                Severity::Warning,
                Some(&view.name),
                Some(&SourceLoc {
                    file: Arc::new(config.path.clone()),
                    line: view.line,
                }),
                format!(
                    "view {:?} lists no IPv6 prefix, but the server listens on IPv6 and a public view takes ::/0: inside clients and DCs asking over IPv6 get the outside's answers; add your inside IPv6 prefixes (e.g. a ULA fd00::/8 prefix)",
                    view.name
                ),
            )
            .about(&view.name));
        }
    }
}

/// A view's zone holding private addresses whose transfer ACL (the zone's for that view, or the
/// view's) lets a source reaching beyond private address space pull it without a key: the
/// inside's map for anyone who asks.
pub(super) fn transfers_open_to_anyone(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    for (index, (view_config, view)) in config.views.iter().zip(&snapshot.views).enumerate() {
        for zone in &view.zones {
            let acl = config.transfer_acl(index, &zone.origin);
            let Some(open) = acl
                .allow
                .iter()
                .find(|net| crate::address_space::covers_public_space(net))
            else {
                continue;
            };
            let private = zone.rrsets().find_map(|(key, set)| {
                set.rdatas.iter().find_map(|rdata| {
                    let ip = address_of(set.rtype, &rdata.wire)?;
                    non_public_kind(ip).map(|kind| (name_text(key), ip, kind))
                })
            });
            let Some((name, ip, kind)) = private else {
                continue;
            };
            findings.push(
                Finding::new(
                    "transfer-open-to-anyone",
                    Severity::Warning,
                    Some(&view.name),
                    Some(&SourceLoc {
                        file: Arc::new(config.path.clone()),
                        line: view_config.line,
                    }),
                    format!(
                        "zone {} of view {:?} may be transferred by anyone in {open} without a key, and it holds {kind} addresses (e.g. {name} {ip}): list only your secondaries' addresses in transfer.allow, or use transfer.keys",
                        zone.origin, view.name
                    ),
                )
                .about(&view.name),
            );
        }
    }
}

/// A view with secondaries (transferred, or notifying) without a place to keep the served
/// serials: a serial raised by splitdns falls back to the file's at restart, and the
/// secondaries ignore the zone until the file's catches up.
pub(super) fn serials_not_kept(config: &Config, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    if config.state_dir.is_some() {
        return;
    }
    for (index, (view_config, view)) in config.views.iter().zip(&snapshot.views).enumerate() {
        let secondaries = !view_config.notify.is_empty()
            || view
                .zones
                .iter()
                .any(|zone| *config.transfer_acl(index, &zone.origin) != Default::default());
        if !secondaries {
            continue;
        }
        findings.push(
            Finding::new(
                "serials-not-kept",
                Severity::Warning,
                Some(&view.name),
                Some(&SourceLoc {
                    file: Arc::new(config.path.clone()),
                    line: view_config.line,
                }),
                format!(
                    "view {:?} has secondaries, but no state_dir keeps its served serials: a serial splitdns raised (content changed without a serial increase) falls back to the file's at restart, and secondaries ignore the zone until it catches up; set state_dir (the systemd unit's StateDirectory, /var/lib/splitdns, is used when systemd runs splitdns)",
                    view.name
                ),
            )
            .about(&view.name),
        );
    }
}
