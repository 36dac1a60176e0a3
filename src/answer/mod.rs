//! The request path from packet bytes to response bytes, [`respond`], shared by UDP, TCP, the
//! tests and the fuzzer: read the message, verify its TSIG (a key may choose the view), route
//! the client to its view, hand the question to [`route`], then sign the response and sum it up
//! as a [`Summary`] for the listener, the logs and the metrics.
//!
//! The stages below it, one module each: `route` (which zone, or which hand-off, answers in the
//! view), `chain` (the walk through one zone, CNAME and DNAME links included), `outcome` (one
//! function per outcome, writing the sections), `handoff` (the queries passed on to the resolver
//! or the transfer stage), with `rrset` and `additional` writing records. What the server does
//! next is one value, [`Next`]: send the response, hand the query to the resolver (in a
//! recursive view, a name that is not ours), or stream a zone transfer.

// The stages below were one body with `respond` or `resolve` when they shared a file; those
// marked `#[inline]` stay so now that codegen units may part them. In the release build, as
// before the split, only `respond`, `chain::resolve` and `rrset`'s writers stand alone.
mod additional;
mod chain;
mod compiled;
mod denial;
mod handoff;
mod outcome;
mod route;
mod rrset;

use std::net::IpAddr;

use crate::dns::rcode;
use crate::view::{Route, Snapshot};
use crate::wire::query::{self, Query, Rejection};
use crate::wire::tsig::{self, Failure, ResponseSigner};
use crate::wire::writer::{OptReply, ResponseWriter, Reuse};
use crate::wire::{self, Transport};
pub use compiled::{CompiledAnswers, Probe};
use handoff::Requester;
pub use outcome::{Next, Outcome};
use route::route;

#[derive(Debug, Clone)]
pub struct Summary {
    /// Index of the view that answered, if the client matched one.
    pub view: Option<usize>,
    /// The question's type; 0 when the message was rejected before its question was read.
    pub qtype: u16,
    /// How the view was chosen (source prefix, or the key that signed the request).
    pub route: Option<Route>,
    /// For [`Outcome::NotAuth`]: the TSIG error (BADKEY, BADSIG, BADTIME, BADTRUNC); else 0.
    pub tsig_error: u16,
    /// What happens next: send the response, or hand the query on; its outcome is what logs and
    /// metrics count ([`Summary::outcome`]).
    pub next: Next,
    pub truncated: bool,
    /// What rate limiting counts this response as: the name and type for data, one bucket per
    /// outcome for NXDOMAIN and errors (so random names do not each get a fresh allowance).
    pub rrl_identity: u64,
    /// Where the question ends in the response (a slipped response keeps only that much).
    pub question_end: usize,
    /// Whether the response may be sent again to the same request with another ID
    /// ([`CompiledAnswers`]).
    pub(crate) reuse: Reuse,
}

impl Summary {
    /// What happened to the query, for logs and metrics.
    pub fn outcome(&self) -> Outcome {
        self.next.outcome()
    }
}

/// Answers one DNS message from `client`, writing the response into `out`. Returns `None` when
/// the message must not be answered at all (too short, or itself a response).
pub fn respond(
    snapshot: &Snapshot,
    client: IpAddr,
    packet: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
) -> Option<Summary> {
    let header = query::Header::read(packet)?;
    let query = match query::parse(packet) {
        Ok(query) => query,
        Err(rejection) => {
            let (code, outcome) = match rejection {
                Rejection::Drop => return None,
                Rejection::FormErr => (rcode::FORMERR, Outcome::FormErr),
                Rejection::NotImp => (rcode::NOTIMP, Outcome::NotImp),
                Rejection::Refused => (rcode::REFUSED, Outcome::Refused),
            };
            let view = view_index(snapshot, client);
            return Some(header_only(out, header, code, outcome, view));
        }
    };
    // A signed request is verified before anything else: its key may choose the view. (The clock
    // is read only for signed requests.)
    let now = if query.tsig.is_some() { tsig::now() } else { 0 };
    let signed = match &query.tsig {
        None => None,
        Some(record) => match verify(snapshot, packet, record, now) {
            Ok(signed) => Some(signed),
            Err(failure) => return Some(tsig_failure(out, &query, header, failure, now)),
        },
    };
    let reserve = signed.map_or(0, |(_, key)| tsig::record_len(key));
    let max_len = transport.max_response_len(query.edns.map(|edns| edns.udp_payload)) - reserve;
    let opt = query.edns.map(|edns| OptReply {
        udp_payload: wire::SERVER_UDP_PAYLOAD,
        dnssec_ok: edns.dnssec_ok,
    });
    let mut writer = ResponseWriter::new(
        out,
        query.id,
        header.flags,
        Some((query.qname, query.qtype, query.qclass)),
        max_len,
        opt,
    );
    let key = signed.map(|(index, _)| index);
    let routed = snapshot.view_for(client, key);
    let requester = Requester {
        client,
        key,
        request_mac: query.tsig.map_or(&[][..], |t| t.mac),
        route: routed.map(|(_, route)| route),
    };
    let next = route(
        &mut writer,
        &query,
        routed.map(|(view, _)| view),
        transport,
        &requester,
    );
    let outcome = next.outcome();
    let truncated = writer.is_truncated();
    let question_end = writer.question_end();
    let mut reuse = writer.reuse();
    if signed.is_some() || !matches!(next, Next::Send(_)) || transport != Transport::Udp {
        // A signature is good for one request; forwarded and transferred answers are not ours
        // to repeat; only UDP answers are compiled.
        reuse.forbid();
    }
    writer.finish();
    if let Some((_, key)) = signed {
        // RFC 8945 §5.3: the response to a signed request is signed, whatever it says.
        let mac = query.tsig.map_or(&[][..], |t| t.mac);
        ResponseSigner::new(key, mac, now).sign(out, tsig::error::NOERROR, &[]);
    }
    let rrl_identity = match outcome {
        // A forwarded answer counts by name and type like our own data: what the upstream says
        // is not known yet.
        Outcome::Answer
        | Outcome::NoData
        | Outcome::Referral
        | Outcome::Chase
        | Outcome::Forward => fnv1a(query.key.as_wire(), query.qtype),
        other => other as u64,
    };
    Some(Summary {
        view: routed.map(|(_, m)| m.view),
        qtype: query.qtype,
        route: routed.map(|(_, m)| m),
        next,
        truncated,
        tsig_error: 0,
        rrl_identity,
        question_end,
        reuse,
    })
}

