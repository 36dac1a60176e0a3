//! Transport rules: UDP size limits and truncation (RFC 1035 §4.2.1, RFC 6891 with our 1232-octet
//! cap), the OPT record in responses, and DNS over TCP with several pipelined queries on one
//! connection (RFC 7766 §6.2.1.1).

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType::{self, A, MX, TXT};

use hickory_proto::op::Message;

use crate::common::{
    BOTH, Case, EXTERNAL, INTERNAL, Reply, Server, Via, decode_reply, exchange, framed, query,
    read_framed, sorted, tcp_connect, udp_socket, with_edns,
};

/// The payload size the server advertises and caps UDP answers at.
const SERVER_PAYLOAD: u16 = 1232;

/// `many.contoso.example`: 40 addresses, about 680 octets.
fn many() -> Vec<String> {
    sorted(
        (1..=40)
            .map(|i| format!("many.contoso.example. 3600 A 203.0.113.{}", 100 + i))
            .collect(),
    )
}

/// `huge.contoso.example`: 8 TXT strings of 198 octets, about 1750 octets.
fn huge() -> Vec<String> {
    sorted(
        (1..=8)
            .map(|i| {
                format!(
                    "huge.contoso.example. 3600 TXT \"record {i:02} {}\"",
                    "x".repeat(188)
                )
            })
            .collect(),
    )
}

fn ask_sized(server: &Server, via: Via, name: &str, rtype: RecordType, edns: Option<u16>) -> Reply {
    let q = query(name, rtype);
    let q = match edns {
        Some(payload) => with_edns(q, payload, false),
        None => q,
    };
    exchange(server, EXTERNAL, via, &q)
}

/// An answer that does not fit is truncated: TC set, within the limit, and whatever it carries is
/// part of the real RRset (RFC 2181 §9).
fn assert_truncated(reply: &Reply, limit: usize, full: &[String], what: &str) {
    assert_eq!(
        reply.rcode(),
        ResponseCode::NoError,
        "{what}:\n{}",
        reply.dump()
    );
    assert!(reply.tc(), "{what}: TC must be set:\n{}", reply.dump());
    assert!(
        reply.size <= limit,
        "{what}: {} octets over a {limit}-octet limit",
        reply.size
    );
    for record in reply.answer() {
        assert!(
            full.contains(&record),
            "{what}: {record} is not in the RRset"
        );
    }
}

fn assert_complete(reply: &Reply, limit: usize, full: &[String], what: &str) {
    assert_eq!(
        reply.rcode(),
        ResponseCode::NoError,
        "{what}:\n{}",
        reply.dump()
    );
    assert!(!reply.tc(), "{what}: TC set:\n{}", reply.dump());
    assert!(reply.aa(), "{what}: AA clear");
    assert!(
        reply.size <= limit,
        "{what}: {} octets over a {limit}-octet limit",
        reply.size
    );
    assert_eq!(sorted(reply.answer()), full, "{what}");
}

/// Without EDNS, UDP answers stop at 512 octets and set TC; TCP carries the whole RRset.
#[test]
fn udp_without_edns_truncates_at_512_and_tcp_carries_everything() {
    let server = Server::start("split");
    for (name, rtype, full) in [
        ("many.contoso.example.", A, many()),
        ("huge.contoso.example.", TXT, huge()),
    ] {
        let udp = ask_sized(&server, Via::Udp, name, rtype, None);
        assert_truncated(&udp, 512, &full, &format!("{name} over UDP without EDNS"));
        let tcp = ask_sized(&server, Via::Tcp, name, rtype, None);
        assert_complete(&tcp, 65535, &full, &format!("{name} over TCP"));
        assert!(tcp.size > 512, "the fixture RRset must not fit 512 octets");
    }
}

