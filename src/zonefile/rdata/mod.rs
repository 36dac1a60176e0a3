//! RDATA in both directions: presentation text (already tokenized) to uncompressed wire
//! format, wire format back to text, and where domain names sit inside wire RDATA.
//!
//! Each type's format is declared once, as a list of fields (`schema`), and both directions
//! walk that same list. That keeps them consistent, which the round-trip guarantee
//! (`parse(rdata_to_text(wire)) == wire`) depends on.

mod apl;
mod codec;
mod fields;
mod hip;
mod loc;
mod svcb;
pub(crate) mod text;

use crate::dns::name::{self, Name};
use crate::dns::rtype::{self, *};
use crate::zonefile::lexer::{self, Token};

/// Why a record's RDATA was rejected; `line` is the offending token's, when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdataError {
    pub line: Option<u32>,
    pub message: String,
}

impl RdataError {
    fn new(line: Option<u32>, message: impl Into<String>) -> Self {
        RdataError {
            line,
            message: message.into(),
        }
    }
}

/// One field of a presentation format, and how it maps to wire format. Fields marked "rest"
/// take all remaining tokens and so can only come last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    U8,
    U16,
    U32,
    /// A 32-bit number that may be written with TTL units (SOA timers, RRSIG original TTL).
    Ttl,
    /// RRSIG expiration and inception.
    Time,
    /// DNSSEC algorithm number, or its mnemonic (RFC 8624).
    SecAlg,
    /// DS digest type, or its mnemonic.
    DigestType,
    /// CERT certificate type (RFC 4398 §2.1), number or mnemonic.
    CertType,
    /// A record type, by mnemonic (RRSIG type covered).
    Type,
    Name,
    Ipv4,
    Ipv6,
    /// A length-prefixed character-string (≤ 255 octets).
    CharStr,
    /// Rest: `min..=max` character-strings.
    CharStrs {
        min: usize,
        max: usize,
    },
    /// Rest: hex digits, spread over any number of tokens; at least one octet.
    Hex,
    /// Rest: base64, spread over any number of tokens.
    Base64 {
        optional: bool,
    },
    /// NSEC3 salt: length octet and hex, or `-` for none.
    Salt,
    /// NSEC3 next hashed owner: length octet and base32hex.
    Hash32,
    /// Rest: NSEC-style type bitmap (RFC 4034 §4.1.2).
    Bitmap,
    /// Rest of the RDATA as octets, written as one character-string (URI target, CAA value).
    Remaining,
    /// CAA tag: length octet and letters/digits.
    CaaTag,
    /// EUI-48 or EUI-64 (RFC 7043): this many octets written as `xx-xx-...`.
    Eui(usize),
    /// ILNP 64-bit locator or node identifier (RFC 6742): `xxxx:xxxx:xxxx:xxxx`.
    Node64,
    /// IPSECKEY gateway, whose form the gateway type (the second octet) selects.
    IpsecGateway,
    /// NSAP address, `0x` and hex (RFC 1706).
    Nsap,
    /// Rest: APL items (RFC 3123).
    Apl,
    /// The whole LOC RDATA (RFC 1876).
    Loc,
    /// Rest: SVCB/HTTPS parameters (RFC 9460).
    SvcParams,
    /// The whole HIP RDATA (RFC 8005): its text order differs from its wire order.
    Hip,
}

use Field as F;

type Schema = &'static [(Field, &'static str)];

