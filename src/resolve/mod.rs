//! The inside view's forwarder and cache: its own stage, after the answer stage has decided a
//! name is not ours. It relays the client's question to upstream resolvers (or a delegation's
//! servers) and keeps whole responses in a per-view cache — it never rebuilds an answer from
//! records (STYLE #16). Stands on `dns/` and `wire/` only; which upstreams to ask is given to it.
//!
//! - [`Resolver::answer_from_cache`] is synchronous and cheap: the UDP receive loops call it
//!   inline, so cache hits cost no hand-off.
//! - [`Resolver::resolve`] is the rest, on the tokio runtime: a miss asks the upstreams in order
//!   with failover ([`upstream`]), identical misses in flight are joined (one upstream query for
//!   many clients), failures are cached briefly and an expired answer is served when every
//!   upstream fails (serve-stale); an upstream that keeps failing is asked last and probed in
//!   the background until it answers.
//! - Forwarding loops: while a question is in flight to some upstreams, the same question
//!   arriving *from* one of those upstreams' addresses is a loop (a DC that forwards back to us
//!   what we forward to it): it gets SERVFAIL at once and one log line, so the loop unwinds
//!   instead of ping-ponging until every side times out. Tags in the query (an EDNS option, a
//!   nonce in the ID) would not survive a resolver in between; the in-flight table is exact for
//!   the direct loop and costs nothing extra.

mod cache;
pub(crate) mod message;
mod upstream;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::dns::rcode;
use crate::wire::{self, Transport};
use cache::{Answer, Cache, Failure, Key, Lookup};
use message::{Age, Lifetime, Question, Stored};
use upstream::UpstreamError;

/// A recursive view's resolver settings (`[view.resolver]`), with their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How long one try at one upstream may take before the next is tried.
    pub timeout: Duration,
    /// Cap on how long an answer is cached (and the TTLs clients see).
    pub max_ttl: u32,
    /// Cap on how long a negative answer (NXDOMAIN, NODATA) is cached.
    pub max_negative_ttl: u32,
    /// How long a failed resolution is remembered (RFC 9520: not asked again meanwhile).
    pub failure_ttl: u32,
    /// How long past its TTL an answer may still be served when no upstream answers (RFC 8767);
    /// `None`: never.
    pub serve_stale: Option<Duration>,
    /// Cap on the cache's size, in bytes.
    pub cache_bytes: usize,
    /// Cap on forwarded queries in progress; beyond it, SERVFAIL at once.
    pub max_outstanding: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_millis(1500),
            max_ttl: 86_400,
            max_negative_ttl: 3_600,
            failure_ttl: 5,
            serve_stale: Some(Duration::from_secs(86_400)),
            cache_bytes: 64 << 20,
            max_outstanding: 1_000,
        }
    }
}

/// What happened, summed since start.
#[derive(Debug, Default)]
pub struct Counters {
    /// Queries answered SERVFAIL because [`Settings::max_outstanding`] were in progress.
    pub over_limit: AtomicU64,
    /// Forwarding loops broken.
    pub loops: AtomicU64,
    /// Stale answers served.
    pub stale: AtomicU64,
    /// What each upstream try came to, by [`UpstreamResult`] (a TCP retry is part of its try):
    /// their sum is the queries sent upstream.
    pub upstream_results: [AtomicU64; UpstreamResult::ALL.len()],
}

/// What one upstream try came to: the response code of an answer, or why there was none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamResult {
    NoError,
    NxDomain,
    ServFail,
    Refused,
    /// An answer with any other response code.
    OtherRcode,
    Timeout,
    /// A response that did not parse, or a TCP answer cut short.
    Malformed,
    /// A socket error (unreachable network, connection refused over TCP…).
    Error,
}

impl UpstreamResult {
    /// In discriminant order: the index of [`Counters::upstream_results`].
    pub(crate) const ALL: [UpstreamResult; 8] = [
        UpstreamResult::NoError,
        UpstreamResult::NxDomain,
        UpstreamResult::ServFail,
        UpstreamResult::Refused,
        UpstreamResult::OtherRcode,
        UpstreamResult::Timeout,
        UpstreamResult::Malformed,
        UpstreamResult::Error,
    ];

    /// The metrics label.
    pub(crate) fn name(self) -> &'static str {
        match self {
            UpstreamResult::NoError => "noerror",
            UpstreamResult::NxDomain => "nxdomain",
            UpstreamResult::ServFail => "servfail",
            UpstreamResult::Refused => "refused",
            UpstreamResult::OtherRcode => "other_rcode",
            UpstreamResult::Timeout => "timeout",
            UpstreamResult::Malformed => "malformed",
            UpstreamResult::Error => "error",
        }
    }

    fn of_rcode(code: u8) -> UpstreamResult {
        match code {
            rcode::NOERROR => UpstreamResult::NoError,
            rcode::NXDOMAIN => UpstreamResult::NxDomain,
            rcode::SERVFAIL => UpstreamResult::ServFail,
            rcode::REFUSED => UpstreamResult::Refused,
            _ => UpstreamResult::OtherRcode,
        }
    }
}

