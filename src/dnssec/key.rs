//! A zone's DNSSEC signing keys, kept in exactly the files BIND's `dnssec-keygen` writes:
//! `K<zone>.+<alg>+<tag>.key`, the DNSKEY record with the timing metadata as comments, and
//! `.private`, the private key with the timing metadata that BIND (`dnssec-settime` included) and
//! splitdns read back. So keys made and timed with BIND's tools are used as they are, and a zone
//! moves between BIND and splitdns with its keys and stays secure both ways. The cryptography is
//! ring's: ECDSA P-256 with SHA-256 (RFC 6605) and Ed25519 (RFC 8080).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use data_encoding::{BASE64, HEXUPPER};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::dns::name::Name;
use crate::dns::{SEC_ALGS, time};

/// An algorithm splitdns signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (13, RFC 6605): the default of BIND, Knot and most registries.
    EcdsaP256Sha256,
    /// Ed25519 (15, RFC 8080).
    Ed25519,
}

impl Algorithm {
    const ALL: [Algorithm; 2] = [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519];

    /// The algorithm number (IANA "DNS Security Algorithm Numbers").
    pub(crate) fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    fn from_number(number: u8) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.number() == number)
    }

    /// The mnemonic (any case) or the number.
    pub(crate) fn parse(text: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| {
            a.mnemonic().eq_ignore_ascii_case(text) || text.parse::<u8>() == Ok(a.number())
        })
    }

    /// The mnemonic as BIND writes it.
    pub(crate) fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    /// The length of a signature: r and s of 32 octets each (RFC 6605 §4), or Ed25519's 64.
    pub(crate) fn signature_len(self) -> usize {
        64
    }

    /// The length of the DNSKEY's public key: the point's x and y without SEC1's 0x04 prefix
    /// (RFC 6605 §4), or Ed25519's 32 octets (RFC 8080 §3).
    fn public_key_len(self) -> usize {
        match self {
            Algorithm::EcdsaP256Sha256 => 64,
            Algorithm::Ed25519 => 32,
        }
    }
}

/// A DS digest type (RFC 4509, RFC 6605 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestType {
    Sha256,
    Sha384,
}

impl DigestType {
    pub(crate) fn number(self) -> u8 {
        match self {
            DigestType::Sha256 => 2,
            DigestType::Sha384 => 4,
        }
    }

    fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            DigestType::Sha256 => &ring::digest::SHA256,
            DigestType::Sha384 => &ring::digest::SHA384,
        }
    }
}

/// A key's timing metadata (Unix seconds), as BIND keeps it; `None` is BIND's UNSET. What each
/// time means for the key is the keyring's ([`super::keyring`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Timing {
    pub created: Option<u64>,
    pub publish: Option<u64>,
    pub activate: Option<u64>,
    pub inactive: Option<u64>,
    pub delete: Option<u64>,
    pub sync_publish: Option<u64>,
    pub sync_delete: Option<u64>,
}

type Slot = fn(&mut Timing) -> &mut Option<u64>;

/// The times of [`Timing`] by their tags in BIND's files, in the order BIND writes them: the one
/// table that reading and both writers go by.
const TIMES: [(&str, Slot); 7] = [
    ("Created", |t| &mut t.created),
    ("Publish", |t| &mut t.publish),
    ("Activate", |t| &mut t.activate),
    ("Inactive", |t| &mut t.inactive),
    ("Delete", |t| &mut t.delete),
    ("SyncPublish", |t| &mut t.sync_publish),
    ("SyncDelete", |t| &mut t.sync_delete),
];

impl Timing {
    /// The times that are given, with their tags.
    pub(crate) fn given(&self) -> Vec<(&'static str, u64)> {
        let mut copy = self.clone();
        TIMES
            .iter()
            .filter_map(|(tag, slot)| slot(&mut copy).map(|at| (*tag, at)))
            .collect()
    }
}

/// The flag bits of a DNSKEY (RFC 4034 §2.1.1, RFC 5011 §7).
const ZONE_FLAG: u16 = 0x0100;
const REVOKE_FLAG: u16 = 0x0080;
const SEP_FLAG: u16 = 0x0001;

