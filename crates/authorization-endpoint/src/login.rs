//! `/login`: the sign-in page shared by end users and admins. A plain HTML form (username,
//! password, CSRF token, a local `return_to`). Each attempt is counted by the sign-in throttle
//! *before* the password is checked (`tessera_core::sign_in`: per account from one address, per
//! account, per address; refusals are 429 with `Retry-After`, never a lasting lock), argon2id
//! runs through the bounded [`HashGate`] (503 with `Retry-After` when it is full), the answer
//! never reveals whether the username exists, and every sign-in issues a fresh session id and a
//! fresh CSRF secret.

use std::sync::Arc;

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use tessera_core::{
    Clock,
    password::{dummy_hash, verify_password},
    sign_in::{Admission, SignInThrottle},
    store::{AuditRepo, AuthorizationRequestRepo, SessionKind, UserRepo},
};
use tessera_web::{
    audit::Audit,
    client_address::ClientAddress,
    csrf::{CookieSettings, CsrfToken, csrf_valid, fresh_secret_cookie},
    hash_gate::HashGate,
    session::{ADMIN_PATH, Sessions, is_local_path},
};

use crate::authorize::continuation_target;

/// The longest username written to the audit log.
const AUDIT_USERNAME_CHARS: usize = 64;
/// The longest username accepted at all (`tessera_core::username`, the console's and the CLI's rule).
pub use tessera_core::username::MAX_USERNAME_CHARS;

/// The sign-in page.
#[derive(Template, Debug)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// The CSRF token for the form.
    pub csrf_token: &'a str,
    /// Where to go after signing in.
    pub return_to: &'a str,
    /// Pre-filled username.
    pub username: &'a str,
    /// What went wrong last time.
    pub error: Option<&'a str>,
    /// Whether to offer self-registration.
    pub signup: bool,
    /// `return_to`, URL-encoded for links.
    pub return_to_encoded: String,
    /// Why the page is shown, when it is not the user's own idea.
    pub notice: Option<&'a str>,
}

/// What `/login` needs.
#[derive(Clone)]
pub struct LoginState {
    /// Sessions and users.
    pub sessions: Sessions,
    /// Users.
    pub users: Arc<dyn UserRepo>,
    /// The audit log.
    pub audit: Arc<dyn AuditRepo>,
    /// Aggregates the audit events anyone can cause at volume.
    pub audit_sampler: Arc<tessera_web::audit::AuditSampler>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The sign-in throttle (counters in the database, shared by every instance).
    pub throttle: SignInThrottle,
    /// Bounds concurrent password hashing.
    pub hashes: Arc<HashGate>,
    /// Pending authorization requests (a sign-in may continue one).
    pub requests: Arc<dyn AuthorizationRequestRepo>,
    /// Cookie names and flags.
    pub cookies: CookieSettings,
    /// Whether people may create their own accounts (`TESSERA_SELF_REGISTRATION`).
    pub self_registration: bool,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState").finish_non_exhaustive()
    }
}

/// `GET /login` parameters.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    login_hint: Option<String>,
    /// `recent`: a sensitive console action asked for the password again.
    reason: Option<String>,
}

/// `POST /login` form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    return_to: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// `text` as one URL query value.
pub(crate) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub(crate) fn safe_return(target: Option<&str>) -> &str {
    target.filter(|t| is_local_path(t)).unwrap_or("/")
}

/// A page of the sign-in family: when it continues a pending authorization request, its form
/// may end in a redirect to that client (see `tessera_web::headers`).
pub(crate) async fn continuing(
    requests: &dyn AuthorizationRequestRepo,
    clock: &dyn Clock,
    return_to: &str,
    response: HttpResponse,
) -> HttpResponse {
    match continuation_target(requests, return_to, clock.now()).await {
        Some(target) => tessera_web::allow_form_target(response, &target),
        None => response,
    }
}

async fn render(state: &LoginState, page: &LoginPage<'_>, status: StatusCode) -> HttpResponse {
    let response = tessera_web::html_page(status, page.render());
    continuing(
        state.requests.as_ref(),
        state.clock.as_ref(),
        page.return_to,
        response,
    )
    .await
}

/// `GET /login`.
pub async fn get_login(
    query: web::Query<LoginQuery>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let username: String = query
        .login_hint
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let return_to = safe_return(query.return_to.as_deref());
    let page = LoginPage {
        csrf_token: &csrf.0,
        return_to,
        username: &username,
        error: None,
        signup: state.self_registration,
        return_to_encoded: encode(return_to),
        notice: (query.reason.as_deref() == Some("recent"))
            .then_some("For this action, please confirm your password."),
    };
    render(&state, &page, StatusCode::OK).await
}

