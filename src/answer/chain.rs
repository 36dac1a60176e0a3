//! The walk through one zone: the lookup at the query name, then CNAME and DNAME links followed
//! inside the zone, until one step ends in an outcome or the chain leaves the zone.

use crate::dns::name::{self, NameBuf, NameKey};
use crate::dns::{rcode, rtype};
use crate::view::lookup::Found;
use crate::view::zone::{RRset, ViewZone};
use crate::view::{Forward, View};
use crate::wire::Transport;
use crate::wire::query::Query;
use crate::wire::writer::{Full, ResponseWriter, Section};

use super::denial::Proofs;
use super::handoff::forward;
use super::outcome::{Next, Outcome, answer, nodata, nxdomain, referral, truncated};
use super::rrset::write_rrset;

/// Longest CNAME/DNAME chain followed inside a zone before the answer is returned as it stands.
const MAX_CHAIN: usize = 16;

/// Follows the query through one zone: CNAMEs and DNAMEs inside the zone are chased (a loop or
/// an over-long chain simply ends the answer), and the last step decides the outcome.
pub(super) fn resolve(
    writer: &mut ResponseWriter,
    view: &View,
    zone: &ViewZone,
    query: &Query,
    transport: Transport,
) -> Next {
    writer.set_authoritative(true);
    writer.set_signed(zone.is_signed() && writer.dnssec_ok());
    let mut proofs = Proofs::default();
    let next = walk(writer, view, zone, query, transport, &mut proofs);
    // An answer whose chain ended without writing its proofs (it left the zone, looped, or was
    // cut short): the authority section follows the chain.
    if matches!(next, Next::Send(Outcome::Answer) | Next::Chase(_))
        && !writer.is_truncated()
        && proofs.write(writer).is_err()
    {
        return Next::Send(truncated(writer, Outcome::Answer));
    }
    next
}

fn walk<'z>(
    writer: &mut ResponseWriter,
    view: &'z View,
    zone: &'z ViewZone,
    query: &Query,
    transport: Transport,
    proofs: &mut Proofs<'z>,
) -> Next {
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
        let found = zone.find(key.as_wire(), qtype);
        // The closest encloser, when a wildcard answers: where its proofs start.
        let wildcard = match found {
            Found::Wildcard { encloser_len, .. } => {
                let key = key.as_wire();
                Some(&key[key.len() - encloser_len..])
            }
            _ => None,
        };
        let next = match found {
            Found::Exact(node) | Found::Wildcard { node, .. } => {
                let signed = writer.signed();
                if signed
                    && let Some(encloser) = wildcard
                    && (node.get(qtype).is_some()
                        || qtype == rtype::ANY
                        || node.get(rtype::CNAME).is_some())
                {
                    proofs.wildcard_answer(zone, key.as_wire(), encloser);
                }
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
                        proofs,
                    ));
                }
                if let Some(set) = node.get(qtype) {
                    return Next::Send(answer(
                        writer,
                        view,
                        owner,
                        std::iter::once(&**set),
                        proofs,
                    ));
                }
                let Some(cname) = node.get(rtype::CNAME) else {
                    if signed {
                        proofs.nodata(zone, key.as_wire(), node, wildcard);
                    }
                    return Next::Send(nodata(writer, zone, proofs));
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
            Found::NxDomain { encloser_len } => {
                if writer.signed() {
                    let key = key.as_wire();
                    proofs.nxdomain(zone, key, &key[key.len() - encloser_len..]);
                }
                return Next::Send(nxdomain(writer, zone, proofs));
            }
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
