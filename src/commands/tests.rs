//! `explain` and `diff` output on the bundled example.

use std::path::Path;

use crate::dns::name::Name;
use crate::dns::rtype;
use crate::load;

fn example() -> (crate::config::Config, crate::view::Snapshot) {
    let loaded =
        load::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/splitdns.toml")).unwrap();
    (loaded.config, loaded.snapshot)
}

fn explain(client: &str, name: &str, qtype: u16) -> String {
    let (config, snapshot) = example();
    let name = Name::parse(name, None).unwrap();
    super::explain::render(
        &config,
        &snapshot,
        client.parse().unwrap(),
        None,
        &name,
        qtype,
    )
}

/// A request signed with a view's key gets that view from any source, and `explain` says so,
/// with the view the source alone would get; the answer is the keyed view's.
#[test]
fn explain_says_which_view_a_signed_request_gets_and_why() {
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transfer/splitdns.toml");
    let loaded = load::load(&config).unwrap();
    let name = Name::parse("mail.contoso.example.", None).unwrap();
    let text = super::explain::render(
        &loaded.config,
        &loaded.snapshot,
        "198.51.100.7".parse().unwrap(),
        Some(0),
        &name,
        rtype::A,
    );
    assert!(
        text.starts_with("request signed with key \"internal-xfr\" gets view \"internal\": the view lists the key, so the source address does not matter (unsigned, 198.51.100.7 would get view \"external\")\nthe response is signed (TSIG)\n"),
        "{text}"
    );
    assert!(text.contains("IN A 10.0.0.11"), "{text}");
    let spare = super::explain::render(
        &loaded.config,
        &loaded.snapshot,
        "198.51.100.7".parse().unwrap(),
        Some(2),
        &name,
        rtype::A,
    );
    let axfr = super::explain::render(
        &loaded.config,
        &loaded.snapshot,
        "198.51.100.7".parse().unwrap(),
        Some(0),
        &Name::parse("contoso.example.", None).unwrap(),
        rtype::AXFR,
    );
    assert!(
        axfr.ends_with(
            "transfer permitted (over TCP): 83 records in 1 messages from view \"internal\"\n"
        ),
        "{axfr}"
    );
    let refused = super::explain::render(
        &loaded.config,
        &loaded.snapshot,
        "198.51.100.7".parse().unwrap(),
        None,
        &Name::parse("contoso.example.", None).unwrap(),
        rtype::AXFR,
    );
    assert!(refused.contains("status REFUSED"), "{refused}");
    assert!(
        spare.starts_with("request signed with key \"spare\", which no view lists: routed by source address\nclient 198.51.100.7 gets view \"external\""),
        "{spare}"
    );
}

#[test]
fn explain_names_the_view_the_prefix_and_each_source() {
    let inside = explain(
        "10.1.2.3",
        "_autodiscover._tcp.fabrikam.example.",
        rtype::SRV,
    );
    let expected = "client 10.1.2.3 gets view \"internal\": 10.0.0.0/8 is the most specific prefix containing it
query _autodiscover._tcp.fabrikam.example. SRV
status NOERROR, flags aa
;; ANSWER
_autodiscover._tcp.fabrikam.example. 300 IN SRV 0 0 443 mail.contoso.example.   ; [[exchange]] block, ";
    assert!(inside.starts_with(expected), "{inside}");
    // The additional section carries the inside addresses, each traced to the [[exchange]] block.
    let additional: Vec<&str> = inside
        .lines()
        .skip_while(|l| *l != ";; ADDITIONAL")
        .skip(1)
        .collect();
    assert_eq!(additional.len(), 3, "{inside}");
    for line in additional {
        assert!(
            line.starts_with("mail.contoso.example. 300 IN A 10.0.0.1"),
            "{line}"
        );
        assert!(
            line.contains("; [[exchange]] block, ") && line.ends_with("splitdns.toml:29"),
            "{line}"
        );
    }

    let outside = explain("198.51.100.7", "www.contoso.example.", rtype::A);
    assert!(
        outside.starts_with("client 198.51.100.7 gets view \"external\": 0.0.0.0/0 is"),
        "{outside}"
    );
    assert!(
        outside.contains("www.contoso.example. 3600 IN A 203.0.113.80   ; shared file "),
        "{outside}"
    );
    assert!(
        outside.trim_end().ends_with("contoso.example.zone:20"),
        "{outside}"
    );

    let missing = explain("198.51.100.7", "intranet.contoso.example.", rtype::A);
    assert!(missing.contains("status NXDOMAIN, flags aa\n;; AUTHORITY\ncontoso.example. 300 IN SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300   ; shared file "), "{missing}");

    let internal_only = explain("10.0.0.5", "intranet.contoso.example.", rtype::A);
    assert!(
        internal_only.contains(
            "intranet.contoso.example. 300 IN A 10.0.0.20   ; override for view internal, "
        ),
        "{internal_only}"
    );
}