impl Counters {
    fn upstream_result(&self, result: UpstreamResult) {
        self.upstream_results[result as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// One view's resolver: its cache, upstream health and in-flight questions.
pub struct Resolver {
    settings: Settings,
    cache: Cache,
    upstreams: Arc<upstream::Upstreams>,
    inflight: Mutex<HashMap<Key, Flight>>,
    outstanding: Arc<Semaphore>,
    pub counters: Counters,
}

/// A question being asked upstream: whom, and the clients waiting for the same answer.
struct Flight {
    upstreams: Arc<[SocketAddr]>,
    waiters: Vec<oneshot::Sender<Resolved>>,
}

/// How a question was settled, shared by every client that asked it.
#[derive(Clone)]
enum Resolved {
    Answer(Arc<Answer>, Age),
    Stale(Arc<Answer>),
    Failed(Option<Arc<Failure>>),
    Refused,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The client's question and what a response to it may be as large as.
fn question(packet: &[u8], transport: Transport) -> Option<(Question, Key, usize)> {
    let header = wire::query::Header::read(packet)?;
    let query = wire::query::parse(packet).ok()?;
    let question = Question {
        id: query.id,
        flags: header.flags,
        qname: query.qname.into(),
        qtype: query.qtype,
        qclass: query.qclass,
        udp_payload: query.edns.map(|e| e.udp_payload),
        dnssec_ok: query.edns.is_some_and(|e| e.dnssec_ok),
    };
    let key = Key {
        name: query.key.as_wire().into(),
        qtype: query.qtype,
        qclass: query.qclass,
        dnssec_ok: question.dnssec_ok,
        checking_disabled: question.checking_disabled(),
    };
    let max_len = transport.max_response_len(question.udp_payload);
    Some((question, key, max_len))
}

impl Resolver {
    pub fn new(settings: Settings) -> Resolver {
        Resolver {
            cache: Cache::new(&settings),
            outstanding: Arc::new(Semaphore::new(settings.max_outstanding)),
            settings,
            upstreams: Arc::default(),
            inflight: Mutex::default(),
            counters: Counters::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Entries in the cache and their size in bytes.
    pub fn cache_usage(&self) -> (usize, u64) {
        self.cache.usage()
    }

    /// Upstreams being skipped now (asked last, probed until they answer).
    pub fn skipped_upstreams(&self) -> usize {
        self.upstreams.skipped(Instant::now())
    }

    /// Answers from the cache alone, when it can: a fresh answer, a recent failure (with a
    /// stale answer if one may be served), or — for a query with RD clear, which asks for
    /// nothing but the cache — REFUSED. Writes the response into `out` and returns true;
    /// false when only the upstreams can answer. Never waits.
    pub fn answer_from_cache(
        &self,
        packet: &[u8],
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((question, key, max_len)) = question(packet, transport) else {
            return false;
        };
        let Ok(resolved) = self.cached(&key, &question) else {
            return false;
        };
        self.write(&resolved, &question, max_len, out);
        true
    }

    /// What the cache alone can say: `Ok` with the answer, or `Err` when the upstreams must be
    /// asked, with the expired answer serve-stale may fall back on.
    fn cached(&self, key: &Key, question: &Question) -> Result<Resolved, Option<Arc<Answer>>> {
        match self.cache.lookup(key, Instant::now()) {
            Lookup::Fresh(answer, age) => Ok(Resolved::Answer(answer, age)),
            _ if !question.recursion_desired() => Ok(Resolved::Refused),
            Lookup::Failed(_, Some(stale)) => Ok(Resolved::Stale(stale)),
            Lookup::Failed(failure, None) => Ok(Resolved::Failed(Some(failure))),
            Lookup::Miss(stale) => Err(stale),
        }
    }

    /// A place among the queries in progress, or `None` (counted) when they are at the cap.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.outstanding.clone().try_acquire_owned().ok();
        if permit.is_none() {
            let refused = self.counters.over_limit.fetch_add(1, Ordering::Relaxed) + 1;
            // Logged at 1, 2, 4, 8 …: a flood of misses costs a few lines, not one per query.
            if refused.is_power_of_two() {
                tracing::warn!(
                    "{refused} forwarded queries answered SERVFAIL so far: {} already in progress (max_outstanding)",
                    self.settings.max_outstanding
                );
            }
        }
        permit
    }

    /// Answers a forwarded query from `client`, asking `upstreams` (in order) on a miss.
    /// Writes the response into `out`; returns false only for a packet that is not a query.
    pub async fn resolve(
        &self,
        packet: &[u8],
        client: IpAddr,
        upstreams: Arc<[SocketAddr]>,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((question, key, max_len)) = question(packet, transport) else {
            return false;
        };
        let resolved = match self.cached(&key, &question) {
            Ok(resolved) => resolved,
            Err(stale) => {
                self.join_or_ask(key, client, upstreams, &question, stale)
                    .await
            }
        };
        self.write(&resolved, &question, max_len, out);
        true
    }

    /// [`Resolver::answer_from_cache`] for a CNAME chase: `ours` is our authoritative answer,
    /// whose chain ends at a forwarded name. Writes our answer followed by the cached answer
    /// for that name, or returns false when only the upstreams can tell.
    pub fn chase_from_cache(
        &self,
        packet: &[u8],
        ours: &[u8],
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(chase) = Chase::new(packet, ours, transport) else {
            return false;
        };
        let Ok(resolved) = self.cached(&chase.key, &chase.question) else {
            return false;
        };
        self.compose(&resolved, &chase, out);
        true
    }

    /// [`Resolver::resolve`] for a CNAME chase (see [`Resolver::chase_from_cache`]): the
    /// target is asked of `upstreams` like any forwarded name, and cached as its own question.
    pub async fn chase(
        &self,
        packet: &[u8],
        ours: &[u8],
        client: IpAddr,
        upstreams: Arc<[SocketAddr]>,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(chase) = Chase::new(packet, ours, transport) else {
            return false;
        };
        let resolved = match self.cached(&chase.key, &chase.question) {
            Ok(resolved) => resolved,
            Err(stale) => {
                let key = chase.key.clone();
                self.join_or_ask(key, client, upstreams, &chase.target, stale)
                    .await
            }
        };
        self.compose(&resolved, &chase, out);
        true
    }

    fn compose(&self, resolved: &Resolved, chase: &Chase, out: &mut Vec<u8>) {
        let tail = match resolved {
            Resolved::Answer(answer, age) => message::Tail::Answer(&answer.stored, *age),
            Resolved::Stale(answer) => {
                self.counters.stale.fetch_add(1, Ordering::Relaxed);
                message::Tail::Answer(&answer.stored, Age::Stale)
            }
            Resolved::Failed(Some(failure)) if failure.stored.is_some() => {
                message::Tail::Error(failure.stored.as_ref().expect("checked").rcode())
            }
            Resolved::Failed(_) => message::Tail::Error(rcode::SERVFAIL),
            Resolved::Refused => message::Tail::Nothing,
        };
        message::compose(
            out,
            &chase.question,
            &chase.target,
            &chase.ours,
            tail,
            chase.max_len,
        );
    }

    fn write(&self, resolved: &Resolved, question: &Question, max_len: usize, out: &mut Vec<u8>) {
        match resolved {
            Resolved::Answer(answer, age) => {
                answer.stored.write(out, question, *age, max_len);
            }
            Resolved::Stale(answer) => {
                self.counters.stale.fetch_add(1, Ordering::Relaxed);
                answer.stored.write(out, question, Age::Stale, max_len);
            }
            Resolved::Failed(Some(failure)) if failure.stored.is_some() => {
                let stored = failure.stored.as_ref().expect("checked");
                stored.write(out, question, Age::Fresh(0), max_len);
            }
            Resolved::Failed(_) => message::error(out, question, rcode::SERVFAIL),
            Resolved::Refused => message::error(out, question, rcode::REFUSED),
        }
    }

    /// Joins the same question already in flight, or asks the upstreams and tells everyone who
    /// joined meanwhile.
    async fn join_or_ask(
        &self,
        key: Key,
        client: IpAddr,
        upstreams: Arc<[SocketAddr]>,
        question: &Question,
        stale: Option<Arc<Answer>>,
    ) -> Resolved {
        let waiting = {
            let mut inflight = self.inflight.lock().expect("inflight lock");
            match inflight.get_mut(&key) {
                Some(flight)
                    if flight
                        .upstreams
                        .iter()
                        .any(|u| u.ip().to_canonical() == client.to_canonical()) =>
                {
                    self.counters.loops.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "forwarding loop: {client} asked for {} type {} while we were asking it; answered SERVFAIL",
                        crate::dns::name::Name::from_wire(&question.qname)
                            .map_or_else(|_| "?".into(), |n| n.to_string()),
                        question.qtype
                    );
                    return Resolved::Failed(None);
                }
                Some(flight) => {
                    let (tx, rx) = oneshot::channel();
                    flight.waiters.push(tx);
                    Some(rx)
                }
                None => {
                    inflight.insert(
                        key.clone(),
                        Flight {
                            upstreams: upstreams.clone(),
                            waiters: Vec::new(),
                        },
                    );
                    None
                }
            }
        };
        if let Some(rx) = waiting {
            // The leader dropped (its client went away): the waiters get SERVFAIL.
            return rx.await.unwrap_or(Resolved::Failed(None));
        }
        // Clears the flight however this ends, so a cancelled leader never strands it.
        let flight = FlightGuard {
            resolver: self,
            key: Some(key.clone()),
        };
        let resolved = self.ask(key, &upstreams, question, stale).await;
        for waiter in flight.finish() {
            let _ = waiter.send(resolved.clone());
        }
        resolved
    }

    /// Tries each upstream in turn until one gives an answer that is not an error.
    async fn ask(
        &self,
        key: Key,
        upstreams: &[SocketAddr],
        question: &Question,
        stale: Option<Arc<Answer>>,
    ) -> Resolved {
        let mut error_response: Option<Stored> = None;
        for addr in self.upstreams.order(upstreams, Instant::now()) {
            let exchanged = upstream::exchange(addr, question, self.settings.timeout).await;
            let stored = exchanged.as_ref().ok().and_then(|bytes| {
                Stored::read(bytes, self.settings.max_ttl, self.settings.max_negative_ttl)
            });
            self.counters.upstream_result(match (&exchanged, &stored) {
                (_, Some(stored)) => UpstreamResult::of_rcode(stored.rcode()),
                (Ok(_) | Err(UpstreamError::Malformed), None) => UpstreamResult::Malformed,
                (Err(UpstreamError::Timeout(_)), None) => UpstreamResult::Timeout,
                (Err(UpstreamError::Io(_)), None) => UpstreamResult::Error,
            });
            match (exchanged, stored) {
                // SERVFAIL or REFUSED: this upstream is alive but cannot answer; the next
                // may.
                (_, Some(stored)) if stored.lifetime == Lifetime::Failure => {
                    tracing::debug!("upstream {addr} answered rcode {}", stored.rcode());
                    self.upstreams.succeeded(addr);
                    error_response = Some(stored);
                }
                (_, Some(stored)) => {
                    self.upstreams.succeeded(addr);
                    let answer = self.cache.store_answer(key, stored, Instant::now());
                    return Resolved::Answer(answer, Age::Fresh(0));
                }
                (Ok(_), None) => {
                    tracing::debug!("upstream {addr} sent a malformed answer");
                    self.upstream_failed(addr);
                }
                (Err(e), None) => {
                    tracing::debug!("upstream {addr}: {e}");
                    self.upstream_failed(addr);
                }
            }
        }
        let now = Instant::now();
        let failure = self.cache.store_failure(key, error_response, now);
        match stale.filter(|answer| self.cache.stale_servable(answer, now)) {
            Some(answer) => Resolved::Stale(answer),
            None => Resolved::Failed(Some(failure)),
        }
    }
}

/// A CNAME chase: the client's question, our answer so far, and the question for the target
/// of its last CNAME (the client's type, class and DNSSEC bits).
struct Chase {
    question: Question,
    target: Question,
    key: Key,
    ours: wire::reader::Message,
    max_len: usize,
}

impl Chase {
    fn new(packet: &[u8], ours: &[u8], transport: Transport) -> Option<Chase> {
        let (question, _, max_len) = question(packet, transport)?;
        let ours = wire::reader::read(ours)?;
        let target = ours
            .answer
            .iter()
            .rev()
            .find(|r| r.rtype == crate::dns::rtype::CNAME)?
            .rdata
            .clone();
        let key = Key {
            name: target.to_ascii_lowercase().into(),
            qtype: question.qtype,
            qclass: question.qclass,
            dnssec_ok: question.dnssec_ok,
            checking_disabled: question.checking_disabled(),
        };
        let target = Question {
            qname: target.into(),
            ..question.clone()
        };
        Some(Chase {
            question,
            target,
            key,
            ours,
            max_len,
        })
    }
}

impl Resolver {
    /// Counts a failed try; an upstream that starts being skipped gets a probe in the
    /// background (on the runtime this try runs on).
    fn upstream_failed(&self, addr: SocketAddr) {
        if self.upstreams.failed(addr, Instant::now()) {
            tokio::spawn(upstream::probe(
                self.upstreams.clone(),
                addr,
                self.settings.timeout,
            ));
        }
    }
}

/// Removes a question from the in-flight table when its leader finishes or is dropped.
struct FlightGuard<'r> {
    resolver: &'r Resolver,
    key: Option<Key>,
}

impl FlightGuard<'_> {
    fn finish(mut self) -> Vec<oneshot::Sender<Resolved>> {
        let key = self.key.take().expect("finished once");
        self.resolver
            .inflight
            .lock()
            .expect("inflight lock")
            .remove(&key)
            .map(|flight| flight.waiters)
            .unwrap_or_default()
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take()
            && let Ok(mut inflight) = self.resolver.inflight.lock()
        {
            inflight.remove(&key);
        }
    }
}
