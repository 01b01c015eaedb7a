//! `/login`: the sign-in page shared by end users and admins. A plain HTML form (username,
//! password, CSRF token, a local `return_to`). Each attempt is counted by the sign-in throttle
//! *before* the password is checked (`tessera_core::sign_in`: per account from one address, per
//! account, per address; refusals are 429 with `Retry-After`, never a lasting lock), argon2id
//! runs through the bounded [`HashGate`] (503 with `Retry-After` when it is full), the answer
//! never reveals whether the username exists, and every sign-in issues a fresh session id and a
//! fresh CSRF secret. A right password of a user with an authenticator app or a passkey leads to
//! the second step first ([`crate::second_factor`]); a passkey alone signs in too
//! ([`crate::passkeys`]), and a completed sign-in is watched for new devices and
//! networks ([`crate::signals`]); a refusal by the throttle may mail the user an unlock link
//! ([`crate::unlock`]).

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
    amr::{Amr, MfaPolicy},
    password::{dummy_hash, verify_password},
    sign_in::{Admission, SignInThrottle},
    store::{
        AuditRepo, AuthorizationRequestRepo, SecondFactorRepo, SessionKind, UserRecord, UserRepo,
    },
};
use tessera_web::{
    audit::Audit,
    client_address::ClientAddress,
    csrf::{CookieSettings, CsrfToken, csrf_valid, fresh_secret_cookie},
    hash_gate::HashGate,
    session::{ADMIN_PATH, Sessions, is_local_path},
};

use crate::{authorize::continuation_target, second_factor::after_password};

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
    /// Whether to offer a password reset by email.
    pub reset: bool,
    /// Whether to offer a passkey (the server has an RP ID; the script shows the button where
    /// the browser can use one).
    pub passkey: bool,
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
    /// Second factors, and the sign-ins waiting for one.
    pub factors: Arc<dyn SecondFactorRepo>,
    /// The second-factor policy (`TESSERA_MFA`).
    pub mfa: MfaPolicy,
    /// The devices users signed in from (new-device and network-change signals).
    pub devices: Arc<dyn tessera_core::store::KnownDeviceRepo>,
    /// The signals' thresholds (`TESSERA_SIGNAL_*`).
    pub signals: tessera_core::signals::SignalPolicy,
    /// Email, when set up (the sign-in page then offers a password reset, and sign-in signals
    /// are mailed to the user).
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// The issuer (named in email).
    pub issuer: String,
    /// The WebAuthn relying party (`None`: the issuer is an IP address, no passkeys).
    pub relying_party: Option<crate::webauthn::RelyingParty>,
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
    let response = continuing(
        state.requests.as_ref(),
        state.clock.as_ref(),
        page.return_to,
        response,
    )
    .await;
    match page.passkey {
        true => tessera_web::headers::allow_own_script(response),
        false => response,
    }
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
        notice: match query.reason.as_deref() {
            Some("recent") => Some("For this action, please confirm your password."),
            Some("reset") => Some("Your password was changed. Sign in with the new one."),
            Some("unlocked") => Some("Your account can sign in again at once."),
            _ => None,
        },
        reset: state.mailer.is_some(),
        passkey: state.relying_party.is_some(),
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

/// Why a sign-in attempt signed nobody in. Each has its words for the page, its status and,
/// where trying again later helps, the seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The form's CSRF token is missing or wrong (a page left open too long).
    Expired,
    /// The username is longer than any username can be.
    TooLong,
    /// Every password-hash slot is taken.
    Busy,
    /// The sign-in throttle refuses for this long.
    Throttled {
        /// Seconds until an attempt is counted again.
        wait_seconds: i64,
    },
    /// Unknown user, disabled user or wrong password (never said which).
    Wrong,
    /// The store failed; nothing was counted against the user.
    Unavailable,
}