#[test]
fn diff_lists_exactly_the_names_that_differ() {
    let (config, snapshot) = example();
    let text = super::diff::render(&config, &snapshot.views[0], &snapshot.views[1]);
    let owners: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("---") && !l.starts_with("+++"))
        .collect();
    assert_eq!(
        owners,
        vec![
            "autodiscover.contoso.example.",
            "intranet.contoso.example.  (only in view internal)",
            "mail.contoso.example.",
            "3 name(s) differ"
        ],
        "{text}"
    );
    assert!(text.contains("  - A         300  10.0.0.20"), "{text}");
    assert!(text.contains("  + A         300  203.0.113.10"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("  - A")).count(),
        7,
        "{text}"
    );
    let same = super::diff::render(&config, &snapshot.views[1], &snapshot.views[1]);
    assert!(
        same.ends_with("views external and external serve identical data\n"),
        "{same}"
    );
}

/// `explain`'s health section: without results every address counts as up and the output says
/// nothing was probed; with results (as `--probe` gets them) each address says whether it is
/// answered and why not: down with its reason, or left out for a preferred site.
#[test]
fn explain_says_why_checked_addresses_are_left_out() {
    let dir = crate::scratch::Scratch::new("explain-health");
    std::fs::write(
        dir.join("z.zone"),
        "$ORIGIN contoso.example.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.53\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("splitdns.toml"),
        r#"[[view]]
name = "internal"
clients = ["10.0.0.0/8"]
[[exchange]]
namespace = "mail.contoso.example"
health = { kind = "tcp" }
[[exchange.site]]
name = "dc1"
internal = ["10.0.0.11", "10.0.0.12"]
[[exchange.site]]
name = "dc2"
internal = ["10.1.0.11"]
[[zone]]
origin = "contoso.example"
file = "z.zone"
"#,
    )
    .unwrap();
    let loaded = load::load(&dir.join("splitdns.toml")).unwrap();
    drop(dir);
    let name = Name::parse("mail.contoso.example.", None).unwrap();
    let plan = &loaded.health;
    let unprobed = super::explain::render_health(plan, "internal", &name, None);
    assert!(unprobed.contains("not probed"), "{unprobed}");
    assert!(unprobed.contains("10.1.0.11   ; answered"), "{unprobed}");

    let index = |ip: &str| {
        plan.targets
            .iter()
            .position(|t| t.address.to_string() == ip)
            .unwrap()
    };
    let mut results = vec![Ok(()); plan.targets.len()];
    results[index("10.0.0.12")] = Err("HTTP 503".to_string());
    let probed = super::explain::render_health(plan, "internal", &name, Some(&results));
    assert!(!probed.contains("not probed"), "{probed}");
    assert!(probed.contains("10.0.0.11   ; up: answered"), "{probed}");
    assert!(
        probed.contains("10.0.0.12   ; down, left out: HTTP 503"),
        "{probed}"
    );
    assert!(
        probed.contains("10.1.0.11   ; up, left out: a site preferred"),
        "{probed}"
    );
    // The other view, and other names, have nothing to say.
    assert!(super::explain::render_health(plan, "external", &name, Some(&results)).is_empty());
}

/// `explain` on a name no zone of the client's view holds says why the answer is
/// REFUSED (the view's zones, and that it does not recurse), and which zone of which other view
/// would hold it, if any.
#[test]
fn explain_says_why_a_name_is_refused() {
    let nowhere = explain("10.1.2.3", "www.example.org.", rtype::A);
    assert!(nowhere.contains("status REFUSED"), "{nowhere}");
    assert!(
        nowhere.contains(";; no zone of view \"internal\" holds www.example.org. (its zones: contoso.example., _autodiscover._tcp.fabrikam.example.), and the view does not recurse"),
        "{nowhere}"
    );
    assert!(
        nowhere.contains(
            ";; no zone of any view holds it: this server is not authoritative for www.example.org."
        ),
        "{nowhere}"
    );

    let outside = explain("198.51.100.7", "www.example.org.", rtype::A);
    assert!(
        outside.contains(
            "not authoritative for www.example.org.; clients should ask a resolver for it\n"
        ),
        "a public view is never advised to recurse: {outside}"
    );
    assert!(
        nowhere.contains("(or give view \"internal\" recursion = true and forwarders)"),
        "{nowhere}"
    );

    // A view without fabrikam's SRV zone (as when its copy never loaded): the other view's zone
    // is named. Views hold every configured zone today, so the snapshot is trimmed by hand.
    let (config, mut snapshot) = example();
    let full = std::mem::replace(
        &mut snapshot.views[0],
        crate::view::View::new("internal".into(), Vec::new(), false),
    );
    snapshot.views[0].clients = full.clients;
    for zone in full.zones {
        if !zone.origin.to_string().starts_with("_autodiscover") {
            snapshot.views[0].add_zone(zone);
        }
    }
    let name = Name::parse("_autodiscover._tcp.fabrikam.example.", None).unwrap();
    let elsewhere = super::explain::render(
        &config,
        &snapshot,
        "10.1.2.3".parse().unwrap(),
        None,
        &name,
        rtype::SRV,
    );
    assert!(elsewhere.contains("status REFUSED"), "{elsewhere}");
    assert!(
        elsewhere.contains(
            ";; zone _autodiscover._tcp.fabrikam.example. of view \"external\" would hold it"
        ),
        "{elsewhere}"
    );
    // A name that is answered says nothing of the kind.
    let answered = explain("10.1.2.3", "mail.contoso.example.", rtype::A);
    assert!(!answered.contains("no zone of"), "{answered}");
}
