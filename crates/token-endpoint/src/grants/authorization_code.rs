//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).
//!
//! The code is looked up first: one presented by another client is refused without touching it.
//! Then it must be for this redirect URI, its S256 challenge must match the verifier, and its
//! user must be active; a code that fails a check is used up all the same. One that passes is
//! redeemed in one transaction — consumed (one atomic statement, so of any number of concurrent
//! redemptions on any number of instances exactly one proceeds), its grant created and its
//! refresh token stored — so a store failure answers 503 and leaves the code for the retry.
//!
//! A replayed code (RFC 9700 §4.5, RFC 6749 §4.1.2: "the authorization server … SHOULD revoke
//! … all tokens previously issued based on that authorization code") revokes its grant, which
//! exists from the moment the code is seen consumed; the grant id is derived from the code's
//! hash. Tokens the first redemption is still minting carry that grant and are born dead.

use chrono::{DateTime, Utc};
use serde_json::json;
use tessera_core::{
    GrantId,
    error::TokenError,
    pkce,
    secret::TokenHash,
    store::{
        AuthorizationCodeRecord, ClientRecord, Consumption, GrantRecord, StoreError, UserRecord,
    },
};

use super::{
    AuditNote, GrantRequest, GrantType, NewRefreshToken, UserTokens, active_user, invalid_grant,
    issue_user_tokens, prepare_refresh, proves_key, refresh_binding, unavailable,
};
use crate::{TokenState, resources::target_of};

/// The grant id a code's redemption creates: derived from the code's hash (by hashing again, so
/// the id does not reveal the lookup key).
pub fn grant_id_for(code_hash: &TokenHash) -> GrantId {
    let derived = TokenHash::of(&format!("grant:{}", code_hash.as_str()));
    GrantId::new(derived.as_str().get(..32).unwrap_or(derived.as_str()))
}

fn grant_from_code(
    code: &AuthorizationCodeRecord,
    dpop_jkt: Option<String>,
    now: DateTime<Utc>,
) -> GrantRecord {
    GrantRecord {
        id: grant_id_for(&code.code_hash),
        client_id: code.client_id.clone(),
        user_id: Some(code.user_id.clone()),
        scopes: code.scopes.clone(),
        offline: code.scopes.iter().any(|s| s == "offline_access"),
        session_id: code.session_id.clone(),
        auth_time: Some(code.auth_time),
        created_at: now,
        revoked_at: None,
        resource: code.resource.clone(),
        dpop_jkt,
        amr: code.amr.clone(),
    }
}

/// Revokes what the first redemption of a replayed code issued: its grant, which that
/// redemption created in the transaction that consumed the code (a code burnt by a failed
/// check has none).
async fn revoke_replayed(
    state: &TokenState,
    code: &AuthorizationCodeRecord,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    state
        .grants
        .revoke_grant(&grant_id_for(&code.code_hash), "code_replay", now)
        .await
}

