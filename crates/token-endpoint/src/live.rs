//! What this instance last found about its own access tokens, so that introspection and
//! `/userinfo` need neither a signature check nor a database round trip for a token checked a
//! moment ago.
//!
//! A token is remembered by the SHA-256 of its exact bytes: the same bytes carry the same
//! signature, so the verified claims are kept with it (expiry is still compared with the clock
//! on every call). What can change behind a token — the denylist, its grant, its client, its
//! user — is looked up once and remembered with it for at most the TTL
//! (`TESSERA_TOKEN_STATE_CACHE_TTL`, default 2 s). Every write that
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

use sha2::{Digest, Sha256};
use tessera_core::store::UserRecord;

use crate::mint::AccessTokenClaims;

/// The most tokens remembered at once.
pub const CAPACITY: usize = 65_536;

struct Entry {
    epoch: u64,
    until: Instant,
    token: Remembered,
}

/// The key a token is remembered by.
pub type TokenKey = [u8; 32];

/// The key of `token`.
pub fn key_of(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// The instance's memory of live tokens (one per instance, shared by its workers).
pub struct LiveTokens {
    ttl: Duration,
    epoch: AtomicU64,
    entries: Mutex<HashMap<TokenKey, Entry>>,
}

impl std::fmt::Debug for LiveTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A token found live: its verified claims and the user it is about, when it is about one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The claims its signature covers.
    pub claims: Arc<AccessTokenClaims>,
    /// Its user, found enabled.
    pub user: Option<Arc<UserRecord>>,
}

impl LiveTokens {
    /// A memory that keeps a token's state for `ttl` (zero: never).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            epoch: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, Entry>> {
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

    /// What was found about the token with `key`, if it is still to be believed.
    pub fn recall(&self, key: &TokenKey) -> Option<Remembered> {
        if self.ttl.is_zero() {
            return None;
        }
        let epoch = self.epoch();
        let entries = self.entries();
        let entry = entries.get(key)?;
        (entry.epoch == epoch && Instant::now() < entry.until).then(|| entry.token.clone())
    }

    /// Remembers that the token with `key` was found live at `epoch`.
    pub fn remember(&self, key: TokenKey, epoch: u64, token: Remembered) {
        if self.ttl.is_zero() || epoch != self.epoch() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                epoch,
                until: Instant::now() + self.ttl,
                token,
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

    fn token(jti: &str) -> Remembered {
        Remembered {
            claims: Arc::new(AccessTokenClaims {
                iss: "https://id.example".into(),
                sub: "svc".into(),
                aud: "https://id.example".into(),
                client_id: "svc".into(),
                scope: String::new(),
                jti: jti.into(),
                iat: 0,
                exp: 1,
                auth_time: None,
                grant_id: None,
                cnf: None,
            }),
            user: None,
        }
    }

    #[test]
    fn remembers_until_invalidated_and_never_keeps_a_state_read_before() {
        let live = LiveTokens::new(Duration::from_secs(60));
        let (a, b) = (key_of("a"), key_of("b"));
        assert!(live.recall(&a).is_none());
        live.remember(a, live.epoch(), token("a"));
        assert_eq!(live.recall(&a), Some(token("a")));
        assert!(
            live.recall(&key_of("a ")).is_none(),
            "other bytes, other token"
        );
        // A lookup that began before an invalidation and finishes after it is not kept.
        let before = live.epoch();
        live.invalidate();
        assert!(live.recall(&a).is_none());
        live.remember(b, before, token("b"));
        assert!(live.recall(&b).is_none());
    }

    #[test]
    fn a_zero_ttl_remembers_nothing_and_the_memory_is_bounded() {
        let off = LiveTokens::new(Duration::ZERO);
        off.remember(key_of("a"), off.epoch(), token("a"));
        assert!(off.recall(&key_of("a")).is_none());
        let live = LiveTokens::new(Duration::from_secs(60));
        for i in 0..=CAPACITY {
            live.remember(key_of(&i.to_string()), live.epoch(), token("t"));
        }
        assert!(live.entries().len() <= CAPACITY);
        assert!(live.recall(&key_of(&CAPACITY.to_string())).is_some());
    }
}
