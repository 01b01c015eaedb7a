//! `POST /device_authorization` (RFC 8628 §3.1–3.2): a device that can not show a browser asks
//! for a device code and a user code. The client authenticates as at `/token` (a public client
//! by its `client_id` alone) and must be registered for the device-code grant; the scopes it
//! asks for must be its own. Only hashes of both codes are stored; the device then polls `/token`
//! ([`crate::grants::device_code`]) while the user enters the user code on
//! [`VERIFICATION_PATH`] (`tessera_authorization_endpoint::device`).

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use chrono::Duration;
use serde_json::json;
use tessera_core::{
    device::{
        DEVICE_CODE_TTL_SECS, DeviceAuthorizationRecord, DeviceStatus, POLL_INTERVAL_SECS, UserCode,
    },
    error::{TokenError, TokenErrorCode},
    scope::Scopes,
    secret::{PlainToken, SecretKind},
    store::{ClientRecord, StoreError},
};

use crate::{
    TokenState,
    grants::{GrantType, unavailable},
    token::{admit_waiting, read_and_authenticate, refuse},
};

/// Where devices ask for codes.
pub const DEVICE_AUTHORIZATION_PATH: &str = "/device_authorization";
/// Where users enter them.
pub const VERIFICATION_PATH: &str = "/device";
/// Draws of a fresh user code when the one drawn is taken (one in 10⁶ even with 25,000 live).
const USER_CODE_DRAWS: usize = 3;

/// The scopes a device asks for: present, well-formed, not empty, all the client's.
pub fn requested_scopes(
    client: &ClientRecord,
    scope: Option<&str>,
) -> Result<Vec<String>, TokenError> {
    let invalid = |message: &str| TokenError::new(TokenErrorCode::InvalidScope, message);
    let scope = scope.ok_or_else(|| invalid("scope is missing."))?;
    let scopes = Scopes::parse_lenient(scope).map_err(|_| invalid("scope is malformed."))?;
    if let Some(token) = scopes.first_outside(&client.scopes) {
        return Err(invalid(&format!(
            "The client may not request the scope {token}."
        )));
    }
    if scopes.is_empty() {
        return Err(invalid("scope is empty."));
    }
    Ok(scopes.into_vec())
}

/// Stores a new request of `client` for `scopes`: the device code and the user code, drawn again
/// when the user code is taken.
async fn store_request(
    state: &TokenState,
    client: &ClientRecord,
    scopes: Vec<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(PlainToken, UserCode), StoreError> {
    let device_code = PlainToken::generate(SecretKind::DeviceCode);
    for _ in 0..USER_CODE_DRAWS {
        let user_code = UserCode::generate();
        let record = DeviceAuthorizationRecord {
            device_code_hash: device_code.hash(),
            user_code_hash: user_code.hash(),
            client_id: client.client_id.clone(),
            scopes: scopes.clone(),
            status: DeviceStatus::Pending,
            user_id: None,
            auth_time: None,
            interval_secs: POLL_INTERVAL_SECS,
            next_poll_at: now,
            created_at: now,
            expires_at: now + Duration::seconds(DEVICE_CODE_TTL_SECS),
        };
        match state.devices.insert_device_authorization(&record).await {
            Ok(()) => return Ok((device_code, user_code)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Conflict { what: "user code" })
}

/// The answer (RFC 8628 §3.2).
fn answer(state: &TokenState, device_code: &PlainToken, user_code: &UserCode) -> HttpResponse {
    let shown = user_code.display();
    let verification_uri = state.minter.issuer().endpoint(VERIFICATION_PATH);
    let complete = format!("{verification_uri}?user_code={shown}");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "device_code": device_code.expose(),
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": complete,
            "expires_in": DEVICE_CODE_TTL_SECS,
            "interval": POLL_INTERVAL_SECS,
        }))
}

/// `POST /device_authorization`.
pub async fn post_device_authorization(
    state: web::Data<TokenState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let endpoint = "device_authorization";
    let (form, client) = match read_and_authenticate(&state, &req, &body, endpoint).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let client_id = Some(client.client_id.as_str());
    if !client.grant_types.contains(&GrantType::DeviceCode) {
        let message = "The client is not registered for the device_code grant.";
        let err = TokenError::new(TokenErrorCode::UnauthorizedClient, message);
        return refuse(endpoint, client_id, &err, false);
    }
    let scopes = match requested_scopes(&client, form.get("scope")) {
        Ok(scopes) => scopes,
        Err(err) => return refuse(endpoint, client_id, &err, false),
    };
    let now = state.clock.now();
    if let Err(response) = admit_waiting(&state, &req, &client, endpoint, now).await {
        return response;
    }
    match store_request(&state, &client, scopes, now).await {
        Ok((device_code, user_code)) => answer(&state, &device_code, &user_code),
        Err(err) => refuse(endpoint, client_id, &unavailable(&err), false),
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use tessera_core::ClientId;

    use super::*;

    #[test]
    fn a_device_asks_for_scopes_of_its_own() {
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let client = ClientRecord {
            scopes: vec!["openid".into(), "offline_access".into(), "tv".into()],
            ..ClientRecord::empty(ClientId::new("tv"), t)
        };
        assert_eq!(
            requested_scopes(&client, Some("openid tv")).unwrap(),
            ["openid", "tv"]
        );
        for bad in [None, Some(""), Some("openid admin"), Some("open\"id")] {
            let err = requested_scopes(&client, bad).unwrap_err();
            assert_eq!(err.code, TokenErrorCode::InvalidScope, "{bad:?}");
        }
    }
}
