//! The second step of a sign-in: after the right password, a user with an authenticator app is
//! asked for a code from it (or one of their recovery codes), and a user with a passkey for the
//! passkey (answered through [`crate::passkeys`]; the page offers what the user has), before any
//! session exists; a user who must have a second factor and has none is sent to add one
//! (`/account/two-step`, which points to the passkeys page too).
//!
//! The right password leaves a *challenge*: a row named by the hash of a random cookie value
//! (`tsf_…`, five minutes, HttpOnly), holding who entered the password and when. The code is
//! checked against it: six digits within one step either side of now and later than the last
//! step used (the write that records the step is the replay check, so two instances can not
//! both accept one code), or an unused recovery code (used up by the same kind of write).
//! Attempts are counted by the sign-in throttle before the code is looked at, under a key of
//! their own per account (`tessera_core::sign_in`: per account from one address, per account,
//! per address), so guessing codes is as slow as guessing passwords and a stranger can lock
//! nobody out. Only then is the challenge deleted (once: a second tab's answer finds it gone)
//! and the sessions started, with `amr` `pwd otp mfa`.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::{StatusCode, header},
    web,
};
use askama::Template;
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use tessera_core::{
    AuditKind,
    amr::{Amr, SecondStep, second_step},
    secret::{PlainToken, SecretKind, TokenHash},
    sign_in::Admission,
    store::{SecondFactorChallenge, StoreError, UserRecord},
    totp::{looks_like_code, recovery_hash},
};
use tessera_web::{
    audit::Audit,
    client_address::ClientAddress,
    csrf::{CsrfToken, csrf_valid},
};

use crate::login::{LoginState, continuing, encode, safe_return, start_sessions};

/// The second step's path.
pub const PATH: &str = "/login/second-factor";
/// Where a user adds a second factor.
pub const ENROL_PATH: &str = "/account/two-step";
/// How long a right password waits for its second factor.
pub const CHALLENGE_TTL: Duration = Duration::minutes(5);
/// The challenge cookie (over http).
pub const CHALLENGE_COOKIE: &str = "tessera_2fa";
/// The challenge cookie with an https issuer.
pub const SECURE_CHALLENGE_COOKIE: &str = "__Host-tessera_2fa";

/// The second step's page.
#[derive(Template, Debug)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage<'a> {
    /// The CSRF token for the form.
    pub csrf_token: &'a str,
    /// Where to go after signing in.
    pub return_to: &'a str,
    /// What went wrong last time.
    pub error: Option<&'a str>,
    /// Whether the user has an authenticator app (the code form is shown).
    pub code: bool,
    /// Whether the user has a passkey and the server offers them (the passkey form is shown).
    pub passkey: bool,
}

/// `?return_to=`.
#[derive(Debug, Deserialize)]
pub struct ReturnQuery {
    return_to: Option<String>,
}

/// The second step's form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    csrf_token: Option<String>,
    return_to: Option<String>,
    code: Option<String>,
}

/// The throttle's account key for second-factor attempts: a control character keeps it apart
/// from every username (usernames have none), so password guesses and code guesses are counted
/// apart and neither can use up the other's attempts.
fn throttle_account(user: &UserRecord) -> String {
    format!("\u{1}second factor {}", user.username)
}

fn cookie_name(state: &LoginState) -> &'static str {
    if state.cookies.secure {
        SECURE_CHALLENGE_COOKIE
    } else {
        CHALLENGE_COOKIE
    }
}

fn challenge_cookie(state: &LoginState, value: &str, max_age: i64) -> Cookie<'static> {
    Cookie::build(cookie_name(state), value.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.cookies.secure)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn back_to_sign_in(return_to: &str) -> HttpResponse {
    see_other(&format!("/login?return_to={}", encode(return_to)))
}

/// The enrolment page, coming back to `return_to` once a factor is added.
pub fn enrol_path(return_to: &str) -> String {
    format!("{ENROL_PATH}?required=1&return_to={}", encode(return_to))
}

