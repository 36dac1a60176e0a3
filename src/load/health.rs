//! The health checks a config asks for, attached to a built snapshot: each checked A/AAAA RRset
//! (an `[[exchange]]` block's internal addresses with `health`, or a `[[health]]` block's name)
//! gets a cell (its slot) on the snapshot's health board, and the plan lists one target per address, port,
//! server name and check, however many names and views use it. Only addresses of the checked
//! RRsets become targets: the checks reach nothing the admin did not configure.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::Config;
use crate::dns::name::Name;
use crate::dns::rtype;
use crate::health::{Check, Kind, Plan, Slot, Target};
use crate::located::Located;
use crate::view::Snapshot;
use crate::view::health::{Checked, MAX_CHECKED_RECORDS};
use crate::view::zone::MAX_SIGNED_CHECKED_RECORDS;

/// Attaches every configured check to `snapshot` and returns the plan, or an error for each
/// `[[health]]` block whose name has no A or AAAA RRset where it says.
pub(crate) fn plan(config: &Config, snapshot: &mut Snapshot) -> Result<Plan, Vec<Located>> {
    let mut planner = Planner {
        plan: Plan::empty(),
        index: HashMap::new(),
        checked: HashMap::new(),
        errors: Vec::new(),
    };
    for block in &config.exchange {
        let Some(check) = &block.health else { continue };
        let server_name = block.namespace.to_string();
        for (view, order) in &block.inside {
            // An address's rank is the position of its site in this view's order.
            let rank = |address: IpAddr| {
                order
                    .iter()
                    .position(|&site| block.sites[site].internal.contains(&address))
                    .map_or(u8::MAX, |rank| rank.min(254) as u8)
            };
            let site = |address: IpAddr| {
                block
                    .sites
                    .iter()
                    .find(|site| site.internal.contains(&address))
                    .map_or_else(String::new, |site| site.name.clone())
            };
            let asked = Asked {
                check,
                server_name: &server_name,
                ttl: None,
                rank: &rank,
                site: &site,
                line: block.line,
            };
            for host in std::iter::once(&block.namespace).chain(&block.autodiscover) {
                for rtype in [rtype::A, rtype::AAAA] {
                    planner.attach(config, snapshot, *view, host, rtype, &asked);
                }
            }
        }
    }
    for block in &config.health {
        let views: Vec<usize> = match block.view {
            Some(view) => vec![view],
            None => (0..snapshot.views.len()).collect(),
        };
        let server_name = block.name.to_string();
        let asked = Asked {
            check: &block.check,
            server_name: &server_name,
            ttl: Some(block.ttl),
            rank: &|_| 0,
            site: &|_| String::new(),
            line: block.line,
        };
        let mut found = false;
        for view in views {
            for rtype in [rtype::A, rtype::AAAA] {
                found |= planner.attach(config, snapshot, view, &block.name, rtype, &asked);
            }
        }
        if !found {
            let place = match block.view {
                Some(view) => format!("view {}", config.views[view].name),
                None => "any view".to_string(),
            };
            planner.errors.push(Located {
                file: config.path.clone(),
                line: block.line,
                column: 0,
                message: format!(
                    "[[health]] name {} has no A or AAAA records in {place}: nothing to check",
                    block.name
                ),
            });
        }
    }
    // A changed CA file changes what is checked: watch it like the zone files.
    for check in config
        .exchange
        .iter()
        .filter_map(|b| b.health.as_ref())
        .chain(config.health.iter().map(|b| &b.check))
    {
        if let Kind::Https(https) = &check.probe.kind
            && let Some(ca) = &https.ca
        {
            snapshot.files.push(ca.file.clone());
        }
    }
    snapshot.files.sort();
    snapshot.files.dedup();
    if planner.errors.is_empty() {
        Ok(planner.plan)
    } else {
        Err(planner.errors)
    }
}

/// What one config block (an `[[exchange]]` block's, for one inside view, or a `[[health]]`
/// block) asks of each RRset it names: the check, the server name a probe presents, the TTL the
/// checked RRset is answered with (`None`: its own), each address's rank and site name (for
/// status and the failover log lines), and the block's line for errors.
struct Asked<'a> {
    check: &'a Check,
    server_name: &'a str,
    ttl: Option<u32>,
    rank: &'a dyn Fn(IpAddr) -> u8,
    site: &'a dyn Fn(IpAddr) -> String,
    line: u32,
}

struct Planner {
    plan: Plan,
    index: HashMap<Target, usize>,
    /// The RRsets already checked (view, owner, type), with the config line that asked: an
    /// RRset has one check.
    checked: HashMap<(usize, Name, u16), u32>,
    errors: Vec<Located>,
}

