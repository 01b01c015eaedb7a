//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1, §3).
//!
//! Two kinds of issuer:
//! - **the client itself**: a client registered for this grant with `jwks`/`jwks_uri` presents an
//!   assertion with `iss` = `sub` = its client_id, signed with its pinned algorithm (or, unpinned,
//!   the algorithm of the registered key that verifies it), and gets a
//!   token on its own behalf (`sub` = the client);
//! - **a trusted issuer**: an admin trusted an external issuer (console or CLI) with its keys,
//!   algorithms, the subjects it may assert, the scopes its tokens may carry and the clients that
//!   may present its assertions; `sub` names a local user (username or subject id), who becomes
//!   the token's `sub`.
//!
//! Both: signature with one of the issuer's keys, whose own algorithm must be the header's and an
//! allowed one; `aud` = the issuer or the token endpoint URL, `exp` required and at most
//! [`MAX_ASSERTION_LIFETIME_SECS`] ahead, `nbf`/`iat` sane within a small leeway, `jti` required
//! and single use across instances (one namespace per issuer, shared with client
//! authentication). Every failure is `invalid_grant` (§3.1), audited; a failure of the replay
//! store is a 503. No refresh token (§2.1 leaves it to policy; a fresh
//! assertion is cheap for the issuer).

use serde_json::json;
use tessera_client_registry::assertion::{AssertionRules, unverified_issuer};
use tessera_core::{
    Subject,
    error::{TokenError, TokenErrorCode},
    store::{TrustedIssuerRecord, UserRecord},
};

use super::{AuditNote, GrantRequest, access_token_only, invalid_grant, unavailable};
use crate::{TokenState, mint::TokenResponse, scope};

/// How far ahead an authorization grant assertion's `exp` may be (as for client assertions).
pub const MAX_ASSERTION_LIFETIME_SECS: i64 =
    tessera_client_registry::assertion::MAX_ASSERTION_LIFETIME_SECS;

fn refused(
    notes: &mut Vec<AuditNote>,
    issuer: Option<&str>,
    reason: impl Into<String>,
) -> TokenError {
    let reason = reason.into();
    notes.push(AuditNote {
        kind: tessera_core::AuditKind::JwtBearerRefused,
        user_id: None,
        details: json!({ "issuer": issuer, "reason": reason }),
    });
    invalid_grant("The assertion is not acceptable.").with_reason(reason)
}

/// Finds the local user an external subject maps to: by username, then by subject id.
async fn local_user(state: &TokenState, subject: &str) -> Result<Option<UserRecord>, TokenError> {
    let by_name = state
        .users
        .find_user_by_username(subject)
        .await
        .map_err(|e| unavailable(&e))?;
    let user = match by_name {
        Some(user) => Some(user),
        None => state
            .users
            .find_user(&Subject::new(subject))
            .await
            .map_err(|e| unavailable(&e))?,
    };
    Ok(user.filter(|u| u.enabled))
}

/// Exchanges an assertion.
pub async fn exchange(
    state: &TokenState,
    request: &GrantRequest<'_>,
    notes: &mut Vec<AuditNote>,
) -> Result<TokenResponse, TokenError> {
    let GrantRequest { client, form, .. } = *request;
    let assertion = form.require("assertion")?;
    let Some(issuer) = unverified_issuer(assertion) else {
        return Err(refused(notes, None, "assertion unreadable or without iss"));
    };
    let self_issued = issuer == client.client_id.as_str();
    let trusted: Option<TrustedIssuerRecord> = if self_issued {
        None
    } else {
        let found = state
            .trusted_issuers
            .find_trusted_issuer(&issuer)
            .await
            .map_err(|e| unavailable(&e))?;
        match found {
            Some(t) if t.enabled && t.allowed_clients.contains(&client.client_id) => Some(t),
            Some(_) => {
                return Err(refused(
                    notes,
                    Some(&issuer),
                    "issuer disabled or not allowed for this client",
                ));
            }
            None => return Err(refused(notes, Some(&issuer), "unknown issuer")),
        }
    };
    let client_alg =
        tessera_client_registry::assertion::pinned_or_any(client.token_endpoint_auth_signing_alg);
    let rules = match &trusted {
        None => AssertionRules {
            jwks: client.jwks.as_ref(),
            jwks_uri: client.jwks_uri.as_deref(),
            algs: &client_alg,
            issuer: &issuer,
            subject: Some(client.client_id.as_str()),
            replay_namespace: tessera_client_registry::assertion::replay_namespace(&issuer),
            max_lifetime_secs: MAX_ASSERTION_LIFETIME_SECS,
        },
        Some(t) => AssertionRules {
            jwks: t.jwks.as_ref(),
            jwks_uri: t.jwks_uri.as_deref(),
            algs: &t.allowed_algs,
            issuer: &issuer,
            subject: None,
            replay_namespace: tessera_client_registry::assertion::replay_namespace(&issuer),
            max_lifetime_secs: MAX_ASSERTION_LIFETIME_SECS,
        },
    };
    let claims = match state
        .authenticator
        .assertions()
        .verify(assertion, &rules)
        .await
    {
        Ok(claims) => claims,
        // The replay store failed, not the assertion: 503 to retry, nothing refused.
        Err(err) if err.unavailable() => {
            return Err(TokenError::new(
                TokenErrorCode::TemporarilyUnavailable,
                "The server is temporarily unavailable; try again.",
            )
            .with_reason(err.to_string()));
        }
        Err(err) => return Err(refused(notes, Some(&issuer), err.to_string())),
    };
    let asserted = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();

    let (subject, allowed, auth_time) = match &trusted {
        None => {
            let allowed = scope::client_scopes(client);
            (client.client_id.as_str().to_owned(), allowed, None)
        }
        Some(t) => {
            let listed = t
                .allowed_subjects
                .iter()
                .any(|s| s == "*" || *s == asserted);
            if !listed {
                return Err(refused(notes, Some(&issuer), "subject not allowed"));
            }
            let Some(user) = local_user(state, &asserted).await? else {
                return Err(refused(
                    notes,
                    Some(&issuer),
                    "subject maps to no active user",
                ));
            };
            let allowed: Vec<String> = t
                .allowed_scopes
                .iter()
                .filter(|s| client.scopes.contains(s))
                .cloned()
                .collect();
            let auth_time = claims
                .get("auth_time")
                .and_then(serde_json::Value::as_i64)
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0));
            (user.id.as_str().to_owned(), allowed, auth_time)
        }
    };
    let scopes = scope::within(form.get("scope"), &allowed, &allowed)?;
    if scopes.iter().any(|s| s == "offline_access") {
        return Err(TokenError::new(
            TokenErrorCode::InvalidScope,
            "offline_access is not available with an assertion.",
        ));
    }
    access_token_only(state, request, &subject, &scopes, auth_time).await
}
