//! Clients as an admin manages them: register (the RFC 7591 rules of
//! `tessera_client_registry::model`, plus the per-client token settings with the bounds of
//! `model::limits`), edit, enable or disable, rotate the secret, delete.

use chrono::{DateTime, Utc};
use tessera_client_registry::{
    model::{self, ClientMetadata, MetadataError, limits},
    registry::{CreatedClient, apply_update, new_client, rotate_secret, store_secret_change},
};
use tessera_core::{
    ClientId, SigningAlg,
    secret::PlainToken,
    store::{ClientRecord, ClientRepo, StoreError},
};

/// A client's own token settings; `None` is the server-wide default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenSettings {
    /// Access token lifetime, seconds.
    pub access_token_ttl: Option<i64>,
    /// Refresh token idle lifetime, seconds.
    pub refresh_token_ttl: Option<i64>,
    /// Refresh-token family lifetime from the sign-in, seconds.
    pub refresh_token_absolute_ttl: Option<i64>,
    /// Rotations of one refresh-token family before a new sign-in.
    pub refresh_token_max_rotations: Option<i64>,
    /// The access token's signing algorithm.
    pub access_token_alg: Option<SigningAlg>,
}

/// The settings [`TokenSettings`] bounds, by the name forms and flags give them.
pub const SETTINGS: [(&str, i64); 4] = [
    ("access_token_ttl", limits::MAX_ACCESS_TOKEN_TTL),
    ("refresh_token_ttl", limits::MAX_REFRESH_TOKEN_TTL),
    (
        "refresh_token_absolute_ttl",
        limits::MAX_REFRESH_TOKEN_ABSOLUTE_TTL,
    ),
    (
        "refresh_token_max_rotations",
        limits::MAX_REFRESH_TOKEN_ROTATIONS,
    ),
];

impl TokenSettings {
    /// The settings of a stored client.
    pub fn of(client: &ClientRecord) -> Self {
        Self {
            access_token_ttl: client.access_token_ttl,
            refresh_token_ttl: client.refresh_token_ttl,
            refresh_token_absolute_ttl: client.refresh_token_absolute_ttl,
            refresh_token_max_rotations: client.refresh_token_max_rotations.map(i64::from),
            access_token_alg: client.access_token_signed_alg,
        }
    }

    fn values(&self) -> [Option<i64>; 4] {
        [
            self.access_token_ttl,
            self.refresh_token_ttl,
            self.refresh_token_absolute_ttl,
            self.refresh_token_max_rotations,
        ]
    }

    /// Each set value within 1..=its bound ([`SETTINGS`]).
    pub fn check(&self) -> Result<(), ClientOpError> {
        for ((name, max), value) in SETTINGS.into_iter().zip(self.values()) {
            if value.is_some_and(|v| !(1..=max).contains(&v)) {
                return Err(ClientOpError::OutOfRange { setting: name, max });
            }
        }
        Ok(())
    }

    fn apply(&self, client: &mut ClientRecord) -> Result<(), ClientOpError> {
        self.check()?;
        client.access_token_ttl = self.access_token_ttl;
        client.refresh_token_ttl = self.refresh_token_ttl;
        client.refresh_token_absolute_ttl = self.refresh_token_absolute_ttl;
        client.refresh_token_max_rotations = self
            .refresh_token_max_rotations
            .map(|r| i32::try_from(r).unwrap_or(i32::MAX));
        client.access_token_signed_alg = self.access_token_alg;
        Ok(())
    }
}

