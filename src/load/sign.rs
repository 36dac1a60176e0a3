//! The signing stage of a load: each zone the config signs gets its keys from the state
//! directory (made there at its first start), and every view that serves it signed gets its
//! copy signed — the shared data once for all of them — keeping the signatures the previous
//! snapshot has for data that did not change. A view whose signatures changed while its serial
//! did not is served the next serial, where its serial is followed (as for any content change),
//! so that secondaries fetch the new signatures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::dns::name::Name;
use crate::dns::{rtype, soa};
use crate::dnssec::key::DigestType;
use crate::dnssec::keyring::{self, Create, ZoneKeys};
use crate::dnssec::rrsig::Validity;
use crate::dnssec::{Denial, Policy, Signer, nsec3};
use crate::located::Located;
use crate::view::Snapshot;
use crate::view::zone::{RRset, Rdata, SignedShared, Signing};

use super::serial;

/// Where a zone's keys are kept: `keys/` in the state directory.
pub(crate) fn key_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("keys")
}

/// What a signing pass depends on besides the data, as one number (see [`Signing::identity`]):
/// which keys sign what, the apex sets they publish, the denial and its TTL.
fn identity(keys: &ZoneKeys, apex_sets: &[Arc<RRset>], nsec3: bool, nsec_ttl: u32) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    for set in [&keys.data_keys, &keys.key_keys] {
        set.len().hash(&mut hasher);
        for key in set {
            key.dnskey_rdata().hash(&mut hasher);
        }
    }
    for set in apex_sets {
        (set.rtype, set.ttl).hash(&mut hasher);
        for rdata in set.rdatas.iter() {
            rdata.wire.hash(&mut hasher);
        }
    }
    (nsec3, nsec_ttl).hash(&mut hasher);
    hasher.finish()
}

/// A zone to sign, and how.
pub(crate) struct ToSign {
    pub origin: Name,
    pub policy: Arc<Policy>,
    /// The parent's servers, asked for the DS during a KSK or CSK rollover.
    pub parent_agents: Vec<SocketAddr>,
}

/// The zones with a policy, then the Autodiscover SRV zones `[[exchange]]` synthesises for
/// accepted domains no `[[zone]]` holds: signed as the namespace's zone is (their own keys; the
/// domain's DNS host adds their DS, or they stay insecure, which breaks nothing).
pub(crate) fn signed_zones(config: &Config) -> Vec<ToSign> {
    let mut zones: Vec<ToSign> = config
        .zones
        .iter()
        .filter_map(|zone| {
            Some(ToSign {
                origin: zone.origin.clone(),
                policy: zone.dnssec.clone()?,
                parent_agents: zone.parent_agents.clone(),
            })
        })
        .collect();
    for block in &config.exchange {
        let namespace_policy = config
            .zones
            .iter()
            .filter(|zone| block.namespace.is_subdomain_of(&zone.origin))
            .max_by_key(|zone| zone.origin.as_wire().len())
            .and_then(|zone| zone.dnssec.clone());
        let Some(policy) = namespace_policy else {
            continue;
        };
        for domain in &block.srv_domains {
            if config
                .zones
                .iter()
                .any(|zone| domain.is_subdomain_of(&zone.origin))
            {
                continue;
            }
            let Some(origin) = super::exchange::autodiscover_srv_owner(domain) else {
                continue;
            };
            if zones.iter().all(|zone| zone.origin != origin) {
                zones.push(ToSign {
                    origin,
                    policy: policy.clone(),
                    parent_agents: Vec::new(),
                });
            }
        }
    }
    zones
}

/// What signing did: the moment the next signing is due (a key's role changes, or the oldest
/// kept signature reaches its refresh margin), if any zone is signed, and what it cost.
#[derive(Debug, Default)]
pub(crate) struct Signed {
    pub next_due: Option<u64>,
    /// `None` when no zone is signed.
    pub report: Option<SigningReport>,
}

/// What one signing stage did, for the log line at start-up and at every reload: how many
/// zones it signed, how long it took, and how many signatures it made (the rest were kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningReport {
    pub zones: usize,
    pub copies: usize,
    pub made: usize,
    pub took: Duration,
}

