//! Each check against a fixture that triggers it and one that does not.

use super::{Finding, Severity};
use crate::load::{self, LoadError};
use crate::scratch::Scratch;

const CONFIG: &str = r#"
[[view]]
name = "internal"
clients = ["10.0.0.0/8", "127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "shared.zone"
[zone.views]
internal = "internal.zone"
"#;

const SHARED: &str = "$ORIGIN contoso.example.
$TTL 3600
@ SOA ns1 hostmaster 1 3600 900 1209600 300
@ NS ns1
ns1 A 203.0.113.53
mail A 203.0.113.10
www A 203.0.113.80
_autodiscover._tcp SRV 0 0 443 mail
";

const INTERNAL: &str = "$ORIGIN contoso.example.\nmail 300 A 10.0.0.11\n";

/// Writes a fixture (config + files) into a fresh directory and runs every check on it.
fn findings(config_extra: &str, shared_extra: &str, internal_extra: &str) -> Vec<Finding> {
    findings_in(&[
        ("splitdns.toml", &format!("{CONFIG}\n{config_extra}")),
        ("shared.zone", &format!("{SHARED}{shared_extra}")),
        ("internal.zone", &format!("{INTERNAL}{internal_extra}")),
    ])
}

/// Writes `files` (the config is `splitdns.toml`) into a fresh directory, loads it and returns
/// every finding.
fn findings_in(files: &[(&str, &str)]) -> Vec<Finding> {
    let dir = Scratch::new("checks");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    // Findings of severity error refuse the load: they come back as the error.
    match load::load(&dir.join("splitdns.toml")) {
        Ok(loaded) => loaded.findings,
        Err(LoadError::Refused(findings)) => findings,
        Err(e) => panic!("{:?}", e.lines()),
    }
}

fn ids(found: &[Finding]) -> Vec<(&'static str, Severity, Option<&str>)> {
    found
        .iter()
        .map(|f| (f.id, f.severity, f.view.as_deref()))
        .collect()
}

#[test]
fn the_clean_fixture_has_no_findings() {
    assert_eq!(findings("", "", ""), vec![]);
}

#[test]
fn each_check_fires_on_its_fixture() {
    use Severity::*;
    let cases: &[(&str, &str, &str, &str, Severity, &str)] = &[
        // (name, config extra, shared extra, internal extra, severity, view)
        (
            "private-address-in-public-view",
            "",
            "db A 10.9.9.9\n",
            "",
            Error,
            "external",
        ),
        (
            "private-address-in-public-view",
            "",
            "v6 AAAA fd00::5\n",
            "",
            Error,
            "external",
        ),
        (
            "autodiscover-srv-port",
            "",
            "_autodiscover._tcp.sub SRV 0 0 8443 mail\n",
            "",
            Error,
            "external",
        ),
        (
            "autodiscover-srv-target-cname",
            "",
            "_autodiscover._tcp.x SRV 0 0 443 ex\nex CNAME mail\n",
            "",
            Error,
            "internal",
        ),
        (
            "autodiscover-srv-target-no-address",
            "",
            "_autodiscover._tcp.x SRV 0 0 443 nohost\n",
            "",
            Error,
            "external",
        ),
        (
            "autodiscover-srv-target-not-served",
            "",
            "_autodiscover._tcp.x SRV 0 0 443 mail.other.example.\n",
            "",
            Warning,
            "internal",
        ),
        (
            "wildcard-captures-autodiscover",
            "",
            "* A 203.0.113.80\n",
            "",
            Warning,
            "external",
        ),
        (
            "apex-address-probed-by-outlook",
            "",
            "@ A 203.0.113.80\n",
            "",
            Warning,
            "external",
        ),
        (
            "namespace-same-in-both-views",
            "[[exchange]]\nnamespace = \"owa.contoso.example\"\ninternal = [\"203.0.113.20\"]\nexternal = [\"203.0.113.20\"]\n",
            "",
            "",
            Warning,
            "internal",
        ),
        (
            "namespace-public-internally",
            "[[exchange]]\nnamespace = \"owa.contoso.example\"\ninternal = [\"198.51.100.5\"]\nexternal = [\"203.0.113.20\"]\n",
            "",
            "",
            Warning,
            "internal",
        ),
        (
            "tlsa-in-unsigned-zone",
            "",
            "_25._tcp.mail TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
            "",
            Warning,
            "internal",
        ),
        (
            "name-missing-in-view",
            "",
            "",
            "intranet A 10.0.0.20\n",
            Info,
            "external",
        ),
        (
            "redundant-override",
            "",
            "",
            "www 3600 A 203.0.113.80\n",
            Info,
            "internal",
        ),
        (
            "generated-record-shadowed",
            "[[exchange]]\nnamespace = \"mail.contoso.example\"\ninternal = [\"10.0.0.12\"]\nexternal = [\"203.0.113.10\"]\n",
            "",
            "",
            Info,
            "external",
        ),
    ];
    for (id, config, shared, internal, severity, view) in cases {
        let found = findings(config, shared, internal);
        assert!(
            found.iter().any(|f| f.id == *id
                && f.severity == *severity
                && f.view.as_deref() == Some(*view)),
            "{id} did not fire: {:?}",
            ids(&found)
        );
    }
}

/// A TLSA record in a zone no view signs is warned about once, at its line, however many views
/// share it; in a zone a view signs it is not, even where another view opts out.
#[test]
fn tlsa_records_want_a_signed_zone() {
    let tlsa = "_25._tcp.mail TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    let warned = |found: &[Finding]| -> Vec<(Option<u32>, Option<String>)> {
        found
            .iter()
            .filter(|f| f.id == "tlsa-in-unsigned-zone")
            .map(|f| (f.line, f.name.clone()))
            .collect()
    };
    assert_eq!(
        warned(&findings("", tlsa, "")),
        [(Some(9), Some("_25._tcp.mail.contoso.example.".to_string()))]
    );
    let signed = |internal_opts_out: bool| {
        let config = format!("state_dir = \".\"\n{CONFIG}").replace(
            "file = \"shared.zone\"\n",
            "file = \"shared.zone\"\ndnssec = true\n",
        );
        let config = if internal_opts_out {
            config.replace(
                "clients = [\"10.0.0.0/8\", \"127.0.0.2/32\"]\n",
                "clients = [\"10.0.0.0/8\", \"127.0.0.2/32\"]\ndnssec = false\n",
            )
        } else {
            config
        };
        findings_in(&[
            ("splitdns.toml", &config),
            ("shared.zone", &format!("{SHARED}{tlsa}")),
            ("internal.zone", INTERNAL),
        ])
    };
    assert_eq!(warned(&signed(false)), []);
    assert_eq!(warned(&signed(true)), []);
}

