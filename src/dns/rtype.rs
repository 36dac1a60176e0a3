//! Resource record type codes and their mnemonics (IANA "Resource Record (RR) TYPEs" registry),
//! including the RFC 3597 `TYPEnnnnn` spelling for any code.

use std::borrow::Cow;

pub(crate) const A: u16 = 1;
pub(crate) const NS: u16 = 2;
pub(crate) const MD: u16 = 3;
pub(crate) const MF: u16 = 4;
pub(crate) const CNAME: u16 = 5;
pub(crate) const SOA: u16 = 6;
pub(crate) const MB: u16 = 7;
pub(crate) const MG: u16 = 8;
pub(crate) const MR: u16 = 9;
pub(crate) const NULL: u16 = 10;
pub(crate) const WKS: u16 = 11;
pub(crate) const PTR: u16 = 12;
pub(crate) const HINFO: u16 = 13;
pub(crate) const MINFO: u16 = 14;
pub(crate) const MX: u16 = 15;
pub(crate) const TXT: u16 = 16;
pub(crate) const RP: u16 = 17;
pub(crate) const AFSDB: u16 = 18;
pub(crate) const X25: u16 = 19;
pub(crate) const ISDN: u16 = 20;
pub(crate) const RT: u16 = 21;
pub(crate) const NSAP: u16 = 22;
pub(crate) const NSAP_PTR: u16 = 23;
pub(crate) const SIG: u16 = 24;
pub(crate) const KEY: u16 = 25;
pub(crate) const PX: u16 = 26;
pub(crate) const GPOS: u16 = 27;
pub(crate) const AAAA: u16 = 28;
pub(crate) const LOC: u16 = 29;
pub(crate) const NXT: u16 = 30;
pub(crate) const EID: u16 = 31;
pub(crate) const NIMLOC: u16 = 32;
pub(crate) const SRV: u16 = 33;
pub(crate) const ATMA: u16 = 34;
pub(crate) const NAPTR: u16 = 35;
pub(crate) const KX: u16 = 36;
pub(crate) const CERT: u16 = 37;
pub(crate) const A6: u16 = 38;
pub(crate) const DNAME: u16 = 39;
pub(crate) const SINK: u16 = 40;
pub(crate) const OPT: u16 = 41;
pub(crate) const APL: u16 = 42;
pub(crate) const DS: u16 = 43;
pub(crate) const SSHFP: u16 = 44;
pub(crate) const IPSECKEY: u16 = 45;
pub(crate) const RRSIG: u16 = 46;
pub(crate) const NSEC: u16 = 47;
pub(crate) const DNSKEY: u16 = 48;
pub(crate) const DHCID: u16 = 49;
pub(crate) const NSEC3: u16 = 50;
pub(crate) const NSEC3PARAM: u16 = 51;
pub(crate) const TLSA: u16 = 52;
pub(crate) const SMIMEA: u16 = 53;
pub(crate) const HIP: u16 = 55;
pub(crate) const NINFO: u16 = 56;
pub(crate) const RKEY: u16 = 57;
pub(crate) const TALINK: u16 = 58;
pub(crate) const CDS: u16 = 59;
pub(crate) const CDNSKEY: u16 = 60;
pub(crate) const OPENPGPKEY: u16 = 61;
pub(crate) const CSYNC: u16 = 62;
pub(crate) const ZONEMD: u16 = 63;
pub(crate) const SVCB: u16 = 64;
pub(crate) const HTTPS: u16 = 65;
pub(crate) const DSYNC: u16 = 66;
pub(crate) const SPF: u16 = 99;
pub(crate) const UINFO: u16 = 100;
pub(crate) const UID: u16 = 101;
pub(crate) const GID: u16 = 102;
pub(crate) const UNSPEC: u16 = 103;
pub(crate) const NID: u16 = 104;
pub(crate) const L32: u16 = 105;
pub(crate) const L64: u16 = 106;
pub(crate) const LP: u16 = 107;
pub(crate) const EUI48: u16 = 108;
pub(crate) const EUI64: u16 = 109;
pub(crate) const TKEY: u16 = 249;
pub(crate) const TSIG: u16 = 250;
pub(crate) const IXFR: u16 = 251;
pub(crate) const AXFR: u16 = 252;
pub(crate) const MAILB: u16 = 253;
pub(crate) const MAILA: u16 = 254;
pub(crate) const ANY: u16 = 255;
pub(crate) const URI: u16 = 256;
pub(crate) const CAA: u16 = 257;
pub(crate) const AVC: u16 = 258;
pub(crate) const DOA: u16 = 259;
pub(crate) const AMTRELAY: u16 = 260;
pub(crate) const RESINFO: u16 = 261;
pub(crate) const WALLET: u16 = 262;
pub(crate) const TA: u16 = 32768;
pub(crate) const DLV: u16 = 32769;

