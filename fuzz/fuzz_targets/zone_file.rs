//! Zone-file text → the loader. Never panics; every record it accepts prints as text that parses
//! back to the same wire data.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use splitdns::name::Name;
use splitdns::zone::{parse_zone_text, rdata};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let origin = Name::parse("contoso.example.", None).unwrap();
    // $INCLUDE resolves against a directory with nothing to include.
    let file = Path::new("/nonexistent/fuzz.zone");
    if let Ok(parsed) = parse_zone_text(text, file, &origin) {
        for record in parsed.records {
            let shown = rdata::rdata_to_text(record.rtype, &record.rdata);
            let again = rdata::parse_rdata_text(record.rtype, &shown, &origin)
                .unwrap_or_else(|e| panic!("{shown:?} does not parse back: {e}"));
            assert_eq!(&again[..], &record.rdata[..], "{shown:?}");
        }
    }
});