/// The DNSKEY protocol field, always 3 (RFC 4034 §2.1.2).
const PROTOCOL: u8 = 3;

/// The `Private-key-format` BIND 9.18 writes (and splitdns with it); BIND reads any v1.x.
const PRIVATE_FORMAT: &str = "v1.3";

/// ring's PKCS#8 v1 document of a generated P-256 key is one fixed DER layout (its template
/// `ecPublicKey_p256_pkcs8_v1_template.der`, then the key): this prefix, the 32-octet private
/// scalar, [`P256_PKCS8_MIDDLE`] (the `[1]` public key's BIT STRING header), and the 65-octet
/// uncompressed point. The scalar is what BIND's `PrivateKey:` holds; ring has no other way to
/// hand it out. A layout that differs is refused, never guessed at.
const P256_PKCS8_PREFIX: [u8; 36] = [
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02,
    0x01, 0x01, 0x04, 0x20,
];
const P256_PKCS8_MIDDLE: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];

/// What went wrong with a key: each error names its file, and its line where it has one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{file}:{line}: {message}")]
    Malformed {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{file}: {what}")]
    Incomplete { file: PathBuf, what: &'static str },
    #[error(
        "{file}:{line}: algorithm {number} ({}) is not one splitdns signs with: ECDSAP256SHA256 (13) or ED25519 (15)",
        mnemonic_of(*number)
    )]
    Unsupported {
        file: PathBuf,
        line: usize,
        number: u8,
    },
    #[error("{private}: this private key does not belong to the public key in {public}")]
    Mismatch { private: PathBuf, public: PathBuf },
    #[error(
        "{file}: is named for another key: the key in it is {holds} (by its zone, algorithm and tag)"
    )]
    Misnamed { file: PathBuf, holds: String },
    #[error("{0}: holds another key (or one that cannot be read); not overwritten")]
    Occupied(PathBuf),
    #[error("making a {0} key failed: {1}")]
    Generate(&'static str, String),
}

/// The name of an algorithm number, for errors.
fn mnemonic_of(number: u8) -> &'static str {
    SEC_ALGS
        .iter()
        .find(|(n, _)| *n == number)
        .map_or("unassigned", |(_, mnemonic)| mnemonic)
}

/// The ring key pair that makes the signatures.
enum Pair {
    /// ECDSA signing takes a random nonce (ring hedges it with the message digest).
    Ecdsa(EcdsaKeyPair, SystemRandom),
    Ed25519(Ed25519KeyPair),
}