#[test]
fn findings_point_at_the_record() {
    let found = findings("", "db A 10.9.9.9\n", "");
    let finding = found
        .iter()
        .find(|f| f.id == "private-address-in-public-view")
        .unwrap();
    assert_eq!(finding.line, Some(9));
    assert!(finding.file.as_ref().unwrap().ends_with("shared.zone"));
    assert!(finding.to_string().contains("shared.zone:9: error[private-address-in-public-view] (view external): db.contoso.example. A 10.9.9.9 is an RFC 1918 private address"), "{finding}");
}

#[test]
fn near_misses_do_not_fire() {
    // Private address only inside; explicit autodiscover beside a wildcard; apex address without
    // Autodiscover in that zone; distinct private/public namespace addresses; an override that
    // really changes the TTL.
    let cases: &[(&str, &str, &str)] = &[
        ("", "", "www A 10.0.0.80\n"),
        ("", "* A 203.0.113.80\nautodiscover A 203.0.113.10\n", ""),
        (
            "[[exchange]]\nnamespace = \"owa.contoso.example\"\ninternal = [\"10.0.0.20\"]\nexternal = [\"203.0.113.20\"]\n",
            "",
            "",
        ),
        ("", "", "www 60 A 203.0.113.80\n"),
    ];
    for (config, shared, internal) in cases {
        let found = findings(config, shared, internal);
        assert_eq!(
            ids(&found),
            vec![],
            "false positive for {config:?} {shared:?} {internal:?}"
        );
    }
}

#[test]
fn the_bundled_example_has_no_errors_or_warnings() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/splitdns.toml");
    let found = load::load(&path).unwrap().findings;
    assert!(
        found.iter().all(|f| f.severity == Severity::Info),
        "{found:?}"
    );
}

