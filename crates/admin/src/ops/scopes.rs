//! The scope registry: which scopes exist beyond OpenID Connect's own, what the consent page says
//! about them, and whether a client may get them for itself.

use chrono::{DateTime, Utc};
use tessera_core::store::{ScopeRecord, ScopeRepo, StoreError};

/// The longest scope name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// Why an operation on a scope was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScopeOpError {
    /// Not a name that can be registered.
    #[error(
        "{0:?} is not a scope that can be registered (1 to {MAX_NAME_BYTES} scope characters, not openid, profile, email or offline_access)"
    )]
    Name(String),
    /// The description is too long or holds control characters.
    #[error("the description must be at most {MAX_DESCRIPTION_CHARS} printable characters")]
    Description,
    /// The registry has no such scope.
    #[error("no scope {0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `name` may be registered: a scope token (RFC 6749 §3.3 NQCHAR), at most
/// [`MAX_NAME_BYTES`], not one of OpenID Connect's own.
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME_BYTES
        && tessera_core::scope::is_token(name)
        && !tessera_client_registry::registration::OIDC_SCOPES.contains(&name)
}

/// Adds a scope or changes its description and flag. Name and description are trimmed.
pub async fn save(
    repo: &dyn ScopeRepo,
    name: &str,
    description: &str,
    client_credentials: bool,
    now: DateTime<Utc>,
) -> Result<ScopeRecord, ScopeOpError> {
    let name = name.trim();
    if !valid_name(name) {
        return Err(ScopeOpError::Name(name.to_owned()));
    }
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS
        || description.chars().any(char::is_control)
    {
        return Err(ScopeOpError::Description);
    }
    let record = ScopeRecord {
        name: name.to_owned(),
        description: description.to_owned(),
        client_credentials,
        created_at: now,
    };
    repo.save_scope(&record).await?;
    Ok(record)
}

/// Removes a scope from the registry (clients that have it keep it).
pub async fn delete(repo: &dyn ScopeRepo, name: &str) -> Result<(), ScopeOpError> {
    if repo.delete_scope(name).await? {
        Ok(())
    } else {
        Err(ScopeOpError::NotFound(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_are_scope_tokens_of_ours() {
        assert!(valid_name("api.read"));
        assert!(valid_name(&"a".repeat(64)));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(!valid_name("two words"));
        assert!(!valid_name("quote\"d"));
        assert!(!valid_name(""));
        for own in ["openid", "profile", "email", "offline_access"] {
            assert!(!valid_name(own), "{own}");
        }
    }
}
