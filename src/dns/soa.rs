//! The fields of SOA RDATA that the server reads and rewrites (RFC 1035 §3.3.13), and serial
//! number arithmetic (RFC 1982).

use super::name;

/// Byte offset of the SERIAL field in an SOA RDATA (after MNAME and RNAME).
pub(crate) fn serial_offset(rdata: &[u8]) -> Option<usize> {
    let mname = name::wire_name_len(rdata)?;
    let rname = name::wire_name_len(rdata.get(mname..)?)?;
    let at = mname + rname;
    (rdata.len() >= at + 20).then_some(at)
}

pub(crate) fn read_serial(rdata: &[u8]) -> Option<u32> {
    let at = serial_offset(rdata)?;
    Some(u32::from_be_bytes(rdata[at..at + 4].try_into().ok()?))
}

/// The MINIMUM field (the last 32 bits): the negative-caching TTL of RFC 2308.
pub(crate) fn minimum(rdata: &[u8]) -> u32 {
    rdata
        .len()
        .checked_sub(4)
        .and_then(|at| rdata.get(at..))
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

/// RFC 1982 serial number arithmetic: is `a` newer than `b`?
pub(crate) fn is_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(is_newer(2, 1));
        assert!(!is_newer(1, 1));
        assert!(!is_newer(1, 2));
        assert!(is_newer(0, u32::MAX));
        assert!(!is_newer(0x8000_0000, 0));
    }
}
