//! Slowing down client-credential guessing at the token-type endpoints, with one limit across
//! every instance and without letting a stranger shut a client out.
//!
//! Failed authentications — a wrong secret, an assertion that does not verify — are counted per
//! client *and address* (an IPv6 address as its /64) in the database counters the sign-in
//! throttle uses ([`crate::sign_in`]), so N instances enforce one limit and a restart forgets
//! nothing. Ten failures in 15 minutes are free; after that, each failure makes that client's
//! requests *from that address* wait 1 s, 2 s, 4 s … at most 30 s: they are refused with `429`
//! and `Retry-After` until then, before any secret is compared. The same client from any other
//! address is not affected, so a third party guessing at a client's secret slows down only
//! itself. Unknown client ids, disabled clients and store failures are not counted.
//!
//! The check costs no database round trip: each instance keeps the set of counters that refuse
//! attempts now, read from the database at most once per [`REFRESH`] (and its own failures
//! apply at once), so a block placed by another instance applies here within that time.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use chrono::{DateTime, Duration, Utc};

use crate::{
    sign_in::{Key, Kind, Limit, count, counted_address, schedule},
    store::{StoreError, ThrottleRepo},
};

/// How often the refusing counters are re-read.
pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(1);
/// Failures counted over this window.
pub const WINDOW: Duration = Duration::minutes(15);
/// The limit per client and address.
pub const LIMIT: Limit = Limit {
    free: 10,
    first_delay: Duration::seconds(1),
    max_delay: Duration::seconds(30),
};
/// Refusing counters kept in memory at most.
const MAX_BLOCKED: u64 = 10_000;

#[derive(Default)]
struct Blocked {
    /// When the set was last read, on the caller's clock (`now` of the request).
    read_at: Option<DateTime<Utc>>,
    until: HashMap<String, DateTime<Utc>>,
}

/// The client-authentication throttle over a [`ThrottleRepo`].
pub struct ClientAuthThrottle {
    repo: Arc<dyn ThrottleRepo>,
    blocked: Mutex<Blocked>,
    refreshing: AtomicBool,
}

impl std::fmt::Debug for ClientAuthThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuthThrottle").finish_non_exhaustive()
    }
}

fn key(client_id: &str, address: &str) -> Key {
    let address = counted_address(address);
    let shown: String = client_id.chars().take(64).collect();
    Key::new(
        Kind::ClientAddress,
        &format!("{client_id}\u{0}{address}"),
        format!("client {shown} from {address}"),
    )
}

