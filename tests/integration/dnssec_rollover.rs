//! Key rollovers with shortened timers, under a validating Unbound queried throughout: a ZSK
//! (made by BIND's dnssec-keygen, as the zone's KSK) rolled twice by pre-publication, and a CSK rolled with its parent — the parent zone (served
//! by splitdns too, its DS the resolver's trust anchor) takes the child's CDS as its new DS, as
//! a parent that scans CDS does, and `splitdns dnssec ds-seen` (or, asked, the parent's servers)
//! then retires the old key. No
//! answer may fail validation at any moment (RFC 7583's timings are what make that so).
//!
//! Unbound reaches only splitdns (stub zones), as in `dnssec.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::common::{Daemon, EXTERNAL, Server, scratch_dir, splitdns};
use crate::dnssec::{Unbound, ask_dnssec, tools};

/// The longest a rollover may take here before the test gives up.
const ROLL_LIMIT: Duration = Duration::from_secs(40);
/// Between two rounds of questions to the resolver.
const PACE: Duration = Duration::from_millis(100);

/// What the resolver is asked in every round, and the rcode each must come back with, secure.
const ASKED: [(&str, RecordType, ResponseCode); 3] = [
    ("www.{zone}", RecordType::A, ResponseCode::NoError),
    ("nothing.{zone}", RecordType::A, ResponseCode::NXDomain),
    ("www.{zone}", RecordType::TXT, ResponseCode::NoError),
];

/// Asks the resolver each of [`ASKED`] for `zone`; fails the test on an answer that is not
/// secure or has another rcode, naming the moment.
fn ask_round(unbound: &Unbound, zone: &str, started: Instant) {
    for (name, rtype, rcode) in ASKED {
        let name = name.replace("{zone}", zone);
        let reply = unbound.ask(&name, rtype);
        assert!(
            reply.metadata.response_code == rcode && reply.metadata.authentic_data,
            "{:.1} s into the rollover: {name} {rtype} came back {} (AD {}), not {rcode} and secure:\n{reply}\nUnbound's log:\n{}",
            started.elapsed().as_secs_f64(),
            reply.metadata.response_code,
            reply.metadata.authentic_data,
            unbound.log()
        );
    }
}

/// The tags of the DNSKEY set splitdns serves, with their flags.
fn dnskeys(server: &Server, zone: &str) -> BTreeSet<(u16, u16)> {
    let reply = ask_dnssec(server, EXTERNAL, zone, RecordType::DNSKEY, true);
    reply
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            hickory_proto::rr::RData::DNSSEC(
                hickory_proto::dnssec::rdata::DNSSECRData::DNSKEY(key),
            ) => Some((key.calculate_key_tag().ok()?, key.flags())),
            _ => None,
        })
        .collect()
}

fn zone_file(dir: &Path, zone: &str, serial: u32, extra: &str) {
    fs::write(
        dir.join(format!("{zone}zone")),
        format!(
            "$ORIGIN {zone}\n$TTL 2\n@ SOA ns1 hostmaster {serial} 3600 900 604800 2\n\
             @ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\nwww TXT \"rolling\"\n{extra}"
        ),
    )
    .unwrap();
}

/// Timers of seconds: DNSKEY TTL 2, propagation 1, zone TTLs 2 (so Ipub = Iret = 3 s).
const FAST: &str = "dnskey_ttl = 2\npropagation_delay = 1\nmax_zone_ttl = 2\n\
                    parent_ds_ttl = 2\nparent_propagation_delay = 1\n";

