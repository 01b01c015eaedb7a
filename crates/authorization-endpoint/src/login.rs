//! `/login`: the sign-in page shared by end users and admins. A plain HTML form (username,
//! password, CSRF token, a local `return_to`), argon2id verified off the async executor, failures
//! throttled per username and per client IP without revealing whether the username exists, and a
//! fresh session id on every sign-in.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use tessera_core::{
    Clock,
    password::{dummy_hash, verify_password},
    store::{AuditRepo, UserRepo},
    throttle::Throttle,
};
use tessera_web::{
    audit::Audit,
    csrf::{CsrfToken, csrf_valid},
    session::{
        ADMIN_COOKIE, ADMIN_SESSIONS, SESSION_COOKIE, Sessions, USER_SESSIONS, is_local_path,
    },
};

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
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Failure throttle, keyed `user:<name>` and `ip:<address>`.
    pub throttle: Arc<Throttle>,
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

fn render(page: &LoginPage<'_>, status: actix_web::http::StatusCode) -> HttpResponse {
    tessera_web::html_page(status, page.render())
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
    render(
        &LoginPage {
            csrf_token: &csrf.0,
            return_to: safe_return(query.return_to.as_deref()),
            username: &username,
            error: None,
            signup: state.self_registration,
            return_to_encoded: encode(safe_return(query.return_to.as_deref())),
        },
        actix_web::http::StatusCode::OK,
    )
}

async fn audit(
    state: &LoginState,
    req: &HttpRequest,
    kind: &str,
    user_id: Option<&str>,
    username: &str,
) {
    let audit = Audit {
        kind,
        actor: user_id.map(str::to_owned),
        user_id,
        details: Some(json!({ "username": username })),
        ..Audit::default()
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
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
    let page = |error: &str, status| {
        render(
            &LoginPage {
                csrf_token: &csrf.0,
                return_to: &return_to,
                username: &username,
                error: Some(error),
                signup: state.self_registration,
                return_to_encoded: encode(&return_to),
            },
            status,
        )
    };
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        return page(
            "Your session expired; please try again.",
            actix_web::http::StatusCode::FORBIDDEN,
        );
    }
    let password = form.password.clone().unwrap_or_default();
    let ip_key = format!(
        "ip:{}",
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    );
    let user_key = format!("user:{}", username.to_lowercase());
    // A temporary lock after repeated failures, for any username (existing or not, so the answer
    // says nothing about which exist) and for the client address.
    if state.throttle.locked(&user_key) || state.throttle.locked(&ip_key) {
        audit(&state, &req, "login.locked", None, &username).await;
        return page(
            "Too many failed attempts. Wait a few minutes before trying again.",
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let delay = state
        .throttle
        .delay(&user_key)
        .max(state.throttle.delay(&ip_key));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let user = match state.users.find_user_by_username(&username).await {
        Ok(user) => user.filter(|u| u.enabled),
        Err(err) => {
            tracing::error!(error = %err, "login: user lookup failed");
            return page(
                "Sign-in is unavailable; please try again shortly.",
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    };
    // Verify against a dummy hash when there is no such user: the same work either way.
    let stored = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        state.throttle.failed(&user_key);
        state.throttle.failed(&ip_key);
        audit(&state, &req, "login.failed", None, &username).await;
        return page(
            "Wrong username or password.",
            actix_web::http::StatusCode::OK,
        );
    };
    state.throttle.succeeded(&user_key);

    let response = match start_sessions(&state, &req, &user, &return_to).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "login: session could not be stored");
            return page(
                "Sign-in is unavailable; please try again shortly.",
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    };
    audit(
        &state,
        &req,
        "login.succeeded",
        Some(user.id.as_str()),
        &username,
    )
    .await;
    response
}

/// Signs `user` in: ends whatever sessions the browser had, starts a new one (and an admin one
/// when an admin is headed for the console), and redirects to `return_to`.
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
    for cookie_name in [SESSION_COOKIE, ADMIN_COOKIE] {
        if req.cookie(cookie_name).is_some() {
            response.cookie(state.sessions.end(req, cookie_name).await?);
        }
    }
    response.cookie(
        state
            .sessions
            .start(req, user, USER_SESSIONS, SESSION_COOKIE)
            .await?,
    );
    if user.is_admin && return_to.starts_with(tessera_web::session::ADMIN_PATH) {
        response.cookie(
            state
                .sessions
                .start(req, user, ADMIN_SESSIONS, ADMIN_COOKIE)
                .await?,
        );
    }
    Ok(response.finish())
}
