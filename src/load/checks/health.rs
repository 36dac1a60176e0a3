//! Checks about health-checked names: a TTL so long that resolvers keep answering a withdrawn
//! address long after the checks took it out.

use super::{Finding, Severity};
use crate::config::Config;
use crate::health::Check;
use crate::located::SourceLoc;

/// TTLs up to this many seconds are never too long: a DC or resolver caching for a minute is
/// what clients of any round robin live with.
const ALWAYS_SHORT_ENOUGH: u64 = 60;

/// A health-checked name answered with a TTL longer than twice the time its checks take to
/// withdraw an address (and over a minute): the checks then barely matter to clients.
pub(super) fn ttl_longer_than_the_checks(config: &Config, findings: &mut Vec<Finding>) {
    let file = std::sync::Arc::new(config.path.clone());
    let exchange = config
        .exchange
        .iter()
        .filter_map(|b| Some((b.namespace.to_string(), b.ttl, b.health.as_ref()?, b.line)));
    let blocks = config
        .health
        .iter()
        .map(|b| (b.name.to_string(), b.ttl, &b.check, b.line));
    for (name, ttl, check, line) in exchange.chain(blocks) {
        let detection = check.detection_time();
        let limit = ALWAYS_SHORT_ENOUGH.max(2 * detection.as_secs());
        if u64::from(ttl) > limit {
            findings.push(
                Finding::new(
                    "health-ttl-too-long",
                    Severity::Warning,
                    None,
                    Some(&SourceLoc {
                        file: file.clone(),
                        line,
                    }),
                    message(&name, ttl, check, limit),
                )
                .about(&name),
            );
        }
    }
}

fn message(name: &str, ttl: u32, check: &Check, limit: u64) -> String {
    format!(
        "{name} is health-checked but answered with TTL {ttl}: its checks withdraw a failed address within {:.0?}, yet resolvers keep answering it for up to {ttl} s; use a ttl of at most {limit}",
        check.detection_time()
    )
}