#[test]
fn a_zsk_rolls_twice_by_pre_publication_with_no_failed_answer() {
    let Some(tools) = tools() else { return };
    let dir = scratch_dir("dnssec_zsk_rollover");
    fs::create_dir_all(dir.join("state")).unwrap();
    zone_file(&dir, "zsk.example.", 1, "");
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n\n[[dnssec_policy]]\nname = \"rolling\"\nkeys = \"ksk+zsk\"\n\
             zsk_lifetime = 8\n{FAST}\n\
             [[view]]\nname = \"everyone\"\nclients = [\"0.0.0.0/0\"]\n\n\
             [[zone]]\norigin = \"zsk.example\"\nfile = \"zsk.example.zone\"\ndnssec = \"rolling\"\n"
        ),
    )
    .unwrap();
    // The zone's first KSK and ZSK are BIND's, made by dnssec-keygen and used as they are.
    let keygen = crate::common::find_program("dnssec-keygen");
    match &keygen {
        Some(keygen) => {
            let keys = dir.join("state/keys");
            fs::create_dir_all(&keys).unwrap();
            for flags in [&["-f", "KSK"][..], &[]] {
                let output = std::process::Command::new(keygen)
                    .args(["-q", "-a", "ECDSAP256SHA256", "-K"])
                    .arg(&keys)
                    .args(flags)
                    .arg("zsk.example")
                    .output()
                    .unwrap();
                assert!(output.status.success(), "dnssec-keygen: {output:?}");
            }
        }
        None => eprintln!(
            "dnssec-keygen not found (Debian package bind9-utils): splitdns makes the first keys"
        ),
    }
    let daemon = Daemon::serve(&config).start();
    let server = daemon.server();
    let anchor = dnssec_ds(&config, "zsk.example");
    let unbound = Unbound::start(
        &tools,
        &dir,
        "zsk",
        EXTERNAL,
        &["zsk.example.".to_string()],
        &[anchor],
        daemon.dns,
    );
    let started = Instant::now();
    let mut zsks = BTreeSet::new();
    let first_zsks: BTreeSet<u16> = dnskeys(&server, "zsk.example.")
        .into_iter()
        .filter(|(_, flags)| *flags == 256)
        .map(|(tag, _)| tag)
        .collect();
    assert_eq!(first_zsks.len(), 1, "one ZSK at the start");
    // Two rollovers: a third ZSK signing.
    while zsks.len() < 3 {
        assert!(
            started.elapsed() < ROLL_LIMIT,
            "ZSKs seen in {ROLL_LIMIT:?}: {zsks:?}\n{}",
            daemon.log_text()
        );
        ask_round(&unbound, "zsk.example.", started);
        zsks.extend(
            dnskeys(&server, "zsk.example.")
                .into_iter()
                .filter(|(_, flags)| *flags == 256)
                .map(|(tag, _)| tag),
        );
        std::thread::sleep(PACE);
    }
    // The last one past its publication: it signs, and the resolver is still content.
    std::thread::sleep(Duration::from_secs(4));
    ask_round(&unbound, "zsk.example.", started);
    let failures = unbound.failures();
    assert!(
        failures.is_empty(),
        "validation failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_csk_rolls_with_its_parent_taking_the_cds_with_no_failed_answer() {
    csk_rollover("dnssec_csk_rollover", Parent::Told);
}

#[test]
fn a_csk_rolls_on_by_itself_once_the_parent_agents_serve_the_new_ds() {
    csk_rollover("dnssec_csk_rollover_agents", Parent::Asked);
}

/// How splitdns learns that the parent serves the new DS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    /// `splitdns dnssec ds-seen`.
    Told,
    /// The zone's `parent_agents` (here splitdns itself, which serves the parent).
    Asked,
}

