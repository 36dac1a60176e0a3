//! Signed requests through the whole request path. Random mutation never gets past the MAC and
//! time checks (the `tsig` target's inputs end at BADKEY, BADSIG or BADTIME), so here the harness
//! signs the fuzzed message itself, now, with a key of the transfer fixture: byte 0 picks the
//! key, byte 1 the client, the rest is the message. The signed request must verify; every
//! response must read back as a well-formed message with the query's ID, fit UDP's limit over
//! UDP, and, when it carries a MAC, verify against the request's.

#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use splitdns::{Transport, reader, respond, tsig};
use splitdns_fuzz::transfer_fixture;

/// Sources from the fixture's internal prefixes (127.0.0.2, 10.1.2.3) and from everywhere else.
const CLIENTS: [&str; 5] = ["198.51.100.7", "127.0.0.2", "127.0.0.5", "10.1.2.3", "::1"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 + 12 {
        return;
    }
    let snapshot = transfer_fixture();
    let key = &snapshot.keys[data[0] as usize % snapshot.keys.len()];
    let client: IpAddr = CLIENTS[data[1] as usize % CLIENTS.len()].parse().unwrap();
    let mut packet = data[2..].to_vec();
    if packet[10..12] == [0xff, 0xff] {
        return; // ARCOUNT cannot count one more record
    }
    let start = packet.len();
    let now = tsig::now();
    let request_mac = tsig::sign_request(&mut packet, key, now);
    let record = tsig::read_record(&packet, start).expect("our own TSIG reads back");
    assert_eq!(tsig::verify_request(&packet, &record, key, now), Ok(()));
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        if respond(snapshot, client, &packet, transport, &mut out).is_some() {
            let message = reader::read(&out).expect("responses are well formed");
            assert_eq!(message.id, u16::from_be_bytes([packet[0], packet[1]]));
            if transport == Transport::Udp {
                assert!(out.len() <= 1232, "UDP response of {} bytes", out.len());
            }
            // The response's TSIG, if any, is the record that ends it: `record_len` counts the 6
            // octets of Other Data only a BADTIME carries, so it starts 0 or 6 octets later. Not
            // a scan from the front: earlier bytes can read as a TSIG record (an A record's RDATA
            // followed by the key name; seed `tsig_scan_false_match`).
            let full = tsig::record_len(key);
            let found = [full - 6, full].into_iter().find_map(|len| {
                let record = tsig::read_record(&out, out.len().checked_sub(len)?)?;
                (record.key_name == key.name.as_wire()).then_some(record)
            });
            if let Some(record) = found
                && !record.mac.is_empty()
            {
                assert!(
                    tsig::verify_response(&out, &record, key, &request_mac),
                    "signed response (TSIG error {}) does not verify",
                    record.error
                );
            }
        }
    }
});
