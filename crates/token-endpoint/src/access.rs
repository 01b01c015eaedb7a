//! Checking Tessera's own access tokens, for `/userinfo`, `/introspect` and `/revoke`:
//! signature by a key we publish with that key's own algorithm (so `alg: none`, HS256 with our
//! public key and unknown `kid`s fail), `typ: at+jwt` (an ID token is not an access token,
//! RFC 9068 §4), our issuer, not expired, and our audience — the issuer, or a resource server
//! registered now (RFC 8707) — then state: not on the denylist, its
//! grant not revoked, its client still there and enabled, and (for a token about a user) the user
//! still there and enabled. A token found live is remembered briefly per instance, claims and
//! state, by the digest of its bytes (see [`crate::live`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tessera_core::{ClientId, GrantId, SigningAlg, store::StoreError};
use tessera_keys::{KeyRing, VerifyPolicy};

use crate::{
    TokenState,
    mint::{ACCESS_TOKEN_TYP, AccessTokenClaims},
};

/// Why a token is not active (for logs only; clients learn only that it is not).
#[derive(Debug, thiserror::Error)]
pub enum Inactive {
    /// The JWS or its claims do not verify: signature, key, `alg`, `typ`, `iss`, `aud`, `exp`.
    #[error("{0}")]
    Unverified(#[from] tessera_keys::KeyError),
    /// Remembered live, and expired since.
    #[error("expired")]
    Expired,
    /// On the denylist (revoked by itself).
    #[error("revoked access token")]
    Revoked,
    /// Its grant was revoked.
    #[error("grant revoked")]
    GrantRevoked,
    /// Its client was deleted or disabled.
    #[error("client gone or disabled")]
    ClientGone,
    /// Its user was deleted or disabled.
    #[error("user gone or disabled")]
    UserGone,
    /// Its audience is a resource server no longer registered.
    #[error("resource server gone")]
    ResourceGone,
}

/// Verifies the JWS and its claims only (no database), for any audience — the issuer or a
/// resource's; whether that resource is registered is [`inspect`]'s check.
pub fn verify_signature(
    state: &TokenState,
    token: &str,
    now: DateTime<Utc>,
) -> Result<AccessTokenClaims, Inactive> {
    let issuer = state.minter.issuer().as_str();
    verify_policy(&state.minter.keys().ring(), issuer, None, token, now)
}

/// Verifies an access token's JWS against `ring` for `issuer` (signature, alg, typ, iss, exp,
/// and `aud` the issuer).
pub fn verify_jws(
    ring: &KeyRing,
    issuer: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<AccessTokenClaims, Inactive> {
    verify_policy(ring, issuer, Some(&[issuer]), token, now)
}

fn verify_policy(
    ring: &KeyRing,
    issuer: &str,
    audience: Option<&[&str]>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<AccessTokenClaims, Inactive> {
    let policy = VerifyPolicy {
        algs: &SigningAlg::ALL,
        typ: Some(ACCESS_TOKEN_TYP),
        issuer: Some(issuer),
        audience,
        leeway_secs: 0,
    };
    Ok(ring.verify::<AccessTokenClaims>(token, &policy, now)?)
}

/// A token found live, with the user it is about (none for a client acting for itself).
pub type Live = crate::live::Remembered;

/// Verifies the token and checks that nothing revoked it since. A token found live a moment
/// ago is taken from this instance's memory ([`crate::live`]) — the same bytes, so the same
/// signature; its expiry is compared with the clock again — which every revocation empties.
pub async fn inspect(
    state: &TokenState,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<Live, Inactive>, StoreError> {
    let key = crate::live::key_of(token);
    if let Some(live) = state.live_tokens.recall(&key) {
        if live.claims.exp <= now.timestamp() {
            return Ok(Err(Inactive::Expired));
        }
        return Ok(Ok(live));
    }
    let epoch = state.live_tokens.epoch();
    let claims = match verify_signature(state, token, now) {
        Ok(claims) => claims,
        Err(reason) => return Ok(Err(reason)),
    };
    if claims.aud != state.minter.issuer().as_str()
        && state.resources.find(&claims.aud).await?.is_none()
    {
        return Ok(Err(Inactive::ResourceGone));
    }
    if state.denylist.access_token_denied(&claims.jti).await? {
        return Ok(Err(Inactive::Revoked));
    }
    if let Some(grant) = &claims.grant_id {
        let grant = state
            .grants
            .find_grant(&GrantId::new(grant.as_str()))
            .await?;
        if grant.is_none_or(|g| g.revoked_at.is_some()) {
            return Ok(Err(Inactive::GrantRevoked));
        }
    }
    let client = state
        .clients
        .find_client(&ClientId::new(claims.client_id.as_str()))
        .await?;
    if client.is_none_or(|c| !c.enabled) {
        return Ok(Err(Inactive::ClientGone));
    }
    // A token issued to a user (not a client acting for itself) dies with the user's account.
    let user = if claims.sub == claims.client_id {
        None
    } else {
        match state
            .users
            .find_user(&tessera_core::Subject::new(claims.sub.as_str()))
            .await?
        {
            Some(user) if user.enabled => Some(Arc::new(user)),
            _ => return Ok(Err(Inactive::UserGone)),
        }
    };
    let live = Live {
        claims: Arc::new(claims),
        user,
    };
    state.live_tokens.remember(key, epoch, live.clone());
    Ok(Ok(live))
}
