//! Health checks: the stage that probes the addresses of health-checked RRsets and publishes which
//! of them are answered. It runs beside the request path and never on it: the loader plans the
//! checks ([`Plan`]: one [`Target`] per address, port, server name and check, however many names
//! and views use it), the [`Prober`] runs one task per target, and each change of a target's state
//! stores new masks in the snapshot's health board (one atomic cell per checked RRset, see
//! `view::health`), which the answer stage reads with one atomic load.
//!
//! The plan's DANE checks ([`dane`]) run in this stage too: they share its prober, its events
//! and its TLS client, and change no answer.
//!
//! The settings types ([`Check`], [`Probe`], [`dane::Settings`]) are owned here; the config
//! builds them.

pub(crate) mod cert;
pub(crate) mod dane;
mod events;
mod presented;
mod probe;
mod prober;
mod tls;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::view::health::HealthBoard;
pub(crate) use presented::chain as presented_chain;
pub(crate) use probe::probe_once;
pub use prober::Prober;
pub(crate) use prober::{AddressReport, NameReport};

/// How one address is checked. Equal probes of one address and server name share one task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Probe {
    pub kind: Kind,
    pub port: u16,
    /// Time from the start of one check to the start of the next.
    pub interval: Duration,
    /// Longest one check (connect, TLS, HTTP) may take before it counts as failed.
    pub timeout: Duration,
    /// Consecutive failures that take an address out of the answers.
    pub fall: u32,
    /// Consecutive successes that put it back.
    pub rise: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A TCP connection is accepted.
    Tcp,
    /// TLS with the server name, then `GET <path>` answered with 200.
    Https(Https),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Https {
    pub path: String,
    /// Whether the certificate is checked at all (names and dates, and the chain with a CA).
    pub certificate_check: bool,
    /// The CA the certificate must chain to; without one, names and dates are still checked.
    pub ca: Option<Ca>,
    /// A certificate expiring within this many days stays in and is warned about, once.
    pub expiry_warning_days: u32,
}

/// A CA file as loaded: its certificates in DER.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ca {
    pub file: PathBuf,
    pub certificates: Arc<[Vec<u8>]>,
}

/// What an RRset answers when every one of its addresses is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllDown {
    /// Every address, as if none were checked (fail-open: a check that fails everywhere is more
    /// often the checker's problem than every server's).
    #[default]
    All,
    /// SERVFAIL.
    ServFail,
}

/// A health check as configured for a name: the probe and the all-down policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub probe: Probe,
    pub all_down: AllDown,
}

impl Check {
    /// How long a server that stops answering stays in the answers at most: `fall` checks,
    /// `interval` apart, the last one taking up to `timeout`.
    pub fn detection_time(&self) -> Duration {
        self.probe.interval * self.probe.fall + self.probe.timeout
    }
}

/// One probe task's subject: an address, checked with a probe, presenting a server name (the
/// namespace: TLS server name and HTTP `Host`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub address: IpAddr,
    /// Lowercased, without the final dot.
    pub server_name: String,
    pub probe: Probe,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let address = std::net::SocketAddr::new(self.address, self.probe.port);
        match &self.probe.kind {
            Kind::Tcp => write!(f, "{address} (tcp)"),
            Kind::Https(https) => {
                write!(f, "https://{}{} at {address}", self.server_name, https.path)
            }
        }
    }
}

/// One health-checked RRset of a snapshot.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The owner name and view, for logs and `explain`.
    pub name: String,
    pub view: String,
    /// For each record of the RRset (in its order): the target that checks it.
    pub targets: Vec<usize>,
    /// For each record: its site's rank in the view's order (0 is preferred). The answer holds
    /// the up records of the best rank that has any.
    pub ranks: Vec<u8>,
    /// For each record: its site's name (empty when its block names no sites).
    pub sites: Vec<String>,
    pub all_down: AllDown,
}

/// What a checked RRset answers, as an admin names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serving {
    /// The up addresses of the view's preferred site.
    Preferred,
    /// The preferred site is all down: the up addresses of the next site that has any.
    FailedOver { from: String, to: String },
    /// Every address is down: every address is answered (`all_down = "all"`).
    FailingOpen,
    /// Every address is down: SERVFAIL (`all_down = "servfail"`).
    AllDown,
}

impl Slot {
    /// The name of the site ranked `rank` in this slot's view.
    pub fn site_of_rank(&self, rank: u8) -> String {
        self.ranks
            .iter()
            .position(|&r| r == rank)
            .map(|index| self.sites[index].as_str())
            .filter(|site| !site.is_empty())
            .unwrap_or("(no site)")
            .to_string()
    }
}

/// Every check a snapshot needs, and the board its answers read.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The checked RRsets' cells, by slot (shared with the snapshot's RRsets).
    pub board: HealthBoard,
    pub targets: Vec<Target>,
    pub slots: Vec<Slot>,
    /// The DANE checks (report-only: no slot, no board cell).
    pub dane: dane::Plan,
}

