//! The grants of `/token`: `grant_type` parses into [`GrantType`], and each variant has its
//! module. A grant gets the authenticated client and the form and answers a token response or
//! an RFC 6749 §5.2 error, plus the audit notes of what it noticed.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod jwt_bearer;
pub mod refresh_token;

use chrono::{DateTime, Utc};
use tessera_core::{
    Subject,
    error::{TokenError, TokenErrorCode},
    secret::{PlainToken, SecretKind, TokenHash},
    store::{ClientRecord, GrantRecord, RefreshTokenRecord, StoreError, UserRecord},
};
use tessera_keys::KeyError;

use crate::{
    TokenState,
    form::Form,
    mint::{AccessTokenSubject, IdTokenSubject, TokenResponse, lifetime_or},
    resources::target_of,
};

pub use tessera_core::grant_type::GrantType;

/// Something a grant noticed that belongs in the audit log.
#[derive(Debug, Clone)]
pub struct AuditNote {
    /// The event kind.
    pub kind: tessera_core::AuditKind,
    /// The user concerned.
    pub user_id: Option<String>,
    /// Details (no secrets).
    pub details: serde_json::Value,
}

/// What a grant answers.
#[derive(Debug)]
pub struct GrantOutcome {
    /// The response or the error.
    pub result: Result<TokenResponse, TokenError>,
    /// What to audit.
    pub notes: Vec<AuditNote>,
}

/// The request a grant handles.
#[derive(Debug)]
pub struct GrantRequest<'a> {
    /// The authenticated client.
    pub client: &'a ClientRecord,
    /// The form.
    pub form: &'a Form,
    /// Now.
    pub now: DateTime<Utc>,
    /// The request's DPoP proof (RFC 9449), checked: the tokens are bound to its key.
    pub dpop: Option<&'a crate::dpop::Proof>,
}

/// `Bearer`, or `DPoP` for a token bound to a key.
pub(crate) fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// The key a grant's refresh tokens are bound to (RFC 9449 §5): a public client's proof key;
/// a confidential client's refresh tokens are bound to its credentials instead.
pub(crate) fn refresh_binding(
    client: &ClientRecord,
    dpop: Option<&crate::dpop::Proof>,
) -> Option<String> {
    let public = client.token_endpoint_auth_method == tessera_core::store::ClientAuthMethod::None;
    dpop.filter(|_| public).map(|proof| proof.jkt.clone())
}

/// Requires the request's proof to be made with `bound` (a code's `dpop_jkt`, a refresh family's
/// key): `invalid_grant` otherwise, before anything is consumed.
pub(crate) fn proves_key(
    bound: Option<&str>,
    dpop: Option<&crate::dpop::Proof>,
    what: &str,
) -> Result<(), TokenError> {
    match bound {
        Some(jkt) if dpop.is_none_or(|proof| proof.jkt != jkt) => Err(invalid_grant(&format!(
            "The {what} is bound to a DPoP key this request does not prove."
        ))),
        _ => Ok(()),
    }
}

/// `invalid_grant` with a public description.
pub(crate) fn invalid_grant(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidGrant, description)
}

/// A storage failure: 503, details in logs.
pub fn unavailable(err: &StoreError) -> TokenError {
    TokenError::new(
        TokenErrorCode::TemporarilyUnavailable,
        "The server is temporarily unavailable.",
    )
    .with_reason(err.to_string())
}

/// A signing failure: 500, details in logs.
pub(crate) fn signing_failed(err: &KeyError) -> TokenError {
    TokenError::new(TokenErrorCode::ServerError, "Internal error.").with_reason(err.to_string())
}

/// Runs `grant` for `request`.
pub async fn run(state: &TokenState, grant: GrantType, request: &GrantRequest<'_>) -> GrantOutcome {
    let mut notes = Vec::new();
    let result = match grant {
        GrantType::AuthorizationCode => {
            authorization_code::exchange(state, request, &mut notes).await
        }
        GrantType::RefreshToken => refresh_token::exchange(state, request, &mut notes).await,
        GrantType::ClientCredentials => client_credentials::exchange(state, request).await,
        GrantType::JwtBearer => jwt_bearer::exchange(state, request, &mut notes).await,
        GrantType::DeviceCode => device_code::exchange(state, request, &mut notes).await,
    };
    GrantOutcome { result, notes }
}

/// The response of the grants that issue an access token only (client credentials, JWT bearer):
/// a token about `subject` with `scopes` — for the request's `resource` when it names one
/// (RFC 8707: its `aud`, and only the scopes it owns).
pub(crate) async fn access_token_only(
    state: &TokenState,
    request: &GrantRequest<'_>,
    subject: &str,
    scopes: &[String],
    auth_time: Option<DateTime<Utc>>,
) -> Result<TokenResponse, TokenError> {
    let GrantRequest {
        client, form, now, ..
    } = *request;
    let jkt = request.dpop.map(|proof| proof.jkt.as_str());
    let target = target_of(&state.resources, form.get("resource"), None, scopes).await?;
    let about = AccessTokenSubject {
        subject,
        scopes: &target.scopes,
        auth_time,
        grant: None,
        audience: target.audience.as_deref(),
        jkt,
    };
    let access = state
        .minter
        .access_token(client, &about, now)
        .map_err(|e| signing_failed(&e))?;
    Ok(TokenResponse {
        access_token: access.token,
        token_type: token_type(jkt),
        expires_in: access.expires_in,
        refresh_token: None,
        scope: target.scopes.join(" "),
        id_token: None,
    })
}

