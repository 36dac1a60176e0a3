//! Raw bytes → the TSIG verifier, two ways: the whole request path with the transfer fixture's
//! keys (TSIG read, key looked up, MAC and time checked, the answer signed or the failure
//! answered), and the record reader and verifier at every offset of the input. Every response
//! must read back as a well-formed message with the query's ID; nothing may panic.

#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use splitdns::{Transport, reader, respond, tsig};
use splitdns_fuzz::transfer_fixture;

fuzz_target!(|packet: &[u8]| {
    let client: IpAddr = "198.51.100.7".parse().unwrap();
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        if respond(transfer_fixture(), client, packet, transport, &mut out).is_some() {
            let message = reader::read(&out).expect("responses are well formed");
            assert_eq!(message.id, u16::from_be_bytes([packet[0], packet[1]]));
        }
    }
    let key = &transfer_fixture().keys[0];
    for start in 12..packet.len() {
        if let Some(record) = tsig::read_record(packet, start) {
            assert_eq!(record.start, start);
            let _ = tsig::verify_request(packet, &record, key, tsig::now());
        }
    }
});
