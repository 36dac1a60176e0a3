//! Signatures made through [`super::sign`] are BIND's to judge: a small zone signed here, with
//! its NSEC chain and key set, passes `dnssec-verify` (skipped, saying so, without it).

use std::fmt::Write as _;
use std::process::Command;

use super::{Unsigned, Validity, sign};
use crate::dns::rtype;
use crate::dnssec::key::tests::{ZONE, name, now, path_str, run, tool, type_name};
use crate::dnssec::key::{Algorithm, SigningKey};
use crate::scratch::Scratch;
use crate::zonefile::rdata::{parse_rdata_text, rdata_to_text};

/// Signatures made through [`sign`], over a small zone with its NSEC chain and key set, pass
/// `dnssec-verify`.
#[test]
fn our_signatures_pass_dnssec_verify() {
    let Some(verify) = tool("dnssec-verify") else {
        return;
    };
    let dir = Scratch::new("rrsig-verify");
    let origin = name("example.com.");
    let start = now() as u32;
    let validity = Validity {
        inception: start - 3600,
        expiration: start + 86_400,
    };
    for algorithm in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = SigningKey::generate(&origin, algorithm, 257, u64::from(start)).unwrap();
        let dnskey_text = rdata_to_text(rtype::DNSKEY, key.dnskey_rdata());
        let mut records: Vec<(&str, u16, u32, String)> = ZONE
            .iter()
            .map(|(owner, rtype, rdata)| (*owner, *rtype, 3600, rdata.to_string()))
            .collect();
        records.push(("example.com.", rtype::DNSKEY, 3600, dnskey_text));
        records.push((
            "example.com.",
            rtype::NSEC,
            300,
            "ns.example.com. A NS SOA RRSIG NSEC DNSKEY".into(),
        ));
        records.push((
            "ns.example.com.",
            rtype::NSEC,
            300,
            "www.example.com. A RRSIG NSEC".into(),
        ));
        records.push((
            "www.example.com.",
            rtype::NSEC,
            300,
            "example.com. A RRSIG NSEC".into(),
        ));
        let mut zone = String::new();
        let mut sets: Vec<(&str, u16, u32)> = Vec::new();
        for (owner, rtype, ttl, rdata) in &records {
            let _ = writeln!(zone, "{owner} {ttl} IN {} {rdata}", type_name(*rtype));
            if !sets.contains(&(*owner, *rtype, *ttl)) {
                sets.push((*owner, *rtype, *ttl));
            }
        }
        for (owner, set_type, ttl) in sets {
            let wires: Vec<Vec<u8>> = records
                .iter()
                .filter(|(o, t, _, _)| *o == owner && *t == set_type)
                .map(|(_, t, _, rdata)| parse_rdata_text(*t, rdata, &origin).unwrap())
                .collect();
            let rdatas: Vec<&[u8]> = wires.iter().map(Vec::as_slice).collect();
            let owner_wire = name(owner).to_lowercase();
            let rrsig = sign(
                &key,
                origin.as_wire(),
                Unsigned {
                    owner: owner_wire.as_wire(),
                    rtype: set_type,
                    ttl,
                    rdatas: &rdatas,
                },
                validity,
            );
            let _ = writeln!(
                zone,
                "{owner} {ttl} IN RRSIG {}",
                rdata_to_text(rtype::RRSIG, &rrsig)
            );
        }
        let file = dir.write(&format!("zone-{}", algorithm.number()), &zone);
        run(&verify, &["-z", "-o", "example.com.", path_str(&file)]);

        // A signature that does not verify is caught: the check is real.
        let broken = zone.replacen("192.0.2.3", "192.0.2.5", 1);
        let file = dir.write(&format!("broken-{}", algorithm.number()), &broken);
        let status = Command::new(&verify)
            .args(["-z", "-o", "example.com.", path_str(&file)])
            .output()
            .unwrap()
            .status;
        assert!(
            !status.success(),
            "dnssec-verify accepted a zone whose data was changed after signing"
        );
    }
}
