//! The vocabulary of the answer stage and its terminal writers: [`Outcome`] (what happened to a
//! query), [`Next`] (what the server does with it), and one function per outcome that writes
//! its sections — [`answer`], [`referral`], [`nodata`], [`nxdomain`], [`servfail`],
//! [`refused`] — plus [`truncated`] for whatever did not fit.

use crate::dns::{rcode, rtype, soa};
use crate::transfer;
use crate::view::zone::{Node, RRset, ViewZone};
use crate::view::{Forward, View};
use crate::wire::writer::{Full, ResponseWriter, Section};

use super::additional;
use super::denial::Proofs;
use super::rrset::{write_records, write_rrset};

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

/// The data asked for, with the addresses of any NS, MX or SRV targets as additional data.
#[inline]
pub(super) fn answer<'z>(
    writer: &mut ResponseWriter,
    view: &View,
    owner: &[u8],
    rrsets: impl Iterator<Item = &'z RRset> + Clone,
    proofs: &mut Proofs<'_>,
) -> Outcome {
    for set in rrsets.clone() {
        let records = set.answered(writer.id());
        if records.len() == 0 && set.health.is_some() {
            writer.forbid_reuse();
            return servfail(writer);
        }
        if write_records(writer, Section::Answer, owner, set, records).is_err() {
            return truncated(writer, Outcome::Answer);
        }
    }
    if proofs.write(writer).is_err() {
        return truncated(writer, Outcome::Answer);
    }
    additional::add_target_addresses(writer, view, owner, rrsets);
    Outcome::Answer
}

/// A delegation: the cut's NS set in authority, AA clear, and the addresses of the name servers
/// (glue) as additional data; truncated when the glue below the cut does not fit (RFC 9471).
#[inline]
pub(super) fn referral(
    writer: &mut ResponseWriter,
    zone: &ViewZone,
    cut: &[u8],
    node: &Node,
) -> Outcome {
    // A referral reached through an in-zone CNAME still carries authoritative answer data.
    if writer.count(Section::Answer) == 0 {
        writer.set_authoritative(false);
    }
    let ns = node.get(rtype::NS).expect("a cut has an NS set");
    if write_rrset(writer, Section::Authority, cut, ns).is_err()
        || write_delegation_proof(writer, zone, cut, node).is_err()
        || additional::add_glue(writer, zone, cut, ns).is_err()
    {
        return truncated(writer, Outcome::Referral);
    }
    Outcome::Referral
}

/// In a signed referral, the cut's DS set, or the NSEC or NSEC3 record that shows it has none
/// (an insecure delegation, RFC 4035 §3.1.4, RFC 5155 §7.2.7), each with its signatures.
fn write_delegation_proof(
    writer: &mut ResponseWriter,
    zone: &ViewZone,
    cut: &[u8],
    node: &Node,
) -> Result<(), Full> {
    if !writer.signed() {
        return Ok(());
    }
    if let Some(ds) = node.get(rtype::DS) {
        return write_rrset(writer, Section::Authority, cut, ds);
    }
    match zone.nsec3() {
        Some(chain) => match chain.matching(cut) {
            Some((owner, nsec3)) => write_rrset(writer, Section::Authority, owner, nsec3),
            None => Ok(()),
        },
        None => match &node.nsec {
            Some(nsec) => write_rrset(writer, Section::Authority, cut, nsec),
            None => Ok(()),
        },
    }
}

/// The name exists but has no data of the type asked for: the SOA in authority (RFC 2308 §2.2).
#[inline]
pub(super) fn nodata(
    writer: &mut ResponseWriter,
    zone: &ViewZone,
    proofs: &mut Proofs<'_>,
) -> Outcome {
    if write_negative_soa(writer, zone).is_err() || proofs.write(writer).is_err() {
        return truncated(writer, Outcome::NoData);
    }
    Outcome::NoData
}

/// The name does not exist: NXDOMAIN with the SOA in authority (RFC 2308 §2.1).
#[inline]
pub(super) fn nxdomain(
    writer: &mut ResponseWriter,
    zone: &ViewZone,
    proofs: &mut Proofs<'_>,
) -> Outcome {
    writer.set_rcode(rcode::NXDOMAIN as u16);
    if write_negative_soa(writer, zone).is_err() || proofs.write(writer).is_err() {
        return truncated(writer, Outcome::NxDomain);
    }
    Outcome::NxDomain
}

/// SERVFAIL, which resolvers retry elsewhere and cache only briefly (RFC 9520): the zone is ours
/// but its data did not load (rather than REFUSED, not ours, or an NXDOMAIN that would be
/// cached), or every address of a health-checked RRset is down and the admin chose
/// `all_down = "servfail"` (rather than a NODATA cached for the zone's negative TTL).
#[inline]
pub(super) fn servfail(writer: &mut ResponseWriter) -> Outcome {
    writer.set_authoritative(false);
    writer.set_rcode(rcode::SERVFAIL as u16);
    Outcome::ServFail
}

/// Not ours to answer: no view for the client, or a name in no zone of its view.
#[inline]
pub(super) fn refused(writer: &mut ResponseWriter) -> Outcome {
    writer.set_authoritative(false);
    writer.set_rcode(rcode::REFUSED as u16);
    Outcome::Refused
}

/// What did not fit: TC set, and the outcome stays what it was (the summary says truncated).
#[inline]
pub(super) fn truncated(writer: &mut ResponseWriter, outcome: Outcome) -> Outcome {
    writer.truncate();
    outcome
}

/// The SOA for a negative answer, with the TTL RFC 2308 §3 asks for: the lesser of the SOA's own
/// TTL and its MINIMUM field; in a signed answer its signatures too, at that TTL (RFC 4035
/// §3.1.3: the original TTL they carry is what validates).
fn write_negative_soa(writer: &mut ResponseWriter, zone: &ViewZone) -> Result<(), Full> {
    let soa = &zone.soa;
    let rdata = &soa.rdatas[0].wire;
    let ttl = soa.ttl.min(soa::minimum(rdata));
    let origin = zone.origin.as_wire();
    writer.push(Section::Authority, origin, rtype::SOA, ttl, rdata)?;
    if writer.signed()
        && let Some(sigs) = &soa.sigs
    {
        for sig in sigs.full() {
            writer.push(Section::Authority, origin, rtype::RRSIG, ttl, sig)?;
        }
    }
    Ok(())
}