/// Exchanges a code.
pub async fn exchange(
    state: &TokenState,
    request: &GrantRequest<'_>,
    notes: &mut Vec<AuditNote>,
) -> Result<crate::mint::TokenResponse, TokenError> {
    let GrantRequest {
        client,
        form,
        now,
        dpop,
    } = *request;
    let code = form.require("code")?;
    let redirect_uri = form.require("redirect_uri")?;
    let verifier = form.get("code_verifier");
    let hash = TokenHash::of(code);
    let unknown =
        || invalid_grant("The authorization code is invalid.").with_reason("unknown code");
    // The code and its user in one read.
    let (found, user) = state
        .codes
        .find_code_with_user(&hash)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(unknown)?;
    // A code presented by another client than its own is refused *before* it is consumed:
    // someone else's redemption attempt must neither burn the owner's code nor make the owner's
    // redemption look like a replay (which would revoke the owner's grant).
    if found.client_id != client.client_id {
        notes.push(AuditNote {
            kind: tessera_core::AuditKind::CodeWrongClient,
            user_id: None,
            details: json!({ "issued_to": found.client_id.as_str() }),
        });
        return Err(
            invalid_grant("The authorization code was issued to another client.").with_reason(
                format!(
                    "code of {} presented by {}",
                    found.client_id, client.client_id
                ),
            ),
        );
    }
    // RFC 9449 §10: a code bound to a key (`dpop_jkt`) is redeemed only with a proof of that
    // key; refused without using it up, as another client's attempt is.
    proves_key(found.dpop_jkt.as_deref(), dpop, "authorization code")?;
    // The checks run on the code as found (its fields never change). A code that fails one is
    // used up all the same, as if it had been redeemed.
    let user = match check_code(&found, user, redirect_uri, verifier) {
        Ok(user) => user,
        Err(err) => {
            let consumed = state
                .codes
                .consume_code(&hash, now)
                .await
                .map_err(|e| unavailable(&e))?;
            settle(state, consumed, now, notes).await?;
            return Err(err);
        }
    };
    // The resource (RFC 8707) is checked before the code is used: a wrong one leaves it usable.
    let access = target_of(
        &state.resources,
        form.get("resource"),
        found.resource.as_deref(),
        &found.scopes,
    )
    .await?;
    // One that passes is redeemed in one transaction with the grant and refresh token it
    // yields: a store failure leaves the code unused for the client's retry.
    let grant = grant_from_code(&found, refresh_binding(client, dpop), now);
    let refresh = wants_refresh(client, &grant).then(|| {
        prepare_refresh(
            state,
            client,
            &grant,
            NewRefreshToken {
                scopes: grant.scopes.clone(),
                generation: 0,
                parent: None,
            },
            now,
        )
    });
    let redeemed = state
        .codes
        .redeem_code(
            &hash,
            &grant,
            refresh.as_ref().map(|(_, record)| record),
            now,
        )
        .await
        .map_err(|e| unavailable(&e))?;
    settle(state, redeemed, now, notes).await?;
    issue_user_tokens(
        state,
        UserTokens {
            client,
            user: &user,
            grant: &grant,
            scopes: &grant.scopes,
            access,
            jkt: dpop.map(|proof| proof.jkt.as_str()),
            nonce: found.nonce.as_deref(),
            refresh: refresh.map(|(token, _)| token),
        },
        now,
    )
    .await
}

/// `Ok` when this call consumed the code; otherwise the error to answer — for a replay, after
/// revoking what the first redemption issued.
async fn settle(
    state: &TokenState,
    consumption: Consumption<AuthorizationCodeRecord>,
    now: DateTime<Utc>,
    notes: &mut Vec<AuditNote>,
) -> Result<(), TokenError> {
    match consumption {
        Consumption::Consumed(_) => Ok(()),
        Consumption::NotFound => {
            Err(invalid_grant("The authorization code is invalid.").with_reason("unknown code"))
        }
        Consumption::Expired => {
            Err(invalid_grant("The authorization code has expired.").with_reason("expired code"))
        }
        Consumption::AlreadyConsumed(record) => {
            let revoked = revoke_replayed(state, &record, now)
                .await
                .map_err(|e| unavailable(&e))?;
            notes.push(AuditNote {
                kind: tessera_core::AuditKind::CodeReplayed,
                user_id: Some(record.user_id.as_str().to_owned()),
                details: json!({
                    "grant_id": grant_id_for(&record.code_hash).as_str(),
                    "grant_revoked": revoked,
                    "issued_to": record.client_id.as_str(),
                }),
            });
            Err(invalid_grant("The authorization code was already used.")
                .with_reason("code replay: grant revoked"))
        }
    }
}

/// Refresh tokens: for clients registered for them, and for OpenID requests only when offline
/// access was consented (OIDC Core §11).
pub(crate) fn wants_refresh(client: &ClientRecord, grant: &GrantRecord) -> bool {
    let openid = grant.scopes.iter().any(|s| s == "openid");
    client.grant_types.contains(&GrantType::RefreshToken) && (!openid || grant.offline)
}

/// The checks a redemption must pass besides the client: the redirect URI of the request, the
/// PKCE verifier, a user who is still active.
fn check_code(
    code: &AuthorizationCodeRecord,
    user: Option<UserRecord>,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<UserRecord, TokenError> {
    if code.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "The redirect_uri does not match the authorization request.",
        ));
    }
    if let Err(reason) = pkce::verify(code.code_challenge.as_deref(), verifier) {
        return Err(invalid_grant("PKCE verification failed.").with_reason(reason.to_string()));
    }
    active_user(user, &code.user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_ids_are_derived_and_distinct() {
        let a = grant_id_for(&TokenHash::of("tsc_a"));
        assert_eq!(a, grant_id_for(&TokenHash::of("tsc_a")));
        assert_ne!(a, grant_id_for(&TokenHash::of("tsc_b")));
        assert_eq!(a.as_str().len(), 32);
    }
}
