//! Zone transfers and TSIG, over real TCP and UDP on loopback against the in-process
//! server with `tests/fixtures/transfer`. Requests are signed, and every signed response — each
//! message of an AXFR stream included — is verified with hickory-proto's TSIG code, so our TSIG
//! framing is never checked against itself. What a transfer carries is compared with the view's
//! zone as the loader built it, record by record.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigVerifier, TSigner};

use crate::common::{
    EXTERNAL, INTERNAL, Server, TIMEOUT, fixture, fixture_dir, framed, read_framed, render,
    scratch_copy, scratch_dir, tcp_connect, udp_raw,
};

const INTERNAL_KEY: (&str, &str, TsigAlgorithm) = (
    "internal-xfr.",
    "4O4ZDNVr4e383EU+j9Zus55K9fcRPRXP0K7mY2H1Yz0=",
    TsigAlgorithm::HmacSha256,
);
const EXTERNAL_KEY: (&str, &str, TsigAlgorithm) = (
    "external-xfr.",
    "komOIlnUCxXD+pMac31zYhq//pqsn0PROd/5xPxxAk8=",
    TsigAlgorithm::HmacSha512,
);
const SPARE_KEY: (&str, &str, TsigAlgorithm) = (
    "spare.",
    "UKdQsA3U1r9c6nOtkWfJS5Uw0jtApBHJYfSB+kJ8xK4=",
    TsigAlgorithm::HmacSha256,
);
/// The external view's transfer ACL lets this source pull it unsigned.
const ALLOWED_SOURCE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 5));

fn signer((name, secret, algorithm): (&str, &str, TsigAlgorithm)) -> TSigner {
    let secret = data_encoding::BASE64.decode(secret.as_bytes()).unwrap();
    TSigner::new(secret, algorithm, Name::from_ascii(name).unwrap(), 300).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn question(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    message
}

/// `message` signed with `key` at `time`, and the verifier for the responses.
fn signed(mut message: Message, key: TSigner, time: u64) -> (Vec<u8>, TSigVerifier) {
    let verifier = message.finalize(&key, time).unwrap().unwrap();
    (message.to_vec().unwrap(), verifier)
}

/// Sends one request over TCP from `from` and reads messages until the transfer ends (a second
/// SOA, an error, or a single-SOA answer). Returns each raw message.
fn transfer_raw(server: &Server, from: IpAddr, request: &[u8]) -> Vec<Vec<u8>> {
    transfer_until(server, from, request, 2)
}

/// [`transfer_raw`], ending after `soas_at_end` SOA records (an incremental IXFR of one change
/// has four: the current SOA at each end, and the old and new SOA of the change).
fn transfer_until(
    server: &Server,
    from: IpAddr,
    request: &[u8],
    soas_at_end: usize,
) -> Vec<Vec<u8>> {
    let mut stream = tcp_connect(server, from);
    stream.set_read_timeout(Some(TIMEOUT * 5)).unwrap();
    stream.write_all(&framed(request)).unwrap();
    let mut messages = Vec::new();
    let mut soas = 0usize;
    // Bounded: a 200k-record zone takes a few hundred messages.
    for _ in 0..10_000 {
        let raw = read_framed(&mut stream);
        let message = Message::from_vec(&raw).expect("decodable");
        messages.push(raw);
        if message.metadata.response_code != ResponseCode::NoError {
            return messages;
        }
        soas += message
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        let only_soa = messages.len() == 1 && message.answers.len() == 1 && soas == 1;
        if soas >= soas_at_end || only_soa {
            return messages;
        }
    }
    panic!("transfer did not end within 10,000 messages");
}

/// The records of a transfer, verified message by message with `verifier` when given.
fn records_of(messages: &[Vec<u8>], mut verifier: Option<TSigVerifier>) -> Vec<Record> {
    let mut records = Vec::new();
    for (index, raw) in messages.iter().enumerate() {
        let message = match &mut verifier {
            Some(verifier) => verifier
                .verify(raw)
                .unwrap_or_else(|e| panic!("message {index}: TSIG does not verify: {e}"))
                .into_message(),
            None => {
                let message = Message::from_vec(raw).unwrap();
                assert!(
                    message.signature.is_none(),
                    "unsigned request, signed answer"
                );
                message
            }
        };
        assert_eq!(message.metadata.message_type, MessageType::Response);
        assert!(raw.len() <= 65535);
        records.extend(message.answers);
    }
    records
}

/// The view's zone as the loader built it: every record as text, with the SOA once.
fn expected(view: &str, origin: &str) -> BTreeSet<String> {
    let loaded = splitdns::load(&fixture("transfer")).unwrap();
    zone_texts(&loaded.snapshot, view, origin)
}

fn zone_texts(snapshot: &splitdns::Snapshot, view: &str, origin: &str) -> BTreeSet<String> {
    let view = snapshot.views.iter().find(|v| v.name == view).unwrap();
    let zone = view
        .zones
        .iter()
        .find(|z| z.origin.to_string() == origin)
        .unwrap();
    let mut texts = BTreeSet::new();
    for (key, node) in zone.nodes() {
        for set in node.rrsets.iter() {
            for rdata in set.rdatas.iter() {
                let mut wire = key.to_vec();
                wire.extend_from_slice(&set.rtype.to_be_bytes());
                wire.extend_from_slice(&1u16.to_be_bytes());
                wire.extend_from_slice(&set.ttl.to_be_bytes());
                wire.extend_from_slice(&(rdata.wire.len() as u16).to_be_bytes());
                wire.extend_from_slice(&rdata.wire);
                let record = decode_record(&wire);
                texts.insert(render(&record).to_lowercase());
            }
        }
    }
    texts
}

/// One uncompressed wire record decoded by hickory (so both sides render the same way).
fn decode_record(wire: &[u8]) -> Record {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    let mut decoder = BinDecoder::new(wire);
    Record::read(&mut decoder).expect("a record hickory reads")
}

/// Checks a full transfer: SOA first and last, and in between exactly the view's zone.
fn assert_whole_zone(records: &[Record], want: &BTreeSet<String>) {
    assert!(records.len() >= 2, "too few records: {records:?}");
    assert_eq!(records[0].record_type(), RecordType::SOA);
    assert_eq!(render(&records[0]), render(records.last().unwrap()));
    let got: Vec<String> = records[..records.len() - 1]
        .iter()
        .map(|r| render(r).to_lowercase())
        .collect();
    let set: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), set.len(), "a record sent twice");
    let missing: Vec<_> = want.difference(&set).collect();
    let extra: Vec<_> = set.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
}

