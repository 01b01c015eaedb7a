//! The registered resource servers (RFC 8707) as the token-type endpoints need them on every
//! request: which audiences exist, which scopes each owns, and which client each introspects
//! as. One instance keeps the list in memory, loaded on first use and dropped on every change
//! announcement of `clients` (which resource-server writes send; `tessera_storage::changes`) or
//! after [`TTL`] at the latest — so `client_credentials` with a `resource` still touches no
//! database on the common path.
//!
//! [`target_of`] turns a token request's `resource` and its grant's bound resource into the
//! access token's audience and scopes.

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tessera_core::{
    ClientId,
    error::TokenError,
    resource::{ResourceServerRecord, invalid_target, target},
    store::{ResourceServerRepo, StoreError},
};

use crate::grants::unavailable;

/// The longest a loaded list is used without a change announcement.
pub const TTL: Duration = Duration::from_secs(30);

type Loaded = (Instant, Arc<Vec<ResourceServerRecord>>);

/// The per-instance list of resource servers.
pub struct ResourceDirectory {
    repo: Arc<dyn ResourceServerRepo>,
    loaded: RwLock<Option<Loaded>>,
    epoch: AtomicU64,
}

impl std::fmt::Debug for ResourceDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDirectory").finish_non_exhaustive()
    }
}

impl ResourceDirectory {
    /// An empty directory over `repo`.
    pub fn new(repo: Arc<dyn ResourceServerRepo>) -> Self {
        Self {
            repo,
            loaded: RwLock::new(None),
            epoch: AtomicU64::new(0),
        }
    }

    /// Forgets the list (a resource server changed somewhere).
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Every resource server.
    pub async fn all(&self) -> Result<Arc<Vec<ResourceServerRecord>>, StoreError> {
        if let Some((at, list)) = &*self.loaded.read().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < TTL
        {
            return Ok(Arc::clone(list));
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let list = Arc::new(self.repo.list_resource_servers().await?);
        // A change announced while loading leaves the list unkept (the next call loads again).
        if self.epoch.load(Ordering::SeqCst) == epoch {
            *self.loaded.write().unwrap_or_else(|e| e.into_inner()) =
                Some((Instant::now(), Arc::clone(&list)));
        }
        Ok(list)
    }

    /// The resource server named `identifier`.
    pub async fn find(&self, identifier: &str) -> Result<Option<ResourceServerRecord>, StoreError> {
        Ok(self
            .all()
            .await?
            .iter()
            .find(|r| r.identifier == identifier)
            .cloned())
    }

    /// The resource server that introspects as `client`.
    pub async fn of_client(
        &self,
        client: &ClientId,
    ) -> Result<Option<ResourceServerRecord>, StoreError> {
        Ok(self
            .all()
            .await?
            .iter()
            .find(|r| r.client_id.as_ref() == Some(client))
            .cloned())
    }
}

/// Who an access token is for, and with which scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The resource's identifier (`aud`); `None`: the issuer.
    pub audience: Option<String>,
    /// The scopes the token carries.
    pub scopes: Vec<String>,
}

/// The audience and scopes of an access token asked for with `requested` (the request's
/// `resource`) from a grant of `scopes` bound to `bound`: `invalid_target` for a resource that is
/// malformed, unknown, not the grant's, or owns none of the scopes.
pub async fn target_of(
    directory: &ResourceDirectory,
    requested: Option<&str>,
    bound: Option<&str>,
    scopes: &[String],
) -> Result<Target, TokenError> {
    let Some(identifier) = target(requested, bound)? else {
        return Ok(Target {
            audience: None,
            scopes: scopes.to_vec(),
        });
    };
    let resource = directory
        .find(identifier)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| invalid_target("The resource is not registered at this server."))?;
    let narrowed = resource.narrow(scopes);
    if narrowed.is_empty() {
        return Err(invalid_target(
            "None of the granted scopes is for this resource.",
        ));
    }
    Ok(Target {
        audience: Some(resource.identifier),
        scopes: narrowed,
    })
}
