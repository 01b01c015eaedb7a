//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): a device polls
//! with its device code until the user has decided on `/device`.
//!
//! Every poll is recorded on the request's row (whichever instance answers it): one that comes
//! sooner than the interval after the last is answered `slow_down` and the interval grows by 5 s
//! for good. Then, by the request's state: `authorization_pending`, `access_denied`,
//! `expired_token`, or — once allowed — the tokens, redeemed as a code is: the request turned
//! `redeemed` in the transaction that creates its grant and refresh token (exactly one poll on
//! any number of instances wins; a store failure leaves it for the retry). A device code
//! presented again after the interval revokes what it issued, as a replayed code does; sooner,
//! it is the redeeming poll's twin (a retry after a lost answer, or the same poll at another
//! instance) and is told to slow down.

use serde_json::json;
use tessera_core::{
    device::{DeviceAuthorizationRecord, DeviceStatus},
    error::{TokenError, TokenErrorCode},
    secret::TokenHash,
    store::{Consumption, GrantRecord},
};

use super::{
    AuditNote, GrantRequest, NewRefreshToken, UserTokens, active_user,
    authorization_code::{grant_id_for, wants_refresh},
    invalid_grant, issue_user_tokens, prepare_refresh, refresh_binding, unavailable,
};
use crate::{TokenState, mint::TokenResponse, resources::target_of};

fn pending_error(code: TokenErrorCode, description: &str) -> TokenError {
    TokenError::new(code, description)
}

/// The answer to a poll of a request that is not (or no longer) approved; `None` when it is.
fn unapproved(
    record: &DeviceAuthorizationRecord,
    in_time: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<TokenError> {
    use TokenErrorCode::{AccessDenied, AuthorizationPending, ExpiredToken, SlowDown};
    if record.status == DeviceStatus::Redeemed {
        // A poll too soon after the one that redeemed the code is that poll's twin — a retry
        // after a lost answer, or the same poll reaching another instance at the same instant —
        // and is told to slow down; presented again after the interval, it is a replay.
        return (!in_time)
            .then(|| pending_error(SlowDown, "Polling too fast: wait longer between requests."));
    }
    if record.expires_at <= now {
        return Some(pending_error(ExpiredToken, "The device code has expired."));
    }
    if !in_time {
        return Some(pending_error(
            SlowDown,
            "Polling too fast: wait longer between requests.",
        ));
    }
    match record.status {
        DeviceStatus::Pending => Some(pending_error(
            AuthorizationPending,
            "The user has not decided yet.",
        )),
        DeviceStatus::Denied => Some(pending_error(AccessDenied, "The user denied the request.")),
        DeviceStatus::Approved | DeviceStatus::Redeemed => None,
    }
}

/// Redeems a device code.
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
    let hash = TokenHash::of(form.require("device_code")?);
    let unknown =
        || invalid_grant("The device code is invalid.").with_reason("unknown device code");
    let (record, in_time) = state
        .devices
        .poll_device_authorization(&hash, &client.client_id, now)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(unknown)?;
    if record.client_id != client.client_id {
        return Err(
            invalid_grant("The device code was issued to another client.").with_reason(format!(
                "device code of {} presented by {}",
                record.client_id, client.client_id
            )),
        );
    }
    if let Some(err) = unapproved(&record, in_time, now) {
        return Err(err);
    }
    if record.status == DeviceStatus::Redeemed {
        return Err(replayed(state, &record, now, notes).await?);
    }
    let user = state
        .users
        .find_user(record.user_id.as_ref().ok_or_else(unknown)?)
        .await
        .map_err(|e| unavailable(&e))?;
    let user_id = record.user_id.clone().ok_or_else(unknown)?;
    let user = active_user(user, &user_id)?;
    // Not tied to the browser session the user allowed it in: signing out of the phone does
    // not sign the TV out.
    let grant = GrantRecord {
        id: grant_id_for(&record.device_code_hash),
        client_id: client.client_id.clone(),
        user_id: Some(user_id),
        scopes: record.scopes.clone(),
        offline: record.scopes.iter().any(|s| s == "offline_access"),
        session_id: None,
        auth_time: record.auth_time,
        created_at: now,
        revoked_at: None,
        resource: None,
        dpop_jkt: refresh_binding(client, dpop),
        // The approval page's session is not recorded on the device authorization: its ID
        // tokens say `pwd` (docs/decisions/0026).
        amr: tessera_core::amr::Amr::password(),
    };
    // Checked before the request is redeemed: a wrong resource leaves it for the next poll.
    let access = target_of(&state.resources, form.get("resource"), None, &grant.scopes).await?;
    let refresh = wants_refresh(client, &grant).then(|| {
        let new = NewRefreshToken {
            scopes: grant.scopes.clone(),
            generation: 0,
            parent: None,
        };
        prepare_refresh(state, client, &grant, new, now)
    });
    let refresh_record = refresh.as_ref().map(|(_, record)| record);
    match state
        .devices
        .redeem_device_authorization(&hash, &grant, refresh_record, now)
        .await
        .map_err(|e| unavailable(&e))?
    {
        Consumption::Consumed(_) => {}
        Consumption::AlreadyConsumed(record) => {
            return Err(replayed(state, &record, now, notes).await?);
        }
        Consumption::Expired => {
            return Err(pending_error(
                TokenErrorCode::ExpiredToken,
                "The device code has expired.",
            ));
        }
        Consumption::NotFound => return Err(unknown()),
    }
    let tokens = UserTokens {
        client,
        user: &user,
        grant: &grant,
        scopes: &grant.scopes,
        access,
        jkt: dpop.map(|proof| proof.jkt.as_str()),
        nonce: None,
        refresh: refresh.map(|(token, _)| token),
    };
    issue_user_tokens(state, tokens, now).await
}

