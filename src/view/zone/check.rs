//! The node-local rules every view's copy of a zone obeys (one CNAME standing alone, at most
//! one DNAME), with errors that name where each conflicting record was written.

use crate::dns::{name, rtype};
use crate::located::{Located, SourceLoc};

use super::node::{Node, Rdata, ZoneData};

/// Checks the node-local rules every view must obey: CNAME stands alone (RFC 1034 §3.6.2,
/// DNSSEC records excepted), and a name has at most one CNAME and one DNAME. A node merged for
/// one `view` (shared data, an override file, `[[exchange]]` records) may hold records of several
/// files, so each conflict names where both records were written, and the view.
pub(super) fn check_node(key: &[u8], node: &Node, view: Option<&str>, errors: &mut Vec<Located>) {
    let in_view = view.map(|v| format!(" in view {v}")).unwrap_or_default();
    let owner = || {
        let mut text = String::new();
        let _ = name::fmt_wire_name(key, &mut text);
        text
    };
    for set in node.rrsets.iter() {
        if (set.rtype == rtype::CNAME || set.rtype == rtype::DNAME) && set.rdatas.len() > 1 {
            errors.push(record_error(
                &set.rdatas[1],
                format!(
                    "{} has more than one {} record{in_view} (the first at {})",
                    owner(),
                    rtype::mnemonic(set.rtype),
                    place(&set.rdatas[0].loc)
                ),
            ));
        }
    }
    if let Some(cname) = node.get(rtype::CNAME) {
        let other = node
            .rrsets
            .iter()
            .find(|set| !matches!(set.rtype, rtype::CNAME | rtype::RRSIG | rtype::NSEC));
        if let Some(other) = other {
            errors.push(record_error(
                &other.rdatas[0],
                format!(
                    "{} has a CNAME ({}) and other data{in_view} ({} at {}): a CNAME must stand alone",
                    owner(),
                    place(&cname.rdatas[0].loc),
                    rtype::mnemonic(other.rtype),
                    place(&other.rdatas[0].loc)
                ),
            ));
        }
    }
}

/// `file:line` of a record.
fn place(loc: &SourceLoc) -> String {
    format!("{}:{}", loc.file.display(), loc.line)
}

/// Checks every shared node once (the per-view overlays are checked in [`assemble`]).
pub(crate) fn check_shared(shared: &ZoneData) -> Vec<Located> {
    let mut errors = Vec::new();
    for (key, node) in &shared.nodes {
        check_node(key, node, None, &mut errors);
    }
    errors
}

pub(super) fn record_error(rdata: &Rdata, message: String) -> Located {
    Located::at(&rdata.loc, message)
}