impl Plan {
    /// A plan without checks (an empty board).
    pub fn empty() -> Plan {
        Plan {
            board: HealthBoard::default(),
            targets: Vec::new(),
            slots: Vec::new(),
            dane: dane::Plan::default(),
        }
    }

    /// The mask of each slot when `up(target)` says which targets are up: the up records of the
    /// best-ranked site that has any; with none up, every record, or none under `servfail`.
    pub fn masks(&self, up: impl Fn(usize) -> bool) -> Box<[u64]> {
        self.slots
            .iter()
            .map(|slot| {
                let best = slot
                    .targets
                    .iter()
                    .zip(&slot.ranks)
                    .filter(|(target, _)| up(**target))
                    .map(|(_, rank)| *rank)
                    .min();
                let mut mask = 0u64;
                for (index, (target, rank)) in slot.targets.iter().zip(&slot.ranks).enumerate() {
                    let answered = match best {
                        Some(best) => *rank == best && up(*target),
                        None => slot.all_down == AllDown::All,
                    };
                    if answered {
                        mask |= 1 << index;
                    }
                }
                mask
            })
            .collect()
    }

    /// What slot `index` answers when `up(target)` says which targets are up: the same choice
    /// as [`Plan::masks`], named.
    pub fn serving(&self, index: usize, up: impl Fn(usize) -> bool) -> Serving {
        let slot = &self.slots[index];
        let Some(&preferred) = slot.ranks.iter().min() else {
            return Serving::Preferred;
        };
        let best = slot
            .targets
            .iter()
            .zip(&slot.ranks)
            .filter(|(target, _)| up(**target))
            .map(|(_, rank)| *rank)
            .min();
        match best {
            None if slot.all_down == AllDown::All => Serving::FailingOpen,
            None => Serving::AllDown,
            Some(best) if best == preferred => Serving::Preferred,
            Some(best) => Serving::FailedOver {
                from: slot.site_of_rank(preferred),
                to: slot.site_of_rank(best),
            },
        }
    }

    /// The names (and views) a target's results affect, for log lines.
    pub fn names_of(&self, target: usize) -> String {
        let mut names: Vec<&str> = self
            .slots
            .iter()
            .filter(|slot| slot.targets.contains(&target))
            .map(|slot| slot.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(slots: Vec<Slot>) -> Plan {
        Plan {
            board: HealthBoard::default(),
            targets: Vec::new(),
            slots,
            dane: dane::Plan::default(),
        }
    }

    fn slot(targets: &[usize], ranks: &[u8], all_down: AllDown) -> Slot {
        Slot {
            name: "mail.contoso.example".into(),
            view: "internal".into(),
            targets: targets.to_vec(),
            ranks: ranks.to_vec(),
            sites: ranks.iter().map(|r| format!("dc{}", r + 1)).collect(),
            all_down,
        }
    }

    /// One site: the up records; two sites: the up records of the first site with any, the next
    /// site once the first is all down; all down: every record, or none under `servfail`.
    #[test]
    fn masks_follow_sites_and_the_all_down_policy() {
        let plan = plan(vec![
            slot(&[0, 1, 2], &[0, 0, 0], AllDown::All),
            slot(&[0, 1, 2], &[0, 0, 1], AllDown::All),
            slot(&[0, 1, 2], &[0, 0, 0], AllDown::ServFail),
        ]);
        let masks = |up: &[usize]| plan.masks(|t| up.contains(&t)).to_vec();
        assert_eq!(masks(&[0, 1, 2]), [0b111, 0b011, 0b111]);
        assert_eq!(masks(&[1, 2]), [0b110, 0b010, 0b110]);
        assert_eq!(masks(&[2]), [0b100, 0b100, 0b100]);
        assert_eq!(masks(&[]), [0b111, 0b111, 0b000]);
    }

    /// The same choices, named: the preferred site, a failover to the next site, fail-open
    /// and SERVFAIL.
    #[test]
    fn serving_names_the_choice() {
        let plan = plan(vec![
            slot(&[0, 1, 2], &[0, 0, 1], AllDown::All),
            slot(&[0, 1, 2], &[0, 0, 0], AllDown::ServFail),
        ]);
        let serving = |slot: usize, up: &[usize]| plan.serving(slot, |t| up.contains(&t));
        assert_eq!(serving(0, &[1, 2]), Serving::Preferred);
        assert_eq!(
            serving(0, &[2]),
            Serving::FailedOver {
                from: "dc1".into(),
                to: "dc2".into()
            }
        );
        assert_eq!(serving(0, &[]), Serving::FailingOpen);
        assert_eq!(serving(1, &[]), Serving::AllDown);
        assert_eq!(serving(1, &[0]), Serving::Preferred);
    }
}
