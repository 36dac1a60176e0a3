//! Zone-file loading end to end: directives, TTL and owner inheritance, errors with their
//! lines, `$INCLUDE`, and the shared corpus of other servers' test zones.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::rdata::{parse_rdata_text, rdata_to_text};
use super::*;
use crate::dns::name;
use crate::dns::rdata::embedded_names;
use crate::dns::rtype::{self, *};

fn n(text: &str) -> Name {
    Name::parse(text, None).unwrap()
}

fn parse(text: &str) -> Result<ParsedZoneFile, Vec<Located>> {
    parse_zone_text(text, Path::new("zones/x.zone"), &n("contoso.example."))
}

fn records(text: &str) -> Vec<ZoneRecord> {
    match parse(text) {
        Ok(parsed) => parsed.records,
        Err(errors) => panic!("unexpected errors: {errors:#?}"),
    }
}

/// The errors as `file:line: message` lines.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(parsed) => panic!("expected errors, got {} records", parsed.records.len()),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// (owner, type, ttl, rdata text, line) for compact assertions.
fn summary(records: &[ZoneRecord]) -> Vec<(String, String, u32, String, u32)> {
    records
        .iter()
        .map(|r| {
            (
                r.owner.to_string(),
                rtype::mnemonic(r.rtype).into_owned(),
                r.ttl,
                rdata_to_text(r.rtype, &r.rdata),
                r.loc.line,
            )
        })
        .collect()
}

const SOA: &str = "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n";

