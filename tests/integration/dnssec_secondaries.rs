//! Signed views through standard secondaries: splitdns signs one zone (a wildcard, a secure and
//! an insecure delegation, an internal override) in two views; BIND (both views, as keyed
//! views), Knot (the internal view, validating each version it takes in) and NSD (the external
//! view) transfer them by AXFR, and by IXFR after an edit that raises the serial. A validating
//! Unbound per secondary and view, whose only server is that secondary and whose trust anchor is
//! the DS of splitdns's key, must find every answer secure (AD), with the rcode and records
//! splitdns gives directly, and log no validation failure; the secondaries must log no complaint
//! about the signed data. Each missing program skips its part, saying so.

use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::common::{Daemon, EXTERNAL, INTERNAL, Server, find_program, free_port, scratch_dir};
use crate::dnssec::{Tools, Unbound, ask_dnssec, tools, trust_anchor};
use crate::secondaries::{
    Process, local, start_bind, start_knot, start_nsd, wait_for, zone_serial,
};

const ZONE: &str = "signed.example.";

/// The shared data: every view has it, unless an override replaces an RRset.
const ZONE_FILE: &str = r#"$ORIGIN signed.example.
$TTL 3600
@           SOA   ns1 hostmaster 2026010101 3600 900 1209600 300
@           NS    ns1
@           NS    ns2
@           MX    10 mail
ns1         A     192.0.2.53
ns2         A     198.51.100.53
www         A     192.0.2.80
www         AAAA  2001:db8::80
mail        A     192.0.2.25
webmail     CNAME mail
*.wild      A     192.0.2.99
*.wild      TXT   "matched by the wildcard"
secure      NS    ns.secure
secure      DS    12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.secure   A     192.0.2.54
insecure    NS    ns.insecure
ns.insecure A     192.0.2.55
"#;

/// The internal view's override: another address for www, a name only the inside has.
const INTERNAL_FILE: &str = r#"$ORIGIN signed.example.
$TTL 300
www         A     10.0.0.80
host.lab    A     10.0.9.9
"#;

/// The edit: the serial raised, one address changed, one name added, one RRset removed (so the
/// NSEC chain and a type bitmap change too).
const EDITS: [(&str, &str); 4] = [
    ("2026010101", "2026010102"),
    (
        "mail        A     192.0.2.25",
        "mail        A     192.0.2.26",
    ),
    ("webmail", "added       A     192.0.2.77\nwebmail"),
    ("www         AAAA  2001:db8::80\n", ""),
];

/// Names (relative to the zone) and types asked through every secondary: data, a CNAME, the
/// apex's sets, NODATA, NXDOMAIN (inside the chain and after its last name), the wildcard
/// (matched, matched for a type it lacks, its empty parent), the DS at each delegation, and the
/// override (NXDOMAIN outside).
const QUESTIONS: &[(&str, RecordType)] = &[
    ("@", RecordType::SOA),
    ("@", RecordType::NS),
    ("@", RecordType::MX),
    ("@", RecordType::DNSKEY),
    ("@", RecordType::TXT),
    ("www", RecordType::A),
    ("www", RecordType::AAAA),
    ("www", RecordType::TXT),
    ("mail", RecordType::A),
    ("webmail", RecordType::A),
    ("added", RecordType::A),
    ("nosuch", RecordType::A),
    ("deep.nosuch", RecordType::TXT),
    ("zzz", RecordType::A),
    ("a.wild", RecordType::A),
    ("b.c.wild", RecordType::TXT),
    ("a.wild", RecordType::MX),
    ("wild", RecordType::A),
    ("secure", RecordType::DS),
    ("insecure", RecordType::DS),
    ("host.lab", RecordType::A),
    ("lab", RecordType::A),
];

/// The TSIG keys of the views (test values, never to be used anywhere else).
const KEYS: [(&str, &str); 2] = [
    (
        "internal-xfr",
        "4O4ZDNVr4e383EU+j9Zus55K9fcRPRXP0K7mY2H1Yz0=",
    ),
    (
        "external-xfr",
        "komOIlnUCxXD+pMac31zYhq//pqsn0PROd/5xPxxAk8=",
    ),
];

