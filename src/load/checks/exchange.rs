//! Checks about how Outlook finds and reaches Exchange: Autodiscover SRV records, wildcards and
//! apex web servers that intercept Autodiscover, domains with no Autodiscover at all, and the
//! namespace's addresses on each side.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::picks::{self, is_autodiscover_srv_owner};
use super::{Finding, Severity, address_of, name_text};
use crate::address_space::non_public_kind;
use crate::config::{Config, ExchangeConfig};
use crate::dns::name::{self, Name};
use crate::dns::rtype;
use crate::load::exchange::{AUTODISCOVER_PORT, AUTODISCOVER_SRV_PREFIX};
use crate::located::SourceLoc;
use crate::view::lookup::Found;
use crate::view::zone::{Node, ViewZone};
use crate::view::{Snapshot, View};

/// The node a view answers for a name (exact or wildcard), with the zone, if it serves the name.
fn answer_node<'v>(view: &'v View, key: &[u8]) -> Option<&'v Node> {
    let zone = view.zone_for(key, rtype::A)?;
    match zone.find(key, rtype::A) {
        Found::Exact(node) | Found::Wildcard { node, .. } => Some(node),
        _ => None,
    }
}

/// Every `_autodiscover._tcp` SRV record: port 443, and a target with an address, not a CNAME
/// (RFC 2782), in the same view. The target `.` is RFC 2782's "no such service here", published
/// on purpose: information, and nothing else is checked about it.
pub(super) fn autodiscover_srv_records(snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    for view in &snapshot.views {
        for zone in &view.zones {
            for (key, node) in zone.picked(picks::AUTODISCOVER_SRV_OWNERS) {
                let Some(srv) = node.get(rtype::SRV) else {
                    continue;
                };
                for rdata in srv.rdatas.iter() {
                    let Some((port, target)) = srv_port_and_target(&rdata.wire) else {
                        continue;
                    };
                    let owner = name_text(key);
                    let target_text = name_text(target);
                    // A finding about the target is about the target's zone too.
                    let mut report = |id, severity, message: String, target_zone: Option<&Name>| {
                        let finding =
                            Finding::new(id, severity, Some(&view.name), Some(&rdata.loc), message)
                                .about(&owner)
                                .in_zone(&zone.origin);
                        findings.push(match target_zone {
                            Some(origin) => finding.in_zone(origin),
                            None => finding,
                        });
                    };
                    if target == [0] {
                        let domain = name_text(&key[AUTODISCOVER_SRV_PREFIX.len()..]);
                        let domain = domain.trim_end_matches('.');
                        report(
                            "autodiscover-srv-no-service",
                            Severity::Info,
                            format!(
                                "{owner} SRV target . says {domain} offers no Autodiscover over SRV (RFC 2782): Outlook treats it as no SRV record and goes on to its other Autodiscover methods (the SCP in Active Directory, https://{domain}/autodiscover/, https://autodiscover.{domain}/ and its HTTP redirect)"
                            ),
                            None,
                        );
                        continue;
                    }
                    if port != AUTODISCOVER_PORT {
                        report(
                            "autodiscover-srv-port",
                            Severity::Error,
                            format!(
                                "{owner} SRV uses port {port}: Outlook only connects to Autodiscover on 443"
                            ),
                            None,
                        );
                    }
                    let target_key = target.to_ascii_lowercase();
                    let Some(target_zone) = view.zone_for(&target_key, rtype::A) else {
                        report(
                            "autodiscover-srv-target-not-served",
                            Severity::Warning,
                            format!(
                                "{owner} SRV target {target_text} is in no zone of this view, so its address cannot be checked here"
                            ),
                            None,
                        );
                        continue;
                    };
                    let target_zone = Some(&target_zone.origin);
                    match answer_node(view, &target_key) {
                        Some(node) if node.get(rtype::CNAME).is_some() => report(
                            "autodiscover-srv-target-cname",
                            Severity::Error,
                            format!(
                                "{owner} SRV target {target_text} is a CNAME: an SRV target must have its own A/AAAA records (RFC 2782)"
                            ),
                            target_zone,
                        ),
                        Some(node)
                            if node.get(rtype::A).is_some() || node.get(rtype::AAAA).is_some() => {}
                        _ => report(
                            "autodiscover-srv-target-no-address",
                            Severity::Error,
                            format!(
                                "{owner} SRV target {target_text} has no A or AAAA record in this view"
                            ),
                            target_zone,
                        ),
                    }
                }
            }
        }
    }
}

