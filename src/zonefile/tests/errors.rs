//! What the loader refuses, and that each error names its file, line and token while parsing
//! goes on to report the rest.

use super::*;

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
