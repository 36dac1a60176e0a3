//! Answers compiled once and sent again: a receive loop keeps, for the requests it has answered,
//! the finished response bytes, and answers the same request (the same bytes but for the ID, from
//! a client of the same view) by copying them, writing the new ID and rotating the round-robin
//! sets as that ID rotates them — NSD's precompiled answers, made on first use instead of at load.
//!
//! Why on first use: compiling every (view, name, type) at load would cost the million-record
//! zone about as much memory again and its load time, for answers mostly never asked; a busy
//! server asks the same few thousand questions over and over. Each loop owns its table (nothing
//! shared, no lock); a new snapshot makes every entry stale ([`Snapshot::generation`]).
//!
//! What is compiled is exactly what [`super::respond`] wrote, and only when nothing in it
//! depends on more than the request's bytes, its view and the snapshot ([`Reuse`]): no TSIG, no
//! forwarded or transferred answer, no health-checked set, nothing left out or truncated for
//! size, UDP only. So a compiled answer is the same bytes `respond` would write again — the
//! `compiled_answers` integration test checks that over every name and type of the example, the
//! differential and the benchmark zones, in every view.

use std::hash::BuildHasher;
use std::net::IpAddr;

use super::{Next, Outcome, Summary};
use crate::view::Snapshot;
use crate::view::zone::rotation_start;
use crate::wire::HEADER_LEN;
use crate::wire::writer::Reuse;

/// Entries per loop. An entry is the request and its response, typically 100–300 bytes in all:
/// about 1 MiB a loop, and never more than 7 MiB (512-byte requests with 1,232-byte responses),
/// however many names are asked.
const SLOTS: usize = 4096;
/// Entries a request may be kept in (its hash picks the set): with one place per request, two
/// questions asked in turn that hash alike pushed each other out; the 1k benchmark zone's ~2,900
/// questions a view then missed one time in five.
const WAYS: usize = 4;
const SETS: usize = SLOTS / WAYS;
/// Requests longer than this are answered afresh (a question with EDNS is well under 300).
const MAX_REQUEST: usize = 512;

/// One loop's compiled answers. See the module documentation.
pub struct CompiledAnswers {
    /// Each entry's request hash, a set's side by side: a lookup reads these 32 bytes to find the
    /// entry that may hold its answer, or that none does, before it touches any entry.
    hashes: Box<[u64]>,
    /// Held in place (one memory access to an entry's fields, one more to its bytes); an empty
    /// entry's generation, 0, is no snapshot's.
    slots: Box<[Compiled]>,
    /// Per set, the entry to replace next when none is free (first in, first out).
    next_out: Box<[u8]>,
    hasher: foldhash::fast::RandomState,
}

/// One compiled answer: the request it answers, the response, and the summary's fields.
struct Compiled {
    generation: u64,
    /// The view the client was in (`u16::MAX`: none).
    view: u16,
    /// The request without its ID, then the response.
    bytes: Vec<u8>,
    request_len: usize,
    reuse: Reuse,
    qtype: u16,
    outcome: Outcome,
    rrl_identity: u64,
    question_end: usize,
}

impl Compiled {
    /// An empty slot.
    fn empty() -> Compiled {
        Compiled {
            generation: 0,
            view: 0,
            bytes: Vec::new(),
            request_len: 0,
            reuse: Reuse::NEVER,
            qtype: 0,
            outcome: Outcome::Answer,
            rrl_identity: 0,
            question_end: 0,
        }
    }
}

/// A request [`CompiledAnswers::answer`] had no answer for: where its answer would go, for
/// [`CompiledAnswers::remember`].
#[derive(Debug, Clone, Copy)]
pub struct Miss {
    hash: u64,
    view: u16,
    /// The snapshot the request was answered from.
    generation: u64,
}

/// The first entry of the set a request's hash picks.
fn set_of(hash: u64) -> usize {
    (hash as usize % SETS) * WAYS
}

impl Default for CompiledAnswers {
    fn default() -> Self {
        CompiledAnswers::new()
    }
}