/// One signing key: the DNSKEY it publishes, the private key, and its timing metadata.
pub(crate) struct SigningKey {
    /// The zone, as the .key file writes it (BIND keeps the case it was given).
    origin: Name,
    flags: u16,
    algorithm: Algorithm,
    tag: u16,
    /// The DNSKEY RDATA.
    dnskey: Box<[u8]>,
    /// The private key as BIND's `PrivateKey:` holds it: the P-256 scalar or the Ed25519 seed.
    private: Box<[u8]>,
    pair: Pair,
    timing: Timing,
    /// The TTL of the .key file's DNSKEY record, if it has one (`dnssec-keygen -L`).
    ttl: Option<u32>,
    /// The .private lines splitdns does not act on (BIND's other metadata: `Revoke`,
    /// `DSPublish`, `Successor`, `Lifetime`, …), written back as they were.
    kept: Vec<String>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key", &self.file_stem())
            .field("flags", &self.flags)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key for `origin`, created, published and active at `now` (what `dnssec-keygen`
    /// sets); not yet written.
    pub(crate) fn generate(
        origin: &Name,
        algorithm: Algorithm,
        flags: u16,
        now: u64,
    ) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let failed =
            |e: &dyn std::fmt::Display| KeyError::Generate(algorithm.mnemonic(), e.to_string());
        let (private, public) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|e| failed(&e))?;
                split_p256_pkcs8(pkcs8.as_ref())
                    .ok_or_else(|| failed(&"ring's PKCS#8 document has an unexpected layout"))?
            }
            Algorithm::Ed25519 => {
                let mut seed = [0u8; 32];
                rng.fill(&mut seed).map_err(|e| failed(&e))?;
                let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| failed(&e))?;
                (seed.to_vec(), pair.public_key().as_ref().to_vec())
            }
        };
        let mut key = SigningKey::assemble(origin.clone(), algorithm, flags, &private, &public)
            .map_err(|e| failed(&e))?;
        key.timing = Timing {
            created: Some(now),
            publish: Some(now),
            activate: Some(now),
            ..Timing::default()
        };
        Ok(key)
    }

    /// The key from its public key and private key, which ring checks belong together.
    fn assemble(
        origin: Name,
        algorithm: Algorithm,
        flags: u16,
        private: &[u8],
        public: &[u8],
    ) -> Result<SigningKey, ring::error::KeyRejected> {
        let pair = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let rng = SystemRandom::new();
                let point = [&[0x04], public].concat();
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    private,
                    &point,
                    &rng,
                )?;
                Pair::Ecdsa(pair, rng)
            }
            Algorithm::Ed25519 => {
                Pair::Ed25519(Ed25519KeyPair::from_seed_and_public_key(private, public)?)
            }
        };
        let dnskey = dnskey_rdata(flags, algorithm, public);
        Ok(SigningKey {
            origin,
            flags,
            algorithm,
            tag: key_tag(&dnskey),
            dnskey: dnskey.into_boxed_slice(),
            private: private.into(),
            pair,
            timing: Timing::default(),
            ttl: None,
            kept: Vec::new(),
        })
    }

    /// Reads a key from its .key file and the .private beside it (`path` may name either, or
    /// their common stem). The timing is the .private's, as for BIND: the .key's comments only
    /// repeat it.
    pub(crate) fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let stem = name
            .strip_suffix(".key")
            .or_else(|| name.strip_suffix(".private"))
            .unwrap_or(&name);
        let key_path = path.with_file_name(format!("{stem}.key"));
        let private_path = path.with_file_name(format!("{stem}.private"));
        let public = parse_public(&key_path, &read_text(&key_path)?)?;
        let private = parse_private(&private_path, &read_text(&private_path)?)?;
        if private.algorithm != public.algorithm {
            return Err(KeyError::Malformed {
                file: private_path,
                line: private.algorithm_line,
                message: format!(
                    "algorithm {}, but {} has {}",
                    private.algorithm.number(),
                    key_path.display(),
                    public.algorithm.number()
                ),
            });
        }
        let public_key = &public.dnskey[4..];
        let mut key = SigningKey::assemble(
            public.owner,
            public.algorithm,
            public.flags,
            &private.key,
            public_key,
        )
        .map_err(|_| KeyError::Mismatch {
            private: private_path,
            public: key_path,
        })?;
        key.timing = private.timing;
        key.ttl = public.ttl;
        key.kept = private.kept;
        Ok(key)
    }

    /// Writes the key's .private (mode 0600) and .key (0644) into `dir`, each atomically (a
    /// temporary file, synced, renamed into place), and returns their paths (.key first). A file
    /// of that name holding another key (two keys of a zone with one tag) is left alone and is
    /// an error.
    pub(crate) fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
        let stem = self.file_stem();
        let key_path = dir.join(format!("{stem}.key"));
        let private_path = dir.join(format!("{stem}.private"));
        self.check_free(&private_path, |text| {
            parse_private(&private_path, text).is_ok_and(|p| *p.key == *self.private)
        })?;
        self.check_free(&key_path, |text| {
            parse_public(&key_path, text).is_ok_and(|p| *p.dnskey == *self.dnskey)
        })?;
        // The private file first: a crash between the two leaves a .private without its .key,
        // which nothing reads (keys are found by their .key files), never a .key whose private
        // key is missing.
        write_atomically(&private_path, self.private_text().as_bytes(), 0o600)?;
        write_atomically(&key_path, self.key_text().as_bytes(), 0o644)?;
        Ok((key_path, private_path))
    }

    /// Whether `path` is free for this key: missing, or holding this very key (`same` says).
    fn check_free(&self, path: &Path, same: impl Fn(&str) -> bool) -> Result<(), KeyError> {
        match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Ok(text) if same(&text) => Ok(()),
            _ => Err(KeyError::Occupied(path.to_path_buf())),
        }
    }

    /// The .key file: BIND's comments (role, tag, zone, times), then the DNSKEY record.
    fn key_text(&self) -> String {
        let revoked = if self.flags & REVOKE_FLAG != 0 {
            "revoked "
        } else {
            ""
        };
        let role = if self.is_sep() {
            "key-signing"
        } else {
            "zone-signing"
        };
        let mut text = format!(
            "; This is a {revoked}{role} key, keyid {}, for {}\n",
            self.tag, self.origin
        );
        for (tag, at) in self.timing.given() {
            let _ = writeln!(text, "; {tag}: {} ({})", time::timestamp(at), ctime(at));
        }
        let ttl = self.ttl.map(|ttl| format!("{ttl} ")).unwrap_or_default();
        let _ = writeln!(
            text,
            "{} {ttl}IN DNSKEY {} {PROTOCOL} {} {}",
            self.origin,
            self.flags,
            self.algorithm.number(),
            BASE64.encode(self.public_key())
        );
        text
    }

    /// The .private file, in BIND's order: format, algorithm, key, times, the other metadata.
    fn private_text(&self) -> String {
        let mut text = format!(
            "Private-key-format: {PRIVATE_FORMAT}\nAlgorithm: {} ({})\nPrivateKey: {}\n",
            self.algorithm.number(),
            self.algorithm.mnemonic(),
            BASE64.encode(&self.private)
        );
        for (tag, at) in self.timing.given() {
            let _ = writeln!(text, "{tag}: {}", time::timestamp(at));
        }
        for line in &self.kept {
            let _ = writeln!(text, "{line}");
        }
        text
    }

    /// The signature over `data`: r and s of 32 octets each for ECDSA (RFC 6605 §4), or the
    /// Ed25519 signature (RFC 8080 §3).
    pub(crate) fn sign(&self, data: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ecdsa(pair, rng) => pair
                .sign(rng, data)
                .expect("the system's random number generator answers")
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(data).as_ref().to_vec(),
        }
    }

    /// The DS RDATA for this key (RFC 4034 §5.1.4: the digest of the canonical owner name and
    /// the DNSKEY RDATA).
    pub(crate) fn ds_rdata(&self, digest: DigestType) -> Vec<u8> {
        let mut context = ring::digest::Context::new(digest.ring());
        context.update(self.origin.to_lowercase().as_wire());
        context.update(&self.dnskey);
        let mut ds = self.tag.to_be_bytes().to_vec();
        ds.push(self.algorithm.number());
        ds.push(digest.number());
        ds.extend_from_slice(context.finish().as_ref());
        ds
    }

    /// The DNSKEY record in presentation format, one line.
    pub(crate) fn dnskey_text(&self, ttl: u32) -> String {
        format!(
            "{} {ttl} IN DNSKEY {} {PROTOCOL} {} {}",
            self.origin,
            self.flags,
            self.algorithm.number(),
            BASE64.encode(self.public_key())
        )
    }

    /// The DS record in presentation format, as `dnssec-dsfromkey` prints it.
    pub(crate) fn ds_text(&self, digest: DigestType) -> String {
        format!(
            "{} IN DS {} {} {} {}",
            self.origin,
            self.tag,
            self.algorithm.number(),
            digest.number(),
            HEXUPPER.encode(&self.ds_rdata(digest)[4..])
        )
    }

    /// The key files' name without `.key` or `.private`: `K<zone>+<alg>+<tag>`, the zone as BIND
    /// writes it in file names ([`file_name_text`]).
    pub(crate) fn file_stem(&self) -> String {
        format!(
            "K{}+{:03}+{:05}",
            file_name_text(&self.origin),
            self.algorithm.number(),
            self.tag
        )
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn flags(&self) -> u16 {
        self.flags
    }

    /// Whether the key has the SEP bit: a key-signing (or combined) key.
    pub(crate) fn is_sep(&self) -> bool {
        self.flags & SEP_FLAG != 0
    }

    /// The key tag (RFC 4034 Appendix B).
    pub(crate) fn tag(&self) -> u16 {
        self.tag
    }

    pub(crate) fn dnskey_rdata(&self) -> &[u8] {
        &self.dnskey
    }

    fn public_key(&self) -> &[u8] {
        &self.dnskey[4..]
    }

    pub(crate) fn timing(&self) -> &Timing {
        &self.timing
    }

    pub(crate) fn set_timing(&mut self, timing: Timing) {
        self.timing = timing;
    }
}