fn tsig_error(raw: &[u8]) -> (ResponseCode, Option<TsigError>, bool, usize) {
    let message = Message::from_vec(raw).expect("decodable");
    let signature = message.signature.as_ref();
    let error = signature.map(|s| s.data.error);
    let has_mac = signature.is_some_and(|s| !s.data.mac.is_empty());
    let data = message.answers.len() + message.authorities.len() + message.additionals.len();
    (
        message.metadata.response_code,
        error.flatten(),
        has_mac,
        data,
    )
}

/// A request signed with the internal key gets the internal view from an external source: the
/// whole view (override merged), every message signed and chained (RFC 8945 §5.3.1). The
/// external key gets the external view. Both match the loader's zones record for record.
#[test]
fn a_signed_axfr_gets_the_keyed_view_whatever_the_source() {
    let server = Server::start("transfer");
    for (key, view) in [(INTERNAL_KEY, "internal"), (EXTERNAL_KEY, "external")] {
        let (request, verifier) = signed(
            question("contoso.example.", RecordType::AXFR),
            signer(key),
            now(),
        );
        let messages = transfer_raw(&server, EXTERNAL, &request);
        let records = records_of(&messages, Some(verifier));
        assert_whole_zone(&records, &expected(view, "contoso.example."));
        let mail: Vec<String> = records
            .iter()
            .filter(|r| {
                r.name
                    .to_string()
                    .eq_ignore_ascii_case("mail.contoso.example.")
            })
            .map(render)
            .collect();
        let inside = mail.iter().any(|r| r.contains("10.0.0.11"));
        assert_eq!(inside, view == "internal", "{view}: {mail:?}");
    }
}

