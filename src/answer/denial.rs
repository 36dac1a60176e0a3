//! The proofs a signed answer carries in its authority section (RFC 4035 §3.1.3, RFC 5155
//! §7.2): the NSEC or NSEC3 records that show a name does not exist (NXDOMAIN: the name and the
//! wildcard that could have answered it), that it has no data of the type asked (NODATA), or
//! that a wildcard answered because the name itself does not exist. They are gathered while the
//! chain is walked and written once the answer section is complete.
//!
//! With NSEC3 a name's absence is shown by its closest encloser proof (§7.2.1): the record
//! matching the closest encloser (the longest existing ancestor) and the one covering the next
//! closer name (the ancestor one label longer), whose hash stands for every name below it.

use crate::dns::name::{NameBuf, suffix_offsets};
use crate::view::zone::{Node, Nsec3Chain, RRset, ViewZone};
use crate::wire::writer::{Full, ResponseWriter, Section};

use super::rrset::write_rrset;

/// The NSEC records a signed answer proves with, each with its owner; empty (and never
/// allocated) for an answer that is not signed.
#[derive(Default)]
pub(super) struct Proofs<'z> {
    records: Vec<(NameBuf, &'z RRset)>,
    /// Already in the response (an answer writes them before its additional data).
    written: bool,
}

impl<'z> Proofs<'z> {
    fn add(&mut self, owner: &[u8], nsec: &'z RRset) {
        if self
            .records
            .iter()
            .any(|(known, _)| known.as_wire() == owner)
        {
            return;
        }
        let owner = NameBuf::from_wire(owner).expect("zone names fit a name");
        self.records.push((owner, nsec));
    }

    fn add_covering(&mut self, zone: &'z ViewZone, key: &[u8]) {
        if let Some((owner, nsec)) = zone.covering_nsec(key) {
            self.add(owner, nsec);
        }
    }

    fn add_nsec3(&mut self, record: Option<(&[u8], &'z std::sync::Arc<RRset>)>) {
        if let Some((owner, nsec3)) = record {
            self.add(owner, nsec3);
        }
    }

    /// The NSEC3 records that show `key` does not exist below its closest encloser
    /// `encloser`: the encloser's and the one covering the next closer name.
    fn closest_encloser_proof(&mut self, chain: &'z Nsec3Chain, key: &[u8], encloser: &[u8]) {
        self.add_nsec3(chain.matching(encloser));
        self.add_nsec3(chain.covering(next_closer(key, encloser)));
    }

    /// A wildcard answered `key`: the NSEC covering `key` shows it does not exist itself (RFC
    /// 4035 §3.1.3.3); with NSEC3 the one covering the next closer name (RFC 5155 §7.2.6: the
    /// wildcard's owner tells the closest encloser, `encloser`).
    pub(super) fn wildcard_answer(&mut self, zone: &'z ViewZone, key: &[u8], encloser: &[u8]) {
        match zone.nsec3() {
            None => self.add_covering(zone, key),
            Some(chain) => self.add_nsec3(chain.covering(next_closer(key, encloser))),
        }
    }

    /// `key` (found as `node`, or through the wildcard at its closest encloser `wildcard`) has
    /// no data of the type asked: the NSEC at the name; for an empty non-terminal the one
    /// covering it (its successor is below it); for a wildcard, the one covering `key` and the
    /// wildcard's own (RFC 4035 §3.1.3.1, §3.1.3.4).
    pub(super) fn nodata(
        &mut self,
        zone: &'z ViewZone,
        key: &[u8],
        node: &'z Node,
        wildcard: Option<&[u8]>,
    ) {
        if let Some(chain) = zone.nsec3() {
            // RFC 5155 §7.2.3 and §7.2.4 (the name's own record, an empty non-terminal's too),
            // §7.2.5 (a wildcard's: the closest encloser proof and the wildcard's record).
            if let Some(encloser) = wildcard {
                self.closest_encloser_proof(chain, key, encloser);
                if let Some(star) = NameBuf::concat(b"\x01*", encloser) {
                    self.add_nsec3(chain.matching(star.as_wire()));
                }
            } else {
                self.add_nsec3(chain.matching(key));
            }
            return;
        }
        if let Some(encloser) = wildcard {
            self.add_covering(zone, key);
            if let Some(star) = NameBuf::concat(b"\x01*", encloser)
                && let Some(nsec) = &node.nsec
            {
                self.add(star.as_wire(), nsec);
            }
            return;
        }
        match &node.nsec {
            Some(nsec) => self.add(key, nsec),
            None => self.add_covering(zone, key),
        }
    }

    /// `key` does not exist below its closest encloser `encloser` (as the lookup found it):
    /// the NSEC covering it and the one covering the wildcard at the encloser (RFC 4035
    /// §3.1.3.2).
    pub(super) fn nxdomain(&mut self, zone: &'z ViewZone, key: &[u8], encloser: &[u8]) {
        if let Some(chain) = zone.nsec3() {
            // RFC 5155 §7.2.2: the closest encloser proof and the record covering the wildcard
            // at the closest encloser.
            self.closest_encloser_proof(chain, key, encloser);
            if let Some(star) = NameBuf::concat(b"\x01*", encloser) {
                self.add_nsec3(chain.covering(star.as_wire()));
            }
            return;
        }
        self.add_covering(zone, key);
        if let Some(star) = NameBuf::concat(b"\x01*", encloser) {
            self.add_covering(zone, star.as_wire());
        }
    }

    /// Writes the proofs (each NSEC or NSEC3 with its signatures) into the authority section,
    /// once.
    pub(super) fn write(&mut self, writer: &mut ResponseWriter) -> Result<(), Full> {
        if self.written {
            return Ok(());
        }
        self.written = true;
        for (owner, nsec) in &self.records {
            write_rrset(writer, Section::Authority, owner.as_wire(), nsec)?;
        }
        Ok(())
    }
}

/// The ancestor of `key` one label longer than its closest encloser `encloser` (RFC 5155 §1.3:
/// the next closer name); `key` itself when it is one label below.
fn next_closer<'k>(key: &'k [u8], encloser: &[u8]) -> &'k [u8] {
    suffix_offsets(key)
        .map(|offset| &key[offset..])
        .take_while(|suffix| suffix.len() > encloser.len())
        .last()
        .unwrap_or(key)
}
