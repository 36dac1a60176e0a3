//! `splitdns dnssec ds ZONE` and `splitdns dnssec status`: what an admin asks of the signed
//! zones' keys without asking the server — the DS records to give the parent (the registrar),
//! and each key's role, state and next timing event. Both read the config and the key files in
//! `state_dir/keys` as `serve` does, and neither makes a key: `serve` makes a zone's first keys,
//! BIND's `dnssec-keygen` and `dnssec-settime` can make and time any other.
//! `splitdns dnssec ds-seen ZONE` tells the keys that the parent serves the new DS of a KSK or
//! CSK rollover: it writes the old key's retirement into its files, and asks the running server
//! to reload when the config has a control listener.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::ValueEnum;

use super::report_load_error;
use crate::config::{self, Config};
use crate::dns::name::Name;
use crate::dns::time;
use crate::dnssec::key::{self, DigestType, KeyError, SigningKey};
use crate::dnssec::keyring::{self, Create, ZoneKeys};
use crate::dnssec::{Denial, Policy};
use crate::load::LoadError;
use crate::load::sign::{key_dir, signed_zones};

/// The DS digest printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Digest {
    /// SHA-256 (2): what every registry takes (RFC 8624 §3.3).
    Sha256,
    /// SHA-384 (4).
    Sha384,
}

impl Digest {
    fn digest_type(self) -> DigestType {
        match self {
            Digest::Sha256 => DigestType::Sha256,
            Digest::Sha384 => DigestType::Sha384,
        }
    }
}