/// A device code presented after its tokens were issued: its grant is revoked (RFC 9700 §4.5's
/// rule for codes), and the answer is `invalid_grant`.
async fn replayed(
    state: &TokenState,
    record: &DeviceAuthorizationRecord,
    now: chrono::DateTime<chrono::Utc>,
    notes: &mut Vec<AuditNote>,
) -> Result<TokenError, TokenError> {
    let grant_id = grant_id_for(&record.device_code_hash);
    let revoked = state
        .grants
        .revoke_grant(&grant_id, "device_code_replay", now)
        .await
        .map_err(|e| unavailable(&e))?;
    notes.push(AuditNote {
        kind: tessera_core::AuditKind::CodeReplayed,
        user_id: record.user_id.as_ref().map(|u| u.as_str().to_owned()),
        details: json!({
            "device_code": true,
            "grant_id": grant_id.as_str(),
            "grant_revoked": revoked,
            "issued_to": record.client_id.as_str(),
        }),
    });
    Ok(invalid_grant("The device code was already used.")
        .with_reason("device code replay: grant revoked"))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration};
    use tessera_core::{ClientId, device::POLL_INTERVAL_SECS};

    use super::*;

    fn record(status: DeviceStatus) -> DeviceAuthorizationRecord {
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        DeviceAuthorizationRecord {
            device_code_hash: TokenHash::of("tsd_x"),
            user_code_hash: TokenHash::of("user_code:BCDFGHJK"),
            client_id: ClientId::new("tv"),
            scopes: vec!["openid".into()],
            status,
            user_id: None,
            auth_time: None,
            interval_secs: POLL_INTERVAL_SECS,
            next_poll_at: t,
            created_at: t,
            expires_at: t + Duration::minutes(10),
        }
    }

    #[test]
    fn each_state_has_its_answer_and_expiry_and_pace_come_first() {
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let code = |status, in_time, now| unapproved(&record(status), in_time, now).map(|e| e.code);
        use TokenErrorCode::*;
        assert_eq!(
            code(DeviceStatus::Pending, true, t),
            Some(AuthorizationPending)
        );
        assert_eq!(code(DeviceStatus::Denied, true, t), Some(AccessDenied));
        assert_eq!(code(DeviceStatus::Approved, true, t), None);
        assert_eq!(code(DeviceStatus::Pending, false, t), Some(SlowDown));
        assert_eq!(code(DeviceStatus::Approved, false, t), Some(SlowDown));
        let later = t + Duration::minutes(10);
        assert_eq!(code(DeviceStatus::Pending, true, later), Some(ExpiredToken));
        assert_eq!(
            code(DeviceStatus::Approved, false, later),
            Some(ExpiredToken)
        );
        // A replay is answered (and its grant revoked) whenever it comes in time; too soon after
        // the redeeming poll it is that poll's twin and slows down.
        assert_eq!(code(DeviceStatus::Redeemed, true, later), None);
        assert_eq!(code(DeviceStatus::Redeemed, false, t), Some(SlowDown));
    }
}