/// Who may not transfer gets REFUSED and nothing else: no key, the spare key (defined, listed by
/// no view's transfer ACL), and an unsigned request from a source the external ACL does not
/// list. The source the external ACL lists gets the external view unsigned.
#[test]
fn transfers_are_refused_to_whom_no_acl_permits() {
    let server = Server::start("transfer");
    for from in [INTERNAL, EXTERNAL] {
        let request = question("contoso.example.", RecordType::AXFR)
            .to_vec()
            .unwrap();
        let messages = transfer_raw(&server, from, &request);
        assert_eq!(messages.len(), 1);
        let (rcode, error, _, data) = tsig_error(&messages[0]);
        assert_eq!((rcode, error, data), (ResponseCode::Refused, None, 0));
    }
    let (request, verifier) = signed(
        question("contoso.example.", RecordType::AXFR),
        signer(SPARE_KEY),
        now(),
    );
    let messages = transfer_raw(&server, INTERNAL, &request);
    assert_eq!(messages.len(), 1);
    let records = records_of(&messages, Some(verifier));
    assert!(records.is_empty());
    assert_eq!(
        Message::from_vec(&messages[0])
            .unwrap()
            .metadata
            .response_code,
        ResponseCode::Refused
    );
    let request = question("contoso.example.", RecordType::AXFR)
        .to_vec()
        .unwrap();
    let messages = transfer_raw(&server, ALLOWED_SOURCE, &request);
    let records = records_of(&messages, None);
    assert_whole_zone(&records, &expected("external", "contoso.example."));
    // A name that is not a zone's apex is not transferred either.
    let (request, _) = signed(
        question("www.contoso.example.", RecordType::AXFR),
        signer(INTERNAL_KEY),
        now(),
    );
    let messages = transfer_raw(&server, INTERNAL, &request);
    assert_eq!(tsig_error(&messages[0]).0, ResponseCode::Refused);
}

/// A zone's own ACL for a view replaces the view's for that zone: the spare key (which selects
/// no view, so the source picks the external view) may transfer fabrikam.example there, and
/// still not contoso.example; the external key keeps both.
#[test]
fn a_zone_acl_replaces_the_view_acl_for_that_zone() {
    let server = Server::start("transfer");
    let (request, verifier) = signed(
        question("fabrikam.example.", RecordType::AXFR),
        signer(SPARE_KEY),
        now(),
    );
    let records = records_of(&transfer_raw(&server, EXTERNAL, &request), Some(verifier));
    assert_whole_zone(&records, &expected("external", "fabrikam.example."));
    for (zone, key, rcode) in [
        ("contoso.example.", SPARE_KEY, ResponseCode::Refused),
        ("fabrikam.example.", EXTERNAL_KEY, ResponseCode::NoError),
    ] {
        let name = key.0;
        let (request, _) = signed(question(zone, RecordType::AXFR), signer(key), now());
        let messages = transfer_raw(&server, EXTERNAL, &request);
        assert_eq!(tsig_error(&messages[0]).0, rcode, "{zone} {name}");
    }
    // From the internal source the spare key gets the internal view, whose ACL has no zone entry.
    let (request, _) = signed(
        question("fabrikam.example.", RecordType::AXFR),
        signer(SPARE_KEY),
        now(),
    );
    let messages = transfer_raw(&server, INTERNAL, &request);
    assert_eq!(tsig_error(&messages[0]).0, ResponseCode::Refused);
}