/// Ordered by code so that the common types (all below 60) are found after few comparisons.
const MNEMONICS: &[(u16, &str)] = &[
    (A, "A"),
    (NS, "NS"),
    (MD, "MD"),
    (MF, "MF"),
    (CNAME, "CNAME"),
    (SOA, "SOA"),
    (MB, "MB"),
    (MG, "MG"),
    (MR, "MR"),
    (NULL, "NULL"),
    (WKS, "WKS"),
    (PTR, "PTR"),
    (HINFO, "HINFO"),
    (MINFO, "MINFO"),
    (MX, "MX"),
    (TXT, "TXT"),
    (RP, "RP"),
    (AFSDB, "AFSDB"),
    (X25, "X25"),
    (ISDN, "ISDN"),
    (RT, "RT"),
    (NSAP, "NSAP"),
    (NSAP_PTR, "NSAP-PTR"),
    (SIG, "SIG"),
    (KEY, "KEY"),
    (PX, "PX"),
    (GPOS, "GPOS"),
    (AAAA, "AAAA"),
    (LOC, "LOC"),
    (NXT, "NXT"),
    (EID, "EID"),
    (NIMLOC, "NIMLOC"),
    (SRV, "SRV"),
    (ATMA, "ATMA"),
    (NAPTR, "NAPTR"),
    (KX, "KX"),
    (CERT, "CERT"),
    (A6, "A6"),
    (DNAME, "DNAME"),
    (SINK, "SINK"),
    (OPT, "OPT"),
    (APL, "APL"),
    (DS, "DS"),
    (SSHFP, "SSHFP"),
    (IPSECKEY, "IPSECKEY"),
    (RRSIG, "RRSIG"),
    (NSEC, "NSEC"),
    (DNSKEY, "DNSKEY"),
    (DHCID, "DHCID"),
    (NSEC3, "NSEC3"),
    (NSEC3PARAM, "NSEC3PARAM"),
    (TLSA, "TLSA"),
    (SMIMEA, "SMIMEA"),
    (HIP, "HIP"),
    (NINFO, "NINFO"),
    (RKEY, "RKEY"),
    (TALINK, "TALINK"),
    (CDS, "CDS"),
    (CDNSKEY, "CDNSKEY"),
    (OPENPGPKEY, "OPENPGPKEY"),
    (CSYNC, "CSYNC"),
    (ZONEMD, "ZONEMD"),
    (SVCB, "SVCB"),
    (HTTPS, "HTTPS"),
    (DSYNC, "DSYNC"),
    (SPF, "SPF"),
    (UINFO, "UINFO"),
    (UID, "UID"),
    (GID, "GID"),
    (UNSPEC, "UNSPEC"),
    (NID, "NID"),
    (L32, "L32"),
    (L64, "L64"),
    (LP, "LP"),
    (EUI48, "EUI48"),
    (EUI64, "EUI64"),
    (TKEY, "TKEY"),
    (TSIG, "TSIG"),
    (IXFR, "IXFR"),
    (AXFR, "AXFR"),
    (MAILB, "MAILB"),
    (MAILA, "MAILA"),
    (ANY, "ANY"),
    (URI, "URI"),
    (CAA, "CAA"),
    (AVC, "AVC"),
    (DOA, "DOA"),
    (AMTRELAY, "AMTRELAY"),
    (RESINFO, "RESINFO"),
    (WALLET, "WALLET"),
    (TA, "TA"),
    (DLV, "DLV"),
];

/// The type code for a mnemonic (case-insensitive) or for the RFC 3597 form `TYPEnnnnn`.
pub(crate) fn from_mnemonic(s: &str) -> Option<u16> {
    if let Some(&(code, _)) = MNEMONICS.iter().find(|(_, m)| m.eq_ignore_ascii_case(s)) {
        return Some(code);
    }
    let digits = s
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("TYPE"))
        .map(|_| &s[4..])?;
    parse_code(digits)
}

/// The mnemonic of a type code, or `TYPEnnnnn` when the code has none.
pub(crate) fn mnemonic(code: u16) -> Cow<'static, str> {
    match MNEMONICS.iter().find(|(c, _)| *c == code) {
        Some(&(_, m)) => Cow::Borrowed(m),
        None => Cow::Owned(format!("TYPE{code}")),
    }
}

/// Types that only make sense in a query or a transaction, never as zone data (RFC 6895 §3.1).
pub(crate) fn is_meta(code: u16) -> bool {
    matches!(code, OPT | TKEY | TSIG | IXFR | AXFR | MAILB | MAILA | ANY)
}

/// Decimal digits only (no sign, no leading `+`), as RFC 3597 writes `TYPEnnnnn`/`CLASSnnnnn`.
pub(crate) fn parse_code(digits: &str) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_round_trip_and_are_unique() {
        for &(code, name) in MNEMONICS {
            assert_eq!(from_mnemonic(name), Some(code), "{name}");
            assert_eq!(mnemonic(code), name);
            assert_eq!(
                MNEMONICS.iter().filter(|(c, _)| *c == code).count(),
                1,
                "{name}"
            );
        }
    }

    #[test]
    fn case_insensitive_and_generic_forms() {
        assert_eq!(from_mnemonic("aaaa"), Some(AAAA));
        assert_eq!(from_mnemonic("Https"), Some(HTTPS));
        assert_eq!(from_mnemonic("nsap-ptr"), Some(NSAP_PTR));
        assert_eq!(from_mnemonic("TYPE65280"), Some(65280));
        assert_eq!(from_mnemonic("type1"), Some(A));
        assert_eq!(from_mnemonic("TYPE65536"), None);
        assert_eq!(from_mnemonic("TYPE"), None);
        assert_eq!(from_mnemonic("TYPE+1"), None);
        assert_eq!(from_mnemonic("TYPE-1"), None);
        assert_eq!(from_mnemonic("AAA"), None);
        assert_eq!(from_mnemonic(""), None);
        assert_eq!(from_mnemonic("TYPÉ1"), None);
        assert_eq!(mnemonic(65280), "TYPE65280");
        assert_eq!(mnemonic(0), "TYPE0");
    }
}