pub fn ds(config_path: &Path, zone: &str, digest: Digest, dnskey: bool) -> ExitCode {
    let Some(config) = load_config(config_path) else {
        return ExitCode::FAILURE;
    };
    match render_ds(&config, zone, digest, dnskey, unix_now()) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

pub fn status(config_path: &Path) -> ExitCode {
    let Some(config) = load_config(config_path) else {
        return ExitCode::FAILURE;
    };
    let (text, ok) = render_status(&config, unix_now());
    print!("{text}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The config alone: the zone files play no part in the keys, and a zone file that does not
/// load must not keep an admin from the DS records.
fn load_config(path: &Path) -> Option<Config> {
    config::load(path)
        .map_err(|errors| report_load_error(&LoadError::Config(errors)))
        .ok()
}

/// The DS records of the zone's published key-signing keys (KSKs, or the CSK), each followed
/// by its DNSKEY with `dnskey`; or why there are none.
pub(crate) fn render_ds(
    config: &Config,
    zone: &str,
    digest: Digest,
    dnskey: bool,
    now: u64,
) -> Result<String, String> {
    let origin = Name::parse(zone, Some(&Name::root()))
        .map_err(|e| format!("{zone:?} is not a zone name: {e}"))?;
    let (origin, policy) = signed_zone(config, &origin)?;
    let keys = zone_keys(config, &origin, &policy, now)?;
    let sep: Vec<&Arc<SigningKey>> = keys.published.iter().filter(|k| k.is_sep()).collect();
    if sep.is_empty() {
        return Err(format!(
            "{origin}: no key-signing key is published now (see `splitdns dnssec status`)"
        ));
    }
    let mut text = String::new();
    for key in sep {
        let _ = writeln!(text, "{}", key.ds_text(digest.digest_type()));
        if dnskey {
            let _ = writeln!(
                text,
                "{}",
                key.dnskey_text(policy.rollover.dnskey_ttl.as_secs() as u32)
            );
        }
    }
    Ok(text)
}

/// The signed zone `origin` (a `[[zone]]` with `dnssec`, or an Autodiscover SRV zone an
/// `[[exchange]]` block synthesises) with its policy, or why it is none.
fn signed_zone(config: &Config, origin: &Name) -> Result<(Name, Arc<Policy>), String> {
    let origin = origin.to_lowercase();
    if let Some(zone) = signed_zones(config)
        .into_iter()
        .find(|z| z.origin == origin)
    {
        return Ok((zone.origin, zone.policy));
    }
    if config.zones.iter().any(|z| z.origin == origin) {
        return Err(format!(
            "{origin} is not signed: its [[zone]] has no `dnssec` (dnssec = true signs it with the default policy)"
        ));
    }
    let mut zones: Vec<String> = config.zones.iter().map(|z| z.origin.to_string()).collect();
    for zone in signed_zones(config) {
        let zone = zone.origin.to_string();
        if !zones.contains(&zone) {
            zones.push(zone);
        }
    }
    Err(format!(
        "{origin} is not a zone of {} (its zones: {})",
        config.path.display(),
        zones.join(", ")
    ))
}

/// `splitdns dnssec ds-seen ZONE`: the parent serves the DS of the key rolled in, so each
/// KSK or CSK it replaces retires (see [`keyring::ds_seen`]); then the running server is asked to
/// reload, if the config says where.
pub fn ds_seen(config_path: &Path, zone: &str) -> ExitCode {
    let Some(config) = load_config(config_path) else {
        return ExitCode::FAILURE;
    };
    let retired = Name::parse(zone, Some(&Name::root()))
        .map_err(|e| format!("{zone:?} is not a zone name: {e}"))
        .and_then(|origin| signed_zone(&config, &origin))
        .and_then(|(origin, policy)| {
            let dir = keys_dir(&config, &origin)?;
            keyring::ds_seen(&dir, &origin, &policy, unix_now())
                .map(|retired| (origin, retired))
                .map_err(|errors| key_errors(&errors))
        });
    let (origin, retired) = match retired {
        Ok(done) => done,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    if retired.is_empty() {
        println!(
            "{origin}: no key is being replaced (no KSK or CSK has its CDS withdrawn): nothing to retire"
        );
        return ExitCode::SUCCESS;
    }
    for (tag, inactive) in &retired {
        println!(
            "{origin}: key {tag} stops signing at {} (the old DS gone from every cache), then leaves the DNSKEY set",
            time::utc(*inactive)
        );
    }
    match config.control {
        Some(_) => super::control::reload(None, config_path),
        None => {
            println!("reload splitdns (systemctl reload splitdns, or SIGHUP) to apply it");
            ExitCode::SUCCESS
        }
    }
}

/// The zone's keys at `now` as `serve` sees them, or why they cannot be told.
fn zone_keys(
    config: &Config,
    origin: &Name,
    policy: &Policy,
    now: u64,
) -> Result<ZoneKeys, String> {
    let dir = keys_dir(config, origin)?;
    match keyring::zone_keys(&dir, origin, policy, now, Create::No) {
        Ok(Some(keys)) => Ok(keys),
        Ok(None) => Err(format!("{origin}: {}", no_keys(&dir))),
        Err(errors) => Err(key_errors(&errors)),
    }
}

/// Every key of the zone in its directory (also those not published now), or why they cannot
/// be read; none (and where they would be) before the zone's first keys are made.
fn all_keys(config: &Config, origin: &Name) -> Result<(Vec<Arc<SigningKey>>, PathBuf), String> {
    let dir = keys_dir(config, origin)?;
    let keys = if dir.exists() {
        key::read_dir(&dir, origin).map_err(|errors| key_errors(&errors))?
    } else {
        Vec::new()
    };
    Ok((keys.into_iter().map(Arc::new).collect(), dir))
}

/// Where the zone's keys are: `keys/` in the state directory.
fn keys_dir(config: &Config, origin: &Name) -> Result<PathBuf, String> {
    config.state_dir.as_deref().map(key_dir).ok_or_else(|| {
        format!(
            "{origin}: no state_dir in {}, so no keys",
            config.path.display()
        )
    })
}

fn no_keys(dir: &Path) -> String {
    format!(
        "no keys in {} yet: splitdns makes them when it first serves the zone signed (start or reload it), or put keys made by dnssec-keygen there",
        dir.display()
    )
}

/// The key errors, one per line, each naming its file (and line).
fn key_errors(errors: &[KeyError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every signed zone: its policy, then one line per key — role, tag, flags, algorithm, state,
/// whether its CDS and CDNSKEY are published, and its next timing event. `false` when a zone's
/// key files could not be read.
pub(crate) fn render_status(config: &Config, now: u64) -> (String, bool) {
    let mut text = String::new();
    let mut ok = true;
    let signed: Vec<_> = signed_zones(config)
        .into_iter()
        .map(|z| (z.origin, z.policy))
        .collect();
    if signed.is_empty() {
        text.push_str("no zone is signed\n");
    }
    for (origin, policy) in signed {
        let shape = if policy.split { "KSK+ZSK" } else { "CSK" };
        let denial = match policy.denial {
            Denial::Nsec => "NSEC",
            Denial::Nsec3 => "NSEC3",
        };
        let _ = writeln!(
            text,
            "{origin}  policy {:?}: {}, {shape}, {denial}",
            policy.name,
            policy.algorithm.mnemonic()
        );
        match all_keys(config, &origin) {
            Ok((all, dir)) if all.is_empty() => {
                let _ = writeln!(text, "  {}", no_keys(&dir));
            }
            Ok((all, _)) => key_lines(&mut text, &all, &keyring::roles(all.clone(), now), now),
            Err(message) => {
                ok = false;
                for line in message.lines() {
                    let _ = writeln!(text, "  {line}");
                }
            }
        }
    }
    (text, ok)
}

/// The lines of a zone's keys, every key in the directory (also those not published now).
fn key_lines(text: &mut String, all: &[Arc<SigningKey>], zone: &ZoneKeys, now: u64) {
    let has =
        |set: &[Arc<SigningKey>], key: &Arc<SigningKey>| set.iter().any(|k| Arc::ptr_eq(k, key));
    let reached = |at: Option<u64>| at.is_some_and(|at| at <= now);
    // A key with the SEP bit that signs the data too is a CSK: one that does now, or, for one
    // that signs nothing now, one of a zone with no key without the bit (left out: removed ones).
    let only_sep = all.iter().all(|k| k.is_sep() || reached(k.timing().delete));
    for key in all {
        let timing = key.timing();
        let active = has(&zone.data_keys, key) || has(&zone.key_keys, key);
        let role = if !key.is_sep() {
            "ZSK"
        } else if has(&zone.data_keys, key) || (!active && only_sep) {
            "CSK"
        } else {
            "KSK"
        };
        let state = if reached(timing.delete) {
            "removed"
        } else if active {
            "active"
        } else if has(&zone.published, key) {
            if reached(timing.inactive) {
                "retired"
            } else {
                "published"
            }
        } else {
            "pending"
        };
        let sync = if has(&zone.sync, key) {
            "CDS published"
        } else {
            ""
        };
        let next = timing
            .given()
            .into_iter()
            .filter(|&(tag, at)| tag != "Created" && at > now)
            .min_by_key(|&(_, at)| at)
            .map_or("none".to_string(), |(tag, at)| {
                format!("{tag} {}", time::utc(at))
            });
        let _ = writeln!(
            text,
            "  {role} {:>5}  flags {}  {:<15}  {state:<9}  {sync:<13}  next: {next}",
            key.tag(),
            key.flags(),
            key.algorithm().mnemonic(),
        );
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
