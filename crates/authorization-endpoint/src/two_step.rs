//! `/account/two-step`: a user adds an authenticator app (TOTP) as a second factor, sees how many
//! recovery codes are left, renews them, or turns two-step sign-in off.
//!
//! Adding one: *Set up* stores a fresh secret, unconfirmed (a POST, then the page again); the page
//! shows it as a QR code drawn here as SVG and as text to type; the first code from the app
//! confirms it, and only then does it count — with ten recovery codes shown once. Confirming
//! proves the user holds the app, so the browser's session is replaced by one signed in with
//! `pwd otp mfa` (what a policy requiring a second factor waits for). Turning it off and renewing
//! the recovery codes need the current password. With `TESSERA_MFA=off` the page says that
//! two-step sign-in is not offered here.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;
use tessera_core::{
    AuditKind,
    amr::{Amr, MfaPolicy},
    password::verify_password,
    store::SessionKind,
    totp::{TotpSecret, recovery_codes, recovery_hash},
};
use tessera_web::{
    PageError,
    csrf::{CsrfToken, fresh_secret_cookie},
    form::CsrfForm,
    session::{ADMIN_PATH, SignedIn, is_local_path},
};

use crate::account::{AccountState, audit, see_other, signed_in_at};

/// The page's path.
pub const PATH: &str = "/account/two-step";

#[derive(Template)]
#[template(path = "two_step.html")]
struct TwoStepPage<'a> {
    csrf_token: &'a str,
    username: &'a str,
    return_to: &'a str,
    offered: bool,
    required: bool,
    error: Option<&'a str>,
    /// Confirmed: since when, and the recovery codes left.
    active: Option<(String, u64)>,
    /// Set up but not confirmed: the QR code (SVG) and the secret to type.
    pending: Option<(String, String)>,
    /// Whether passkeys are offered (the page points to them).
    passkeys_offered: bool,
    /// `return_to`, URL-encoded for the link to the passkeys page.
    return_to_encoded: String,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    codes: &'a [String],
    return_to: &'a str,
}

/// `GET /account/two-step` parameters.
#[derive(Debug, Deserialize)]
pub struct TwoStepQuery {
    return_to: Option<String>,
    required: Option<String>,
    error: Option<String>,
}

/// A form that carries only where to go afterwards.
#[derive(Debug, Deserialize)]
pub struct ReturnForm {
    return_to: Option<String>,
}

/// The confirmation form.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    return_to: Option<String>,
    #[serde(default)]
    code: String,
}

/// A form that needs the current password.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
}

fn local(target: Option<&str>) -> &str {
    target.filter(|t| is_local_path(t)).unwrap_or("/account")
}

fn page_with(return_to: &str, error: &str) -> String {
    format!(
        "{PATH}?error={error}&return_to={}",
        crate::login::encode(return_to)
    )
}

fn error_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "code" => "That code is not right. Type the 6 digits your app shows now.",
        "password" => "The current password is wrong; nothing was changed.",
        "active" => "Two-step sign-in is on already.",
        _ => return None,
    })
}

/// The QR code of `uri` as an SVG element for inline HTML.
pub fn qr_svg(uri: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(uri.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in HTML: without the XML declaration.
    match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    }
}

/// The user's app as the page shows it: confirmed (since when, recovery codes left), or set up
/// and waiting for its first code (the QR code and the key).
async fn factor_view(
    state: &AccountState,
    user: &SignedIn,
) -> Result<(Option<(String, u64)>, Option<(String, String)>), PageError> {
    Ok(match state.factors.find_totp(&user.user.id).await? {
        Some(f) if f.confirmed_at.is_some() => {
            let since = f
                .confirmed_at
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let left = state.factors.unused_recovery_codes(&user.user.id).await?;
            (Some((since, left)), None)
        }
        Some(f) => {
            let uri = f
                .secret
                .otpauth_uri(&state.issuer_label, &user.user.username);
            (None, Some((qr_svg(&uri), f.secret.grouped())))
        }
        None => (None, None),
    })
}

/// `GET /account/two-step`.
pub async fn get_two_step(
    req: HttpRequest,
    query: web::Query<TwoStepQuery>,
    csrf: CsrfToken,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PATH).await?;
    let return_to = local(query.return_to.as_deref());
    let offered = state.mfa != MfaPolicy::Off;
    let (active, pending) = match offered {
        true => factor_view(&state, &user).await?,
        false => (None, None),
    };
    let required = query.required.is_some() || state.mfa == MfaPolicy::Required;
    let page = TwoStepPage {
        csrf_token: &csrf.0,
        username: &user.user.username,
        return_to,
        offered,
        required: required || user.user.mfa_required,
        error: error_text(query.error.as_deref()),
        active,
        pending,
        passkeys_offered: offered && state.relying_party.is_some(),
        return_to_encoded: crate::login::encode(return_to),
    };
    let mut response = tessera_web::html_page(StatusCode::OK, page.render());
    // The secret is on this page: never cached.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `POST /account/two-step/start`: a fresh secret, unconfirmed (replacing an unconfirmed one).
pub async fn post_start(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<ReturnForm>,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PATH).await?;
    let return_to = local(form.return_to.as_deref());
    if state.mfa == MfaPolicy::Off {
        return Ok(see_other(PATH));
    }
    let secret = TotpSecret::generate();
    let now = state.clock.now();
    match state.factors.begin_totp(&user.user.id, &secret, now).await {
        Ok(()) => {}
        Err(tessera_core::store::StoreError::Conflict { .. }) => {
            return Ok(see_other(&page_with(return_to, "active")));
        }
        Err(err) => return Err(err.into()),
    }
    let back = format!("{PATH}?return_to={}", crate::login::encode(return_to));
    Ok(see_other(&back))
}

