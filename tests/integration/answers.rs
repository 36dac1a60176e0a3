//! The shape of authoritative answers (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 6672): negative
//! answers with the SOA, CNAME chains, DNAME synthesis, referrals with glue, empty non-terminals,
//! wildcards, case preservation, SRV order and round-robin rotation.

use std::collections::HashMap;

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{self, A, AAAA, CNAME, DNAME, DS, MX, NS, SRV, TXT};

use crate::common::{
    Case, EXTERNAL, INTERNAL, Server, Via, ask, check_all, decode_reply, query, render, udp_socket,
};

/// The SOA a negative contoso.example answer carries: TTL = min(SOA TTL 3600, MINIMUM 300).
const CONTOSO_SOA: &[&str] = &[
    "contoso.example. 300 SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300",
];
const FABRIKAM_SOA: &[&str] = &[
    "fabrikam.example. 300 SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300",
];
/// The RFC 4592 zone's SOA: TTL 60 is below MINIMUM 3600, so negative answers carry 60.
const EXAMPLE_SOA: &[&str] =
    &["example. 60 SOA ns.example.com. hostmaster.example.com. 2006010101 3600 900 604800 3600"];

const INTERNAL_MAIL: &[&str] = &[
    "mail.contoso.example. 300 A 10.0.0.11",
    "mail.contoso.example. 300 A 10.0.0.12",
    "mail.contoso.example. 300 A 10.0.0.13",
];
const EXTERNAL_MAIL: &[&str] = &["mail.contoso.example. 3600 A 203.0.113.10"];

/// `(base, extra)` as one static list, for cases whose answer is a fixed prefix plus a view's set.
fn concat(base: &[&'static str], extra: &[&'static str]) -> &'static [&'static str] {
    Vec::leak([base, extra].concat())
}

/// NXDOMAIN and NODATA, in both views and both zones, carry the zone's SOA in authority with the
/// RFC 2308 §3 TTL, and nothing in answer.
#[test]
fn negative_answers_carry_the_soa_with_the_negative_ttl() {
    let server = Server::start("split");
    let mut cases = Vec::new();
    for from in [INTERNAL, EXTERNAL] {
        cases.extend([
            Case {
                from,
                qname: "nosuch.contoso.example.",
                rcode: NXDomain,
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "a.b.nosuch.contoso.example.",
                qtype: TXT,
                rcode: NXDomain,
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "www.contoso.example.",
                qtype: AAAA,
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "mail.contoso.example.",
                qtype: MX,
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "nosuch.fabrikam.example.",
                rcode: NXDomain,
                authority: FABRIKAM_SOA,
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "fabrikam.example.",
                qtype: A,
                authority: FABRIKAM_SOA,
                ..Case::DEFAULT
            },
        ]);
    }
    check_all(&server, &cases);
}

