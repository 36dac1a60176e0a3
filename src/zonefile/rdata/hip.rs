//! HIP RDATA (RFC 8005), whose text order differs from its wire order: the text is
//! `algorithm HIT public-key [rendezvous-server...]`, the wire puts both lengths first.

use std::fmt::Write;

use super::text::{parse_u8, push_name, word};
use super::{Field, Parser, RdataError, Reader, codec};

/// Text `algorithm HIT public-key [rendezvous-server...]`; wire puts both lengths first.
pub(super) fn parse(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    let alg_tok = p.next("public key algorithm")?;
    let alg = word(alg_tok)
        .and_then(parse_u8)
        .ok_or_else(|| p.bad(alg_tok, "public key algorithm"))?;
    let hit_tok = p.next("HIT")?;
    let mut hit = Vec::new();
    word(hit_tok)
        .and_then(|t| codec::decode_hex_into(t, &mut hit))
        .filter(|()| (1..=255).contains(&hit.len()))
        .ok_or_else(|| p.bad(hit_tok, "HIT"))?;
    let key_tok = p.next("public key")?;
    let mut key = Vec::new();
    word(key_tok)
        .and_then(|t| codec::decode_base64_into(t, &mut key))
        .filter(|()| (1..=usize::from(u16::MAX)).contains(&key.len()))
        .ok_or_else(|| p.bad(key_tok, "public key"))?;
    p.out.push(hit.len() as u8);
    p.out.push(alg);
    p.out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.out.extend_from_slice(&hit);
    p.out.extend_from_slice(&key);
    while p.peek().is_some() {
        Field::Name.parse(p, "rendezvous server")?;
    }
    Ok(())
}

pub(super) fn present(r: &mut Reader<'_>, out: &mut String) -> Option<()> {
    let hit_len = r.u8()?;
    let alg = r.u8()?;
    let key_len = r.u16()?;
    let hit = r.take(hit_len.into())?;
    let key = r.take(key_len.into())?;
    if hit.is_empty() || key.is_empty() {
        return None;
    }
    let _ = write!(out, "{alg} ");
    codec::encode_hex_into(hit, out);
    out.push(' ');
    codec::encode_base64_into(key, out);
    while !r.is_empty() {
        out.push(' ');
        push_name(out, r.name()?);
    }
    Some(())
}
