//! Shapes the answer to one query: route the client to its view, find the zone, then one named
//! function per outcome — [`answer`], [`referral`], [`nodata`], [`nxdomain`], [`refused`],
//! [`forward`] — writes the sections. What the server does next is one value, [`Next`]: send the
//! response, hand the query to the resolver (in a recursive view, a name that is not ours), or
//! stream a zone transfer. [`respond`] is the whole request path from packet bytes to response
//! bytes and is shared by UDP, TCP, the tests and the fuzzer.

mod additional;
mod rrset;

use std::net::IpAddr;

use crate::dns::name::{self, NameBuf, NameKey};
use crate::dns::{class, rcode, rtype, soa};
use crate::transfer;
use crate::view::lookup::Found;
use crate::view::zone::{Node, RRset, ViewZone};
use crate::view::{ChaosIdentity, Forward, Route, Snapshot, View, ZoneMatch};
use crate::wire::query::{self, Query, Rejection};
use crate::wire::tsig::{self, Failure, ResponseSigner};
use crate::wire::writer::{Full, OptReply, ResponseWriter, Section};
use crate::wire::{self, Transport};
use rrset::{write_records, write_rrset};

/// What happened to a query, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answer,
    Referral,
    NoData,
    NxDomain,
    Refused,
    FormErr,
    NotImp,
    BadVers,
    /// The name is in a configured zone whose files have not loaded, or a health-checked RRset
    /// has every address down and is configured to answer none.
    ServFail,
    /// Not ours, in a recursive view: the resolver answers ([`Next::Forward`]).
    Forward,
    /// Our answer ends in a CNAME to a forwarded name, in a recursive view: the resolver
    /// follows it and appends the target's answer ([`Next::Chase`]).
    Chase,
    /// A TSIG failure (RFC 8945 §5.2): NOTAUTH with BADKEY, BADSIG, BADTIME or BADTRUNC.
    NotAuth,
    /// A zone transfer the TCP listener streams ([`Next::Transfer`]).
    Transfer,
}

impl Outcome {
    /// Every outcome, in the order of their `as usize` values (for per-outcome counters).
    pub const ALL: [Outcome; 13] = [
        Outcome::Answer,
        Outcome::Referral,
        Outcome::NoData,
        Outcome::NxDomain,
        Outcome::Refused,
        Outcome::FormErr,
        Outcome::NotImp,
        Outcome::BadVers,
        Outcome::ServFail,
        Outcome::Forward,
        Outcome::Chase,
        Outcome::NotAuth,
        Outcome::Transfer,
    ];

    /// A stable lower-case name (metric label, query log).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Answer => "answer",
            Outcome::Referral => "referral",
            Outcome::NoData => "nodata",
            Outcome::NxDomain => "nxdomain",
            Outcome::Refused => "refused",
            Outcome::FormErr => "formerr",
            Outcome::NotImp => "notimp",
            Outcome::BadVers => "badvers",
            Outcome::ServFail => "servfail",
            Outcome::Forward => "forwarded",
            Outcome::Chase => "chased",
            Outcome::NotAuth => "notauth",
            Outcome::Transfer => "transfer",
        }
    }

    /// The response code this outcome sends, by its mnemonic. A forwarded query's code is the
    /// upstream's, not known when it is handed to the resolver: "FORWARDED".
    pub fn rcode_name(self) -> &'static str {
        match self {
            Outcome::Answer | Outcome::Referral | Outcome::NoData => "NOERROR",
            Outcome::NxDomain => "NXDOMAIN",
            Outcome::Refused => "REFUSED",
            Outcome::FormErr => "FORMERR",
            Outcome::NotImp => "NOTIMP",
            Outcome::BadVers => "BADVERS",
            Outcome::ServFail => "SERVFAIL",
            Outcome::Forward | Outcome::Chase => "FORWARDED",
            Outcome::NotAuth => "NOTAUTH",
            Outcome::Transfer => "NOERROR",
        }
    }
}

/// What the server does with a query once the answer stage has seen it. One value, so where the
/// query goes cannot disagree with its outcome: the outcomes that hand it on carry where to.
#[derive(Debug, Clone)]
pub enum Next {
    /// Send the response written; this was its outcome (never `Forward`, `Chase` or `Transfer`,
    /// which are the other variants').
    Send(Outcome),
    /// Not ours, in a recursive view: the resolver answers, asking there. The response written
    /// meanwhile is the SERVFAIL sent when the resolver cannot take the query.
    Forward(Forward),
    /// Our answer ends in a CNAME to a forwarded name, in a recursive view: the resolver asks
    /// there for the target and appends its answer. The response written is our answer, the
    /// chain so far.
    Chase(Forward),
    /// A zone transfer the TCP listener streams. Nothing was written into the response.
    Transfer(transfer::Request),
}