/// With EDNS the client's payload size is honoured up to our 1232: the 680-octet set fits a 4096
/// or 1232 payload but not a 600 one; the 1750-octet set never fits UDP, however large the
/// client's buffer, and still comes whole over TCP.
#[test]
fn edns_payload_is_honoured_and_capped_at_1232() {
    let server = Server::start("split");
    for payload in [4096, 1232] {
        let reply = ask_sized(&server, Via::Udp, "many.contoso.example.", A, Some(payload));
        assert_complete(
            &reply,
            usize::from(SERVER_PAYLOAD),
            &many(),
            &format!("many, EDNS {payload}"),
        );
    }
    for payload in [600, 512] {
        let reply = ask_sized(&server, Via::Udp, "many.contoso.example.", A, Some(payload));
        assert_truncated(
            &reply,
            usize::from(payload),
            &many(),
            &format!("many, EDNS {payload}"),
        );
    }
    for payload in [4096, 65535, 1232] {
        let reply = ask_sized(
            &server,
            Via::Udp,
            "huge.contoso.example.",
            TXT,
            Some(payload),
        );
        assert_truncated(
            &reply,
            usize::from(SERVER_PAYLOAD),
            &huge(),
            &format!("huge, EDNS {payload}"),
        );
        assert!(
            reply.message.edns.is_some(),
            "a truncated EDNS answer still carries OPT"
        );
    }
    let reply = ask_sized(&server, Via::Tcp, "huge.contoso.example.", TXT, Some(4096));
    assert_complete(&reply, 65535, &huge(), "huge over TCP with EDNS");
}

/// RFC 6891 §6.1.1: a query with OPT gets OPT back — version 0, our payload size, DO echoed —
/// whatever the outcome; a query without OPT gets none; an unknown EDNS version gets BADVERS.
#[test]
fn edns_opt_is_answered() {
    let server = Server::start("split");
    for via in BOTH {
        for (name, rcode) in [
            ("mail.contoso.example.", ResponseCode::NoError),
            ("nosuch.contoso.example.", ResponseCode::NXDomain),
            ("example.org.", ResponseCode::Refused),
        ] {
            for dnssec_ok in [true, false] {
                let reply = exchange(
                    &server,
                    INTERNAL,
                    via,
                    &with_edns(query(name, A), 4096, dnssec_ok),
                );
                let what = format!("{name} over {via:?}, DO {dnssec_ok}");
                assert_eq!(reply.rcode(), rcode, "{what}:\n{}", reply.dump());
                let opt = reply
                    .message
                    .edns
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: no OPT:\n{}", reply.dump()));
                assert_eq!(opt.version(), 0, "{what}");
                assert_eq!(opt.max_payload(), SERVER_PAYLOAD, "{what}");
                assert_eq!(opt.flags().dnssec_ok, dnssec_ok, "{what}: DO not echoed");
                assert_eq!(opt.rcode_high(), 0, "{what}");
            }
            let plain = exchange(&server, INTERNAL, via, &query(name, A));
            assert!(
                plain.message.edns.is_none(),
                "{name}: OPT in an answer to a query without one"
            );
        }

        let mut future = with_edns(query("mail.contoso.example.", A), 4096, false);
        future.edns.as_mut().unwrap().set_version(1);
        let reply = exchange(&server, INTERNAL, via, &future);
        // 16 is BADVERS in an OPT-carrying response (hickory-proto decodes 16 as BADSIG, its
        // TSIG twin, so compare the number).
        assert_eq!(
            u16::from(reply.rcode()),
            16,
            "EDNS version 1 over {via:?}:\n{}",
            reply.dump()
        );
        assert!(reply.message.answers.is_empty(), "BADVERS with answers");
        let opt = reply
            .message
            .edns
            .as_ref()
            .expect("BADVERS travels in an OPT record");
        assert_eq!(opt.version(), 0, "we answer with the version we speak");
    }
}

