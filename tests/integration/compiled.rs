//! Compiled answers (issue 23): a receive loop answers a request it has answered before by
//! copying the response it compiled then, with the new ID and the round-robin sets rotated for
//! it. Here every such answer is checked to be byte for byte what `respond` writes afresh for the
//! same request — over every name of the example zones, the differential zones (ours and the
//! shared ones), the benchmark zone and a signed two-view set, in every view, for the name's own
//! types and the common ones, a name below it, with and without EDNS and DO, a small EDNS size
//! and the name in upper case, each asked again under several IDs (every rotation of a small
//! round-robin set).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use splitdns::{CompiledAnswers, Snapshot, Transport};

use crate::common::scratch_dir;
use crate::differential::{own_zones, shared_zones, write_splitdns_config};
use crate::dnssec::{Denial, write_config, write_zones};

/// Types asked at every name besides its own: A, AAAA, MX, TXT, NS, SOA, SRV, CNAME, DS, ANY.
const COMMON_TYPES: &[u16] = &[1, 28, 15, 16, 2, 6, 33, 5, 43, 255];
/// The IDs each compiled answer is asked again under (the first compiled it): every start of a
/// round-robin set of up to four records, and the largest ID.
const AGAIN_IDS: &[u16] = &[1, 2, 3, 4, 0xffff];
const FIRST_ID: u16 = 0x2b6f;

