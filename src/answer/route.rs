//! The request's routing inside its view: EDNS version, class and type decide whether the query
//! is refused, answered from the view's CHAOS identity, handed to the transfer stage, or sent to
//! the zone that serves the name — or, in a recursive view, to the resolver.

use crate::dns::{class, rcode, rtype};
use crate::view::{ChaosIdentity, View, ZoneMatch};
use crate::wire::Transport;
use crate::wire::query::Query;
use crate::wire::writer::{ResponseWriter, Section};

use super::chain::resolve;
use super::handoff::{Requester, forward, transfer_request};
use super::outcome::{Next, Outcome, refused, servfail};

/// Decides which zone (if any) answers, then resolves the name in it.
#[inline]
pub(super) fn route(
    writer: &mut ResponseWriter,
    query: &Query,
    view: Option<&View>,
    transport: Transport,
    requester: &Requester,
) -> Next {
    if query.edns.is_some_and(|edns| edns.version > 0) {
        writer.set_rcode(rcode::BADVERS);
        return Next::Send(Outcome::BadVers);
    }
    let Some(view) = view else {
        return Next::Send(refused(writer));
    };
    // A recursive view says so on every response (RFC 1035 §4.1.1).
    writer.set_recursion_available(view.recursion.is_some());
    if query.qclass == class::CH {
        return Next::Send(match &view.chaos {
            Some(identity) => chaos_identity(writer, query, identity),
            None => refused(writer),
        });
    }
    if query.qclass != class::IN && query.qclass != class::ANY {
        return Next::Send(refused(writer));
    }
    match query.qtype {
        rtype::OPT => {
            writer.set_rcode(rcode::FORMERR as u16);
            return Next::Send(Outcome::FormErr);
        }
        rtype::AXFR | rtype::IXFR => {
            return transfer_request(writer, query, view, transport, requester);
        }
        _ => {}
    }
    let zone = match view.find_zone(query.key.as_wire(), query.qtype) {
        ZoneMatch::Served(zone) => Some(zone),
        ZoneMatch::Unavailable => return Next::Send(servfail(writer)),
        ZoneMatch::None => None,
    };
    if view.recursion.is_some()
        && let Some(to) = view.forward_for(query.key.as_wire(), zone)
    {
        return forward(writer, to);
    }
    match zone {
        Some(zone) => resolve(writer, view, zone, query, transport),
        None => Next::Send(refused(writer)),
    }
}

/// CHAOS-class `version.bind`/`version.server` and `hostname.bind`/`id.server` TXT, for views
/// that opt in; any other CHAOS name is REFUSED.
#[inline]
fn chaos_identity(writer: &mut ResponseWriter, query: &Query, identity: &ChaosIdentity) -> Outcome {
    let rdata = match query.key.as_wire() {
        b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => &identity.version,
        b"\x08hostname\x04bind\x00" | b"\x02id\x06server\x00" => &identity.hostname,
        _ => return refused(writer),
    };
    writer.set_authoritative(true);
    if query.qtype == rtype::TXT || query.qtype == rtype::ANY {
        let _ = writer.push_in_class(
            Section::Answer,
            query.qname,
            rtype::TXT,
            class::CH,
            0,
            rdata,
        );
        return Outcome::Answer;
    }
    Outcome::NoData
}