/// RFC 8945 §5.2: an unknown key is NOTAUTH/BADKEY and a wrong MAC NOTAUTH/BADSIG, both
/// unsigned; a time outside the fudge NOTAUTH/BADTIME, signed (the MAC was good); a TSIG cut
/// short, or not the last record, FORMERR. None of them carries any data.
#[test]
fn tsig_failures_get_the_rfc_answers_and_no_data() {
    let server = Server::start("transfer");
    let axfr = || question("contoso.example.", RecordType::AXFR);
    let send = |bytes: &[u8]| transfer_raw(&server, EXTERNAL, bytes).remove(0);

    let unknown = (
        "nobody.",
        "4O4ZDNVr4e383EU+j9Zus55K9fcRPRXP0K7mY2H1Yz0=",
        TsigAlgorithm::HmacSha256,
    );
    let (request, _) = signed(axfr(), signer(unknown), now());
    let (rcode, error, mac, data) = tsig_error(&send(&request));
    assert_eq!(
        (rcode, error, mac, data),
        (ResponseCode::NotAuth, Some(TsigError::BadKey), false, 0)
    );

    let wrong_secret = (
        "internal-xfr.",
        "UKdQsA3U1r9c6nOtkWfJS5Uw0jtApBHJYfSB+kJ8xK4=",
        TsigAlgorithm::HmacSha256,
    );
    let (request, _) = signed(axfr(), signer(wrong_secret), now());
    let (rcode, error, mac, data) = tsig_error(&send(&request));
    assert_eq!(
        (rcode, error, mac, data),
        (ResponseCode::NotAuth, Some(TsigError::BadSig), false, 0)
    );

    // The right key, one bit of the question changed after signing.
    let (mut request, _) = signed(axfr(), signer(INTERNAL_KEY), now());
    request[13] ^= 0x20;
    let (rcode, error, mac, data) = tsig_error(&send(&request));
    assert_eq!(
        (rcode, error, mac, data),
        (ResponseCode::NotAuth, Some(TsigError::BadSig), false, 0)
    );

    let (request, verifier) = signed(axfr(), signer(INTERNAL_KEY), now() - 3600);
    let reply = send(&request);
    let (rcode, error, mac, data) = tsig_error(&reply);
    assert_eq!(
        (rcode, error, mac, data),
        (ResponseCode::NotAuth, Some(TsigError::BadTime), true, 0)
    );
    // Signed with the request's time (as RFC 8945 §5.2.3 asks), so the verifier accepts it;
    // our clock is in Other Data.
    let mut verifier = verifier;
    verifier.verify(&reply).expect("BADTIME answer is signed");
    let other = Message::from_vec(&reply)
        .unwrap()
        .signature
        .unwrap()
        .data
        .other;
    let ours = other.iter().fold(0u64, |t, &b| (t << 8) | b as u64);
    assert!(
        ours.abs_diff(now()) < 60,
        "our time in Other Data: {other:?}"
    );

    let (request, _) = signed(axfr(), signer(INTERNAL_KEY), now());
    let cut = &request[..request.len() - 3];
    let mut cut = cut.to_vec();
    // Keep the record's RDLENGTH claiming more than is there.
    let reply = send(&cut);
    assert_eq!(tsig_error(&reply).0, ResponseCode::FormErr);
    cut.truncate(cut.len() - 10);
    assert_eq!(tsig_error(&send(&cut)).0, ResponseCode::FormErr);

    // TSIG first, then an OPT record: the TSIG is not last.
    let (request, _) = signed(axfr(), signer(INTERNAL_KEY), now());
    let mut moved = request.clone();
    moved[11] += 1;
    moved.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    let reply = send(&moved);
    let (rcode, _, _, data) = tsig_error(&reply);
    assert_eq!((rcode, data), (ResponseCode::FormErr, 0));
}

/// A signed query (not a transfer) is answered from the key's view and the answer is signed,
/// over UDP too.
#[test]
fn a_signed_query_gets_the_keyed_view_and_a_signed_answer() {
    let server = Server::start("transfer");
    let (request, mut verifier) = signed(
        question("mail.contoso.example.", RecordType::A),
        signer(INTERNAL_KEY),
        now(),
    );
    let reply = udp_raw(&server, EXTERNAL, &request);
    let message = verifier
        .verify(&reply)
        .expect("signed answer")
        .into_message();
    let answer: Vec<String> = message.answers.iter().map(render).collect();
    assert!(answer.iter().any(|a| a.contains("10.0.0.11")), "{answer:?}");
}