impl Next {
    pub fn outcome(&self) -> Outcome {
        match self {
            Next::Send(outcome) => *outcome,
            Next::Forward(_) => Outcome::Forward,
            Next::Chase(_) => Outcome::Chase,
            Next::Transfer(_) => Outcome::Transfer,
        }
    }
}

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
    /// What happens next: send the response, or hand the query on.
    pub next: Next,
    /// `next`'s outcome, for logs and metrics.
    pub outcome: Outcome,
    pub truncated: bool,
    /// What rate limiting counts this response as: the name and type for data, one bucket per
    /// outcome for NXDOMAIN and errors (so random names do not each get a fresh allowance).
    pub rrl_identity: u64,
    /// Where the question ends in the response (a slipped response keeps only that much).
    pub question_end: usize,
}

/// Longest CNAME/DNAME chain followed inside a zone before the answer is returned as it stands.
const MAX_CHAIN: usize = 16;

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
        outcome,
        next,
        truncated,
        tsig_error: 0,
        rrl_identity,
        question_end,
    })
}

/// Who asks: the source address, the key that signed the request (verified), and how the view
/// was chosen. Transfers are permitted by these.
struct Requester<'a> {
    client: IpAddr,
    key: Option<usize>,
    request_mac: &'a [u8],
    route: Option<Route>,
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
        outcome: Outcome::NotAuth,
        next: Next::Send(Outcome::NotAuth),
        tsig_error: code,
        truncated: false,
        rrl_identity: 0x100 + code as u64,
        question_end,
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
        outcome,
        next: Next::Send(outcome),
        tsig_error: 0,
        truncated: false,
        rrl_identity: outcome as u64,
        question_end: wire::HEADER_LEN,
    }
}

