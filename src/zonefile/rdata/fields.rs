//! Each RDATA field's two conversions, side by side: `parse` (tokens to wire) and `present`
//! (wire to text). `present` must write what `parse` reads back to the same octets. A field
//! that is a format of its own keeps both directions in its own module — `loc`, `svcb`, `apl`,
//! `hip`, and `bitmap` for the NSEC type lists — and its arm here only calls them.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::text::{self, parse_u8, parse_u16, parse_u32, push_name, word};
use super::{Field, Parser, RdataError, Reader, apl, codec, hip, loc, svcb};
use crate::dns::rtype;
use crate::dns::{SEC_ALGS, bitmap};
use crate::zonefile::lexer::Token;

/// DS digest type mnemonics (IANA), with and without the hyphen.
const DIGEST_TYPES: &[(u8, &str)] = &[
    (1, "SHA-1"),
    (1, "SHA1"),
    (2, "SHA-256"),
    (2, "SHA256"),
    (3, "GOST"),
    (4, "SHA-384"),
    (4, "SHA384"),
];

/// CERT types (RFC 4398 §2.1).
const CERT_TYPES: &[(u16, &str)] = &[
    (1, "PKIX"),
    (2, "SPKI"),
    (3, "PGP"),
    (4, "IPKIX"),
    (5, "ISPKI"),
    (6, "IPGP"),
    (7, "ACPKIX"),
    (8, "IACPKIX"),
    (253, "URI"),
    (254, "OID"),
];

fn number_or_mnemonic<T: Copy>(
    tok: &Token<'_>,
    table: &[(T, &str)],
    number: fn(&[u8]) -> Option<T>,
) -> Option<T> {
    let text = word(tok)?;
    number(text).or_else(|| {
        table
            .iter()
            .find(|(_, m)| m.as_bytes().eq_ignore_ascii_case(text))
            .map(|&(v, _)| v)
    })
}

fn parse_ip<T: std::str::FromStr>(tok: &Token<'_>) -> Option<T> {
    std::str::from_utf8(word(tok)?).ok()?.parse().ok()
}