/// Over UDP, AXFR is REFUSED (RFC 5936 §4.2) and IXFR gets the single current SOA (RFC 1995 §2),
/// both signed.
#[test]
fn transfers_over_udp() {
    let server = Server::start("transfer");
    let (request, mut verifier) = signed(
        question("contoso.example.", RecordType::AXFR),
        signer(INTERNAL_KEY),
        now(),
    );
    let reply = udp_raw(&server, EXTERNAL, &request);
    let message = verifier.verify(&reply).unwrap().into_message();
    assert_eq!(message.metadata.response_code, ResponseCode::Refused);
    assert!(message.answers.is_empty());

    let mut ixfr = question("contoso.example.", RecordType::IXFR);
    ixfr.add_authority(soa_with_serial("contoso.example.", 1));
    let (request, mut verifier) = signed(ixfr, signer(INTERNAL_KEY), now());
    let reply = udp_raw(&server, EXTERNAL, &request);
    let message = verifier.verify(&reply).unwrap().into_message();
    assert_eq!(message.metadata.response_code, ResponseCode::NoError);
    assert_eq!(message.answers.len(), 1);
    assert_eq!(message.answers[0].record_type(), RecordType::SOA);
}

/// An SOA for the authority section of an IXFR request (RFC 1995 §3).
pub fn soa_with_serial(origin: &str, serial: u32) -> Record {
    use hickory_proto::rr::rdata::SOA;
    let origin = Name::from_ascii(origin).unwrap();
    let soa = SOA::new(origin.clone(), origin.clone(), serial, 0, 0, 0, 0);
    let mut record = Record::from_rdata(origin, 0, RData::SOA(soa));
    record.dns_class = DNSClass::IN;
    record
}

/// Writes a 200,000-record zone (`big.example`, serial `serial`, host `changed..` addresses in
/// 10.99/16 instead of their usual one for the first `changed` hosts) and a config that lets the
/// internal key transfer it. Returns the config path.
fn big_zone(dir: &Path, serial: u32, changed: u32) -> std::path::PathBuf {
    let mut zone = format!(
        "$ORIGIN big.example.\n$TTL 3600\n@ SOA ns hostmaster {serial} 3600 900 1209600 300\n@ NS ns\nns A 192.0.2.53\n"
    );
    for i in 0..200_000u32 {
        let address = if i < changed {
            format!("10.99.{}.{}", (i >> 8) & 0xff, i & 0xff)
        } else {
            format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff)
        };
        zone.push_str(&format!("host{i} A {address}\n"));
    }
    std::fs::write(dir.join("big.example.zone"), zone).unwrap();
    let secret = INTERNAL_KEY.1;
    std::fs::write(
        dir.join("splitdns.toml"),
        format!(
            "[[key]]\nname = \"internal-xfr\"\nsecret = \"{secret}\"\n\n[[view]]\nname = \"internal\"\nclients = [\"127.0.0.0/8\"]\nkeys = [\"internal-xfr\"]\ntransfer = {{ keys = [\"internal-xfr\"] }}\n\n[[zone]]\norigin = \"big.example\"\nfile = \"big.example.zone\"\n"
        ),
    )
    .unwrap();
    dir.join("splitdns.toml")
}

/// A 200,000-record zone goes over in full: every record compared, every message at most
/// 64 KiB and signed.
#[test]
fn a_200k_record_zone_transfers_completely() {
    let dir = scratch_dir("transfer/200k");
    let config = big_zone(&dir, 1, 0);
    let server = Server::with_config(&config);
    let (request, verifier) = signed(
        question("big.example.", RecordType::AXFR),
        signer(INTERNAL_KEY),
        now(),
    );
    let messages = transfer_raw(&server, INTERNAL, &request);
    assert!(messages.len() > 10, "{} messages", messages.len());
    let records = records_of(&messages, Some(verifier));
    let loaded = splitdns::load(Path::new(&config)).unwrap();
    let want = zone_texts(&loaded.snapshot, "internal", "big.example.");
    assert_eq!(want.len(), 200_003);
    assert_whole_zone(&records, &want);
}

