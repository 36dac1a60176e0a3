//! Domain names in uncompressed wire format: the one representation used from zone loading to
//! answer encoding. Lookup keys are the same bytes lowercased (length octets are all < 64, so
//! ASCII-lowercasing the whole buffer only touches label text), and every label-boundary suffix
//! of a wire name is itself a valid wire name, which is what makes ancestor walks allocation-free.

use std::fmt;

/// Longest name in wire format (RFC 1035 §2.3.4).
pub(crate) const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub(crate) const MAX_LABEL_LEN: usize = 63;

/// An owned, validated, uncompressed wire-format domain name, in its original case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in name {0:?}")]
    EmptyLabel(String),
    #[error("label longer than 63 octets in name {0:?}")]
    LabelTooLong(String),
    #[error("name longer than 255 octets: {0:?}")]
    NameTooLong(String),
    #[error("bad escape sequence in name {0:?}")]
    BadEscape(String),
    #[error("relative name {0:?} with no origin to complete it")]
    NoOrigin(String),
    #[error("malformed wire-format name")]
    BadWire,
}

impl Name {
    pub fn root() -> Name {
        Name(Box::new([0]))
    }

    /// Takes an uncompressed wire-format name, checking its structure.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        match wire_name_len(wire) {
            Some(len) if len == wire.len() => Ok(Name(wire.into())),
            _ => Err(NameError::BadWire),
        }
    }

    /// Parses a name in presentation format (RFC 1035 §5.1): `@` is the origin, a name without a
    /// trailing dot is relative to `origin`, `\DDD` and `\X` escape any octet.
    pub fn parse(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        if text == "@" {
            return origin
                .cloned()
                .ok_or_else(|| NameError::NoOrigin(text.into()));
        }
        if text == "." {
            return Ok(Name::root());
        }
        let bytes = text.as_bytes();
        let mut wire: Vec<u8> = Vec::with_capacity(bytes.len() + 2);
        let mut label_start = 0usize;
        wire.push(0);
        let mut i = 0usize;
        let mut absolute = false;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    let len = wire.len() - label_start - 1;
                    if len == 0 {
                        return Err(NameError::EmptyLabel(text.into()));
                    }
                    if len > MAX_LABEL_LEN {
                        return Err(NameError::LabelTooLong(text.into()));
                    }
                    wire[label_start] = len as u8;
                    if i + 1 == bytes.len() {
                        absolute = true;
                    } else {
                        label_start = wire.len();
                        wire.push(0);
                    }
                    i += 1;
                }
                b'\\' => {
                    let (octet, used) = parse_escape(&bytes[i + 1..])
                        .ok_or_else(|| NameError::BadEscape(text.into()))?;
                    wire.push(octet);
                    i += 1 + used;
                }
                _ => {
                    wire.push(c);
                    i += 1;
                }
            }
        }
        if !absolute {
            let len = wire.len() - label_start - 1;
            if len == 0 {
                return Err(NameError::EmptyLabel(text.into()));
            }
            if len > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong(text.into()));
            }
            wire[label_start] = len as u8;
            let origin = origin.ok_or_else(|| NameError::NoOrigin(text.into()))?;
            wire.extend_from_slice(&origin.0);
        } else {
            wire.push(0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong(text.into()));
        }
        Ok(Name(wire.into_boxed_slice()))
    }

    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// The lookup key: the same name with ASCII letters lowercased.
    pub fn to_lowercase(&self) -> Name {
        Name(self.0.to_ascii_lowercase().into_boxed_slice())
    }

    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// True when `self` equals `ancestor` or lies below it (case-insensitive).
    pub fn is_subdomain_of(&self, ancestor: &Name) -> bool {
        is_subdomain(&self.0, &ancestor.0)
    }

    /// The name with its first label removed (the root's parent is `None`).
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            None
        } else {
            let skip = self.0[0] as usize + 1;
            Some(Name(self.0[skip..].into()))
        }
    }

    /// `label.self`, failing when the result would be longer than 255 octets.
    pub fn prepend_label(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(NameError::BadWire);
        }
        if self.0.len() + label.len() + 1 > MAX_NAME_LEN {
            return Err(NameError::NameTooLong(format!("{}", self)));
        }
        let mut wire = Vec::with_capacity(self.0.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.0);
        Ok(Name(wire.into_boxed_slice()))
    }
}

/// Reads one escape after a backslash: `\DDD` (decimal octet) or `\X` (the character itself).
/// Returns the octet and how many bytes after the backslash it used.
pub(crate) fn parse_escape(rest: &[u8]) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    if first.is_ascii_digit() {
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value =
            (rest[0] - b'0') as u32 * 100 + (rest[1] - b'0') as u32 * 10 + (rest[2] - b'0') as u32;
        u8::try_from(value).ok().map(|v| (v, 3))
    } else {
        Some((first, 1))
    }
}

/// Length of the uncompressed wire name at the start of `wire`, or `None` if it is malformed
/// (a compression pointer, a label over 63 octets, over 255 octets in all, or cut short).
pub(crate) fn wire_name_len(wire: &[u8]) -> Option<usize> {
    let mut pos = 0usize;
    loop {
        let len = *wire.get(pos)? as usize;
        if len > MAX_LABEL_LEN {
            return None;
        }
        pos += 1 + len;
        if pos > MAX_NAME_LEN {
            return None;
        }
        if len == 0 {
            return Some(pos);
        }
    }
}

/// Byte offset of each label boundary in a validated wire name, from the full name down to
/// (excluding) the root: `&wire[offset..]` is each ancestor in turn.
pub(crate) fn suffix_offsets(wire: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if wire[pos] == 0 {
            None
        } else {
            let here = pos;
            pos += wire[pos] as usize + 1;
            Some(here)
        }
    })
}