/// Whether a node's SRV records offer a service: one whose target is not `.`, which RFC 2782
/// makes "decidedly not available at this domain".
fn offers_srv(node: &Node) -> bool {
    node.get(rtype::SRV).is_some_and(|srv| {
        srv.rdatas
            .iter()
            .any(|rdata| srv_port_and_target(&rdata.wire).is_some_and(|(_, target)| target != [0]))
    })
}

fn srv_port_and_target(rdata: &[u8]) -> Option<(u16, &[u8])> {
    let port = u16::from_be_bytes(rdata.get(4..6)?.try_into().ok()?);
    let target = rdata.get(6..)?;
    name::wire_name_len(target).filter(|&len| len == target.len())?;
    Some((port, target))
}

/// `autodiscover.<zone>` answered by a wildcard: Outlook then talks to whatever the wildcard
/// points at (usually a web host with the wrong certificate).
pub(super) fn wildcards_capturing_autodiscover(snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    for view in &snapshot.views {
        for zone in &view.zones {
            let Ok(autodiscover) = zone.origin.prepend_label(b"autodiscover") else {
                continue;
            };
            let Found::Wildcard { node, .. } = zone.find(autodiscover.as_wire(), rtype::A) else {
                continue;
            };
            let captured = [rtype::A, rtype::AAAA, rtype::CNAME]
                .into_iter()
                .find_map(|t| node.get(t));
            if let Some(set) = captured {
                findings.push(Finding::new(
                    "wildcard-captures-autodiscover",
                    Severity::Warning,
                    Some(&view.name),
                    Some(&set.rdatas[0].loc),
                    format!(
                        "wildcard *.{} answers {autodiscover} ({}) because no explicit record exists: Outlook will try Autodiscover there",
                        zone.origin,
                        rtype::mnemonic(set.rtype)
                    ),
                )
                .about(&autodiscover));
            }
        }
    }
}

