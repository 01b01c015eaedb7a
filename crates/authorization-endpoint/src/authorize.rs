//! `/authorize` (GET and POST) and `/authorize/decision` (the consent form): parse, decide,
//! render. Sign-in goes through `/login` with a local `return_to`; consent is remembered per
//! user and client; codes are single-use, hashed at rest and bound to everything the token
//! endpoint must check.

use std::sync::Arc;

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use chrono::Duration;
use tessera_core::{
    ClientId, Clock, Issuer,
    error::{AuthorizeError, AuthorizeErrorCode},
    secret::{PlainToken, SecretKind},
    store::{AuditRepo, AuthorizationCodeRecord, ClientRepo, CodeRepo, ConsentRepo},
};
use tessera_web::{
    audit::Audit,
    csrf::{CSRF_FIELD, CsrfToken, csrf_valid},
    session::{SESSION_COOKIE, Sessions, SignedIn, USER_SESSIONS},
};
use url::Url;

use crate::request::{AuthorizeRequest, Rejection, client_and_redirect, validate};

/// What the authorization endpoint needs.
#[derive(Clone)]
pub struct AuthorizeState {
    /// Clients.
    pub clients: Arc<dyn ClientRepo>,
    /// Remembered consent.
    pub consents: Arc<dyn ConsentRepo>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeRepo>,
    /// The audit log.
    pub audit: Arc<dyn AuditRepo>,
    /// Sessions.
    pub sessions: Sessions,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The issuer (sent as `iss`, RFC 9207).
    pub issuer: Issuer,
    /// Code lifetime.
    pub code_ttl: Duration,
}

impl std::fmt::Debug for AuthorizeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    csrf_token: &'a str,
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<String>,
    params: &'a [(String, String)],
}

/// What a scope means, for the consent page.
fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "See your name and profile".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access when you are not using it (stay connected)".into(),
        other => format!("Access: {other}"),
    }
}

fn page(status: StatusCode, message: &str) -> HttpResponse {
    tessera_web::html_error(
        status,
        "This sign-in request is invalid",
        message,
        Some("invalid_request"),
    )
}

fn unavailable(err: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %err, "authorize: store failure");
    tessera_web::html_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable",
        "Please try again in a moment.",
        Some("temporarily_unavailable"),
    )
}

