//! View selection and override merging, seen from the wire: the same questions from an internal
//! (127.0.0.2) and an external (127.0.0.3) source get each view's exact answer, over UDP and TCP.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType::{A, AAAA, MX, NS, SOA, SRV, TXT};

use crate::common::{BOTH, Case, EXTERNAL, INTERNAL, NO_VIEW, Server, ask, check_all};

const INTERNAL_MAIL: &[&str] = &[
    "mail.contoso.example. 300 A 10.0.0.11",
    "mail.contoso.example. 300 A 10.0.0.12",
    "mail.contoso.example. 300 A 10.0.0.13",
];
const EXTERNAL_MAIL: &[&str] = &["mail.contoso.example. 3600 A 203.0.113.10"];

/// The namespace resolves to the three Client Access servers inside and the firewall outside;
/// `autodiscover` overrides only its A set inside, so its AAAA set (and, outside, its A set) is
/// the shared one.
#[test]
fn round_robin_address_sets_per_view() {
    let server = Server::start("split");
    check_all(
        &server,
        &[
            Case {
                from: INTERNAL,
                qname: "mail.contoso.example.",
                answer: INTERNAL_MAIL,
                ..Case::DEFAULT
            },
            Case {
                from: EXTERNAL,
                qname: "mail.contoso.example.",
                answer: EXTERNAL_MAIL,
                ..Case::DEFAULT
            },
            Case {
                from: INTERNAL,
                qname: "autodiscover.contoso.example.",
                answer: &[
                    "autodiscover.contoso.example. 300 A 10.0.0.11",
                    "autodiscover.contoso.example. 300 A 10.0.0.12",
                    "autodiscover.contoso.example. 300 A 10.0.0.13",
                ],
                ..Case::DEFAULT
            },
            Case {
                from: EXTERNAL,
                qname: "autodiscover.contoso.example.",
                answer: &["autodiscover.contoso.example. 3600 A 203.0.113.10"],
                ..Case::DEFAULT
            },
            Case {
                from: INTERNAL,
                qname: "autodiscover.contoso.example.",
                qtype: AAAA,
                answer: &["autodiscover.contoso.example. 3600 AAAA 2001:db8:113::10"],
                ..Case::DEFAULT
            },
            Case {
                from: EXTERNAL,
                qname: "autodiscover.contoso.example.",
                qtype: AAAA,
                answer: &["autodiscover.contoso.example. 3600 AAAA 2001:db8:113::10"],
                ..Case::DEFAULT
            },
        ],
    );
}

/// Autodiscover SRV for both accepted domains points at the one namespace, and the additional
/// section carries that name's addresses from the asking client's view (across zones: the
/// fabrikam SRV target lives in contoso.example).
#[test]
fn srv_answers_carry_the_views_target_addresses() {
    let server = Server::start("split");
    let mut cases = Vec::new();
    for qname in [
        "_autodiscover._tcp.contoso.example.",
        "_autodiscover._tcp.fabrikam.example.",
    ] {
        let answer: &'static [&'static str] = if qname.contains("contoso") {
            &["_autodiscover._tcp.contoso.example. 3600 SRV 0 0 443 mail.contoso.example."]
        } else {
            &["_autodiscover._tcp.fabrikam.example. 3600 SRV 0 0 443 mail.contoso.example."]
        };
        for (from, additional) in [(INTERNAL, INTERNAL_MAIL), (EXTERNAL, EXTERNAL_MAIL)] {
            cases.push(Case {
                from,
                qname,
                qtype: SRV,
                answer,
                additional,
                ..Case::DEFAULT
            });
        }
    }
    check_all(&server, &cases);
}

/// Records only the shared file holds are served identically in both views (the most common
/// split-DNS failure is the inside losing them). Only additional data that names the namespace
/// differs: the MX target's addresses come from each view.
#[test]
fn shared_records_are_inherited_by_both_views() {
    let server = Server::start("split");
    let mut cases = Vec::new();
    for from in [INTERNAL, EXTERNAL] {
        cases.extend([
            Case { from, qname: "www.contoso.example.", answer: &["www.contoso.example. 3600 A 203.0.113.80"], ..Case::DEFAULT },
            Case {
                from,
                qname: "contoso.example.",
                qtype: TXT,
                answer: &["contoso.example. 3600 TXT \"v=spf1 mx -all\""],
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "contoso.example.",
                qtype: NS,
                answer: &["contoso.example. 3600 NS ns1.contoso.example.", "contoso.example. 3600 NS ns2.contoso.example."],
                additional: &["ns1.contoso.example. 3600 A 203.0.113.53", "ns2.contoso.example. 3600 A 198.51.100.53"],
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "contoso.example.",
                qtype: SOA,
                answer: &[
                    "contoso.example. 3600 SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300",
                ],
                ..Case::DEFAULT
            },
        ]);
    }
    for (from, additional) in [(INTERNAL, INTERNAL_MAIL), (EXTERNAL, EXTERNAL_MAIL)] {
        cases.push(Case {
            from,
            qname: "contoso.example.",
            qtype: MX,
            answer: &["contoso.example. 3600 MX 10 mail.contoso.example."],
            additional,
            ..Case::DEFAULT
        });
    }
    check_all(&server, &cases);
}