impl CompiledAnswers {
    pub fn new() -> CompiledAnswers {
        CompiledAnswers {
            hashes: vec![0; SLOTS].into_boxed_slice(),
            slots: (0..SLOTS).map(|_| Compiled::empty()).collect(),
            next_out: vec![0; SETS].into_boxed_slice(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Writes into `out` the compiled answer to `packet` from `client`, if there is one, and
    /// returns its summary; otherwise where [`CompiledAnswers::remember`] would keep it (`None`
    /// when the request is not one to compile).
    pub fn answer(
        &mut self,
        snapshot: &Snapshot,
        client: IpAddr,
        packet: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Summary, Option<Miss>> {
        if packet.len() <= HEADER_LEN || packet.len() > MAX_REQUEST {
            return Err(None);
        }
        let route = snapshot.view_for(client, None).map(|(_, route)| route);
        let view = route.map_or(u16::MAX, |route| route.view as u16);
        let hash = self.hasher.hash_one((view, &packet[2..]));
        let miss = Err(Some(Miss {
            hash,
            view,
            generation: snapshot.generation,
        }));
        let set = set_of(hash);
        let Some(compiled) = (set..set + WAYS)
            .filter(|&at| self.hashes[at] == hash)
            .map(|at| &self.slots[at])
            .find(|compiled| {
                compiled.generation == snapshot.generation
                    && compiled.view == view
                    && compiled.bytes[..compiled.request_len] == packet[2..]
            })
        else {
            return miss;
        };
        let response = &compiled.bytes[compiled.request_len..];
        out.clear();
        out.extend_from_slice(response);
        out[..2].copy_from_slice(&packet[..2]);
        let id = u16::from_be_bytes([packet[0], packet[1]]);
        for rotation in compiled.reuse.rotations() {
            let count = rotation.count as usize;
            let len = rotation.len as usize;
            // Position k holds record (start + k) mod count; the new ID wants record
            // (new start + k) there, which the compiled response holds `shift` positions on.
            let shift = (rotation_start(id, count) + count - rotation.start as usize) % count;
            if shift == 0 {
                continue;
            }
            for k in 0..count {
                let from = rotation.offset((k + shift) % count);
                let to = rotation.offset(k);
                out[to..to + len].copy_from_slice(&response[from..from + len]);
            }
        }
        Ok(Summary {
            view: route.map(|route| route.view),
            qtype: compiled.qtype,
            route,
            tsig_error: 0,
            next: Next::Send(compiled.outcome),
            truncated: false,
            rrl_identity: compiled.rrl_identity,
            question_end: compiled.question_end,
            reuse: Reuse::NEVER,
        })
    }

    /// Keeps `response`, just written by [`super::respond`] for `packet`, as the answer to the
    /// same request from the same view, if it may be reused ([`Reuse`]).
    pub fn remember(&mut self, miss: Miss, packet: &[u8], response: &[u8], summary: &Summary) {
        let Next::Send(outcome) = summary.next else {
            return;
        };
        if !summary.reuse.reusable()
            || summary.view.map_or(u16::MAX, |view| view as u16) != miss.view
        {
            return;
        }
        let set = set_of(miss.hash);
        // A stale or empty entry if the set has one, else the one kept longest.
        let at = (set..set + WAYS)
            .find(|&at| self.slots[at].generation != miss.generation)
            .unwrap_or_else(|| {
                let next = &mut self.next_out[set / WAYS];
                let out = usize::from(*next);
                *next = ((out + 1) % WAYS) as u8;
                set + out
            });
        self.hashes[at] = miss.hash;
        let compiled = &mut self.slots[at];
        compiled.generation = miss.generation;
        compiled.view = miss.view;
        compiled.bytes.clear();
        // One allocation when the slot is first used or outgrown, not one per part.
        compiled.bytes.reserve(packet.len() - 2 + response.len());
        compiled.bytes.extend_from_slice(&packet[2..]);
        compiled.request_len = packet.len() - 2;
        compiled.bytes.extend_from_slice(response);
        compiled.reuse = summary.reuse;
        compiled.qtype = summary.qtype;
        compiled.outcome = outcome;
        compiled.rrl_identity = summary.rrl_identity;
        compiled.question_end = summary.question_end;
    }
}