#[test]
fn owners_ttls_classes_and_relative_names() {
    let text = format!(
        "{SOA}\
         www 300 IN A 192.0.2.1\n\
         \tIN 600 A 192.0.2.2\n\
         \x20 AAAA 2001:db8::1\n\
         Mail.Contoso.Example. IN MX 10 mail\n\
         @ MX 20 @\n\
         a A 192.0.2.3\n\
         ns TXT ns\n\
         3.1.1.1 PTR host.other.\n"
    );
    let got = summary(&records(&text));
    let expected = [
        (
            "contoso.example.",
            "SOA",
            3600,
            "ns1.contoso.example. hostmaster.contoso.example. 1 7200 900 1209600 300",
            1,
        ),
        ("www.contoso.example.", "A", 300, "192.0.2.1", 2),
        ("www.contoso.example.", "A", 600, "192.0.2.2", 3),
        ("www.contoso.example.", "AAAA", 600, "2001:db8::1", 4),
        (
            "Mail.Contoso.Example.",
            "MX",
            600,
            "10 mail.contoso.example.",
            5,
        ),
        ("contoso.example.", "MX", 600, "20 contoso.example.", 6),
        ("a.contoso.example.", "A", 600, "192.0.2.3", 7),
        ("ns.contoso.example.", "TXT", 600, "\"ns\"", 8),
        ("3.1.1.1.contoso.example.", "PTR", 600, "host.other.", 9),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|&(o, t, ttl, r, l)| (o.to_string(), t.to_string(), ttl, r.to_string(), l))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn ttl_inheritance_rules() {
    // $TTL wins over the last explicit TTL; explicit TTLs win over $TTL.
    let got = records(&format!(
        "$TTL 1h30m\n{SOA}a 60 A 192.0.2.1\nb A 192.0.2.2\n$TTL 1W\nc A 192.0.2.3\n"
    ));
    assert_eq!(
        got.iter().map(|r| r.ttl).collect::<Vec<_>>(),
        vec![3600, 60, 5400, 604800]
    );

    // Without $TTL, the last explicit TTL carries over (RFC 1035).
    let got = records(&format!(
        "{SOA}a 60 A 192.0.2.1\nb A 192.0.2.2\nc 2d A 192.0.2.3\nd A 192.0.2.4\n"
    ));
    assert_eq!(
        got.iter().map(|r| r.ttl).collect::<Vec<_>>(),
        vec![3600, 60, 60, 172800, 172800]
    );

    // No TTL on the SOA and no $TTL: the SOA's MINIMUM (as BIND does), inherited like a stated
    // TTL until a record states its own, which is inherited in turn (RFC 1035 §5.1).
    let got =
        records("@ IN SOA ns1 hostmaster 1 2 3 4 5m\n NS ns1\nx 10 A 192.0.2.1\ny A 192.0.2.2\n");
    assert_eq!(
        got.iter().map(|r| r.ttl).collect::<Vec<_>>(),
        vec![300, 300, 10, 10]
    );

    // Nothing to inherit and not an SOA: an error naming the line.
    assert_eq!(
        errors("www A 192.0.2.1\n"),
        vec!["zones/x.zone:1: no TTL for this record: give one, or set a default with $TTL"]
    );

    // RFC 2181 §8: TTLs with the top bit set count as zero.
    let got =
        records("$TTL 2147483648\n@ SOA ns1 hostmaster 1 2 3 4 5\nx 4294967295 A 192.0.2.1\n");
    assert_eq!(got.iter().map(|r| r.ttl).collect::<Vec<_>>(), vec![0, 0]);
}

#[test]
fn origin_directive_and_relative_names_in_rdata() {
    let got = records(&format!(
        "$TTL 300\n{SOA}$ORIGIN sub\nhost A 192.0.2.1\nalias CNAME host\n$ORIGIN contoso.example.\n\
         x CNAME host.sub\n$ORIGIN other.\nback.contoso.example. NS x.contoso.example.\n"
    ));
    let got = summary(&got);
    assert_eq!(got[1].0, "host.sub.contoso.example.");
    assert_eq!(got[2].3, "host.sub.contoso.example.");
    assert_eq!(got[3].3, "host.sub.contoso.example.");
    let errs = errors("$TTL 1\n$ORIGIN other.\nx A 192.0.2.1\n");
    assert_eq!(
        errs,
        vec![
            "zones/x.zone:3: record owner \"x.other.\" is outside the zone origin contoso.example."
        ]
    );
}

#[test]
fn parentheses_comments_quotes_and_crlf() {
    let text = "$TTL 300\r\n@ IN SOA ns1 hostmaster (\r\n  2024010101 ; serial\r\n  1h 15m 2w 5m )\r\n\
                txt TXT ( \"a;b\" \"(c)\" ) ; trailing\r\n\
                \tTXT \"say \\\"hi\\\"\" plain\\032word \\059\r\n";
    let got = summary(&records(text));
    assert_eq!(
        got[0].3,
        "ns1.contoso.example. hostmaster.contoso.example. 2024010101 3600 900 1209600 300"
    );
    assert_eq!(got[0].4, 2);
    assert_eq!(got[1].3, "\"a;b\" \"(c)\"");
    assert_eq!(got[1].4, 5);
    assert_eq!(got[2].3, "\"say \\\"hi\\\"\" \"plain word\" \";\"");
}

#[test]
fn escaped_and_numeric_owners() {
    let got =
        records("$TTL 1\n\\035hash A 192.0.2.1\nw\\.dot TXT x\n10 A 192.0.2.2\n1h A 192.0.2.3\n");
    let owners: Vec<String> = got.iter().map(|r| r.owner.to_string()).collect();
    assert_eq!(
        owners,
        [
            "#hash.contoso.example.",
            "w\\.dot.contoso.example.",
            "10.contoso.example.",
            "1h.contoso.example."
        ]
    );
    assert_eq!(got[1].owner.as_wire()[..6], *b"\x05w.dot");
}

#[test]
fn generic_rdata_for_any_type() {
    let got = records(
        "$TTL 1\nx TYPE65280 \\# 2 abcd\n A \\# 4 0A000001\n TYPE999 \\# 0\n TXT \\# ( 3 02 68\n 69 )\n \
         CLASS1 TYPE1 192.0.2.9\n",
    );
    let got: Vec<(u16, &[u8])> = got.iter().map(|r| (r.rtype, &*r.rdata)).collect();
    assert_eq!(
        got,
        vec![
            (65280, &[0xab, 0xcd][..]),
            (A, &[10, 0, 0, 1][..]),
            (999, &[][..]),
            (TXT, &b"\x02hi"[..]),
            (A, &[192, 0, 2, 9][..]),
        ]
    );
    let errs = errors(
        "$TTL 1\nx TYPE65280 \\# 3 abcd\ny A \\# 3 0A0000\nz NS \\# 1 c0\nw TYPE65280 \\# 1 zz\n",
    );
    assert_eq!(
        errs,
        vec![
            "zones/x.zone:2: generic RDATA length 3 does not match the 2 octets of hex given",
            "zones/x.zone:3: generic RDATA is not a valid A record",
            "zones/x.zone:4: generic RDATA is not a valid NS record",
            "zones/x.zone:5: bad generic RDATA hex \"zz\" in TYPE65280 record",
        ]
    );
}

#[test]
fn errors_name_the_line_and_the_token_and_parsing_goes_on() {
    let text = "$TTL 300\n\
                @ SOA ns1 hostmaster (\n\
                \t1 ; serial\n\
                \t2 3 4 5 )\n\
                a A 10.0.0.300\n\
                b AAA ::1\n\
                c MX\n\
                d MX 10\n\
                e CH TXT x\n\
                f A 192.0.2.1 192.0.2.2\n\
                g\n\
                h 300 IN\n\
                i TXT \"open\n\
                j A 192.0.2.1 )\n\
                k MX 10 (\n\
                \tmail\n\
                \t) extra\n\
                l CNAME a..b\n\
                $GENERATE 1-10 host$ A 192.0.2.$\n\
                $FOO bar\n\
                m TXT \"x\" x\\\n\
                n SRV 0 0 65536 t\n\
                bad..owner A 192.0.2.1\n\
                o SOA a b 1 2 3 4\n\
                p A 192.0.2.1 ; fine\n\
                $INCLUDE missing.zone\n\
                q HINFO \"only cpu\"\n";
    let expected = [
        "zones/x.zone:5: bad IPv4 address \"10.0.0.300\" in A record",
        "zones/x.zone:6: unknown record type \"AAA\"",
        "zones/x.zone:7: missing RDATA for MX",
        "zones/x.zone:8: missing domain name in MX record",
        "zones/x.zone:9: class CH not supported (only IN)",
        "zones/x.zone:10: unexpected \"192.0.2.2\" after the complete A RDATA",
        "zones/x.zone:11: missing record type for g.contoso.example.",
        "zones/x.zone:12: missing record type for h.contoso.example.",
        "zones/x.zone:13: unterminated quoted string",
        "zones/x.zone:14: unbalanced parenthesis: ')' without a matching '('",
        "zones/x.zone:17: unexpected \"extra\" after the complete MX RDATA",
        "zones/x.zone:18: bad domain name \"a..b\" in CNAME record: empty label in name \"a..b\"",
        "zones/x.zone:19: $GENERATE is not supported",
        "zones/x.zone:20: unknown directive \"$FOO\"",
        "zones/x.zone:21: bad character-string \"x\\\" in TXT record: bad escape sequence",
        "zones/x.zone:22: bad port \"65536\" in SRV record",
        "zones/x.zone:23: bad owner name \"bad..owner\": empty label in name \"bad..owner\"",
        "zones/x.zone:24: missing minimum in SOA record",
    ];
    let errs = errors(text);
    assert_eq!(errs[..expected.len()], expected);
    assert_eq!(errs.len(), expected.len() + 2, "{errs:#?}");
    assert!(
        errs[expected.len()]
            .starts_with("zones/x.zone:26: cannot read included file zones/missing.zone: "),
        "{}",
        errs[expected.len()]
    );
    assert_eq!(
        errs[expected.len() + 1],
        "zones/x.zone:27: missing OS in HINFO record"
    );
}

#[test]
fn error_inside_a_multiline_record_points_at_its_token() {
    let errs = errors("$TTL 1\n@ SOA ns1 hostmaster (\n 1\n 2\n 3x\n 4 5 )\nwww A 1.2.3\n");
    assert_eq!(
        errs,
        vec![
            "zones/x.zone:5: bad retry \"3x\" in SOA record",
            "zones/x.zone:7: bad IPv4 address \"1.2.3\" in A record"
        ]
    );
}

#[test]
fn error_after_a_valid_multiline_record_has_its_own_line() {
    let text = "$TTL 1\r\n@ SOA ns1 hostmaster (\r\n 1 ; serial\r\n 2 ; refresh\r\n 3 4\r\n 5 )\r\n\
                \r\nwww A 192.0.2.1\r\nbad MX 10\r\n";
    assert_eq!(
        errors(text),
        vec!["zones/x.zone:9: missing domain name in MX record"]
    );
}

#[test]
fn directive_errors() {
    let errs = errors(
        "$TTL\n$TTL 1h30\n$TTL 1 2\n$ORIGIN\n$ORIGIN a..b\n$INCLUDE a b c\n$include x \"a..b\"\n\
         x CLASS3 A 192.0.2.1\ny HS A 192.0.2.1\nz 1x A 192.0.2.1\n",
    );
    assert_eq!(
        errs,
        vec![
            "zones/x.zone:1: $TTL needs a TTL",
            "zones/x.zone:2: bad $TTL \"1h30\"",
            "zones/x.zone:3: unexpected \"2\" after $TTL",
            "zones/x.zone:4: $ORIGIN needs a domain name",
            "zones/x.zone:5: bad $ORIGIN \"a..b\": empty label in name \"a..b\"",
            "zones/x.zone:6: unexpected \"c\" after $INCLUDE",
            "zones/x.zone:7: bad $INCLUDE origin \"a..b\": a domain name cannot be a quoted string",
            "zones/x.zone:8: class CLASS3 not supported (only IN)",
            "zones/x.zone:9: class HS not supported (only IN)",
            "zones/x.zone:10: bad TTL \"1x\"",
        ]
    );
}

#[test]
fn unclosed_parenthesis_is_reported_where_it_opens() {
    let errs = errors("$TTL 1\nwww A 192.0.2.1\nx TXT ( a\nb\n");
    assert_eq!(
        errs,
        vec!["zones/x.zone:3: unbalanced parenthesis: '(' is never closed"]
    );
}

#[test]
fn lines_with_blank_owner_need_a_previous_owner() {
    let errs = errors("$TTL 1\n  A 192.0.2.1\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("zones/x.zone:2: record has no owner name"),
        "{errs:?}"
    );
}

#[test]
fn meta_types_and_types_without_text_form_are_refused() {
    let errs = errors(
        "$TTL 1\nx ANY 192.0.2.1\ny OPT 1\nz NULL abcd\nw TYPE65280 abcd\nv \"A\" 192.0.2.1\n",
    );
    assert_eq!(
        errs,
        vec![
            "zones/x.zone:2: type ANY cannot appear in a zone file",
            "zones/x.zone:3: type OPT cannot appear in a zone file",
            "zones/x.zone:4: no text format for NULL records: write the RDATA in the generic \\# form",
            "zones/x.zone:5: no text format for TYPE65280 records: write the RDATA in the generic \\# form",
            "zones/x.zone:6: unknown record type \"A\"",
        ]
    );
}

#[test]
fn error_count_is_capped() {
    let text = "$TTL 1\n".to_string() + &"x A bad\n".repeat(500);
    let errs = errors(&text);
    assert_eq!(errs.len(), 101);
    assert_eq!(
        errs[100],
        "zones/x.zone:101: too many errors (100); stopped reading here"
    );
}

#[test]
fn txt_strings_are_limited_to_255_octets() {
    let ok = format!(
        "$TTL 1\nt TXT \"{}\" {}\n",
        "a".repeat(255),
        "b".repeat(255)
    );
    assert_eq!(records(&ok)[0].rdata.len(), 512);
    let errs = errors(&format!("$TTL 1\nt TXT \"{}\"\n", "a".repeat(256)));
    assert!(
        errs[0].ends_with("character-string of 256 octets (the limit is 255)"),
        "{errs:?}"
    );
}

#[test]
fn names_longer_than_the_limits_are_refused() {
    let label64 = "x".repeat(64);
    let errs = errors(&format!(
        "$TTL 1\n{label64} A 192.0.2.1\nok CNAME {label64}\n"
    ));
    assert_eq!(errs.len(), 2);
    assert!(
        errs[0].starts_with("zones/x.zone:2: bad owner name"),
        "{errs:?}"
    );
    assert!(errs[1].contains("label longer than 63 octets"), "{errs:?}");
    let long = vec!["y".repeat(60); 4].join(".");
    let errs = errors(&format!("$TTL 1\nok CNAME {long}\n"));
    assert!(errs[0].contains("name longer than 255 octets"), "{errs:?}");
}

/// A scratch directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("splitdns-zone-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn include_nests_relative_to_the_including_file_and_restores_the_origin() {
    let dir = TempDir::new("include");
    let main = dir.write(
        "main.zone",
        "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n$INCLUDE sub/hosts.zone\n\
         $INCLUDE \"sub/hosts.zone\" lab\nafter A 192.0.2.9\n",
    );
    dir.write(
        "sub/hosts.zone",
        "; hosts\nhost A 192.0.2.1\n$INCLUDE deeper.zone\n",
    );
    dir.write("sub/deeper.zone", "$ORIGIN deep\nbottom TXT \"x\"\n");
    let parsed = load_zone_file(&main, &n("contoso.example.")).unwrap();
    let got: Vec<(String, String, u32)> = parsed
        .records
        .iter()
        .map(|r| {
            let file = r
                .loc
                .file
                .strip_prefix(&dir.0)
                .unwrap()
                .display()
                .to_string();
            (r.owner.to_string(), file, r.loc.line)
        })
        .collect();
    let expected = [
        ("contoso.example.", "main.zone", 2),
        ("host.contoso.example.", "sub/hosts.zone", 2),
        ("bottom.deep.contoso.example.", "sub/deeper.zone", 2),
        ("host.lab.contoso.example.", "sub/hosts.zone", 2),
        ("bottom.deep.lab.contoso.example.", "sub/deeper.zone", 2),
        ("after.contoso.example.", "main.zone", 5),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|&(o, f, l)| (o.to_string(), f.to_string(), l))
        .collect();
    assert_eq!(got, expected);
    let files: Vec<PathBuf> = parsed
        .files
        .iter()
        .map(|f| f.strip_prefix(&dir.0).unwrap().to_path_buf())
        .collect();
    let expected_files = [
        "main.zone",
        "sub/hosts.zone",
        "sub/deeper.zone",
        "sub/hosts.zone",
        "sub/deeper.zone",
    ];
    assert_eq!(files, expected_files.map(PathBuf::from));
}