#[test]
fn compiled_answers_are_what_respond_writes_afresh() {
    let mut configs: Vec<(String, PathBuf)> = vec![(
        "example".into(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/splitdns.toml"),
    )];
    let mut zones = own_zones();
    match shared_zones() {
        Ok((shared, _)) => zones.extend(shared),
        Err(reason) => println!("shared test zones not checked: {reason}"),
    }
    for zone in &zones {
        let dir = scratch_dir(&format!("compiled/{}", zone.label));
        configs.push((zone.label.clone(), write_splitdns_config(&dir, zone)));
    }
    let signed = scratch_dir("compiled/signed");
    let origins = write_zones(&signed, 7);
    configs.push((
        "signed".into(),
        write_config(&signed, &origins, Denial::Nsec),
    ));
    let bench = scratch_dir("compiled/bench");
    let generated = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/genzone.py"))
        .args(["--hosts", "1000", "--queries", "10", "--out"])
        .arg(&bench)
        .output();
    match generated {
        Ok(out) if out.status.success() => {
            configs.push(("bench".into(), bench.join("splitdns.toml")));
        }
        Ok(out) => panic!(
            "bench/genzone.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("benchmark zone not checked: python3 cannot run ({e})"),
    }

    let mut failures = Vec::new();
    for (label, config) in &configs {
        let loaded = match splitdns::load(config) {
            Ok(loaded) => loaded,
            // The differential test reports zones splitdns rejects; nothing is compiled from them.
            Err(e) => {
                println!(
                    "{label}: not loaded, skipped ({})",
                    e.lines().first().map_or("", |line| line.as_str())
                );
                continue;
            }
        };
        let tally = check_config(&loaded.snapshot, &mut failures, label);
        println!(
            "{label}: {} requests, {} answered again from compiled answers",
            tally.requests, tally.reused
        );
        assert!(
            tally.reused * 2 > tally.requests,
            "{label}: only {} of {} requests were compiled; most of a zone's answers should be",
            tally.reused,
            tally.requests
        );
    }
    assert!(
        failures.is_empty(),
        "{} compiled answers differ from fresh ones; the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[derive(Default)]
struct Tally {
    requests: usize,
    reused: usize,
}

fn check_config(snapshot: &Snapshot, failures: &mut Vec<String>, label: &str) -> Tally {
    let mut tally = Tally::default();
    let clients = one_client_per_view(snapshot);
    for (index, view) in snapshot.views.iter().enumerate() {
        let Some(&client) = clients.get(&index) else {
            assert!(
                view.clients.is_empty(),
                "{label}: no test address reaches view {}",
                view.name
            );
            continue;
        };
        // A fresh table per view: the view is part of what an answer is compiled for, and
        // another view's entries must not be found.
        let mut compiled = CompiledAnswers::new();
        for zone in &view.zones {
            for (name, node) in zone.nodes() {
                let own: BTreeSet<u16> = node.rrsets.iter().map(|set| set.rtype).collect();
                let mut below = b"\x03zz0".to_vec();
                below.extend_from_slice(name);
                let mut questions: Vec<(Vec<u8>, u16)> = own
                    .iter()
                    .chain(COMMON_TYPES.iter().filter(|t| !own.contains(t)))
                    .map(|&qtype| (name.to_vec(), qtype))
                    .collect();
                questions.push((below.clone(), 1));
                questions.push((below, 16));
                for (qname, qtype) in questions {
                    let mut variants = vec![
                        (qname.clone(), None),
                        (qname.clone(), Some((1232, false))),
                        (qname.clone(), Some((1232, true))),
                    ];
                    if own.contains(&qtype) {
                        variants.push((qname.clone(), Some((512, true))));
                        variants.push((qname.to_ascii_uppercase(), Some((1232, false))));
                    }
                    for (qname, edns) in variants {
                        let request = request(FIRST_ID, &qname, qtype, edns);
                        check_request(
                            snapshot,
                            &mut compiled,
                            client,
                            &request,
                            &mut tally,
                            failures,
                        );
                    }
                }
            }
        }
    }
    tally
}

/// Compiles the answer to `request` and asks it again under each of [`AGAIN_IDS`]: each answer
/// from the compiled table must be the bytes `respond` writes for that ID, with the same summary.
fn check_request(
    snapshot: &Snapshot,
    compiled: &mut CompiledAnswers,
    client: IpAddr,
    request: &[u8],
    tally: &mut Tally,
    failures: &mut Vec<String>,
) {
    tally.requests += 1;
    let mut fresh = Vec::new();
    let Some(summary) = splitdns::respond(snapshot, client, request, Transport::Udp, &mut fresh)
    else {
        return;
    };
    let mut out = Vec::new();
    let Some(probe) = compiled.probe(snapshot, client, request) else {
        return;
    };
    compiled.fetch(&probe);
    assert!(
        compiled.answer(&probe, request, &mut out).is_none(),
        "an answer was found before it was compiled"
    );
    compiled.remember(&probe, request, &fresh, &summary);
    let mut reused = false;
    for &id in AGAIN_IDS {
        let mut again = request.to_vec();
        again[..2].copy_from_slice(&id.to_be_bytes());
        // The same request but for its ID has the same place.
        let probe = compiled
            .probe(snapshot, client, &again)
            .expect("probed the first time");
        let Some(from_table) = compiled.answer(&probe, &again, &mut out) else {
            return;
        };
        reused = true;
        let mut expected = Vec::new();
        let expected_summary =
            splitdns::respond(snapshot, client, &again, Transport::Udp, &mut expected)
                .expect("answered the first time");
        let same_summary = from_table.view == expected_summary.view
            && from_table.qtype == expected_summary.qtype
            && from_table.route == expected_summary.route
            && from_table.outcome() == expected_summary.outcome()
            && from_table.truncated == expected_summary.truncated
            && from_table.rrl_identity == expected_summary.rrl_identity
            && from_table.question_end == expected_summary.question_end;
        if out != expected || !same_summary {
            failures.push(format!(
                "client {client}, request {request:02x?} under ID {id}:\n  compiled {out:02x?}\n  fresh    {expected:02x?}\n  summaries {from_table:?}\n        vs {expected_summary:?}"
            ));
        }
    }
    tally.reused += usize::from(reused);
}

/// A query message: one question, class IN, RD clear, and an OPT record when `edns` says so
/// (payload size, DO).
fn request(id: u16, qname: &[u8], qtype: u16, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut message = id.to_be_bytes().to_vec();
    message.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    message.extend_from_slice(qname);
    message.extend_from_slice(&qtype.to_be_bytes());
    message.extend_from_slice(&1u16.to_be_bytes());
    if let Some((payload, dnssec_ok)) = edns {
        message.extend_from_slice(&[0, 0, 41]);
        message.extend_from_slice(&payload.to_be_bytes());
        message.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    message
}

/// For each view a source address its prefixes select: the first and last address of each of
/// its client networks, and a few common ones, whichever the longest prefix match gives it.
fn one_client_per_view(snapshot: &Snapshot) -> BTreeMap<usize, IpAddr> {
    let mut candidates: Vec<IpAddr> = vec![
        Ipv4Addr::new(127, 0, 0, 2).into(),
        Ipv4Addr::new(127, 0, 0, 3).into(),
        Ipv4Addr::new(10, 1, 2, 3).into(),
        Ipv4Addr::new(198, 51, 100, 7).into(),
        Ipv6Addr::LOCALHOST.into(),
    ];
    for view in &snapshot.views {
        for net in &view.clients {
            candidates.push(net.network());
            candidates.push(net.broadcast());
        }
    }
    let mut clients = BTreeMap::new();
    for client in candidates {
        if let Some((_, route)) = snapshot.view_for(client, None) {
            clients.entry(route.view).or_insert(client);
        }
    }
    clients
}
