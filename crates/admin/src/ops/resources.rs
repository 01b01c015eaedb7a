//! Resource servers (RFC 8707): the APIs tokens can be narrowed to — an identifier URI (the
//! tokens' `aud`), a name, the registered scopes each owns, and optionally the confidential
//! client it authenticates as at `/introspect` (which then hears only about its own tokens).

use chrono::{DateTime, Utc};
use tessera_core::{
    ClientId,
    resource::{ResourceServerRecord, check_identifier},
    store::{ClientAuthMethod, ClientRepo, ResourceServerRepo, ScopeRepo, StoreError},
};

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Why an operation on a resource server was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResourceOpError {
    /// Not a resource identifier.
    #[error("identifier: {0}")]
    Identifier(&'static str),
    /// The name is empty, too long or holds control characters.
    #[error("the name must be 1 to {MAX_NAME_CHARS} printable characters")]
    Name,
    /// A scope that is not in the scope registry.
    #[error("the scope {0} is not registered (add it under Scopes first)")]
    Scope(String),
    /// A client that can not introspect for it.
    #[error("client {0}: {1}")]
    Client(String, &'static str),
    /// No such resource server.
    #[error("no resource server {0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a resource server is registered with.
#[derive(Debug, Clone, Default)]
pub struct ResourceInput<'a> {
    /// Its identifier URI.
    pub identifier: &'a str,
    /// Its name.
    pub name: &'a str,
    /// The scopes it owns, space-separated.
    pub scopes: &'a str,
    /// The client it introspects as, if any.
    pub client_id: Option<&'a str>,
}

/// The stores an operation on resource servers reads.
#[derive(Clone, Copy)]
pub struct ResourceStores<'a> {
    /// Resource servers.
    pub resources: &'a dyn ResourceServerRepo,
    /// The scope registry (what it may own).
    pub scopes: &'a dyn ScopeRepo,
    /// Clients (whom it may introspect as).
    pub clients: &'a dyn ClientRepo,
}

impl std::fmt::Debug for ResourceStores<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceStores").finish_non_exhaustive()
    }
}

/// Adds a resource server or changes one (by identifier).
pub async fn save(
    stores: ResourceStores<'_>,
    input: &ResourceInput<'_>,
    now: DateTime<Utc>,
) -> Result<ResourceServerRecord, ResourceOpError> {
    let identifier = input.identifier.trim();
    check_identifier(identifier).map_err(ResourceOpError::Identifier)?;
    let name = input.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ResourceOpError::Name);
    }
    let mut scopes: Vec<String> = Vec::new();
    for scope in input.scopes.split_whitespace() {
        if stores.scopes.find_scope(scope).await?.is_none() {
            return Err(ResourceOpError::Scope(scope.to_owned()));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    let client_id = match input.client_id.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(id) => Some(introspecting_client(stores, id, identifier).await?),
    };
    let created_at = stores
        .resources
        .find_resource_server(identifier)
        .await?
        .map_or(now, |existing| existing.created_at);
    let record = ResourceServerRecord {
        identifier: identifier.to_owned(),
        name: name.to_owned(),
        scopes,
        client_id,
        created_at,
    };
    stores.resources.save_resource_server(&record).await?;
    Ok(record)
}

/// The client `id`, if it can introspect for the resource `identifier`: it exists, it
/// authenticates (a public client can not introspect), and no other resource introspects as it.
async fn introspecting_client(
    stores: ResourceStores<'_>,
    id: &str,
    identifier: &str,
) -> Result<ClientId, ResourceOpError> {
    let refused = |why| ResourceOpError::Client(id.to_owned(), why);
    let client = stores
        .clients
        .find_client(&ClientId::new(id))
        .await?
        .ok_or_else(|| refused("no such client"))?;
    if client.token_endpoint_auth_method == ClientAuthMethod::None {
        return Err(refused("a public client can not introspect"));
    }
    let taken = stores
        .resources
        .list_resource_servers()
        .await?
        .into_iter()
        .any(|r| r.identifier != identifier && r.client_id.as_ref() == Some(&client.client_id));
    if taken {
        return Err(refused(
            "another resource server introspects as this client",
        ));
    }
    Ok(client.client_id)
}

/// Removes a resource server: its tokens are no longer active anywhere.
pub async fn delete(
    repo: &dyn ResourceServerRepo,
    identifier: &str,
) -> Result<(), ResourceOpError> {
    if repo.delete_resource_server(identifier).await? {
        Ok(())
    } else {
        Err(ResourceOpError::NotFound(identifier.to_owned()))
    }
}