/// A new user session signed in with `amr` (a second factor just added) in place of the
/// current one (and a new admin session when an admin is headed for the console), and a fresh
/// CSRF secret.
pub(crate) async fn upgrade_sessions(
    state: &AccountState,
    req: &HttpRequest,
    user: &SignedIn,
    return_to: &str,
    amr: &Amr,
    response: &mut HttpResponse,
) -> Result<(), PageError> {
    let ended = state.sessions.end(req, SessionKind::User).await?;
    response.add_cookie(&ended).ok();
    let fresh = state
        .sessions
        .start(req, &user.user, SessionKind::User, amr)
        .await?;
    response.add_cookie(&fresh).ok();
    if user.user.is_admin && return_to.starts_with(ADMIN_PATH) {
        let admin = state
            .sessions
            .start(req, &user.user, SessionKind::Admin, amr)
            .await?;
        response.add_cookie(&admin).ok();
    }
    response
        .add_cookie(&fresh_secret_cookie(&state.cookies))
        .ok();
    Ok(())
}

fn recovery_page(codes: &[String], return_to: &str) -> HttpResponse {
    let page = RecoveryCodesPage { codes, return_to };
    let mut response = tessera_web::html_page(StatusCode::OK, page.render());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `POST /account/two-step/confirm`: the first code from the app turns two-step sign-in on; the
/// recovery codes are shown once.
pub async fn post_confirm(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<ConfirmForm>,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PATH).await?;
    let return_to = local(form.return_to.as_deref());
    let now = state.clock.now();
    let factor = state.factors.find_totp(&user.user.id).await?;
    let step = factor
        .filter(|f| f.confirmed_at.is_none())
        .and_then(|f| f.secret.verify(&form.code, now, None));
    let Some(step) = step else {
        return Ok(see_other(&page_with(return_to, "code")));
    };
    let codes = recovery_codes();
    let hashes: Vec<_> = codes.iter().map(|c| recovery_hash(c)).collect();
    let sub = &user.user.id;
    if !state.factors.confirm_totp(sub, step, &hashes, now).await? {
        return Ok(see_other(&page_with(return_to, "active")));
    }
    audit(&state, &req, &user, AuditKind::SecondFactorAdded, None).await;
    let mut response = recovery_page(&codes, return_to);
    let amr = Amr::password_and_otp();
    upgrade_sessions(&state, &req, &user, return_to, &amr, &mut response).await?;
    Ok(response)
}

/// The signed-in user, when the form's current password is theirs (argon2, off the async
/// executor); otherwise the page again, saying so.
async fn with_password(
    req: &HttpRequest,
    state: &AccountState,
    form: PasswordForm,
) -> Result<Result<SignedIn, HttpResponse>, PageError> {
    let user = signed_in_at(req, state, PATH).await?;
    Ok(match password_right(&user, form.current_password).await {
        true => Ok(user),
        false => Err(see_other(&format!("{PATH}?error=password"))),
    })
}

/// Whether `password` is the signed-in user's (argon2, off the async executor).
pub(crate) async fn password_right(user: &SignedIn, password: String) -> bool {
    let stored = user.user.password_hash.clone();
    tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .unwrap_or(false)
}

/// `POST /account/two-step/remove`: turns two-step sign-in off (the current password needed).
pub async fn post_remove(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<PasswordForm>,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = match with_password(&req, &state, form).await? {
        Ok(user) => user,
        Err(refused) => return Ok(refused),
    };
    if state.factors.remove_totp(&user.user.id).await? {
        audit(&state, &req, &user, AuditKind::SecondFactorRemoved, None).await;
    }
    Ok(see_other("/account?notice=two-step-off"))
}

/// `POST /account/two-step/recovery`: ten new recovery codes, the old ones void (the current
/// password needed).
pub async fn post_recovery(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<PasswordForm>,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = match with_password(&req, &state, form).await? {
        Ok(user) => user,
        Err(refused) => return Ok(refused),
    };
    let active = state
        .factors
        .find_totp(&user.user.id)
        .await?
        .is_some_and(|f| f.confirmed_at.is_some());
    if !active {
        return Ok(see_other(PATH));
    }
    let codes = recovery_codes();
    let hashes: Vec<_> = codes.iter().map(|c| recovery_hash(c)).collect();
    let now = state.clock.now();
    state
        .factors
        .replace_recovery_codes(&user.user.id, &hashes, now)
        .await?;
    let kind = AuditKind::SecondFactorRecoveryRenewed;
    audit(&state, &req, &user, kind, None).await;
    Ok(recovery_page(&codes, PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_inline_svg_without_script_or_style() {
        let secret = TotpSecret::generate();
        let svg = qr_svg(&secret.otpauth_uri("Tessera", "alice"));
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for forbidden in ["<script", "style=", "<?xml", "href"] {
            assert!(!svg.contains(forbidden), "{forbidden}");
        }
    }

    #[test]
    fn return_targets_stay_local() {
        assert_eq!(
            local(Some("/authorize/resume?request=x")),
            "/authorize/resume?request=x"
        );
        assert_eq!(local(Some("https://evil.example/")), "/account");
        assert_eq!(local(None), "/account");
        assert!(error_text(Some("code")).is_some());
        assert!(error_text(Some("<script>")).is_none());
    }
}