impl Field {
    pub(super) fn parse(self, p: &mut Parser<'_, '_>, what: &str) -> Result<(), RdataError> {
        match self {
            Field::U8 => {
                let tok = p.next(what)?;
                let v = word(tok)
                    .and_then(parse_u8)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.push(v);
            }
            Field::U16 => {
                let tok = p.next(what)?;
                let v = word(tok)
                    .and_then(parse_u16)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&v.to_be_bytes());
            }
            Field::U32 => {
                let tok = p.next(what)?;
                let v = word(tok)
                    .and_then(parse_u32)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&v.to_be_bytes());
            }
            Field::Ttl => {
                let tok = p.next(what)?;
                let v = word(tok)
                    .and_then(text::parse_ttl)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&v.to_be_bytes());
            }
            Field::Time => {
                let tok = p.next(what)?;
                let v = word(tok)
                    .and_then(text::parse_time)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&v.to_be_bytes());
            }
            Field::SecAlg => {
                let tok = p.next(what)?;
                let v =
                    number_or_mnemonic(tok, SEC_ALGS, parse_u8).ok_or_else(|| p.bad(tok, what))?;
                p.out.push(v);
            }
            Field::DigestType => {
                let tok = p.next(what)?;
                let v = number_or_mnemonic(tok, DIGEST_TYPES, parse_u8)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.push(v);
            }
            Field::CertType => {
                let tok = p.next(what)?;
                let v = number_or_mnemonic(tok, CERT_TYPES, parse_u16)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&v.to_be_bytes());
            }
            Field::Type => {
                let tok = p.next(what)?;
                let v = parse_type(tok).ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&v.to_be_bytes());
            }
            Field::Name => {
                let tok = p.next(what)?;
                let name = text::parse_name(tok, p.origin)
                    .map_err(|why| p.bad_because(tok, what, &why))?;
                p.out.extend_from_slice(name.as_wire());
            }
            Field::Ipv4 => {
                let tok = p.next(what)?;
                let addr: Ipv4Addr = parse_ip(tok).ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&addr.octets());
            }
            Field::Ipv6 => {
                let tok = p.next(what)?;
                let addr: Ipv6Addr = parse_ip(tok).ok_or_else(|| p.bad(tok, what))?;
                p.out.extend_from_slice(&addr.octets());
            }
            Field::CharStr => {
                let tok = p.next(what)?;
                parse_char_string(p, tok, what)?;
            }
            Field::CharStrs { min, max } => {
                let mut count = 0;
                while count < max
                    && let Some(tok) = p.peek()
                {
                    p.pos += 1;
                    parse_char_string(p, tok, what)?;
                    count += 1;
                }
                if count < min {
                    return Err(p.missing(what));
                }
            }
            Field::Hex => {
                let toks = p.rest();
                if toks.is_empty() {
                    return Err(p.missing(what));
                }
                decode_spread(
                    p,
                    toks,
                    what,
                    "hex",
                    codec::decode_hex_into,
                    u8::is_ascii_hexdigit,
                )?;
            }
            Field::Base64 { optional } => {
                let toks = p.rest();
                if toks.is_empty() && !optional {
                    return Err(p.missing(what));
                }
                decode_spread(p, toks, what, "base64", codec::decode_base64_into, |c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')
                })?;
            }
            Field::Salt => {
                let tok = p.next(what)?;
                let text = word(tok).ok_or_else(|| p.bad(tok, what))?;
                let mut salt = Vec::new();
                if text != b"-" {
                    codec::decode_hex_into(text, &mut salt).ok_or_else(|| p.bad(tok, what))?;
                }
                let len = u8::try_from(salt.len())
                    .map_err(|_| p.bad_because(tok, what, "longer than 255 octets"))?;
                p.out.push(len);
                p.out.extend_from_slice(&salt);
            }
            Field::Hash32 => {
                let tok = p.next(what)?;
                let hash = word(tok)
                    .and_then(codec::decode_base32hex)
                    .filter(|h| !h.is_empty() && h.len() <= 255)
                    .ok_or_else(|| p.bad(tok, what))?;
                p.out.push(hash.len() as u8);
                p.out.extend_from_slice(&hash);
            }
            Field::Bitmap => {
                let mut types = Vec::new();
                for tok in p.rest() {
                    types.push(parse_type(tok).ok_or_else(|| p.bad(tok, what))?);
                }
                bitmap::encode(&mut types, &mut p.out);
            }
            Field::Remaining => {
                let tok = p.next(what)?;
                let bytes = text::decode_escapes(tok.text)
                    .ok_or_else(|| p.bad_because(tok, what, "bad escape sequence"))?;
                // RFC 7553 §4.5: a URI record's target is never empty.
                if bytes.is_empty() && p.rtype == rtype::URI {
                    return Err(p.bad_because(tok, what, "empty"));
                }
                p.out.extend_from_slice(&bytes);
            }
            Field::CaaTag => {
                let tok = p.next(what)?;
                let tag = word(tok).filter(|t| is_caa_tag(t)).ok_or_else(|| {
                    p.bad_because(tok, what, "must be 1 to 255 letters and digits")
                })?;
                p.out.push(tag.len() as u8);
                p.out.extend_from_slice(tag);
            }
            Field::Eui(octets) => {
                let tok = p.next(what)?;
                let text = word(tok).ok_or_else(|| p.bad(tok, what))?;
                let groups: Vec<&[u8]> = text.split(|&c| c == b'-').collect();
                if groups.len() != octets || groups.iter().any(|g| g.len() != 2) {
                    return Err(p.bad(tok, what));
                }
                for group in groups {
                    codec::decode_hex_into(group, &mut p.out).ok_or_else(|| p.bad(tok, what))?;
                }
            }
            Field::Node64 => {
                let tok = p.next(what)?;
                let text = word(tok).ok_or_else(|| p.bad(tok, what))?;
                let groups: Vec<&[u8]> = text.split(|&c| c == b':').collect();
                let valid = groups.len() == 4
                    && groups
                        .iter()
                        .all(|g| (1..=4).contains(&g.len()) && g.iter().all(u8::is_ascii_hexdigit));
                if !valid {
                    return Err(p.bad(tok, what));
                }
                for group in groups {
                    // Left-pad to four digits so that the hex decoder yields two octets.
                    let padded: Vec<u8> = b"000"[..4 - group.len()]
                        .iter()
                        .chain(group)
                        .copied()
                        .collect();
                    codec::decode_hex_into(&padded, &mut p.out).ok_or_else(|| p.bad(tok, what))?;
                }
            }
            Field::IpsecGateway => {
                let tok = p.next(what)?;
                match p.out.get(1).copied() {
                    Some(0) if tok.is_word(".") => {}
                    Some(0) => return Err(p.bad_because(tok, what, "gateway type 0 needs \".\"")),
                    Some(1) => Field::Ipv4.parse_token(p, tok, "IPv4 gateway")?,
                    Some(2) => Field::Ipv6.parse_token(p, tok, "IPv6 gateway")?,
                    Some(3) => Field::Name.parse_token(p, tok, "gateway name")?,
                    _ => return Err(p.bad_because(tok, what, "unknown gateway type (0 to 3)")),
                }
            }
            Field::Nsap => {
                let tok = p.next(what)?;
                let text = word(tok)
                    .and_then(|t| t.strip_prefix(b"0x").or_else(|| t.strip_prefix(b"0X")))
                    .ok_or_else(|| p.bad(tok, what))?;
                let digits: Vec<u8> = text.iter().copied().filter(|&c| c != b'.').collect();
                let start = p.out.len();
                codec::decode_hex_into(&digits, &mut p.out).ok_or_else(|| p.bad(tok, what))?;
                if p.out.len() == start {
                    return Err(p.bad(tok, what));
                }
            }
            Field::Apl => {
                for tok in p.rest() {
                    apl::parse_item(tok, &mut p.out).ok_or_else(|| p.bad(tok, what))?;
                }
            }
            Field::Loc => loc::parse(p)?,
            Field::SvcParams => svcb::parse(p)?,
            Field::Hip => hip::parse(p)?,
        }
        Ok(())
    }

    /// Parses a field from a token already taken (for fields chosen by an earlier field).
    fn parse_token(
        self,
        p: &mut Parser<'_, '_>,
        tok: &Token<'_>,
        what: &str,
    ) -> Result<(), RdataError> {
        let mut sub = Parser {
            toks: std::slice::from_ref(tok),
            pos: 0,
            rtype: p.rtype,
            origin: p.origin,
            out: std::mem::take(&mut p.out),
        };
        let result = self.parse(&mut sub, what);
        p.out = sub.out;
        result
    }

    /// Writes this field's text for the wire data at `r`; `None` if it does not decode.
    pub(super) fn present(self, r: &mut Reader<'_>, out: &mut String) -> Option<()> {
        match self {
            Field::U8 | Field::SecAlg | Field::DigestType => push_num(out, r.u8()?),
            Field::U16 => push_num(out, r.u16()?),
            Field::U32 | Field::Ttl => push_num(out, r.u32()?),
            Field::Time => text::push_time(out, r.u32()?),
            Field::CertType => {
                let v = r.u16()?;
                match CERT_TYPES.iter().find(|(c, _)| *c == v) {
                    Some((_, m)) => out.push_str(m),
                    None => push_num(out, v),
                }
            }
            Field::Type => out.push_str(&rtype::mnemonic(r.u16()?)),
            Field::Name => push_name(out, r.name()?),
            Field::Ipv4 => {
                let b = r.take(4)?;
                let _ = write!(out, "{}", Ipv4Addr::new(b[0], b[1], b[2], b[3]));
            }
            Field::Ipv6 => {
                let b: [u8; 16] = r.take(16)?.try_into().ok()?;
                let _ = write!(out, "{}", Ipv6Addr::from(b));
            }
            Field::CharStr => text::push_quoted(out, r.char_str()?),
            Field::CharStrs { min, max } => {
                let mut count = 0;
                while count < max && !r.is_empty() {
                    if count > 0 {
                        out.push(' ');
                    }
                    text::push_quoted(out, r.char_str()?);
                    count += 1;
                }
                if count < min {
                    return None;
                }
            }
            Field::Hex => {
                let data = r.rest();
                if data.is_empty() {
                    return None;
                }
                codec::encode_hex_into(data, out);
            }
            Field::Base64 { optional } => {
                let data = r.rest();
                if data.is_empty() && !optional {
                    return None;
                }
                codec::encode_base64_into(data, out);
            }
            Field::Salt => {
                let salt = r.char_str()?;
                if salt.is_empty() {
                    out.push('-');
                } else {
                    codec::encode_hex_into(salt, out);
                }
            }
            Field::Hash32 => {
                let hash = r.char_str()?;
                if hash.is_empty() {
                    return None;
                }
                codec::encode_base32hex_into(hash, out);
            }
            Field::Bitmap => {
                for (i, t) in bitmap::decode(r.rest())?.into_iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(&rtype::mnemonic(t));
                }
            }
            Field::Remaining => text::push_quoted(out, r.rest()),
            Field::CaaTag => {
                let tag = r.char_str()?;
                if !is_caa_tag(tag) {
                    return None;
                }
                out.push_str(std::str::from_utf8(tag).ok()?);
            }
            Field::Eui(octets) => {
                for (i, b) in r.take(octets)?.iter().enumerate() {
                    if i > 0 {
                        out.push('-');
                    }
                    let _ = write!(out, "{b:02x}");
                }
            }
            Field::Node64 => {
                for i in 0..4 {
                    if i > 0 {
                        out.push(':');
                    }
                    let _ = write!(out, "{:04x}", r.u16()?);
                }
            }
            Field::IpsecGateway => match r.data.get(1)? {
                0 => out.push('.'),
                1 => Field::Ipv4.present(r, out)?,
                2 => Field::Ipv6.present(r, out)?,
                3 => Field::Name.present(r, out)?,
                _ => return None,
            },
            Field::Nsap => {
                let data = r.rest();
                if data.is_empty() {
                    return None;
                }
                out.push_str("0x");
                codec::encode_hex_into(data, out);
            }
            Field::Apl => apl::present(r, out)?,
            Field::Loc => loc::present(r, out)?,
            Field::SvcParams => svcb::present(r, out)?,
            Field::Hip => hip::present(r, out)?,
        }
        Some(())
    }
}

