//! The base layer: what every other part of splitdns says about DNS — names and their lookup
//! keys, record types, classes and response codes, where names sit inside RDATA, the SOA
//! fields, the NSEC-style type bitmaps, DNSSEC algorithm numbers and the calendar time DNSSEC
//! writes. It imports nothing of the project, so the zone-file reader and the message codec can
//! both stand on it without standing on each other.

pub(crate) mod bitmap;
pub(crate) mod name;
pub(crate) mod rdata;
pub(crate) mod rtype;
pub(crate) mod soa;
pub(crate) mod time;

/// Response codes (RFC 1035 §4.1.1, RFC 6891 §6.1.3).
pub(crate) mod rcode {
    pub(crate) const NOERROR: u8 = 0;
    pub(crate) const FORMERR: u8 = 1;
    pub(crate) const SERVFAIL: u8 = 2;
    pub(crate) const NXDOMAIN: u8 = 3;
    pub(crate) const NOTIMP: u8 = 4;
    pub(crate) const REFUSED: u8 = 5;
    pub(crate) const YXDOMAIN: u8 = 6;
    /// Extended (12-bit) code, carried in the OPT record's upper bits.
    pub(crate) const BADVERS: u16 = 16;
}

/// Classes (RFC 1035 §3.2.4, RFC 2136 for NONE).
pub(crate) mod class {
    pub(crate) const IN: u16 = 1;
    pub(crate) const CH: u16 = 3;
    pub(crate) const ANY: u16 = 255;
}

/// DNSSEC algorithm numbers and their mnemonics (IANA "DNS Security Algorithm Numbers"), as
/// zone files and BIND's key files write them.
pub(crate) const SEC_ALGS: &[(u8, &str)] = &[
    (1, "RSAMD5"),
    (2, "DH"),
    (3, "DSA"),
    (5, "RSASHA1"),
    (6, "DSA-NSEC3-SHA1"),
    (7, "RSASHA1-NSEC3-SHA1"),
    (8, "RSASHA256"),
    (10, "RSASHA512"),
    (12, "ECC-GOST"),
    (13, "ECDSAP256SHA256"),
    (14, "ECDSAP384SHA384"),
    (15, "ED25519"),
    (16, "ED448"),
    (252, "INDIRECT"),
    (253, "PRIVATEDNS"),
    (254, "PRIVATEOID"),
];
