//! Response Rate Limiting over UDP (the algorithm of BIND, NSD and Knot): responses are counted
//! per client network (/24 for IPv4, /56 for IPv6) and per response identity (the query name and
//! type for answers, the zone for NXDOMAIN, one bucket for errors). Over the rate, responses are
//! dropped, except every `slip`-th, which goes out truncated (TC=1, no records) so a real client
//! retries over TCP while a spoofed victim gets no amplification.
//!
//! The table is a fixed array of atomic slots: no allocation and no lock per query, and a bounded
//! memory cost whatever the traffic; two identities sharing a slot just reset each other.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use crate::limits::RrlPolicy;
use crate::observe::Delivery;

const SLOTS: usize = 1 << 16;
/// Token bookkeeping is in thousandths of a response, so rates need no floating point.
const MILLI: u64 = 1000;

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Send,
    /// Send it truncated, with no records.
    Slip,
    Drop,
}

pub(super) struct RateLimiter {
    started: Instant,
    keys: Box<[AtomicU64]>,
    /// Per slot: milliseconds since start (upper 32 bits) and tokens in thousandths (lower 32).
    states: Box<[AtomicU64]>,
    limited: AtomicU32,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            started: Instant::now(),
            keys: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            states: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            limited: AtomicU32::new(0),
        }
    }
}

impl RateLimiter {
    /// Applies a view's `policy` (none: not limited) to `response` before it is sent: what the
    /// client gets. A slipped response is rewritten in place to its truncated, empty form.
    pub(super) fn apply(
        &self,
        policy: Option<&RrlPolicy>,
        client: IpAddr,
        identity: u64,
        response: &mut Vec<u8>,
        question_end: usize,
    ) -> Delivery {
        match policy.map(|policy| self.check(policy, client, identity)) {
            None | Some(Verdict::Send) => Delivery::Sent,
            Some(Verdict::Slip) => {
                slip(response, question_end);
                Delivery::Slipped
            }
            Some(Verdict::Drop) => Delivery::Dropped,
        }
    }

    /// Charges one response of `identity` to `client`'s network under `policy`.
    pub(super) fn check(&self, policy: &RrlPolicy, client: IpAddr, identity: u64) -> Verdict {
        let client = client.to_canonical();
        if policy.exempt.iter().any(|net| net.contains(&client)) {
            return Verdict::Send;
        }
        let key = mix(network_bits(client) ^ identity.rotate_left(17)).max(1);
        let slot = (key as usize) & (SLOTS - 1);
        let now = self.started.elapsed().as_millis() as u64 & 0xffff_ffff;
        let capacity = policy.responses_per_second as u64 * MILLI;
        if self.keys[slot].swap(key, Ordering::Relaxed) != key {
            // A new identity in this slot starts with a full second's worth of responses.
            self.states[slot].store((now << 32) | (capacity - MILLI), Ordering::Relaxed);
            return Verdict::Send;
        }
        let mut state = self.states[slot].load(Ordering::Relaxed);
        loop {
            let then = state >> 32;
            let tokens = state & 0xffff_ffff;
            let elapsed = now.wrapping_sub(then) & 0xffff_ffff;
            let refilled = (tokens + elapsed * policy.responses_per_second as u64).min(capacity);
            let (next, allowed) = if refilled >= MILLI {
                (refilled - MILLI, true)
            } else {
                (refilled, false)
            };
            match self.states[slot].compare_exchange_weak(
                state,
                (now << 32) | next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) if allowed => return Verdict::Send,
                Ok(_) => break,
                Err(current) => state = current,
            }
        }
        let limited = self.limited.fetch_add(1, Ordering::Relaxed) + 1;
        if policy.slip > 0 && limited.is_multiple_of(policy.slip) {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// The client's network: /24 for IPv4, /56 for IPv6.
fn network_bits(client: IpAddr) -> u64 {
    match client {
        IpAddr::V4(v4) => (u32::from(v4) & 0xffff_ff00) as u64,
        IpAddr::V6(v6) => ((u128::from(v6) >> 72) as u64) | (1 << 63),
    }
}

/// A 64-bit finaliser (from SplitMix64), so neighbouring networks spread over the table.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Rewrites a response as the slipped form: header and question only, TC set.
pub(super) fn slip(response: &mut Vec<u8>, question_end: usize) {
    response.truncate(question_end);
    response[2] |= 0x02;
    response[6..12].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rate: u32, slip: u32) -> RrlPolicy {
        RrlPolicy {
            responses_per_second: rate,
            slip,
            exempt: vec![],
        }
    }

    #[test]
    fn limits_one_identity_per_network_and_slips_every_nth() {
        let limiter = RateLimiter::default();
        let p = policy(5, 2);
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..25).map(|_| limiter.check(&p, client, 42)).collect();
        let sent = verdicts.iter().filter(|v| **v == Verdict::Send).count();
        let slipped = verdicts.iter().filter(|v| **v == Verdict::Slip).count();
        assert_eq!(sent, 5, "{verdicts:?}");
        assert_eq!(slipped, 10, "{verdicts:?}");
        // Same /24, same identity: same bucket. Another identity or network: its own bucket.
        assert_ne!(
            limiter.check(&p, "198.51.100.9".parse().unwrap(), 42),
            Verdict::Send
        );
        assert_eq!(limiter.check(&p, client, 43), Verdict::Send);
        assert_eq!(
            limiter.check(&p, "198.51.101.7".parse().unwrap(), 42),
            Verdict::Send
        );
    }

    #[test]
    fn exempt_networks_are_never_limited() {
        let limiter = RateLimiter::default();
        let p = RrlPolicy {
            responses_per_second: 1,
            slip: 2,
            exempt: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(
            (0..100).all(|_| limiter.check(&p, "127.0.0.3".parse().unwrap(), 1) == Verdict::Send)
        );
    }

    #[test]
    fn tokens_come_back_with_time() {
        let limiter = RateLimiter::default();
        let p = policy(50, 0);
        let client: IpAddr = "203.0.113.1".parse().unwrap();
        while limiter.check(&p, client, 7) == Verdict::Send {}
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(limiter.check(&p, client, 7), Verdict::Send);
    }
}