/// Case-insensitive "`name` is `ancestor` or below it", on validated wire names.
pub(crate) fn is_subdomain(name: &[u8], ancestor: &[u8]) -> bool {
    if ancestor.len() > name.len() {
        return false;
    }
    let start = name.len() - ancestor.len();
    // The suffix must begin on a label boundary of `name` (the root is every name's suffix).
    let on_boundary =
        start == 0 || ancestor.len() == 1 || suffix_offsets(name).any(|offset| offset == start);
    on_boundary && name[start..].eq_ignore_ascii_case(ancestor)
}

/// Writes a validated wire name in presentation format, escaping as RFC 1035 §5.1 requires.
pub(crate) fn fmt_wire_name(wire: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    if wire.len() <= 1 {
        return f.write_char('.');
    }
    let mut pos = 0usize;
    while wire[pos] != 0 {
        let len = wire[pos] as usize;
        for &b in &wire[pos + 1..pos + 1 + len] {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    f.write_char('\\')?;
                    f.write_char(b as char)?;
                }
                0x21..=0x7e => f.write_char(b as char)?,
                _ => write!(f, "\\{:03}", b)?,
            }
        }
        f.write_char('.')?;
        pos += len + 1;
    }
    Ok(())
}

/// A wire name in a fixed buffer, in its original case: a name the request path builds (a
/// CNAME or DNAME target) without allocating.
#[derive(Clone)]
pub(crate) struct NameBuf {
    buf: [u8; MAX_NAME_LEN],
    len: u8,
}

impl NameBuf {
    /// Copies a wire name; `None` if it is longer than a name can be.
    pub(crate) fn from_wire(wire: &[u8]) -> Option<NameBuf> {
        NameBuf::concat(wire, &[])
    }

    /// `head` followed by `tail` (a DNAME substitution: the owner's prefix, then the target);
    /// `None` when the result would exceed 255 octets.
    pub(crate) fn concat(head: &[u8], tail: &[u8]) -> Option<NameBuf> {
        let len = head.len() + tail.len();
        if len > MAX_NAME_LEN {
            return None;
        }
        let mut name = NameBuf {
            buf: [0; MAX_NAME_LEN],
            len: len as u8,
        };
        name.buf[..head.len()].copy_from_slice(head);
        name.buf[head.len()..len].copy_from_slice(tail);
        Some(name)
    }

    pub(crate) fn as_wire(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// A lowercased wire name in a fixed buffer: the lookup key for a name, built without
/// allocating.
#[derive(Clone)]
pub(crate) struct NameKey(NameBuf);

impl NameKey {
    /// Lowercases a wire name; `None` if it is longer than a name can be (cannot happen for one
    /// that passed [`wire_name_len`]).
    pub(crate) fn from_wire(wire: &[u8]) -> Option<NameKey> {
        let mut name = NameBuf::from_wire(wire)?;
        name.buf[..wire.len()].make_ascii_lowercase();
        Some(NameKey(name))
    }

    pub(crate) fn as_wire(&self) -> &[u8] {
        self.0.as_wire()
    }
}

impl fmt::Debug for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NameKey(")?;
        fmt_wire_name(self.as_wire(), f)?;
        f.write_str(")")
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_wire_name(&self.0, f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({})", self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Name {
        Name::parse(text, None).unwrap()
    }

    #[test]
    fn parses_absolute_relative_and_at() {
        let origin = n("contoso.example.");
        assert_eq!(
            Name::parse("mail", Some(&origin)).unwrap(),
            n("mail.contoso.example.")
        );
        assert_eq!(Name::parse("@", Some(&origin)).unwrap(), origin);
        assert_eq!(n(".").as_wire(), &[0]);
        assert_eq!(n("a.b.").as_wire(), b"\x01a\x01b\x00");
        assert!(Name::parse("mail", None).is_err());
    }

    #[test]
    fn escapes_round_trip() {
        let name = n("\\035leading.hash\\.dot.");
        assert_eq!(name.as_wire(), b"\x08#leading\x08hash.dot\x00");
        assert_eq!(name.to_string(), "#leading.hash\\.dot.");
        let all = n("\\000\\255.");
        assert_eq!(all.to_string(), "\\000\\255.");
    }

    #[test]
    fn rejects_bad_names() {
        assert!(matches!(
            Name::parse("a..b.", None),
            Err(NameError::EmptyLabel(_))
        ));
        let long_label = format!("{}.", "x".repeat(64));
        assert!(matches!(
            Name::parse(&long_label, None),
            Err(NameError::LabelTooLong(_))
        ));
        let long_name = format!("{}.", vec!["x".repeat(63); 4].join("."));
        assert!(matches!(
            Name::parse(&long_name, None),
            Err(NameError::NameTooLong(_))
        ));
        assert!(Name::parse("a\\25.", None).is_err());
    }

    #[test]
    fn subdomain_is_case_insensitive_and_label_aligned() {
        assert!(n("Mail.Contoso.Example.").is_subdomain_of(&n("contoso.example.")));
        assert!(n("contoso.example.").is_subdomain_of(&n("contoso.example.")));
        assert!(!n("xcontoso.example.").is_subdomain_of(&n("contoso.example.")));
        assert!(n("a.b.").is_subdomain_of(&Name::root()));
    }

    #[test]
    fn suffix_offsets_walk_ancestors() {
        let name = n("a.bc.d.");
        let suffixes: Vec<&[u8]> = suffix_offsets(name.as_wire())
            .map(|o| &name.as_wire()[o..])
            .collect();
        assert_eq!(
            suffixes,
            vec![
                &b"\x01a\x02bc\x01d\x00"[..],
                b"\x02bc\x01d\x00",
                b"\x01d\x00"
            ]
        );
    }
}
