//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! Every use rotates: the presented token is consumed atomically and its successor stored in the
//! same transaction, in the same family (grant) — a store failure in between leaves the old token
//! usable, so the retry of a 503 is not mistaken for reuse. Presenting a token that was already
//! rotated, outside the retry window below, is reuse — someone holds a copy — so the whole family
//! is revoked, access tokens included (they carry the grant). With the window at 0, concurrent
//! presentations of one token are reuse too: exactly one of them succeeds, and the others revoke
//! the family, so even the winner's new tokens are dead.
//!
//! A retry window (`TESSERA_REFRESH_TOKEN_GRACE`, 30 s by default, 0 for strict rotation) lets a
//! client whose response got lost — or that sent the same token twice at once — present the
//! rotated token again within the window of its rotation, as long as no token that rotation
//! issued was used: it gets a fresh pair beside the unused one, each works, and the first of
//! them used deletes the others (so one line of the family lives on). Once a successor was used,
//! presenting the parent is reuse. At most [`MAX_RETRY_SUCCESSORS`] successors wait at a time.
//!
//! [`MAX_RETRY_SUCCESSORS`]: tessera_core::store::MAX_RETRY_SUCCESSORS
//!
//! A family also ends when its absolute lifetime (from the sign-in) or its rotation cap is
//! reached; each token has an idle lifetime. The scope may narrow for the new access token
//! (never widen); the new refresh token keeps the family's scope (RFC 6749 §6).

use serde_json::json;
use tessera_core::{
    error::TokenError,
    secret::TokenHash,
    store::{Consumption, RefreshRetry, RefreshTokenInFamily, RefreshTokenRecord},
};

use super::{
    AuditNote, GrantRequest, NewRefreshToken, UserTokens, active_user, family_ends_at,
    invalid_grant, issue_user_tokens, max_rotations, prepare_refresh, proves_key, unavailable,
};
use crate::{TokenState, mint::TokenResponse, resources::target_of, scope};

async fn revoke_family(
    state: &TokenState,
    record: &RefreshTokenRecord,
    request: &GrantRequest<'_>,
    notes: &mut Vec<AuditNote>,
) -> TokenError {
    let revoked = match state
        .grants
        .revoke_grant(&record.grant_id, "refresh_token_reuse", request.now)
        .await
    {
        Ok(revoked) => revoked,
        Err(err) => return unavailable(&err),
    };
    notes.push(AuditNote {
        kind: tessera_core::AuditKind::RefreshTokenReused,
        user_id: None,
        details: json!({
            "grant_id": record.grant_id.as_str(),
            "generation": record.generation,
            "family_revoked": revoked,
        }),
    });
    invalid_grant("The refresh token was already used.").with_reason("refresh token reuse")
}

/// Exchanges a refresh token.
pub async fn exchange(
    state: &TokenState,
    request: &GrantRequest<'_>,
    notes: &mut Vec<AuditNote>,
) -> Result<TokenResponse, TokenError> {
    let GrantRequest {
        client,
        form,
        now,
        dpop,
    } = *request;
    let presented = form.require("refresh_token")?;
    let hash = TokenHash::of(presented);
    let invalid = || invalid_grant("The refresh token is invalid, expired or revoked.");
    // The token, its family and the family's user in one read.
    let RefreshTokenInFamily {
        token: record,
        grant,
        user,
    } = state
        .refresh_tokens
        .find_refresh_token_in_family(&hash)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| invalid().with_reason("unknown refresh token"))?;
    if record.client_id != client.client_id {
        return Err(invalid().with_reason(format!(
            "refresh token of {} presented by {}",
            record.client_id, client.client_id
        )));
    }
    // The family is read before the token is consumed: a family revoked by concurrent reuse
    // after this point still lets this (first) redemption answer — with dead tokens.
    let grant = grant
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| invalid().with_reason("family revoked"))?;
    let Some(user_id) = grant.user_id.clone() else {
        return Err(invalid().with_reason("grant without user"));
    };
    if now >= family_ends_at(state, client, grant.created_at) {
        return Err(
            invalid_grant("The refresh token has expired; sign in again.")
                .with_reason("family past its absolute lifetime"),
        );
    }
    if max_rotations(state, client).is_some_and(|max| record.generation >= max) {
        return Err(invalid_grant(
            "The refresh token has reached its rotation limit; sign in again.",
        )
        .with_reason("rotation cap reached"));
    }
    // Checked before consuming, so a bad request does not burn the token. A family bound to a
    // key (a public client's, RFC 9449 §5) is refreshed only with a proof of that key.
    proves_key(grant.dpop_jkt.as_deref(), dpop, "refresh token")?;
    let scopes = scope::within(form.get("scope"), &record.scopes, &record.scopes)?;
    let access = target_of(
        &state.resources,
        form.get("resource"),
        grant.resource.as_deref(),
        &scopes,
    )
    .await?;
    let user = active_user(user, &user_id)?;

    // The successor is stored in the same transaction that consumes the presented token: a
    // failure in between leaves the old token usable, so a 503's retry is not reuse.
    let (successor, successor_record) = prepare_refresh(
        state,
        client,
        &grant,
        NewRefreshToken {
            scopes: record.scopes.clone(),
            generation: record.generation + 1,
            parent: Some(hash.clone()),
        },
        now,
    );
    match state
        .refresh_tokens
        .rotate_refresh_token(&hash, &successor_record, now)
        .await
        .map_err(|e| unavailable(&e))?
    {
        Consumption::Consumed(_) => {}
        Consumption::NotFound => return Err(invalid().with_reason("refresh token vanished")),
        Consumption::Expired => return Err(invalid().with_reason("refresh token idle-expired")),
        Consumption::AlreadyConsumed(used) => {
            let grace = state.minter.policy().refresh_grace;
            let retry = if grace > chrono::Duration::zero() {
                state
                    .refresh_tokens
                    .retry_rotated_refresh_token(&hash, now - grace, &successor_record, now)
                    .await
                    .map_err(|e| unavailable(&e))?
            } else {
                RefreshRetry::OutsideWindow
            };
            match retry {
                RefreshRetry::Stored => notes.push(AuditNote {
                    kind: tessera_core::AuditKind::RefreshTokenGraceRetry,
                    user_id: Some(user_id.as_str().to_owned()),
                    details: json!({ "grant_id": used.grant_id.as_str() }),
                }),
                RefreshRetry::TooMany => {
                    return Err(invalid_grant(
                        "The refresh token was retried too often; use the newest one.",
                    )
                    .with_reason("retry limit"));
                }
                // Rotated longer ago, or its successor was used: someone else holds a copy.
                RefreshRetry::OutsideWindow | RefreshRetry::SuccessorUsed => {
                    return Err(revoke_family(state, &used, request, notes).await);
                }
            }
        }
    }
    if state
        .bursts
        .refreshed(grant.id.as_str(), now, &state.signals)
    {
        notes.push(AuditNote {
            kind: tessera_core::AuditKind::RefreshTokenBurst,
            user_id: Some(user_id.as_str().to_owned()),
            details: json!({
                "grant_id": grant.id.as_str(),
                "refreshes": state.signals.refresh_burst_count,
                "within_seconds": state.signals.refresh_burst_window.num_seconds(),
            }),
        });
    }
    issue_user_tokens(
        state,
        UserTokens {
            client,
            user: &user,
            grant: &grant,
            scopes: &scopes,
            access,
            jkt: dpop.map(|proof| proof.jkt.as_str()),
            nonce: None,
            refresh: Some(successor),
        },
        now,
    )
    .await
}
