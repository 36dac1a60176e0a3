//! Zones from elsewhere: the shared corpus of other servers' test zones, the dump for the
//! differential check against other parsers, and parse speed on a large generated zone.

use std::path::PathBuf;

use super::*;

/// The shared corpus: zone files from other servers' test suites, each with its origin (from
/// its SOURCES.md) and the number of records in it, where known. The counts and every RDATA
/// octet were checked against dnspython (which agrees except that it merges the three MX
/// records of knot-records.zone that differ only in case) and Knot DNS.
const SHARED_ZONES: &[(&str, &str, Option<usize>)] = &[
    ("bind-chain-example.zone", "example.", Some(43)),
    ("bind-rfc4592-example.zone", "example.", Some(12)),
    ("hickory-example.com.zone", "example.com.", Some(16)),
    ("knot-additionals-test.zone", "test.", Some(29)),
    ("knot-follow.zone", "follow.", Some(35)),
    ("knot-records.zone", "records.", Some(99)),
    ("nsd-bug052_ent.zone", "miek.nl.", Some(3)),
    ("nsd-dname.zone", "example.", Some(7)),
    ("nsd-wcard_add_rr.zone", "example.nl.", Some(7)),
    ("pdns-test.com.zone", "test.com.", Some(43)),
    ("pdns-wtest.com.zone", "wtest.com.", Some(13)),
    ("rfc1035-isi.edu.zone", "ISI.EDU.", Some(11)),
    ("contoso.example.zone", "contoso.example.", None),
];

fn shared_zones_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/zones");
    dir.is_dir().then_some(dir)
}

#[test]
fn shared_testdata_zones_load() {
    let Some(dir) = shared_zones_dir() else {
        eprintln!("skipped: ../shared/testdata/zones not found");
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "zone") {
            continue;
        }
        let file_name = path.file_name().unwrap().to_str().unwrap();
        let Some(&(_, origin, expected)) = SHARED_ZONES.iter().find(|(f, _, _)| *f == file_name)
        else {
            panic!("{file_name}: not in SHARED_ZONES; add it with its origin from SOURCES.md");
        };
        let parsed = load_zone_file(&path, &n(origin))
            .unwrap_or_else(|errors| panic!("{file_name}: {errors:#?}"));
        match expected {
            Some(count) => assert_eq!(parsed.records.len(), count, "{file_name}"),
            None => assert!(!parsed.records.is_empty(), "{file_name}"),
        }
        assert_eq!(parsed.records[0].rtype, rtype::SOA, "{file_name}");
        for record in &parsed.records {
            let text = rdata_to_text(record.rtype, &record.rdata);
            let back = parse_rdata_text(record.rtype, &text, &Name::root());
            assert_eq!(
                back.as_deref(),
                Ok(&*record.rdata),
                "{file_name}:{} {text}",
                record.loc.line
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 12,
        "only {checked} zone files found in {}",
        dir.display()
    );
}

/// For the differential check against other parsers (not run by default): writes every record
/// of the shared zones, plus `SPLITDNS_ZONE_DUMP_EXTRA` (`path=origin;...`), to the file named
/// by `SPLITDNS_ZONE_DUMP`, one `file owner-wire-lowercase type ttl rdata` line each, in hex,
/// sorted.
#[test]
#[ignore]
fn dump_zones_for_differential_check() {
    let Ok(out) = std::env::var("SPLITDNS_ZONE_DUMP") else {
        eprintln!("skipped: set SPLITDNS_ZONE_DUMP to the output file");
        return;
    };
    let mut zones: Vec<(PathBuf, String)> = Vec::new();
    if let Some(dir) = shared_zones_dir() {
        for (file, origin, _) in SHARED_ZONES {
            zones.push((dir.join(file), origin.to_string()));
        }
    }
    for spec in std::env::var("SPLITDNS_ZONE_DUMP_EXTRA")
        .unwrap_or_default()
        .split(';')
    {
        if let Some((path, origin)) = spec.split_once('=') {
            zones.push((PathBuf::from(path), origin.to_string()));
        }
    }
    let mut lines = Vec::new();
    for (path, origin) in zones.iter().filter(|(p, _)| p.exists()) {
        let file = path.file_name().unwrap().to_string_lossy();
        let parsed = load_zone_file(path, &n(origin)).unwrap_or_else(|e| panic!("{e:#?}"));
        for r in parsed.records {
            let owner = hex(r.owner.to_lowercase().as_wire());
            lines.push(format!(
                "{file}\t{owner}\t{}\t{}\t{}",
                r.rtype,
                r.ttl,
                hex(&r.rdata)
            ));
        }
    }
    lines.sort();
    std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    eprintln!("wrote {} records to {out}", lines.len());
}

/// Parse speed on a generated 200,000-record zone (run in release: `cargo test --release
/// --lib zonefile::tests::corpus::parse_speed -- --ignored --nocapture`).
#[test]
#[ignore]
fn parse_speed_on_a_large_zone() {
    let mut text = String::from(
        "$TTL 3600\n$ORIGIN big.example.\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n",
    );
    let mut i = 0;
    while i < 200_000 {
        writeln!(
            text,
            "host{i} 300 IN A 10.{}.{}.{}",
            i >> 16 & 255,
            i >> 8 & 255,
            i & 255
        )
        .unwrap();
        writeln!(text, "  AAAA 2001:db8::{:x}:{:x}", i >> 16, i & 0xffff).unwrap();
        writeln!(text, "mx{i} MX 10 mail{i}.big.example.").unwrap();
        writeln!(
            text,
            "txt{i} TXT \"v=spf1 include:_spf.example.com ~all\" \"second string\""
        )
        .unwrap();
        writeln!(text, "_sip._tcp.s{i} SRV 0 5 5060 ( sip{i}\n )").unwrap();
        i += 5;
    }
    let start = std::time::Instant::now();
    let parsed = parse_zone_text(&text, Path::new("big.zone"), &n("big.example.")).unwrap();
    let elapsed = start.elapsed();
    let rate = parsed.records.len() as f64 / elapsed.as_secs_f64();
    eprintln!(
        "parsed {} records ({} bytes) in {:.1} ms: {:.0} records/s",
        parsed.records.len(),
        text.len(),
        elapsed.as_secs_f64() * 1e3,
        rate
    );
    assert_eq!(parsed.records.len(), 200_001);
}