impl Refusal {
    /// What the sign-in page says.
    pub fn message(self) -> &'static str {
        match self {
            Self::Expired => "Your session expired; please try again.",
            Self::TooLong => "That username is too long.",
            Self::Busy => "Sign-in is busy right now; please try again in a moment.",
            Self::Throttled { .. } => {
                "Too many failed attempts. Wait a little before trying again."
            }
            Self::Wrong => "Wrong username or password.",
            Self::Unavailable => "Sign-in is unavailable; please try again shortly.",
        }
    }

    /// The page's status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Expired => StatusCode::FORBIDDEN,
            Self::TooLong => StatusCode::BAD_REQUEST,
            Self::Busy | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Wrong => StatusCode::OK,
        }
    }

    /// `Retry-After`, seconds.
    pub fn retry_after(self) -> Option<i64> {
        match self {
            Self::Busy | Self::Unavailable => Some(1),
            Self::Throttled { wait_seconds } => Some(wait_seconds.max(0) + 1),
            _ => None,
        }
    }
}

/// The sign-in page again, saying why the attempt was refused.
async fn refused(
    state: &LoginState,
    csrf: &CsrfToken,
    return_to: &str,
    username: &str,
    refusal: Refusal,
) -> HttpResponse {
    let page = LoginPage {
        csrf_token: &csrf.0,
        return_to,
        username,
        error: Some(refusal.message()),
        signup: state.self_registration,
        return_to_encoded: encode(return_to),
        notice: None,
        reset: state.mailer.is_some(),
        passkey: state.relying_party.is_some(),
    };
    let response = render(state, &page, refusal.status()).await;
    match refusal.retry_after() {
        Some(seconds) => retry_after(response, seconds),
        None => response,
    }
}

/// Decides a sign-in attempt: a place for the password hash, then the throttle (before the
/// password is looked at), then the user and the password — the same work whether or not the
/// user exists. Audits what it decides; the user when the password is right.
async fn attempt(
    state: &LoginState,
    req: &HttpRequest,
    username: &str,
    password: String,
) -> Result<UserRecord, Refusal> {
    // An oversized username is refused before anything looks it up, counts it or logs it.
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(Refusal::TooLong);
    }
    // A place for the password hash first: a full gate refuses before anything is counted.
    let slot = state.hashes.enter().ok_or(Refusal::Busy)?;
    let address = ClientAddress::of(req).to_string();
    let now = state.clock.now();
    match state.throttle.admit(username, &address, now).await {
        Ok(Admission::Admitted) => {}
        Ok(Admission::Refused(wait)) => {
            // Refusals cost nothing and anyone can cause them: audited in aggregate.
            let kind = tessera_core::AuditKind::LoginThrottled;
            audit_sampled(state, req, kind, username, json!({})).await;
            let wait_seconds = wait.num_seconds();
            return Err(Refusal::Throttled { wait_seconds });
        }
        Err(err) => {
            tracing::error!(error = %err, "login: throttle counter unavailable");
            return Err(Refusal::Unavailable);
        }
    }
    let user = match state.users.find_user_by_username(username).await {
        Ok(user) => user.filter(|u| u.enabled),
        Err(err) => {
            tracing::error!(error = %err, "login: user lookup failed");
            return Err(Refusal::Unavailable);
        }
    };
    // Verify against a dummy hash when there is no such user: the same work either way.
    let stored = user
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
    let verify = move || verify_password(&password, &stored);
    let verified = state.hashes.run(slot, verify).await.unwrap_or(false);
    let kind = tessera_core::AuditKind::LoginFailed;
    match user {
        Some(user) if verified => {
            if let Err(err) = state.throttle.succeeded(username, &address).await {
                tracing::warn!(error = %err, "login: clearing the throttle counters failed");
            }
            Ok(user)
        }
        Some(_) => {
            audit(state, req, kind, None, username).await;
            Err(Refusal::Wrong)
        }
        None => {
            // Invented usernames: one row per source and minute, the rest counted.
            let unknown = json!({ "account": "unknown" });
            audit_sampled(state, req, kind, username, unknown).await;
            Err(Refusal::Wrong)
        }
    }
}

