//! Every supported record type: its wire form as its RFC gives it, its printed form read back
//! to the same octets, and random edits of a file of them that must never panic.

use super::*;
use crate::dns::name;
use crate::dns::rdata::embedded_names;

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
