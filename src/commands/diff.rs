//! `splitdns diff VIEW_A VIEW_B`: the RRsets that differ between two views, name by name, with
//! where each record comes from, so an admin can review the split at a glance. The exit status
//! is diff(1)'s, for scripts: 0 the same, 1 different, 2 could not compare.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::{describe_source, report_load_error};
use crate::config::Config;
use crate::dns::name::fmt_wire_name;
use crate::dns::rtype;
use crate::load;
use crate::view::View;
use crate::view::zone::RRset;
use crate::zonefile::rdata::rdata_to_text;

/// Exit status when the views could not be compared (diff(1) uses 2 for trouble).
const TROUBLE: u8 = 2;

pub fn run(config_path: &Path, view_a: &str, view_b: &str) -> ExitCode {
    let load::Loaded {
        config, snapshot, ..
    } = match load::load(config_path) {
        Ok(loaded) => loaded,
        Err(error) => {
            report_load_error(&error);
            return ExitCode::from(TROUBLE);
        }
    };
    let find = |name: &str| snapshot.views.iter().find(|v| v.name == name);
    let (Some(a), Some(b)) = (find(view_a), find(view_b)) else {
        let defined: Vec<&str> = snapshot.views.iter().map(|v| v.name.as_str()).collect();
        let unknown: Vec<String> = [view_a, view_b]
            .into_iter()
            .filter(|name| find(name).is_none())
            .map(|name| format!("{name:?}"))
            .collect();
        let asked = match unknown.as_slice() {
            [one] => format!("unknown view {one}"),
            many => format!("unknown views {}", many.join(" and ")),
        };
        eprintln!("{asked}: the config defines {}", defined.join(", "));
        return ExitCode::from(TROUBLE);
    };
    let diff = compare(&config, a, b);
    print!("{}", diff.text);
    if diff.differing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

type Sets<'v> = BTreeMap<String, BTreeMap<u16, &'v RRset>>;

/// The RRsets of every zone of a view, by owner (as text) and type.
fn rrsets(view: &View) -> Sets<'_> {
    let mut sets: Sets = BTreeMap::new();
    for zone in &view.zones {
        for (key, node) in zone.nodes() {
            let mut owner = String::new();
            let _ = fmt_wire_name(key, &mut owner);
            for set in node.rrsets.iter() {
                sets.entry(owner.clone())
                    .or_default()
                    .insert(set.rtype, set);
            }
        }
    }
    sets
}

/// The diff as text: `-` lines are view A's records, `+` lines view B's.
pub fn render(config: &Config, a: &View, b: &View) -> String {
    compare(config, a, b).text
}

/// What [`render`] shows, and how many names differ.
struct Diff {
    text: String,
    differing: usize,
}

fn compare(config: &Config, a: &View, b: &View) -> Diff {
    let (sets_a, sets_b) = (rrsets(a), rrsets(b));
    let owners: BTreeSet<&String> = sets_a.keys().chain(sets_b.keys()).collect();
    let mut out = format!("--- view {}\n+++ view {}\n", a.name, b.name);
    let mut differing = 0usize;
    let empty = BTreeMap::new();
    for owner in owners {
        let (in_a, in_b) = (
            sets_a.get(owner).unwrap_or(&empty),
            sets_b.get(owner).unwrap_or(&empty),
        );
        let types: BTreeSet<&u16> = in_a.keys().chain(in_b.keys()).collect();
        let mut lines = String::new();
        for rtype in types {
            let (set_a, set_b) = (in_a.get(rtype), in_b.get(rtype));
            if let (Some(x), Some(y)) = (set_a, set_b)
                && x.same_data(y)
            {
                continue;
            }
            for (sign, set) in [('-', set_a), ('+', set_b)] {
                for rdata in set.into_iter().flat_map(|s| s.rdatas.iter()) {
                    let set = set.expect("iterating its records");
                    let _ = writeln!(
                        lines,
                        "  {sign} {:<6} {:>6}  {:<40} ; {}",
                        rtype::mnemonic(set.rtype),
                        set.ttl,
                        rdata_to_text(set.rtype, &rdata.wire),
                        describe_source(config, &rdata.loc)
                    );
                }
            }
        }
        if !lines.is_empty() {
            differing += 1;
            let presence = match (in_a.is_empty(), in_b.is_empty()) {
                (false, true) => format!("  (only in view {})", a.name),
                (true, false) => format!("  (only in view {})", b.name),
                _ => String::new(),
            };
            let _ = writeln!(out, "{owner}{presence}");
            out.push_str(&lines);
        }
    }
    if differing == 0 {
        let _ = writeln!(out, "views {} and {} serve identical data", a.name, b.name);
    } else {
        let _ = writeln!(out, "{differing} name(s) differ");
    }
    Diff {
        text: out,
        differing,
    }
}