/// The keys of `origin` in `dir`: every `K<origin>+<alg>+<tag>.key` (the zone matched without
/// regard to case) with its .private. Other zones' keys, BIND's `.state` files and anything else
/// are passed over; a key of an algorithm splitdns does not sign with is an error, as is any
/// file that cannot be read. All errors are returned, not only the first.
pub(crate) fn read_dir(dir: &Path, origin: &Name) -> Result<Vec<SigningKey>, Vec<KeyError>> {
    let io = |e| vec![KeyError::Io(dir.to_path_buf(), e)];
    let prefix = format!("k{}+", file_name_text(origin));
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let Some(name) = name.to_str() else { continue };
        let lower = name.to_ascii_lowercase();
        let ids = lower
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".key"));
        if ids.is_some_and(is_alg_and_tag) {
            paths.push(dir.join(name));
        }
    }
    paths.sort();
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match SigningKey::read(&path) {
            Ok(key) => {
                let expected = format!("{}.key", key.file_stem()).to_ascii_lowercase();
                let named = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_ascii_lowercase());
                if named.as_deref() == Some(expected.as_str()) {
                    keys.push(key);
                } else {
                    errors.push(KeyError::Misnamed {
                        file: path,
                        holds: key.file_stem(),
                    });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(errors)
    }
}