fn push_num(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

fn parse_type(tok: &Token<'_>) -> Option<u16> {
    rtype::from_mnemonic(std::str::from_utf8(word(tok)?).ok()?)
}

fn is_caa_tag(tag: &[u8]) -> bool {
    (1..=255).contains(&tag.len()) && tag.iter().all(u8::is_ascii_alphanumeric)
}

fn parse_char_string(
    p: &mut Parser<'_, '_>,
    tok: &Token<'_>,
    what: &str,
) -> Result<(), RdataError> {
    let bytes = text::decode_escapes(tok.text)
        .ok_or_else(|| p.bad_because(tok, what, "bad escape sequence"))?;
    let len = u8::try_from(bytes.len()).map_err(|_| {
        let why = format!(
            "character-string of {} octets (the limit is 255)",
            bytes.len()
        );
        p.bad_because(tok, what, &why)
    })?;
    p.out.push(len);
    p.out.extend_from_slice(&bytes);
    Ok(())
}

/// Hex or base64 that may be split across tokens anywhere (BIND decodes the concatenation).
fn decode_spread(
    p: &mut Parser<'_, '_>,
    toks: &[Token<'_>],
    what: &str,
    encoding: &str,
    decode: fn(&[u8], &mut Vec<u8>) -> Option<()>,
    valid_char: fn(&u8) -> bool,
) -> Result<(), RdataError> {
    if let Some(tok) = toks
        .iter()
        .find(|t| t.quoted || !t.text.iter().all(valid_char))
    {
        return Err(p.bad_because(tok, what, &format!("not {encoding}")));
    }
    let joined: Vec<u8>;
    let text = match toks {
        [one] => one.text,
        _ => {
            joined = toks.iter().flat_map(|t| t.text.iter().copied()).collect();
            &joined
        }
    };
    if decode(text, &mut p.out).is_none() {
        let why = format!("invalid {encoding} (wrong length or padding)");
        return Err(match toks.last() {
            Some(last) => p.bad_because(last, what, &why),
            None => p.missing(what),
        });
    }
    Ok(())
}
