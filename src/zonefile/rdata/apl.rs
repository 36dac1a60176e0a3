//! APL RDATA (RFC 3123): a list of `[!]afi:address/prefix` items, each address trimmed of its
//! trailing zero octets on the wire.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::Reader;
use super::text::{parse_u8, parse_u16, word};
use crate::zonefile::lexer::Token;

/// RFC 3123 §5: `[!]afi:address/prefix`, the address trimmed of trailing zero octets.
pub(super) fn parse_item(tok: &Token<'_>, out: &mut Vec<u8>) -> Option<()> {
    let text = std::str::from_utf8(word(tok)?).ok()?;
    let (negated, text) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (family, rest) = text.split_once(':')?;
    let (address, prefix) = rest.rsplit_once('/')?;
    let family = parse_u16(family.as_bytes())?;
    let prefix = parse_u8(prefix.as_bytes())?;
    let octets: Vec<u8> = match family {
        1 if prefix <= 32 => address.parse::<Ipv4Addr>().ok()?.octets().to_vec(),
        2 if prefix <= 128 => address.parse::<Ipv6Addr>().ok()?.octets().to_vec(),
        _ => return None,
    };
    let len = octets.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    out.extend_from_slice(&family.to_be_bytes());
    out.push(prefix);
    out.push(len as u8 | if negated { 0x80 } else { 0 });
    out.extend_from_slice(&octets[..len]);
    Some(())
}

pub(super) fn present(r: &mut Reader<'_>, out: &mut String) -> Option<()> {
    let mut first = true;
    while !r.is_empty() {
        let family = r.u16()?;
        let prefix = r.u8()?;
        let flags = r.u8()?;
        let data = r.take(usize::from(flags & 0x7f))?;
        if !first {
            out.push(' ');
        }
        first = false;
        if flags & 0x80 != 0 {
            out.push('!');
        }
        match family {
            1 if prefix <= 32 && data.len() <= 4 => {
                let mut octets = [0u8; 4];
                octets[..data.len()].copy_from_slice(data);
                let _ = write!(out, "1:{}/{prefix}", Ipv4Addr::from(octets));
            }
            2 if prefix <= 128 && data.len() <= 16 => {
                let mut octets = [0u8; 16];
                octets[..data.len()].copy_from_slice(data);
                let _ = write!(out, "2:{}/{prefix}", Ipv6Addr::from(octets));
            }
            _ => return None,
        }
    }
    Some(())
}