impl std::fmt::Display for SigningReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "signed {} zone{} ({} view cop{}) in {:.1} ms ({} signatures made)",
            self.zones,
            if self.zones == 1 { "" } else { "s" },
            self.copies,
            if self.copies == 1 { "y" } else { "ies" },
            self.took.as_secs_f64() * 1000.0,
            self.made
        )
    }
}

/// Signs every signed zone's copies in `snapshot` at `now`. `create` says whether a zone
/// without keys gets them (`check` does not make keys, and signs nothing it has none for).
pub(crate) fn sign(
    config: &Config,
    snapshot: &mut Snapshot,
    previous: Option<&Snapshot>,
    now: u64,
    create: Create,
) -> Result<Signed, Vec<Located>> {
    let mut signed = Signed::default();
    let Some(state_dir) = &config.state_dir else {
        return Ok(signed);
    };
    let started = Instant::now();
    let mut report = SigningReport {
        zones: 0,
        copies: 0,
        made: 0,
        took: Duration::ZERO,
    };
    let dir = key_dir(state_dir);
    let served = previous.is_none().then(|| serial::read_state(state_dir));
    let mut errors = Vec::new();
    for zone in signed_zones(config) {
        let policy = &zone.policy;
        let keys = match keyring::zone_keys(&dir, &zone.origin, policy, now, create) {
            Ok(Some(keys)) => keys,
            Ok(None) => continue,
            Err(e) => {
                // A key error names its file (and line) itself.
                errors.extend(e.into_iter().map(|e| Located {
                    file: PathBuf::new(),
                    line: 0,
                    column: 0,
                    message: format!("zone {}: {e}", zone.origin),
                }));
                continue;
            }
        };
        let origin = zone.origin.as_wire();
        let validity = Validity {
            inception: now.saturating_sub(policy.inception_offset.as_secs()) as u32,
            expiration: (now + policy.signature_validity.as_secs()) as u32,
        };
        let keep_until = (now + policy.signature_refresh.as_secs()) as u32;
        let signer = Signer::new(
            origin,
            keys.data_keys.clone(),
            keys.key_keys.clone(),
            validity,
            keep_until,
        );
        let nsec3 = policy.denial == Denial::Nsec3;
        let dnskey_ttl = policy.rollover.dnskey_ttl.as_secs() as u32;
        let apex_sets = apex_sets(&keys, nsec3, dnskey_ttl, &config.path);
        let mut chains = Vec::new();
        let mut made = SignedShared::default();
        let mut earliest: Option<u32> = None;
        // Signing views first: the views that do not sign read their signed shared copy.
        let mut order: Vec<usize> = (0..snapshot.views.len()).collect();
        order.sort_by_key(|&v| !config.views[v].dnssec);
        for index in order {
            let view = &mut snapshot.views[index];
            let view_name = view.name.clone();
            let Some(view_zone) = view.zones.iter_mut().find(|z| z.origin == zone.origin) else {
                continue;
            };
            if !config.views[index].dnssec {
                view_zone.share_unsigned(&made);
                continue;
            }
            let nsec_ttl = {
                let soa = &view_zone.soa;
                soa.ttl.min(soa::minimum(&soa.rdatas[0].wire))
            };
            let signing = Signing {
                origin,
                signer: &signer,
                apex_sets: &apex_sets,
                nsec_ttl,
                nsec3,
                identity: identity(&keys, &apex_sets, nsec3, nsec_ttl),
            };
            let before = previous.and_then(|p| p.view_zone(&view_name, &zone.origin));
            let made_before = made.made();
            let mut count = view_zone.sign(&signing, before, &mut made);
            report.made += made.made() - made_before;
            report.copies += 1;
            if nsec3 {
                let chained = view_zone.chain_nsec3(&signing, before, &chains);
                count += chained;
                report.made += chained;
                chains.extend(view_zone.nsec3_chain());
            }
            view_zone.signatures_expire = view_zone.earliest_expiration();
            view_zone.signatures_refresh_due = view_zone
                .signatures_expire
                .map(|expire| expire.saturating_sub(policy.signature_refresh.as_secs() as u32));
            earliest = [earliest, view_zone.signatures_expire]
                .into_iter()
                .flatten()
                .min();
            let served_serial = before.map(|b| b.serial).or_else(|| {
                served.as_ref().and_then(|s| {
                    s.get(&(view_name.clone(), zone.origin.clone()))
                        .map(|s| s.serial)
                })
            });
            let followed = serial::manager(config, index, &zone.origin).is_some();
            if count > 0 && followed && served_serial == Some(view_zone.serial) {
                report.made += view_zone.raise_serial(view_zone.serial.wrapping_add(1), &signing);
            }
            if let Some(before) = before.filter(|_| view_zone.transfer != Default::default()) {
                view_zone.history = super::history::next(before, view_zone, config.ixfr_versions);
            }
        }
        keep_beside_signed(snapshot, &made, origin);
        // Made anew a refresh margin before the first signature expires (never sooner than a
        // second from now: a signature that cannot be kept long enough was just made).
        let resign = earliest.map(|expires| {
            (u64::from(expires).saturating_sub(policy.signature_refresh.as_secs())).max(now + 1)
        });
        // A rollover waiting for the parent's DS: the parent is asked again then (by the reload
        // loop, before it signs).
        let ask_parent = (keys.awaiting_ds.is_some() && !zone.parent_agents.is_empty())
            .then(|| now + policy.rollover.ds_check_interval());
        let due = [keys.next_change, resign, ask_parent]
            .into_iter()
            .flatten()
            .min();
        signed.next_due = [signed.next_due, due].into_iter().flatten().min();
        report.zones += 1;
    }
    if report.zones > 0 {
        report.took = started.elapsed();
        signed.report = Some(report);
    }
    if errors.is_empty() {
        Ok(signed)
    } else {
        Err(errors)
    }
}