/// After the right password: sign `user` in, ask for their second factor, or send them to add
/// one, as the policy says. The boolean says whether the sign-in is complete (audited as such
/// by the caller).
pub(crate) async fn after_password(
    state: &LoginState,
    req: &HttpRequest,
    user: &UserRecord,
    return_to: &str,
) -> Result<(HttpResponse, bool), StoreError> {
    let has_factor = match state.mfa {
        tessera_core::amr::MfaPolicy::Off => false,
        _ => state.factors.has_second_factor(&user.id).await?,
    };
    let password = Amr::password();
    match second_step(state.mfa, user.mfa_required, has_factor) {
        SecondStep::None => Ok((
            start_sessions(state, req, user, return_to, &password).await?,
            true,
        )),
        SecondStep::Enrol => {
            let target = enrol_path(return_to);
            Ok((
                start_sessions(state, req, user, &target, &password).await?,
                true,
            ))
        }
        SecondStep::Code => {
            let now = state.clock.now();
            let id = PlainToken::generate(SecretKind::SecondFactorChallenge);
            state
                .factors
                .create_challenge(&SecondFactorChallenge {
                    id_hash: id.hash(),
                    user_id: user.id.clone(),
                    auth_time: now,
                    expires_at: now + CHALLENGE_TTL,
                })
                .await?;
            let mut response = see_other(&format!("{PATH}?return_to={}", encode(return_to)));
            let cookie = challenge_cookie(state, id.expose(), CHALLENGE_TTL.num_seconds());
            response.add_cookie(&cookie).ok();
            Ok((response, false))
        }
    }
}

/// Which factors the challenged user can give: an app's code, a passkey. Unknown (the store
/// failed, the challenge is gone) offers the code form alone.
async fn offered(state: &LoginState, req: &HttpRequest) -> (bool, bool) {
    let Ok(Some((_, user))) = challenged_user(state, req).await else {
        return (true, false);
    };
    let code =
        matches!(state.factors.find_totp(&user.id).await, Ok(Some(f)) if f.confirmed_at.is_some());
    let passkey = state.relying_party.is_some()
        && state
            .factors
            .passkeys(&user.id)
            .await
            .is_ok_and(|p| !p.is_empty());
    (code || !passkey, passkey)
}

async fn render(
    state: &LoginState,
    req: &HttpRequest,
    csrf: &CsrfToken,
    return_to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let (code, passkey) = offered(state, req).await;
    let page = SecondFactorPage {
        csrf_token: &csrf.0,
        return_to,
        error,
        code,
        passkey,
    };
    let response = tessera_web::html_page(status, page.render());
    let response = continuing(
        state.requests.as_ref(),
        state.clock.as_ref(),
        return_to,
        response,
    )
    .await;
    match passkey {
        true => tessera_web::headers::allow_own_script(response),
        false => response,
    }
}

/// The challenge behind the browser's cookie, if it is live.
async fn challenge(
    state: &LoginState,
    req: &HttpRequest,
) -> Result<Option<SecondFactorChallenge>, StoreError> {
    let Some(cookie) = req.cookie(cookie_name(state)) else {
        return Ok(None);
    };
    let hash = TokenHash::of(cookie.value());
    state.factors.find_challenge(&hash, state.clock.now()).await
}

/// The live challenge behind the browser's cookie and its (enabled) user.
pub(crate) async fn challenged_user(
    state: &LoginState,
    req: &HttpRequest,
) -> Result<Option<(SecondFactorChallenge, UserRecord)>, StoreError> {
    let Some(found) = challenge(state, req).await? else {
        return Ok(None);
    };
    let user = state.users.find_user(&found.user_id).await?;
    Ok(user.filter(|u| u.enabled).map(|user| (found, user)))
}

/// The cookie that removes the challenge's.
pub(crate) fn challenge_removal(state: &LoginState) -> Cookie<'static> {
    let mut removal = challenge_cookie(state, "", 0);
    removal.make_removal();
    removal
}

/// `GET /login/second-factor`.
pub async fn get_second_factor(
    req: HttpRequest,
    query: web::Query<ReturnQuery>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let return_to = safe_return(query.return_to.as_deref());
    match challenge(&state, &req).await {
        Ok(Some(_)) => render(&state, &req, &csrf, return_to, None, StatusCode::OK).await,
        Ok(None) => back_to_sign_in(return_to),
        Err(err) => unavailable(&state, &req, &csrf, return_to, &err).await,
    }
}