/// RFC 8945 §5.2: the key must be known (BADKEY), the MAC right (BADSIG), the time within the
/// fudge (BADTIME). Returns the key's index and the key.
fn verify<'s>(
    snapshot: &'s Snapshot,
    packet: &[u8],
    record: &tsig::Record,
    now: u64,
) -> Result<(usize, &'s tsig::Key), (Failure, Option<&'s tsig::Key>)> {
    let Some((index, key)) = snapshot.key(record.key_name) else {
        return Err((Failure::Tsig(tsig::error::BADKEY), None));
    };
    match tsig::verify_request(packet, record, key, now) {
        Ok(()) => Ok((index, key)),
        Err(failure) => Err((failure, Some(key))),
    }
}

/// The answer to a request whose TSIG failed: FORMERR for a malformed MAC; otherwise NOTAUTH
/// with the question and the TSIG error — unsigned for BADKEY and BADSIG (the key or MAC cannot
/// be trusted), signed for BADTIME and BADTRUNC, with our time in Other Data for BADTIME
/// (RFC 8945 §5.2.3) so the client can see the skew. No data either way.
fn tsig_failure(
    out: &mut Vec<u8>,
    query: &Query,
    header: query::Header,
    (failure, key): (Failure, Option<&tsig::Key>),
    now: u64,
) -> Summary {
    let record = query.tsig.expect("only signed requests fail TSIG");
    let code = match failure {
        Failure::FormErr => {
            return header_only(out, header, rcode::FORMERR, Outcome::FormErr, None);
        }
        Failure::Tsig(code) => code,
    };
    let mut writer = ResponseWriter::new(
        out,
        query.id,
        header.flags,
        Some((query.qname, query.qtype, query.qclass)),
        u16::MAX as usize,
        None,
    );
    writer.set_rcode(tsig::NOTAUTH as u16);
    let question_end = writer.question_end();
    writer.finish();
    match (code, key) {
        (tsig::error::BADTIME, Some(key)) => {
            // Time Signed is the request's (RFC 8945 §5.2.3), as BIND and Knot do.
            let ours = now.to_be_bytes();
            ResponseSigner::new(key, record.mac, record.time).sign(out, code, &ours[2..]);
        }
        (tsig::error::BADTRUNC, Some(key)) => {
            ResponseSigner::new(key, record.mac, now).sign(out, code, &[]);
        }
        _ => tsig::append_unsigned(out, &record, code, now),
    }
    Summary {
        view: None,
        route: None,
        qtype: query.qtype,
        next: Next::Send(Outcome::NotAuth),
        tsig_error: code,
        truncated: false,
        rrl_identity: 0x100 + code as u64,
        question_end,
        reuse: Reuse::NEVER,
    }
}

/// FNV-1a over a name and type: a cheap, stable identity for rate limiting.
fn fnv1a(name: &[u8], qtype: u16) -> u64 {
    name.iter()
        .chain(&qtype.to_be_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, &byte| {
            (hash ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// The view a client belongs to, for counting messages rejected before routing.
fn view_index(snapshot: &Snapshot, client: IpAddr) -> Option<usize> {
    snapshot.prefixes.lookup(client).map(|m| m.view)
}

fn header_only(
    out: &mut Vec<u8>,
    header: query::Header,
    code: u8,
    outcome: Outcome,
    view: Option<usize>,
) -> Summary {
    let mut writer = ResponseWriter::new(out, header.id, header.flags, None, 512, None);
    writer.set_rcode(code as u16);
    writer.finish();
    Summary {
        view,
        qtype: 0,
        route: None,
        next: Next::Send(outcome),
        tsig_error: 0,
        truncated: false,
        rrl_identity: outcome as u64,
        question_end: wire::HEADER_LEN,
        reuse: Reuse::NEVER,
    }
}