/// Why an operation on a client was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientOpError {
    /// The metadata breaks an RFC 7591 rule.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// A token setting is outside its bounds.
    #[error("{setting} must be 1 to {max}")]
    OutOfRange {
        /// The setting's name ([`SETTINGS`]).
        setting: &'static str,
        /// Its bound.
        max: i64,
    },
    /// No client has this id.
    #[error("no client {0}")]
    NotFound(String),
    /// The client authenticates without a secret, so it has none to rotate.
    #[error("client {0} does not authenticate with a secret")]
    NoSecret(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A grant type as an admin may type it: the wire value, or the short name of one whose wire
/// value is a URN (`device_code`, `jwt-bearer`).
pub fn grant_type_value(typed: &str) -> String {
    use tessera_core::grant_type::GrantType;
    match typed {
        "device_code" | "device-code" => GrantType::DeviceCode.as_str().to_owned(),
        "jwt-bearer" | "jwt_bearer" => GrantType::JwtBearer.as_str().to_owned(),
        other => other.to_owned(),
    }
}

/// [`model::validate`] after the short grant-type names are read ([`grant_type_value`]).
fn validate(metadata: &ClientMetadata) -> Result<model::ValidClient, MetadataError> {
    let mut metadata = metadata.clone();
    if let Some(grants) = &mut metadata.grant_types {
        for grant in grants.iter_mut() {
            *grant = grant_type_value(grant);
        }
    }
    model::validate(&metadata)
}

/// The client `id`.
pub async fn find(repo: &dyn ClientRepo, id: &str) -> Result<ClientRecord, ClientOpError> {
    repo.find_client(&ClientId::new(id))
        .await?
        .ok_or_else(|| ClientOpError::NotFound(id.to_owned()))
}

/// Registers a client; its secret (for secret-based clients) is in the answer only.
pub async fn create(
    repo: &dyn ClientRepo,
    metadata: &ClientMetadata,
    settings: TokenSettings,
    now: DateTime<Utc>,
) -> Result<CreatedClient, ClientOpError> {
    let valid = validate(metadata)?;
    let mut created = new_client(valid, now, false);
    settings.apply(&mut created.client)?;
    repo.create_client(&created.client).await?;
    Ok(created)
}

/// A new registration for an existing client.
#[derive(Debug, Clone)]
pub struct ClientEdit {
    /// The whole metadata (start from `registry::metadata_of`).
    pub metadata: ClientMetadata,
    /// Its token settings.
    pub settings: TokenSettings,
    /// Whether it may be used.
    pub enabled: bool,
}

/// Replaces `client`'s registration; the stored client afterwards. A move to a secret-based
/// authentication method creates a secret, a move away drops it (`registry::apply_update`);
/// the secret and the enabled flag are their own writes, made only when they change.
pub async fn edit(
    repo: &dyn ClientRepo,
    client: &ClientRecord,
    edit: ClientEdit,
    now: DateTime<Utc>,
) -> Result<ClientRecord, ClientOpError> {
    let valid = validate(&edit.metadata)?;
    let (mut updated, _) = apply_update(client, valid, now);
    edit.settings.apply(&mut updated)?;
    updated.enabled = edit.enabled;
    repo.update_client(&updated).await?;
    store_secret_change(repo, client, &updated, now).await?;
    if updated.enabled != client.enabled {
        repo.set_client_enabled(&client.client_id, updated.enabled)
            .await?;
    }
    Ok(updated)
}

/// Enables or disables the client `id`; whether that changed anything.
pub async fn set_enabled(
    repo: &dyn ClientRepo,
    id: &str,
    enabled: bool,
) -> Result<bool, ClientOpError> {
    let client = find(repo, id).await?;
    if client.enabled == enabled {
        return Ok(false);
    }
    repo.set_client_enabled(&client.client_id, enabled).await?;
    Ok(true)
}

/// A new secret for the client `id`; the previous one stops working at once.
pub async fn new_secret(
    repo: &dyn ClientRepo,
    id: &str,
    now: DateTime<Utc>,
) -> Result<PlainToken, ClientOpError> {
    let mut client = find(repo, id).await?;
    let secret =
        rotate_secret(&mut client, now).ok_or_else(|| ClientOpError::NoSecret(id.to_owned()))?;
    if !repo
        .set_client_secret_hash(&client.client_id, client.secret_hash.as_ref(), now)
        .await?
    {
        return Err(ClientOpError::NotFound(id.to_owned()));
    }
    Ok(secret)
}

/// Deletes the client `id` and everything issued to it.
pub async fn delete(repo: &dyn ClientRepo, id: &str) -> Result<(), ClientOpError> {
    if repo.delete_client(&ClientId::new(id)).await? {
        Ok(())
    } else {
        Err(ClientOpError::NotFound(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_bounded_by_the_limits() {
        assert!(TokenSettings::default().check().is_ok());
        let at_max = TokenSettings {
            access_token_ttl: Some(limits::MAX_ACCESS_TOKEN_TTL),
            refresh_token_ttl: Some(limits::MAX_REFRESH_TOKEN_TTL),
            refresh_token_absolute_ttl: Some(limits::MAX_REFRESH_TOKEN_ABSOLUTE_TTL),
            refresh_token_max_rotations: Some(limits::MAX_REFRESH_TOKEN_ROTATIONS),
            access_token_alg: Some(SigningAlg::ES256),
        };
        assert!(at_max.check().is_ok());
        for (index, (name, max)) in SETTINGS.into_iter().enumerate() {
            for bad in [0, -1, max + 1] {
                let mut values = [None; 4];
                values[index] = Some(bad);
                let settings = TokenSettings {
                    access_token_ttl: values[0],
                    refresh_token_ttl: values[1],
                    refresh_token_absolute_ttl: values[2],
                    refresh_token_max_rotations: values[3],
                    access_token_alg: None,
                };
                match settings.check() {
                    Err(ClientOpError::OutOfRange { setting, max: m }) => {
                        assert_eq!((setting, m), (name, max));
                    }
                    other => panic!("{name}={bad}: {other:?}"),
                }
            }
        }
    }
}
