//! One exchange with one upstream server, and what we remember about each upstream's health.
//!
//! Each query goes out from a fresh UDP socket — a new random source port chosen by the kernel —
//! under a random ID, and the socket is connected to the upstream, so the kernel drops datagrams
//! from any other address or port. Of what does arrive, only a response with our ID and our
//! question is accepted; anything else is ignored and the wait goes on until the per-try timeout
//! (RFC 5452 §9). A truncated answer is asked again over TCP, within the same deadline.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout_at;

use super::message::{self, Question};

/// Why an upstream gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum UpstreamError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed TCP answer")]
    Malformed,
}

/// Asks `upstream` the client's question; returns the accepted response bytes.
pub(super) async fn exchange(
    upstream: SocketAddr,
    question: &Question,
    timeout: Duration,
) -> Result<Vec<u8>, UpstreamError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let bound = match timeout_at(deadline, udp(upstream, question)).await {
        Ok(result) => result?,
        Err(_) => return Err(UpstreamError::Timeout(timeout)),
    };
    if !message::is_truncated(&bound) {
        return Ok(bound);
    }
    match timeout_at(deadline, tcp(upstream, question)).await {
        Ok(result) => result,
        Err(_) => Err(UpstreamError::Timeout(timeout)),
    }
}

async fn udp(upstream: SocketAddr, question: &Question) -> Result<Vec<u8>, UpstreamError> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    let id: u16 = rand::random();
    socket.send(&message::upstream_query(question, id)).await?;
    // We ask for at most 1232 bytes (EDNS). A datagram that fills this buffer may have been
    // cut: it counts as truncated, and the answer is fetched over TCP. (A full 64 KiB per query
    // would cost 64 MiB with `max_outstanding` queries waiting on a dead upstream.)
    let mut buf = vec![0u8; 4096];
    loop {
        let len = socket.recv(&mut buf).await?;
        if message::answers(&buf[..len], id, question) {
            if len == buf.len() {
                buf[2] |= 0x02;
            }
            buf.truncate(len);
            return Ok(buf);
        }
        tracing::debug!("ignored a {len}-byte datagram from {upstream}: not our ID and question");
    }
}

async fn tcp(upstream: SocketAddr, question: &Question) -> Result<Vec<u8>, UpstreamError> {
    let mut stream = TcpStream::connect(upstream).await?;
    let _ = stream.set_nodelay(true);
    let id: u16 = rand::random();
    let query = message::upstream_query(question, id);
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&query);
    stream.write_all(&framed).await?;
    loop {
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).await?;
        let mut response = vec![0u8; u16::from_be_bytes(length) as usize];
        stream.read_exact(&mut response).await?;
        if message::answers(&response, id, question) {
            return Ok(response);
        }
        if response.len() < crate::wire::HEADER_LEN {
            return Err(UpstreamError::Malformed);
        }
    }
}

/// After this many failures in a row an upstream is skipped (tried only after the others)…
const FAILURES_BEFORE_SKIP: u32 = 3;
/// …for this long, while a probe in the background asks it every [`PROBE_EVERY`]: the first
/// answer puts it back in its place, so clients do not wait on it to find out.
const SKIP_FOR: Duration = Duration::from_secs(30);
const PROBE_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Default, Clone, Copy)]
struct Health {
    failures: u32,
    skip_until: Option<Instant>,
    probing: bool,
}

impl Health {
    fn skipped_at(&self, now: Instant) -> bool {
        self.skip_until.is_some_and(|until| now < until)
    }
}

/// Which upstreams keep failing. Shared by a view's queries (touched once per upstream try)
/// and by the probes of the upstreams being skipped.
#[derive(Debug, Default)]
pub(super) struct Upstreams {
    health: Mutex<HashMap<SocketAddr, Health>>,
}

/// What a probe asks: the root's NS set. Any response with our ID and question, whatever its
/// rcode (a DC may refuse it), shows the upstream is answering again.
fn probe_question() -> Question {
    Question {
        id: 0,
        flags: 0,
        qname: Box::new([0]),
        qtype: crate::dns::rtype::NS,
        qclass: crate::dns::class::IN,
        udp_payload: None,
        dnssec_ok: false,
    }
}