async fn unavailable(
    state: &LoginState,
    req: &HttpRequest,
    csrf: &CsrfToken,
    return_to: &str,
    err: &StoreError,
) -> HttpResponse {
    tracing::error!(error = %err, "second factor: store unavailable");
    let message = "Sign-in is unavailable; please try again shortly.";
    let mut response = render(
        state,
        req,
        csrf,
        return_to,
        Some(message),
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// Why a code was not accepted.
enum Outcome {
    /// Signed in (the response starts the sessions).
    SignedIn(HttpResponse),
    /// The challenge is gone (expired, answered in another tab, user disabled): sign in again.
    Gone,
    /// Not a current code of theirs nor an unused recovery code.
    Wrong,
    /// Too many attempts: wait this many seconds.
    Throttled(i64),
}

/// Whether `typed` is a current code of the user's app (recording its step) or an unused
/// recovery code (using it up).
async fn code_accepted(
    state: &LoginState,
    req: &HttpRequest,
    user: &UserRecord,
    typed: &str,
) -> Result<bool, StoreError> {
    let now = state.clock.now();
    if looks_like_code(typed) {
        let Some(factor) = state.factors.find_totp(&user.id).await? else {
            return Ok(false);
        };
        let Some(step) = factor.secret.verify(typed, now, factor.last_used_step) else {
            return Ok(false);
        };
        return state.factors.use_totp_step(&user.id, step).await;
    }
    let used = state
        .factors
        .use_recovery_code(&user.id, &recovery_hash(typed), now)
        .await?;
    if used {
        let left = state.factors.unused_recovery_codes(&user.id).await?;
        let audit = Audit {
            actor: Some(user.id.to_string()),
            user_id: Some(user.id.as_str()),
            details: Some(json!({ "recovery_codes_left": left })),
            ..Audit::new(AuditKind::SecondFactorRecoveryUsed)
        };
        tessera_web::audit::record(state.audit.as_ref(), req, now, audit).await;
    }
    Ok(used)
}

/// Decides one answer to the challenge.
async fn answer(
    state: &LoginState,
    req: &HttpRequest,
    typed: &str,
    return_to: &str,
) -> Result<Outcome, StoreError> {
    let Some((found, user)) = challenged_user(state, req).await? else {
        return Ok(Outcome::Gone);
    };
    let (account, address) = (throttle_account(&user), ClientAddress::of(req).to_string());
    let now = state.clock.now();
    if let Admission::Refused(wait) = state.throttle.admit(&account, &address, now).await? {
        return Ok(Outcome::Throttled(wait.num_seconds()));
    }
    if !code_accepted(state, req, &user, typed).await? {
        let audit = Audit {
            user_id: Some(user.id.as_str()),
            details: Some(json!({ "username": user.username, "factor": "otp" })),
            ..Audit::new(AuditKind::LoginFailed)
        };
        tessera_web::audit::record(state.audit.as_ref(), req, now, audit).await;
        return Ok(Outcome::Wrong);
    }
    // Answered once: a second tab's answer finds the challenge gone.
    if !state.factors.delete_challenge(&found.id_hash).await? {
        return Ok(Outcome::Gone);
    }
    if let Err(err) = state.throttle.succeeded(&account, &address).await {
        tracing::warn!(error = %err, "second factor: clearing the throttle counters failed");
    }
    let amr = Amr::password_and_otp();
    let mut response = start_sessions(state, req, &user, return_to, &amr).await?;
    response.add_cookie(&challenge_removal(state)).ok();
    let audit = Audit {
        actor: Some(user.id.to_string()),
        user_id: Some(user.id.as_str()),
        details: Some(json!({ "username": user.username, "amr": amr.values() })),
        ..Audit::new(AuditKind::LoginSucceeded)
    };
    tessera_web::audit::record(state.audit.as_ref(), req, now, audit).await;
    Ok(Outcome::SignedIn(response))
}

/// The page again with 429 and `Retry-After` (the throttle's wait, seconds).
async fn throttled(
    state: &LoginState,
    req: &HttpRequest,
    csrf: &CsrfToken,
    return_to: &str,
    wait: i64,
) -> HttpResponse {
    let message = "Too many wrong codes. Wait a little before trying again.";
    let status = StatusCode::TOO_MANY_REQUESTS;
    let mut response = render(state, req, csrf, return_to, Some(message), status).await;
    if let Ok(value) = header::HeaderValue::from_str(&(wait.max(0) + 1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `POST /login/second-factor`.
pub async fn post_second_factor(
    req: HttpRequest,
    form: web::Form<CodeForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let return_to = safe_return(form.return_to.as_deref());
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        let expired = "Your session expired; please try again.";
        return render(
            &state,
            &req,
            &csrf,
            return_to,
            Some(expired),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let typed: String = form
        .code
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    match answer(&state, &req, typed.trim(), return_to).await {
        Ok(Outcome::SignedIn(response)) => response,
        Ok(Outcome::Gone) => back_to_sign_in(return_to),
        Ok(Outcome::Wrong) => {
            let wrong =
                "That code is not right. Use the current code from your app, or a recovery code.";
            render(&state, &req, &csrf, return_to, Some(wrong), StatusCode::OK).await
        }
        Ok(Outcome::Throttled(wait)) => throttled(&state, &req, &csrf, return_to, wait).await,
        Err(err) => unavailable(&state, &req, &csrf, return_to, &err).await,
    }
}
