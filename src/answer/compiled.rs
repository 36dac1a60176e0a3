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

use thin_vec::ThinVec;

use super::{Next, Outcome, Summary};
use crate::view::zone::rotation_start;
use crate::view::{Route, Snapshot};
use crate::wire::HEADER_LEN;
use crate::wire::writer::{Reuse, Rotation};

/// Sets a request's hash picks from: 8,192 entries in all. An entry is the request and its
/// response, typically 100–300 bytes: about 2 MiB a loop when full, and never more than 15 MiB
/// (512-byte requests with 1,232-byte responses), however many names are asked. With 4,096
/// entries the 1k benchmark zone's ~2,900 questions a view missed about one time in eleven (a
/// set asked for more than its ways churns), and a miss costs ten hits; with 8,192, about one in
/// seventy.
const SETS: usize = 2048;
/// Entries a request may be kept in: with one place per request, two questions asked in turn
/// that hash alike pushed each other out. Four hashes and four entry pointers fill one cache
/// line ([`Set`]).
const WAYS: usize = 4;
/// Requests longer than this are answered afresh (a question with EDNS is well under 300).
const MAX_REQUEST: usize = 512;

/// One loop's compiled answers. See the module documentation.
pub struct CompiledAnswers {
    sets: Box<[Set]>,
    /// Per set, the entry to replace next when none is free or stale (first in, first out);
    /// apart from the sets because only a miss reads it.
    next_out: Box<[u8]>,
    hasher: foldhash::fast::RandomState,
    /// The last client's route and the snapshot generation it was found in: most queries come
    /// from the client that asked just before (a resolver, a load generator's sockets), and
    /// then the prefix table is not read at all.
    last_route: Option<(u64, IpAddr, Option<Route>)>,
}

/// A set's entries' hashes side by side, then the entries, in one cache line: a lookup reads this
/// line and then the one entry whose hash matched, which holds everything else. The queries of a
/// lightly loaded server each find the caches cold (the core halts between them), so a lookup
/// pays for each line it must read before it knows the next one to read: here two, the set's and
/// the entry's.
#[repr(align(64))]
struct Set {
    /// Over the snapshot's generation, the view and the request without its ID ([`Probe`]).
    hashes: [u64; WAYS],
    /// Empty when unused; else an [`Entry`]'s encoding.
    entries: [ThinVec<u8>; WAYS],
}

const _: () = assert!(std::mem::size_of::<Set>() == 64);

/// A request's place in the table, worked out once ([`CompiledAnswers::probe`]).
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Over the snapshot's generation, the view and the request without its ID.
    hash: u64,
    /// The client's view, and why.
    route: Option<Route>,
    /// The snapshot the request is answered from.
    generation: u64,
}

impl Probe {
    fn set(&self) -> usize {
        self.hash as usize % SETS
    }
}

/// How an entry names its view: the view's index, `u16::MAX` for none.
fn view_code(route: Option<Route>) -> u16 {
    route.map_or(u16::MAX, |route| route.view as u16)
}

/// Asks the CPU to start reading the cache line at `at` (x86-64; elsewhere nothing).
#[allow(unsafe_code)]
fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address, and changes nothing the program
    // can observe; SSE, which has it, is part of every x86-64 CPU.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

impl Default for CompiledAnswers {
    fn default() -> Self {
        CompiledAnswers::new()
    }
}

impl CompiledAnswers {
    pub fn new() -> CompiledAnswers {
        CompiledAnswers {
            sets: (0..SETS)
                .map(|_| Set {
                    hashes: [0; WAYS],
                    entries: Default::default(),
                })
                .collect(),
            next_out: vec![0; SETS].into_boxed_slice(),
            hasher: foldhash::fast::RandomState::default(),
            last_route: None,
        }
    }

    /// Where `packet` from `client` would be kept (`None` when the request is not one to
    /// compile), and the start of reading that set: a loop probes every request of a batch, then
    /// [`CompiledAnswers::fetch`]es them all, then answers them, so that the cold lines of a
    /// batch's lookups are read together rather than each in turn.
    pub fn probe(&mut self, snapshot: &Snapshot, client: IpAddr, packet: &[u8]) -> Option<Probe> {
        if packet.len() <= HEADER_LEN || packet.len() > MAX_REQUEST {
            return None;
        }
        let route = match self.last_route {
            Some((generation, address, route))
                if generation == snapshot.generation && address == client =>
            {
                route
            }
            _ => {
                let route = snapshot.view_for(client, None).map(|(_, route)| route);
                self.last_route = Some((snapshot.generation, client, route));
                route
            }
        };
        let probe = Probe {
            // The generation is hashed too, so that an entry made stale by a reload is passed
            // over by its hash, without reading it.
            hash: self
                .hasher
                .hash_one((snapshot.generation, view_code(route), &packet[2..])),
            route,
            generation: snapshot.generation,
        };
        prefetch(&self.sets[probe.set()]);
        Some(probe)
    }

