//! Scalar presentation-format conversions shared by the RDATA fields and the master-file
//! directives: numbers, TTLs with units, character-string escapes, names from raw token bytes,
//! and RRSIG timestamps.

use std::borrow::Cow;
use std::fmt::Write;

use crate::dns::name::{self, Name};
use crate::dns::time;
use crate::zonefile::lexer::Token;

/// An unsigned decimal number (digits only), at most `max`.
pub(crate) fn parse_number(text: &[u8], max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = text.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    (value <= max).then_some(value)
}

pub(crate) fn parse_u8(text: &[u8]) -> Option<u8> {
    parse_number(text, u8::MAX.into()).map(|v| v as u8)
}

pub(crate) fn parse_u16(text: &[u8]) -> Option<u16> {
    parse_number(text, u16::MAX.into()).map(|v| v as u16)
}

pub(crate) fn parse_u32(text: &[u8]) -> Option<u32> {
    parse_number(text, u32::MAX.into()).map(|v| v as u32)
}

/// A TTL: plain seconds, or a sequence of numbers each with a unit `w`, `d`, `h`, `m`, `s`
/// (any case), as BIND's `$TTL 1h30m`. A bare number may not follow a unit (`1h30` is
/// ambiguous, and BIND rejects it).
pub(crate) fn parse_ttl(text: &[u8]) -> Option<u32> {
    if let Some(plain) = parse_u32(text) {
        return Some(plain);
    }
    if text.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let (number, after) = rest.split_at(digits);
        let (&unit, after) = after.split_first()?;
        let scale = match unit.to_ascii_lowercase() {
            b'w' => 7 * 86400,
            b'd' => 86400,
            b'h' => 3600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(parse_number(number, u32::MAX.into())? * scale)?;
        rest = after;
    }
    u32::try_from(total).ok()
}

/// Decodes `\DDD` and `\X` escapes; other bytes stand for themselves.
pub(crate) fn decode_escapes(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        if c == b'\\' {
            let (octet, used) = name::parse_escape(&text[i + 1..])?;
            out.push(octet);
            i += 1 + used;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

/// Writes octets for inside a quoted string: `"` and `\` escaped, anything not printable
/// ASCII as `\DDD`.
pub(crate) fn push_escaped(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

pub(crate) fn push_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    push_escaped(out, bytes);
    out.push('"');
}

/// A token as text for `Name::parse`. Zone files need not be UTF-8; octets that are not are
/// passed on as `\DDD` escapes so that they keep their value.
pub(crate) fn token_str<'a>(text: &'a [u8]) -> Cow<'a, str> {
    match std::str::from_utf8(text) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut s = String::with_capacity(text.len() * 2);
            for &b in text {
                if b.is_ascii() {
                    s.push(b as char);
                } else {
                    let _ = write!(s, "\\{b:03}");
                }
            }
            Cow::Owned(s)
        }
    }
}

/// A domain name field: `@`, relative (to `origin`) or absolute.
pub(crate) fn parse_name(tok: &Token<'_>, origin: &Name) -> Result<Name, String> {
    if tok.quoted {
        return Err("a domain name cannot be a quoted string".into());
    }
    Name::parse(&token_str(tok.text), Some(origin)).map_err(|e| e.to_string())
}

/// The token's text if it is not quoted: numbers, mnemonics and encodings never are.
pub(super) fn word<'a>(tok: &Token<'a>) -> Option<&'a [u8]> {
    (!tok.quoted).then_some(tok.text)
}

/// A wire-format name as text.
pub(super) fn push_name(out: &mut String, wire: &[u8]) {
    let _ = name::fmt_wire_name(wire, out);
}

/// An RRSIG timestamp (RFC 4034 §3.2): `YYYYMMDDHHmmSS` in UTC, or seconds since the epoch
/// when shorter than that. Dates past 2106 wrap modulo 2^32, as serial arithmetic intends.
pub(crate) fn parse_time(text: &[u8]) -> Option<u32> {
    if text.len() != 14 {
        return parse_u32(text);
    }
    time::parse_timestamp(text).map(|seconds| seconds as u32)
}

pub(crate) fn push_time(out: &mut String, time: u32) {
    out.push_str(&time::timestamp(u64::from(time)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u8(b"255"), Some(255));
        assert_eq!(parse_u8(b"256"), None);
        assert_eq!(parse_u16(b"65535"), Some(65535));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"99999999999999999999999"), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b"+1"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"1e3"), None);
    }

    #[test]
    fn ttls_with_units() {
        assert_eq!(parse_ttl(b"3600"), Some(3600));
        assert_eq!(parse_ttl(b"1h30m"), Some(5400));
        assert_eq!(parse_ttl(b"1H30M"), Some(5400));
        assert_eq!(parse_ttl(b"1w"), Some(604800));
        assert_eq!(parse_ttl(b"2d12h"), Some(216000));
        assert_eq!(parse_ttl(b"10s"), Some(10));
        assert_eq!(parse_ttl(b"1h30"), None);
        assert_eq!(parse_ttl(b"h"), None);
        assert_eq!(parse_ttl(b"1x"), None);
        assert_eq!(parse_ttl(b"7102w"), None);
        assert_eq!(parse_ttl(b"7101w"), Some(7101 * 604800));
        assert_eq!(parse_ttl(b""), None);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            decode_escapes(br#"a\"b\\c\065\255"#).unwrap(),
            b"a\"b\\cA\xff"
        );
        assert_eq!(decode_escapes(br"\256"), None);
        assert_eq!(decode_escapes(br"\12"), None);
        assert_eq!(decode_escapes(br"x\"), None);
        let mut s = String::new();
        push_quoted(&mut s, b"a \"b\\\x00\xff");
        assert_eq!(s, r#""a \"b\\\000\255""#);
        assert_eq!(
            decode_escapes(&s.as_bytes()[1..s.len() - 1]).unwrap(),
            b"a \"b\\\x00\xff"
        );
    }

    #[test]
    fn non_utf8_tokens_keep_their_octets() {
        assert_eq!(token_str(b"a\xffb"), "a\\255b");
        assert_eq!(token_str("é".as_bytes()), "é");
    }

    #[test]
    fn rrsig_times() {
        // RFC 4034 §3.3 example: 20030322173103 is 1048354263.
        assert_eq!(parse_time(b"20030322173103"), Some(1048354263));
        assert_eq!(parse_time(b"19700101000000"), Some(0));
        assert_eq!(parse_time(b"21060207062815"), Some(u32::MAX));
        assert_eq!(parse_time(b"21060207062816"), Some(0));
        assert!(parse_time(b"20000229000000").is_some());
        assert_eq!(parse_time(b"20010229000000"), None);
        assert_eq!(parse_time(b"20031322173103"), None);
        assert_eq!(parse_time(b"19691231235959"), None);
        assert_eq!(parse_time(b"1048354263"), Some(1048354263));
        let mut s = String::new();
        push_time(&mut s, 1048354263);
        assert_eq!(s, "20030322173103");
        for t in [0u32, 1, 86399, 951782400, u32::MAX] {
            let mut s = String::new();
            push_time(&mut s, t);
            assert_eq!(parse_time(s.as_bytes()), Some(t), "{s}");
        }
    }
}