fn csk_rollover(scratch: &str, parent: Parent) {
    let Some(tools) = tools() else { return };
    let dir = scratch_dir(scratch);
    fs::create_dir_all(dir.join("state")).unwrap();
    let delegation = |ds: &str| format!("child NS ns1.child\nns1.child A 192.0.2.54\n{ds}");
    zone_file(&dir, "roll.example.", 1, &delegation(""));
    zone_file(&dir, "child.roll.example.", 1, "");
    let config = dir.join("splitdns.toml");
    let write_config = |agents: &str| {
        fs::write(
            &config,
            format!(
                "state_dir = \"state\"\n\n\
                 [[dnssec_policy]]\nname = \"steady\"\n{FAST}\n\
                 [[dnssec_policy]]\nname = \"rolling\"\nkey_lifetime = 10\n{FAST}\n\
                 [[view]]\nname = \"everyone\"\nclients = [\"0.0.0.0/0\"]\n\n\
                 [[zone]]\norigin = \"roll.example\"\nfile = \"roll.example.zone\"\ndnssec = \"steady\"\n\n\
                 [[zone]]\norigin = \"child.roll.example\"\nfile = \"child.roll.example.zone\"\ndnssec = \"rolling\"\n{agents}"
            ),
        )
        .unwrap();
    };
    write_config("");
    let daemon = Daemon::serve(&config).start();
    let server = daemon.server();
    if parent == Parent::Asked {
        write_config(&format!("parent_agents = [\"{}\"]\n", daemon.dns));
        daemon.wait_log(&["reload on file change", "ok"]);
    }
    // The registrar's first DS: what `splitdns dnssec ds` prints.
    let ds = dnssec_ds(&config, "child.roll.example");
    let mut serial = 2;
    zone_file(&dir, "roll.example.", serial, &delegation(&ds));
    wait_for_serial(&server, "roll.example.", serial);
    let anchor = dnssec_ds(&config, "roll.example");
    let unbound = Unbound::start(
        &tools,
        &dir,
        "csk",
        EXTERNAL,
        &[
            "roll.example.".to_string(),
            "child.roll.example.".to_string(),
        ],
        &[anchor],
        daemon.dns,
    );
    let started = Instant::now();
    let first: BTreeSet<u16> = dnskeys(&server, "child.roll.example.")
        .into_iter()
        .map(|(tag, _)| tag)
        .collect();
    assert_eq!(first.len(), 1, "one CSK at the start: {first:?}");
    let mut parent_updated = false;
    let mut retired = false;
    loop {
        assert!(
            started.elapsed() < ROLL_LIMIT,
            "the CSK rollover did not finish in {ROLL_LIMIT:?} (parent updated: {parent_updated}, old key retired: {retired}):\n{}",
            daemon.log_text()
        );
        ask_round(&unbound, "roll.example.", started);
        ask_round(&unbound, "child.roll.example.", started);
        let keys: BTreeSet<u16> = dnskeys(&server, "child.roll.example.")
            .into_iter()
            .map(|(tag, _)| tag)
            .collect();
        let cds = cds_as_ds(&tools.dig, &server, "child.roll.example.");
        if !parent_updated
            && !cds.is_empty()
            && !cds
                .iter()
                .any(|ds| first.iter().any(|tag| ds.contains(&format!(" DS {tag} "))))
        {
            // The CDS names the successor alone: the parent takes it as its DS.
            serial += 1;
            zone_file(&dir, "roll.example.", serial, &delegation(&cds.join("\n")));
            wait_for_serial(&server, "roll.example.", serial);
            parent_updated = true;
        }
        if parent_updated && !retired && parent == Parent::Asked {
            retired = daemon
                .log_text()
                .contains("every parent agent serves the new DS");
        }
        if parent_updated && !retired && parent == Parent::Told {
            let output = splitdns()
                .args(["dnssec", "ds-seen", "child.roll.example", "--config"])
                .arg(&config)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "ds-seen: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            daemon.signal("HUP");
            retired = true;
        }
        if retired && keys.is_disjoint(&first) {
            break;
        }
        std::thread::sleep(PACE);
    }
    // The old key gone: the resolver, which cached it, still validates.
    std::thread::sleep(Duration::from_secs(3));
    ask_round(&unbound, "child.roll.example.", started);
    let failures = unbound.failures();
    assert!(
        failures.is_empty(),
        "validation failures:\n{}",
        failures.join("\n")
    );
}