/// CNAMEs are followed inside the zone (the target's data from the asking view), and the last
/// name decides the outcome: data, NODATA with the SOA, or NXDOMAIN with the CNAME still in the
/// answer (RFC 6604). A chain leaving our zones ends with the CNAME.
#[test]
fn cnames_are_followed_within_the_zone() {
    let server = Server::start("split");
    const WEBMAIL: &str = "webmail.contoso.example. 3600 CNAME mail.contoso.example.";
    const CHAIN: &str = "chain.contoso.example. 3600 CNAME webmail.contoso.example.";
    let mut cases = Vec::new();
    for (from, mail) in [(INTERNAL, INTERNAL_MAIL), (EXTERNAL, EXTERNAL_MAIL)] {
        cases.extend([
            Case {
                from,
                qname: "webmail.contoso.example.",
                answer: concat(&[WEBMAIL], mail),
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "chain.contoso.example.",
                answer: concat(&[CHAIN, WEBMAIL], mail),
                ..Case::DEFAULT
            },
            // CNAME then NODATA: the SOA is still in authority.
            Case {
                from,
                qname: "webmail.contoso.example.",
                qtype: AAAA,
                answer: &[WEBMAIL],
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
            // Asking for the CNAME itself does not follow it.
            Case {
                from,
                qname: "webmail.contoso.example.",
                qtype: CNAME,
                answer: &[WEBMAIL],
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "dangling.contoso.example.",
                rcode: NXDomain,
                answer: &["dangling.contoso.example. 3600 CNAME nothere.contoso.example."],
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "outside.contoso.example.",
                answer: &["outside.contoso.example. 3600 CNAME www.example.org."],
                ..Case::DEFAULT
            },
        ]);
    }
    check_all(&server, &cases);

    // Order matters within a chain: each CNAME comes before the data it leads to.
    for via in [Via::Udp, Via::Tcp] {
        let reply = ask(&server, INTERNAL, via, "chain.contoso.example.", A);
        let answer = reply.answer();
        assert_eq!(&answer[..2], [CHAIN, WEBMAIL], "{via:?}:\n{}", reply.dump());
    }
}

/// RFC 6672: below a DNAME the answer is the DNAME, a CNAME synthesized with the DNAME's TTL, and
/// then the target resolved in the zone; the DNAME's own name is not redirected.
#[test]
fn dname_synthesizes_a_cname() {
    let server = Server::start("split");
    const OLD: &str = "old.contoso.example. 3600 DNAME contoso.example.";
    let mut cases = Vec::new();
    for (from, mail) in [(INTERNAL, INTERNAL_MAIL), (EXTERNAL, EXTERNAL_MAIL)] {
        cases.extend([
            Case {
                from,
                qname: "mail.old.contoso.example.",
                answer: concat(
                    &[
                        OLD,
                        "mail.old.contoso.example. 3600 CNAME mail.contoso.example.",
                    ],
                    mail,
                ),
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "nosuch.old.contoso.example.",
                rcode: NXDomain,
                answer: &[
                    OLD,
                    "nosuch.old.contoso.example. 3600 CNAME nosuch.contoso.example.",
                ],
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "old.contoso.example.",
                qtype: DNAME,
                answer: &[OLD],
                ..Case::DEFAULT
            },
            Case {
                from,
                qname: "old.contoso.example.",
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            },
        ]);
    }
    check_all(&server, &cases);
}

/// At and below a zone cut the answer is a referral: AA clear, nothing in answer, the cut's NS set
/// in authority and the glue from the asking view in additional. A DS query for the cut belongs to
/// the parent side (RFC 4035 §3.1.4.1): authoritative NODATA here.
#[test]
fn delegations_answer_with_referrals_and_glue() {
    let server = Server::start("split");
    const BRANCH_NS: &[&str] = &[
        "branch.contoso.example. 3600 NS ns1.branch.contoso.example.",
        "branch.contoso.example. 3600 NS ns2.branch.contoso.example.",
    ];
    const NS2_GLUE: [&str; 2] = [
        "ns2.branch.contoso.example. 3600 A 198.51.100.202",
        "ns2.branch.contoso.example. 3600 AAAA 2001:db8:100::202",
    ];
    let internal_glue = concat(&["ns1.branch.contoso.example. 300 A 10.0.5.53"], &NS2_GLUE);
    let external_glue = concat(
        &["ns1.branch.contoso.example. 3600 A 198.51.100.201"],
        &NS2_GLUE,
    );
    let mut cases = Vec::new();
    for (from, glue) in [(INTERNAL, internal_glue), (EXTERNAL, external_glue)] {
        for (qname, qtype) in [
            ("host.branch.contoso.example.", A),
            ("branch.contoso.example.", A),
            ("branch.contoso.example.", NS),
            ("ns1.branch.contoso.example.", A),
        ] {
            cases.push(Case {
                from,
                qname,
                qtype,
                aa: false,
                authority: BRANCH_NS,
                additional: glue,
                ..Case::DEFAULT
            });
        }
        cases.push(Case {
            from,
            qname: "branch.contoso.example.",
            qtype: DS,
            authority: CONTOSO_SOA,
            ..Case::DEFAULT
        });
    }
    check_all(&server, &cases);
}

/// A name that exists only because names below it do is an empty non-terminal: NODATA, never
/// NXDOMAIN (RFC 8020 / RFC 4592 §2.2.2).
#[test]
fn empty_non_terminals_are_nodata() {
    let server = Server::start("split");
    let mut cases = Vec::new();
    for from in [INTERNAL, EXTERNAL] {
        for qtype in [A, SRV, TXT] {
            cases.push(Case {
                from,
                qname: "_tcp.contoso.example.",
                qtype,
                authority: CONTOSO_SOA,
                ..Case::DEFAULT
            });
        }
    }
    check_all(&server, &cases);
}

/// The question and the answer's owner names keep the case the client used (RFC 4343 §4.1), also
/// for a CNAME's owner and a wildcard-synthesized owner; lookups ignore case.
#[test]
fn the_query_names_case_is_preserved() {
    let server = Server::start("split");
    for via in [Via::Udp, Via::Tcp] {
        let reply = ask(&server, INTERNAL, via, "MaIl.CoNtOsO.eXaMpLe.", A);
        let answer = reply.answer();
        assert_eq!(
            crate::common::sorted(answer),
            [
                "MaIl.CoNtOsO.eXaMpLe. 300 A 10.0.0.11",
                "MaIl.CoNtOsO.eXaMpLe. 300 A 10.0.0.12",
                "MaIl.CoNtOsO.eXaMpLe. 300 A 10.0.0.13"
            ],
            "{via:?}:\n{}",
            reply.dump()
        );
        assert!(reply.aa());

        // Names after the owner may be compressed against the question, taking its case: they
        // compare without case.
        let reply = ask(&server, EXTERNAL, via, "WebMail.Contoso.Example.", A);
        let answer = reply.answer();
        assert_eq!(answer.len(), 2, "{}", reply.dump());
        assert!(
            answer[0].starts_with("WebMail.Contoso.Example. 3600 CNAME "),
            "{}",
            reply.dump()
        );
        assert_eq!(
            answer[0].to_lowercase(),
            "webmail.contoso.example. 3600 cname mail.contoso.example."
        );
        assert_eq!(
            answer[1].to_lowercase(),
            EXTERNAL_MAIL[0].to_lowercase(),
            "{}",
            reply.dump()
        );

        // Negative answers: the rcode does not depend on case.
        let reply = ask(&server, INTERNAL, via, "NoSuCh.CoNtOsO.eXaMpLe.", A);
        assert_eq!(reply.rcode(), NXDomain, "{}", reply.dump());
        let authority: Vec<String> = reply.authority().iter().map(|r| r.to_lowercase()).collect();
        assert_eq!(
            authority,
            [CONTOSO_SOA[0].to_lowercase()],
            "{}",
            reply.dump()
        );
    }
    let server = Server::start("rfc4592");
    let reply = ask(&server, EXTERNAL, Via::Udp, "HOST3.example.", MX);
    assert_eq!(
        reply.answer(),
        ["HOST3.example. 3600 MX 10 host1.example."],
        "{}",
        reply.dump()
    );
}

/// RFC 4592 §2.2.1: its example zone, its listed matches and non-matches, and the neighbouring
/// cases (the wildcard owner itself, empty non-terminals, a name below an existing host). The
/// zone has no override files, so both views answer the same.
#[test]
fn rfc4592_wildcards() {
    let server = Server::start("rfc4592");
    const HOST1_A: &[&str] = &["host1.example. 3600 A 192.0.2.1"];
    const SUBDEL_NS: &[&str] = &[
        "subdel.example. 3600 NS ns.example.com.",
        "subdel.example. 3600 NS ns.example.net.",
    ];
    let mut cases = Vec::new();
    for from in [INTERNAL, EXTERNAL] {
        let c = Case {
            from,
            ..Case::DEFAULT
        };
        cases.extend([
            // Synthesized from a wildcard (§2.2.1).
            Case {
                qname: "host3.example.",
                qtype: MX,
                answer: &["host3.example. 3600 MX 10 host1.example."],
                additional: HOST1_A,
                ..c
            },
            Case {
                qname: "host3.example.",
                qtype: A,
                authority: EXAMPLE_SOA,
                ..c
            },
            Case {
                qname: "foo.bar.example.",
                qtype: TXT,
                answer: &["foo.bar.example. 3600 TXT \"this is a wildcard\""],
                ..c
            },
            // Not synthesized (§2.2.1).
            Case {
                qname: "host1.example.",
                qtype: MX,
                authority: EXAMPLE_SOA,
                ..c
            },
            Case {
                qname: "sub.*.example.",
                qtype: MX,
                authority: EXAMPLE_SOA,
                ..c
            },
            Case {
                qname: "_telnet._tcp.host1.example.",
                qtype: SRV,
                rcode: NXDomain,
                authority: EXAMPLE_SOA,
                ..c
            },
            Case {
                qname: "host.subdel.example.",
                qtype: A,
                aa: false,
                authority: SUBDEL_NS,
                ..c
            },
            Case {
                qname: "ghost.*.example.",
                qtype: MX,
                rcode: NXDomain,
                authority: EXAMPLE_SOA,
                ..c
            },
            // Around them.
            Case {
                qname: "*.example.",
                qtype: TXT,
                answer: &["*.example. 3600 TXT \"this is a wildcard\""],
                ..c
            },
            Case {
                qname: "sub.*.example.",
                qtype: TXT,
                answer: &["sub.*.example. 3600 TXT \"this is not a wildcard\""],
                ..c
            },
            Case {
                qname: "host1.example.",
                qtype: A,
                answer: HOST1_A,
                ..c
            },
            Case {
                qname: "_ssh._tcp.host1.example.",
                qtype: SRV,
                answer: &["_ssh._tcp.host1.example. 3600 SRV 0 0 22 host1.example."],
                additional: HOST1_A,
                ..c
            },
            Case {
                qname: "_ssh._tcp.host2.example.",
                qtype: SRV,
                answer: &["_ssh._tcp.host2.example. 3600 SRV 0 0 22 host1.example."],
                additional: HOST1_A,
                ..c
            },
            // Empty non-terminals exist, so the wildcard does not apply to them.
            Case {
                qname: "host2.example.",
                qtype: TXT,
                authority: EXAMPLE_SOA,
                ..c
            },
            Case {
                qname: "_tcp.host2.example.",
                qtype: TXT,
                authority: EXAMPLE_SOA,
                ..c
            },
            Case {
                qname: "_tcp.host1.example.",
                qtype: MX,
                authority: EXAMPLE_SOA,
                ..c
            },
            // Below an existing name the closest encloser is that name, which has no wildcard.
            Case {
                qname: "bar.host1.example.",
                qtype: TXT,
                rcode: NXDomain,
                authority: EXAMPLE_SOA,
                ..c
            },
            Case {
                qname: "subdel.example.",
                qtype: NS,
                aa: false,
                authority: SUBDEL_NS,
                ..c
            },
        ]);
    }
    check_all(&server, &cases);
}

/// SRV sets keep the zone file's order in every response (clients sort by priority and weight
/// themselves); their targets' addresses come as additional data.
#[test]
fn srv_sets_keep_their_order() {
    let server = Server::start("split");
    let expected = [
        "_sip._tcp.contoso.example. 3600 SRV 10 60 5060 sip1.contoso.example.",
        "_sip._tcp.contoso.example. 3600 SRV 10 20 5060 sip2.contoso.example.",
        "_sip._tcp.contoso.example. 3600 SRV 20 0 5060 sip3.contoso.example.",
    ];
    for _ in 0..6 {
        let reply = ask(
            &server,
            EXTERNAL,
            Via::Udp,
            "_sip._tcp.contoso.example.",
            SRV,
        );
        assert_eq!(reply.rcode(), NoError, "{}", reply.dump());
        assert_eq!(reply.answer(), expected, "{}", reply.dump());
        assert_eq!(
            crate::common::sorted(reply.additional()),
            [
                "sip1.contoso.example. 3600 A 203.0.113.61",
                "sip2.contoso.example. 3600 A 203.0.113.62",
                "sip3.contoso.example. 3600 A 203.0.113.63"
            ],
            "{}",
            reply.dump()
        );
    }
}

/// Round robin: every response holds the whole three-address internal set, and over 3,000 UDP
/// queries with random IDs each address leads 1,000 ± 130 times.
///
/// The server starts the rotation from the query ID (so answering writes nothing shared), and
/// resolvers pick IDs at random (RFC 5452). With uniformly random IDs the number of times one
/// address leads is Binomial(3000, 1/3) (65,536 IDs split 21,846/21,845/21,845 over the three
/// starts, a bias of 0.005%): mean 1,000, standard deviation √(3000·⅓·⅔) ≈ 25.8. The bound is
/// 5 standard deviations, so a fair rotation fails it with probability under 2·10⁻⁶ for all three
/// addresses together, while an unfair one (say one address never leading, or leading half the
/// time) misses it by hundreds.
#[test]
fn round_robin_rotation_is_fair() {
    let server = Server::start("split");
    let socket = udp_socket(&server, INTERNAL);
    let mut leaders: HashMap<String, usize> = HashMap::new();
    let mut buf = vec![0u8; 65535];
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut ids = SplitMix64(seed);
    for _ in 0..3000 {
        let mut q = query("mail.contoso.example.", RecordType::A);
        q.metadata.id = (ids.next() >> 48) as u16;
        socket.send(&q.to_vec().unwrap()).unwrap();
        let len = socket.recv(&mut buf).expect("reply within the timeout");
        let reply = decode_reply(&q, &buf[..len]);
        assert_eq!(
            crate::common::sorted(reply.answer()),
            INTERNAL_MAIL,
            "{}",
            reply.dump()
        );
        *leaders
            .entry(render(&reply.message.answers[0]))
            .or_default() += 1;
    }
    assert_eq!(
        leaders.len(),
        3,
        "every address must lead sometimes: {leaders:?}"
    );
    for (leader, count) in &leaders {
        assert!(
            (870..=1130).contains(count),
            "{leader} led {count} of 3000 responses (ID seed {seed}): {leaders:?}"
        );
    }
}

/// SplitMix64: random query IDs for the rotation test, without a dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The outcome a summary reports is what the client got: a negative answer whose SOA does not
/// fit a 512-octet UDP response is sent truncated and stays NXDOMAIN or NODATA (with
/// `truncated`), not "answer" — what observation, and the metrics built on it, count.
#[test]
fn a_truncated_negative_answer_keeps_its_outcome() {
    let dir = crate::common::scratch_dir("answers_truncated_negative");
    let long = |c: char| {
        (0..4)
            .map(|_| c.to_string().repeat(60))
            .collect::<Vec<_>>()
            .join(".")
    };
    let zone = format!(
        "$ORIGIN example.\n$TTL 300\n@ SOA {} {} 1 3600 900 1209600 300\n@ NS ns\nns A 192.0.2.1\n",
        long('m'),
        long('r')
    );
    std::fs::write(dir.join("example.zone"), zone).unwrap();
    std::fs::write(
        dir.join("splitdns.toml"),
        "[[view]]\nname = \"all\"\nclients = [\"0.0.0.0/0\"]\n\n[[zone]]\norigin = \"example\"\nfile = \"example.zone\"\n",
    )
    .unwrap();
    let snapshot = splitdns::load(&dir.join("splitdns.toml"))
        .map_err(|e| e.lines())
        .unwrap()
        .snapshot;
    let mut out = Vec::new();
    for (name, rtype, outcome) in [
        (
            "nosuch.example.",
            RecordType::A,
            splitdns::Outcome::NxDomain,
        ),
        ("ns.example.", RecordType::MX, splitdns::Outcome::NoData),
    ] {
        let bytes = query(name, rtype).to_vec().unwrap();
        let summary = splitdns::respond(
            &snapshot,
            std::net::IpAddr::from([127, 0, 0, 3]),
            &bytes,
            splitdns::Transport::Udp,
            &mut out,
        )
        .expect("answered");
        assert_eq!(summary.outcome(), outcome, "{name}");
        assert!(
            summary.truncated,
            "{name}: the SOA cannot fit in 512 octets"
        );
        assert!(out.len() <= 512 && out[2] & 0x02 != 0, "TC set");
        let tcp = splitdns::respond(
            &snapshot,
            std::net::IpAddr::from([127, 0, 0, 3]),
            &bytes,
            splitdns::Transport::Tcp,
            &mut out,
        )
        .expect("answered");
        assert_eq!(
            (tcp.outcome(), tcp.truncated),
            (outcome, false),
            "{name} over TCP"
        );
    }
}