    /// Starts reading the entry `probe`'s hash matches, if its set has one.
    pub fn fetch(&self, probe: &Probe) {
        let set = &self.sets[probe.set()];
        if let Some(way) = (0..WAYS).find(|&way| set.hashes[way] == probe.hash) {
            // The fields and the request, then the response's first bytes.
            let entry = set.entries[way].as_ptr();
            prefetch(entry);
            prefetch(entry.wrapping_add(64));
        }
    }

    /// Writes into `out` the compiled answer to `packet` (which `probe` was made for), if there
    /// is one, and returns its summary; if not, [`CompiledAnswers::remember`] may keep the
    /// answer written afresh.
    pub fn answer(&self, probe: &Probe, packet: &[u8], out: &mut Vec<u8>) -> Option<Summary> {
        let view = view_code(probe.route);
        let request = &packet[2..];
        let set = &self.sets[probe.set()];
        let entry = (0..WAYS)
            .filter(|&way| set.hashes[way] == probe.hash)
            .filter_map(|way| Entry::decode(&set.entries[way]))
            .find(|entry| {
                entry.fields.generation == probe.generation
                    && entry.fields.view == view
                    && entry.request == request
            })?;
        let response = entry.response;
        out.clear();
        out.extend_from_slice(response);
        out[..2].copy_from_slice(&packet[..2]);
        let id = u16::from_be_bytes([packet[0], packet[1]]);
        for rotation in entry.rotations() {
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
        Some(Summary {
            view: probe.route.map(|route| route.view),
            qtype: entry.fields.qtype,
            route: probe.route,
            tsig_error: 0,
            next: Next::Send(entry.fields.outcome),
            truncated: false,
            rrl_identity: entry.fields.rrl_identity,
            question_end: usize::from(entry.fields.question_end),
            reuse: Reuse::NEVER,
        })
    }

    /// Keeps `response`, just written by [`super::respond`] for `packet`, as the answer to the
    /// same request from the same view, if it may be reused ([`Reuse`]).
    pub fn remember(&mut self, probe: &Probe, packet: &[u8], response: &[u8], summary: &Summary) {
        let Next::Send(outcome) = summary.next else {
            return;
        };
        let Ok(question_end) = u16::try_from(summary.question_end) else {
            return;
        };
        if !summary.reuse.reusable() || summary.view != probe.route.map(|route| route.view) {
            return;
        }
        let index = probe.set();
        let set = &mut self.sets[index];
        // An empty or stale entry if the set has one, else the one kept longest.
        let way = (0..WAYS)
            .find(|&way| {
                Entry::decode(&set.entries[way])
                    .is_none_or(|entry| entry.fields.generation != probe.generation)
            })
            .unwrap_or_else(|| {
                let next = &mut self.next_out[index];
                let out = usize::from(*next);
                *next = ((out + 1) % WAYS) as u8;
                out
            });
        set.hashes[way] = probe.hash;
        Entry::encode(
            &mut set.entries[way],
            &Fields {
                generation: probe.generation,
                rrl_identity: summary.rrl_identity,
                view: view_code(probe.route),
                question_end,
                qtype: summary.qtype,
                outcome,
            },
            &packet[2..],
            response,
            summary.reuse.rotations(),
        );
    }
}

/// A compiled answer, read in place from its encoding: the [`Fields`] ([`FIELDS_LEN`] bytes,
/// little-endian), then the request without its ID, the response, and the round-robin sets to
/// rotate ([`ROTATION_LEN`] bytes each).
struct Entry<'a> {
    fields: Fields,
    request: &'a [u8],
    response: &'a [u8],
    /// Encoded; see [`Entry::rotations`].
    rotations: &'a [u8],
}

/// What an entry keeps besides bytes: whose answer it is, and the summary's fields.
struct Fields {
    generation: u64,
    rrl_identity: u64,
    /// The view the client was in (`u16::MAX`: none).
    view: u16,
    question_end: u16,
    qtype: u16,
    outcome: Outcome,
}

/// generation, rrl_identity, view, request length, question_end, qtype, outcome, rotations.
const FIELDS_LEN: usize = 8 + 8 + 2 + 2 + 2 + 2 + 1 + 1;
/// first, second, stride, len, count, start.
const ROTATION_LEN: usize = 2 + 2 + 2 + 1 + 1 + 1;

