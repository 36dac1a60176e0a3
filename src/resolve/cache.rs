//! One view's cache of whole upstream responses, keyed by the question (name lowercased, type,
//! class) and the client's DO and CD bits, since those change what the upstream sends. Positive
//! and negative answers live for their TTL (capped), a resolution failure for a few seconds
//! (RFC 9520), and an expired answer is kept for the serve-stale window (RFC 8767) so that it
//! can still be served when no upstream answers. Size is capped in bytes; `quick_cache` evicts
//! (a CLOCK-Pro akin to S3-FIFO: entries asked for once go first, so a scan of random names
//! does not flush the names clients keep asking).

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::Weighter;

use super::Settings;
use super::message::{Age, Lifetime, Stored};

/// What identifies a cached response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    /// The question name, lowercased, uncompressed wire format.
    pub name: Box<[u8]>,
    pub qtype: u16,
    pub qclass: u16,
    pub dnssec_ok: bool,
    pub checking_disabled: bool,
}

/// A cached answer (data or negative) and when it came in.
#[derive(Debug)]
pub(super) struct Answer {
    pub stored: Stored,
    pub received: Instant,
    /// Seconds it is fresh for.
    pub ttl: u32,
}

/// A failed resolution: until `until`, the name is not asked again; `stored` is the upstream's
/// own error response (SERVFAIL, REFUSED), when there was one.
#[derive(Debug)]
pub(super) struct Failure {
    pub until: Instant,
    pub stored: Option<Stored>,
}

/// One key's state: the last good answer (kept past its TTL for serve-stale) and a recent
/// failure. A failure does not erase the answer, which is what serve-stale serves.
#[derive(Debug, Clone, Default)]
pub(super) struct Entry {
    pub answer: Option<Arc<Answer>>,
    pub failure: Option<Arc<Failure>>,
}

/// What the cache has for a question now.
pub(super) enum Lookup {
    /// A fresh answer.
    Fresh(Arc<Answer>, Age),
    /// A failure within its few seconds: an expired answer within the stale window, if any.
    Failed(Arc<Failure>, Option<Arc<Answer>>),
    /// Nothing fresh; an expired answer that may still be served if upstreams fail.
    Miss(Option<Arc<Answer>>),
}

#[derive(Debug, Clone)]
struct ByBytes;

impl Weighter<Key, Entry> for ByBytes {
    fn weight(&self, key: &Key, entry: &Entry) -> u64 {
        // The key, the two Arcs' headers and bookkeeping: about 128 bytes beyond the data.
        let data = entry.answer.as_ref().map_or(0, |a| a.stored.size())
            + entry
                .failure
                .as_ref()
                .and_then(|f| f.stored.as_ref())
                .map_or(0, Stored::size);
        (key.name.len() + 128 + data) as u64
    }
}

pub(super) struct Cache {
    entries: quick_cache::sync::Cache<Key, Entry, ByBytes>,
    settings: Settings,
}

impl Cache {
    pub(super) fn new(settings: &Settings) -> Cache {
        let bytes = settings.cache_bytes.max(4096);
        Cache {
            // About 512 bytes per entry on average (one answer with a few records).
            entries: quick_cache::sync::Cache::with_weighter(bytes / 512, bytes as u64, ByBytes),
            settings: settings.clone(),
        }
    }

    pub(super) fn lookup(&self, key: &Key, now: Instant) -> Lookup {
        let Some(entry) = self.entries.get(key) else {
            return Lookup::Miss(None);
        };
        let stale = entry
            .answer
            .clone()
            .filter(|answer| self.stale_servable(answer, now));
        if let Some(answer) = &entry.answer {
            let age = now.saturating_duration_since(answer.received).as_secs();
            if age < answer.ttl as u64 {
                return Lookup::Fresh(answer.clone(), Age::Fresh(age as u32));
            }
        }
        match entry.failure {
            Some(failure) if now < failure.until => Lookup::Failed(failure, stale),
            _ => Lookup::Miss(stale),
        }
    }

    /// Whether an expired answer is still within the serve-stale window.
    pub(super) fn stale_servable(&self, answer: &Answer, now: Instant) -> bool {
        self.settings.serve_stale.is_some_and(|window| {
            now < answer.received + Duration::from_secs(answer.ttl as u64) + window
        })
    }