/// The README's first example put only IPv4 prefixes inside while the outside takes `::/0`: with
/// the server on IPv6, an inside client asking over IPv6 would get outside answers. Adding a ULA
/// prefix inside (today's README) silences it, and so does a server that listens on IPv4 only.
#[test]
fn an_inside_view_without_ipv6_is_warned_about_when_the_server_listens_on_ipv6() {
    let config = |listen: &str, inside: &str| {
        format!(
            "listen = [{listen}]\n\n[[view]]\nname = \"internal\"\nclients = [{inside}]\n\n[[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\", \"::/0\"]\n\n[[zone]]\norigin = \"contoso.example\"\nfile = \"shared.zone\"\n"
        )
    };
    let v4_only = "\"10.0.0.0/8\", \"192.168.0.0/16\"";
    let with_ula = "\"10.0.0.0/8\", \"192.168.0.0/16\", \"fd00:10::/48\"";
    let dual_stack = "\"0.0.0.0:53\", \"[::]:53\"";
    let old = findings_in(&[
        ("splitdns.toml", &config(dual_stack, v4_only)),
        ("shared.zone", SHARED),
    ]);
    let warning = old
        .iter()
        .find(|f| f.id == "inside-view-without-ipv6")
        .unwrap_or_else(|| panic!("no warning: {:?}", ids(&old)));
    assert_eq!(
        (warning.severity, warning.view.as_deref(), warning.line),
        (Severity::Warning, Some("internal"), Some(4))
    );
    for (listen, inside) in [(dual_stack, with_ula), ("\"0.0.0.0:53\"", v4_only)] {
        let found = findings_in(&[
            ("splitdns.toml", &config(listen, inside)),
            ("shared.zone", SHARED),
        ]);
        assert!(
            found.iter().all(|f| f.id != "inside-view-without-ipv6"),
            "{listen} {inside}: {:?}",
            ids(&found)
        );
    }
}

/// A configured zone that holds only SOA, NS and the Autodiscover SRV takes over its whole
/// domain: warned about at its `[[zone]]` line. A zone with anything else in it is not.
#[test]
fn a_zone_only_for_autodiscover_srv_is_warned_about() {
    let fabrikam = "$ORIGIN fabrikam.example.\n$TTL 3600\n@ SOA ns1.contoso.example. hostmaster.contoso.example. 1 3600 900 1209600 300\n@ NS ns1.contoso.example.\n_autodiscover._tcp SRV 0 0 443 mail.contoso.example.\n";
    let config =
        format!("{CONFIG}\n[[zone]]\norigin = \"fabrikam.example\"\nfile = \"fabrikam.zone\"\n");
    let found = findings_in(&[
        ("splitdns.toml", &config),
        ("shared.zone", SHARED),
        ("internal.zone", INTERNAL),
        ("fabrikam.zone", fabrikam),
    ]);
    let warning = found
        .iter()
        .find(|f| f.id == "zone-only-for-autodiscover-srv")
        .unwrap_or_else(|| panic!("no warning: {:?}", ids(&found)));
    assert_eq!(
        (warning.severity, warning.line),
        (Severity::Warning, Some(17))
    );
    assert!(warning.message.contains("srv_domains"), "{warning}");
    let with_mx = format!("{fabrikam}@ MX 10 mx.fabrikam.example.\nmx A 203.0.113.25\n");
    let found = findings_in(&[
        ("splitdns.toml", &config),
        ("shared.zone", SHARED),
        ("internal.zone", INTERNAL),
        ("fabrikam.zone", &with_mx),
    ]);
    assert!(
        found
            .iter()
            .all(|f| f.id != "zone-only-for-autodiscover-srv"),
        "{:?}",
        ids(&found)
    );
}

