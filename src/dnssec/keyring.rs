//! A zone's keys in the state directory, and what each does at a given moment. The key files are
//! BIND's (`K<zone>.+<alg>+<tag>.key` and `.private`), and so is the meaning of their timing
//! metadata: a key is in the DNSKEY set from `Publish` until `Delete`, signs from `Activate`
//! until `Inactive`, and has its CDS and CDNSKEY published from `SyncPublish` until
//! `SyncDelete`. What a key does follows from its flags: a key with the SEP bit (257) signs the
//! key sets, one without (256) the data, and when no active key lacks the bit the SEP keys sign
//! everything (a combined signing key, CSK). So keys made by `dnssec-keygen` and timed with
//! `dnssec-settime` are used as they are, and splitdns's own rollovers are key timings too.

use std::path::Path;
use std::sync::Arc;

use super::Policy;
use super::key::{self, Algorithm, DigestType, KeyError, SigningKey, Timing};
use crate::dns::name::Name;

/// The flags of a key-signing (or combined) key: ZONE and SEP.
pub(crate) const KSK_FLAGS: u16 = 257;
/// The flags of a zone-signing key: ZONE.
pub(crate) const ZSK_FLAGS: u16 = 256;

/// A zone's keys at one moment.
#[derive(Debug, Default)]
pub(crate) struct ZoneKeys {
    /// In the DNSKEY set.
    pub published: Vec<Arc<SigningKey>>,
    /// Sign the zone's data.
    pub data_keys: Vec<Arc<SigningKey>>,
    /// Sign DNSKEY, CDS and CDNSKEY.
    pub key_keys: Vec<Arc<SigningKey>>,
    /// Have their CDS and CDNSKEY published.
    pub sync: Vec<Arc<SigningKey>>,
    /// The next moment (Unix seconds) a key's role changes, if any is set.
    pub next_change: Option<u64>,
    /// A KSK or CSK rollover waits for the parent: the DS of the keys rolled in, and of those
    /// they replace (see [`ds_seen`]).
    pub awaiting_ds: Option<AwaitingDs>,
}

/// The DS records (SHA-256 RDATA) a parent serves once a KSK or CSK rollover may go on: the new
/// keys' present, the old keys' gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwaitingDs {
    pub new: Vec<Vec<u8>>,
    pub old: Vec<Vec<u8>>,
}

/// Whether a missing key set may be made: at start and reload yes, in `check` no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    Yes,
    No,
}

/// The keys of `origin` in `dir` at `now`. With none there, `create` makes them as the policy
/// says (and `Ok(None)` without it). A key whose algorithm differs from the policy's is used all
/// the same: an algorithm rollover is the admin's, by key timings.
pub(crate) fn zone_keys(
    dir: &Path,
    origin: &Name,
    policy: &Policy,
    now: u64,
    create: Create,
) -> Result<Option<ZoneKeys>, Vec<KeyError>> {
    let mut keys = if dir.exists() {
        key::read_dir(dir, origin)?
    } else {
        Vec::new()
    };
    if keys.is_empty() {
        if create == Create::No {
            return Ok(None);
        }
        keys = generate(dir, origin, policy, now).map_err(|e| vec![e])?;
    }
    let next_roll = match create {
        Create::Yes => roll(dir, origin, policy, &mut keys, now).map_err(|e| vec![e])?,
        Create::No => None,
    };
    let mut zone = roles(keys.into_iter().map(Arc::new).collect(), now);
    zone.next_change = [zone.next_change, next_roll].into_iter().flatten().min();
    Ok(Some(zone))
}