/// Decides which zone (if any) answers, then resolves the name in it.
fn route(
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

/// Not ours, in a recursive view: the resolver takes it. What is written meanwhile is the
/// SERVFAIL sent if it cannot (too many queries outstanding).
fn forward(writer: &mut ResponseWriter, to: Forward) -> Next {
    writer.set_authoritative(false);
    writer.set_rcode(rcode::SERVFAIL as u16);
    Next::Forward(to)
}

/// AXFR or IXFR: only for a zone's apex, only for whom the zone's transfer ACL in this view
/// permits (REFUSED otherwise, RFC 5936 §4.2 and the default). Over TCP it becomes a
/// [`transfer::Request`] the listener streams. Over UDP, AXFR is REFUSED (RFC 5936 §4.2: TCP only) and IXFR gets the single
/// current SOA (RFC 1995 §2: it tells the client to ask over TCP, or that it is current).
fn transfer_request(
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
        (Transport::Udp, _) => Next::Send(refused(writer)),
        (Transport::Tcp, qtype) => Next::Transfer(transfer::Request {
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

/// CHAOS-class `version.bind`/`version.server` and `hostname.bind`/`id.server` TXT, for views
/// that opt in; any other CHAOS name is REFUSED.
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

/// Follows the query through one zone: CNAMEs and DNAMEs inside the zone are chased (a loop or
/// an over-long chain simply ends the answer), and the last step decides the outcome.
fn resolve(
    writer: &mut ResponseWriter,
    view: &View,
    zone: &ViewZone,
    query: &Query,
    transport: Transport,
) -> Next {
    writer.set_authoritative(true);
    let qtype = query.qtype;
    // The current name and its lookup key: the query's own until a CNAME or DNAME leads on, so
    // an answer without a chain copies and lowercases nothing beyond what the reader did.
    let mut chain: Option<(NameBuf, NameKey)> = None;
    // Names already followed, to stop a CNAME loop; empty (no allocation) unless a chain is.
    let mut visited: Vec<NameKey> = Vec::new();
    // DNAMEs already in the answer: one applied twice in a chain is written once (RFC 2181 §5.5).
    let mut dnames: Vec<&RRset> = Vec::new();
    // One lookup for the query name and one per link: a chain of MAX_CHAIN links is followed to
    // its end (the last target's data, NODATA or NXDOMAIN); a longer one stops before the link
    // after those, as Knot does at its own limit, and the resolver goes on from there.
    for links in 0..=MAX_CHAIN {
        let (owner, key) = match &chain {
            Some((name, key)) => (name.as_wire(), key),
            None => (query.qname, &query.key),
        };
        if visited.iter().any(|seen| seen.as_wire() == key.as_wire()) {
            return Next::Send(Outcome::Answer);
        }
        let next = match zone.find(key.as_wire(), qtype) {
            Found::Exact(node) | Found::Wildcard(node) => {
                if qtype == rtype::ANY && !node.rrsets.is_empty() {
                    // RFC 8482 §4.1: over UDP one RRset is enough, which keeps ANY useless as an
                    // amplifier; over TCP the client gets them all.
                    let limit = if transport == Transport::Udp {
                        1
                    } else {
                        usize::MAX
                    };
                    return Next::Send(answer(
                        writer,
                        view,
                        owner,
                        node.rrsets.iter().take(limit).map(|set| &**set),
                    ));
                }
                if let Some(set) = node.get(qtype) {
                    return Next::Send(answer(writer, view, owner, std::iter::once(&**set)));
                }
                let Some(cname) = node.get(rtype::CNAME) else {
                    return Next::Send(nodata(writer, zone));
                };
                if links == MAX_CHAIN {
                    return Next::Send(Outcome::Answer);
                }
                if write_rrset(writer, Section::Answer, owner, cname).is_err() {
                    return Next::Send(truncated(writer, Outcome::Answer));
                }
                NameBuf::from_wire(&cname.rdatas[0].wire).expect("CNAME targets are names")
            }
            // A recursive view resolves a delegated name for its clients (stub resolvers do not
            // follow referrals), unless the answer already holds a CNAME leading there.
            Found::Delegation { cut_len, .. } if view.recursion.is_some() && links == 0 => {
                return forward(writer, Forward::Delegation { cut_len });
            }
            Found::Delegation { node, cut_len } => {
                return Next::Send(referral(
                    writer,
                    zone,
                    &owner[owner.len() - cut_len..],
                    node,
                ));
            }
            Found::Dname { .. } if links == MAX_CHAIN => return Next::Send(Outcome::Answer),
            Found::Dname { node, owner_len } => {
                let dname = node.get(rtype::DNAME).expect("found by its DNAME");
                match synthesize_cname(writer, owner, owner_len, dname, &mut dnames) {
                    // The synthesized CNAME is the CNAME asked for: like one stored at the name,
                    // it answers a CNAME query and is not followed (RFC 1034 §4.3.2 step 3a;
                    // Knot and NSD do the same).
                    Ok(Some(_)) if qtype == rtype::CNAME => return Next::Send(Outcome::Answer),
                    Ok(Some(target)) => target,
                    Ok(None) => {
                        writer.set_rcode(rcode::YXDOMAIN as u16);
                        return Next::Send(Outcome::Answer);
                    }
                    Err(Full) => return Next::Send(truncated(writer, Outcome::Answer)),
                }
            }
            Found::NxDomain => return Next::Send(nxdomain(writer, zone)),
        };
        visited.push(key.clone());
        let next_key =
            NameKey::from_wire(next.as_wire()).expect("chain names are valid wire names");
        if !name::is_subdomain(next.as_wire(), zone.origin.as_wire()) {
            // The chain leaves the zone: the client's resolver follows it from here (RFC 6604
            // §2.1). A recursive view is that resolver when the target is forwarded: the
            // resolver appends the target's answer to this one.
            if view.recursion.is_some()
                && let Some(to) =
                    view.forward_for(next_key.as_wire(), view.zone_for(next_key.as_wire(), qtype))
            {
                return Next::Chase(to);
            }
            return Next::Send(Outcome::Answer);
        }
        chain = Some((next, next_key));
    }
    // Not reached: the pass with `links == MAX_CHAIN` returns on every path.
    Next::Send(Outcome::Answer)
}

/// RFC 6672 §2.2: the DNAME itself (unless `written` says the answer has it already), then a
/// CNAME from the query name to the name with the DNAME owner's suffix replaced by its target.
/// `Ok(None)` when that name would exceed 255 octets.
fn synthesize_cname<'z>(
    writer: &mut ResponseWriter,
    owner: &[u8],
    owner_len: usize,
    dname: &'z RRset,
    written: &mut Vec<&'z RRset>,
) -> Result<Option<NameBuf>, Full> {
    let dname_owner = &owner[owner.len() - owner_len..];
    if !written.iter().any(|set| std::ptr::eq(*set, dname)) {
        write_rrset(writer, Section::Answer, dname_owner, dname)?;
        written.push(dname);
    }
    let prefix = &owner[..owner.len() - owner_len];
    let Some(synthesized) = NameBuf::concat(prefix, &dname.rdatas[0].wire) else {
        return Ok(None);
    };
    writer.push(
        Section::Answer,
        owner,
        rtype::CNAME,
        dname.ttl,
        synthesized.as_wire(),
    )?;
    Ok(Some(synthesized))
}

/// The data asked for, with the addresses of any NS, MX or SRV targets as additional data.
fn answer<'z>(
    writer: &mut ResponseWriter,
    view: &View,
    owner: &[u8],
    rrsets: impl Iterator<Item = &'z RRset> + Clone,
) -> Outcome {
    for set in rrsets.clone() {
        let records = set.answered(writer.id());
        if records.len() == 0 && set.health.is_some() {
            return servfail(writer);
        }
        if write_records(writer, Section::Answer, owner, set, records).is_err() {
            return truncated(writer, Outcome::Answer);
        }
    }
    additional::add_target_addresses(writer, view, owner, rrsets);
    Outcome::Answer
}

/// A delegation: the cut's NS set in authority, AA clear, and the addresses of the name servers
/// (glue) as additional data; truncated when the glue below the cut does not fit (RFC 9471).
fn referral(writer: &mut ResponseWriter, zone: &ViewZone, cut: &[u8], node: &Node) -> Outcome {
    // A referral reached through an in-zone CNAME still carries authoritative answer data.
    if writer.count(Section::Answer) == 0 {
        writer.set_authoritative(false);
    }
    let ns = node.get(rtype::NS).expect("a cut has an NS set");
    if write_rrset(writer, Section::Authority, cut, ns).is_err()
        || additional::add_glue(writer, zone, cut, ns).is_err()
    {
        return truncated(writer, Outcome::Referral);
    }
    Outcome::Referral
}

/// The name exists but has no data of the type asked for: the SOA in authority (RFC 2308 §2.2).
fn nodata(writer: &mut ResponseWriter, zone: &ViewZone) -> Outcome {
    if write_negative_soa(writer, zone).is_err() {
        return truncated(writer, Outcome::NoData);
    }
    Outcome::NoData
}

/// The name does not exist: NXDOMAIN with the SOA in authority (RFC 2308 §2.1).
fn nxdomain(writer: &mut ResponseWriter, zone: &ViewZone) -> Outcome {
    writer.set_rcode(rcode::NXDOMAIN as u16);
    if write_negative_soa(writer, zone).is_err() {
        return truncated(writer, Outcome::NxDomain);
    }
    Outcome::NxDomain
}

/// SERVFAIL, which resolvers retry elsewhere and cache only briefly (RFC 9520): the zone is ours
/// but its data did not load (rather than REFUSED, not ours, or an NXDOMAIN that would be
/// cached), or every address of a health-checked RRset is down and the admin chose
/// `all_down = "servfail"` (rather than a NODATA cached for the zone's negative TTL).
fn servfail(writer: &mut ResponseWriter) -> Outcome {
    writer.set_authoritative(false);
    writer.set_rcode(rcode::SERVFAIL as u16);
    Outcome::ServFail
}

/// Not ours to answer: no view for the client, or a name in no zone of its view.
fn refused(writer: &mut ResponseWriter) -> Outcome {
    writer.set_authoritative(false);
    writer.set_rcode(rcode::REFUSED as u16);
    Outcome::Refused
}

/// What did not fit: TC set, and the outcome stays what it was (the summary says truncated).
fn truncated(writer: &mut ResponseWriter, outcome: Outcome) -> Outcome {
    writer.truncate();
    outcome
}

/// The SOA for a negative answer, with the TTL RFC 2308 §3 asks for: the lesser of the SOA's own
/// TTL and its MINIMUM field.
fn write_negative_soa(writer: &mut ResponseWriter, zone: &ViewZone) -> Result<(), Full> {
    let soa = &zone.soa;
    let rdata = &soa.rdatas[0].wire;
    let ttl = soa.ttl.min(soa::minimum(rdata));
    writer.push(
        Section::Authority,
        zone.origin.as_wire(),
        rtype::SOA,
        ttl,
        rdata,
    )
}