/// A view with private addresses that anyone may transfer without a key is warned about at the
/// view's line; the same view open only to a secondary's address, or only by key, is not.
#[test]
fn a_transfer_open_to_anyone_is_warned_about() {
    let with_transfer = |transfer: &str| {
        CONFIG.replace(
            "clients = [\"10.0.0.0/8\", \"127.0.0.2/32\"]",
            &format!("clients = [\"10.0.0.0/8\", \"127.0.0.2/32\"]\n{transfer}"),
        )
    };
    let key = "[[key]]\nname = \"k\"\nsecret = \"c2VjcmV0\"\n";
    let open = findings_in(&[
        (
            "splitdns.toml",
            &format!(
                "{}\n{key}",
                with_transfer("transfer = { allow = [\"0.0.0.0/0\"] }")
            ),
        ),
        ("shared.zone", SHARED),
        ("internal.zone", INTERNAL),
    ]);
    let warning = open
        .iter()
        .find(|f| f.id == "transfer-open-to-anyone")
        .unwrap_or_else(|| panic!("no warning: {:?}", ids(&open)));
    assert_eq!(
        (warning.severity, warning.view.as_deref(), warning.line),
        (Severity::Warning, Some("internal"), Some(3))
    );
    assert!(
        warning.message.contains("mail.contoso.example. 10.0.0.11"),
        "{}",
        warning.message
    );
    for transfer in [
        "transfer = { allow = [\"10.0.0.53/32\"] }",
        "transfer = { keys = [\"k\"] }",
    ] {
        let found = findings_in(&[
            (
                "splitdns.toml",
                &format!("{}\n{key}", with_transfer(transfer)),
            ),
            ("shared.zone", SHARED),
            ("internal.zone", INTERNAL),
        ]);
        assert!(
            found.iter().all(|f| f.id != "transfer-open-to-anyone"),
            "{transfer}: {:?}",
            ids(&found)
        );
    }
}

/// `_autodiscover._tcp SRV 0 0 0 .` is RFC 2782's "no such service here", which some admins
/// publish on purpose in one view: an info finding that says what Outlook does with it, never an
/// error (which would refuse the data and stop the server), and no other SRV check looks at the
/// `.` target (no port, target, apex or SRV-only-zone finding).
#[test]
fn a_no_service_autodiscover_srv_is_information_not_an_error() {
    use Severity::*;
    let found = findings("", "", "_autodiscover._tcp 300 SRV 0 0 0 .\n");
    assert_eq!(
        ids(&found),
        vec![("autodiscover-srv-no-service", Info, Some("internal"))]
    );
    assert!(
        found[0].message.contains("other Autodiscover methods"),
        "{}",
        found[0]
    );
    assert_eq!(found[0].line, Some(3), "{}", found[0]);

    // A zone that says "no SRV Autodiscover" in every view, with and without a web site at its
    // apex: it does not serve Autodiscover, so neither the apex nor the SRV-only-zone check
    // applies.
    let config =
        format!("{CONFIG}\n[[zone]]\norigin = \"fabrikam.example\"\nfile = \"fabrikam.zone\"\n");
    let fabrikam = "$ORIGIN fabrikam.example.\n$TTL 3600\n@ SOA ns1.contoso.example. hostmaster.contoso.example. 1 3600 900 1209600 300\n@ NS ns1.contoso.example.\n_autodiscover._tcp SRV 0 0 0 .\n";
    for zone in [
        fabrikam.to_string(),
        format!("{fabrikam}@ A 203.0.113.80\n"),
    ] {
        let found = findings_in(&[
            ("splitdns.toml", &config),
            ("shared.zone", SHARED),
            ("internal.zone", INTERNAL),
            ("fabrikam.zone", &zone),
        ]);
        assert_eq!(
            ids(&found),
            vec![
                ("autodiscover-srv-no-service", Info, Some("external")),
                ("autodiscover-srv-no-service", Info, Some("internal")),
            ],
            "{zone}"
        );
    }
}

