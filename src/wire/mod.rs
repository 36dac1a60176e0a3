//! The DNS message format as the request path needs it: reading a query without allocating
//! ([`query`]), writing a response with name compression and truncation ([`writer`]), and
//! reading a whole message back ([`reader`], for `explain` and tests). Stands on [`crate::dns`]
//! only.

pub mod query;
pub mod reader;
pub mod tsig;
pub mod writer;

pub const HEADER_LEN: usize = 12;
/// Largest UDP response without EDNS (RFC 1035 §4.2.1).
pub const MIN_UDP_PAYLOAD: u16 = 512;
/// The EDNS payload size we advertise and cap UDP answers at (DNS Flag Day 2020).
pub const SERVER_UDP_PAYLOAD: u16 = 1232;
