//! `splitdns explain --client IP NAME [TYPE]`: which view a client gets and why, the exact answer
//! it would receive (produced by the real request path), and where each record came from. For a
//! name a recursive view forwards: which forward zone, delegation or forwarders it goes to, and
//! the upstreams in the order they would be asked (nothing is sent to them). For a name the view
//! refuses because none of its zones holds it, it says so, with the zone of another view that
//! would hold it (a client in the wrong view) or that no view does. For a
//! health-checked name it also says, address by address, which are answered and why the others
//! are not. `explain` runs no probes unless asked (`--probe`: each address checked once, now,
//! and the answer shaped by those results); without it every address counts as up, as in a
//! server that has not had a result yet.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

use super::{describe_source, report_load_error};
use crate::answer::{self, Next};
use crate::config::Config;
use crate::dns::name::{Name, fmt_wire_name};
use crate::dns::rtype;
use crate::dns::{class, rcode};
use crate::health::{self, Plan};
use crate::load;
use crate::view::lookup;
use crate::view::zone::canonical_rdata;
use crate::view::{Forward, Reason, Snapshot, View};
use crate::wire::Transport;
use crate::wire::reader::{self, Record};
use crate::wire::tsig;
use crate::zonefile::rdata::rdata_to_text;

pub fn run(
    config_path: &Path,
    client: IpAddr,
    key: Option<&str>,
    name: &str,
    qtype: &str,
    probe: bool,
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
        config,
        snapshot,
        health,
        ..
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
            let found = Name::parse(wanted.trim_end_matches('.'), Some(&Name::root()))
                .ok()
                .and_then(|name| snapshot.key(name.as_wire()));
            let Some((index, _)) = found else {
                eprintln!("no [[key]] named {wanted:?} in {}", config_path.display());
                return ExitCode::FAILURE;
            };
            Some(index)
        }
    };
    let results = (probe && !health.targets.is_empty()).then(|| probe_all(&health));
    if let Some(results) = &results {
        health
            .board
            .publish(&health.masks(|target| results[target].is_ok()));
    }
    print!("{}", render(&config, &snapshot, client, key, &qname, qtype));
    if let Some((view, _)) = snapshot.view_for(client, key) {
        print!(
            "{}",
            render_health(&health, &view.name, &qname, results.as_deref())
        );
    }
    ExitCode::SUCCESS
}

/// Checks every target once, all at the same time (each within its timeout).
fn probe_all(plan: &Plan) -> Vec<Result<(), String>> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return vec![Err(format!("no runtime: {e}")); plan.targets.len()],
    };
    runtime.block_on(async {
        let mut checks = tokio::task::JoinSet::new();
        for (index, target) in plan.targets.iter().enumerate() {
            let target = target.clone();
            checks.spawn(async move { (index, health::probe_once(&target).await) });
        }
        let mut results = vec![Ok(()); plan.targets.len()];
        while let Some(Ok((index, result))) = checks.join_next().await {
            results[index] = result;
        }
        results
    })
}

