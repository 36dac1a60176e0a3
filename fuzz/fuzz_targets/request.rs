//! Raw bytes → the whole request path (view selection + answer), over both transports and from a
//! client in each view. Every response must read back as a well-formed message with the query's ID.

#![no_main]

use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use splitdns::{Snapshot, Transport, reader, respond};

fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../zones/splitdns.toml");
        splitdns::load(&config)
            .expect("the bundled example loads")
            .snapshot
    })
}

fuzz_target!(|packet: &[u8]| {
    let clients: [IpAddr; 3] = [
        "10.1.2.3".parse().unwrap(),
        "198.51.100.7".parse().unwrap(),
        "::ffff:10.0.0.1".parse().unwrap(),
    ];
    let mut out = Vec::new();
    for client in clients {
        for transport in [Transport::Udp, Transport::Tcp] {
            if respond(snapshot(), client, packet, transport, &mut out).is_some() {
                let message = reader::read(&out).expect("responses are well formed");
                assert_eq!(message.id, u16::from_be_bytes([packet[0], packet[1]]));
                assert!(message.flags & 0x8000 != 0, "QR set");
                if transport == Transport::Udp {
                    assert!(out.len() <= 1232, "UDP responses fit the advertised size");
                }
            }
        }
    }
});
