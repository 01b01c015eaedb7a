//! `/logout`: OpenID Connect RP-Initiated Logout 1.0. GET shows a confirmation page (a link can
//! not sign anybody out by itself); its POST ends the browser's sessions and revokes what they
//! issued, except offline grants, then returns to the client's `post_logout_redirect_uri` — only
//! if that URI is registered for the client, compared exactly — with `state`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use tessera_core::{
    ClientId, Clock, Issuer,
    secret::TokenHash,
    store::{AuditRepo, ClientRecord, ClientRepo, GrantAdminRepo, SessionKind},
};
use tessera_keys::Keys;
use tessera_web::{audit::Audit, csrf::CsrfToken, form::CsrfForm, session::Sessions};
use url::Url;

use crate::{id_token_hint, request::single};

/// What logout needs.
#[derive(Clone)]
pub struct LogoutState {
    /// Sessions.
    pub sessions: Sessions,
    /// Clients.
    pub clients: Arc<dyn ClientRepo>,
    /// Grants.
    pub grants: Arc<dyn GrantAdminRepo>,
    /// Our keys (to read `id_token_hint`).
    pub keys: Arc<Keys>,
    /// Audit log.
    pub audit: Arc<dyn AuditRepo>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Issuer.
    pub issuer: Issuer,
}

impl std::fmt::Debug for LogoutState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutState").finish_non_exhaustive()
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    signed_in: bool,
    username: &'a str,
    client_name: Option<&'a str>,
    csrf_token: &'a str,
    params: &'a [(String, String)],
}

/// The parameters the confirmation carries on.
const CARRIED: [&str; 4] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

/// A checked logout request.
struct LogoutRequest {
    client: Option<ClientRecord>,
    /// Where to go afterwards, with `state` added.
    target: Option<String>,
}

fn bad(message: &str) -> HttpResponse {
    tessera_web::html_error(
        StatusCode::BAD_REQUEST,
        "This sign-out request is invalid",
        message,
        Some("invalid_request"),
    )
}

async fn check(
    state: &LogoutState,
    params: &[(String, String)],
) -> Result<LogoutRequest, HttpResponse> {
    let mut values = std::collections::HashMap::new();
    for name in CARRIED {
        values.insert(name, single(params, name).map_err(|m| bad(&m))?);
    }
    let hint = match values["id_token_hint"] {
        Some(hint) => Some(
            id_token_hint::read(&state.keys, &state.issuer, hint)
                .ok_or_else(|| bad("The id_token_hint is not an ID token of ours."))?,
        ),
        None => None,
    };
    let client_id = match (values["client_id"], &hint) {
        (Some(given), Some(hint)) if !hint.issued_to(given) => {
            return Err(bad("The id_token_hint was not issued to this client_id."));
        }
        (Some(given), _) => Some(given.to_owned()),
        (None, Some(hint)) => Some(
            hint.client()
                .ok_or_else(|| bad("The id_token_hint names several clients; add client_id."))?
                .to_owned(),
        ),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => state
            .clients
            .find_client(&ClientId::new(id))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "logout: client lookup failed");
                bad("Please try again.")
            })?
            .filter(|c| c.enabled),
        None => None,
    };
    let target = match values["post_logout_redirect_uri"] {
        None => None,
        Some(uri) => {
            let client = client
                .as_ref()
                .ok_or_else(|| bad("post_logout_redirect_uri needs client_id or id_token_hint."))?;
            if !client
                .post_logout_redirect_uris
                .iter()
                .any(|registered| registered == uri)
            {
                return Err(bad(
                    "The post_logout_redirect_uri is not registered for this client.",
                ));
            }
            let mut url =
                Url::parse(uri).map_err(|_| bad("The post_logout_redirect_uri is not a URL."))?;
            if let Some(client_state) = values["state"] {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            Some(url.to_string())
        }
    };
    Ok(LogoutRequest { client, target })
}

fn carried(params: &[(String, String)]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, _)| CARRIED.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// `GET /logout`: the confirmation page (or, signed out already, straight back to the client).
pub async fn get_logout(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    csrf: CsrfToken,
    state: web::Data<LogoutState>,
) -> HttpResponse {
    let request = match check(&state, &query).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let user = state
        .sessions
        .current(&req, SessionKind::User)
        .await
        .ok()
        .flatten();
    if user.is_none()
        && let Some(target) = &request.target
    {
        return HttpResponse::Found()
            .insert_header((header::LOCATION, target.as_str()))
            .finish();
    }
    let params = carried(&query);
    let client = request.client.as_ref();
    let client_name = client.map(|c| c.client_name.clone().unwrap_or(c.client_id.to_string()));
    let page = LogoutPage {
        signed_in: user.is_some(),
        username: user.as_ref().map_or("", |u| u.user.username.as_str()),
        client_name: client_name.as_deref(),
        csrf_token: &csrf.0,
        params: &params,
    };
    let response = tessera_web::html_page(StatusCode::OK, page.render());
    match &request.target {
        Some(target) => tessera_web::allow_form_target(response, target),
        None => response,
    }
}

/// Ends the browser's sessions (and revokes what its user session issued, offline grants
/// excepted), adding the cookies that remove them to `response`. Failures are logged: a sign-out
/// never fails in front of the user.
async fn end_sessions(
    state: &LogoutState,
    req: &HttpRequest,
    response: &mut actix_web::HttpResponseBuilder,
) {
    let now = state.clock.now();
    if let Some(cookie) = state.sessions.cookie_value(req, SessionKind::User) {
        let hash = TokenHash::of(&cookie);
        let revoked = state
            .grants
            .revoke_session_grants(&hash, false, "signed out", now);
        if let Err(err) = revoked.await {
            tracing::error!(error = %err, "logout: revoking the session's grants failed");
        }
    }
    for kind in [SessionKind::User, SessionKind::Admin] {
        match state.sessions.end(req, kind).await {
            Ok(removal) => {
                response.cookie(removal);
            }
            Err(err) => tracing::error!(error = %err, "logout: ending a session failed"),
        }
    }
}

/// `POST /logout`: the confirmed sign-out; back to the client's post-logout URI when it gave a
/// registered one, else to `/logout`.
pub async fn post_logout(
    req: HttpRequest,
    CsrfForm { pairs, .. }: CsrfForm,
    state: web::Data<LogoutState>,
) -> HttpResponse {
    let params = carried(&pairs);
    let request = match check(&state, &params).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let user = state
        .sessions
        .current(&req, SessionKind::User)
        .await
        .ok()
        .flatten();
    let mut response = HttpResponse::SeeOther();
    let target = request.target.as_deref().unwrap_or("/logout");
    response
        .insert_header((header::LOCATION, target))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    end_sessions(&state, &req, &mut response).await;
    if let Some(user) = &user {
        let audit = Audit {
            kind: tessera_core::AuditKind::Logout,
            actor: Some(user.user.id.to_string()),
            client_id: request.client.as_ref().map(|c| c.client_id.as_str()),
            user_id: Some(user.user.id.as_str()),
            details: None,
        };
        let now = state.clock.now();
        tessera_web::audit::record(state.audit.as_ref(), &req, now, audit).await;
    }
    response.finish()
}