/// The presentation format of each type this parser knows, field by field, with the names
/// used in messages. Types absent here can only be written in the RFC 3597 generic form.
fn schema(rtype: u16) -> Option<Schema> {
    const NAME: Schema = &[(F::Name, "domain name")];
    const PREF_NAME: Schema = &[(F::U16, "preference"), (F::Name, "domain name")];
    const TXT_LIKE: Schema = &[(
        F::CharStrs {
            min: 1,
            max: usize::MAX,
        },
        "character-string",
    )];
    const DS_LIKE: Schema = &[
        (F::U16, "key tag"),
        (F::SecAlg, "algorithm"),
        (F::DigestType, "digest type"),
        (F::Hex, "digest"),
    ];
    const DNSKEY_LIKE: Schema = &[
        (F::U16, "flags"),
        (F::U8, "protocol"),
        (F::SecAlg, "algorithm"),
        (F::Base64 { optional: false }, "public key"),
    ];
    const RRSIG_LIKE: Schema = &[
        (F::Type, "type covered"),
        (F::SecAlg, "algorithm"),
        (F::U8, "labels"),
        (F::Ttl, "original TTL"),
        (F::Time, "signature expiration"),
        (F::Time, "signature inception"),
        (F::U16, "key tag"),
        (F::Name, "signer's name"),
        (F::Base64 { optional: false }, "signature"),
    ];
    const TLSA_LIKE: Schema = &[
        (F::U8, "certificate usage"),
        (F::U8, "selector"),
        (F::U8, "matching type"),
        (F::Hex, "certificate association data"),
    ];
    const SVCB_LIKE: Schema = &[
        (F::U16, "priority"),
        (F::Name, "target name"),
        (F::SvcParams, "parameter"),
    ];
    Some(match rtype {
        A => &[(F::Ipv4, "IPv4 address")],
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME => NAME,
        SOA => &[
            (F::Name, "primary server name"),
            (F::Name, "responsible mailbox"),
            (F::U32, "serial"),
            (F::Ttl, "refresh"),
            (F::Ttl, "retry"),
            (F::Ttl, "expire"),
            (F::Ttl, "minimum"),
        ],
        HINFO => &[(F::CharStr, "CPU"), (F::CharStr, "OS")],
        MINFO => &[(F::Name, "responsible mailbox"), (F::Name, "error mailbox")],
        MX | AFSDB | RT | KX | LP => PREF_NAME,
        TXT | SPF | AVC | NINFO | RESINFO | WALLET => TXT_LIKE,
        RP => &[(F::Name, "mailbox"), (F::Name, "TXT domain name")],
        X25 => &[(F::CharStr, "PSDN address")],
        ISDN => &[(F::CharStrs { min: 1, max: 2 }, "ISDN address")],
        NSAP => &[(F::Nsap, "NSAP address")],
        PX => &[
            (F::U16, "preference"),
            (F::Name, "MAP822"),
            (F::Name, "MAPX400"),
        ],
        GPOS => &[
            (F::CharStr, "longitude"),
            (F::CharStr, "latitude"),
            (F::CharStr, "altitude"),
        ],
        AAAA => &[(F::Ipv6, "IPv6 address")],
        LOC => &[(F::Loc, "location")],
        SRV => &[
            (F::U16, "priority"),
            (F::U16, "weight"),
            (F::U16, "port"),
            (F::Name, "target"),
        ],
        NAPTR => &[
            (F::U16, "order"),
            (F::U16, "preference"),
            (F::CharStr, "flags"),
            (F::CharStr, "services"),
            (F::CharStr, "regexp"),
            (F::Name, "replacement"),
        ],
        CERT => &[
            (F::CertType, "certificate type"),
            (F::U16, "key tag"),
            (F::SecAlg, "algorithm"),
            (F::Base64 { optional: false }, "certificate"),
        ],
        APL => &[(F::Apl, "APL item")],
        DS | CDS | TA | DLV => DS_LIKE,
        SSHFP => &[
            (F::U8, "algorithm"),
            (F::U8, "fingerprint type"),
            (F::Hex, "fingerprint"),
        ],
        IPSECKEY => &[
            (F::U8, "precedence"),
            (F::U8, "gateway type"),
            (F::U8, "algorithm"),
            (F::IpsecGateway, "gateway"),
            (F::Base64 { optional: true }, "public key"),
        ],
        RRSIG | SIG => RRSIG_LIKE,
        NSEC => &[(F::Name, "next domain name"), (F::Bitmap, "type")],
        DNSKEY | CDNSKEY => DNSKEY_LIKE,
        // A KEY may carry no key at all (RFC 2535 §3.1.2, flags "no key").
        KEY => &[
            (F::U16, "flags"),
            (F::U8, "protocol"),
            (F::SecAlg, "algorithm"),
            (F::Base64 { optional: true }, "public key"),
        ],
        DHCID => &[(F::Base64 { optional: false }, "digest")],
        NSEC3 => &[
            (F::U8, "hash algorithm"),
            (F::U8, "flags"),
            (F::U16, "iterations"),
            (F::Salt, "salt"),
            (F::Hash32, "next hashed owner name"),
            (F::Bitmap, "type"),
        ],
        NSEC3PARAM => &[
            (F::U8, "hash algorithm"),
            (F::U8, "flags"),
            (F::U16, "iterations"),
            (F::Salt, "salt"),
        ],
        TLSA | SMIMEA => TLSA_LIKE,
        HIP => &[(F::Hip, "HIP data")],
        OPENPGPKEY => &[(F::Base64 { optional: false }, "public key")],
        CSYNC => &[
            (F::U32, "SOA serial"),
            (F::U16, "flags"),
            (F::Bitmap, "type"),
        ],
        ZONEMD => &[
            (F::U32, "serial"),
            (F::U8, "scheme"),
            (F::U8, "hash algorithm"),
            (F::Hex, "digest"),
        ],
        SVCB | HTTPS => SVCB_LIKE,
        NID | L64 => &[(F::U16, "preference"), (F::Node64, "identifier")],
        L32 => &[(F::U16, "preference"), (F::Ipv4, "locator")],
        EUI48 => &[(F::Eui(6), "EUI-48 address")],
        EUI64 => &[(F::Eui(8), "EUI-64 address")],
        URI => &[
            (F::U16, "priority"),
            (F::U16, "weight"),
            (F::Remaining, "target"),
        ],
        CAA => &[
            (F::U8, "flags"),
            (F::CaaTag, "tag"),
            (F::Remaining, "value"),
        ],
        _ => return None,
    })
}

