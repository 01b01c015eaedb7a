//! `POST /par`: pushed authorization requests (RFC 9126). A client authenticates as at `/token`
//! and sends the parameters of an authorization request in the body; they are checked as
//! `/authorize` would check them (`tessera_core::authorization_request`), kept on the server for
//! [`PUSHED_TTL_SECS`] as a single-use pending request, and named by a `request_uri` the client
//! then sends to `/authorize` with its `client_id` — so nothing of the request travels through the
//! browser, and nothing in a URL can change it.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde_json::json;
use tessera_core::{
    authorization_request::{KNOWN, PUSHED_TTL_SECS, REQUEST_URI_PREFIX, Rejection, validate},
    error::{AuthorizeError, AuthorizeErrorCode, TokenError, TokenErrorCode},
    secret::{PlainToken, SecretKind},
    store::{AuthorizationRequestRecord, ClientRecord},
};

use crate::{
    TokenState,
    grants::unavailable,
    token::{admit_waiting, read_and_authenticate, refuse},
};

/// A refusal the authorization endpoint would have redirected: here, a JSON error (RFC 9126
/// §2.3), with the authorization endpoint's code.
fn authorization_error(client: &ClientRecord, error: &AuthorizeError) -> HttpResponse {
    tracing::info!(endpoint = "par", client.id = client.client_id.as_str(), error.code = error.code.as_str(), reason = %error.reason, "request refused");
    HttpResponse::BadRequest()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": error.code.as_str(), "error_description": error.description }))
}

/// The parameters of the pushed request, checked: no `request_uri` inside it (RFC 9126 §2.1),
/// the authenticated client's `client_id` (added when the body has none), and every rule of the
/// authorization endpoint.
pub fn checked_params(
    client: &ClientRecord,
    pairs: &[(String, String)],
) -> Result<Vec<(String, String)>, Result<TokenError, AuthorizeError>> {
    if pairs.iter().any(|(name, _)| name == "request_uri") {
        let message = "A pushed request can not carry a request_uri.";
        return Err(Ok(TokenError::new(TokenErrorCode::InvalidRequest, message)));
    }
    let mut params = pairs.to_vec();
    if !params.iter().any(|(name, _)| name == "client_id") {
        params.push(("client_id".into(), client.client_id.to_string()));
    }
    // Checked whole (a request object inside the push is refused, not dropped), kept with only
    // the parameters Tessera reads (no client credentials).
    match validate(&params, Some(client.clone())) {
        Ok(_) => Ok(params
            .into_iter()
            .filter(|(name, _)| KNOWN.contains(&name.as_str()))
            .collect()),
        Err(Rejection::Page(message)) => Err(Ok(TokenError::new(
            TokenErrorCode::InvalidRequest,
            &message,
        ))),
        Err(Rejection::Redirect { error, .. }) => Err(Err(error)),
    }
}

/// RFC 8707: a pushed request's `resource` must be one registered here.
async fn registered_resource(
    state: &TokenState,
    client: &ClientRecord,
    params: &[(String, String)],
) -> Result<(), HttpResponse> {
    let Some((_, resource)) = params.iter().find(|(name, _)| name == "resource") else {
        return Ok(());
    };
    match state.resources.find(resource).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            let message = "The resource is not registered at this server.";
            let err = AuthorizeError::new(AuthorizeErrorCode::InvalidTarget, message);
            Err(authorization_error(client, &err))
        }
        Err(err) => {
            let client_id = Some(client.client_id.as_str());
            Err(refuse("par", client_id, &unavailable(&err), false))
        }
    }
}

/// `POST /par`.
pub async fn post_par(
    state: web::Data<TokenState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, client) = match read_and_authenticate(&state, &req, &body, "par").await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let client_id = client.client_id.as_str();
    let params = match checked_params(&client, form.pairs()) {
        Ok(params) => params,
        Err(Ok(err)) => return refuse("par", Some(client_id), &err, false),
        Err(Err(err)) => return authorization_error(&client, &err),
    };
    if let Err(response) = registered_resource(&state, &client, &params).await {
        return response;
    }
    let now = state.clock.now();
    if let Err(response) = admit_waiting(&state, &req, &client, "par", now).await {
        return response;
    }
    let handle = PlainToken::generate(SecretKind::PushedRequest);
    let record = AuthorizationRequestRecord {
        id_hash: handle.hash(),
        client_id: client.client_id.clone(),
        params,
        created_at: now,
        expires_at: now + chrono::Duration::seconds(PUSHED_TTL_SECS),
    };
    if let Err(err) = state.requests.insert_authorization_request(&record).await {
        return refuse("par", Some(client_id), &unavailable(&err), false);
    }
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", handle.expose());
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "request_uri": request_uri, "expires_in": PUSHED_TTL_SECS }))
}
