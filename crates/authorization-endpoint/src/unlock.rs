//! The unlock link: when the sign-in throttle makes an account wait (someone, maybe a stranger,
//! typed wrong passwords), its user is mailed a link that clears the account's counters, so a
//! guesser elsewhere can not keep them waiting. Sent from a task of its own, so the refusal takes
//! as long whether or not the account exists; at most one an hour per account. The link opens
//! `/login/unlock`, a page with a button (a mail scanner fetching it unlocks nothing); pressing
//! it clears the account's counters (the address-wide counter stays: it bounds what one address
//! may try) and is audited as `login.lock_cleared`.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use tessera_core::{AuditKind, secret::TokenHash, store::EmailLinkPurpose};
use tessera_web::{
    PageError,
    csrf::{CsrfToken, csrf_valid},
};

use crate::{
    login::LoginState,
    mail::{EmailState, LINK_TTL, Link, TokenForm, TokenQuery, link_page, token_of},
};

/// The page an unlock link opens.
pub const PATH: &str = "/login/unlock";

#[derive(Template)]
#[template(path = "unlock.html")]
struct UnlockPage<'a> {
    csrf_token: &'a str,
    token: &'a str,
    live: bool,
}

#[derive(Template)]
#[template(path = "email/unlock.txt")]
struct UnlockEmail<'a> {
    username: &'a str,
    issuer: &'a str,
    link: &'a str,
    minutes: i64,
}

async fn send(state: LoginState, mail: EmailState, username: String) {
    let user = match state.users.find_user_by_username(&username).await {
        Ok(Some(user)) if user.enabled && user.email_verified => user,
        _ => return,
    };
    let Some(to) = user.email.as_deref() else {
        return;
    };
    let link = Link {
        user: &user.id,
        purpose: EmailLinkPurpose::Unlock,
        to,
        path: PATH,
        subject: "Sign-in to your account was slowed down",
    };
    let body = |url: &str| {
        let email = UnlockEmail {
            username: &user.username,
            issuer: &mail.issuer,
            link: url,
            minutes: LINK_TTL.num_minutes(),
        };
        email.render().ok()
    };
    if let Err(err) = mail.send_link(&link, state.clock.now(), body).await {
        tracing::warn!(error = %err, "unlock link not sent");
    }
}

/// Offers `username`'s user an unlock link, if email is set up and the account has a confirmed
/// address (decided off the request).
pub(crate) fn offer(state: &LoginState, mail: &EmailState, username: &str) {
    if mail.mailer.is_none() {
        return;
    }
    let username: String = username.chars().take(200).collect();
    tokio::spawn(send(state.clone(), mail.clone(), username));
}

fn page(csrf: &CsrfToken, token: &str, live: bool) -> HttpResponse {
    let page = UnlockPage {
        csrf_token: &csrf.0,
        token,
        live,
    };
    link_page(live, StatusCode::OK, page.render())
}

/// `GET /login/unlock?token=…`.
pub async fn get_unlock(
    query: web::Query<TokenQuery>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
    mail: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    let token = token_of(query.token.as_deref());
    let live = mail
        .is_live(&token, EmailLinkPurpose::Unlock, state.clock.now())
        .await?;
    Ok(page(&csrf, &token, live))
}

/// `POST /login/unlock`: the account's throttle counters cleared, once per link.
pub async fn post_unlock(
    req: HttpRequest,
    form: web::Form<TokenForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
    mail: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        return Err(PageError::Csrf);
    }
    let (hash, now) = (TokenHash::of(&form.token), state.clock.now());
    let purpose = EmailLinkPurpose::Unlock;
    let Some((user_id, _)) = mail.links.use_email_link(&hash, purpose, now).await? else {
        return Ok(page(&csrf, "", false));
    };
    let Some(user) = state.users.find_user(&user_id).await? else {
        return Ok(page(&csrf, "", false));
    };
    crate::mail::link_used(&state, &req, &user, AuditKind::LoginLockCleared).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?reason=unlocked"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
