//! Zone-file text → the loader → a zone's nodes. Never panics; every record it accepts prints as
//! text that parses back to the same wire data, and is found in the built zone under its
//! lowercased owner and type, in a node whose RRsets are sorted by type without repeats.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use splitdns::{Name, build_shared, parse_zone_text, rdata};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Name::parse("contoso.example.", None).unwrap();
    // $INCLUDE resolves against a directory with nothing to include.
    let file = Path::new("/nonexistent/fuzz.zone");
    if let Ok(parsed) = parse_zone_text(text, file, &origin) {
        let mut expected = Vec::new();
        for record in &parsed.records {
            let shown = rdata::rdata_to_text(record.rtype, &record.rdata);
            let again = rdata::parse_rdata_text(record.rtype, &shown, &origin)
                .unwrap_or_else(|e| panic!("{shown:?} does not parse back: {e}"));
            assert_eq!(&again[..], &record.rdata[..], "{shown:?}");
            expected.push((record.owner.as_wire().to_ascii_lowercase(), record.rtype));
        }
        let count = parsed.records.len();
        let zone = build_shared(&origin, parsed.records);
        for (owner, rtype) in &expected {
            let node = zone.get(owner).expect("every owner has a node");
            assert!(
                node.rrsets
                    .windows(2)
                    .all(|pair| pair[0].rtype < pair[1].rtype)
            );
            let set = node.get(*rtype).expect("every record's type has an RRset");
            assert!(!set.rdatas.is_empty());
        }
        let mut stored = 0;
        let owners: std::collections::BTreeSet<&Vec<u8>> =
            expected.iter().map(|(o, _)| o).collect();
        for owner in owners {
            stored += zone.get(owner).map_or(0, |node| {
                node.rrsets
                    .iter()
                    .map(|set| set.rdatas.len())
                    .sum::<usize>()
            });
        }
        assert!(stored <= count, "{stored} records stored from {count}");
    }
});
