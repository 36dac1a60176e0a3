//! The base layer: what every other part of splitdns says about DNS — names and their lookup
//! keys, record types, classes and response codes, where names sit inside RDATA, and the SOA
//! fields. It imports nothing of the project, so the zone-file reader and the message codec can
//! both stand on it without standing on each other.

pub mod name;
pub mod rdata;
pub mod rtype;
pub mod soa;

/// Response codes (RFC 1035 §4.1.1, RFC 6891 §6.1.3).
pub mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const NOTIMP: u8 = 4;
    pub const REFUSED: u8 = 5;
    pub const YXDOMAIN: u8 = 6;
    /// Extended (12-bit) code, carried in the OPT record's upper bits.
    pub const BADVERS: u16 = 16;
}

/// Classes (RFC 1035 §3.2.4, RFC 2136 for NONE).
pub mod class {
    pub const IN: u16 = 1;
    pub const CH: u16 = 3;
    pub const ANY: u16 = 255;
}