/// For each health-checked RRset of `qname` in `view`: every address, answered or not and why.
/// `results`: one check per target (`--probe`), or none (every address counts as up).
pub fn render_health(
    plan: &Plan,
    view: &str,
    qname: &Name,
    results: Option<&[Result<(), String>]>,
) -> String {
    let name = qname.to_string().to_ascii_lowercase();
    let name = name.trim_end_matches('.');
    let up = |target: usize| results.is_none_or(|r| r[target].is_ok());
    let masks = plan.masks(up);
    let mut out = String::new();
    for (slot, mask) in plan.slots.iter().zip(masks.iter()) {
        if slot.view != view || slot.name != name {
            continue;
        }
        let _ = writeln!(
            out,
            ";; HEALTH {} in view {}: {} address(es) checked",
            slot.name,
            slot.view,
            slot.targets.len()
        );
        if results.is_none() {
            let _ = writeln!(
                out,
                ";; not probed (explain runs no probes; --probe checks each address once): every address counts as up, as before a server's first results"
            );
        }
        let best = slot
            .targets
            .iter()
            .zip(&slot.ranks)
            .filter(|(target, _)| up(**target))
            .map(|(_, rank)| *rank)
            .min();
        for (index, (&target, &rank)) in slot.targets.iter().zip(&slot.ranks).enumerate() {
            let address = plan.targets[target].address;
            let answered = mask >> index & 1 == 1;
            let why = match results.map(|r| &r[target]) {
                None => "answered".to_string(),
                Some(Ok(())) if answered => "up: answered".to_string(),
                Some(Ok(())) => format!(
                    "up, left out: a site preferred in this view (rank {}) has addresses up; this one is rank {rank}",
                    best.unwrap_or(0)
                ),
                Some(Err(reason)) if answered => {
                    format!(
                        "down ({reason}), answered anyway: every address is down and all_down = \"all\""
                    )
                }
                Some(Err(reason)) => format!("down, left out: {reason}"),
            };
            let _ = writeln!(out, "{address}   ; {why} (check: {})", plan.targets[target]);
        }
        if mask.count_ones() == 0 {
            let _ = writeln!(
                out,
                ";; every address is down and all_down = \"servfail\": the answer is SERVFAIL"
            );
        }
    }
    out
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
    let next = summary.as_ref().map(|s| &s.next);
    if let Some(Next::Transfer(request)) = next {
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
    if let (Some((view, _)), Some(Next::Forward(forward))) = (routed, next) {
        out.push_str(&forwarding(view, *forward, qname));
        return out;
    }
    let _ = writeln!(
        out,
        "status {}, flags{}{}",
        rcode_name(message.rcode),
        if message.authoritative() { " aa" } else { "" },
        if message.truncated() { " tc" } else { "" },
    );
    if message.rcode == u16::from(rcode::REFUSED)
        && let Some((view, route)) = routed
        && view
            .zone_for(qname.to_lowercase().as_wire(), qtype)
            .is_none()
    {
        let public = config.views[route.view].public;
        out.push_str(&not_served(snapshot, view, public, qname, qtype));
    }
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
    if let (Some((view, _)), Some(Next::Chase(forward)), Some(target)) = (
        routed,
        next,
        message
            .answer
            .iter()
            .rev()
            .find(|r| r.rtype == rtype::CNAME),
    ) && let Ok(target) = Name::from_wire(&target.rdata)
    {
        let _ = writeln!(
            out,
            ";; the chain continues at {target}, which is forwarded:"
        );
        out.push_str(&forwarding(view, *forward, &target));
    }
    out
}

/// Why a name is REFUSED in a view that does not recurse: no zone of the view holds it. Which
/// zone of another view would, if any: the usual cause is then a client in the wrong view (its
/// address in the wrong `clients` list, or a DC forwarding from an address the view lacks).
fn not_served(snapshot: &Snapshot, view: &View, public: bool, qname: &Name, qtype: u16) -> String {
    let key = qname.to_lowercase();
    let zones: Vec<String> = view.zones.iter().map(|z| z.origin.to_string()).collect();
    let zones = match zones.is_empty() {
        true => "it has none".to_string(),
        false => format!("its zones: {}", zones.join(", ")),
    };
    let mut out = format!(
        ";; no zone of view {:?} holds {qname} ({zones}), and the view does not recurse: it answers only for its zones and refuses the rest\n",
        view.name
    );
    let elsewhere: Vec<String> = snapshot
        .views
        .iter()
        .filter(|other| !std::ptr::eq(*other, view))
        .filter_map(|other| {
            let zone = other.zone_for(key.as_wire(), qtype)?;
            Some(format!("zone {} of view {:?}", zone.origin, other.name))
        })
        .collect();
    if elsewhere.is_empty() {
        // Recursion is advice for an inside view only: on a public one it is an open resolver.
        let recurse = match public {
            true => String::new(),
            false => format!(
                " (or give view {:?} recursion = true and forwarders)",
                view.name
            ),
        };
        let _ = writeln!(
            out,
            ";; no zone of any view holds it: this server is not authoritative for {qname}; clients should ask a resolver for it{recurse}"
        );
    } else {
        let _ = writeln!(
            out,
            ";; {} would hold it: a client of that view is answered; is this client's address in the right view's clients?",
            elsewhere.join(", ")
        );
    }
    out
}

/// Where a forwarded name goes and whom the resolver would ask, in order.
fn forwarding(view: &View, forward: Forward, qname: &Name) -> String {
    let key = qname.to_lowercase();
    let recursion = view
        .recursion
        .as_ref()
        .expect("only recursive views forward");
    let why = match forward {
        Forward::Zone(index) => format!(
            "forward zone {} ([[view.forward]]) is the most specific zone containing it",
            recursion.zones[index].origin
        ),
        Forward::Forwarders => {
            "no zone of the view and no forward zone contains it: the view's forwarders".into()
        }
        Forward::Delegation { cut_len } => {
            let wire = key.as_wire();
            let cut = Name::from_wire(&wire[wire.len() - cut_len..]).expect("a suffix is a name");
            format!("it is below the delegation {cut} in one of our zones: its name servers (glue)")
        }
    };
    let upstreams: Vec<String> = view
        .upstreams(forward, key.as_wire())
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut out = format!(
        "forwarded: view {:?} recurses; {why}
",
        view.name
    );
    if upstreams.is_empty() {
        out.push_str(
            "upstreams: none (no glue address): the answer would be SERVFAIL
",
        );
    } else {
        let _ = writeln!(out, "upstreams, in order: {}", upstreams.join(", "));
    }
    out.push_str(
        "the answer is the upstream's, relayed (AA clear, RA set) and cached
",
    );
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
        lookup::Found::Wildcard { node, .. } => match matching(node) {
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