#[test]
fn include_errors_carry_the_included_file_and_loops_are_refused() {
    let dir = TempDir::new("include-errors");
    let main = dir.write(
        "main.zone",
        "$TTL 300\n$INCLUDE bad.zone\n$INCLUDE loop.zone\n$INCLUDE\n",
    );
    dir.write("bad.zone", "\nx A 300.1.1.1\n");
    dir.write("loop.zone", "$INCLUDE loop.zone\n");
    let errs: Vec<String> = load_zone_file(&main, &n("contoso.example."))
        .unwrap_err()
        .iter()
        .map(|e| {
            format!(
                "{}:{}: {}",
                e.file.strip_prefix(&dir.0).unwrap().display(),
                e.line,
                e.message
            )
        })
        .collect();
    let looped = dir.0.join("loop.zone");
    assert_eq!(
        errs,
        vec![
            "bad.zone:2: bad IPv4 address \"300.1.1.1\" in A record".to_string(),
            format!(
                "loop.zone:1: $INCLUDE loop: {} is already being read",
                looped.display()
            ),
            "main.zone:4: $INCLUDE needs a file name".to_string(),
        ]
    );
}

#[test]
fn include_depth_is_limited() {
    let dir = TempDir::new("include-depth");
    let main = dir.write("main.zone", "$TTL 1\n$INCLUDE 1.zone\n");
    for i in 1..=12 {
        dir.write(
            &format!("{i}.zone"),
            &format!("h{i} A 192.0.2.1\n$INCLUDE {}.zone\n", i + 1),
        );
    }
    let errs = load_zone_file(&main, &n("contoso.example.")).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].message, "$INCLUDE nested more than 10 deep");
    assert!(errs[0].file.ends_with("10.zone"));
}