/// A domain Outlook must find Autodiscover for — an `[[exchange]]` namespace's domain,
/// a `srv_domains` domain, or a zone with an MX at its apex next to an `[[exchange]]` block —
/// with neither `autodiscover.<domain>` nor an `_autodiscover._tcp.<domain>` SRV in a view that
/// serves it: one warning per domain and view, naming the record to add.
#[test]
fn a_domain_without_any_autodiscover_is_warned_about() {
    use Severity::*;
    let without_srv = SHARED.replace("_autodiscover._tcp SRV 0 0 443 mail\n", "");
    let exchange = "[[exchange]]\nnamespace = \"mail.contoso.example\"\ninternal = [\"10.0.0.11\"]\nexternal = [\"203.0.113.10\"]\n";
    let run = |config_extra: &str, shared: &str, internal_extra: &str| {
        findings_in(&[
            ("splitdns.toml", &format!("{CONFIG}\n{config_extra}")),
            ("shared.zone", shared),
            ("internal.zone", &format!("{INTERNAL}{internal_extra}")),
        ])
    };
    let missing = |found: &[Finding]| -> Vec<(Option<String>, String)> {
        found
            .iter()
            .filter(|f| f.id == "autodiscover-missing")
            .map(|f| {
                assert_eq!(f.severity, Warning, "{f}");
                (f.view.clone(), f.message.clone())
            })
            .collect()
    };

    // The namespace's domain, in both views, at the [[exchange]] block's line.
    let found = run(exchange, &without_srv, "");
    let warnings = missing(&found);
    assert_eq!(
        warnings
            .iter()
            .map(|(v, _)| v.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("external"), Some("internal")],
        "{:?}",
        ids(&found)
    );
    for (_, message) in &warnings {
        assert!(
            message.contains("autodiscover.contoso.example")
                && message.contains(
                    "_autodiscover._tcp.contoso.example. SRV 0 0 443 mail.contoso.example."
                )
                && message.contains("autodiscover = true"),
            "{message}"
        );
    }
    let at = found
        .iter()
        .find(|f| f.id == "autodiscover-missing")
        .unwrap();
    assert_eq!(at.line, Some(17), "{at}");
    assert!(at.file.as_ref().unwrap().ends_with("splitdns.toml"), "{at}");

    // Only the view without it.
    let found = run(
        exchange,
        &without_srv,
        "_autodiscover._tcp SRV 0 0 443 mail\n",
    );
    assert_eq!(
        missing(&found)
            .iter()
            .map(|(v, _)| v.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("external")]
    );

    // A zone with mail next to an [[exchange]] block: an accepted domain.
    let tailspin = "$ORIGIN tailspin.example.\n$TTL 3600\n@ SOA ns1.contoso.example. hostmaster.contoso.example. 1 3600 900 1209600 300\n@ NS ns1.contoso.example.\n@ MX 10 mail.contoso.example.\n";
    let with_tailspin = format!(
        "{CONFIG}\n[[zone]]\norigin = \"tailspin.example\"\nfile = \"tailspin.zone\"\n\n{exchange}"
    );
    let found = findings_in(&[
        ("splitdns.toml", &with_tailspin),
        ("shared.zone", SHARED),
        ("internal.zone", INTERNAL),
        ("tailspin.zone", tailspin),
    ]);
    let warnings = missing(&found);
    assert_eq!(warnings.len(), 2, "{:?}", ids(&found));
    assert!(
        warnings.iter().all(|(_, m)| m.contains("tailspin.example")
            && m.contains("srv_domains")
            && m.contains(
                "_autodiscover._tcp.tailspin.example. SRV 0 0 443 mail.contoso.example."
            )),
        "{warnings:?}"
    );
    let at = found
        .iter()
        .find(|f| f.id == "autodiscover-missing")
        .unwrap();
    assert!(at.file.as_ref().unwrap().ends_with("tailspin.zone"), "{at}");

    // Each of these is Autodiscover (or a deliberate "no SRV Autodiscover"): no warning.
    let quiet: &[(&str, &str, &str)] = &[
        // The SRV in the shared file.
        (exchange, SHARED, ""),
        // autodiscover = true: autodiscover.contoso.example in both views.
        (
            &format!("{exchange}autodiscover = true\n"),
            &without_srv,
            "",
        ),
        // srv_domains: the SRV generated in every view.
        (
            &format!("{exchange}srv_domains = [\"contoso.example\"]\n"),
            &without_srv,
            "",
        ),
        // A CNAME to the namespace.
        (
            exchange,
            &format!("{without_srv}autodiscover CNAME mail\n"),
            "",
        ),
        // "No SRV Autodiscover" beside the host.
        (
            exchange,
            &format!("{without_srv}autodiscover A 203.0.113.10\n_autodiscover._tcp SRV 0 0 0 .\n"),
            "",
        ),
        // "No SRV Autodiscover" alone: the admin's explicit word (an info finding says what
        // Outlook does then), not a forgotten record.
        (
            exchange,
            &format!("{without_srv}_autodiscover._tcp SRV 0 0 0 .\n"),
            "",
        ),
        // No [[exchange]] block: nothing says this server serves Exchange.
        ("", &without_srv, ""),
    ];
    for (config, shared, internal) in quiet {
        let found = run(config, shared, internal);
        assert_eq!(missing(&found), vec![], "{config:?} {shared:?}");
    }
}
