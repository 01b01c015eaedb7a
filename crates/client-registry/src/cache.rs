//! A short-lived cache of client records in front of the client repository, one per instance
//! (built once and shared by every worker).
//!
//! Every token-type request authenticates its client, and the client lookup is most of what a
//! client-credentials request costs apart from its signature (a database round trip per
//! request). Records are kept for a few seconds (`TESSERA_CLIENT_CACHE_TTL`, default 2 s, 0
//! disables). Changes made through this instance (console, RFC 7592) go through the cache and
//! take effect at once on every worker; changes made elsewhere — another instance, the CLI — are
//! announced by the store (`tessera_storage::changes`) and [`CachedClients::clear`] empties the
//! cache when they arrive, so the TTL only bounds a lost announcement. Unknown ids are never
//! cached, so probing ids cannot fill memory, and the cache holds at most [`MAX_ENTRIES`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tessera_core::{
    ClientId, Clock,
    store::{ClientRecord, ClientRepo, StoreError},
};

/// The most records kept; when full, the cache starts over.
pub const MAX_ENTRIES: usize = 10_000;

/// A [`ClientRepo`] that remembers found clients for `ttl`.
pub struct CachedClients {
    inner: Arc<dyn ClientRepo>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    entries: Mutex<HashMap<String, (DateTime<Utc>, ClientRecord)>>,
}

impl std::fmt::Debug for CachedClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedClients")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachedClients {
    /// Caches `inner` for `ttl` (zero: no caching).
    pub fn new(inner: Arc<dyn ClientRepo>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            inner,
            clock,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (DateTime<Utc>, ClientRecord)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn forget(&self, id: &ClientId) {
        self.entries().remove(id.as_str());
    }

    /// Forgets every record: another instance, or the CLI, changed a client.
    pub fn clear(&self) {
        self.entries().clear();
    }
}

#[async_trait]
impl ClientRepo for CachedClients {
    async fn create_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let result = self.inner.create_client(client).await;
        self.forget(&client.client_id);
        result
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        if self.ttl <= Duration::zero() {
            return self.inner.find_client(id).await;
        }
        let now = self.clock.now();
        if let Some((until, record)) = self.entries().get(id.as_str())
            && now < *until
        {
            return Ok(Some(record.clone()));
        }
        let found = self.inner.find_client(id).await?;
        if let Some(record) = &found {
            let mut entries = self.entries();
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.as_str().to_owned(), (now + self.ttl, record.clone()));
        }
        Ok(found)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let result = self.inner.delete_client(id).await;
        self.forget(id);
        result
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let result = self.inner.update_client(client).await;
        self.forget(&client.client_id);
        result
    }

    async fn set_client_enabled(&self, id: &ClientId, enabled: bool) -> Result<bool, StoreError> {
        let result = self.inner.set_client_enabled(id, enabled).await;
        self.forget(id);
        result
    }

    async fn set_client_secret_hash(
        &self,
        id: &ClientId,
        secret_hash: Option<&tessera_core::secret::TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .inner
            .set_client_secret_hash(id, secret_hash, now)
            .await;
        self.forget(id);
        result
    }

    async fn list_clients(
        &self,
        search: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        self.inner.list_clients(search, limit).await
    }

    async fn page_clients(
        &self,
        search: Option<&str>,
        after: Option<&tessera_core::store::ClientCursor>,
        limit: u64,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        self.inner.page_clients(search, after, limit).await
    }
}