/// A refresh token to issue with a user's tokens.
#[derive(Debug, Clone)]
pub(crate) struct NewRefreshToken {
    /// Its scopes (RFC 6749 §6: a rotated token keeps the scope of the one it replaces).
    pub scopes: Vec<String>,
    /// Rotations before it.
    pub generation: i32,
    /// The token whose rotation issues it.
    pub parent: Option<TokenHash>,
}

/// Tokens for a signed-in user's grant.
#[derive(Debug)]
pub(crate) struct UserTokens<'a> {
    pub client: &'a ClientRecord,
    pub user: &'a UserRecord,
    pub grant: &'a GrantRecord,
    /// The scopes the ID token's claims are chosen by (the grant's, possibly narrowed by the
    /// request's `scope`).
    pub scopes: &'a [String],
    /// The access token's audience and scopes ([`target_of`], checked before anything was
    /// consumed).
    pub access: crate::resources::Target,
    /// The DPoP key the access token is bound to.
    pub jkt: Option<&'a str>,
    pub nonce: Option<&'a str>,
    /// The refresh token of the response, already stored: in the transaction that consumed the
    /// code or the presented refresh token.
    pub refresh: Option<PlainToken>,
}

/// A refresh token of `grant` and its record, not stored yet.
pub(crate) fn prepare_refresh(
    state: &TokenState,
    client: &ClientRecord,
    grant: &GrantRecord,
    new: NewRefreshToken,
    now: DateTime<Utc>,
) -> (PlainToken, RefreshTokenRecord) {
    let idle = lifetime_or(
        client.refresh_token_ttl,
        state.minter.policy().refresh_idle_ttl,
    );
    let expires_at = (now + idle).min(family_ends_at(state, client, grant.created_at));
    let token = PlainToken::generate(SecretKind::RefreshToken);
    let record = RefreshTokenRecord {
        token_hash: token.hash(),
        grant_id: grant.id.clone(),
        client_id: client.client_id.clone(),
        scopes: new.scopes,
        generation: new.generation,
        created_at: now,
        expires_at,
        consumed_at: None,
        parent_hash: new.parent,
    };
    (token, record)
}

/// The end of a refresh-token family of `client` created at `created_at` (absolute lifetime).
pub(crate) fn family_ends_at(
    state: &TokenState,
    client: &ClientRecord,
    created_at: DateTime<Utc>,
) -> DateTime<Utc> {
    created_at
        + lifetime_or(
            client.refresh_token_absolute_ttl,
            state.minter.policy().refresh_absolute_ttl,
        )
}

/// The rotation cap of `client`, if any.
pub(crate) fn max_rotations(state: &TokenState, client: &ClientRecord) -> Option<i32> {
    client
        .refresh_token_max_rotations
        .filter(|max| *max > 0)
        .or(state.minter.policy().refresh_max_rotations)
}

/// Mints the access token, the ID token for OpenID scopes, and stores and returns the refresh
/// token when one is due.
pub(crate) async fn issue_user_tokens(
    state: &TokenState,
    tokens: UserTokens<'_>,
    now: DateTime<Utc>,
) -> Result<TokenResponse, TokenError> {
    let UserTokens {
        client,
        user,
        grant,
        scopes,
        access: target,
        jkt,
        nonce,
        refresh,
    } = tokens;
    let access = state
        .minter
        .access_token(
            client,
            &AccessTokenSubject {
                subject: user.id.as_str(),
                scopes: &target.scopes,
                auth_time: grant.auth_time,
                grant: Some(&grant.id),
                audience: target.audience.as_deref(),
                jkt,
            },
            now,
        )
        .map_err(|e| signing_failed(&e))?;
    let id_token = if scopes.iter().any(|s| s == "openid") {
        Some(
            state
                .minter
                .id_token(
                    client,
                    &IdTokenSubject {
                        user,
                        scopes,
                        nonce,
                        auth_time: grant.auth_time,
                        access_token: &access.token,
                        amr: &grant.amr,
                    },
                    now,
                )
                .map_err(|e| signing_failed(&e))?,
        )
    } else {
        None
    };
    let refresh_token = refresh.map(|token| token.expose().to_owned());
    Ok(TokenResponse {
        access_token: access.token,
        token_type: token_type(jkt),
        expires_in: access.expires_in,
        refresh_token,
        scope: target.scopes.join(" "),
        id_token,
    })
}

/// Loads the user of a grant; a deleted or disabled user ends every grant they gave.
pub(crate) fn active_user(
    found: Option<UserRecord>,
    id: &Subject,
) -> Result<UserRecord, TokenError> {
    match found {
        Some(user) if user.enabled => Ok(user),
        _ => Err(invalid_grant("The user is no longer active.")
            .with_reason(format!("user {id} gone or disabled"))),
    }
}
