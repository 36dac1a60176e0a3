//! SVCB and HTTPS parameters (RFC 9460 §2.1 and Appendix A; `dohpath` RFC 9461, `ohttp`
//! RFC 9540): `key[=value]` tokens, values optionally quoted, stored in wire format sorted by
//! key. Values are decoded in two steps, as the RFC specifies: first as a character-string
//! (`\DDD`, `\X`), then, for list values, split on commas not escaped by a backslash.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::text::{self, parse_u16};
use super::{Parser, RdataError, Reader, codec};
use crate::zonefile::lexer::Token;

const MANDATORY: u16 = 0;
const ALPN: u16 = 1;
const NO_DEFAULT_ALPN: u16 = 2;
const PORT: u16 = 3;
const IPV4HINT: u16 = 4;
const ECH: u16 = 5;
const IPV6HINT: u16 = 6;
const DOHPATH: u16 = 7;
const OHTTP: u16 = 8;
/// RFC 9460 §14.3.2: "Invalid key", never valid in a record.
const INVALID: u16 = 65535;

const KEY_NAMES: &[(u16, &str)] = &[
    (MANDATORY, "mandatory"),
    (ALPN, "alpn"),
    (NO_DEFAULT_ALPN, "no-default-alpn"),
    (PORT, "port"),
    (IPV4HINT, "ipv4hint"),
    (ECH, "ech"),
    (IPV6HINT, "ipv6hint"),
    (DOHPATH, "dohpath"),
    (OHTTP, "ohttp"),
];

fn key_code(name: &[u8]) -> Option<u16> {
    if let Some(&(code, _)) = KEY_NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
    {
        return Some(code);
    }
    let digits = name.strip_prefix(b"key")?;
    // `key01` is not the canonical spelling of key 1; RFC 9460 forbids leading zeros.
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    parse_u16(digits).filter(|&k| k != INVALID)
}

fn push_key(out: &mut String, key: u16) {
    match KEY_NAMES.iter().find(|(code, _)| *code == key) {
        Some((_, name)) => out.push_str(name),
        None => {
            let _ = write!(out, "key{key}");
        }
    }
}

/// Splits a decoded value on commas not preceded by a backslash, removing those escapes.
fn split_list(value: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while let Some(&c) = value.get(i) {
        match c {
            b'\\' if i + 1 < value.len() => {
                if let Some(item) = items.last_mut() {
                    item.push(value[i + 1]);
                }
                i += 2;
                continue;
            }
            b',' => items.push(Vec::new()),
            _ => {
                if let Some(item) = items.last_mut() {
                    item.push(c);
                }
            }
        }
        i += 1;
    }
    items
}

fn need(value: Option<&[u8]>) -> Result<&[u8], String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "needs a value".to_string())
}

/// The wire value of one parameter from its decoded text value (`None`: no `=`).
fn encode_value(key: u16, value: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let ascii = |item: &[u8]| {
        std::str::from_utf8(item)
            .map(str::to_owned)
            .map_err(|_| "not ASCII".to_string())
    };
    let mut out = Vec::new();
    match key {
        MANDATORY => {
            let mut keys = Vec::new();
            for item in need(value)?.split(|&c| c == b',') {
                let k = key_code(item)
                    .ok_or_else(|| format!("unknown key {:?}", String::from_utf8_lossy(item)))?;
                if k == MANDATORY {
                    return Err("\"mandatory\" cannot list itself".into());
                }
                keys.push(k);
            }
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return Err("a key is listed twice".into());
            }
            for k in keys {
                out.extend_from_slice(&k.to_be_bytes());
            }
        }
        ALPN => {
            for item in split_list(need(value)?) {
                let len = u8::try_from(item.len()).ok().filter(|&l| l > 0);
                let len = len.ok_or("each protocol must be 1 to 255 octets")?;
                out.push(len);
                out.extend_from_slice(&item);
            }
        }
        NO_DEFAULT_ALPN | OHTTP => {
            if value.is_some() {
                return Err("takes no value".into());
            }
        }
        PORT => {
            let port = parse_u16(need(value)?).ok_or("not a port number")?;
            out.extend_from_slice(&port.to_be_bytes());
        }
        IPV4HINT => {
            for item in need(value)?.split(|&c| c == b',') {
                let addr: Ipv4Addr = ascii(item)?
                    .parse()
                    .map_err(|_| "not an IPv4 address list")?;
                out.extend_from_slice(&addr.octets());
            }
        }
        IPV6HINT => {
            for item in need(value)?.split(|&c| c == b',') {
                let addr: Ipv6Addr = ascii(item)?
                    .parse()
                    .map_err(|_| "not an IPv6 address list")?;
                out.extend_from_slice(&addr.octets());
            }
        }
        ECH => codec::decode_base64_into(need(value)?, &mut out).ok_or("not base64")?,
        DOHPATH => out.extend_from_slice(need(value)?),
        _ => out.extend_from_slice(value.unwrap_or_default()),
    }
    if out.len() > usize::from(u16::MAX) {
        return Err("value longer than 65535 octets".into());
    }
    Ok(out)
}