/// Starts each rollover the policy's lifetimes make due at `now` (RFC 7583): a successor is
/// published, and signs once its DNSKEY is in every cache (Ipub later). A ZSK's predecessor
/// stops signing then and leaves the DNSKEY set once its signatures have left the caches
/// (pre-publication, §3.2.1). A KSK's or CSK's successor signs beside it (both sign what each
/// signs) and its CDS and CDNSKEY replace the predecessor's, asking the parent to swap the DS;
/// the predecessor retires only when told the parent has the new DS ([`ds_seen`]), since a
/// validator holding the old DS needs its signatures until then (double KSK, §3.3.1).
/// The successor's timing and the predecessor's are written to their files. Returns when the
/// next rollover is due.
fn roll(
    dir: &Path,
    origin: &Name,
    policy: &Policy,
    keys: &mut Vec<SigningKey>,
    now: u64,
) -> Result<Option<u64>, KeyError> {
    let rollover = &policy.rollover;
    let publish = rollover.publish_interval();
    reshape(dir, origin, policy, keys, now)?;
    let mut next = None;
    for sep in [true, false] {
        let lifetime = if sep {
            rollover.key_lifetime
        } else {
            rollover.zsk_lifetime
        };
        let Some(lifetime) = lifetime.map(|l| l.as_secs()) else {
            continue;
        };
        let Some(current) = keys
            .iter()
            .position(|key| key.is_sep() == sep && signing_without_successor(key, now))
        else {
            continue;
        };
        let activated = {
            let t = keys[current].timing();
            t.activate.or(t.created).unwrap_or(now)
        };
        let succeeded = keys.iter().enumerate().any(|(index, key)| {
            index != current
                && key.is_sep() == sep
                && key.timing().delete.is_none()
                && key.timing().activate.is_some_and(|at| at > activated)
        });
        if succeeded {
            continue;
        }
        let due = (activated + lifetime).saturating_sub(publish);
        if now < due {
            next = [next, Some(due)].into_iter().flatten().min();
            continue;
        }
        let flags = if sep { KSK_FLAGS } else { ZSK_FLAGS };
        let activate = if sep {
            now + publish
        } else {
            (now + publish).max(activated + lifetime)
        };
        // Of its predecessor's algorithm: a change of algorithm is a rollover of its own (RFC
        // 6781 §4.1.4), not made here.
        let algorithm = keys[current].algorithm();
        let successor = make_key(dir, origin, algorithm, flags, now, |timing| {
            timing.publish = Some(now);
            timing.activate = Some(activate);
            if sep {
                timing.sync_publish = Some(activate);
            }
        })?;
        let mut retiring = keys[current].timing().clone();
        if sep {
            retiring.sync_delete = Some(activate);
        } else {
            retiring.inactive = Some(activate);
            retiring.delete = Some(activate + rollover.retire_interval());
        }
        keys[current].set_timing(retiring);
        keys[current].write(dir)?;
        tracing::info!(
            "zone {origin}: {} rollover started: key {} is published and signs from {activate}, replacing key {}",
            if sep { "KSK/CSK" } else { "ZSK" },
            successor.tag(),
            keys[current].tag()
        );
        keys.push(successor);
    }
    Ok(next)
}

/// Brings the keys to the policy's shape. A zone signed by a CSK alone under a policy of
/// `ksk+zsk` gets a ZSK, published first, which takes the data over from the CSK once its DNSKEY
/// is cached (the CSK, now a KSK, keeps signing the key sets). A zone with a ZSK under a `csk`
/// policy has its ZSKs stop signing at once — its KSK, whose DNSKEY every validator holds
/// already, signs the data from then on — and leave once their signatures have left the caches.
/// (A change of algorithm is an algorithm rollover, which splitdns leaves to the admin: new keys
/// take the algorithm of those there are.)
fn reshape(
    dir: &Path,
    origin: &Name,
    policy: &Policy,
    keys: &mut Vec<SigningKey>,
    now: u64,
) -> Result<(), KeyError> {
    let rollover = &policy.rollover;
    let reached = |at: Option<u64>| at.is_some_and(|at| at <= now);
    let signing_zsk = |key: &SigningKey| {
        !key.is_sep() && !reached(key.timing().inactive) && !reached(key.timing().delete)
    };
    if policy.split && !keys.iter().any(signing_zsk) {
        let activate = now + rollover.publish_interval();
        // Of the KSK's algorithm: the zone keeps one algorithm (RFC 6781 §4.1.4).
        let algorithm = keys
            .iter()
            .find(|key| key.is_sep() && !reached(key.timing().inactive))
            .map_or(policy.algorithm, SigningKey::algorithm);
        let zsk = make_key(dir, origin, algorithm, ZSK_FLAGS, now, |timing| {
            timing.publish = Some(now);
            timing.activate = Some(activate);
        })?;
        tracing::info!(
            "zone {origin}: policy {:?} splits the keys: ZSK {} is published and signs the data from {activate}",
            policy.name,
            zsk.tag()
        );
        keys.push(zsk);
    } else if !policy.split {
        for key in keys.iter_mut().filter(|key| signing_zsk(key)) {
            let mut timing = key.timing().clone();
            timing.inactive = Some(now);
            timing.delete = Some(now + rollover.retire_interval());
            key.set_timing(timing);
            key.write(dir)?;
            tracing::info!(
                "zone {origin}: policy {:?} has one key: ZSK {} stops signing, the KSK signs the data",
                policy.name,
                key.tag()
            );
        }
    }
    Ok(())
}

/// Whether `key` signs at `now` and no rollover has begun to replace it.
fn signing_without_successor(key: &SigningKey, now: u64) -> bool {
    let t = key.timing();
    let reached = |at: Option<u64>| at.is_some_and(|at| at <= now);
    (t.activate.is_none() || reached(t.activate))
        && t.inactive.is_none()
        && t.delete.is_none()
        && t.sync_delete.is_none()
}