/// Five queries written in one go on one TCP connection get five answers, matched by ID, each
/// from the connection's view; the connection then still takes more queries.
#[test]
fn pipelined_tcp_queries_are_all_answered() {
    let server = Server::start("split");
    let internal_mail: &'static [&'static str] = &[
        "mail.contoso.example. 300 A 10.0.0.11",
        "mail.contoso.example. 300 A 10.0.0.12",
        "mail.contoso.example. 300 A 10.0.0.13",
    ];
    let soa: &'static [&'static str] = &[
        "contoso.example. 300 SOA ns1.contoso.example. hostmaster.contoso.example. 2026112201 3600 900 1209600 300",
    ];
    let cases = [
        Case {
            qname: "mail.contoso.example.",
            answer: internal_mail,
            ..Case::DEFAULT
        },
        Case {
            qname: "www.contoso.example.",
            answer: &["www.contoso.example. 3600 A 203.0.113.80"],
            ..Case::DEFAULT
        },
        Case {
            qname: "contoso.example.",
            qtype: MX,
            answer: &["contoso.example. 3600 MX 10 mail.contoso.example."],
            additional: internal_mail,
            ..Case::DEFAULT
        },
        Case {
            qname: "nosuch.contoso.example.",
            rcode: ResponseCode::NXDomain,
            authority: soa,
            ..Case::DEFAULT
        },
        Case {
            qname: "example.org.",
            rcode: ResponseCode::Refused,
            aa: false,
            ..Case::DEFAULT
        },
    ];
    let mut stream = tcp_connect(&server, INTERNAL);
    let mut queries = HashMap::new();
    let mut burst = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let mut q = query(case.qname, case.qtype);
        q.metadata.id = 0x5000 + index as u16;
        burst.extend(framed(&q.to_vec().unwrap()));
        queries.insert(q.metadata.id, (q, case));
    }
    stream
        .write_all(&burst)
        .expect("write five queries at once");
    for _ in 0..cases.len() {
        let bytes = read_framed(&mut stream);
        let id = u16::from_be_bytes([bytes[0], bytes[1]]);
        let (q, case) = queries
            .remove(&id)
            .unwrap_or_else(|| panic!("answer with unknown or repeated ID {id:#x}"));
        let reply = decode_reply(&q, &bytes);
        if let Some(problem) = case.mismatch(&reply) {
            panic!(
                "pipelined {} {}: {problem}\n{}",
                case.qname,
                case.qtype,
                reply.dump()
            );
        }
    }
    assert!(queries.is_empty());

    // The same connection keeps serving, one query at a time too.
    let q = query("www.contoso.example.", A);
    stream.write_all(&framed(&q.to_vec().unwrap())).unwrap();
    let reply = decode_reply(&q, &read_framed(&mut stream));
    assert_eq!(reply.answer(), ["www.contoso.example. 3600 A 203.0.113.80"]);
}

