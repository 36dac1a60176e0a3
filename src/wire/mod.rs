//! The DNS message format as the request path needs it: reading a query without allocating
//! ([`query`]) and writing a response with name compression and truncation ([`writer`]).

pub mod query;
pub mod reader;
pub mod writer;

/// Response codes used by the server (RFC 1035 §4.1.1, RFC 6891 §6.1.3).
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

pub const HEADER_LEN: usize = 12;
/// Largest UDP response without EDNS (RFC 1035 §4.2.1).
pub const MIN_UDP_PAYLOAD: u16 = 512;
/// The EDNS payload size we advertise and cap UDP answers at (DNS Flag Day 2020).
pub const SERVER_UDP_PAYLOAD: u16 = 1232;
pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;
pub const CLASS_ANY: u16 = 255;