impl<'a> Entry<'a> {
    /// `None` for an empty entry.
    fn decode(bytes: &'a [u8]) -> Option<Entry<'a>> {
        let (fields, rest) = bytes.split_first_chunk::<FIELDS_LEN>()?;
        // In the order `encode` writes them.
        let (generation, fields) = fields.split_first_chunk::<8>()?;
        let (rrl_identity, fields) = fields.split_first_chunk::<8>()?;
        let (view, fields) = fields.split_first_chunk::<2>()?;
        let (request_len, fields) = fields.split_first_chunk::<2>()?;
        let (question_end, fields) = fields.split_first_chunk::<2>()?;
        let (qtype, fields) = fields.split_first_chunk::<2>()?;
        let &[outcome, rotation_count] = fields else {
            return None;
        };
        let request_len = usize::from(u16::from_le_bytes(*request_len));
        let rotations_len = usize::from(rotation_count) * ROTATION_LEN;
        let response_end = rest.len().checked_sub(rotations_len)?;
        if request_len > response_end {
            return None;
        }
        let (request, rest) = rest.split_at(request_len);
        let (response, rotations) = rest.split_at(response_end - request_len);
        Some(Entry {
            fields: Fields {
                generation: u64::from_le_bytes(*generation),
                rrl_identity: u64::from_le_bytes(*rrl_identity),
                view: u16::from_le_bytes(*view),
                question_end: u16::from_le_bytes(*question_end),
                qtype: u16::from_le_bytes(*qtype),
                outcome: *Outcome::ALL.get(usize::from(outcome))?,
            },
            request,
            response,
            rotations,
        })
    }

    /// Replaces `into`'s contents with an entry's encoding (in its allocation when that is
    /// large enough: a full table stops allocating).
    fn encode(
        into: &mut ThinVec<u8>,
        fields: &Fields,
        request: &[u8],
        response: &[u8],
        rotations: &[Rotation],
    ) {
        into.clear();
        into.reserve(FIELDS_LEN + request.len() + response.len() + rotations.len() * ROTATION_LEN);
        into.extend_from_slice(&fields.generation.to_le_bytes());
        into.extend_from_slice(&fields.rrl_identity.to_le_bytes());
        into.extend_from_slice(&fields.view.to_le_bytes());
        // At most MAX_REQUEST: fits.
        into.extend_from_slice(&(request.len() as u16).to_le_bytes());
        into.extend_from_slice(&fields.question_end.to_le_bytes());
        into.extend_from_slice(&fields.qtype.to_le_bytes());
        into.push(fields.outcome as u8);
        // At most a few (the writer's MAX_ROTATIONS): fits.
        into.push(rotations.len() as u8);
        into.extend_from_slice(request);
        into.extend_from_slice(response);
        for rotation in rotations {
            into.extend_from_slice(&rotation.first.to_le_bytes());
            into.extend_from_slice(&rotation.second.to_le_bytes());
            into.extend_from_slice(&rotation.stride.to_le_bytes());
            into.extend_from_slice(&[rotation.len, rotation.count, rotation.start]);
        }
    }

    fn rotations(&self) -> impl Iterator<Item = Rotation> + 'a {
        self.rotations
            .chunks_exact(ROTATION_LEN)
            .map(|bytes| Rotation {
                first: u16::from_le_bytes([bytes[0], bytes[1]]),
                second: u16::from_le_bytes([bytes[2], bytes[3]]),
                stride: u16::from_le_bytes([bytes[4], bytes[5]]),
                len: bytes[6],
                count: bytes[7],
                start: bytes[8],
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_what_was_written_and_an_empty_one_reads_as_none() {
        let rotations = [
            Rotation {
                first: 40,
                second: 56,
                stride: 16,
                len: 4,
                count: 3,
                start: 2,
            },
            Rotation {
                first: 300,
                second: 330,
                stride: 30,
                len: 16,
                count: 2,
                start: 1,
            },
        ];
        let mut bytes = ThinVec::new();
        assert!(Entry::decode(&bytes).is_none());
        let fields = Fields {
            generation: 7,
            rrl_identity: u64::MAX - 1,
            view: u16::MAX,
            question_end: 33,
            qtype: 28,
            outcome: Outcome::NxDomain,
        };
        // Written over a longer entry first: a replaced entry keeps nothing of the old one.
        Entry::encode(&mut bytes, &fields, &[9; 80], &[8; 400], &rotations);
        Entry::encode(&mut bytes, &fields, b"request", b"the response", &rotations);
        let entry = Entry::decode(&bytes).expect("an entry");
        assert_eq!(entry.fields.generation, 7);
        assert_eq!(entry.fields.rrl_identity, u64::MAX - 1);
        assert_eq!(entry.fields.view, u16::MAX);
        assert_eq!(entry.fields.question_end, 33);
        assert_eq!(entry.fields.qtype, 28);
        assert_eq!(entry.fields.outcome, Outcome::NxDomain);
        assert_eq!(entry.request, b"request");
        assert_eq!(entry.response, b"the response");
        assert_eq!(entry.rotations().collect::<Vec<_>>(), rotations);
        // A cut encoding is no entry, not a misread one.
        assert!(Entry::decode(&bytes[..FIELDS_LEN - 1]).is_none());
        assert!(Entry::decode(&bytes[..FIELDS_LEN + 3]).is_none());
    }
}