async fn audit(
    state: &LoginState,
    req: &HttpRequest,
    kind: tessera_core::AuditKind,
    user_id: Option<&str>,
    username: &str,
) {
    let shown: String = username.chars().take(AUDIT_USERNAME_CHARS).collect();
    let audit = Audit {
        actor: user_id.map(str::to_owned),
        user_id,
        details: Some(json!({ "username": shown })),
        ..Audit::new(kind)
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
}

/// An event anyone can cause at volume: one row per kind, source and minute (the username tried,
/// truncated, beside `details`).
async fn audit_sampled(
    state: &LoginState,
    req: &HttpRequest,
    kind: tessera_core::AuditKind,
    username: &str,
    mut details: serde_json::Value,
) {
    let shown: String = username.chars().take(AUDIT_USERNAME_CHARS).collect();
    if let Some(map) = details.as_object_mut() {
        map.insert("username".into(), serde_json::Value::String(shown));
    }
    let audit = Audit {
        details: Some(details),
        ..Audit::new(kind)
    };
    tessera_web::audit::record_sampled(
        state.audit.as_ref(),
        &state.audit_sampler,
        req,
        state.clock.now(),
        audit,
    )
    .await;
}

fn retry_after(mut response: HttpResponse, seconds: i64) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `POST /login`.
pub async fn post_login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let return_to = safe_return(form.return_to.as_deref()).to_owned();
    let username = form
        .username
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let page = |error: &'static str, status| {
        let return_to = return_to.clone();
        let username = username.clone();
        let csrf = csrf.0.clone();
        let state = state.clone();
        async move {
            let page = LoginPage {
                csrf_token: &csrf,
                return_to: &return_to,
                username: &username,
                error: Some(error),
                signup: state.self_registration,
                return_to_encoded: encode(&return_to),
                notice: None,
            };
            render(&state, &page, status).await
        }
    };
    // A store failure: 503, safe to retry a second later.
    let unavailable = || async {
        retry_after(
            page(
                "Sign-in is unavailable; please try again shortly.",
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await,
            1,
        )
    };
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        return page(
            "Your session expired; please try again.",
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    // An oversized username is refused before anything looks it up, counts it or logs it.
    if username.chars().count() > MAX_USERNAME_CHARS {
        return page("That username is too long.", StatusCode::BAD_REQUEST).await;
    }
    // A place for the password hash first: a full gate refuses before anything is counted.
    let Some(slot) = state.hashes.enter() else {
        let busy = page(
            "Sign-in is busy right now; please try again in a moment.",
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
        return retry_after(busy, 1);
    };
    let address = ClientAddress::of(&req).to_string();
    match state
        .throttle
        .admit(&username, &address, state.clock.now())
        .await
    {
        Ok(Admission::Admitted) => {}
        Ok(Admission::Refused(wait)) => {
            // Refusals cost nothing and anyone can cause them: audited in aggregate.
            audit_sampled(
                &state,
                &req,
                tessera_core::AuditKind::LoginThrottled,
                &username,
                json!({}),
            )
            .await;
            let refused = page(
                "Too many failed attempts. Wait a little before trying again.",
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await;
            return retry_after(refused, wait.num_seconds() + 1);
        }
        Err(err) => {
            tracing::error!(error = %err, "login: throttle counter unavailable");
            return unavailable().await;
        }
    }
    let password = form.password.clone().unwrap_or_default();
    let user = match state.users.find_user_by_username(&username).await {
        Ok(user) => user.filter(|u| u.enabled),
        Err(err) => {
            tracing::error!(error = %err, "login: user lookup failed");
            return unavailable().await;
        }
    };
    let known = user.is_some();
    // Verify against a dummy hash when there is no such user: the same work either way.
    let stored = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
    let verified = state
        .hashes
        .run(slot, move || verify_password(&password, &stored))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        if known {
            audit(
                &state,
                &req,
                tessera_core::AuditKind::LoginFailed,
                None,
                &username,
            )
            .await;
        } else {
            // Invented usernames: one row per source and minute, the rest counted.
            let unknown = json!({ "account": "unknown" });
            audit_sampled(
                &state,
                &req,
                tessera_core::AuditKind::LoginFailed,
                &username,
                unknown,
            )
            .await;
        }
        return page("Wrong username or password.", StatusCode::OK).await;
    };
    if let Err(err) = state.throttle.succeeded(&username, &address).await {
        tracing::warn!(error = %err, "login: clearing the throttle counters failed");
    }

    let response = match start_sessions(&state, &req, &user, &return_to).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "login: session could not be stored");
            return unavailable().await;
        }
    };
    audit(
        &state,
        &req,
        tessera_core::AuditKind::LoginSucceeded,
        Some(user.id.as_str()),
        &username,
    )
    .await;
    response
}

/// Signs `user` in: ends whatever sessions the browser had, starts a new one (and an admin one
/// when an admin is headed for the console), rotates the CSRF secret, and redirects to
/// `return_to`.
pub(crate) async fn start_sessions(
    state: &LoginState,
    req: &HttpRequest,
    user: &tessera_core::store::UserRecord,
    return_to: &str,
) -> Result<HttpResponse, tessera_core::store::StoreError> {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, return_to))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    // Whatever session the browser had ends: sign-in always issues a new id (session fixation).
    for kind in [SessionKind::User, SessionKind::Admin] {
        if state.sessions.cookie_value(req, kind).is_some() {
            response.cookie(state.sessions.end(req, kind).await?);
        }
    }
    response.cookie(state.sessions.start(req, user, SessionKind::User).await?);
    if user.is_admin && return_to.starts_with(ADMIN_PATH) {
        response.cookie(state.sessions.start(req, user, SessionKind::Admin).await?);
    }
    response.cookie(fresh_secret_cookie(&state.cookies));
    Ok(response.finish())
}