/// Keeps the builds of the shared data signed in this load beside their signed copies (see
/// `KeptUnsigned`), rather than as unsigned tables and RRsets beside the signed ones.
fn keep_beside_signed(snapshot: &mut Snapshot, made: &SignedShared, origin: &[u8]) {
    for (unsigned, signed) in made.copies() {
        for build in snapshot.shared_builds.iter_mut() {
            if let Some(kept) = build.beside_signed(unsigned, signed, origin) {
                *build = Arc::new(kept);
            }
        }
    }
}

/// The apex's key sets: DNSKEY (every published key), and CDS and CDNSKEY for the keys whose
/// DS the parent is to have (RFC 7344).
fn apex_sets(keys: &ZoneKeys, nsec3: bool, dnskey_ttl: u32, config_path: &Path) -> Vec<Arc<RRset>> {
    let loc = crate::located::SourceLoc {
        file: Arc::new(config_path.to_path_buf()),
        line: 0,
    };
    let set = |rtype: u16, rdatas: Vec<Vec<u8>>| {
        Arc::new(RRset {
            rtype,
            // NSEC3PARAM is for the primary's signer, not for resolvers: not cached (RFC 5155
            // §4; BIND and Knot give it TTL 0 too).
            ttl: if rtype == rtype::NSEC3PARAM {
                0
            } else {
                dnskey_ttl
            },
            rdatas: rdatas
                .into_iter()
                .map(|wire| Rdata::new(wire, loc.clone()))
                .collect(),
            health: None,
            sigs: None,
        })
    };
    let mut sets = vec![set(
        rtype::DNSKEY,
        keys.published
            .iter()
            .map(|k| k.dnskey_rdata().to_vec())
            .collect(),
    )];
    if !keys.sync.is_empty() {
        sets.push(set(
            rtype::CDS,
            keys.sync
                .iter()
                .map(|k| k.ds_rdata(DigestType::Sha256))
                .collect(),
        ));
        sets.push(set(
            rtype::CDNSKEY,
            keys.sync
                .iter()
                .map(|k| k.dnskey_rdata().to_vec())
                .collect(),
        ));
    }
    if nsec3 {
        sets.push(set(rtype::NSEC3PARAM, vec![nsec3::PARAM_RDATA.to_vec()]));
    }
    sets
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::dns::name::Name;
    use crate::dns::rtype;
    use crate::load::{Loaded, reload};
    use crate::scratch::Scratch;
    use crate::view::zone::SharedBuild;

    /// The build a signed load keeps for the next one is kept beside the signed copy: read
    /// again, its data has the signed RRsets rather than unsigned ones beside them, no NSEC
    /// records, and at the apex the files' sets (the signer's key sets are not theirs). So after
    /// a reload with the files unchanged, and after one with the shared file edited (whose
    /// records left in place are served as before); beside another signed zone, whose build is
    /// kept beside its own copy.
    #[test]
    fn the_kept_build_shares_the_signed_sets() {
        let dir = Scratch::new("sign-kept-build");
        dir.write("state/.keep", "");
        let zone = |serial: u32, extra: &str| {
            format!(
                "$ORIGIN contoso.example.\n$TTL 300\n@ SOA ns h {serial} 2 3 4 5\n NS ns\n\
                 ns A 192.0.2.53\nwww A 192.0.2.80\nsub NS ns.sub\nns.sub A 192.0.2.54\n{extra}"
            )
        };
        dir.write("z.zone", &zone(1, ""));
        dir.write(
            "inside.zone",
            "$ORIGIN contoso.example.\nwww 300 A 10.0.0.80\n",
        );
        // A second signed zone: each zone's build is kept beside its own copy.
        dir.write(
            "f.zone",
            "$ORIGIN fabrikam.example.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.5\n",
        );
        let config = dir.write(
            "splitdns.toml",
            "state_dir = \"state\"\n\
             [[view]]\nname = \"inside\"\nclients = [\"10.0.0.0/8\"]\n\
             [[view]]\nname = \"outside\"\nclients = [\"0.0.0.0/0\"]\n\
             [[zone]]\norigin = \"contoso.example\"\nfile = \"z.zone\"\ndnssec = true\n\
             [zone.views]\ninside = \"inside.zone\"\n\
             [[zone]]\norigin = \"fabrikam.example\"\nfile = \"f.zone\"\ndnssec = true\n",
        );
        let origin = Name::parse("contoso.example.", None).unwrap();
        // `sets_signed`: how many sets outside the apex are (the cut's NS and its glue are not).
        let kept = |loaded: &Loaded, sets_signed: usize| -> Arc<SharedBuild> {
            let build = (loaded.snapshot.shared_builds.iter())
                .find(|build| build.origin == origin)
                .unwrap();
            let read = build.for_load();
            assert!(!Arc::ptr_eq(build, &read), "kept beside the signed copy");
            let signed = loaded.snapshot.view_zone("outside", &origin).unwrap();
            assert!(signed.is_signed());
            let mut with_sigs = 0;
            for (key, node) in signed.nodes() {
                let ours = read.data().get(key).unwrap();
                assert!(ours.nsec.is_none());
                for set in node.rrsets.iter() {
                    let own = ours.get(set.rtype);
                    if key == origin.as_wire() {
                        let signers =
                            matches!(set.rtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY);
                        assert_eq!(own.is_none(), signers, "apex type {}", set.rtype);
                        continue;
                    }
                    assert!(
                        Arc::ptr_eq(own.unwrap(), set),
                        "type {} at {key:?}",
                        set.rtype
                    );
                    with_sigs += usize::from(set.sigs.is_some());
                }
            }
            assert_eq!(with_sigs, sets_signed);
            read
        };

        let first = reload(&config, None).unwrap();
        let at_start = kept(&first, 2);
        let second = reload(&config, Some(&first.snapshot)).unwrap();
        let unchanged = kept(&second, 2);
        assert_eq!(at_start.data().content, unchanged.data().content);
        dir.write("z.zone", &zone(2, "mail A 192.0.2.25\n"));
        let third = reload(&config, Some(&second.snapshot)).unwrap();
        let edited = kept(&third, 3);
        let mail = Name::parse("mail.contoso.example.", None).unwrap();
        assert!(edited.data().get(mail.as_wire()).is_some());
        // The records the edit left where they were are served as the previous copy had them.
        let www = Name::parse("www.contoso.example.", None).unwrap();
        let served = |loaded: &Loaded| {
            let zone = loaded.snapshot.view_zone("outside", &origin).unwrap();
            zone.node(www.as_wire())
                .unwrap()
                .get(rtype::A)
                .unwrap()
                .clone()
        };
        assert!(Arc::ptr_eq(&served(&second), &served(&third)));
        let fabrikam = Name::parse("fabrikam.example.", None).unwrap();
        let other = (third.snapshot.shared_builds.iter())
            .find(|build| build.origin == fabrikam)
            .unwrap();
        assert!(!Arc::ptr_eq(other, &other.for_load()));
    }
}