#[test]
fn unreadable_zone_file_is_an_error_not_a_panic() {
    let errs =
        load_zone_file(Path::new("/nonexistent/x.zone"), &n("contoso.example.")).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .starts_with("/nonexistent/x.zone: cannot read zone file: ")
    );
}

#[test]
fn non_utf8_bytes_are_kept() {
    let dir = TempDir::new("latin1");
    let main = dir.write("main.zone", "");
    std::fs::write(&main, b"$TTL 1\nx TXT caf\xe9\n\xe9 A 192.0.2.1\n").unwrap();
    let parsed = load_zone_file(&main, &n("contoso.example.")).unwrap();
    assert_eq!(&*parsed.records[0].rdata, b"\x04caf\xe9");
    assert_eq!(parsed.records[1].owner.as_wire()[..2], [1, 0xe9]);
}

/// A file's worth of every supported type, each line with its expected wire RDATA in hex.
/// Hand-encoded from the RFCs (examples from them where they give one).
const TYPE_TABLE: &[(&str, &str)] = &[
    ("A 192.0.2.1", "c0000201"),
    ("NS ns1", "036e733107636f6e746f736f076578616d706c6500"),
    ("MD a.", "016100"),
    ("MF a.", "016100"),
    ("CNAME @", "07636f6e746f736f076578616d706c6500"),
    (
        "SOA a. b. 1 2 3 4 5",
        "016100016200 00000001 00000002 00000003 00000004 00000005",
    ),
    ("MB a.", "016100"),
    ("MG a.", "016100"),
    ("MR a.", "016100"),
    ("PTR A.b.", "0141016200"),
    ("HINFO \"INTEL-386\" Unix", "09494e54454c2d33383604556e6978"),
    ("MINFO a. b.", "016100016200"),
    ("MX 10 Mail.", "000a044d61696c00"),
    (
        "TXT \"v=spf1 -all\" two",
        "0b763d73706631202d616c6c0374776f",
    ),
    ("SPF \"v=spf1 -all\"", "0b763d73706631202d616c6c"),
    ("RP mbox. txt.", "046d626f78000374787400"),
    ("AFSDB 1 afs.", "000103616673 00"),
    ("X25 311061700956", "0c333131303631373030393536"),
    (
        "ISDN 150862028003217 004",
        "0f3135303836323032383030333231370330303 4",
    ),
    ("ISDN 150862028003217", "0f313530383632303238303033323137"),
    ("RT 10 relay.", "000a0572656c617900"),
    (
        "NSAP 0x47.0005.80.005a00.0000.0001.e133.ffffff000162.00",
        "47000580005a0000000001e133ffffff00016200",
    ),
    ("PX 10 a. b.", "000a016100016200"),
    (
        "GPOS -32.6882 116.8652 10.0",
        "082d33322e36383832083131362e38363532043130 2e30",
    ),
    ("AAAA 2001:db8::1", "20010db8000000000000000000000001"),
    // RFC 1876 §3 example values, checked against BIND's encoding.
    (
        "LOC 42 21 54 N 71 06 18 W -24m 30m",
        "00331613 89172dd0 70be15f0 00988d20",
    ),
    ("SRV 0 5 5060 sip.", "0000 0005 13c4 0373697000"),
    (
        "NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .",
        "0064 000a 0175 074532552b736970 1b215e2e2a24217369703a696e666f406578616d706c652e636f6d21 00",
    ),
    ("KX 10 kx.", "000a026b7800"),
    ("CERT PGP 0 0 AQID", "00030000 00010203"),
    ("CERT 1 2 RSASHA256 AQID", "00010002 08010203"),
    ("DNAME target.", "0674617267657400"),
    (
        "APL 1:192.168.32.0/21 !1:192.168.38.0/28",
        "00011503c0a82000011c83c0a826",
    ),
    ("APL", ""),
    (
        "APL 2:2001:db8::/32 1:0.0.0.0/0",
        "0002200420010db800010000",
    ),
    (
        "DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
        "ec45050 12bb183af5f22588179a53b0a98631fad1a292118",
    ),
    ("CDS 0 0 0 00", "0000000000"),
    (
        "SSHFP 2 1 123456789abcdef67890123456789abcdef67890",
        "0201123456789abcdef67890123456789abcdef67890",
    ),
    ("IPSECKEY 10 1 2 192.0.2.38 AQNR", "0a0102c000022601 0351"),
    ("IPSECKEY 10 0 2 . AQNR", "0a00020103 51"),
    (
        "IPSECKEY 10 2 2 2001:db8::1 AQNR",
        "0a020220010db80000000000000000000000010103 51",
    ),
    ("IPSECKEY 10 3 2 gw. AQNR", "0a030202677700010351"),
    ("IPSECKEY 10 3 0 gw.", "0a0300026777 00"),
    (
        "RRSIG A 5 3 86400 20030322173103 20030220173103 2642 example. AQID",
        "0001 05 03 00015180 3e7c9dd7 3e5510d7 0a52 076578616d706c6500 010203",
    ),
    (
        "RRSIG NSEC RSASHA256 2 300 1048354263 1045762263 1 . AQ==",
        "002f 08 02 0000012c 3e7c9dd7 3e5510d7 0001 00 01",
    ),
    // RFC 4034 §4.3 example.
    (
        "NSEC host.example.com. A MX RRSIG NSEC TYPE1234",
        "04686f7374076578616d706c6503636f6d00 0006400100000003 041b000000000000000000000000000000000000000000000000000020",
    ),
    ("NSEC a.", "016100"),
    (
        "DNSKEY 256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3",
        "0100 03 05 0103d22a6ca77f35b893206fd35e4c506d83788437",
    ),
    ("CDNSKEY 0 3 0 AA==", "0000030000"),
    ("KEY 49152 3 1", "c00003 01"),
    (
        "DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
        "000201636fc0b8271c82825bb1ac5c41cf5351aa69b4febd94e8f17cdb95000da48c40",
    ),
    // RFC 5155 Appendix A.
    (
        "NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
        "01 01 000c 04aabbccdd 14174eb2409fe28bcb4887a1836f957f0a8425e27b 00 07 22010000000290",
    ),
    (
        "NSEC3 1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR",
        "01000000 00 14174eb2409fe28bcb4887a1836f957f0a8425e27b",
    ),
    ("NSEC3PARAM 1 0 12 aabbccdd", "0100000c04aabbccdd"),
    ("NSEC3PARAM 1 0 0 -", "0100000000"),
    ("TLSA 3 1 0 ( 0D6F 2C0D )", "0301000d6f2c0d"),
    ("SMIMEA 3 1 0 0D6F", "0301000d6f"),
    (
        "HIP 2 200100107B1A74DF365639CC39F1D578 AwEAAbdx rvs1.example.com. rvs2.",
        "10020006200100107b1a74df365639cc39f1d57803010001b771 0472767331076578616d706c6503636f6d00 047276733200",
    ),
    ("OPENPGPKEY AQID", "010203"),
    // RFC 7477 §2.3 example.
    ("CSYNC 66 3 A NS AAAA", "000000420003 000460000008"),
    (
        "ZONEMD 2018031500 1 241 FEBE3D4CE2EC2FFA4BA9 0000 0000",
        "7848b78c 01 f1 febe3d4ce2ec2ffa4ba900000000",
    ),
    ("NID 10 0014:4fff:ff20:ee64", "000a00144fffff20ee64"),
    ("L32 10 10.1.2.0", "000a0a010200"),
    ("L64 10 2001:0DB8:1140:1000", "000a20010db811401000"),
    (
        "LP 10 l64-subnet1.example.com.",
        "000a0b6c36342d7375626e657431076578616d706c6503636f6d00",
    ),
    ("EUI48 00-00-5e-00-53-2a", "00005e00532a"),
    ("EUI64 00-00-5e-ef-10-00-00-2a", "00005eef1000002a"),
    (
        "URI 10 1 \"ftp://ftp1.example.com/public\"",
        "000a0001667470 3a2f2f667470312e6578616d706c652e636f6d2f7075626c6963",
    ),
    (
        "CAA 0 issue \"ca.example.net; account=230123\"",
        "0005697373756563612e6578616d706c652e6e65743b206163636f756e743d323330313233",
    ),
    ("CAA 128 tbs \"\"", "800374627 3"),
    ("TA 60485 5 1 2BB1", "ec4505012bb1"),
    ("DLV 60485 RSASHA1 SHA-1 2BB1", "ec4505012bb1"),
    (
        "AVC \"app-name:WOLFGANG\"",
        "116170702d6e616d653a574f4c4647414e47",
    ),
    // RFC 9460 Appendix D test vectors.
    (
        "SVCB 0 foo.example.com.",
        "000003666f6f076578616d706c6503636f6d00",
    ),
    ("SVCB 1 .", "000100"),
    (
        "SVCB 16 foo.example.com. port=53",
        "0010 03666f6f076578616d706c6503636f6d00 0003 0002 0035",
    ),
    (
        "SVCB 1 foo.example.com. key667=hello",
        "0001 03666f6f076578616d706c6503636f6d00 029b 0005 68656c6c6f",
    ),
    (
        "SVCB 1 foo.example.com. key667=\"hello\\210qoo\"",
        "0001 03666f6f076578616d706c6503636f6d00 029b 0009 68656c6c6fd271 6f6f",
    ),
    (
        "SVCB 1 foo.example.com. ipv6hint=\"2001:db8::1,2001:db8::53:1\"",
        "0001 03666f6f076578616d706c6503636f6d00 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001",
    ),
    (
        "SVCB 1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\"",
        "0001 076578616d706c6503636f6d00 0006 0010 20010db801220344000000 00c0000221",
    ),
    (
        "SVCB 16 foo.example.org. (alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1)",
        "0010 03666f6f076578616d706c65036f726700 0000 0004 00010004 0001 0009 02683205 6833 2d3139 0004 0004 c0000201",
    ),
    (
        "SVCB 16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
        "0010 03666f6f076578616d706c65036f726700 0001 000c 08 665c6f6f2c626172 02 6832",
    ),
    (
        "SVCB 16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2",
        "0010 03666f6f076578616d706c65036f726700 0001 000c 08 665c6f6f2c626172 02 6832",
    ),
    (
        "HTTPS 1 . alpn=h3 no-default-alpn ech=AQID dohpath=\"/q{?dns}\" ohttp",
        "0001 00 0001 0003 026833 0002 0000 0005 0003 010203 0007 0008 2f717b3f646e737d 0008 0000",
    ),
];