/// `NNN+NNNNN`: an algorithm number and a key tag, as in a key file's name.
fn is_alg_and_tag(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    text.split_once('+')
        .is_some_and(|(alg, tag)| digits(alg) && digits(tag))
}

/// A zone's name as BIND writes it in key file names: lowercased, every octet other than a
/// letter, digit, `-` or `_` as `%XX`, each label followed by a dot (the root is `.`).
fn file_name_text(name: &Name) -> String {
    let wire = name.as_wire();
    if wire.len() == 1 {
        return ".".into();
    }
    let mut text = String::new();
    let mut at = 0;
    while wire[at] != 0 {
        let len = usize::from(wire[at]);
        for &octet in &wire[at + 1..at + 1 + len] {
            let octet = octet.to_ascii_lowercase();
            if octet.is_ascii_alphanumeric() || octet == b'-' || octet == b'_' {
                text.push(char::from(octet));
            } else {
                let _ = write!(text, "%{octet:02X}");
            }
        }
        text.push('.');
        at += len + 1;
    }
    text
}

/// The DNSKEY RDATA (RFC 4034 §2.1).
fn dnskey_rdata(flags: u16, algorithm: Algorithm, public: &[u8]) -> Vec<u8> {
    let mut rdata = flags.to_be_bytes().to_vec();
    rdata.push(PROTOCOL);
    rdata.push(algorithm.number());
    rdata.extend_from_slice(public);
    rdata
}

/// The key tag of a DNSKEY RDATA (RFC 4034 Appendix B; algorithm 1's exception does not apply
/// to the algorithms here).
fn key_tag(rdata: &[u8]) -> u16 {
    let mut sum: u32 = rdata
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if i % 2 == 0 {
                u32::from(b) << 8
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum += sum >> 16;
    sum as u16
}

/// The private scalar and the public key (x and y) of ring's PKCS#8 document for a P-256 key
/// (the layout of [`P256_PKCS8_PREFIX`]).
fn split_p256_pkcs8(document: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let rest = document.strip_prefix(&P256_PKCS8_PREFIX[..])?;
    let (scalar, rest) = rest.split_at_checked(32)?;
    let point = rest
        .strip_prefix(&P256_PKCS8_MIDDLE[..])?
        .strip_prefix(&[0x04])?;
    (point.len() == 64).then(|| (scalar.to_vec(), point.to_vec()))
}

/// Unix seconds as C's `ctime` writes them (`Mon Dec  7 11:49:10 2026`), in UTC: how BIND's
/// comments in the .key file show each time.
fn ctime(at: u64) -> String {
    // 1970-01-01 was a Thursday.
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = at / 86_400;
    let (year, month, day) = time::civil_from_days(days as i64);
    let rem = at % 86_400;
    format!(
        "{} {} {day:>2} {:02}:{:02}:{:02} {year}",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A time in a .private file. BIND keeps these times in 32 bits and writes one more than 68
/// years ahead as the date 2^32 seconds earlier (a key timed for 2099 reads `1962…`), which it
/// takes back as the later one; so does this.
fn bind_time(text: &str) -> Option<u64> {
    let seconds = time::parse_civil(text.as_bytes())?;
    let seconds = if seconds < 0 {
        seconds + (1 << 32)
    } else {
        seconds
    };
    u64::try_from(seconds).ok()
}

fn read_text(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|e| KeyError::Io(path.to_path_buf(), e))
}

/// Writes `contents` to `path` so that a crash leaves the old file or the new one, never part
/// of one: a temporary file beside it, created with `mode`, synced, renamed over it, and the
/// directory synced so that the rename itself is kept.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        // One left by a crashed process that had the same id.
        let _ = std::fs::remove_file(&temporary);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(KeyError::Io(temporary, e));
    }
    if let Err(e) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(KeyError::Io(path.to_path_buf(), e));
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| KeyError::Io(dir.to_path_buf(), e))
}

