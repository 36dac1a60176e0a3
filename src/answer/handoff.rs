//! The queries the answer stage hands on rather than answers itself: a name that is not ours in
//! a recursive view goes to the resolver ([`forward`]), and AXFR or IXFR becomes a
//! [`transfer::Request`] the TCP listener streams ([`transfer_request`]), for whom the zone's
//! transfer ACL permits.

use std::net::IpAddr;

use crate::dns::{rcode, rtype};
use crate::transfer;
use crate::view::{Forward, Route, View};
use crate::wire::Transport;
use crate::wire::query::Query;
use crate::wire::writer::{ResponseWriter, Section};

use super::outcome::{Next, Outcome, refused, truncated};

/// Who asks: the source address, the key that signed the request (verified), and how the view
/// was chosen. Transfers are permitted by these.
pub(super) struct Requester<'a> {
    pub(super) client: IpAddr,
    pub(super) key: Option<usize>,
    pub(super) request_mac: &'a [u8],
    pub(super) route: Option<Route>,
}

/// Not ours, in a recursive view: the resolver takes it. What is written meanwhile is the
/// SERVFAIL sent if it cannot (too many queries outstanding).
#[inline]
pub(super) fn forward(writer: &mut ResponseWriter, to: Forward) -> Next {
    writer.set_authoritative(false);
    writer.set_rcode(rcode::SERVFAIL as u16);
    Next::Forward(to)
}

/// AXFR or IXFR: only for a zone's apex, only for whom the zone's transfer ACL in this view
/// permits (REFUSED otherwise, RFC 5936 §4.2 and the default). Over TCP it becomes a
/// [`transfer::Request`] the listener streams. Over UDP, AXFR is REFUSED (RFC 5936 §4.2: TCP
/// only) and IXFR gets the single current SOA (RFC 1995 §2: it tells the client to ask over
/// TCP, or that it is current).
#[inline]
pub(super) fn transfer_request(
    writer: &mut ResponseWriter,
    query: &Query,
    view: &View,
    transport: Transport,
    requester: &Requester,
) -> Next {
    let Some(zone) = view
        .zone_for(query.key.as_wire(), rtype::SOA)
        .filter(|zone| zone.origin.as_wire() == query.key.as_wire())
    else {
        return Next::Send(refused(writer));
    };
    if !zone.transfer.permits(requester.client, requester.key) {
        return Next::Send(refused(writer));
    }
    match (transport, query.qtype) {
        (Transport::Udp, rtype::IXFR) => {
            writer.set_authoritative(true);
            let soa = &zone.soa;
            if writer
                .push(
                    Section::Answer,
                    zone.origin.as_wire(),
                    rtype::SOA,
                    soa.ttl,
                    &soa.rdatas[0].wire,
                )
                .is_err()
            {
                return Next::Send(truncated(writer, Outcome::Answer));
            }
            Next::Send(Outcome::Answer)
        }
        // A DoH response is one message: an AXFR or IXFR stream has no place in it (RFC 8484
        // §5.1 leaves transfers to the stream transports).
        (Transport::Udp | Transport::Doh, _) => Next::Send(refused(writer)),
        (Transport::Tcp | Transport::Dot, qtype) => Next::Transfer(transfer::Request {
            view: requester.route.map_or(0, |r| r.view),
            origin: zone.origin.as_wire().to_vec(),
            qname: query.qname.to_vec(),
            qtype,
            id: query.id,
            flags: query.flags,
            ixfr_serial: (qtype == rtype::IXFR)
                .then_some(query.authority_serial)
                .flatten(),
            key: requester.key,
            request_mac: requester.request_mac.to_vec(),
        }),
    }
}
