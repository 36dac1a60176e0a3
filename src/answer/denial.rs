//! The proofs a signed answer carries in its authority section (RFC 4035 §3.1.3): the NSEC
//! records that show a name does not exist (NXDOMAIN: the name and the wildcard that could have
//! answered it), that it has no data of the type asked (NODATA), or that a wildcard answered
//! because the name itself does not exist. They are gathered while the chain is walked and
//! written once the answer section is complete.

use crate::dns::name::NameBuf;
use crate::dns::rtype;
use crate::view::zone::{Node, RRset, ViewZone};
use crate::wire::writer::{Full, ResponseWriter, Section};

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

    /// A wildcard answered `key`: the NSEC covering `key` shows it does not exist itself
    /// (RFC 4035 §3.1.3.3).
    pub(super) fn wildcard_answer(&mut self, zone: &'z ViewZone, key: &[u8]) {
        self.add_covering(zone, key);
    }

    /// `key` (found as `node`, or through a wildcard) has no data of the type asked: the NSEC at
    /// the name; for an empty non-terminal the one covering it (its successor is below it); for
    /// a wildcard, the one covering `key` and the wildcard's own (RFC 4035 §3.1.3.1, §3.1.3.4).
    pub(super) fn nodata(
        &mut self,
        zone: &'z ViewZone,
        key: &[u8],
        node: &'z Node,
        wildcard: bool,
    ) {
        if wildcard {
            self.add_covering(zone, key);
            let encloser = zone.closest_encloser(key);
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

    /// `key` does not exist: the NSEC covering it and the one covering the wildcard at its
    /// closest encloser (RFC 4035 §3.1.3.2).
    pub(super) fn nxdomain(&mut self, zone: &'z ViewZone, key: &[u8]) {
        self.add_covering(zone, key);
        if let Some(star) = NameBuf::concat(b"\x01*", zone.closest_encloser(key)) {
            self.add_covering(zone, star.as_wire());
        }
    }

    /// Writes the proofs (each NSEC with its signatures) into the authority section, once.
    pub(super) fn write(&mut self, writer: &mut ResponseWriter) -> Result<(), Full> {
        if self.written {
            return Ok(());
        }
        self.written = true;
        for (owner, nsec) in &self.records {
            let sigs = nsec.sigs.as_ref().map_or(&[][..], |s| &s.full[..]);
            writer.push(
                Section::Authority,
                owner.as_wire(),
                rtype::NSEC,
                nsec.ttl,
                &nsec.rdatas[0].wire,
            )?;
            for sig in sigs {
                writer.push(
                    Section::Authority,
                    owner.as_wire(),
                    rtype::RRSIG,
                    nsec.ttl,
                    sig,
                )?;
            }
        }
        Ok(())
    }
}
