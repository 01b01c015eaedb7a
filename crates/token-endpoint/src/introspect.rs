//! `POST /introspect` (RFC 7662). Only authenticated clients may ask (401 otherwise). Access
//! tokens are answered to any authenticated client — that is what resource servers do — except
//! that a client a registered resource server introspects as (RFC 8707) is told only about
//! tokens meant for that resource; a refresh token is active only to the client it was issued
//! to. Anything expired, revoked,
//! forged, foreign or malformed is `{"active": false}` and nothing more.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tessera_core::{
    ClientId, Subject,
    error::{TokenError, TokenErrorCode},
    secret::{SecretKind, TokenHash},
    store::{ClientAuthMethod, StoreError},
};

use crate::{
    TokenState, access,
    grants::{family_ends_at, unavailable},
    token::{json_no_store, read_and_authenticate, refuse},
};

/// An introspection response (RFC 7662 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user's login name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// RFC 9449 §6.2: the DPoP key the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::mint::Confirmation>,
}

async fn username(state: &TokenState, sub: &str) -> Result<Option<String>, StoreError> {
    Ok(state
        .users
        .find_user(&Subject::new(sub))
        .await?
        .map(|u| u.username))
}

async fn as_refresh_token(
    state: &TokenState,
    asking: &str,
    token: &str,
) -> Result<Option<Introspection>, StoreError> {
    // Every refresh token carries the prefix: anything else (a JWT) needs no lookup.
    if !token.starts_with(SecretKind::RefreshToken.prefix()) {
        return Ok(None);
    }
    let Some(record) = state
        .refresh_tokens
        .find_refresh_token(&TokenHash::of(token))
        .await?
    else {
        return Ok(None);
    };
    let now = state.clock.now();
    let inactive = Ok(Some(Introspection::default()));
    if record.client_id.as_str() != asking
        || record.consumed_at.is_some()
        || record.expires_at <= now
    {
        return inactive;
    }
    let Some(grant) = state.grants.find_grant(&record.grant_id).await? else {
        return inactive;
    };
    let Some(client) = state.clients.find_client(&ClientId::new(asking)).await? else {
        return inactive;
    };
    if grant.revoked_at.is_some()
        || !client.enabled
        || now >= family_ends_at(state, &client, grant.created_at)
    {
        return inactive;
    }
    let sub = grant.user_id.as_ref().map(|s| s.as_str().to_owned());
    let username = match &sub {
        Some(sub) => username(state, sub).await?,
        None => None,
    };
    Ok(Some(Introspection {
        active: true,
        scope: Some(record.scopes.join(" ")),
        client_id: Some(record.client_id.as_str().to_owned()),
        username,
        token_type: Some("refresh_token"),
        exp: Some(record.expires_at.timestamp()),
        iat: Some(record.created_at.timestamp()),
        sub,
        aud: None,
        iss: Some(state.minter.issuer().as_str().to_owned()),
        jti: None,
        cnf: None,
    }))
}

/// Introspects `token` for the client `asking`.
pub async fn introspect(
    state: &TokenState,
    asking: &str,
    token: &str,
) -> Result<Introspection, StoreError> {
    if let Some(answer) = as_refresh_token(state, asking, token).await? {
        return Ok(answer);
    }
    let Ok(access::Live { claims, user }) =
        access::inspect(state, token, state.clock.now()).await?
    else {
        return Ok(Introspection::default());
    };
    // A resource server learns only about tokens meant for it.
    if let Some(resource) = state.resources.of_client(&ClientId::new(asking)).await?
        && claims.aud != resource.identifier
    {
        return Ok(Introspection::default());
    }
    let username = user.map(|user| user.username.clone());
    Ok(Introspection {
        active: true,
        scope: Some(claims.scope.clone()),
        client_id: Some(claims.client_id.clone()),
        username,
        token_type: Some(crate::grants::token_type(
            claims.cnf.as_ref().map(|c| c.jkt.as_str()),
        )),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        sub: Some(claims.sub.clone()),
        aud: Some(claims.aud.clone()),
        iss: Some(claims.iss.clone()),
        jti: Some(claims.jti.clone()),
        cnf: claims.cnf.clone(),
    })
}

/// `POST /introspect`.
pub async fn post_introspect(
    state: web::Data<TokenState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, client) = match read_and_authenticate(&state, &req, &body, "introspect").await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let client_id = client.client_id.as_str();
    if client.token_endpoint_auth_method == ClientAuthMethod::None {
        let err = TokenError::new(
            TokenErrorCode::InvalidClient,
            "Public clients cannot use introspection.",
        );
        return refuse("introspect", Some(client_id), &err, false);
    }
    let token = match form.require("token") {
        Ok(token) => token,
        Err(err) => return refuse("introspect", Some(client_id), &err, false),
    };
    match introspect(&state, client_id, token).await {
        Ok(answer) => json_no_store(&answer),
        Err(err) => {
            let err = unavailable(&err);
            refuse("introspect", Some(client_id), &err, false)
        }
    }
}
