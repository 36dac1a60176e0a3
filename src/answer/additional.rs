//! Additional-section data: the A and AAAA records of the hosts that NS, MX, SRV, SVCB and HTTPS
//! records name, from the same view (RFC 1034 §4.3.2 step 6, RFC 2782; for SVCB and HTTPS also
//! the target's own SVCB or HTTPS set, RFC 9460 §4.1), including hosts that exist only
//! through a wildcard (RFC 4592: a lookup is a lookup; Knot and NSD synthesize them too). Each
//! address RRset goes in once per response (RFC 2181 §5.5). Additional data is optional: an
//! RRset that does not fit is left out whole, never in part, without truncating the response
//! (RFC 2181 §9) — except the glue of a referral's in-domain name servers, which RFC 9471 §2.1
//! requires: when that does not fit, the response is truncated.

use super::rrset::{target_name, write_rrset};
use crate::dns::name::{NameKey, is_subdomain};
use crate::dns::rtype;
use crate::view::View;
use crate::view::lookup::Found;
use crate::view::zone::{Node, RRset, Rdata, ViewZone};
use crate::wire::writer::{Full, ResponseWriter, Section};

/// Additional data for the targets of the sets in an answer at `owner`. A target's
/// address set that the answer itself holds (an ANY answer at a name that is its own MX, say)
/// is not repeated.
#[inline]
pub(super) fn add_target_addresses<'z>(
    writer: &mut ResponseWriter,
    view: &View,
    owner: &[u8],
    rrsets: impl Iterator<Item = &'z RRset> + Clone,
) {
    let in_answer = |target: &[u8], rtype: u16| {
        target.eq_ignore_ascii_case(owner) && rrsets.clone().any(|set| set.rtype == rtype)
    };
    let targets = rrsets
        .clone()
        .filter(|set| {
            matches!(
                set.rtype,
                rtype::NS | rtype::MX | rtype::SRV | rtype::SVCB | rtype::HTTPS
            )
        })
        .flat_map(|set| {
            let named = |rdata: &'z Rdata| {
                target_name(set.rtype, &rdata.wire).map(|target| (target, set.rtype))
            };
            set.rdatas.iter().filter_map(named)
        });
    // Optional data: what does not fit is left out, so the result does not matter.
    let _ = add_addresses(
        writer,
        targets,
        |key| view.zone_for(key, rtype::A),
        in_answer,
        false,
    );
}

/// Glue for a referral to `cut`: first the addresses of the name servers below the cut, which
/// must all fit (`Err(Full)`: the caller truncates, RFC 9471 §2.1), then those of other names in
/// this zone — sibling glue and the zone's own hosts — which are optional (RFC 9471 §2.2).
#[inline]
pub(super) fn add_glue(
    writer: &mut ResponseWriter,
    zone: &ViewZone,
    cut: &[u8],
    ns: &RRset,
) -> Result<(), Full> {
    let targets = ns
        .rdatas
        .iter()
        .filter_map(|rdata| Some((target_name(rtype::NS, &rdata.wire)?, rtype::NS)));
    let in_zone = |key: &[u8]| is_subdomain(key, zone.origin.as_wire());
    let nothing_answered = |_: &[u8], _: u16| false;
    let in_domain = |key: &[u8]| (in_zone(key) && is_subdomain(key, cut)).then_some(zone);
    add_addresses(writer, targets.clone(), in_domain, nothing_answered, true)?;
    let other = |key: &[u8]| (in_zone(key) && !is_subdomain(key, cut)).then_some(zone);
    let _ = add_addresses(writer, targets, other, nothing_answered, false);
    Ok(())
}

/// Writes the A and AAAA sets (and for an SVCB or HTTPS target, its set of that type) of each
/// distinct target that `zone_of` finds a zone for; `targets` pairs each with the type of the
/// record naming it. On the first set that does not fit: rolled back, and `Err(Full)` if the
/// data is `required`.
#[inline]
fn add_addresses<'a, 'z>(
    writer: &mut ResponseWriter,
    targets: impl Iterator<Item = (&'a [u8], u16)> + Clone,
    zone_of: impl Fn(&[u8]) -> Option<&'z ViewZone>,
    already_answered: impl Fn(&[u8], u16) -> bool,
    required: bool,
) -> Result<(), Full> {
    for (index, (target, naming)) in targets.clone().enumerate() {
        let mut earlier = targets
            .clone()
            .take(index)
            .filter(|(name, _)| name.eq_ignore_ascii_case(target));
        // A host named twice (two MX preferences, or an NS and an MX) gets its addresses once.
        let addresses_added = earlier.clone().next().is_some();
        let service_added = earlier.any(|(_, earlier_naming)| earlier_naming == naming);
        let wanted = |rtype: u16| match rtype {
            rtype::A | rtype::AAAA => !addresses_added,
            _ => matches!(rtype, rtype::SVCB | rtype::HTTPS) && !service_added,
        };
        if !wanted(rtype::A) && !wanted(naming) {
            continue;
        }
        let Some(key) = NameKey::from_wire(target) else {
            continue;
        };
        let Some(zone) = zone_of(key.as_wire()) else {
            continue;
        };
        let Some(node) = address_node(zone, key.as_wire()) else {
            continue;
        };
        for rtype in [rtype::A, rtype::AAAA, naming] {
            let Some(set) = node.get(rtype).filter(|_| wanted(rtype)) else {
                continue;
            };
            if already_answered(target, rtype) {
                continue;
            }
            let mark = writer.mark();
            if write_rrset(writer, Section::Additional, target, set).is_err() {
                // Part of an RRset would read as the whole of it to a cache.
                writer.rollback(mark);
                return if required { Err(Full) } else { Ok(()) };
            }
        }
    }
    Ok(())
}

/// The node whose addresses a target has: its own (glue below a cut included), or, when the name
/// does not exist, the wildcard that would answer a query for it.
#[inline]
fn address_node<'z>(zone: &'z ViewZone, key: &[u8]) -> Option<&'z Node> {
    zone.node(key).or_else(|| match zone.find(key, rtype::A) {
        Found::Wildcard { node, .. } => Some(node),
        _ => None,
    })
}