/// `POST /login`.
pub async fn post_login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
    mail: web::Data<crate::mail::EmailState>,
) -> HttpResponse {
    let return_to = safe_return(form.return_to.as_deref());
    let username = form.username.as_deref().unwrap_or_default().trim();
    let outcome = if csrf_valid(&req, form.csrf_token.as_deref()) {
        let password = form.password.clone().unwrap_or_default();
        attempt(&state, &req, username, password).await
    } else {
        Err(Refusal::Expired)
    };
    let refusal = match outcome {
        Ok(user) => match after_password(&state, &req, &user, return_to).await {
            Ok((response, complete)) => {
                if complete {
                    let kind = tessera_core::AuditKind::LoginSucceeded;
                    audit(&state, &req, kind, Some(user.id.as_str()), username).await;
                }
                return response;
            }
            Err(err) => {
                tracing::error!(error = %err, "login: session could not be stored");
                Refusal::Unavailable
            }
        },
        Err(refusal) => refusal,
    };
    if let Refusal::Throttled { .. } = refusal {
        crate::unlock::offer(&state, &mail, username);
    }
    refused(&state, &csrf, return_to, username, refusal).await
}

/// Signs `user` in, who gave `amr`: ends whatever sessions the browser had, starts a new one (and
/// an admin one when an admin is headed for the console), rotates the CSRF secret, and redirects
/// to `return_to`.
pub(crate) async fn start_sessions(
    state: &LoginState,
    req: &HttpRequest,
    user: &UserRecord,
    return_to: &str,
    amr: &Amr,
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
    response.cookie(
        state
            .sessions
            .start(req, user, SessionKind::User, amr)
            .await?,
    );
    if user.is_admin && return_to.starts_with(ADMIN_PATH) {
        response.cookie(
            state
                .sessions
                .start(req, user, SessionKind::Admin, amr)
                .await?,
        );
    }
    response.cookie(fresh_secret_cookie(&state.cookies));
    crate::signals::watch_sign_in(state, req, user).await;
    Ok(response.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_words_status_and_wait() {
        let all = [
            Refusal::Expired,
            Refusal::TooLong,
            Refusal::Busy,
            Refusal::Throttled { wait_seconds: 41 },
            Refusal::Wrong,
            Refusal::Unavailable,
        ];
        let statuses: Vec<u16> = all.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses, [403, 400, 503, 429, 200, 503]);
        let waits: Vec<Option<i64>> = all.iter().map(|r| r.retry_after()).collect();
        assert_eq!(waits, [None, None, Some(1), Some(42), None, Some(1)]);
        // Never a lasting lock: a negative wait still says "try in a second".
        let late = Refusal::Throttled { wait_seconds: -5 };
        assert_eq!(late.retry_after(), Some(1));
        // The wrong-password words say nothing about whether the user exists.
        assert!(!Refusal::Wrong.message().contains("exist"));
        let mut messages: Vec<&str> = all.iter().map(|r| r.message()).collect();
        messages.dedup();
        assert_eq!(
            messages.len(),
            all.len(),
            "each refusal says something of its own"
        );
    }

    /// The sign-in page as a browser gets it after a wrong password (fixed token and target).
    #[test]
    fn sign_in_page_snapshot() {
        let page = LoginPage {
            csrf_token: "csrf-token",
            return_to: "/authorize/resume?request=tsq_handle",
            username: "alice <&>",
            error: Some(Refusal::Wrong.message()),
            signup: true,
            return_to_encoded: encode("/authorize/resume?request=tsq_handle"),
            notice: None,
            reset: true,
            passkey: true,
        };
        insta::assert_snapshot!(page.render().unwrap());
    }
}