/// Asks a skipped upstream every [`PROBE_EVERY`] until it answers (then it is back in its
/// place) or nobody else holds `upstreams` (the view's resolver was replaced by a reload).
pub(super) async fn probe(
    upstreams: std::sync::Arc<Upstreams>,
    addr: SocketAddr,
    timeout: Duration,
) {
    let question = probe_question();
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let skipped = upstreams
            .health
            .lock()
            .expect("health lock")
            .get(&addr)
            .is_some_and(|h| h.skip_until.is_some());
        // Back already (a query found it answering), or the resolver is gone.
        if !skipped || std::sync::Arc::strong_count(&upstreams) == 1 {
            return;
        }
        let now = Instant::now();
        if exchange(addr, &question, timeout).await.is_ok() {
            tracing::info!("upstream {addr} answers again");
            upstreams.succeeded(addr);
            return;
        }
        // Still down: keep it skipped while the probe goes on.
        let mut health = upstreams.health.lock().expect("health lock");
        health.entry(addr).or_default().skip_until = Some(now + SKIP_FOR);
    }
}

impl Upstreams {
    /// `list` in the order to try: those not being skipped first, in configured order, then the
    /// skipped ones (so that when all are down they are still tried, and the first to recover
    /// is found).
    pub(super) fn order(&self, list: &[SocketAddr], now: Instant) -> Vec<SocketAddr> {
        let health = self.health.lock().expect("health lock");
        let skipped = |addr: &SocketAddr| health.get(addr).is_some_and(|h| h.skipped_at(now));
        let (mut up, down): (Vec<_>, Vec<_>) = list.iter().copied().partition(|a| !skipped(a));
        up.extend(down);
        up
    }

    /// How many upstreams are being skipped at `now`.
    pub(super) fn skipped(&self, now: Instant) -> usize {
        let health = self.health.lock().expect("health lock");
        health.values().filter(|h| h.skipped_at(now)).count()
    }

    pub(super) fn succeeded(&self, addr: SocketAddr) {
        self.health.lock().expect("health lock").remove(&addr);
    }

    /// Counts a failure; returns true when `addr` has just started being skipped and needs a
    /// [`probe`] (one per upstream at a time).
    pub(super) fn failed(&self, addr: SocketAddr, now: Instant) -> bool {
        let mut health = self.health.lock().expect("health lock");
        let entry = health.entry(addr).or_default();
        entry.failures += 1;
        if entry.failures < FAILURES_BEFORE_SKIP {
            return false;
        }
        if !entry.skipped_at(now) {
            tracing::warn!(
                "upstream {addr} failed {} times in a row: asked last, and probed every {}s until it answers",
                entry.failures,
                PROBE_EVERY.as_secs()
            );
        }
        entry.skip_until = Some(now + SKIP_FOR);
        !std::mem::replace(&mut entry.probing, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_that_keeps_failing_is_tried_last_for_a_while_then_in_its_place() {
        let upstreams = Upstreams::default();
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:5300".parse().unwrap(),
            "127.0.0.1:5301".parse().unwrap(),
        );
        let now = Instant::now();
        assert_eq!(upstreams.order(&[a, b], now), [a, b]);
        upstreams.failed(a, now);
        upstreams.failed(a, now);
        assert_eq!(
            upstreams.order(&[a, b], now),
            [a, b],
            "two failures: still first"
        );
        upstreams.failed(a, now);
        assert_eq!(upstreams.order(&[a, b], now), [b, a], "three: skipped");
        assert_eq!(
            upstreams.order(&[a, b], now + SKIP_FOR),
            [a, b],
            "retried after"
        );
        upstreams.failed(a, now);
        upstreams.succeeded(a);
        assert_eq!(upstreams.order(&[a, b], now), [a, b], "an answer clears it");
    }
}