/// Walks presentation tokens for one record, appending wire format to `out`.
struct Parser<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
    rtype: u16,
    origin: &'t Name,
    out: Vec<u8>,
}

impl<'t, 'a> Parser<'t, 'a> {
    fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.pos)
    }

    fn next(&mut self, what: &str) -> Result<&'t Token<'a>, RdataError> {
        let tok = self.toks.get(self.pos).ok_or_else(|| self.missing(what))?;
        self.pos += 1;
        Ok(tok)
    }

    /// All tokens not yet used.
    fn rest(&mut self) -> &'t [Token<'a>] {
        let rest = &self.toks[self.pos.min(self.toks.len())..];
        self.pos = self.toks.len();
        rest
    }

    fn type_name(&self) -> std::borrow::Cow<'static, str> {
        rtype::mnemonic(self.rtype)
    }

    fn missing(&self, what: &str) -> RdataError {
        let line = self.toks.last().map(|t| t.line);
        RdataError::new(
            line,
            format!("missing {what} in {} record", self.type_name()),
        )
    }

    fn bad(&self, tok: &Token<'_>, what: &str) -> RdataError {
        let message = format!(
            "bad {what} {} in {} record",
            tok.display(),
            self.type_name()
        );
        RdataError::new(Some(tok.line), message)
    }

    fn bad_because(&self, tok: &Token<'_>, what: &str, why: &str) -> RdataError {
        let mut e = self.bad(tok, what);
        e.message.push_str(": ");
        e.message.push_str(why);
        e
    }
}

/// Reads wire-format RDATA field by field; every accessor fails rather than read past the end.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn rest(&mut self) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        self.pos = self.data.len();
        rest
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn name(&mut self) -> Option<&'a [u8]> {
        let len = name::wire_name_len(self.data.get(self.pos..)?)?;
        self.take(len)
    }

    fn char_str(&mut self) -> Option<&'a [u8]> {
        let len = self.u8()?;
        self.take(len.into())
    }
}

