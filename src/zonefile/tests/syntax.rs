//! The accepted syntax: owners, TTLs and classes and how they are inherited, `$ORIGIN` and
//! relative names, parentheses, comments, quotes, escapes and the generic `\#` form.

use super::*;

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
