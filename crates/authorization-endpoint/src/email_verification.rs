//! Verifying a user's email address (`email_verified` true only after it): a link mailed at
//! sign-up and whenever the address changes on `/account` (or asked for again there), opened at
//! `/email/verify` — a page with a button, so a mail scanner that fetches links verifies
//! nothing — and used once, for the address it was sent to: an address changed meanwhile is not
//! verified by an old link. Without `TESSERA_SMTP_URL` nothing is sent and addresses stay
//! unverified.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use tessera_core::{
    AuditKind, Clock,
    secret::TokenHash,
    store::{EmailLinkPurpose, StoreError, UserRecord},
};
use tessera_web::{
    PageError,
    audit::Audit,
    csrf::{CsrfToken, csrf_valid},
    form::CsrfForm,
};

use crate::{
    account::{AccountState, see_other, signed_in_at},
    mail::{EmailState, LINK_TTL, Link, TokenForm, TokenQuery, link_page, token_of},
};

/// The page a verification link opens.
pub const PATH: &str = "/email/verify";

#[derive(Template)]
#[template(path = "email_verify.html")]
struct VerifyPage<'a> {
    csrf_token: &'a str,
    token: &'a str,
    live: bool,
}

#[derive(Template)]
#[template(path = "email/verify.txt")]
struct VerifyEmail<'a> {
    username: &'a str,
    issuer: &'a str,
    link: &'a str,
    minutes: i64,
}

/// The new-address form of `/account`.
#[derive(Debug, Deserialize)]
pub struct AddressForm {
    #[serde(default)]
    email: String,
}

/// Mails `user` a link that verifies their current address, when email is set up and they have
/// one (at most one a minute). Whether a message went.
pub(crate) async fn send_verification(
    email: &EmailState,
    clock: &dyn Clock,
    user: &UserRecord,
) -> Result<bool, StoreError> {
    let Some(to) = user.email.as_deref().filter(|_| !user.email_verified) else {
        return Ok(false);
    };
    let link = Link {
        user: &user.id,
        purpose: EmailLinkPurpose::VerifyEmail,
        to,
        path: PATH,
        subject: "Confirm your email address",
    };
    let body = |url: &str| {
        let message = VerifyEmail {
            username: &user.username,
            issuer: &email.issuer,
            link: url,
            minutes: LINK_TTL.num_minutes(),
        };
        message.render().ok()
    };
    email.send_link(&link, clock.now(), body).await
}

fn page(csrf: &CsrfToken, token: &str, live: bool) -> HttpResponse {
    let page = VerifyPage {
        csrf_token: &csrf.0,
        token,
        live,
    };
    link_page(live, StatusCode::OK, page.render())
}

/// `GET /email/verify?token=…`: a button, while the link is live.
pub async fn get_verify(
    query: web::Query<TokenQuery>,
    csrf: CsrfToken,
    account: web::Data<AccountState>,
    email: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    let token = token_of(query.token.as_deref());
    let purpose = EmailLinkPurpose::VerifyEmail;
    let live = email.is_live(&token, purpose, account.clock.now()).await?;
    Ok(page(&csrf, &token, live))
}

/// `POST /email/verify`: the address the link was sent to is verified, if it is still the
/// user's.
pub async fn post_verify(
    req: HttpRequest,
    form: web::Form<TokenForm>,
    csrf: CsrfToken,
    account: web::Data<AccountState>,
    email: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        return Err(PageError::Csrf);
    }
    let (hash, now) = (TokenHash::of(&form.token), account.clock.now());
    let purpose = EmailLinkPurpose::VerifyEmail;
    let Some((user_id, Some(sent_to))) = email.links.use_email_link(&hash, purpose, now).await?
    else {
        return Ok(page(&csrf, "", false));
    };
    let Some(mut user) = account.users.find_user(&user_id).await? else {
        return Ok(page(&csrf, "", false));
    };
    let current = user.email.as_deref().unwrap_or_default();
    if !current.eq_ignore_ascii_case(&sent_to) {
        return Ok(page(&csrf, "", false));
    }
    user.email_verified = true;
    account.users.update_user(&user, now).await?;
    let audit = Audit {
        actor: Some(user.id.to_string()),
        user_id: Some(user.id.as_str()),
        details: Some(serde_json::json!({ "email": sent_to })),
        ..Audit::new(AuditKind::UserEmailVerified)
    };
    tessera_web::audit::record(account.audit.as_ref(), &req, now, audit).await;
    Ok(see_other("/account?notice=email-verified"))
}

/// `POST /account/email`: a new address, unverified until its link is used.
pub async fn post_change(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<AddressForm>,
    account: web::Data<AccountState>,
    email: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    let signed = signed_in_at(&req, &account, "/account").await?;
    let address = form.email.trim();
    if !tessera_core::email_address::plausible(address) {
        return Ok(see_other("/account?notice=bad-email"));
    }
    let mut user = signed.user;
    user.email = Some(address.to_owned());
    user.email_verified = false;
    account
        .users
        .update_user(&user, account.clock.now())
        .await?;
    let sent = send_verification(&email, account.clock.as_ref(), &user).await?;
    let notice = if sent { "email-sent" } else { "email-changed" };
    Ok(see_other(&format!("/account?notice={notice}")))
}

/// `POST /account/email/verify`: the link again (at most one a minute).
pub async fn post_resend(
    req: HttpRequest,
    _: CsrfForm,
    account: web::Data<AccountState>,
    email: web::Data<EmailState>,
) -> Result<HttpResponse, PageError> {
    let signed = signed_in_at(&req, &account, "/account").await?;
    send_verification(&email, account.clock.as_ref(), &signed.user).await?;
    Ok(see_other("/account?notice=email-sent"))
}