/// After a 1% change of the 200,000-record zone, IXFR sends only the difference: the 2,000
/// records removed, the 2,000 added, and the four SOAs.
#[test]
fn ixfr_after_a_one_percent_change_of_200k_records_sends_only_the_difference() {
    let dir = scratch_dir("transfer/200k-ixfr");
    let config = big_zone(&dir, 1, 0);
    let before = splitdns::load(&config).unwrap();
    big_zone(&dir, 2, 2_000);
    let after = splitdns::reload(&config, Some(&before.snapshot)).unwrap();
    drop(before);
    let server = Server::with_loaded(after);
    let (request, verifier) = signed(ixfr("big.example.", 1), signer(INTERNAL_KEY), now());
    let records: Vec<String> = records_of(
        &transfer_until(&server, INTERNAL, &request, 4),
        Some(verifier),
    )
    .iter()
    .map(|r| render(r).to_lowercase())
    .collect();
    assert_eq!(records.len(), 4 + 2 * 2_000, "{:?}", &records[..8]);
    let soa = |serial: u32| {
        format!(
            "big.example. 3600 soa ns.big.example. hostmaster.big.example. {serial} 3600 900 1209600 300"
        )
    };
    assert_eq!(records[0], soa(2));
    assert_eq!(records[1], soa(1));
    assert_eq!(records[2 + 2_000], soa(2));
    assert_eq!(records[records.len() - 1], soa(2));
    let removed: BTreeSet<&String> = records[2..2 + 2_000].iter().collect();
    let added: BTreeSet<&String> = records[3 + 2_000..records.len() - 1].iter().collect();
    for i in 0..2_000u32 {
        let old = format!(
            "host{i}.big.example. 3600 a 10.0.{}.{}",
            (i >> 8) & 0xff,
            i & 0xff
        );
        let new = format!(
            "host{i}.big.example. 3600 a 10.99.{}.{}",
            (i >> 8) & 0xff,
            i & 0xff
        );
        assert!(removed.contains(&old), "{old} not removed");
        assert!(added.contains(&new), "{new} not added");
    }
}

/// The transfer fixture copied into a scratch directory, for tests that edit it.
fn editable_fixture(name: &str) -> std::path::PathBuf {
    scratch_copy(&format!("transfer/{name}"), &fixture_dir("transfer")).join("splitdns.toml")
}

fn serial_of(snapshot: &splitdns::Snapshot, view: &str, origin: &str) -> u32 {
    let view = snapshot.views.iter().find(|v| v.name == view).unwrap();
    view.zones
        .iter()
        .find(|z| z.origin.to_string() == origin)
        .unwrap()
        .serial
}

fn ixfr(origin: &str, serial: u32) -> Message {
    let mut message = question(origin, RecordType::IXFR);
    message.add_authority(soa_with_serial(origin, serial));
    message
}