/// A TCP message may arrive in pieces (RFC 7766 §8): the length octets apart, the body later.
#[test]
fn tcp_messages_split_across_writes_are_reassembled() {
    let server = Server::start("split");
    let mut stream = tcp_connect(&server, EXTERNAL);
    let q = query("mail.contoso.example.", A);
    let bytes = framed(&q.to_vec().unwrap());
    for piece in [&bytes[..1], &bytes[1..2], &bytes[2..10], &bytes[10..]] {
        stream.write_all(piece).unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    let reply = decode_reply(&q, &read_framed(&mut stream));
    assert_eq!(
        reply.answer(),
        ["mail.contoso.example. 3600 A 203.0.113.10"],
        "{}",
        reply.dump()
    );
}

/// RFC 2181 §9: additional data that does not fit is no reason for TC, and an RRset that does not
/// fit is left out whole, never in part. The SRV's target has 40 addresses: beside the SRV they
/// fit 1232 octets but not 512.
#[test]
fn additional_data_that_does_not_fit_is_left_out_whole() {
    let server = Server::start("split");
    let srv = ["_bulk._tcp.contoso.example. 3600 SRV 0 0 443 many.contoso.example."];
    let all_addresses: Vec<String> = many();
    for (via, edns, limit) in [
        (Via::Udp, None, 512),
        (Via::Udp, Some(4096), 1232),
        (Via::Tcp, None, 65535),
    ] {
        let reply = ask_sized(
            &server,
            via,
            "_bulk._tcp.contoso.example.",
            RecordType::SRV,
            edns,
        );
        let what = format!("over {via:?} with EDNS {edns:?}");
        assert_eq!(
            reply.rcode(),
            ResponseCode::NoError,
            "{what}:\n{}",
            reply.dump()
        );
        assert!(
            !reply.tc(),
            "{what}: TC set for additional data:\n{}",
            reply.dump()
        );
        assert!(reply.size <= limit, "{what}: {} octets", reply.size);
        assert_eq!(reply.answer(), srv, "{what}");
        let additional = sorted(reply.additional());
        if limit == 512 {
            assert!(
                additional.is_empty() || additional == all_addresses,
                "{what}: a partial RRset ({} of 40 addresses) as additional data",
                additional.len()
            );
        } else {
            assert_eq!(
                additional, all_addresses,
                "{what}: room enough for the whole set"
            );
        }
    }
}

/// A burst of queries from both views' sources, sent without waiting for answers, so that the server
/// takes many in one receive batch (recvmmsg) and answers them in one send or several: each query
/// gets exactly one answer, its own (by ID), from its own source's view, whatever its size —
/// even with unanswerable packets (responses, which are dropped) queued between them.
#[test]
fn a_burst_from_several_sources_gets_each_query_its_own_answer() {
    // Waves small enough that neither side's socket buffer (about 200 small datagrams on
    // loopback) can overflow: a lost datagram would be UDP's doing, not the server's.
    const WAVES: u16 = 5;
    const PER_WAVE: u16 = 30;
    let server = Server::start("split");
    let expected_mail = |from| match from {
        INTERNAL => vec![
            "mail.contoso.example. 300 A 10.0.0.11",
            "mail.contoso.example. 300 A 10.0.0.12",
            "mail.contoso.example. 300 A 10.0.0.13",
        ],
        _ => vec!["mail.contoso.example. 3600 A 203.0.113.10"],
    };
    let question = |id: u16| match id % 3 {
        0 => query("mail.contoso.example.", A),
        1 => query(&format!("nx{id}.contoso.example."), A),
        _ => query("huge.contoso.example.", TXT),
    };
    let sources = [INTERNAL, EXTERNAL];
    let sockets: Vec<_> = sources
        .iter()
        .map(|&from| udp_socket(&server, from))
        .collect();
    for wave in 0..WAVES {
        let ids = wave * PER_WAVE..(wave + 1) * PER_WAVE;
        send_and_check_burst(&sockets, &sources, ids, &question, &expected_mail);
    }
}

fn send_and_check_burst(
    sockets: &[std::net::UdpSocket],
    sources: &[std::net::IpAddr],
    ids: std::ops::Range<u16>,
    question: &dyn Fn(u16) -> Message,
    expected_mail: &dyn Fn(std::net::IpAddr) -> Vec<&'static str>,
) {
    let mut sent: Vec<HashMap<u16, Message>> = vec![HashMap::new(); sources.len()];
    for id in ids.clone() {
        for (socket, sent) in sockets.iter().zip(&mut sent) {
            let mut message = question(id);
            message.metadata.id = id;
            socket.send(&message.to_vec().unwrap()).expect("UDP send");
            sent.insert(id, message);
            if id % 5 == 0 {
                // A response is never answered: the batch must skip it without shifting peers.
                let mut bogus = question(id).to_vec().unwrap();
                bogus[2] |= 0x80;
                socket.send(&bogus).expect("UDP send");
            }
        }
    }
    for ((socket, sent), &from) in sockets.iter().zip(&sent).zip(sources) {
        let mut answered = HashMap::new();
        let mut buf = vec![0u8; 65535];
        for _ in ids.clone() {
            let len = socket.recv(&mut buf).unwrap_or_else(|e| {
                panic!("{from}: {} of {} answered: {e}", answered.len(), ids.len())
            });
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            let query = sent
                .get(&id)
                .unwrap_or_else(|| panic!("{from}: unknown ID {id}"));
            let reply = decode_reply(query, &buf[..len]);
            assert!(
                answered.insert(id, ()).is_none(),
                "{from}: ID {id} answered twice"
            );
            let name = query.queries[0].name().to_ascii();
            match id % 3 {
                0 => assert_eq!(sorted(reply.answer()), expected_mail(from), "{from} {name}"),
                1 => assert_eq!(reply.rcode(), ResponseCode::NXDomain, "{from} {name}"),
                _ => assert!(
                    reply.tc() && reply.size <= 512,
                    "{from} {name}: {}",
                    reply.dump()
                ),
            }
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(
            socket.recv(&mut buf).is_err(),
            "{from}: an answer beyond the {} queries (was a dropped packet answered?)",
            ids.len()
        );
        socket
            .set_read_timeout(Some(crate::common::TIMEOUT))
            .unwrap();
    }
}