/// One secondary: the program, its port, and the views it mirrors with the source each is asked
/// from (BIND picks the view by source, as splitdns does).
struct Secondary {
    process: Process,
    port: u16,
    views: Vec<(&'static str, IpAddr)>,
}

#[test]
fn bind_knot_and_nsd_serve_the_signed_views_and_unbound_validates_through_them() {
    let started = Instant::now();
    let Some(tools) = tools() else { return };
    let programs: Vec<(&str, _)> = [("named", "bind9"), ("knotd", "knot"), ("nsd", "nsd")]
        .into_iter()
        .filter_map(|(binary, package)| {
            let found = find_program(binary);
            if found.is_none() {
                eprintln!("skipped: {binary} not found (Debian package {package})");
            }
            Some((binary, found?))
        })
        .collect();
    if programs.is_empty() {
        return;
    }
    let ports: Vec<u16> = programs.iter().map(|_| free_port()).collect();
    let views_of = |binary: &str| match binary {
        "named" => vec![("internal", INTERNAL), ("external", EXTERNAL)],
        "knotd" => vec![("internal", INTERNAL)],
        _ => vec![("external", EXTERNAL)],
    };

    let dir = scratch_dir("dnssec_secondaries");
    fs::create_dir_all(dir.join("state")).unwrap();
    fs::write(dir.join("signed.example.zone"), ZONE_FILE).unwrap();
    fs::write(dir.join("signed.example.internal.zone"), INTERNAL_FILE).unwrap();
    let notify = |view: &str| -> Vec<String> {
        programs
            .iter()
            .zip(&ports)
            .filter(|((binary, _), _)| views_of(binary).iter().any(|(v, _)| *v == view))
            .map(|(_, port)| format!("\"127.0.0.1:{port}\""))
            .collect()
    };
    let config = write_config(&dir, &notify("internal"), &notify("external"));
    let splitdns = Daemon::serve(&config).start();
    let ours = splitdns.server();

    // All started at once: their transfers overlap.
    let secondaries: Vec<Secondary> = programs
        .iter()
        .zip(&ports)
        .map(|((binary, path), &theirs)| {
            let process = match *binary {
                "named" => start_bind(path, &dir, splitdns.port(), theirs),
                // Knot checks every signature and the NSEC chain of each version it takes in,
                // and refuses a version that fails.
                "knotd" => start_knot(
                    path,
                    &dir,
                    "internal",
                    splitdns.port(),
                    theirs,
                    "    dnssec-validation: on\n",
                ),
                _ => start_nsd(path, &dir, "external", splitdns.port(), theirs),
            };
            Secondary {
                process,
                port: theirs,
                views: views_of(binary),
            }
        })
        .collect();

    let anchor = trust_anchor_of(&tools, &dir, &ours);
    let serial = zone_serial(ours.addr, EXTERNAL, ZONE).expect("our serial");
    wait_for_serial(&secondaries, serial);
    let mut judged = judge_all(&tools, &dir, "before", &secondaries, &ours, &anchor);

    let edited = edit(&dir);
    wait_for(
        "splitdns to serve the edit in both views",
        || {
            [INTERNAL, EXTERNAL]
                .iter()
                .all(|&from| zone_serial(ours.addr, from, ZONE).is_some_and(|s| s > serial))
        },
        &splitdns,
    );
    let raised = zone_serial(ours.addr, EXTERNAL, ZONE).unwrap();
    assert_eq!(zone_serial(ours.addr, INTERNAL, ZONE), Some(raised));
    wait_for_serial(&secondaries, raised);
    eprintln!(
        "dnssec_secondaries: every secondary at serial {raised} {:?} after the edit",
        edited.elapsed()
    );
    for view in ["internal", "external"] {
        let expected = secondaries
            .iter()
            .filter(|s| s.views.iter().any(|(v, _)| *v == view))
            .count();
        wait_for(
            &format!("{expected} incremental IXFRs of view {view} in our log"),
            || {
                splitdns
                    .log_text()
                    .lines()
                    .filter(|line| {
                        line.contains(&format!("IXFR (incremental) of {ZONE} (view {view})"))
                    })
                    .count()
                    >= expected
            },
            &splitdns,
        );
    }
    judged += judge_all(&tools, &dir, "after", &secondaries, &ours, &anchor);

    for secondary in &secondaries {
        let log = secondary.process.log_text();
        let complaints = complaints(secondary.process.name, &log);
        assert!(
            complaints.is_empty(),
            "{} complains about the signed zone:\n{}",
            secondary.process.name,
            complaints.join("\n")
        );
        // Knot's own verdict on every version it took in: the AXFR, then the IXFR.
        if secondary.process.name == "knotd" {
            for verdict in [
                "DNSSEC, validation successful",
                "DNSSEC, incremental validation successful",
            ] {
                assert!(
                    log.contains(verdict),
                    "Knot did not log {verdict:?}:\n{log}"
                );
            }
        }
    }
    eprintln!(
        "dnssec_secondaries: {judged} answers through {} secondaries validated secure in {:?}",
        secondaries.len(),
        started.elapsed()
    );
}

/// Two views, each transferable with its key and NOTIFYing its secondaries, one signed zone.
fn write_config(dir: &Path, internal: &[String], external: &[String]) -> std::path::PathBuf {
    let mut config = String::from("# Written by tests/integration/dnssec_secondaries.rs.\n");
    config.push_str("state_dir = \"state\"\n\n");
    for (name, secret) in KEYS {
        config.push_str(&format!(
            "[[key]]\nname = \"{name}\"\nsecret = \"{secret}\"\n\n"
        ));
    }
    for (view, clients, notify) in [
        ("internal", "\"127.0.0.2/32\"", internal),
        ("external", "\"0.0.0.0/0\", \"::/0\"", external),
    ] {
        config.push_str(&format!(
            "[[view]]\nname = \"{view}\"\nclients = [{clients}]\nkeys = [\"{view}-xfr\"]\n\
             transfer = {{ keys = [\"{view}-xfr\"] }}\nnotify = [{}]\n[view.rrl]\nenabled = false\n\n",
            notify.join(", ")
        ));
    }
    config.push_str(
        "[[zone]]\norigin = \"signed.example\"\nfile = \"signed.example.zone\"\ndnssec = true\n\
         [zone.views]\ninternal = \"signed.example.internal.zone\"\n",
    );
    let path = dir.join("splitdns.toml");
    fs::write(&path, config).unwrap();
    path
}

/// The DS of the key splitdns signs with, from the DNSKEY set it serves.
fn trust_anchor_of(tools: &Tools, dir: &Path, ours: &Server) -> String {
    let output = Command::new(&tools.dig)
        .args(["+noall", "+answer"])
        .arg(format!("@{}", ours.addr.ip()))
        .args(["-p", &ours.addr.port().to_string()])
        .args([ZONE, "DNSKEY"])
        .output()
        .expect("run dig");
    let keys = dir.join("dnskey.txt");
    fs::write(&keys, &output.stdout).unwrap();
    trust_anchor(tools, &keys, ZONE)
}

/// Waits until every secondary serves `serial` in each of its views.
fn wait_for_serial(secondaries: &[Secondary], serial: u32) {
    for secondary in secondaries {
        for &(view, from) in &secondary.views {
            wait_for(
                &format!(
                    "{} to serve view {view} at serial {serial}",
                    secondary.process.name
                ),
                || zone_serial(local(secondary.port), from, ZONE) == Some(serial),
                &secondary.process,
            );
        }
    }
}

/// Rewrites the shared zone file with [`EDITS`] (a new file renamed into place, as editors do);
/// returns when.
fn edit(dir: &Path) -> Instant {
    let path = dir.join("signed.example.zone");
    let mut text = fs::read_to_string(&path).unwrap();
    for (from, to) in EDITS {
        assert!(text.contains(from), "{from:?} not in the zone file");
        text = text.replacen(from, to, 1);
    }
    let temporary = dir.join("signed.example.zone.new");
    fs::write(&temporary, text).unwrap();
    fs::rename(&temporary, &path).unwrap();
    Instant::now()
}

/// A validating Unbound for each secondary and view (stub at the secondary, asking from the
/// view's source) asked [`QUESTIONS`]: each answer must be secure, with splitdns's own rcode and
/// records, and its log must hold no validation failure. Returns the number of answers judged.
fn judge_all(
    tools: &Tools,
    dir: &Path,
    when: &str,
    secondaries: &[Secondary],
    ours: &Server,
    anchor: &str,
) -> usize {
    let origins = [ZONE.to_string()];
    let mut problems = Vec::new();
    let mut judged = 0;
    for secondary in secondaries {
        for &(view, from) in &secondary.views {
            let name = secondary.process.name;
            let unbound = Unbound::start(
                tools,
                dir,
                &format!("{name}-{view}-{when}"),
                from,
                &origins,
                &[anchor.to_string()],
                local(secondary.port),
            );
            for &(relative, rtype) in QUESTIONS {
                let qname = match relative {
                    "@" => ZONE.to_string(),
                    _ => format!("{relative}.{ZONE}"),
                };
                let direct = ask_dnssec(ours, from, &qname, rtype, true);
                let resolved = unbound.ask(&qname, rtype);
                if let Some(problem) = compare(&direct, &resolved) {
                    problems.push(format!(
                        "{when} the edit, {name} ({view}): {qname} {rtype}: {problem}"
                    ));
                }
                judged += 1;
            }
            for failure in unbound.failures() {
                problems.push(format!(
                    "{when} the edit, {name} ({view}) Unbound: {failure}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    judged
}

/// What is wrong with Unbound's answer (`resolved`) given splitdns's (`direct`): not secure,
/// another rcode, other records.
fn compare(direct: &Message, resolved: &Message) -> Option<String> {
    let (ours, theirs) = (
        direct.metadata.response_code,
        resolved.metadata.response_code,
    );
    if ours != theirs {
        return Some(format!("Unbound says {theirs}, splitdns {ours}"));
    }
    if !resolved.metadata.authentic_data {
        return Some(format!("not secure ({theirs}):\n{resolved}"));
    }
    let (ours, theirs) = (records(direct), records(resolved));
    (ours != theirs).then(|| format!("Unbound has {theirs:?}, splitdns {ours:?}"))
}

/// The answer section without signatures and TTLs (a resolver's cache counts TTLs down).
fn records(message: &Message) -> BTreeSet<String> {
    message
        .answers
        .iter()
        .filter(|record| record.record_type() != RecordType::RRSIG)
        .map(|record| {
            format!(
                "{} {} {}",
                record.name.to_ascii().to_ascii_lowercase(),
                record.record_type(),
                record.data
            )
        })
        .collect()
}

/// The lines of a secondary's log, after its start-up, that name a problem. One line of BIND's
/// is left out: `addnode: NSEC node already exists`, which BIND 9.18 writes (unconditionally, from
/// a block marked `#if 1 /* 0 */` in its rbtdb.c) when an NSEC owner is already in its auxiliary
/// NSEC tree, and then uses the record. Whether it does depends on the order the records arrive
/// in: `named-compilezone` writes it for one of our AXFRs as sent and not for the same records in
/// the order BIND writes them; `dnssec-verify` accepts both, and the answers through BIND
/// validate.
fn complaints(name: &str, log: &str) -> Vec<String> {
    const WORDS: &[&str] = &[
        "error",
        "warning",
        "fail",
        "bad",
        "refus",
        "reject",
        "invalid",
        "bogus",
        "expired",
        "not loaded",
        "exists",
    ];
    let started = |line: &str| match name {
        "named" => line.ends_with(" running"),
        "knotd" => line.contains("server started"),
        _ => line.contains("nsd started"),
    };
    log.lines()
        .skip_while(|line| !started(line))
        .filter(|line| {
            let line = line.to_ascii_lowercase();
            WORDS.iter().any(|word| line.contains(word))
                && !line.ends_with("addnode: nsec node already exists")
        })
        .map(String::from)
        .collect()
}
