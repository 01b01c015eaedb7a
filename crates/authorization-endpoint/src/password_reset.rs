//! A forgotten password, reset by email (`/password/forgot`, `/password/reset`).
//!
//! The user gives their username or email address; the answer is the same whether or not an
//! account matches (and the message is sent off the request, so the time is the same too). For a
//! matching enabled user with an address, a link with a 256-bit token (`tsw_…`, stored hashed)
//! is emailed; it works once, for 30 minutes, and a new request replaces it — but a link asked
//! for less than a minute ago is not sent again (`crate::mail::EmailState::send_link`), so nobody can flood a mailbox. Requests
//! are counted by the sign-in throttle (per account from one address, per account, per address).
//! Using the link sets the new password (the password rule), ends every session of the user,
//! revokes every grant (refresh-token families, offline ones included), clears the account's
//! sign-in throttle, and is audited. Without `TESSERA_SMTP_URL` the pages say that resets by
//! email are not set up.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;
use tessera_core::{
    AuditKind,
    password::hash_password,
    secret::TokenHash,
    sign_in::Admission,
    store::{EmailLinkPurpose, StoreError, UserRecord},
};
use tessera_web::{
    PageError,
    client_address::ClientAddress,
    csrf::{CsrfToken, csrf_valid},
};

use crate::{
    login::LoginState,
    mail::{EmailState, LINK_TTL, Link, link_page, token_of},
};

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage<'a> {
    csrf_token: &'a str,
    offered: bool,
    sent: bool,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage<'a> {
    csrf_token: &'a str,
    token: &'a str,
    live: bool,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct ResetEmail<'a> {
    username: &'a str,
    issuer: &'a str,
    link: &'a str,
    minutes: i64,
}

/// `?sent=` / `?token=`.
#[derive(Debug, Deserialize)]
pub struct ResetQuery {
    sent: Option<String>,
    token: Option<String>,
}

/// `POST /password/forgot`.
#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    csrf_token: Option<String>,
    #[serde(default)]
    account: String,
}

/// `POST /password/reset`.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    csrf_token: Option<String>,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn forgot_page(
    csrf: &CsrfToken,
    reset: &EmailState,
    sent: bool,
    error: Option<&str>,
) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::OK
    };
    let page = ForgotPage {
        csrf_token: &csrf.0,
        offered: reset.mailer.is_some(),
        sent,
        error,
    };
    tessera_web::html_page(status, page.render())
}

/// `GET /password/forgot`.
pub async fn get_forgot(
    query: web::Query<ResetQuery>,
    csrf: CsrfToken,
    reset: web::Data<EmailState>,
) -> HttpResponse {
    forgot_page(&csrf, &reset, query.sent.is_some(), None)
}

/// The enabled user `account` names (a username, else an email address), with an address.
async fn addressee(state: &LoginState, account: &str) -> Result<Option<UserRecord>, StoreError> {
    let user = match state.users.find_user_by_username(account).await? {
        Some(user) => Some(user),
        None => state.users.find_user_by_email(account).await?,
    };
    Ok(user.filter(|u| u.enabled && u.email.as_deref().is_some_and(|e| e.contains('@'))))
}

/// Sends `user` a fresh link (see [`EmailState::send_link`]).
async fn send_link(
    state: &LoginState,
    reset: &EmailState,
    user: &UserRecord,
) -> Result<(), StoreError> {
    let Some(to) = user.email.as_deref() else {
        return Ok(());
    };
    let link = Link {
        user: &user.id,
        purpose: EmailLinkPurpose::PasswordReset,
        to,
        path: "/password/reset",
        subject: "Reset your password",
    };
    let body = |url: &str| {
        let email = ResetEmail {
            username: &user.username,
            issuer: &reset.issuer,
            link: url,
            minutes: LINK_TTL.num_minutes(),
        };
        email.render().ok()
    };
    reset.send_link(&link, state.clock.now(), body).await?;
    Ok(())
}

/// `POST /password/forgot`: the same answer for every account, known or not.
pub async fn post_forgot(
    req: HttpRequest,
    form: web::Form<ForgotForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
    reset: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    if reset.mailer.is_none() {
        return Ok(forgot_page(&csrf, &reset, false, None));
    }
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        return Err(PageError::Csrf);
    }
    let account: String = form.account.trim().chars().take(200).collect();
    let address = ClientAddress::of(&req).to_string();
    let key = format!("\u{1}password reset {}", account.to_lowercase());
    let now = state.clock.now();
    if let Admission::Refused(_) = state.throttle.admit(&key, &address, now).await? {
        let wait = "Too many requests; wait a little before asking again.";
        return Ok(forgot_page(&csrf, &reset, false, Some(wait)));
    }
    if let Some(user) = addressee(&state, &account).await? {
        send_link(&state, &reset, &user).await?;
    }
    Ok(see_other("/password/forgot?sent=1"))
}

fn reset_page(csrf: &CsrfToken, token: &str, live: bool, error: Option<&str>) -> HttpResponse {
    let status = match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let page = ResetPage {
        csrf_token: &csrf.0,
        token,
        live,
        error,
    };
    link_page(live, status, page.render())
}

/// `GET /password/reset?token=…`: the new-password form while the link is live.
pub async fn get_reset(
    query: web::Query<ResetQuery>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
    reset: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    let token = token_of(query.token.as_deref());
    let purpose = EmailLinkPurpose::PasswordReset;
    let live = reset.is_live(&token, purpose, state.clock.now()).await?;
    Ok(reset_page(&csrf, &token, live, None))
}

/// Sets `user`'s new password and ends everything signed in with the old one.
async fn apply(
    state: &LoginState,
    reset: &EmailState,
    req: &HttpRequest,
    user: &UserRecord,
    hash: &str,
) -> Result<(), StoreError> {
    let now = state.clock.now();
    state.users.set_password_hash(&user.id, hash, now).await?;
    state
        .sessions
        .sessions
        .end_user_sessions(&user.id, None, now)
        .await?;
    let reason = "password reset by email";
    reset
        .grants
        .revoke_user_grants(&user.id, None, reason, now)
        .await?;
    crate::mail::link_used(state, req, user, AuditKind::UserPasswordReset).await
}

/// `POST /password/reset`: the new password (the password rule), then the link is used up.
pub async fn post_reset(
    req: HttpRequest,
    form: web::Form<ResetForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
    reset: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        return Err(PageError::Csrf);
    }
    let token_hash = TokenHash::of(&form.token);
    let now = state.clock.now();
    let purpose = EmailLinkPurpose::PasswordReset;
    if !reset
        .links
        .email_link_is_live(&token_hash, purpose, now)
        .await?
    {
        return Ok(reset_page(&csrf, "", false, None));
    }
    let password = form.password.clone();
    let hashed = tokio::task::spawn_blocking(move || hash_password(&password)).await;
    let Ok(Ok(hash)) = hashed else {
        let weak = "The new password must have at least 8 characters.";
        return Ok(reset_page(&csrf, &form.token, true, Some(weak)));
    };
    // Used once: of two tabs submitting, one sets the password.
    let Some((user_id, _)) = reset
        .links
        .use_email_link(&token_hash, purpose, now)
        .await?
    else {
        return Ok(reset_page(&csrf, "", false, None));
    };
    let Some(user) = state.users.find_user(&user_id).await? else {
        return Ok(reset_page(&csrf, "", false, None));
    };
    apply(&state, &reset, &req, &user, &hash).await?;
    Ok(see_other("/login?reason=reset"))
}