/// Names the internal override adds exist only inside, including the empty non-terminal they
/// create; outside they do not exist at all.
#[test]
fn names_added_by_an_override_exist_only_in_that_view() {
    let server = Server::start("split");
    const SOA_300: &[&str] = &[
        "contoso.example. 300 SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300",
    ];
    check_all(
        &server,
        &[
            Case {
                from: INTERNAL,
                qname: "host.lab.contoso.example.",
                answer: &["host.lab.contoso.example. 300 A 10.0.9.9"],
                ..Case::DEFAULT
            },
            Case {
                from: INTERNAL,
                qname: "lab.contoso.example.",
                authority: SOA_300,
                ..Case::DEFAULT
            },
            Case {
                from: EXTERNAL,
                qname: "host.lab.contoso.example.",
                rcode: ResponseCode::NXDomain,
                authority: SOA_300,
                ..Case::DEFAULT
            },
            Case {
                from: EXTERNAL,
                qname: "lab.contoso.example.",
                rcode: ResponseCode::NXDomain,
                authority: SOA_300,
                ..Case::DEFAULT
            },
        ],
    );
}

/// A name in no zone we serve is REFUSED (we are not a resolver), with AA clear and no records,
/// from either view; so is the parent of our zones.
#[test]
fn names_outside_our_zones_are_refused() {
    let server = Server::start("split");
    let mut cases = Vec::new();
    for from in [INTERNAL, EXTERNAL] {
        for (qname, qtype) in [
            ("example.org.", A),
            ("www.example.org.", A),
            ("example.", SOA),
            (".", NS),
        ] {
            cases.push(Case {
                from,
                qname,
                qtype,
                rcode: ResponseCode::Refused,
                aa: false,
                ..Case::DEFAULT
            });
        }
    }
    check_all(&server, &cases);
}

/// With views that cover only 127.0.0.2 and 127.0.0.3, a client at 127.0.0.4 matches no view and
/// is REFUSED, even for a name the server is authoritative for; the covered sources still get
/// their own view.
#[test]
fn a_client_in_no_view_is_refused() {
    let server = Server::start("no_default_view");
    check_all(
        &server,
        &[
            Case {
                from: NO_VIEW,
                qname: "mail.contoso.example.",
                rcode: ResponseCode::Refused,
                aa: false,
                ..Case::DEFAULT
            },
            Case {
                from: NO_VIEW,
                qname: "contoso.example.",
                qtype: SOA,
                rcode: ResponseCode::Refused,
                aa: false,
                ..Case::DEFAULT
            },
            Case {
                from: INTERNAL,
                qname: "mail.contoso.example.",
                answer: INTERNAL_MAIL,
                ..Case::DEFAULT
            },
            Case {
                from: EXTERNAL,
                qname: "mail.contoso.example.",
                answer: EXTERNAL_MAIL,
                ..Case::DEFAULT
            },
        ],
    );
}

/// One source, one view, whatever the transport: a sanity check that the TCP side routes by the
/// connection's source address exactly as UDP does by the datagram's.
#[test]
fn the_view_follows_the_source_on_every_transport() {
    let server = Server::start("split");
    for via in BOTH {
        for _ in 0..3 {
            let inside = ask(&server, INTERNAL, via, "mail.contoso.example.", A);
            let outside = ask(&server, EXTERNAL, via, "mail.contoso.example.", A);
            assert_eq!(
                inside.answer().len(),
                3,
                "{via:?} inside:\n{}",
                inside.dump()
            );
            assert_eq!(
                outside.answer(),
                EXTERNAL_MAIL,
                "{via:?} outside:\n{}",
                outside.dump()
            );
        }
    }
}
