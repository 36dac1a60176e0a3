//! `[[dnssec_policy]]` and the `dnssec` keys of `[[zone]]` and `[[view]]`: which zones are signed,
//! how, and which views serve them unsigned. A policy is BIND's `dnssec-policy` in a few keys;
//! zones name one (`dnssec = "name"`) or take the default (`dnssec = true`).

use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::file::{self, DnssecChoice};
use super::locate::Context;
use super::values::{Min, Seconds};
use crate::dnssec::key::Algorithm;
use crate::dnssec::{Denial, Policy, Rollover};

const VALIDITY: Seconds = Seconds {
    min: Min::AtLeast(60.0),
    max: 366.0 * 86400.0,
    default: Duration::from_secs(14 * 86400),
};
const REFRESH: Seconds = Seconds {
    min: Min::AtLeast(10.0),
    max: 365.0 * 86400.0,
    default: Duration::from_secs(7 * 86400),
};
/// Key lifetimes: 0 is never.
const LIFETIME: Seconds = Seconds {
    min: Min::AtLeast(0.0),
    max: 100.0 * 366.0 * 86400.0,
    default: Duration::ZERO,
};
const ZSK_LIFETIME: Seconds = Seconds {
    default: Duration::from_secs(30 * 86400),
    ..LIFETIME
};
/// A TTL or delay of the rollover timing (RFC 7583 §3): up to 10 days.
const fn timing(default: u64) -> Seconds {
    Seconds {
        min: Min::AtLeast(0.0),
        max: 10.0 * 86400.0,
        default: Duration::from_secs(default),
    }
}
const INCEPTION_OFFSET: Seconds = Seconds {
    min: Min::AtLeast(0.0),
    max: 86400.0,
    default: Duration::from_secs(3600),
};

/// The policies by name; "default" is always there (the built-in one unless the file gives it).
pub(super) fn policies(raw: &[file::DnssecPolicySection], cx: &mut Context) -> Vec<Arc<Policy>> {
    let mut policies: Vec<Arc<Policy>> = Vec::new();
    for section in raw {
        let name = section.name.get_ref();
        if policies.iter().any(|p| p.name == *name) {
            cx.error(
                section.name.span(),
                format!("dnssec_policy {name:?} is defined twice"),
            );
            continue;
        }
        let algorithm = match &section.algorithm {
            None => Algorithm::EcdsaP256Sha256,
            Some(text) => Algorithm::parse(text.get_ref()).unwrap_or_else(|| {
                cx.error(
                    text.span(),
                    format!("algorithm {:?} is not one splitdns signs with: use \"ecdsap256sha256\" (13) or \"ed25519\" (15)", text.get_ref()),
                );
                Algorithm::EcdsaP256Sha256
            }),
        };
        let split = match section
            .keys
            .as_ref()
            .map(|k| (k, k.get_ref().to_ascii_lowercase()))
        {
            None => false,
            Some((_, k)) if k == "csk" => false,
            Some((_, k)) if k == "ksk+zsk" => true,
            Some((text, _)) => {
                cx.error(
                    text.span(),
                    format!("keys = {:?}: use \"csk\" or \"ksk+zsk\"", text.get_ref()),
                );
                false
            }
        };
        let denial = match section
            .denial
            .as_ref()
            .map(|d| (d, d.get_ref().to_ascii_lowercase()))
        {
            None => Denial::Nsec,
            Some((_, d)) if d == "nsec" => Denial::Nsec,
            Some((_, d)) if d == "nsec3" => Denial::Nsec3,
            Some((text, _)) => {
                cx.error(
                    text.span(),
                    format!("denial = {:?}: use \"nsec\" or \"nsec3\"", text.get_ref()),
                );
                Denial::Nsec
            }
        };
        let signature_validity = VALIDITY.check(
            section.signature_validity.as_ref(),
            "signature_validity",
            cx,
        );
        let signature_refresh =
            REFRESH.check(section.signature_refresh.as_ref(), "signature_refresh", cx);
        if signature_refresh >= signature_validity {
            let span = section
                .signature_refresh
                .as_ref()
                .map_or(section.name.span(), Spanned::span);
            cx.error(
                span,
                format!("signature_refresh ({signature_refresh:?}) must be shorter than signature_validity ({signature_validity:?}): every signature would be made anew at once"),
            );
        }
        let inception_offset =
            INCEPTION_OFFSET.check(section.inception_offset.as_ref(), "inception_offset", cx);
        let dnskey_ttl = timing(3600).check(section.dnskey_ttl.as_ref(), "dnskey_ttl", cx);
        let propagation_delay =
            timing(300).check(section.propagation_delay.as_ref(), "propagation_delay", cx);
        // A successor signs Ipub after it is published: a key must live longer than that, or
        // its own successor would be due before it signs.
        let publish_interval = dnskey_ttl + propagation_delay;
        let lifetime = |value: Option<&Spanned<f64>>,
                        spec: Seconds,
                        key: &str,
                        cx: &mut Context| {
            let lifetime = spec.check(value, key, cx);
            if !lifetime.is_zero() && lifetime <= publish_interval {
                cx.error(
                    value.map_or(section.name.span(), Spanned::span),
                    format!("{key} = {} is not longer than dnskey_ttl + propagation_delay ({} s), the time a new key waits before it signs: use 0 for keys that never roll, or a longer lifetime", lifetime.as_secs_f64(), publish_interval.as_secs_f64()),
                );
            }
            (!lifetime.is_zero()).then_some(lifetime)
        };
        let key_lifetime = lifetime(section.key_lifetime.as_ref(), LIFETIME, "key_lifetime", cx);
        let zsk_lifetime = lifetime(
            section.zsk_lifetime.as_ref(),
            ZSK_LIFETIME,
            "zsk_lifetime",
            cx,
        );
        let rollover = Rollover {
            key_lifetime,
            zsk_lifetime,
            dnskey_ttl,
            propagation_delay,
            max_zone_ttl: timing(86400).check(section.max_zone_ttl.as_ref(), "max_zone_ttl", cx),
            parent_ds_ttl: timing(86400).check(section.parent_ds_ttl.as_ref(), "parent_ds_ttl", cx),
            parent_propagation_delay: timing(3600).check(
                section.parent_propagation_delay.as_ref(),
                "parent_propagation_delay",
                cx,
            ),
        };
        policies.push(Arc::new(Policy {
            name: name.clone(),
            algorithm,
            split,
            denial,
            signature_validity,
            signature_refresh,
            inception_offset,
            rollover,
        }));
    }
    if !policies.iter().any(|p| p.name == "default") {
        policies.push(Arc::new(Policy::default()));
    }
    policies
}

/// A zone's `dnssec` key: the policy it is signed with, if any.
pub(super) fn zone_policy(
    choice: Option<&Spanned<DnssecChoice>>,
    policies: &[Arc<Policy>],
    has_state_dir: bool,
    cx: &mut Context,
) -> Option<Arc<Policy>> {
    let choice = choice?;
    let name = match choice.get_ref() {
        DnssecChoice::On(false) => return None,
        DnssecChoice::On(true) => "default",
        DnssecChoice::Policy(name) => name.as_str(),
    };
    let Some(policy) = policies.iter().find(|p| p.name == name) else {
        let known: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
        cx.error(
            choice.span(),
            format!("dnssec = {name:?} names no [[dnssec_policy]]: known are {known:?}"),
        );
        return None;
    };
    if !has_state_dir {
        cx.error(
            choice.span(),
            "a signed zone needs state_dir: its keys are made and kept there (set state_dir, or run under systemd with StateDirectory=)",
        );
    }
    Some(policy.clone())
}
