//! The DNS message format as the request path needs it: reading a query without allocating
//! ([`query`]), writing a response with name compression and truncation ([`writer`]), and
//! reading a whole message back ([`reader`], for `explain` and tests); the [`Transport`] a
//! message came over sizes its response. Stands on [`crate::dns`] only.

pub(crate) mod query;
pub mod reader;
pub mod tsig;
pub(crate) mod writer;

pub(crate) const HEADER_LEN: usize = 12;
/// Largest UDP response without EDNS (RFC 1035 §4.2.1).
pub(crate) const MIN_UDP_PAYLOAD: u16 = 512;
/// The EDNS payload size we advertise and cap UDP answers at (DNS Flag Day 2020).
pub(crate) const SERVER_UDP_PAYLOAD: u16 = 1232;

/// How a message arrived: it decides how large the response may be, and whether it is
/// truncated to fit; the metrics and the query log name it by [`Transport::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    /// DNS over TLS (RFC 7858): TCP's framing inside TLS.
    Dot,
    /// DNS over HTTPS (RFC 8484): one message per HTTP request, no zone transfers.
    Doh,
}

impl Transport {
    /// The largest response to a client that advertised `udp_payload` (its EDNS size, if it sent
    /// OPT): over TCP a whole message; over UDP the client's size capped at ours, or 512 octets
    /// without EDNS. The answer stage and the resolver both size by this.
    pub fn max_response_len(self, udp_payload: Option<u16>) -> usize {
        match (self, udp_payload) {
            (Transport::Tcp | Transport::Dot | Transport::Doh, _) => u16::MAX as usize,
            (Transport::Udp, Some(payload)) => payload.min(SERVER_UDP_PAYLOAD) as usize,
            (Transport::Udp, None) => MIN_UDP_PAYLOAD as usize,
        }
    }

    /// The transport's name in the metrics' `transport` label and the query log.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Dot => "dot",
            Transport::Doh => "doh",
        }
    }

    /// Every transport, in the order of their discriminants.
    pub const ALL: [Transport; 4] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Dot,
        Transport::Doh,
    ];
}