/// Why a domain needs Autodiscover, for the finding's place and advice.
enum NeedsAutodiscover<'c> {
    /// The parent domain of this block's namespace.
    Namespace(&'c ExchangeConfig),
    /// In this block's `srv_domains`.
    SrvDomain(&'c ExchangeConfig),
    /// A zone with an MX at its apex (the record's place) beside an `[[exchange]]` block.
    MailZone(SourceLoc),
}

/// A domain Outlook must find Autodiscover for, with neither `autodiscover.<domain>` (A, AAAA or
/// CNAME) nor an `_autodiscover._tcp.<domain>` SRV in a view: Outlook outside the domain (phones,
/// Macs, home PCs) then finds nothing and cannot set up a new profile. The domains are each
/// `[[exchange]]` namespace's parent, the `srv_domains`, and every zone with an MX at its apex
/// (with an `[[exchange]]` block, a mail domain served here is most likely an accepted domain;
/// one that is not is acknowledged). A view that holds no zone for either name is skipped: it
/// does not answer for the domain (another server or its resolver does). `SRV 0 0 0 .` ("no SRV
/// Autodiscover", RFC 2782) is the admin's explicit word that Outlook is to use the other methods,
/// so it silences the warning on its own; its info finding says what Outlook then does.
pub(super) fn domains_without_autodiscover(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    let Some(first) = config.exchange.first() else {
        return;
    };
    let block_loc = |block: &ExchangeConfig| SourceLoc {
        file: std::sync::Arc::new(config.path.clone()),
        line: block.line,
    };
    for view in &snapshot.views {
        let mut domains: BTreeMap<Name, NeedsAutodiscover> = BTreeMap::new();
        for block in &config.exchange {
            if let Some(parent) = block.namespace.parent().filter(|p| !p.is_root()) {
                domains
                    .entry(parent)
                    .or_insert(NeedsAutodiscover::Namespace(block));
            }
            for domain in &block.srv_domains {
                domains
                    .entry(domain.clone())
                    .or_insert(NeedsAutodiscover::SrvDomain(block));
            }
        }
        for zone in &view.zones {
            let mail = zone
                .node(zone.origin.as_wire())
                .and_then(|apex| apex.get(rtype::MX))
                .and_then(|mx| {
                    // A null MX (RFC 7505, exchange `.`) says the domain takes no mail.
                    mx.rdatas
                        .iter()
                        .find(|rdata| rdata.wire.get(2..) != Some(&[0][..]))
                });
            if let Some(rdata) = mail {
                domains
                    .entry(zone.origin.to_lowercase())
                    .or_insert(NeedsAutodiscover::MailZone(rdata.loc.clone()));
            }
        }
        for (domain, why) in domains {
            let (Ok(host), Some(srv)) = (
                domain.prepend_label(b"autodiscover"),
                crate::load::exchange::autodiscover_srv_owner(&domain),
            ) else {
                continue;
            };
            if view.zone_for(host.as_wire(), rtype::A).is_none()
                && view.zone_for(srv.as_wire(), rtype::SRV).is_none()
            {
                continue;
            }
            let has_host = answer_node(view, host.as_wire()).is_some_and(|node| {
                [rtype::A, rtype::AAAA, rtype::CNAME]
                    .into_iter()
                    .any(|t| node.get(t).is_some())
            });
            let has_srv = answer_node(view, srv.as_wire())
                .and_then(|node| node.get(rtype::SRV))
                .is_some();
            if has_host || has_srv {
                continue;
            }
            let domain_text = domain.to_string();
            let domain_text = domain_text.trim_end_matches('.');
            let (loc, namespace, advice) = match &why {
                NeedsAutodiscover::Namespace(block) => (
                    block_loc(block),
                    &block.namespace,
                    format!(
                        "set autodiscover = true in its [[exchange]] block (autodiscover.{domain_text} with the namespace's addresses in each view), or list {domain_text} in its srv_domains"
                    ),
                ),
                NeedsAutodiscover::SrvDomain(block) => (
                    block_loc(block),
                    &block.namespace,
                    "a zone-file record replaced the SRV srv_domains generates".to_string(),
                ),
                NeedsAutodiscover::MailZone(loc) => (
                    loc.clone(),
                    &first.namespace,
                    format!(
                        "list {domain_text} in an [[exchange]] block's srv_domains, which serves that SRV (or, if {domain_text} is not an Exchange accepted domain, acknowledge this finding)"
                    ),
                ),
            };
            findings.push(
                Finding::new(
                    "autodiscover-missing",
                    Severity::Warning,
                    Some(&view.name),
                    Some(&loc),
                    format!(
                        "neither autodiscover.{domain_text} nor _autodiscover._tcp.{domain_text} SRV exists in this view: Outlook outside the domain finds no Autodiscover for {domain_text} and new profiles fail; add {srv} SRV 0 0 443 {namespace} — {advice}"
                    ),
                )
                .about(&domain),
            );
        }
    }
}

/// Does this view's copy of the zone offer Autodiscover (an SRV record or autodiscover host)?
fn serves_autodiscover(zone: &ViewZone) -> bool {
    let srv = crate::load::exchange::autodiscover_srv_owner(&zone.origin)
        .is_some_and(|owner| zone.node(owner.as_wire()).is_some_and(offers_srv));
    let host = zone
        .origin
        .prepend_label(b"autodiscover")
        .is_ok_and(|host| {
            zone.node(host.as_wire())
                .is_some_and(|n| !n.rrsets.is_empty())
        });
    srv || host
}

/// An apex address in a public view of a domain that serves Autodiscover: Outlook probes
/// `https://<domain>/autodiscover/autodiscover.xml` first, and the web server there answers.
pub(super) fn apex_addresses_probed_by_outlook(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    for view in super::public_views(config, snapshot) {
        for zone in view.zones.iter().filter(|z| serves_autodiscover(z)) {
            let Some(apex) = zone.node(zone.origin.as_wire()) else {
                continue;
            };
            if let Some(set) = apex.get(rtype::A).or_else(|| apex.get(rtype::AAAA)) {
                findings.push(Finding::new(
                    "apex-address-probed-by-outlook",
                    Severity::Warning,
                    Some(&view.name),
                    Some(&set.rdatas[0].loc),
                    format!(
                        "{} has an {} record and serves Autodiscover: Outlook first tries https://{}/autodiscover/ and stops at a certificate error if that web server's certificate does not cover the bare domain",
                        zone.origin,
                        rtype::mnemonic(set.rtype),
                        zone.origin.to_string().trim_end_matches('.')
                    ),
                )
                .about(&zone.origin));
            }
        }
    }
}

/// The namespace should resolve differently inside and outside (else why split?), and to internal
/// addresses inside (else clients hairpin through the firewall). Namespaces are the `[[exchange]]`
/// namespaces and every Autodiscover SRV target.
pub(super) fn namespace_addresses(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    let mut namespaces: BTreeSet<Name> = config
        .exchange
        .iter()
        .map(|e| e.namespace.clone())
        .collect();
    for view in &snapshot.views {
        for zone in &view.zones {
            for (_, node) in zone.picked(picks::AUTODISCOVER_SRV_OWNERS) {
                for rdata in node
                    .get(rtype::SRV)
                    .into_iter()
                    .flat_map(|s| s.rdatas.iter())
                {
                    if let Some((_, target)) = srv_port_and_target(&rdata.wire)
                        && target != [0]
                        && let Ok(name) = Name::from_wire(target)
                    {
                        namespaces.insert(name.to_lowercase());
                    }
                }
            }
        }
    }
    for namespace in &namespaces {
        let per_view: Vec<(usize, BTreeSet<IpAddr>, Option<SourceLoc>)> = snapshot
            .views
            .iter()
            .enumerate()
            .filter_map(|(index, view)| {
                let node = answer_node(view, namespace.as_wire())?;
                let sets = [rtype::A, rtype::AAAA]
                    .into_iter()
                    .filter_map(|t| node.get(t));
                let mut addresses = BTreeSet::new();
                let mut loc = None;
                for set in sets {
                    for rdata in set.rdatas.iter() {
                        addresses.extend(address_of(set.rtype, &rdata.wire));
                        loc.get_or_insert_with(|| rdata.loc.clone());
                    }
                }
                (!addresses.is_empty()).then_some((index, addresses, loc))
            })
            .collect();
        for (inside, inside_addresses, loc) in
            per_view.iter().filter(|(i, ..)| !config.views[*i].public)
        {
            let inside_name = &config.views[*inside].name;
            let public: Vec<String> = inside_addresses
                .iter()
                .filter(|ip| non_public_kind(**ip).is_none())
                .map(ToString::to_string)
                .collect();
            if !public.is_empty() {
                findings.push(Finding::new(
                    "namespace-public-internally",
                    Severity::Warning,
                    Some(inside_name),
                    loc.as_ref(),
                    format!(
                        "namespace {namespace} resolves to public address {} in internal view {inside_name:?}: inside clients will need a NAT hairpin",
                        public.join(", ")
                    ),
                )
                .about(namespace));
            }
            for (outside, outside_addresses, _) in
                per_view.iter().filter(|(i, ..)| config.views[*i].public)
            {
                if outside_addresses == inside_addresses {
                    let outside_name = &config.views[*outside].name;
                    findings.push(Finding::new(
                        "namespace-same-in-both-views",
                        Severity::Warning,
                        Some(inside_name),
                        loc.as_ref(),
                        format!(
                            "namespace {namespace} resolves to the same addresses in views {inside_name:?} and {outside_name:?}: the split does nothing for it"
                        ),
                    )
                    .about(namespace));
                }
            }
        }
    }
}

/// A configured zone that holds nothing but its SOA, its NS and `_autodiscover._tcp` SRV: serving
/// the whole domain for one name takes over the rest of it (its web site, its mail) for everyone
/// sent here. `srv_domains` serves only `_autodiscover._tcp.<domain>` instead.
pub(super) fn zones_only_for_autodiscover_srv(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    for zone_config in &config.zones {
        let only_srv = snapshot.views.iter().all(|view| {
            let Some(zone) = view.zones.iter().find(|z| z.origin == zone_config.origin) else {
                return true;
            };
            let apex = zone.origin.as_wire();
            let mut has_srv = false;
            let only = zone.nodes().all(|(key, node)| {
                if key == apex {
                    return node
                        .rrsets
                        .iter()
                        .all(|set| matches!(set.rtype, rtype::SOA | rtype::NS));
                }
                if is_autodiscover_srv_owner(key) {
                    // "No Autodiscover over SRV" is no reason to take the domain.
                    has_srv |= offers_srv(node);
                    return node.rrsets.iter().all(|set| set.rtype == rtype::SRV);
                }
                // `_tcp.<domain>`, the empty non-terminal above the SRV.
                node.rrsets.is_empty()
            });
            only && has_srv
        });
        if only_srv {
            let domain = &zone_config.origin;
            findings.push(Finding::new(
                "zone-only-for-autodiscover-srv",
                Severity::Warning,
                None,
                Some(&SourceLoc {
                    file: std::sync::Arc::new(config.path.clone()),
                    line: zone_config.line,
                }),
                format!(
                    "zone {domain} holds only its SOA, NS and the Autodiscover SRV: serving all of {domain} answers NXDOMAIN for its web site and mail to everyone sent here; list {domain} in an [[exchange]] block's srv_domains instead, which serves only _autodiscover._tcp.{domain}"
                ),
            )
            .about(domain));
        }
    }
}
