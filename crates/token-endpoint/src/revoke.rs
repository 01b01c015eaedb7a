//! `POST /revoke` (RFC 7009). The client authenticates; the token must have been issued to it.
//! A refresh token revokes its whole family (grant), access tokens included; an access token
//! goes on the `jti` denylist until it expires. Unknown, malformed or expired tokens answer 200
//! (§2.2: "invalid tokens do not cause an error response").

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::DateTime;
use serde_json::json;
use tessera_core::{
    GrantId,
    error::{TokenError, TokenErrorCode},
    secret::{SecretKind, TokenHash},
    store::StoreError,
};
use tessera_web::audit::{self, Audit};

use crate::{
    TokenState, access,
    grants::unavailable,
    token::{read_and_authenticate, refuse},
};

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// A refresh token: its family was revoked.
    Family(GrantId),
    /// An access token: its `jti` is denied.
    AccessToken(String),
    /// Nothing we know (or already dead): nothing to do.
    Unknown,
    /// The token belongs to another client: refused, nothing done.
    NotYours,
}

/// Revokes `token` for `client_id`. `token_type_hint` is not needed (RFC 7009 §2.1 lets the
/// server search on): refresh tokens carry their prefix, everything else is tried as a JWT.
pub async fn revoke(
    state: &TokenState,
    client_id: &str,
    token: &str,
) -> Result<Revocation, StoreError> {
    let now = state.clock.now();
    if token.starts_with(SecretKind::RefreshToken.prefix()) {
        let Some(record) = state
            .refresh_tokens
            .find_refresh_token(&TokenHash::of(token))
            .await?
        else {
            return Ok(Revocation::Unknown);
        };
        if record.client_id.as_str() != client_id {
            return Ok(Revocation::NotYours);
        }
        state
            .grants
            .revoke_grant(&record.grant_id, "revoked_by_client", now)
            .await?;
        return Ok(Revocation::Family(record.grant_id));
    }
    // The signature is checked (a forged token must not fill the denylist); an expired token is
    // not an error, just nothing to do.
    let Ok(claims) = access::verify_signature(state, token, now) else {
        return Ok(Revocation::Unknown);
    };
    if claims.client_id != client_id {
        return Ok(Revocation::NotYours);
    }
    let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
    let grant = claims.grant_id.as_deref().map(GrantId::new);
    state
        .denylist
        .deny_access_token(&claims.jti, grant.as_ref(), expires_at, now)
        .await?;
    Ok(Revocation::AccessToken(claims.jti))
}

impl Revocation {
    /// The audit event a revocation is recorded as, with its details (none for an unknown
    /// token: anyone can send those, and they change nothing).
    pub fn audit(&self) -> Option<(tessera_core::AuditKind, serde_json::Value)> {
        use tessera_core::AuditKind::{TokenRevocationRefused, TokenRevoked};
        match self {
            Self::Family(grant) => Some((
                TokenRevoked,
                json!({ "token_type": "refresh_token", "grant_id": grant.as_str() }),
            )),
            Self::AccessToken(jti) => Some((
                TokenRevoked,
                json!({ "token_type": "access_token", "jti": jti }),
            )),
            Self::NotYours => Some((
                TokenRevocationRefused,
                json!({ "refused": "token issued to another client" }),
            )),
            Self::Unknown => None,
        }
    }
}

/// `POST /revoke`.
pub async fn post_revoke(
    state: web::Data<TokenState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, client) = match read_and_authenticate(&state, &req, &body, "revoke").await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let client_id = client.client_id.as_str();
    let token = match form.require("token") {
        Ok(token) => token,
        Err(err) => return refuse("revoke", Some(client_id), &err, false),
    };
    let outcome = match revoke(&state, client_id, token).await {
        Ok(outcome) => outcome,
        Err(err) => {
            let err = unavailable(&err);
            return refuse("revoke", Some(client_id), &err, false);
        }
    };
    if let Some((kind, details)) = outcome.audit() {
        let audit = Audit {
            actor: Some(client_id.to_owned()),
            client_id: Some(client_id),
            details: Some(details),
            ..Audit::new(kind)
        };
        audit::record(state.audit.as_ref(), &req, state.clock.now(), audit).await;
    }
    if outcome == Revocation::NotYours {
        let err = TokenError::new(
            TokenErrorCode::InvalidRequest,
            "The token was not issued to this client.",
        );
        return refuse("revoke", Some(client_id), &err, false);
    }
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .finish()
}
