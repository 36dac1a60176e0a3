//! The bundled example's `[[exchange]]` block over the wire, and `check --format json` from the
//! binary.

use hickory_proto::rr::RecordType;

use crate::common::*;

/// The bundled example puts 127.0.0.1 inside (so `dig @127.0.0.1` shows the inside); every other
/// loopback source is outside.
const INSIDE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn example() -> Server {
    Server::with_config(&crate::common::example_config())
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
}

/// An SRV-only accepted domain (fabrikam.example, not a configured zone) is served only at
/// `_autodiscover._tcp.fabrikam.example`: that name is a zone of its own (SOA and NS copied from
/// the namespace's zone, so a public DNS host can delegate it with one NS record), and the rest of
/// the domain is not ours — REFUSED, never an authoritative NXDOMAIN for its web site or NODATA
/// for its mail — in both views, over UDP and TCP.
#[test]
fn an_srv_only_domain_is_served_only_at_its_autodiscover_name() {
    let server = example();
    let apex = "_autodiscover._tcp.fabrikam.example.";
    for from in [INSIDE, EXTERNAL] {
        for via in BOTH {
            let srv = ask(&server, from, via, apex, RecordType::SRV);
            assert_eq!(
                srv.answer(),
                vec![format!("{apex} 300 SRV 0 0 443 mail.contoso.example.")],
                "{}",
                srv.dump()
            );
            assert!(srv.aa(), "{}", srv.dump());
            let soa = ask(&server, from, via, apex, RecordType::SOA);
            assert_eq!(
                soa.answer(),
                vec![format!(
                    "{apex} 3600 SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300"
                )],
                "{}",
                soa.dump()
            );
            let ns = ask(&server, from, via, apex, RecordType::NS);
            assert_eq!(ns.answer().len(), 2, "{}", ns.dump());
            for (name, rtype) in [
                ("www.fabrikam.example.", RecordType::A),
                ("fabrikam.example.", RecordType::MX),
                ("fabrikam.example.", RecordType::SOA),
                ("_tcp.fabrikam.example.", RecordType::A),
            ] {
                let reply = ask(&server, from, via, name, rtype);
                assert_eq!(
                    reply.rcode(),
                    hickory_proto::op::ResponseCode::Refused,
                    "{name} {rtype} is not ours: {}",
                    reply.dump()
                );
                assert!(reply.answer().is_empty() && !reply.aa(), "{}", reply.dump());
            }
        }
    }
}