/// Presentation RDATA (already tokenized) to wire format, with relative names completed by
/// `origin`. `\#` first selects the RFC 3597 generic form, for any type.
pub fn parse_rdata(rtype: u16, tokens: &[Token<'_>], origin: &Name) -> Result<Vec<u8>, String> {
    parse_rdata_tokens(rtype, tokens, origin).map_err(|e| e.message)
}

/// [`parse_rdata`] from text, which may span lines inside parentheses and carry comments.
pub fn parse_rdata_text(rtype: u16, text: &str, origin: &Name) -> Result<Vec<u8>, String> {
    let tokens = lexer::tokenize(text.as_bytes()).map_err(|e| e.message)?;
    parse_rdata(rtype, &tokens, origin)
}

pub(crate) fn parse_rdata_tokens(
    rtype: u16,
    tokens: &[Token<'_>],
    origin: &Name,
) -> Result<Vec<u8>, RdataError> {
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        rtype,
        origin,
        out: Vec::with_capacity(32),
    };
    if tokens
        .first()
        .is_some_and(|t| !t.quoted && t.text == b"\\#")
    {
        p.pos = 1;
        parse_generic(&mut p)?;
        if schema(rtype).is_some() && present_known(rtype, &p.out).is_none() {
            let line = tokens.first().map(|t| t.line);
            let message = format!("generic RDATA is not a valid {} record", p.type_name());
            return Err(RdataError::new(line, message));
        }
    } else {
        let Some(fields) = schema(rtype) else {
            let message = format!(
                "no text format for {} records: write the RDATA in the generic \\# form",
                p.type_name()
            );
            return Err(RdataError::new(tokens.first().map(|t| t.line), message));
        };
        if tokens.is_empty() && rtype != APL {
            return Err(RdataError::new(
                None,
                format!("missing RDATA for {}", p.type_name()),
            ));
        }
        for &(field, what) in fields {
            field.parse(&mut p, what)?;
        }
        if let Some(extra) = p.peek() {
            let message = format!(
                "unexpected {} after the complete {} RDATA",
                extra.display(),
                p.type_name()
            );
            return Err(RdataError::new(Some(extra.line), message));
        }
    }
    if p.out.len() > usize::from(u16::MAX) {
        let message = format!("{} RDATA longer than 65535 octets", p.type_name());
        return Err(RdataError::new(tokens.first().map(|t| t.line), message));
    }
    Ok(p.out)
}

/// RFC 3597 §5: `\# <length> <hex>...`, the hex spread over any number of tokens.
fn parse_generic(p: &mut Parser<'_, '_>) -> Result<(), RdataError> {
    let len_tok = p.next("generic RDATA length")?;
    let len = text::parse_u16(len_tok.text)
        .filter(|_| !len_tok.quoted)
        .ok_or_else(|| p.bad(len_tok, "generic RDATA length"))?;
    for tok in p.rest() {
        if tok.quoted || codec::decode_hex_into(tok.text, &mut p.out).is_none() {
            return Err(p.bad(tok, "generic RDATA hex"));
        }
    }
    if p.out.len() != usize::from(len) {
        let message = format!(
            "generic RDATA length {len} does not match the {} octets of hex given",
            p.out.len()
        );
        return Err(RdataError::new(Some(len_tok.line), message));
    }
    Ok(())
}

/// Wire RDATA as presentation text, for logs, `explain` and `diff`. Falls back to the RFC 3597
/// generic form for types without a text format here and for data that does not decode (or
/// would not read back to the same octets). Never panics.
pub fn rdata_to_text(rtype: u16, rdata: &[u8]) -> String {
    if let Some(text) = present_known(rtype, rdata)
        && parse_rdata_text(rtype, &text, &Name::root()).is_ok_and(|wire| wire == rdata)
    {
        return text;
    }
    generic_text(rdata)
}

/// The type-specific text, if `rdata` decodes as that type.
fn present_known(rtype: u16, rdata: &[u8]) -> Option<String> {
    let fields = schema(rtype)?;
    let mut r = Reader {
        data: rdata,
        pos: 0,
    };
    let mut out = String::with_capacity(rdata.len() * 2);
    for &(field, _) in fields {
        let before = out.len();
        let separated = before > 0;
        if separated {
            out.push(' ');
        }
        field.present(&mut r, &mut out)?;
        // Fields that may be empty (a key, a bitmap) leave no separator behind.
        if separated && out.len() == before + 1 {
            out.truncate(before);
        }
    }
    r.is_empty().then_some(out)
}

fn generic_text(rdata: &[u8]) -> String {
    let mut out = format!("\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        codec::encode_hex_into(rdata, &mut out);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
