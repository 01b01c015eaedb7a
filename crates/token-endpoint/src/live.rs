//! What this instance last found about its own access tokens' state, so that introspection and
//! `/userinfo` need no database round trip for a token checked a moment ago.
//!
//! An access token's signature, `exp` and claims are checked on every call; what can change
//! behind it — the denylist, its grant, its client, its user — is looked up once and remembered
//! by `jti` for at most the TTL (`TESSERA_TOKEN_STATE_CACHE_TTL`, default 2 s). Every write that
//! can end a live token (revoking a grant or an access token, changing a user or a client)
//! empties the memory: at once on the instance that wrote (the store calls
//! [`LiveTokens::invalidate`] as it announces the change), and through the change announcements
//! on every other instance and for the CLI (PostgreSQL `NOTIFY`, SQLite polling). The TTL bounds
//! a lost announcement. Only tokens this server signed and found live are remembered, at most
//! [`CAPACITY`]; when full, the memory starts over.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tessera_core::store::UserRecord;

/// The most tokens remembered at once.
pub const CAPACITY: usize = 65_536;

struct Entry {
    epoch: u64,
    until: Instant,
    user: Option<Arc<UserRecord>>,
}

/// The instance's memory of live tokens (one per instance, shared by its workers).
pub struct LiveTokens {
    ttl: Duration,
    epoch: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for LiveTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A token's remembered state: the user it is about, when it is about one.
pub type Remembered = Option<Arc<UserRecord>>;

impl LiveTokens {
    /// A memory that keeps a token's state for `ttl` (zero: never).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            epoch: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current epoch: read it *before* looking the state up, and hand it to
    /// [`LiveTokens::remember`], so that a state read before an invalidation is never kept
    /// after it.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// What was found about `jti`, if it is still to be believed.
    pub fn recall(&self, jti: &str) -> Option<Remembered> {
        if self.ttl.is_zero() {
            return None;
        }
        let epoch = self.epoch();
        let entries = self.entries();
        let entry = entries.get(jti)?;
        (entry.epoch == epoch && Instant::now() < entry.until).then(|| entry.user.clone())
    }

    /// Remembers that `jti` was found live at `epoch`, about `user`.
    pub fn remember(&self, jti: &str, epoch: u64, user: Remembered) {
        if self.ttl.is_zero() || epoch != self.epoch() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            jti.to_owned(),
            Entry {
                epoch,
                until: Instant::now() + self.ttl,
                user,
            },
        );
    }

    /// Forgets everything: something that can end a token changed.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_invalidated_and_never_keeps_a_state_read_before() {
        let live = LiveTokens::new(Duration::from_secs(60));
        assert!(live.recall("a").is_none());
        let epoch = live.epoch();
        live.remember("a", epoch, None);
        assert_eq!(live.recall("a"), Some(None));
        // A lookup that began before an invalidation and finishes after it is not kept.
        let before = live.epoch();
        live.invalidate();
        assert!(live.recall("a").is_none());
        live.remember("b", before, None);
        assert!(live.recall("b").is_none());
    }

    #[test]
    fn a_zero_ttl_remembers_nothing_and_the_memory_is_bounded() {
        let off = LiveTokens::new(Duration::ZERO);
        off.remember("a", off.epoch(), None);
        assert!(off.recall("a").is_none());
        let live = LiveTokens::new(Duration::from_secs(60));
        for i in 0..=CAPACITY {
            live.remember(&i.to_string(), live.epoch(), None);
        }
        assert!(live.entries().len() <= CAPACITY);
        assert_eq!(live.recall(&CAPACITY.to_string()), Some(None));
    }
}
