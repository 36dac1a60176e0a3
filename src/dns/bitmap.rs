//! NSEC-style type bitmaps (RFC 4034 §4.1.2), the wire form of the NSEC, NSEC3 and CSYNC type
//! lists: [`encode`] from a list of types, [`decode`] back, refusing any bitmap that would not
//! encode to the same octets.

/// RFC 4034 §4.1.2: per 256-type window, a bitmap trimmed of trailing zero octets.
pub(crate) fn encode(types: &mut Vec<u16>, out: &mut Vec<u8>) {
    types.sort_unstable();
    types.dedup();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
}

/// The types in a bitmap, if it is well-formed: windows ascending, each 1 to 32 octets with
/// no trailing zero octet (so that it encodes back identically).
pub(crate) fn decode(mut data: &[u8]) -> Option<Vec<u16>> {
    let mut types = Vec::new();
    let mut previous: Option<u8> = None;
    while let [window, len, rest @ ..] = data {
        let len = usize::from(*len);
        if previous.is_some_and(|p| p >= *window) || !(1..=32).contains(&len) {
            return None;
        }
        let bits = rest.get(..len)?;
        if bits[len - 1] == 0 {
            return None;
        }
        for (i, &octet) in bits.iter().enumerate() {
            for bit in 0..8 {
                if octet & (0x80 >> bit) != 0 {
                    types.push(u16::from(*window) << 8 | (i * 8 + bit) as u16);
                }
            }
        }
        previous = Some(*window);
        data = &rest[len..];
    }
    data.is_empty().then_some(types)
}
