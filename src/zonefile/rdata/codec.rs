//! The binary-to-text encodings that RDATA presentation formats use: hex (RFC 4648 §8),
//! base64 (§4) and base32hex without padding (§7, as NSEC3 writes hashed owner names).
//! Decoders take the text of one or more tokens and reject anything else.

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Appends the octets that `text` spells in hex; fails on an odd digit count or a non-digit.
pub(super) fn decode_hex_into(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    for pair in text.chunks_exact(2) {
        out.push(hex_value(pair[0])? << 4 | hex_value(pair[1])?);
    }
    Some(())
}

pub(super) fn encode_hex_into(data: &[u8], out: &mut String) {
    for &b in data {
        out.push(HEX_DIGITS[usize::from(b >> 4)] as char);
        out.push(HEX_DIGITS[usize::from(b & 15)] as char);
    }
}

/// Reverse of `BASE64` (0xFF for characters outside the alphabet): signed zones are mostly
/// base64, so this is the parser's hottest loop.
const BASE64_VALUES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 64 {
        table[BASE64[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn base64_value(c: u8) -> Option<u32> {
    match BASE64_VALUES[usize::from(c)] {
        0xFF => None,
        v => Some(u32::from(v)),
    }
}

/// Appends the octets of base64 `text`. Padding is optional but, when present, must be right.
pub(super) fn decode_base64_into(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let data_len = text.iter().rposition(|&c| c != b'=').map_or(0, |p| p + 1);
    let padding = text.len() - data_len;
    if padding > 2 || (padding > 0 && !text.len().is_multiple_of(4)) || data_len % 4 == 1 {
        return None;
    }
    for chunk in text[..data_len].chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = acc << 6 | base64_value(c)?;
        }
        // A chunk of n characters carries n * 6 bits, of which the whole octets are kept.
        let bits = chunk.len() * 6;
        acc <<= 24 - bits;
        let octets = bits / 8;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + octets]);
    }
    Some(())
}

pub(super) fn encode_base64_into(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= u32::from(b) << (16 - 8 * i);
        }
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(BASE64[(acc >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

fn base32hex_value(c: u8) -> Option<u64> {
    let upper = c.to_ascii_uppercase();
    BASE32HEX.iter().position(|&d| d == upper).map(|v| v as u64)
}

/// Decodes unpadded base32hex (case-insensitive), as in NSEC3's next hashed owner name.
pub(super) fn decode_base32hex(text: &[u8]) -> Option<Vec<u8>> {
    // Character counts that leave a partial octet cannot come from whole octets.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    for chunk in text.chunks(8) {
        let mut acc = 0u64;
        for &c in chunk {
            acc = acc << 5 | base32hex_value(c)?;
        }
        let bits = chunk.len() * 5;
        acc <<= 40 - bits;
        out.extend_from_slice(&acc.to_be_bytes()[3..3 + bits / 8]);
    }
    Some(out)
}

pub(super) fn encode_base32hex_into(data: &[u8], out: &mut String) {
    for chunk in data.chunks(5) {
        let mut acc = 0u64;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= u64::from(b) << (32 - 8 * i);
        }
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(BASE32HEX[(acc >> (35 - 5 * i) & 31) as usize] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        decode_base64_into(text.as_bytes(), &mut out).map(|()| out)
    }

    #[test]
    fn rfc4648_test_vectors() {
        let vectors = [
            ("", "", ""),
            ("f", "Zg==", "CO"),
            ("fo", "Zm8=", "CPNG"),
            ("foo", "Zm9v", "CPNMU"),
            ("foob", "Zm9vYg==", "CPNMUOG"),
            ("fooba", "Zm9vYmE=", "CPNMUOJ1"),
            ("foobar", "Zm9vYmFy", "CPNMUOJ1E8"),
        ];
        for (plain, base64, base32hex) in vectors {
            assert_eq!(b64(base64).as_deref(), Some(plain.as_bytes()), "{base64}");
            let mut text = String::new();
            encode_base64_into(plain.as_bytes(), &mut text);
            assert_eq!(text, base64);
            assert_eq!(
                decode_base32hex(base32hex.as_bytes()).as_deref(),
                Some(plain.as_bytes())
            );
            assert_eq!(
                decode_base32hex(base32hex.to_lowercase().as_bytes()).as_deref(),
                Some(plain.as_bytes())
            );
            let mut text = String::new();
            encode_base32hex_into(plain.as_bytes(), &mut text);
            assert_eq!(text, base32hex);
        }
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(b64("Zm9vY"), None);
        assert_eq!(b64("Zg="), None);
        assert_eq!(b64("Z==="), None);
        assert_eq!(b64("Zm9v!A=="), None);
        assert_eq!(b64("Zg==Zg=="), None);
        assert_eq!(b64("Zg").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode_base32hex(b"C"), None);
        assert_eq!(decode_base32hex(b"CPW"), None);
        let mut out = Vec::new();
        assert_eq!(decode_hex_into(b"abc", &mut out), None);
        assert_eq!(decode_hex_into(b"zz", &mut out), None);
        assert_eq!(decode_hex_into(b"0aFF", &mut out), Some(()));
        assert_eq!(out, vec![0x0a, 0xff]);
    }
}
