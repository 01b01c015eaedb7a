//! Initial access tokens for RFC 7591 registration: creating them with bounded uses and
//! lifetime, naming them by a prefix of their hash, revoking them.

use chrono::{DateTime, Duration, Utc};
use tessera_core::{
    secret::{PlainToken, SecretKind, TokenHash},
    store::{InitialAccessTokenRecord, InitialAccessTokenRepo, StoreError},
};

/// The most registrations one token may allow.
pub const MAX_USES: i64 = 100_000_000;
/// The longest a token may live, in seconds (about three years).
pub const MAX_EXPIRES_IN_SECS: i64 = 100_000_000;
/// The longest description kept, in characters (longer ones are cut).
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// The shortest prefix of a token's id that names it.
pub const MIN_ID_CHARS: usize = 12;
/// The length of the id shown in lists: the first hex digits of the token's hash.
pub const ID_CHARS: usize = 16;

/// Why an operation on registration tokens was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenOpError {
    /// Uses outside 1..=[`MAX_USES`].
    #[error("the number of uses must be 1 to {MAX_USES}")]
    Uses,
    /// A lifetime outside 1..=[`MAX_EXPIRES_IN_SECS`] seconds.
    #[error("the lifetime must be 1 to {MAX_EXPIRES_IN_SECS} seconds")]
    ExpiresIn,
    /// An id shorter than [`MIN_ID_CHARS`].
    #[error("give at least {MIN_ID_CHARS} characters of the id, or the token itself")]
    IdTooShort,
    /// No token has this id.
    #[error("no initial access token with id {0}")]
    NotFound(String),
    /// Several tokens start with this id.
    #[error("id {0} is ambiguous; give more characters")]
    Ambiguous(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token to create.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Registrations it allows (`None`: unlimited until it expires).
    pub uses: Option<i64>,
    /// Seconds until it expires (`None`: never).
    pub expires_in: Option<i64>,
    /// What it is for.
    pub description: Option<String>,
    /// Who made it (`admin:NAME`, `cli`).
    pub created_by: String,
}

/// The id a token is listed and revoked by.
pub fn id_of(hash: &TokenHash) -> &str {
    hash.as_str().get(..ID_CHARS).unwrap_or(hash.as_str())
}

/// Creates a token; the plain token is returned once and stored only hashed.
pub async fn create(
    repo: &dyn InitialAccessTokenRepo,
    new: NewToken,
    now: DateTime<Utc>,
) -> Result<(PlainToken, InitialAccessTokenRecord), TokenOpError> {
    let uses = new
        .uses
        .map(|uses| match i32::try_from(uses) {
            Ok(n) if (1..=MAX_USES).contains(&uses) => Ok(n),
            _ => Err(TokenOpError::Uses),
        })
        .transpose()?;
    let expires_at = new
        .expires_in
        .map(|secs| {
            (1..=MAX_EXPIRES_IN_SECS)
                .contains(&secs)
                .then(|| now + Duration::seconds(secs))
                .ok_or(TokenOpError::ExpiresIn)
        })
        .transpose()?;
    let token = PlainToken::generate(SecretKind::InitialAccessToken);
    let record = InitialAccessTokenRecord {
        token_hash: token.hash(),
        description: new
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| d.chars().take(MAX_DESCRIPTION_CHARS).collect()),
        uses_remaining: uses,
        expires_at,
        created_at: now,
        revoked_at: None,
        created_by: Some(new.created_by),
    };
    repo.create_initial_access_token(&record).await?;
    Ok((token, record))
}

/// The hash of the token `id_or_token` names: the token itself, or a unique prefix of at least
/// [`MIN_ID_CHARS`] of its id.
pub async fn find(
    repo: &dyn InitialAccessTokenRepo,
    id_or_token: &str,
) -> Result<TokenHash, TokenOpError> {
    if id_or_token.starts_with(SecretKind::InitialAccessToken.prefix()) {
        return Ok(TokenHash::of(id_or_token));
    }
    if id_or_token.len() < MIN_ID_CHARS {
        return Err(TokenOpError::IdTooShort);
    }
    let matching: Vec<TokenHash> = repo
        .list_initial_access_tokens()
        .await?
        .into_iter()
        .filter(|t| t.token_hash.as_str().starts_with(id_or_token))
        .map(|t| t.token_hash)
        .collect();
    match <[TokenHash; 1]>::try_from(matching) {
        Ok([one]) => Ok(one),
        Err(none) if none.is_empty() => Err(TokenOpError::NotFound(id_or_token.to_owned())),
        Err(_) => Err(TokenOpError::Ambiguous(id_or_token.to_owned())),
    }
}

/// Revokes the token `id_or_token` names (see [`find`]); whether it was usable until now.
pub async fn revoke(
    repo: &dyn InitialAccessTokenRepo,
    id_or_token: &str,
    now: DateTime<Utc>,
) -> Result<bool, TokenOpError> {
    let hash = find(repo, id_or_token).await?;
    Ok(repo.revoke_initial_access_token(&hash, now).await?)
}