/// What a .key file says: its one DNSKEY record.
struct Public {
    owner: Name,
    ttl: Option<u32>,
    flags: u16,
    algorithm: Algorithm,
    dnskey: Vec<u8>,
}

/// Reads a .key file: `;` comment lines, and one `<owner> [<ttl>] [IN] DNSKEY <flags> 3 <alg>
/// <base64>` record (the base64 may have spaces).
fn parse_public(file: &Path, text: &str) -> Result<Public, KeyError> {
    let mut found = None;
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let malformed = |message: String| KeyError::Malformed {
            file: file.to_path_buf(),
            line: line_number,
            message,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if found.is_some() {
            return Err(malformed(
                "a second record: a .key file holds one DNSKEY record".into(),
            ));
        }
        let mut tokens = line.split_whitespace();
        let owner_text = tokens.next().unwrap_or_default();
        let owner = Name::parse(owner_text, None)
            .map_err(|e| malformed(format!("the owner {owner_text:?}: {e}")))?;
        let (mut ttl, mut class) = (None, false);
        loop {
            match tokens.next() {
                Some(t) if t.eq_ignore_ascii_case("DNSKEY") => break,
                Some(t) if t.eq_ignore_ascii_case("IN") && !class => class = true,
                Some(t) if ttl.is_none() && t.parse::<u32>().is_ok() => ttl = t.parse().ok(),
                other => {
                    return Err(malformed(format!(
                        "expected `{owner_text} [TTL] IN DNSKEY FLAGS 3 ALGORITHM KEY`, found {}",
                        other.map_or("the end of the line".into(), |t| format!("{t:?}"))
                    )));
                }
            }
        }
        let mut field = |what: &str| {
            tokens
                .next()
                .ok_or_else(|| malformed(format!("the DNSKEY record ends before its {what}")))
        };
        let flags_text = field("flags")?;
        let protocol_text = field("protocol")?;
        let algorithm_text = field("algorithm")?;
        let flags: u16 = flags_text.parse().map_err(|_| {
            malformed(format!(
                "flags {flags_text:?}: expected a number up to 65535"
            ))
        })?;
        if flags & ZONE_FLAG == 0 {
            return Err(malformed(format!(
                "flags {flags}: not a zone key (the ZONE bit, 256, is not set)"
            )));
        }
        if protocol_text != PROTOCOL.to_string() {
            return Err(malformed(format!("protocol {protocol_text:?}: must be 3")));
        }
        let number: u8 = algorithm_text
            .parse()
            .map_err(|_| malformed(format!("algorithm {algorithm_text:?}: expected a number")))?;
        let algorithm = Algorithm::from_number(number).ok_or_else(|| KeyError::Unsupported {
            file: file.to_path_buf(),
            line: line_number,
            number,
        })?;
        let encoded: String = tokens.collect();
        let public = BASE64
            .decode(encoded.as_bytes())
            .map_err(|e| malformed(format!("the public key is not base64: {e}")))?;
        if public.len() != algorithm.public_key_len() {
            return Err(malformed(format!(
                "the public key has {} octets; an {} key has {}",
                public.len(),
                algorithm.mnemonic(),
                algorithm.public_key_len()
            )));
        }
        found = Some(Public {
            owner,
            ttl,
            flags,
            algorithm,
            dnskey: dnskey_rdata(flags, algorithm, &public),
        });
    }
    found.ok_or_else(|| KeyError::Incomplete {
        file: file.to_path_buf(),
        what: "no DNSKEY record in it",
    })
}