#[test]
fn check_json_parses_and_reports_findings() {
    let output = crate::common::splitdns()
        .args(["check", "--format", "json", "--config"])
        .arg(crate::common::example_config())
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
        "_autodiscover._tcp.fabrikam.example."
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
    let output = crate::common::splitdns()
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

const MERGE_CONFIG: &str = r#"
[[view]]
name = "internal"
clients = ["127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[exchange]]
namespace = "mail.contoso.example"
internal = ["10.0.0.11", "10.0.0.12"]
external = ["203.0.113.10"]
autodiscover = true

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"
[zone.views]
internal = "contoso.example.internal.zone"
"#;

const MERGE_SHARED: &str = "$ORIGIN contoso.example.\n$TTL 3600\n\
@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 203.0.113.53\n\
autodiscover CNAME mail\nportal A 203.0.113.80\n";

/// Zone-file records win whatever their type: `autodiscover CNAME mail` in the shared
/// file beside `autodiscover = true` loads, and both views answer the CNAME followed to their own
/// addresses for mail; an override CNAME replaces a shared A in that view only.
#[test]
fn zone_file_cnames_win_over_generated_and_shared_records() {
    let dir = scratch_dir("exchange_cname_wins");
    std::fs::write(dir.join("splitdns.toml"), MERGE_CONFIG).unwrap();
    std::fs::write(dir.join("contoso.example.zone"), MERGE_SHARED).unwrap();
    std::fs::write(
        dir.join("contoso.example.internal.zone"),
        "$ORIGIN contoso.example.\nportal 300 CNAME intranet\nintranet 300 A 10.0.0.80\n",
    )
    .unwrap();
    let server = Server::with_config(&dir.join("splitdns.toml"));
    const CNAME: &str = "autodiscover.contoso.example. 3600 CNAME mail.contoso.example.";
    for via in BOTH {
        let inside = ask(
            &server,
            INTERNAL,
            via,
            "autodiscover.contoso.example.",
            RecordType::A,
        );
        assert_eq!(
            sorted(inside.answer()),
            sorted(vec![
                CNAME.to_string(),
                "mail.contoso.example. 300 A 10.0.0.11".into(),
                "mail.contoso.example. 300 A 10.0.0.12".into(),
            ]),
            "{}",
            inside.dump()
        );
        let outside = ask(
            &server,
            EXTERNAL,
            via,
            "autodiscover.contoso.example.",
            RecordType::A,
        );
        assert_eq!(
            sorted(outside.answer()),
            sorted(vec![
                CNAME.to_string(),
                "mail.contoso.example. 300 A 203.0.113.10".into()
            ]),
            "{}",
            outside.dump()
        );
        let portal_inside = ask(
            &server,
            INTERNAL,
            via,
            "portal.contoso.example.",
            RecordType::A,
        );
        assert_eq!(
            portal_inside.answer(),
            vec![
                "portal.contoso.example. 300 CNAME intranet.contoso.example.",
                "intranet.contoso.example. 300 A 10.0.0.80"
            ],
            "{}",
            portal_inside.dump()
        );
        let portal_outside = ask(
            &server,
            EXTERNAL,
            via,
            "portal.contoso.example.",
            RecordType::A,
        );
        assert_eq!(
            portal_outside.answer(),
            vec!["portal.contoso.example. 3600 A 203.0.113.80"],
            "{}",
            portal_outside.dump()
        );
    }
}

/// A real conflict on a merged name says where both records were written and in which view.
#[test]
fn a_cname_conflict_names_both_files_and_the_view() {
    let dir = scratch_dir("exchange_cname_conflict");
    std::fs::write(dir.join("splitdns.toml"), MERGE_CONFIG).unwrap();
    std::fs::write(dir.join("contoso.example.zone"), MERGE_SHARED).unwrap();
    // The override adds a TXT beside its own CNAME: that is a conflict in the internal view.
    std::fs::write(
        dir.join("contoso.example.internal.zone"),
        "$ORIGIN contoso.example.\nportal 300 CNAME intranet\nportal 300 TXT \"x\"\nintranet A 10.0.0.80\n",
    )
    .unwrap();
    let output = crate::common::splitdns()
        .args(["check", "--config"])
        .arg(dir.join("splitdns.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let internal = dir.join("contoso.example.internal.zone");
    let expected = format!(
        "{0}:3: portal.contoso.example. has a CNAME ({0}:2) and other data in view internal (TXT at {0}:3): a CNAME must stand alone",
        internal.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// One typo in the zone file that holds the namespace gives exactly one error: the names the
/// `[[exchange]]` block generates into that zone (and the SRV-only domain whose zone copies its
/// SOA) are consequences of the failed file, not errors of their own.
#[test]
fn one_typo_gives_one_error() {
    let dir = scratch_dir("exchange_one_typo");
    let zones = crate::common::example_dir();
    for name in ["splitdns.toml", "contoso.example.internal.zone"] {
        std::fs::copy(zones.join(name), dir.join(name)).unwrap();
    }
    let shared = std::fs::read_to_string(zones.join("contoso.example.zone")).unwrap();
    let broken = shared.replace(
        "www             A     203.0.113.80",
        "www             A     203.0.113.800",
    );
    assert_ne!(broken, shared);
    std::fs::write(dir.join("contoso.example.zone"), broken).unwrap();
    let output = crate::common::splitdns()
        .args(["check", "--config"])
        .arg(dir.join("splitdns.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with(dir.to_str().unwrap()) && line.contains(": "))
        .filter(|line| !line.ends_with("error(s) in zone data"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("contoso.example.zone:20:") && errors[0].contains("203.0.113.800"),
        "{stderr}"
    );
}

/// A deliberate apex web server: `check --strict` fails on its warning until the config
/// acknowledges that finding for that name; the finding is still shown, marked acknowledged,
/// and an acknowledgement that matches nothing is itself reported (and fails --strict).
#[test]
fn acknowledged_findings_do_not_fail_strict_and_unused_ones_are_reported() {
    let dir = scratch_dir("exchange_acknowledge");
    let shared = format!("{MERGE_SHARED}@ A 203.0.113.80\n_autodiscover._tcp SRV 0 0 443 mail\n");
    std::fs::write(dir.join("contoso.example.zone"), shared).unwrap();
    std::fs::write(dir.join("contoso.example.internal.zone"), "").unwrap();
    let check = |config: &str| {
        std::fs::write(dir.join("splitdns.toml"), config).unwrap();
        let output = crate::common::splitdns()
            .args(["check", "--strict", "--config"])
            .arg(dir.join("splitdns.toml"))
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    };
    let (ok, out) = check(MERGE_CONFIG);
    assert!(!ok, "{out}");
    assert!(
        out.contains("warning[apex-address-probed-by-outlook]"),
        "{out}"
    );

    let acknowledged = format!(
        "{MERGE_CONFIG}\n[[acknowledge]]\nfinding = \"apex-address-probed-by-outlook\"\nname = \"contoso.example\"\ncomment = \"the web team serves /autodiscover/ redirects\"\n"
    );
    let (ok, out) = check(&acknowledged);
    assert!(ok, "{out}");
    assert!(
        out.contains("warning[apex-address-probed-by-outlook] (view external): ")
            && out.contains("(acknowledged: the web team serves /autodiscover/ redirects)"),
        "{out}"
    );
    assert!(out.contains("1 warning(s) (1 acknowledged)"), "{out}");

    let stale = format!(
        "{acknowledged}\n[[acknowledge]]\nfinding = \"wildcard-captures-autodiscover\"\nname = \"autodiscover.contoso.example\"\ncomment = \"old wildcard, removed since\"\n"
    );
    let (ok, out) = check(&stale);
    assert!(!ok, "{out}");
    assert!(
        out.contains("splitdns.toml:28: warning[acknowledgement-unused]: [[acknowledge]] of wildcard-captures-autodiscover for autodiscover.contoso.example. matches nothing"),
        "{out}"
    );
}