/// Redirects to the client with `params` added to its redirect URI, plus `iss` (RFC 9207).
/// After a POST the status is 303, so the browser follows with a GET (never 307/308).
fn to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    issuer: &Issuer,
    after_post: bool,
) -> HttpResponse {
    let Ok(mut target) = Url::parse(redirect_uri) else {
        return page(
            StatusCode::BAD_REQUEST,
            "The registered redirect_uri is not a valid URL.",
        );
    };
    {
        let mut query = target.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", issuer.as_str());
    }
    let mut response = if after_post {
        HttpResponse::SeeOther()
    } else {
        HttpResponse::Found()
    };
    response
        .insert_header((header::LOCATION, target.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn error_to_client(
    redirect_uri: &str,
    state: Option<&str>,
    error: &AuthorizeError,
    issuer: &Issuer,
    after_post: bool,
) -> HttpResponse {
    tracing::info!(error = %error, "authorization request refused");
    let mut params = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    to_client(redirect_uri, &params, issuer, after_post)
}

fn rejection(rejected: Rejection, issuer: &Issuer, after_post: bool) -> HttpResponse {
    match rejected {
        Rejection::Page(message) => page(StatusCode::BAD_REQUEST, &message),
        Rejection::Redirect {
            redirect_uri,
            state,
            error,
        } => error_to_client(&redirect_uri, state.as_deref(), &error, issuer, after_post),
    }
}

async fn validated(
    state: &AuthorizeState,
    params: &[(String, String)],
) -> Result<AuthorizeRequest, HttpResponse> {
    let client_id = client_and_redirect(params)
        .map_err(|r| rejection(r, &state.issuer, false))?
        .0;
    let client = state
        .clients
        .find_client(&ClientId::new(client_id))
        .await
        .map_err(|e| unavailable(&e))?;
    validate(params, client).map_err(|r| rejection(r, &state.issuer, false))
}

/// The sign-in page, coming back to this same request afterwards (minus what forced sign-in:
/// `prompt=login` and an exceeded `max_age` would otherwise send the user round again).
fn to_login(params: &[(String, String)], request: &AuthorizeRequest) -> HttpResponse {
    let mut back = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if name == "prompt" || name == "max_age" {
            continue;
        }
        back.append_pair(name, value);
    }
    let return_to = format!("/authorize?{}", back.finish());
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("return_to", &return_to);
    if let Some(hint) = &request.login_hint {
        login.append_pair("login_hint", hint);
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("/login?{}", login.finish())))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn audit(
    state: &AuthorizeState,
    req: &HttpRequest,
    kind: &str,
    request: &AuthorizeRequest,
    user: &SignedIn,
) {
    let audit = Audit {
        kind,
        actor: Some(user.user.id.to_string()),
        client_id: Some(request.client.client_id.as_str()),
        user_id: Some(user.user.id.as_str()),
        details: Some(serde_json::json!({ "scopes": request.scopes })),
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
}

/// Issues a code for `request` to the signed-in user and sends it to the client.
async fn issue_code(
    state: &AuthorizeState,
    request: &AuthorizeRequest,
    user: &SignedIn,
    after_post: bool,
) -> HttpResponse {
    let now = state.clock.now();
    let code = PlainToken::generate(SecretKind::AuthorizationCode);
    let record = AuthorizationCodeRecord {
        code_hash: code.hash(),
        client_id: request.client.client_id.clone(),
        user_id: user.user.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        scopes: request.scopes.clone(),
        nonce: request.nonce.clone(),
        session_id: Some(user.session.id_hash.clone()),
        auth_time: user.session.auth_time,
        created_at: now,
        expires_at: now + state.code_ttl,
        grant_id: None,
    };
    if let Err(err) = state.codes.insert_code(&record).await {
        return unavailable(&err);
    }
    let mut params = vec![("code", code.expose())];
    if let Some(client_state) = &request.state {
        params.push(("state", client_state.as_str()));
    }
    to_client(&request.redirect_uri, &params, &state.issuer, after_post)
}

async fn handle(
    req: HttpRequest,
    params: Vec<(String, String)>,
    csrf: CsrfToken,
    state: &AuthorizeState,
) -> HttpResponse {
    let request = match validated(state, &params).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let issuer = &state.issuer;
    let fail = |code, text: &str| {
        error_to_client(
            &request.redirect_uri,
            request.state.as_deref(),
            &AuthorizeError::new(code, text),
            issuer,
            false,
        )
    };
    let signed_in = match state
        .sessions
        .current(&req, SESSION_COOKIE, USER_SESSIONS)
        .await
    {
        Ok(signed_in) => signed_in,
        Err(err) => return unavailable(&err),
    };
    let now = state.clock.now();
    // OIDC Core §3.1.2.1: re-authenticate when the time since sign-in is greater than max_age
    // (compared exactly: max_age=0 always asks again).
    let too_old = |user: &SignedIn| {
        request
            .max_age
            .is_some_and(|max| now - user.session.auth_time > Duration::seconds(max))
    };
    let user = match signed_in {
        Some(user) if !request.prompt_login && !too_old(&user) => user,
        _ if request.prompt_none => {
            return fail(
                AuthorizeErrorCode::LoginRequired,
                "The user is not signed in.",
            );
        }
        _ => return to_login(&params, &request),
    };
    let granted = match state
        .consents
        .find_consent(&user.user.id, &request.client.client_id)
        .await
    {
        Ok(granted) => granted.unwrap_or_default(),
        Err(err) => return unavailable(&err),
    };
    let covered = request.scopes.iter().all(|scope| granted.contains(scope));
    if covered && !request.prompt_consent {
        return issue_code(state, &request, &user, false).await;
    }
    if request.prompt_none {
        return fail(
            AuthorizeErrorCode::ConsentRequired,
            "The user has not allowed this access.",
        );
    }
    let client_name = request
        .client
        .client_name
        .clone()
        .unwrap_or_else(|| request.client.client_id.to_string());
    let consent = ConsentPage {
        csrf_token: &csrf.0,
        client_name: &client_name,
        username: &user.user.username,
        scopes: request.scopes.iter().map(|s| describe(s)).collect(),
        params: &params,
    };
    tessera_web::html_page(StatusCode::OK, consent.render())
}

/// `GET /authorize`.
pub async fn get_authorize(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    csrf: CsrfToken,
    state: web::Data<AuthorizeState>,
) -> HttpResponse {
    handle(req, query.into_inner(), csrf, &state).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-encoded).
pub async fn post_authorize(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    csrf: CsrfToken,
    state: web::Data<AuthorizeState>,
) -> HttpResponse {
    handle(req, form.into_inner(), csrf, &state).await
}

/// `POST /authorize/decision`: the consent form's approve or deny.
pub async fn post_decision(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AuthorizeState>,
) -> HttpResponse {
    let form = form.into_inner();
    let submitted = form
        .iter()
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.as_str());
    if !csrf_valid(&req, submitted) {
        return tessera_web::html_error(
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form's security token is missing or wrong. Go back to the app and start again.",
            Some("csrf"),
        );
    }
    let decision = form
        .iter()
        .find(|(k, _)| k == "decision")
        .map(|(_, v)| v.clone());
    let params: Vec<(String, String)> = form
        .into_iter()
        .filter(|(k, _)| k != CSRF_FIELD && k != "decision")
        .collect();
    let request = match validated(&state, &params).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let user = match state
        .sessions
        .current(&req, SESSION_COOKIE, USER_SESSIONS)
        .await
    {
        Ok(Some(user)) => user,
        Ok(None) => return to_login(&params, &request),
        Err(err) => return unavailable(&err),
    };
    match decision.as_deref() {
        Some("approve") => {
            let mut scopes = match state
                .consents
                .find_consent(&user.user.id, &request.client.client_id)
                .await
            {
                Ok(granted) => granted.unwrap_or_default(),
                Err(err) => return unavailable(&err),
            };
            for scope in &request.scopes {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
            if let Err(err) = state
                .consents
                .save_consent(
                    &user.user.id,
                    &request.client.client_id,
                    &scopes,
                    state.clock.now(),
                )
                .await
            {
                return unavailable(&err);
            }
            audit(&state, &req, "consent.given", &request, &user).await;
            issue_code(&state, &request, &user, true).await
        }
        _ => {
            audit(&state, &req, "consent.denied", &request, &user).await;
            let error = AuthorizeError::new(
                AuthorizeErrorCode::AccessDenied,
                "The user denied the request.",
            );
            error_to_client(
                &request.redirect_uri,
                request.state.as_deref(),
                &error,
                &state.issuer,
                true,
            )
        }
    }
}