impl ClientAuthThrottle {
    /// A throttle over `repo`.
    pub fn new(repo: Arc<dyn ThrottleRepo>) -> Self {
        Self {
            repo,
            blocked: Mutex::new(Blocked::default()),
            refreshing: AtomicBool::new(false),
        }
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, Blocked> {
        self.blocked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `client_id` must wait before authenticating from `address` again (`None`: it
    /// may try now).
    pub async fn wait(
        &self,
        client_id: &str,
        address: impl std::fmt::Display,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let stale = self
            .blocked()
            .read_at
            .is_none_or(|at| now < at || (now - at).to_std().is_ok_and(|age| age >= REFRESH));
        // One request re-reads; the others use what is known meanwhile.
        if stale && !self.refreshing.swap(true, Ordering::AcqRel) {
            self.refresh(now).await;
            self.refreshing.store(false, Ordering::Release);
        }
        // Nothing refused anywhere (the usual case): no address to format, no key to hash.
        if self.blocked().until.is_empty() {
            return None;
        }
        let key = key(client_id, &address.to_string());
        self.blocked()
            .until
            .get(key.hash.as_str())
            .filter(|until| **until > now)
            .map(|until| *until - now)
    }

    async fn refresh(&self, now: DateTime<Utc>) {
        match self
            .repo
            .blocked_counters(Kind::ClientAddress.as_str(), now, MAX_BLOCKED)
            .await
        {
            Ok(counters) => {
                let until = counters
                    .into_iter()
                    .filter_map(|c| Some((c.key_hash.as_str().to_owned(), c.blocked_until?)))
                    .collect();
                *self.blocked() = Blocked {
                    read_at: Some(now),
                    until,
                };
            }
            // Keep what is known (the store failure shows in the request's own lookups); try
            // again after REFRESH.
            Err(_) => self.blocked().read_at = Some(now),
        }
    }

    /// Counts a failed authentication of `client_id` from `address`.
    pub async fn failed(
        &self,
        client_id: &str,
        address: impl std::fmt::Display,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = key(client_id, &address.to_string());
        count(self.repo.as_ref(), &key, &schedule(LIMIT, now), WINDOW, now).await?;
        // Apply this instance's own count at once.
        if let Some(until) = self
            .repo
            .find_counter(&key.hash)
            .await?
            .and_then(|c| c.blocked_until)
            .filter(|until| *until > now)
        {
            let mut blocked = self.blocked();
            if blocked.until.len() as u64 >= MAX_BLOCKED {
                blocked.until.clear();
            }
            blocked.until.insert(key.hash.as_str().to_owned(), until);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;

    use super::*;
    use crate::{
        FakeClock,
        clock::Clock,
        secret::TokenHash,
        store::{AttemptWaits, ThrottleCounterRecord},
    };

    /// A store whose only refusing counter is the one given; counts the reads of the set.
    #[derive(Default)]
    struct OneBlock {
        counter: Mutex<Option<ThrottleCounterRecord>>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl ThrottleRepo for OneBlock {
        async fn count_attempt(
            &self,
            _: &TokenHash,
            _: DateTime<Utc>,
            _: &AttemptWaits,
        ) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn find_counter(
            &self,
            _: &TokenHash,
        ) -> Result<Option<ThrottleCounterRecord>, StoreError> {
            Ok(None)
        }
        async fn insert_counter(&self, _: &ThrottleCounterRecord) -> Result<(), StoreError> {
            Ok(())
        }
        async fn replace_counter(
            &self,
            _: &ThrottleCounterRecord,
            _: u32,
            _: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn delete_counter(&self, _: &TokenHash) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn blocked_counters(
            &self,
            _: &str,
            now: DateTime<Utc>,
            _: u64,
        ) -> Result<Vec<ThrottleCounterRecord>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let counter = self
                .counter
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Ok(counter
                .into_iter()
                .filter(|c| c.blocked_until.is_some_and(|until| until > now))
                .collect())
        }
        async fn list_counters(
            &self,
            _: DateTime<Utc>,
            _: u64,
        ) -> Result<Vec<ThrottleCounterRecord>, StoreError> {
            Ok(Vec::new())
        }
        async fn count_blocked(&self, _: DateTime<Utc>) -> Result<u64, StoreError> {
            Ok(0)
        }
        async fn account_counters(
            &self,
            _: &str,
            _: DateTime<Utc>,
        ) -> Result<Vec<ThrottleCounterRecord>, StoreError> {
            Ok(Vec::new())
        }
    }

    /// The set of refusing counters is read at most once per `REFRESH` of the request clock, a
    /// block placed elsewhere applies from the next read, and it ends when the clock passes it.
    #[tokio::test]
    async fn the_refusing_set_is_reread_once_a_second_on_the_clock() {
        let clock = FakeClock::new();
        let repo = Arc::new(OneBlock::default());
        let throttle = ClientAuthThrottle::new(repo.clone());
        let reads = || repo.reads.load(Ordering::SeqCst);
        assert_eq!(throttle.wait("app", "192.0.2.7", clock.now()).await, None);
        assert_eq!(throttle.wait("app", "192.0.2.7", clock.now()).await, None);
        assert_eq!(reads(), 1, "one read within the second");

        // Another instance blocks `app` from this address for 8 s.
        let key = key("app", "192.0.2.7");
        *repo.counter.lock().unwrap_or_else(|p| p.into_inner()) = Some(ThrottleCounterRecord {
            key_hash: key.hash.clone(),
            kind: Kind::ClientAddress.as_str().to_owned(),
            label: key.label.clone(),
            failures: 11,
            window_started_at: clock.now(),
            window_ends_at: clock.now() + Duration::minutes(15),
            blocked_until: Some(clock.now() + Duration::seconds(8)),
        });
        clock.advance(Duration::milliseconds(999));
        assert_eq!(throttle.wait("app", "192.0.2.7", clock.now()).await, None);
        assert_eq!(reads(), 1, "not re-read before a second passed");
        clock.advance(Duration::milliseconds(1));
        assert_eq!(
            throttle.wait("app", "192.0.2.7", clock.now()).await,
            Some(Duration::seconds(7))
        );
        assert_eq!(reads(), 2);
        // Only that client from that address.
        assert_eq!(throttle.wait("app", "192.0.2.8", clock.now()).await, None);
        assert_eq!(throttle.wait("other", "192.0.2.7", clock.now()).await, None);
        // The block ends with the clock, before the next read says so.
        clock.advance(Duration::seconds(7));
        assert_eq!(throttle.wait("app", "192.0.2.7", clock.now()).await, None);
    }
}
