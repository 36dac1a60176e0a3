//! `splitdns explain --client IP NAME [TYPE]`: which view a client gets and why, the exact answer
//! it would receive (produced by the real request path), and where each record came from.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

use super::{describe_source, report_load_error};
use crate::answer::{self, Transport};
use crate::config::Config;
use crate::dns::name::{Name, fmt_wire_name};
use crate::dns::rtype;
use crate::dns::{class, rcode};
use crate::load;
use crate::view::lookup;
use crate::view::zone::canonical_rdata;
use crate::view::{Reason, Snapshot, View};
use crate::wire::reader::{self, Record};
use crate::wire::tsig;
use crate::zonefile::rdata::rdata_to_text;

pub fn run(
    config_path: &Path,
    client: IpAddr,
    key: Option<&str>,
    name: &str,
    qtype: &str,
) -> ExitCode {
    let Some(qtype) = rtype::from_mnemonic(qtype) else {
        eprintln!("unknown record type {qtype:?}");
        return ExitCode::FAILURE;
    };
    let qname = match Name::parse(name.trim_end_matches('.'), Some(&Name::root())) {
        Ok(qname) => qname,
        Err(e) => {
            eprintln!("bad name {name:?}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let load::Loaded {
        config, snapshot, ..
    } = match load::load(config_path) {
        Ok(loaded) => loaded,
        Err(error) => {
            report_load_error(&error);
            return ExitCode::FAILURE;
        }
    };
    let key = match key {
        None => None,
        Some(wanted) => {
            let found = config.keys.iter().position(|k| {
                k.key
                    .name_text()
                    .eq_ignore_ascii_case(wanted.trim_end_matches('.'))
            });
            if found.is_none() {
                eprintln!("no [[key]] named {wanted:?} in {}", config_path.display());
                return ExitCode::FAILURE;
            }
            found
        }
    };
    print!("{}", render(&config, &snapshot, client, key, &qname, qtype));
    ExitCode::SUCCESS
}

/// The explanation as text: the routing decision, the response, and each record's source.
/// With `key` (an index into the snapshot's keys), the query is signed with that key, as a
/// secondary or a `dig -y` would sign it, and goes through the same verification.
pub fn render(
    config: &Config,
    snapshot: &Snapshot,
    client: IpAddr,
    key: Option<usize>,
    qname: &Name,
    qtype: u16,
) -> String {
    let mut query = vec![0x4a, 0x11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(qname.as_wire());
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&class::IN.to_be_bytes());
    if let Some(key) = key {
        tsig::sign_request(&mut query, &snapshot.keys[key], tsig::now());
    }
    let mut response = Vec::new();
    let summary = answer::respond(snapshot, client, &query, Transport::Tcp, &mut response);
    let mut message = reader::read(&response).expect("our own responses are well formed");
    let signed = message.additional.iter().any(|r| r.rtype == rtype::TSIG);
    message.additional.retain(|r| r.rtype != rtype::TSIG);
    let routed = summary
        .as_ref()
        .and_then(|s| s.route)
        .map(|route| (&snapshot.views[route.view], route));
    let by_source = snapshot.view_for(client, None);
    let mut out = String::new();
    match (routed, key) {
        (Some((view, route)), _) => match route.reason {
            Reason::Key(index) => {
                let _ = writeln!(
                    out,
                    "request signed with key {:?} gets view {:?}: the view lists the key, so the source address does not matter{}",
                    snapshot.keys[index].name_text(),
                    view.name,
                    match by_source {
                        Some((other, _)) =>
                            format!(" (unsigned, {client} would get view {:?})", other.name),
                        None => format!(" (unsigned, {client} would match no view)"),
                    }
                );
            }
            Reason::Prefix(prefix) => {
                if let Some(index) = key {
                    let _ = writeln!(
                        out,
                        "request signed with key {:?}, which no view lists: routed by source address",
                        snapshot.keys[index].name_text()
                    );
                }
                let _ = writeln!(
                    out,
                    "client {client} gets view {:?}: {prefix} is the most specific prefix containing it",
                    view.name
                );
            }
        },
        (None, _) => {
            let _ = writeln!(
                out,
                "client {client} matches no view's clients: every query is REFUSED"
            );
        }
    }
    if signed {
        let _ = writeln!(out, "the response is signed (TSIG)");
    }
    if let Some(request) = summary.as_ref().and_then(|s| s.transfer.as_ref()) {
        // A permitted transfer: what it would carry, counted by the real transfer writer.
        let sent = crate::transfer::write_messages(snapshot, request, |_| true);
        let _ = writeln!(
            out,
            "query {qname} {}\ntransfer permitted (over TCP): {} records in {} messages from view {:?}",
            rtype::mnemonic(qtype),
            sent.records,
            sent.messages,
            snapshot.views[request.view].name
        );
        return out;
    }
    let _ = writeln!(out, "query {qname} {}", rtype::mnemonic(qtype));
    let _ = writeln!(
        out,
        "status {}, flags{}{}",
        rcode_name(message.rcode),
        if message.authoritative() { " aa" } else { "" },
        if message.truncated() { " tc" } else { "" },
    );
    for (title, records) in [
        ("ANSWER", &message.answer),
        ("AUTHORITY", &message.authority),
        ("ADDITIONAL", &message.additional),
    ] {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(out, ";; {title}");
        for record in records.iter() {
            let source =
                routed.map_or_else(String::new, |(view, _)| source_of(config, view, record));
            let _ = writeln!(out, "{}   ; {source}", record_text(record));
        }
    }
    out
}

fn rcode_name(code: u16) -> String {
    match code as u8 {
        rcode::NOERROR => "NOERROR".into(),
        rcode::FORMERR => "FORMERR".into(),
        rcode::SERVFAIL => "SERVFAIL".into(),
        rcode::NXDOMAIN => "NXDOMAIN".into(),
        rcode::NOTIMP => "NOTIMP".into(),
        rcode::REFUSED => "REFUSED".into(),
        rcode::YXDOMAIN => "YXDOMAIN".into(),
        tsig::NOTAUTH => "NOTAUTH".into(),
        _ => format!("RCODE{code}"),
    }
}

/// One record in zone-file form.
pub fn record_text(record: &Record) -> String {
    let mut owner = String::new();
    let _ = fmt_wire_name(&record.owner, &mut owner);
    format!(
        "{owner} {} IN {} {}",
        record.ttl,
        rtype::mnemonic(record.rtype),
        rdata_to_text(record.rtype, &record.rdata)
    )
}

/// Where a record in the response came from: the stored record with the same owner, type and
/// data (through a wildcard if need be), or the DNAME it was synthesised from.
fn source_of(config: &Config, view: &View, record: &Record) -> String {
    let key = record.owner.to_ascii_lowercase();
    let Some(zone) = view.zone_for(&key, record.rtype) else {
        return "not from zone data".into();
    };
    let wanted = canonical_rdata(record.rtype, &record.rdata);
    let matching = |node: &crate::view::zone::Node| {
        node.get(record.rtype)
            .and_then(|set| {
                set.rdatas
                    .iter()
                    .find(|r| canonical_rdata(set.rtype, &r.wire) == wanted)
            })
            .map(|rdata| describe_source(config, &rdata.loc))
    };
    if let Some(source) = zone.node(&key).and_then(matching) {
        return source;
    }
    match zone.find(&key, record.rtype) {
        lookup::Found::Wildcard(node) => match matching(node) {
            Some(source) => format!("wildcard, {source}"),
            None => "not found in zone data".into(),
        },
        lookup::Found::Dname { node, .. } if record.rtype == rtype::CNAME => {
            let at = node
                .get(rtype::DNAME)
                .map(|set| describe_source(config, &set.rdatas[0].loc));
            format!("synthesised from the DNAME at {}", at.unwrap_or_default())
        }
        _ => "not found in zone data".into(),
    }
}
