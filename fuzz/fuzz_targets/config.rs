//! Config text → the config loader. Never panics; errors carry a line within the text.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = splitdns::parse_config(text, Path::new("/nonexistent/splitdns.toml")) {
        let lines = text.lines().count() as u32 + 1;
        for error in errors {
            assert!(
                error.line <= lines,
                "{error} points past the end of the text"
            );
        }
    }
});
