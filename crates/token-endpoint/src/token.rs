//! `POST /token` (RFC 6749 §3.2), and the plumbing the token-type endpoints share: reading the
//! form, authenticating the client (audited on failure), JSON answers with `no-store`.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::Serialize;
use serde_json::json;
use tessera_client_registry::authn::{AuthenticatedClient, ClientCredentials};
use tessera_core::{
    error::{TokenError, TokenErrorCode},
    store::ClientRecord,
};
use tessera_web::{
    audit::{self, Audit},
    error::token_error_response,
};

use crate::{
    TokenState,
    form::Form,
    grants::{self, GrantRequest, GrantType},
};

/// A JSON body with `Cache-Control: no-store` (RFC 6749 §5.1).
pub fn json_no_store<T: Serialize>(body: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// Logs an error answer (reason included, never a token) and renders it.
pub fn refuse(
    endpoint: &str,
    client: Option<&str>,
    error: &TokenError,
    basic: bool,
) -> HttpResponse {
    if error.code.http_status() >= 500 {
        tracing::error!(endpoint, client.id = client, error.code = error.code.as_str(), reason = %error.reason, "token endpoint failure");
    } else {
        tracing::info!(endpoint, client.id = client, error.code = error.code.as_str(), reason = %error.reason, "request refused");
    }
    token_error_response(error, basic)
}

/// Parses the form of a token-type request.
pub fn read_form(req: &HttpRequest, body: &[u8]) -> Result<Form, TokenError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Form::parse(content_type, body)
}

/// Authenticates the client of a token-type request; a failure is audited and answered
/// `invalid_client` (401; `WWW-Authenticate: Basic` when Basic was used).
pub async fn authenticate(
    state: &TokenState,
    req: &HttpRequest,
    form: &Form,
    endpoint: &str,
) -> Result<AuthenticatedClient, HttpResponse> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let credentials = ClientCredentials {
        authorization,
        form: form.pairs(),
        address: Some(tessera_web::client_address::ClientAddress::of(req).0),
    };
    match state.authenticator.authenticate(&credentials).await {
        Ok(client) => Ok(client),
        Err(failure) if failure.retry_after.is_some() => {
            // Refused unchecked: neither audited (that would be a flood) nor counted again.
            tracing::info!(
                endpoint,
                client.id = failure.client_id.as_deref(),
                "client authentication throttled"
            );
            Err(tessera_web::error::token_throttled_response(
                failure.retry_after.unwrap_or(1),
            ))
        }
        Err(failure) => {
            let event = Audit {
                actor: failure.client_id.clone(),
                client_id: failure.client_id.as_deref(),
                details: Some(json!({ "endpoint": endpoint, "reason": failure.reason })),
                ..Audit::new(tessera_core::AuditKind::ClientAuthFailed)
            };
            if failure.unavailable {
                // The store failed, not the client: nothing to audit; 503 to retry.
            } else if failure.unknown_client() {
                // Anyone can invent client ids: one row per source and minute, the rest counted.
                audit::record_sampled(
                    state.audit.as_ref(),
                    &state.audit_sampler,
                    req,
                    state.clock.now(),
                    Audit {
                        actor: None,
                        client_id: None,
                        ..event
                    },
                )
                .await;
            } else {
                audit::record(state.audit.as_ref(), req, state.clock.now(), event).await;
            }
            Err(refuse(
                endpoint,
                failure.client_id.as_deref(),
                &failure.to_token_error(),
                failure.basic_attempted,
            ))
        }
    }
}

/// Reads the form of a token-type request and authenticates its client.
pub async fn read_and_authenticate(
    state: &TokenState,
    req: &HttpRequest,
    body: &[u8],
    endpoint: &str,
) -> Result<(Form, ClientRecord), HttpResponse> {
    let form = read_form(req, body).map_err(|err| refuse(endpoint, None, &err, false))?;
    let client = authenticate(state, req, &form, endpoint).await?.client;
    Ok((form, client))
}