impl Planner {
    /// Makes the `rtype` RRset of `name` in `view` checked as `asked`, if the view has one there.
    fn attach(
        &mut self,
        config: &Config,
        snapshot: &mut Snapshot,
        view: usize,
        name: &Name,
        rtype: u16,
        asked: &Asked,
    ) -> bool {
        let Asked {
            check,
            server_name,
            ttl,
            rank,
            site,
            line,
        } = *asked;
        let view_name = snapshot.views[view].name.clone();
        let key = name.as_wire();
        if let Some(&first) = self.checked.get(&(view, name.clone(), rtype)) {
            self.errors.push(Located {
                file: config.path.clone(),
                line,
                column: 0,
                message: format!(
                    "{name} {} in view {view_name} is already health-checked (line {first}): one check per name",
                    rtype::mnemonic(rtype)
                ),
            });
            return true;
        }
        let Some(zone) = snapshot.views[view]
            .zones
            .iter_mut()
            .filter(|zone| name.is_subdomain_of(&zone.origin))
            .max_by_key(|zone| zone.origin.as_wire().len())
        else {
            return false;
        };
        // Each subset the checks can leave is signed ahead (2^n - 1 signatures per key): a
        // bound on n keeps signing and memory in step with the unsigned set.
        let signed = config.views[view].dnssec
            && config
                .zones
                .iter()
                .any(|z| z.origin == zone.origin && z.dnssec.is_some());
        let checked = Checked::new();
        let Some(set) = zone.check_rrset(key, rtype, ttl, checked.clone()) else {
            return false;
        };
        self.checked.insert((view, name.clone(), rtype), line);
        let too_many = if set.rdatas.len() > MAX_CHECKED_RECORDS {
            Some(format!(
                "in view {view_name}: at most {MAX_CHECKED_RECORDS} can be health-checked"
            ))
        } else if signed && set.rdatas.len() > MAX_SIGNED_CHECKED_RECORDS {
            Some(format!(
                "in view {view_name} of a signed zone: at most {MAX_SIGNED_CHECKED_RECORDS} can be health-checked there (each subset the checks can answer is signed ahead); split the name or check fewer addresses"
            ))
        } else {
            None
        };
        if let Some(why) = too_many {
            self.errors.push(Located {
                file: config.path.clone(),
                line: set.rdatas[0].loc.line,
                column: 0,
                message: format!(
                    "{name} {} has {} records {why}",
                    rtype::mnemonic(rtype),
                    set.rdatas.len()
                ),
            });
            return true;
        }
        let mut targets = Vec::with_capacity(set.rdatas.len());
        let mut ranks = Vec::with_capacity(set.rdatas.len());
        let mut sites = Vec::with_capacity(set.rdatas.len());
        for rdata in set.rdatas.iter() {
            let address = match <[u8; 4]>::try_from(&rdata.wire[..]) {
                Ok(v4) => IpAddr::from(v4),
                Err(_) => match <[u8; 16]>::try_from(&rdata.wire[..]) {
                    Ok(v6) => IpAddr::from(v6),
                    Err(_) => continue,
                },
            };
            let target = Target {
                address,
                server_name: server_name.trim_end_matches('.').to_string(),
                probe: check.probe.clone(),
            };
            let next = self.plan.targets.len();
            let index = *self.index.entry(target.clone()).or_insert(next);
            if index == next {
                self.plan.targets.push(target);
            }
            targets.push(index);
            ranks.push(rank(address));
            sites.push(site(address));
        }
        // The slot's index in the board and in the plan's slots is the same.
        self.plan.board.push(&checked);
        self.plan.slots.push(Slot {
            name: name.to_string().trim_end_matches('.').to_string(),
            view: view_name,
            targets,
            ranks,
            sites,
            all_down: check.all_down,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The network rule: the bundled example (whose addresses are not on this machine) checks
    /// nothing, so `cargo run --release` sends no probe anywhere: no health check, no DANE check.
    #[test]
    fn the_bundled_example_checks_nothing() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/splitdns.toml");
        let loaded = crate::load::load(&example).expect("the example loads");
        assert!(loaded.health.targets.is_empty());
        assert!(loaded.health.slots.is_empty());
        // Nor does it compare any TLSA record: without [dane] nothing connects.
        assert!(loaded.config.dane.is_none());
        assert!(loaded.health.dane.targets.is_empty());
    }

    /// One target per address, port, server name and check however many names and views use
    /// it: the namespace and autodiscover in two inside views share the same three probes.
    #[test]
    fn shared_addresses_get_one_target() {
        let dir = crate::scratch::Scratch::new("load-health");
        std::fs::write(
            dir.join("z.zone"),
            "$ORIGIN contoso.example.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.53\n",
        )
        .unwrap();
        let config = r#"
[[view]]
name = "internal"
clients = ["10.0.0.0/8"]
[[view]]
name = "branch"
clients = ["192.168.0.0/16"]
site_order = ["b", "a"]
[[exchange]]
namespace = "mail.contoso.example"
autodiscover = true
health = { kind = "tcp", port = 443 }
[[exchange.site]]
name = "a"
internal = ["10.0.0.11", "10.0.0.12"]
[[exchange.site]]
name = "b"
internal = ["10.1.0.11"]
[[zone]]
origin = "contoso.example"
file = "z.zone"
"#;
        std::fs::write(dir.join("splitdns.toml"), config).unwrap();
        let loaded = crate::load::load(&dir.join("splitdns.toml")).expect("loads");
        let plan = &loaded.health;
        assert_eq!(plan.targets.len(), 3);
        assert_eq!(plan.slots.len(), 4, "two names in two views");
        let branch = plan
            .slots
            .iter()
            .find(|s| s.view == "branch" && s.name == "mail.contoso.example")
            .unwrap();
        // Site b's address first, ranked 0; site a's after it, ranked 1.
        assert_eq!(branch.ranks, [0, 1, 1]);
        assert_eq!(
            loaded
                .findings
                .iter()
                .filter(|f| f.id == "health-ttl-too-long")
                .count(),
            0,
            "the default TTL (30) is short enough"
        );
        // 300 s against checks that withdraw within 5 × 3 + 2 = 17 s: warned about.
        std::fs::write(
            dir.join("splitdns.toml"),
            config.replace("autodiscover = true", "autodiscover = true\nttl = 300"),
        )
        .unwrap();
        let loaded = crate::load::load(&dir.join("splitdns.toml")).expect("loads");
        let warning = loaded
            .findings
            .iter()
            .find(|f| f.id == "health-ttl-too-long")
            .expect("a warning about the TTL");
        assert_eq!(
            warning.line,
            Some(10),
            "the [[exchange]] block's namespace line"
        );
        assert!(
            warning.message.contains("at most 60"),
            "{}",
            warning.message
        );
    }
}
