//! LOC RDATA (RFC 1876): `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [size[m] [hp[m] [vp[m]]]]`.
//! Sizes and precisions travel as one-digit mantissa and power-of-ten exponent of
//! centimetres; positions as thousandths of an arc second offset by 2^31; altitude as
//! centimetres above 100,000 m below the WGS 84 spheroid.

use std::fmt::Write;

use super::{Parser, RdataError, Reader};
use crate::zonefile::lexer::Token;

const EQUATOR: i64 = 1 << 31;
const ALTITUDE_BASE_CM: i64 = 10_000_000;
/// RFC 1876 §3 defaults: size 1 m, horizontal precision 10,000 m, vertical 10 m.
const DEFAULT_PRECISIONS_CM: [u64; 3] = [100, 1_000_000, 1_000];
const MAX_SIZE_CM: u64 = 9_000_000_000;

/// A decimal with at most `scale` fraction digits, as an integer in units of 10^-scale.
fn decimal(text: &[u8], scale: u32, signed: bool) -> Option<i64> {
    let (negative, text) = match text.strip_prefix(b"-") {
        Some(rest) if signed => (true, rest),
        _ => (false, text),
    };
    let (int, frac) = match text.iter().position(|&c| c == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    let digits_ok = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if (int.is_empty() && frac.is_empty())
        || int.len() > 12
        || frac.len() > scale as usize
        || !digits_ok(int)
        || !digits_ok(frac)
    {
        return None;
    }
    let mut value = 0i64;
    for &d in int {
        value = value * 10 + i64::from(d - b'0');
    }
    for i in 0..scale as usize {
        value = value * 10 + frac.get(i).map_or(0, |&d| i64::from(d - b'0'));
    }
    Some(if negative { -value } else { value })
}

/// A distance in metres with an optional `m`, in centimetres.
fn metres(tok: &Token<'_>, signed: bool) -> Option<i64> {
    if tok.quoted {
        return None;
    }
    let text = tok
        .text
        .strip_suffix(b"m")
        .or_else(|| tok.text.strip_suffix(b"M"))
        .unwrap_or(tok.text);
    decimal(text, 2, signed)
}

/// Reads degrees, optional minutes and seconds, and the hemisphere letter; returns the
/// RFC 1876 encoding (2^31 ± thousandths of an arc second).
fn coordinate(
    p: &mut Parser<'_, '_>,
    max_degrees: i64,
    hemispheres: [u8; 2],
    what: &str,
) -> Result<u32, RdataError> {
    let is_hemisphere = |t: &Token<'_>| {
        !t.quoted && t.text.len() == 1 && hemispheres.contains(&t.text[0].to_ascii_uppercase())
    };
    let mut parts = [0i64; 3];
    let limits = [max_degrees, 59, 59_999];
    let mut count = 0;
    let hemisphere = loop {
        let tok = p.next(what)?;
        if count > 0 && is_hemisphere(tok) {
            break tok.text[0].to_ascii_uppercase();
        }
        if count == 3 {
            return Err(p.bad_because(tok, what, "expected N, S, E or W"));
        }
        let scale = if count == 2 { 3 } else { 0 };
        let value = if tok.quoted {
            None
        } else {
            decimal(tok.text, scale, false)
        };
        parts[count] = value
            .filter(|v| *v <= limits[count])
            .ok_or_else(|| p.bad(tok, what))?;
        count += 1;
    };
    let thousandths = parts[0] * 3_600_000 + parts[1] * 60_000 + parts[2];
    if thousandths > max_degrees * 3_600_000 {
        let message = format!("{what} beyond {max_degrees} degrees in LOC record");
        return Err(RdataError::new(
            p.toks.get(p.pos.saturating_sub(1)).map(|t| t.line),
            message,
        ));
    }
    let signed = if hemisphere == hemispheres[0] {
        thousandths
    } else {
        -thousandths
    };
    Ok((EQUATOR + signed) as u32)
}

/// Largest power of ten not above `cm`, as (mantissa, exponent), truncating like BIND.
fn encode_precision(cm: u64) -> u8 {
    let mut exponent = 0u32;
    while exponent < 9 && cm >= 10u64.pow(exponent + 1) {
        exponent += 1;
    }
    let mantissa = (cm / 10u64.pow(exponent)).min(9) as u8;
    mantissa << 4 | exponent as u8
}

pub(super) fn parse(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    let latitude = coordinate(p, 90, [b'N', b'S'], "latitude")?;
    let longitude = coordinate(p, 180, [b'E', b'W'], "longitude")?;
    let alt_tok = p.next("altitude")?;
    let altitude = metres(alt_tok, true)
        .map(|cm| cm + ALTITUDE_BASE_CM)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| p.bad(alt_tok, "altitude"))?;
    let mut precisions = DEFAULT_PRECISIONS_CM;
    for (slot, what) in
        precisions
            .iter_mut()
            .zip(["size", "horizontal precision", "vertical precision"])
    {
        let Some(tok) = p.peek() else { break };
        p.pos += 1;
        *slot = metres(tok, false)
            .and_then(|cm| u64::try_from(cm).ok())
            .filter(|&cm| cm <= MAX_SIZE_CM)
            .ok_or_else(|| p.bad(tok, what))?;
    }
    p.out.push(0);
    p.out.extend(precisions.map(encode_precision));
    for v in [latitude, longitude, altitude] {
        p.out.extend_from_slice(&v.to_be_bytes());
    }
    Ok(())
}

fn push_coordinate(
    out: &mut String,
    encoded: u32,
    max_degrees: i64,
    hemispheres: [char; 2],
) -> Option<()> {
    let signed = i64::from(encoded) - EQUATOR;
    let thousandths = signed.abs();
    if thousandths > max_degrees * 3_600_000 {
        return None;
    }
    let hemisphere = if signed >= 0 {
        hemispheres[0]
    } else {
        hemispheres[1]
    };
    let _ = write!(
        out,
        "{} {} {}.{:03} {hemisphere}",
        thousandths / 3_600_000,
        thousandths / 60_000 % 60,
        thousandths / 1000 % 60,
        thousandths % 1000
    );
    Some(())
}

fn push_precision(out: &mut String, encoded: u8) -> Option<()> {
    let (mantissa, exponent) = (u64::from(encoded >> 4), u32::from(encoded & 15));
    if mantissa > 9 || exponent > 9 {
        return None;
    }
    let cm = mantissa * 10u64.pow(exponent);
    let _ = if cm % 100 == 0 {
        write!(out, " {}m", cm / 100)
    } else {
        write!(out, " {}.{:02}m", cm / 100, cm % 100)
    };
    Some(())
}

pub(super) fn present(r: &mut Reader<'_>, out: &mut String) -> Option<()> {
    if r.u8()? != 0 {
        return None;
    }
    let precisions = [r.u8()?, r.u8()?, r.u8()?];
    push_coordinate(out, r.u32()?, 90, ['N', 'S'])?;
    out.push(' ');
    push_coordinate(out, r.u32()?, 180, ['E', 'W'])?;
    let altitude = i64::from(r.u32()?) - ALTITUDE_BASE_CM;
    let sign = if altitude < 0 { "-" } else { "" };
    let _ = write!(
        out,
        " {sign}{}.{:02}m",
        altitude.abs() / 100,
        altitude.abs() % 100
    );
    for precision in precisions {
        push_precision(out, precision)?;
    }
    Some(())
}