/// Admits one more request of `client` that will wait on the server (a pushed request, a device
/// authorization): a public client's are anyone's, so they count toward the waiting requests of
/// the caller's address (`tessera_core::pending_limit`) — past the bound, 429 with `Retry-After`;
/// a confidential client's are bounded by its credentials (its backend sends every user's request
/// from one address, which a per-address bound would refuse).
pub async fn admit_waiting(
    state: &TokenState,
    req: &HttpRequest,
    client: &ClientRecord,
    endpoint: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), HttpResponse> {
    use tessera_core::{pending_limit, sign_in::Admission, store::ClientAuthMethod};
    if client.token_endpoint_auth_method != ClientAuthMethod::None {
        return Ok(());
    }
    let address = tessera_web::client_address::ClientAddress::of(req).to_string();
    match pending_limit::admit(state.throttle.as_ref(), &address, now).await {
        Ok(Admission::Admitted) => Ok(()),
        Ok(Admission::Refused(wait)) => Err(HttpResponse::TooManyRequests()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::RETRY_AFTER, (wait.num_seconds().max(0) + 1).to_string()))
            .json(json!({
                "error": "temporarily_unavailable",
                "error_description": "Too many requests from this address are waiting; retry later.",
            }))),
        Err(err) => {
            let err = crate::grants::unavailable(&err);
            Err(refuse(endpoint, Some(client.client_id.as_str()), &err, false))
        }
    }
}

/// Records what the grants noted in the audit log, as done by `client_id`.
async fn record_notes(
    state: &TokenState,
    req: &HttpRequest,
    client_id: &str,
    notes: &[grants::AuditNote],
    now: chrono::DateTime<chrono::Utc>,
) {
    for note in notes {
        let audit = Audit {
            kind: note.kind,
            actor: Some(client_id.to_owned()),
            client_id: Some(client_id),
            user_id: note.user_id.as_deref(),
            details: Some(note.details.clone()),
        };
        audit::record(state.audit.as_ref(), req, now, audit).await;
    }
}

/// The grant a request asks for, if the client may use it: `invalid_request` without
/// `grant_type`, `unsupported_grant_type` for one we do not know, `unauthorized_client` for one
/// the client is not registered for (RFC 6749 §5.2).
pub fn requested_grant(
    grant_type: Option<&str>,
    client: &ClientRecord,
) -> Result<GrantType, TokenError> {
    let Some(value) = grant_type else {
        let message = "The parameter grant_type is missing.";
        return Err(TokenError::new(TokenErrorCode::InvalidRequest, message));
    };
    let Some(grant) = GrantType::parse(value) else {
        let message = "The grant_type is not supported.";
        return Err(TokenError::new(
            TokenErrorCode::UnsupportedGrantType,
            message,
        ));
    };
    if !client.grant_types.contains(&grant) {
        let message = "The client is not registered for this grant_type.";
        return Err(TokenError::new(TokenErrorCode::UnauthorizedClient, message));
    }
    Ok(grant)
}

/// A token response: the JSON, `no-store` (RFC 6749 §5.1).
fn token_response(response: &crate::mint::TokenResponse) -> HttpResponse {
    use header::HeaderValue;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(response.to_json())
}

/// `POST /token`.
pub async fn post_token(
    state: web::Data<TokenState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, client) = match read_and_authenticate(&state, &req, &body, "token").await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let client_id = client.client_id.as_str();
    let grant = match requested_grant(form.get("grant_type"), &client) {
        Ok(grant) => grant,
        Err(err) => return refuse("token", Some(client_id), &err, false),
    };
    let now = state.clock.now();
    let proof = match crate::dpop::token_request_proof(&state, &req, &client, now).await {
        Ok(proof) => proof,
        Err(response) => return response,
    };
    let request = GrantRequest {
        client: &client,
        form: &form,
        now,
        dpop: proof.as_ref(),
    };
    let outcome = grants::run(&state, grant, &request).await;
    record_notes(&state, &req, client_id, &outcome.notes, now).await;
    let response = match outcome.result {
        Ok(response) => {
            state.metrics.issued(grant);
            token_response(&response)
        }
        Err(err) => refuse("token", Some(client_id), &err, false),
    };
    // A DPoP client gets the next server nonce with every answer (when nonces are on).
    match proof {
        Some(_) => crate::dpop::with_nonce(&state, response, now),
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use tessera_core::ClientId;

    use super::*;

    #[test]
    fn the_grant_is_named_known_and_registered_for_the_client() {
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let client = ClientRecord {
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            ..ClientRecord::empty(ClientId::new("web"), t)
        };
        let code = |value| requested_grant(value, &client).map_err(|e| e.code);
        assert_eq!(
            code(Some("authorization_code")),
            Ok(GrantType::AuthorizationCode)
        );
        assert_eq!(code(None), Err(TokenErrorCode::InvalidRequest));
        assert_eq!(
            code(Some("password")),
            Err(TokenErrorCode::UnsupportedGrantType)
        );
        assert_eq!(code(Some("")), Err(TokenErrorCode::UnsupportedGrantType));
        assert_eq!(
            code(Some("client_credentials")),
            Err(TokenErrorCode::UnauthorizedClient)
        );
    }
}