/// The parent has the DS of the key(s) rolled in for `origin`: each KSK or CSK being replaced
/// (its CDS withdrawn) stops signing once the old DS has left every cache, and leaves the
/// DNSKEY set once its signatures have. Returns the tags retired, with when each stops signing.
pub(crate) fn ds_seen(
    dir: &Path,
    origin: &Name,
    policy: &Policy,
    now: u64,
) -> Result<Vec<(u16, u64)>, Vec<KeyError>> {
    let rollover = &policy.rollover;
    let mut retired = Vec::new();
    for mut key in key::read_dir(dir, origin)? {
        let t = key.timing().clone();
        let replaced =
            key.is_sep() && t.sync_delete.is_some_and(|at| at <= now) && t.inactive.is_none();
        if !replaced {
            continue;
        }
        let inactive = now + rollover.ds_interval();
        let mut timing = t;
        timing.inactive = Some(inactive);
        timing.delete = Some(inactive + rollover.retire_interval());
        key.set_timing(timing);
        key.write(dir).map_err(|e| vec![e])?;
        retired.push((key.tag(), inactive));
    }
    Ok(retired)
}

/// A new key set for `origin`, written to `dir`: one CSK, or a KSK and a ZSK.
fn generate(
    dir: &Path,
    origin: &Name,
    policy: &Policy,
    now: u64,
) -> Result<Vec<SigningKey>, KeyError> {
    std::fs::create_dir_all(dir).map_err(|e| KeyError::Io(dir.to_path_buf(), e))?;
    let flags: &[u16] = if policy.split {
        &[KSK_FLAGS, ZSK_FLAGS]
    } else {
        &[KSK_FLAGS]
    };
    let mut keys = Vec::new();
    for &flags in flags {
        keys.push(make_key(
            dir,
            origin,
            policy.algorithm,
            flags,
            now,
            |timing| {
                if flags == KSK_FLAGS {
                    // Nothing is cached of a zone signed for the first time: the parent may take the
                    // DS (RFC 8078 §3) at once.
                    timing.sync_publish = Some(now);
                }
            },
        )?);
    }
    Ok(keys)
}

/// A new key of `algorithm`, its timing set by `timed`, written to `dir`. A key whose
/// tag another key of the zone has (one chance in 65536) is made again: the tag is in the file
/// name.
fn make_key(
    dir: &Path,
    origin: &Name,
    algorithm: Algorithm,
    flags: u16,
    now: u64,
    timed: impl Fn(&mut Timing),
) -> Result<SigningKey, KeyError> {
    loop {
        let mut key = SigningKey::generate(origin, algorithm, flags, now)?;
        let mut timing = key.timing().clone();
        timed(&mut timing);
        key.set_timing(timing);
        match key.write(dir) {
            Ok(_) => return Ok(key),
            Err(KeyError::Occupied(_)) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What each key does at `now`, by its timing metadata and flags.
pub(crate) fn roles(keys: Vec<Arc<SigningKey>>, now: u64) -> ZoneKeys {
    let reached = |at: Option<u64>| at.is_some_and(|t| t <= now);
    let mut zone = ZoneKeys::default();
    for key in &keys {
        let t: &Timing = key.timing();
        // A key without a Publish or Activate time is published and active from its creation
        // (what BIND does with a key whose metadata leaves them unset).
        let published = (t.publish.is_none() || reached(t.publish)) && !reached(t.delete);
        let active =
            published && (t.activate.is_none() || reached(t.activate)) && !reached(t.inactive);
        if published {
            zone.published.push(key.clone());
        }
        if active {
            if key.is_sep() {
                zone.key_keys.push(key.clone());
            } else {
                zone.data_keys.push(key.clone());
            }
        }
        if key.is_sep() && published && reached(t.sync_publish) && !reached(t.sync_delete) {
            zone.sync.push(key.clone());
        }
        for at in [
            t.publish,
            t.activate,
            t.inactive,
            t.delete,
            t.sync_publish,
            t.sync_delete,
        ]
        .into_iter()
        .flatten()
        .filter(|&at| at > now)
        {
            zone.next_change = Some(zone.next_change.map_or(at, |next| next.min(at)));
        }
    }
    if zone.data_keys.is_empty() {
        zone.data_keys = zone.key_keys.clone();
    }
    let replaced: Vec<Vec<u8>> = keys
        .iter()
        .filter(|key| {
            key.is_sep() && reached(key.timing().sync_delete) && key.timing().inactive.is_none()
        })
        .map(|key| key.ds_rdata(DigestType::Sha256))
        .collect();
    if !replaced.is_empty() && !zone.sync.is_empty() {
        zone.awaiting_ds = Some(AwaitingDs {
            new: zone
                .sync
                .iter()
                .map(|key| key.ds_rdata(DigestType::Sha256))
                .collect(),
            old: replaced,
        });
    }
    zone
}
