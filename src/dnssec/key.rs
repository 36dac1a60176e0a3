//! TEMPORARY stand-in until the keys branch lands (not committed).
#![allow(dead_code)]
use crate::dns::name::Name;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    EcdsaP256Sha256,
    Ed25519,
}
impl Algorithm {
    pub(crate) fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }
    pub(crate) fn signature_len(self) -> usize {
        64
    }
    pub(crate) fn parse(text: &str) -> Option<Algorithm> {
        match text.to_ascii_lowercase().as_str() {
            "ecdsap256sha256" | "13" => Some(Algorithm::EcdsaP256Sha256),
            "ed25519" | "15" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
    pub(crate) fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }
}
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
pub(crate) struct SigningKey {
    origin: Name,
    flags: u16,
    tag: u16,
    dnskey: Vec<u8>,
    pkcs8: Vec<u8>,
    pair: EcdsaKeyPair,
    timing: Timing,
}
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.tag)
    }
}
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("{0}")]
    Other(String),
    #[error("{0}: {1}")]
    Io(std::path::PathBuf, std::io::Error),
}
pub(crate) enum DigestType {
    Sha256,
}
impl SigningKey {
    pub(crate) fn generate(
        origin: &Name,
        _algorithm: Algorithm,
        flags: u16,
        now: u64,
    ) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let t = Timing {
            created: Some(now),
            publish: Some(now),
            activate: Some(now),
            ..Default::default()
        };
        Ok(SigningKey::from_pkcs8(origin, flags, doc.as_ref(), t))
    }
    fn from_pkcs8(origin: &Name, flags: u16, pkcs8: &[u8], timing: Timing) -> SigningKey {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .unwrap();
        let mut dnskey = vec![(flags >> 8) as u8, flags as u8, 3, 13];
        dnskey.extend_from_slice(&pair.public_key().as_ref()[1..]);
        let mut ac: u32 = 0;
        for (i, b) in dnskey.iter().enumerate() {
            ac += if i & 1 == 1 {
                *b as u32
            } else {
                (*b as u32) << 8
            };
        }
        ac += (ac >> 16) & 0xffff;
        SigningKey {
            origin: origin.to_lowercase(),
            flags,
            tag: ac as u16,
            dnskey,
            pkcs8: pkcs8.to_vec(),
            pair,
            timing,
        }
    }
    pub(crate) fn origin(&self) -> &Name {
        &self.origin
    }
    pub(crate) fn algorithm(&self) -> Algorithm {
        Algorithm::EcdsaP256Sha256
    }
    pub(crate) fn flags(&self) -> u16 {
        self.flags
    }
    pub(crate) fn is_sep(&self) -> bool {
        self.flags & 1 == 1
    }
    pub(crate) fn tag(&self) -> u16 {
        self.tag
    }
    pub(crate) fn dnskey_rdata(&self) -> &[u8] {
        &self.dnskey
    }
    pub(crate) fn timing(&self) -> &Timing {
        &self.timing
    }
    pub(crate) fn set_timing(&mut self, t: Timing) {
        self.timing = t
    }
    pub(crate) fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), data)
            .unwrap()
            .as_ref()
            .to_vec()
    }
    pub(crate) fn ds_rdata(&self, _d: DigestType) -> Vec<u8> {
        let mut input = self.origin.as_wire().to_vec();
        input.extend_from_slice(&self.dnskey);
        let digest = ring::digest::digest(&ring::digest::SHA256, &input);
        let mut ds = self.tag.to_be_bytes().to_vec();
        ds.push(13);
        ds.push(2);
        ds.extend_from_slice(digest.as_ref());
        ds
    }
    pub(crate) fn write(
        &self,
        dir: &std::path::Path,
    ) -> Result<(std::path::PathBuf, std::path::PathBuf), KeyError> {
        let kept = (
            dir.to_path_buf(),
            self.origin.clone(),
            self.flags,
            self.pkcs8.clone(),
            self.timing.clone(),
        );
        WRITTEN.lock().unwrap_or_else(|p| p.into_inner()).push(kept);
        Ok(Default::default())
    }
}
/// Until key files are written, what `write` would have written is kept for the life of the
/// process, so that a reload signs with the keys made at the start: a key set made anew at each
/// reload breaks every validating resolver's chain of trust (a restart still does).
type Written = (std::path::PathBuf, Name, u16, Vec<u8>, Timing);
static WRITTEN: std::sync::Mutex<Vec<Written>> = std::sync::Mutex::new(Vec::new());
pub(crate) fn read_dir(
    dir: &std::path::Path,
    origin: &Name,
) -> Result<Vec<SigningKey>, Vec<KeyError>> {
    let origin = origin.to_lowercase();
    let written = WRITTEN.lock().unwrap_or_else(|p| p.into_inner());
    Ok(written
        .iter()
        .filter(|(d, o, ..)| d == dir && *o == origin)
        .map(|(_, o, flags, pkcs8, timing)| {
            SigningKey::from_pkcs8(o, *flags, pkcs8, timing.clone())
        })
        .collect())
}
impl KeyError {}
