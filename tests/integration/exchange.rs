//! The bundled example's `[[exchange]]` block over the wire, and `check --format json` from the
//! binary.

use std::path::Path;
use std::process::Command;

use hickory_proto::rr::RecordType;

use crate::common::*;

/// The bundled example puts 127.0.0.1 inside (so `dig @127.0.0.1` shows the inside); every other
/// loopback source is outside.
const INSIDE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn example() -> Server {
    Server::with_config(&Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/splitdns.toml"))
}

#[test]
fn generated_namespace_records_answer_per_view() {
    let server = example();
    let inside = ["10.0.0.11", "10.0.0.12", "10.0.0.13"];
    for name in ["mail.contoso.example.", "autodiscover.contoso.example."] {
        for via in BOTH {
            let reply = ask(&server, INSIDE, via, name, RecordType::A);
            let expected: Vec<String> = inside
                .iter()
                .map(|ip| format!("{name} 300 A {ip}"))
                .collect();
            assert_eq!(sorted(reply.answer()), expected, "{}", reply.dump());
            assert!(reply.aa());
            let reply = ask(&server, EXTERNAL, via, name, RecordType::A);
            assert_eq!(
                reply.answer(),
                vec![format!("{name} 300 A 203.0.113.10")],
                "{}",
                reply.dump()
            );
        }
    }
}

#[test]
fn every_srv_domain_answers_with_the_views_addresses() {
    let server = example();
    for domain in ["contoso.example.", "fabrikam.example."] {
        let owner = format!("_autodiscover._tcp.{domain}");
        for (from, addresses) in [
            (INSIDE, vec!["10.0.0.11", "10.0.0.12", "10.0.0.13"]),
            (EXTERNAL, vec!["203.0.113.10"]),
        ] {
            let reply = ask(&server, from, Via::Udp, &owner, RecordType::SRV);
            assert_eq!(
                reply.answer(),
                vec![format!("{owner} 300 SRV 0 0 443 mail.contoso.example.")],
                "{}",
                reply.dump()
            );
            let expected: Vec<String> = addresses
                .iter()
                .map(|ip| format!("mail.contoso.example. 300 A {ip}"))
                .collect();
            assert_eq!(sorted(reply.additional()), expected, "{}", reply.dump());
        }
    }
    // The synthesised fabrikam.example zone answers like a real one: SOA, NS, NXDOMAIN.
    let soa = ask(
        &server,
        EXTERNAL,
        Via::Udp,
        "fabrikam.example.",
        RecordType::SOA,
    );
    assert_eq!(
        soa.answer(),
        vec![
            "fabrikam.example. 3600 SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300"
        ],
        "{}",
        soa.dump()
    );
    let ns = ask(
        &server,
        EXTERNAL,
        Via::Udp,
        "fabrikam.example.",
        RecordType::NS,
    );
    assert_eq!(ns.answer().len(), 2, "{}", ns.dump());
    let missing = ask(
        &server,
        EXTERNAL,
        Via::Udp,
        "www.fabrikam.example.",
        RecordType::A,
    );
    assert_eq!(missing.rcode(), hickory_proto::op::ResponseCode::NXDomain);
}

#[test]
fn check_json_parses_and_reports_findings() {
    let output = Command::new(env!("CARGO_BIN_EXE_splitdns"))
        .args(["check", "--format", "json", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/splitdns.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("check --format json prints JSON");
    assert_eq!(report["ok"], true);
    assert_eq!(report["views"][0]["name"], "internal");
    assert_eq!(
        report["views"][0]["zones"][1]["origin"],
        "fabrikam.example."
    );
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["id"], "name-missing-in-view");
    assert_eq!(findings[0]["severity"], "info");
    assert_eq!(findings[0]["view"], "external");
    assert_eq!(findings[0]["line"], 6);

    // A private address outside: exit 1, with the error in the JSON.
    let dir = scratch_dir("check_json_error");
    std::fs::write(
        dir.join("splitdns.toml"),
        "[[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\"]\n[[zone]]\norigin = \"x.example\"\nfile = \"x.zone\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("x.zone"),
        "$ORIGIN x.example.\n@ 300 SOA ns hm 1 2 3 4 5\n@ 300 NS ns\nns 300 A 10.1.1.1\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_splitdns"))
        .args(["check", "--format", "json", "--config"])
        .arg(dir.join("splitdns.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["findings"][0]["id"],
        "private-address-in-public-view"
    );
    assert_eq!(report["findings"][0]["line"], 4);
}