    /// Keeps an upstream response; returns the answer kept, if it is one.
    pub(super) fn store_answer(&self, key: Key, stored: Stored, now: Instant) -> Arc<Answer> {
        let ttl = match stored.lifetime {
            Lifetime::Positive(ttl) => ttl.min(self.settings.max_ttl),
            Lifetime::Negative(ttl) => ttl.min(self.settings.max_negative_ttl),
            Lifetime::Uncacheable | Lifetime::Failure => 0,
        };
        let answer = Arc::new(Answer {
            stored,
            received: now,
            ttl,
        });
        // A zero TTL is only for the clients waiting now; keeping it would serve nothing.
        if ttl > 0 || self.settings.serve_stale.is_some() {
            self.entries.insert(
                key,
                Entry {
                    answer: Some(answer.clone()),
                    failure: None,
                },
            );
        }
        answer
    }

    /// Records that resolving `key` failed: it is not asked again for `failure_ttl`, and the
    /// answer held (for serve-stale) stays.
    pub(super) fn store_failure(
        &self,
        key: Key,
        stored: Option<Stored>,
        now: Instant,
    ) -> Arc<Failure> {
        let failure = Arc::new(Failure {
            until: now + Duration::from_secs(self.settings.failure_ttl as u64),
            stored,
        });
        let answer = self.entries.get(&key).and_then(|entry| entry.answer);
        if self.settings.failure_ttl > 0 {
            self.entries.insert(
                key,
                Entry {
                    answer,
                    failure: Some(failure.clone()),
                },
            );
        }
        failure
    }

    /// Entries held and their weight in bytes (for tests and `status`).
    pub(super) fn usage(&self) -> (usize, u64) {
        (self.entries.len(), self.entries.weight())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored answer for `name` with about `size` bytes of data.
    fn answer(name: &[u8], size: usize) -> Stored {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 16, 0, 1, 0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 0]);
        m.extend_from_slice(&(size as u16 + 1).to_be_bytes());
        m.push(size as u8);
        m.extend(std::iter::repeat_n(b'x', size));
        Stored::read(&m, 86_400, 3_600).expect("well formed")
    }

    fn key(name: &[u8]) -> Key {
        Key {
            name: name.into(),
            qtype: 16,
            qclass: 1,
            dnssec_ok: false,
            checking_disabled: false,
        }
    }

    #[test]
    fn the_cache_stays_within_its_size_whatever_is_asked() {
        let settings = Settings {
            cache_bytes: 64 << 10,
            ..Settings::default()
        };
        let cache = Cache::new(&settings);
        let now = Instant::now();
        for i in 0..5_000u32 {
            let name = format!("\x05n{i:04}\x04test\x00").into_bytes();
            cache.store_answer(key(&name), answer(&name, 200), now);
        }
        let (entries, bytes) = cache.usage();
        assert!(bytes <= 64 << 10, "{bytes} bytes in {entries} entries");
        assert!(entries > 50, "the cache is used: {entries} entries");
    }

    #[test]
    fn fresh_then_stale_within_the_window_then_gone() {
        let settings = Settings {
            serve_stale: Some(Duration::from_secs(10)),
            ..Settings::default()
        };
        let cache = Cache::new(&settings);
        let name = b"\x01a\x04test\x00";
        let t0 = Instant::now();
        cache.store_answer(key(name), answer(name, 10), t0);
        // TTL 256 (the record's): fresh until then.
        assert!(matches!(
            cache.lookup(&key(name), t0 + Duration::from_secs(100)),
            Lookup::Fresh(_, Age::Fresh(100))
        ));
        assert!(matches!(
            cache.lookup(&key(name), t0 + Duration::from_secs(260)),
            Lookup::Miss(Some(_))
        ));
        cache.store_failure(key(name), None, t0 + Duration::from_secs(260));
        assert!(matches!(
            cache.lookup(&key(name), t0 + Duration::from_secs(262)),
            Lookup::Failed(_, Some(_))
        ));
        assert!(matches!(
            cache.lookup(&key(name), t0 + Duration::from_secs(267)),
            Lookup::Miss(None)
        ));
    }
}