/// `splitdns dnssec ds ZONE`: the DS lines for the registrar.
pub(crate) fn dnssec_ds(config: &Path, zone: &str) -> String {
    let output = splitdns()
        .args(["dnssec", "ds", zone, "--config"])
        .arg(config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && text.contains(" DS "),
        "splitdns dnssec ds {zone}: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .filter(|line| line.contains(" DS "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The zone's CDS records as DS lines (a CDS-scanning parent's view of them), read with dig.
fn cds_as_ds(dig: &Path, server: &Server, zone: &str) -> Vec<String> {
    let output = std::process::Command::new(dig)
        .args(["+short", &format!("@{}", server.addr.ip())])
        .args(["-p", &server.addr.port().to_string()])
        .args([zone, "CDS"])
        .output()
        .expect("run dig");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|rdata| format!("{zone} 2 IN DS {rdata}"))
        .collect()
}

fn wait_for_serial(server: &Server, zone: &str, serial: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply: Message = ask_dnssec(server, EXTERNAL, zone, RecordType::SOA, false);
        let served = reply.answers.first().map(crate::common::render);
        if served
            .as_deref()
            .and_then(|soa| soa.split_whitespace().nth(5))
            .and_then(|s| s.parse::<u32>().ok())
            .is_some_and(|s| s >= serial)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{zone} not at serial {serial}: {served:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A zone signed by a CSK whose policy changes to `ksk+zsk`: a ZSK is published, then takes the
/// data over; back to `csk`, the ZSK stops signing and the KSK signs the data again. Validated
/// throughout.
#[test]
fn a_policy_change_splits_and_joins_the_keys_with_no_failed_answer() {
    let Some(tools) = tools() else { return };
    let dir = scratch_dir("dnssec_policy_change");
    fs::create_dir_all(dir.join("state")).unwrap();
    zone_file(&dir, "shape.example.", 1, "");
    let config = dir.join("splitdns.toml");
    let write = |keys: &str| {
        fs::write(
            &config,
            format!(
                "state_dir = \"state\"\n\n[[dnssec_policy]]\nname = \"p\"\nkeys = \"{keys}\"\n{FAST}\n\
                 [[view]]\nname = \"everyone\"\nclients = [\"0.0.0.0/0\"]\n\n\
                 [[zone]]\norigin = \"shape.example\"\nfile = \"shape.example.zone\"\ndnssec = \"p\"\n"
            ),
        )
        .unwrap();
    };
    write("csk");
    let daemon = Daemon::serve(&config).start();
    let server = daemon.server();
    let anchor = dnssec_ds(&config, "shape.example");
    let unbound = Unbound::start(
        &tools,
        &dir,
        "shape",
        EXTERNAL,
        &["shape.example.".to_string()],
        &[anchor],
        daemon.dns,
    );
    let started = Instant::now();
    let signer_of_www = || {
        let reply = ask_dnssec(&server, EXTERNAL, "www.shape.example.", RecordType::A, true);
        reply
            .answers
            .iter()
            .find(|r| r.record_type() == RecordType::RRSIG)
            .map(|r| {
                crate::common::render(r)
                    .split_whitespace()
                    .nth(9)
                    .unwrap()
                    .to_string()
            })
            .expect("www A signed")
    };
    let csk = signer_of_www();
    ask_round(&unbound, "shape.example.", started);
    // Split: the data goes over to a new ZSK once its DNSKEY is cached.
    write("ksk+zsk");
    let deadline = Instant::now() + ROLL_LIMIT;
    while signer_of_www() == csk {
        assert!(
            Instant::now() < deadline,
            "no ZSK took the data over:\n{}",
            daemon.log_text()
        );
        ask_round(&unbound, "shape.example.", started);
        std::thread::sleep(PACE);
    }
    let zsks = || {
        dnskeys(&server, "shape.example.")
            .into_iter()
            .filter(|(_, flags)| *flags == 256)
            .count()
    };
    assert_eq!(zsks(), 1, "one ZSK after the split");
    ask_round(&unbound, "shape.example.", started);
    // Joined again: the KSK signs the data at once, the ZSK leaves after its signatures.
    write("csk");
    while signer_of_www() != csk || zsks() != 0 {
        assert!(
            Instant::now() < deadline,
            "the KSK did not take the data back:\n{}",
            daemon.log_text()
        );
        ask_round(&unbound, "shape.example.", started);
        std::thread::sleep(PACE);
    }
    ask_round(&unbound, "shape.example.", started);
    let failures = unbound.failures();
    assert!(
        failures.is_empty(),
        "validation failures:\n{}",
        failures.join("\n")
    );
}
