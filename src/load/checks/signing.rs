//! Checks about signed zones: a view that serves a signed zone unsigned (its clients' validating
//! resolvers, told by the parent's DS that the zone is signed, find its answers bogus), and
//! DNSSEC records in the zone files of a zone splitdns signs (left out: splitdns makes them).

use std::collections::HashSet;
use std::sync::Arc;

use super::{Finding, Severity, name_text};
use crate::config::Config;
use crate::dns::rtype;
use crate::load::sign::signed_zones;
use crate::located::SourceLoc;
use crate::view::Snapshot;
use crate::view::zone::MADE_BY_SIGNER;

/// A view with `dnssec = false` that serves a zone other views sign.
pub(super) fn signed_zones_served_unsigned(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    for zone in signed_zones(config) {
        for (view_config, view) in config.views.iter().zip(&snapshot.views) {
            if view_config.dnssec || !view.zones.iter().any(|z| z.origin == zone.origin) {
                continue;
            }
            findings.push(
                Finding::new(
                    "signed-zone-unsigned-in-view",
                    Severity::Warning,
                    Some(&view.name),
                    Some(&SourceLoc {
                        file: Arc::new(config.path.clone()),
                        line: view_config.dnssec_line.unwrap_or(view_config.line),
                    }),
                    format!(
                        "view {:?} serves {} unsigned (dnssec = false) while other views sign it: a validating resolver of this view's clients that follows the DS at the parent finds every answer bogus (SERVFAIL); let the view sign it, or have those resolvers ask splitdns directly (a forward zone) with a negative trust anchor for {}",
                        view.name, zone.origin, zone.origin
                    ),
                )
                .about(&zone.origin),
            );
        }
    }
}

/// RRSIG, NSEC and NSEC3 records (and DNSKEY, CDS, CDNSKEY, NSEC3PARAM at the apex) in the files
/// of a zone splitdns signs: reported once per zone file and type.
pub(super) fn dnssec_records_in_signed_zones(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    let mut reported = HashSet::new();
    for zone in config.zones.iter().filter(|zone| zone.dnssec.is_some()) {
        let origin = zone.origin.as_wire();
        for (view_config, view) in config.views.iter().zip(&snapshot.views) {
            let Some(copy) = view.zones.iter().find(|z| z.origin == zone.origin) else {
                continue;
            };
            if !view_config.dnssec {
                continue;
            }
            for (owner, node) in copy.picked(super::picks::SIGNER_RECORDS) {
                for set in node.rrsets.iter() {
                    let at_apex_by_signer = owner == origin
                        && matches!(
                            set.rtype,
                            rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY | rtype::NSEC3PARAM
                        );
                    if !MADE_BY_SIGNER.contains(&set.rtype) && !at_apex_by_signer {
                        continue;
                    }
                    let loc = &set.rdatas[0].loc;
                    if !reported.insert((loc.file.clone(), set.rtype)) {
                        continue;
                    }
                    findings.push(
                        Finding::new(
                            "dnssec-records-in-signed-zone",
                            Severity::Warning,
                            None,
                            Some(loc),
                            format!(
                                "{} {} is left out: splitdns signs {} and makes its {} records itself (a zone signed elsewhere is loaded as its unsigned data; remove the DNSSEC records from the file, this is the first {} of it)",
                                name_text(owner),
                                rtype::mnemonic(set.rtype),
                                zone.origin,
                                rtype::mnemonic(set.rtype),
                                rtype::mnemonic(set.rtype)
                            ),
                        )
                        .about(name_text(owner)),
                    );
                }
            }
        }
    }
}