/// An edit to the internal override, with the file's serial unchanged: the internal view gets
/// the next serial (it is transferred), the external view keeps its serial and content. IXFR
/// from the old serial carries exactly the difference (RFC 1995 §4: new SOA, old SOA, removed,
/// new SOA, added, new SOA); IXFR from the current serial gets the single SOA; from a serial not
/// in the history, the whole zone.
#[test]
fn ixfr_sends_only_the_difference_and_only_the_changed_view_gets_a_new_serial() {
    let config = editable_fixture("ixfr");
    let before = splitdns::load(&config).unwrap();
    let old = serial_of(&before.snapshot, "internal", "contoso.example.");
    let internal = config.with_file_name("contoso.example.internal.zone");
    let text = std::fs::read_to_string(&internal).unwrap();
    std::fs::write(
        &internal,
        text.replace("10.0.0.13", "10.0.0.23") + "new-host A 10.0.7.7\n",
    )
    .unwrap();
    let after = splitdns::reload(&config, Some(&before.snapshot)).unwrap();
    assert_eq!(
        serial_of(&after.snapshot, "internal", "contoso.example."),
        old + 1
    );
    assert_eq!(
        serial_of(&after.snapshot, "external", "contoso.example."),
        old
    );
    assert_eq!(
        zone_texts(&after.snapshot, "external", "contoso.example."),
        zone_texts(&before.snapshot, "external", "contoso.example."),
        "the external view did not change"
    );
    assert_eq!(after.serial.len(), 1, "{:?}", after.serial);
    assert!(after.serial[0].serial == old + 1 && after.serial[0].view == "internal");
    let server = Server::with_loaded(after);

    let (request, verifier) = signed(ixfr("contoso.example.", old), signer(INTERNAL_KEY), now());
    let records: Vec<String> =
        records_of(&transfer_raw(&server, EXTERNAL, &request), Some(verifier))
            .iter()
            .map(|r| render(r).to_lowercase())
            .collect();
    let soa = |serial: u32| {
        format!(
            "contoso.example. 3600 soa ns1.contoso.example. hostmaster.contoso.example. {serial} 3600 900 1209600 300"
        )
    };
    assert_eq!(
        records,
        [
            soa(old + 1),
            soa(old),
            // Sorted by owner in wire form: the length octet first, so "mail" before
            // "autodiscover" (the edit changed both A sets).
            "mail.contoso.example. 300 a 10.0.0.13".into(),
            "autodiscover.contoso.example. 300 a 10.0.0.13".into(),
            soa(old + 1),
            "mail.contoso.example. 300 a 10.0.0.23".into(),
            "new-host.contoso.example. 300 a 10.0.7.7".into(),
            "autodiscover.contoso.example. 300 a 10.0.0.23".into(),
            soa(old + 1),
        ]
    );

    let (request, verifier) = signed(
        ixfr("contoso.example.", old + 1),
        signer(INTERNAL_KEY),
        now(),
    );
    let records = records_of(&transfer_raw(&server, EXTERNAL, &request), Some(verifier));
    assert_eq!(records.len(), 1);
    assert_eq!(render(&records[0]).to_lowercase(), soa(old + 1));

    let (request, verifier) = signed(
        ixfr("contoso.example.", old - 5),
        signer(INTERNAL_KEY),
        now(),
    );
    let records = records_of(&transfer_raw(&server, EXTERNAL, &request), Some(verifier));
    let loaded = splitdns::reload(&config, None).unwrap();
    let mut want = zone_texts(&loaded.snapshot, "internal", "contoso.example.");
    // A fresh load serves the file's serial (no state_dir here); the server serves old + 1.
    want.retain(|r| !r.contains(" soa "));
    want.insert(soa(old + 1));
    assert_whole_zone(&records, &want);
}

/// With a `state_dir`, a bumped serial outlives a restart (a fresh load with no previous
/// snapshot): unchanged content keeps it, changed content gets the next one — never the file's
/// lower serial.
#[test]
fn served_serials_never_go_back_across_restarts() {
    let config = editable_fixture("state");
    let state = config.with_file_name("state");
    std::fs::create_dir_all(&state).unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("state_dir = \"state\"\n{text}")).unwrap();
    let first = splitdns::load(&config).unwrap();
    let file_serial = serial_of(&first.snapshot, "internal", "contoso.example.");
    first.save_serials().unwrap();
    let internal = config.with_file_name("contoso.example.internal.zone");
    let zone = std::fs::read_to_string(&internal).unwrap();
    std::fs::write(&internal, zone.replace("10.0.0.13", "10.0.0.23")).unwrap();
    let bumped = splitdns::reload(&config, Some(&first.snapshot)).unwrap();
    assert_eq!(
        serial_of(&bumped.snapshot, "internal", "contoso.example."),
        file_serial + 1
    );
    bumped.save_serials().unwrap();

    // Restart: the files are as they were; the state says what was served.
    let restarted = splitdns::load(&config).unwrap();
    assert_eq!(
        serial_of(&restarted.snapshot, "internal", "contoso.example."),
        file_serial + 1
    );
    assert_eq!(
        serial_of(&restarted.snapshot, "external", "contoso.example."),
        file_serial
    );
    restarted.save_serials().unwrap();

    // A change while stopped: the next serial after the kept one.
    std::fs::write(&internal, zone.replace("10.0.0.13", "10.0.0.33")).unwrap();
    let changed = splitdns::load(&config).unwrap();
    assert_eq!(
        serial_of(&changed.snapshot, "internal", "contoso.example."),
        file_serial + 2
    );
    assert_eq!(
        serial_of(&changed.snapshot, "external", "contoso.example."),
        file_serial
    );
}
