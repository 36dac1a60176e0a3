//! Checks about DANE: a TLSA record in a zone that no view signs. Senders use TLSA records only
//! when DNSSEC validates them (RFC 6698, RFC 7672), so such a record protects nothing, and an admin
//! who published it believes otherwise.

use super::{Finding, Severity, name_text};
use crate::config::Config;
use crate::dns::rtype;
use crate::view::Snapshot;

/// Each TLSA RRset of a zone that no view serves signed (the zone has no `dnssec`, or every
/// view that serves it says `dnssec = false`), once however many views share it.
pub(super) fn tlsa_in_unsigned_zones(
    config: &Config,
    snapshot: &Snapshot,
    findings: &mut Vec<Finding>,
) {
    for zone in &config.zones {
        let signed = zone.dnssec.is_some()
            && snapshot
                .views
                .iter()
                .zip(&config.views)
                .any(|(view, settings)| {
                    settings.dnssec && view.zones.iter().any(|z| z.origin == zone.origin)
                });
        if signed {
            continue;
        }
        let mut seen = Vec::new();
        for view in &snapshot.views {
            let Some(copy) = view.zones.iter().find(|z| z.origin == zone.origin) else {
                continue;
            };
            for (key, node) in copy.picked(super::picks::TLSA_OWNERS) {
                let Some(record) = node.get(rtype::TLSA).and_then(|set| set.rdatas.first()) else {
                    continue;
                };
                let place = (record.loc.file.clone(), record.loc.line);
                if seen.contains(&place) {
                    continue;
                }
                seen.push(place);
                let owner = name_text(key);
                findings.push(
                    Finding::new(
                        "tlsa-in-unsigned-zone",
                        Severity::Warning,
                        Some(&view.name),
                        Some(&record.loc),
                        format!(
                            "{owner} TLSA is in zone {}, which no view signs: senders use TLSA records only when DNSSEC validates them (RFC 6698, RFC 7672); sign the zone (dnssec = true in its [[zone]]) or remove the record",
                            zone.origin
                        ),
                    )
                    .about(&owner),
                );
            }
        }
    }
}