fn hex(data: &[u8]) -> String {
    data.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[test]
fn every_type_encodes_as_its_rfc_says_and_round_trips_through_text() {
    let mut text = String::from("$TTL 300\n");
    for (rdata, _) in TYPE_TABLE {
        writeln!(text, "t {rdata}").unwrap();
    }
    let got = records(&text);
    assert_eq!(got.len(), TYPE_TABLE.len());
    for (record, (rdata, expected)) in got.iter().zip(TYPE_TABLE) {
        assert_eq!(hex(&record.rdata), expected.replace(' ', ""), "{rdata}");
        let text = rdata_to_text(record.rtype, &record.rdata);
        assert!(
            !text.starts_with("\\#") || record.rtype == APL,
            "{rdata} printed as {text}"
        );
        let back = parse_rdata_text(record.rtype, &text, &Name::root());
        assert_eq!(
            back.as_deref(),
            Ok(&*record.rdata),
            "{rdata} printed as {text}"
        );
        let names = embedded_names(record.rtype, &record.rdata);
        for i in 0..usize::from(names.count) {
            let offset = usize::from(names.offsets[i]);
            assert!(
                name::wire_name_len(&record.rdata[offset..]).is_some(),
                "{rdata}"
            );
        }
    }
}

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

/// Random edits of a file using every type: the loader must never panic, and whatever it
/// accepts must print and read back to the same octets.
#[test]
fn mutated_zone_files_never_panic() {
    let mut base =
        String::from("$TTL 300\n$ORIGIN contoso.example.\n@ SOA ns1 hostmaster ( 1 2\n 3 4 5 )\n");
    for (rdata, _) in TYPE_TABLE {
        writeln!(base, "t{} {rdata}", base.len() % 7).unwrap();
    }
    let base = base.into_bytes();
    const INSERTS: &[&[u8]] = &[
        b"(",
        b")",
        b"\"",
        b";",
        b"\\",
        b"\n",
        b" ",
        b"\t",
        b"\r\n",
        b"\\#",
        b"$INCLUDE",
        b"@",
        b".",
    ];
    let mut rng = rdata::tests::Rng(7);
    for _ in 0..300 {
        let mut text = base.clone();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(text.len());
            match rng.below(3) {
                0 => text[at] = rng.next() as u8,
                1 => {
                    text.remove(at);
                }
                _ => {
                    let piece = INSERTS[rng.below(INSERTS.len())];
                    text.splice(at..at, piece.iter().copied());
                }
            }
        }
        // $INCLUDE may name anything; keep the mutations away from the file system.
        let text = String::from_utf8_lossy(&text).replace("$INCLUDE", "$INCLUDX");
        if let Ok(parsed) = parse(&text) {
            for r in &parsed.records {
                let printed = rdata_to_text(r.rtype, &r.rdata);
                assert_eq!(
                    parse_rdata_text(r.rtype, &printed, &Name::root()).as_deref(),
                    Ok(&*r.rdata),
                    "{printed}"
                );
            }
        }
    }
}

/// Parse speed on a generated 200,000-record zone (run in release: `cargo test --release
/// --lib zone::tests::parse_speed -- --ignored --nocapture`).
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