pub(super) fn parse(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    const WHAT: &str = "SvcParam";
    let mut params: Vec<(u16, Vec<u8>, &Token<'_>)> = Vec::new();
    for tok in p.rest() {
        if tok.quoted {
            return Err(p.bad_because(tok, WHAT, "expected key=value"));
        }
        let (key_text, raw_value) = match tok.text.iter().position(|&c| c == b'=') {
            Some(eq) => (&tok.text[..eq], Some(&tok.text[eq + 1..])),
            None => (tok.text, None),
        };
        let key = key_code(key_text).ok_or_else(|| p.bad_because(tok, WHAT, "unknown key"))?;
        let value = match raw_value {
            None => None,
            Some(raw) => {
                let unquoted = match raw.strip_prefix(b"\"") {
                    Some(inner) => inner.strip_suffix(b"\"").ok_or_else(|| p.bad(tok, WHAT))?,
                    None => raw,
                };
                let decoded = text::decode_escapes(unquoted)
                    .ok_or_else(|| p.bad_because(tok, WHAT, "bad escape sequence"))?;
                Some(decoded)
            }
        };
        let wire =
            encode_value(key, value.as_deref()).map_err(|why| p.bad_because(tok, WHAT, &why))?;
        params.push((key, wire, tok));
    }
    // Sorted, duplicates and mandatory keys are found without quadratic scans.
    params.sort_by_key(|(k, _, _)| *k);
    if let Some(pair) = params.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(p.bad_because(pair[1].2, WHAT, "key given twice"));
    }
    if let Some((_, listed, tok)) = params.first().filter(|(k, _, _)| *k == MANDATORY) {
        for pair in listed.chunks_exact(2) {
            let key = u16::from_be_bytes([pair[0], pair[1]]);
            if params.binary_search_by_key(&key, |(k, _, _)| *k).is_err() {
                let mut name = String::new();
                push_key(&mut name, key);
                return Err(p.bad_because(tok, WHAT, &format!("mandatory key {name} is missing")));
            }
        }
    }
    for (key, value, _) in params {
        p.out.extend_from_slice(&key.to_be_bytes());
        p.out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        p.out.extend_from_slice(&value);
    }
    Ok(())
}

fn present_value(out: &mut String, key: u16, value: &[u8]) -> Option<()> {
    match key {
        MANDATORY => {
            if value.is_empty() || !value.len().is_multiple_of(2) {
                return None;
            }
            out.push('=');
            for (i, pair) in value.chunks_exact(2).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_key(out, u16::from_be_bytes([pair[0], pair[1]]));
            }
        }
        ALPN => {
            let mut list = Vec::new();
            let mut r = Reader {
                data: value,
                pos: 0,
            };
            while !r.is_empty() {
                let item = r.char_str().filter(|i| !i.is_empty())?;
                if !list.is_empty() {
                    list.push(b',');
                }
                for &b in item {
                    if matches!(b, b',' | b'\\') {
                        list.push(b'\\');
                    }
                    list.push(b);
                }
            }
            if list.is_empty() {
                return None;
            }
            out.push('=');
            text::push_quoted(out, &list);
        }
        NO_DEFAULT_ALPN | OHTTP => {
            if !value.is_empty() {
                return None;
            }
        }
        PORT => {
            let port: [u8; 2] = value.try_into().ok()?;
            let _ = write!(out, "={}", u16::from_be_bytes(port));
        }
        IPV4HINT | IPV6HINT => {
            let size = if key == IPV4HINT { 4 } else { 16 };
            if value.is_empty() || !value.len().is_multiple_of(size) {
                return None;
            }
            out.push('=');
            for (i, chunk) in value.chunks_exact(size).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = match <[u8; 4]>::try_from(chunk) {
                    Ok(v4) => write!(out, "{}", Ipv4Addr::from(v4)),
                    Err(_) => write!(out, "{}", Ipv6Addr::from(<[u8; 16]>::try_from(chunk).ok()?)),
                };
            }
        }
        ECH => {
            if value.is_empty() {
                return None;
            }
            out.push('=');
            codec::encode_base64_into(value, out);
        }
        DOHPATH => {
            if value.is_empty() {
                return None;
            }
            out.push('=');
            text::push_quoted(out, value);
        }
        _ => {
            if !value.is_empty() {
                out.push('=');
                text::push_quoted(out, value);
            }
        }
    }
    Some(())
}

pub(super) fn present(r: &mut Reader<'_>, out: &mut String) -> Option<()> {
    let mut previous: Option<u16> = None;
    while !r.is_empty() {
        let key = r.u16()?;
        let len = r.u16()?;
        let value = r.take(len.into())?;
        if previous.is_some_and(|p| p >= key) || key == INVALID {
            return None;
        }
        if previous.is_some() {
            out.push(' ');
        }
        previous = Some(key);
        push_key(out, key);
        present_value(out, key, value)?;
    }
    Some(())
}