/// What a .private file says.
struct Private {
    algorithm: Algorithm,
    algorithm_line: usize,
    key: Vec<u8>,
    timing: Timing,
    kept: Vec<String>,
}

/// Reads a .private file: `Tag: value` lines, `Private-key-format: v1.x` first.
fn parse_private(file: &Path, text: &str) -> Result<Private, KeyError> {
    let mut algorithm = None;
    let mut key = None;
    let mut timing = Timing::default();
    let mut kept = Vec::new();
    let mut format_seen = false;
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let malformed = |message: String| KeyError::Malformed {
            file: file.to_path_buf(),
            line: line_number,
            message,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((tag, value)) = line.split_once(':') else {
            return Err(malformed(format!("expected `Tag: value`, found {line:?}")));
        };
        let value = value.trim();
        if !format_seen {
            if tag != "Private-key-format" || !value.starts_with("v1.") {
                return Err(malformed(
                    "not a BIND private key file: its first line is to be `Private-key-format: v1.3`".into(),
                ));
            }
            format_seen = true;
            continue;
        }
        let twice = || malformed(format!("{tag} is given twice"));
        if tag == "Algorithm" {
            let number_text = value.split_whitespace().next().unwrap_or_default();
            let number: u8 = number_text
                .parse()
                .map_err(|_| malformed(format!("algorithm {number_text:?}: expected a number")))?;
            let found = Algorithm::from_number(number).ok_or_else(|| KeyError::Unsupported {
                file: file.to_path_buf(),
                line: line_number,
                number,
            })?;
            if algorithm.replace((found, line_number)).is_some() {
                return Err(twice());
            }
        } else if tag == "PrivateKey" {
            let encoded: String = value.split_whitespace().collect();
            let decoded = BASE64
                .decode(encoded.as_bytes())
                .map_err(|e| malformed(format!("the private key is not base64: {e}")))?;
            if key.replace((decoded, line_number)).is_some() {
                return Err(twice());
            }
        } else if let Some((_, slot)) = TIMES.iter().find(|(t, _)| *t == tag) {
            let at = bind_time(value).ok_or_else(|| {
                malformed(format!(
                    "{tag} {value:?}: expected a time as YYYYMMDDHHMMSS (UTC)"
                ))
            })?;
            if slot(&mut timing).replace(at).is_some() {
                return Err(twice());
            }
        } else {
            kept.push(line.to_string());
        }
    }
    let incomplete = |what| KeyError::Incomplete {
        file: file.to_path_buf(),
        what,
    };
    if !format_seen {
        return Err(incomplete("empty: not a BIND private key file"));
    }
    let (algorithm, algorithm_line) = algorithm.ok_or_else(|| incomplete("no Algorithm line"))?;
    let (mut key, key_line) = key.ok_or_else(|| {
        incomplete(
            "no PrivateKey line (a key kept in an HSM or an OpenSSL engine is not supported)",
        )
    })?;
    // Older BIND versions wrote the P-256 scalar without its leading zero octets.
    if algorithm == Algorithm::EcdsaP256Sha256 && !key.is_empty() && key.len() < 32 {
        let mut padded = vec![0; 32 - key.len()];
        padded.extend_from_slice(&key);
        key = padded;
    }
    if key.len() != 32 {
        return Err(KeyError::Malformed {
            file: file.to_path_buf(),
            line: key_line,
            message: format!(
                "the private key has {} octets; an {} key has 32",
                key.len(),
                algorithm.mnemonic()
            ),
        });
    }
    Ok(Private {
        algorithm,
        algorithm_line,
        key,
        timing,
        kept,
    })
}

#[cfg(test)]
pub(crate) mod tests;
