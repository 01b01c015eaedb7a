//! Passkeys (WebAuthn, ADR 0029): added, renamed and removed on `/account/passkeys`; used to sign
//! in instead of a password (`/login/passkey`: discoverable credentials, no username typed) or
//! as the second step after one (`/login/second-factor/passkey`).
//!
//! Each use is a *ceremony* in two requests from `/passkey.js`: the options (a fresh challenge;
//! the library's server state waits in `passkey_ceremonies`, named by the hash of a random
//! HttpOnly cookie, five minutes), then the browser's answer, which *takes* the ceremony — one
//! answer per challenge, whichever instance gets it — and is checked by
//! [`crate::webauthn::RelyingParty`] (origin, RP ID, challenge, user presence and verification,
//! signature, counters). A sign-in ceremony can be started by anyone, so each counts against
//! the address's bound on waiting rows (`tessera_core::pending_limit`), like a waiting
//! authorization request; a user's registration or second-step ceremony replaces their waiting
//! one, so those are one row per user. Both requests are JSON posts carrying the page's CSRF token.
//!
//! Every answer is JSON: `{"redirect": …}` (the page goes there; the sessions' cookies ride on
//! the answer) or `{"error": …, "error_description": …}` with 400 (not a WebAuthn answer), 401
//! (refused), 403 (CSRF), 404 (no passkeys on this server), 409 (limit or duplicate), 429 (too
//! many waiting ceremonies) or 503 (store; safe to retry).

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
    amr::{Amr, KeyKind},
    secret::{PlainToken, SecretKind, TokenHash},
    sign_in::Admission,
    store::{
        MAX_PASSKEYS_PER_USER, PasskeyCeremony, PasskeyPurpose, PasskeyRecord, SecondFactorRepo,
        StoreError, UserRecord,
    },
};
use tessera_web::{
    PageError,
    audit::Audit,
    client_address::ClientAddress,
    csrf::{CsrfToken, csrf_valid},
    form::CsrfForm,
    session::is_local_path,
};

use crate::{
    account::{AccountState, audit, see_other, signed_in_at},
    login::{LoginState, start_sessions},
    webauthn::{PasskeyError, RelyingParty, UsedPasskey, new_user_handle},
};

/// The passkeys page.
pub const PAGE: &str = "/account/passkeys";
/// The script the passkey forms run.
pub const SCRIPT_PATH: &str = "/passkey.js";
/// The script.
pub const SCRIPT: &str = include_str!("passkey.js");
/// How long a ceremony waits for the browser's answer (the options' own timeout).
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// The ceremony cookie (over http).
pub const CEREMONY_COOKIE: &str = "tessera_passkey";
/// The ceremony cookie with an https issuer.
pub const SECURE_CEREMONY_COOKIE: &str = "__Host-tessera_passkey";
/// The largest answer read (a registration with an RSA key and every transport is ~2 KiB).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The longest passkey name kept.
pub const MAX_NAME_CHARS: usize = 64;

/// `GET /passkey.js`.
pub async fn get_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(SCRIPT)
}

/// The first request of a ceremony: only the CSRF token.
#[derive(Debug, Deserialize)]
struct Begin {
    csrf_token: Option<String>,
}

/// The browser's answer.
#[derive(Debug, Deserialize)]
struct Answer {
    csrf_token: Option<String>,
    return_to: Option<String>,
    name: Option<String>,
    credential: serde_json::Value,
}

/// A JSON refusal.
fn refusal(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": error, "error_description": description }));
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

fn unavailable(err: &StoreError) -> HttpResponse {
    tracing::error!(error = %err, "passkeys: store unavailable");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "Passkeys are unavailable for a moment; please try again.",
    )
}

fn not_offered() -> HttpResponse {
    refusal(
        StatusCode::NOT_FOUND,
        "not_offered",
        "This server does not offer passkeys (its address is not a domain name).",
    )
}

fn forbidden() -> HttpResponse {
    refusal(
        StatusCode::FORBIDDEN,
        "csrf",
        "This page expired; reload it and try again.",
    )
}

fn refused(err: &PasskeyError) -> HttpResponse {
    match err {
        PasskeyError::Malformed(detail) => {
            tracing::info!(detail = %detail, "passkeys: unreadable answer");
            let description = format!("The browser's answer could not be read: {detail}");
            refusal(StatusCode::BAD_REQUEST, "invalid_request", &description)
        }
        PasskeyError::Refused(detail) => {
            tracing::info!(detail = %detail, "passkeys: answer refused");
            refusal(
                StatusCode::UNAUTHORIZED,
                "access_denied",
                "That passkey was not accepted.",
            )
        }
        PasskeyError::Stored(what) => {
            tracing::error!(what, "passkeys: stored data unreadable");
            refusal(
                StatusCode::UNAUTHORIZED,
                "access_denied",
                "That passkey can not be used; remove it and add it again.",
            )
        }
    }
}

fn gone() -> HttpResponse {
    refusal(
        StatusCode::UNAUTHORIZED,
        "expired",
        "That took too long or was already answered; please try again.",
    )
}

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_CEREMONY_COOKIE
    } else {
        CEREMONY_COOKIE
    }
}

fn ceremony_cookie(secure: bool, value: &str, max_age: i64) -> Cookie<'static> {
    Cookie::build(cookie_name(secure), value.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// Why a JSON post was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unread {
    /// Larger than [`MAX_ANSWER_BYTES`].
    TooLarge,
    /// Not the JSON the endpoint reads.
    NotJson,
    /// The CSRF token is missing or wrong.
    Csrf,
    /// This server offers no passkeys.
    NotOffered,
}

impl Unread {
    fn response(self) -> HttpResponse {
        match self {
            Self::TooLarge => refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "The answer is too large.",
            ),
            Self::NotJson => refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is not the JSON this endpoint reads.",
            ),
            Self::Csrf => forbidden(),
            Self::NotOffered => not_offered(),
        }
    }
}

/// A JSON post that carries the page's CSRF token.
trait CarriesCsrf {
    fn csrf_token(&self) -> Option<&str>;
}

impl CarriesCsrf for Begin {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

impl CarriesCsrf for Answer {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// Reads a JSON body of at most [`MAX_ANSWER_BYTES`] whose CSRF token is right, for a server
/// that offers passkeys (`rp`): the body and the relying party.
fn accepted<'a, T: serde::de::DeserializeOwned + CarriesCsrf>(
    req: &HttpRequest,
    body: &[u8],
    rp: &'a Option<RelyingParty>,
) -> Result<(T, &'a RelyingParty), Unread> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(Unread::TooLarge);
    }
    let read: T = serde_json::from_slice(body).map_err(|_| Unread::NotJson)?;
    if !csrf_valid(req, read.csrf_token()) {
        return Err(Unread::Csrf);
    }
    rp.as_ref().map(|rp| (read, rp)).ok_or(Unread::NotOffered)
}

/// Stores a ceremony and answers with its options and cookie.
async fn begin(
    factors: &dyn SecondFactorRepo,
    now: chrono::DateTime<chrono::Utc>,
    secure: bool,
    purpose: PasskeyPurpose,
    user: Option<&UserRecord>,
    (state, options): (String, serde_json::Value),
) -> HttpResponse {
    let id = PlainToken::generate(SecretKind::PasskeyCeremony);
    let ceremony = PasskeyCeremony {
        id_hash: id.hash(),
        purpose,
        user_id: user.map(|u| u.id.clone()),
        state,
        expires_at: now + CEREMONY_TTL,
    };
    if let Err(err) = factors.create_passkey_ceremony(&ceremony).await {
        return unavailable(&err);
    }
    let mut response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "options": options }));
    let cookie = ceremony_cookie(secure, id.expose(), CEREMONY_TTL.num_seconds());
    response.add_cookie(&cookie).ok();
    response
}

/// Takes the ceremony behind the browser's cookie, if it is live and for `purpose` (and, when
/// `user` is given, for that user).
async fn take(
    req: &HttpRequest,
    factors: &dyn SecondFactorRepo,
    now: chrono::DateTime<chrono::Utc>,
    secure: bool,
    purpose: PasskeyPurpose,
) -> Result<Option<PasskeyCeremony>, StoreError> {
    let Some(cookie) = req.cookie(cookie_name(secure)) else {
        return Ok(None);
    };
    let taken = factors
        .take_passkey_ceremony(&TokenHash::of(cookie.value()), now)
        .await?;
    Ok(taken.filter(|c| c.purpose == purpose))
}

/// `response` (a redirect that signs in, with its cookies) as the JSON the script follows, with
/// the ceremony cookie removed.
fn finished(response: HttpResponse, secure: bool, target: &str) -> HttpResponse {
    let mut answer = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "redirect": target }));
    for cookie in response.cookies() {
        answer.add_cookie(&cookie).ok();
    }
    let mut removal = ceremony_cookie(secure, "", 0);
    removal.make_removal();
    answer.add_cookie(&removal).ok();
    answer
}

fn local(target: Option<&str>, fallback: &'static str) -> String {
    target
        .filter(|t| is_local_path(t))
        .unwrap_or(fallback)
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// /account/passkeys

struct PasskeyRow {
    id: String,
    name: String,
    kind: &'static str,
    added: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "passkeys.html")]
struct PasskeysPage<'a> {
    csrf_token: &'a str,
    username: &'a str,
    return_to: &'a str,
    offered: bool,
    rp_id: &'a str,
    passkeys: Vec<PasskeyRow>,
    full: bool,
    notice: Option<&'static str>,
    error: Option<&'static str>,
}

/// `GET /account/passkeys` parameters.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    return_to: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "added" => "The passkey was added. You can sign in with it now.",
        "renamed" => "The passkey was renamed.",
        "removed" => "The passkey was removed.",
        _ => return None,
    })
}

fn error_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "password" => "The current password is wrong; nothing was changed.",
        "name" => "Give the passkey a name of up to 64 characters.",
        "unknown" => "You have no such passkey.",
        _ => return None,
    })
}

fn row(p: PasskeyRecord) -> PasskeyRow {
    PasskeyRow {
        id: p.credential_id,
        name: p.name,
        kind: if p.synced {
            "synced"
        } else {
            "this device only"
        },
        added: p.created_at.format("%Y-%m-%d").to_string(),
        last_used: p
            .last_used_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never".into()),
    }
}

/// `GET /account/passkeys`.
pub async fn get_passkeys(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    csrf: CsrfToken,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PAGE).await?;
    let passkeys = state.factors.passkeys(&user.user.id).await?;
    let return_to = local(query.return_to.as_deref(), PAGE);
    let page = PasskeysPage {
        csrf_token: &csrf.0,
        username: &user.user.username,
        return_to: &return_to,
        offered: state.relying_party.is_some(),
        rp_id: state
            .relying_party
            .as_ref()
            .map(RelyingParty::rp_id)
            .unwrap_or_default(),
        full: passkeys.len() >= MAX_PASSKEYS_PER_USER,
        passkeys: passkeys.into_iter().map(row).collect(),
        notice: notice_text(query.notice.as_deref()),
        error: error_text(query.error.as_deref()),
    };
    let response = tessera_web::html_page(StatusCode::OK, page.render());
    Ok(tessera_web::headers::allow_own_script(response))
}

/// `POST /account/passkeys/options`: starts adding a passkey.
pub async fn post_register_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PAGE).await?;
    let (_, rp) = match accepted::<Begin>(&req, &body, &state.relying_party) {
        Ok(read) => read,
        Err(bad) => return Ok(bad.response()),
    };
    let existing = state.factors.passkeys(&user.user.id).await?;
    if existing.len() >= MAX_PASSKEYS_PER_USER {
        let full = format!("You have {MAX_PASSKEYS_PER_USER} passkeys; remove one first.");
        return Ok(refusal(StatusCode::CONFLICT, "limit", &full));
    }
    let handle = existing
        .first()
        .map_or_else(new_user_handle, |p| p.user_handle.clone());
    let ids: Vec<String> = existing.into_iter().map(|p| p.credential_id).collect();
    let display = user.user.name.as_deref().unwrap_or(&user.user.username);
    let started = match rp.start_registration(&handle, &user.user.username, display, &ids) {
        Ok(started) => started,
        Err(err) => return Ok(refused(&err)),
    };
    let (now, secure) = (state.clock.now(), state.cookies.secure);
    let purpose = PasskeyPurpose::Register;
    Ok(begin(
        state.factors.as_ref(),
        now,
        secure,
        purpose,
        Some(&user.user),
        started,
    )
    .await)
}

/// The name a passkey is stored under: what the user typed, trimmed, or a default.
fn passkey_name(typed: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let typed = typed.unwrap_or_default().trim();
    if typed.chars().count() > MAX_NAME_CHARS || typed.chars().any(char::is_control) {
        return None;
    }
    Some(match typed {
        "" => format!("Passkey added {}", now.format("%Y-%m-%d")),
        name => name.to_owned(),
    })
}

/// `POST /account/passkeys`: the browser's new passkey, checked and stored.
pub async fn post_register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PAGE).await?;
    let (answer, rp) = match accepted::<Answer>(&req, &body, &state.relying_party) {
        Ok(read) => read,
        Err(bad) => return Ok(bad.response()),
    };
    let now = state.clock.now();
    let Some(name) = passkey_name(answer.name.as_deref(), now) else {
        let long = "Give the passkey a name of up to 64 characters.";
        return Ok(refusal(StatusCode::BAD_REQUEST, "invalid_request", long));
    };
    let secure = state.cookies.secure;
    let factors = state.factors.as_ref();
    let purpose = PasskeyPurpose::Register;
    let ceremony = take(&req, factors, now, secure, purpose).await?;
    let Some(ceremony) = ceremony.filter(|c| c.user_id.as_ref() == Some(&user.user.id)) else {
        return Ok(gone());
    };
    let response = serde_json::to_vec(&answer.credential).unwrap_or_default();
    let new = match rp.finish_registration(&ceremony.state, &response) {
        Ok(new) => new,
        Err(err) => return Ok(refused(&err)),
    };
    let kind = if new.synced {
        KeyKind::Software
    } else {
        KeyKind::Hardware
    };
    let record = PasskeyRecord {
        credential_id: new.credential_id,
        user_id: user.user.id.clone(),
        user_handle: new.user_handle,
        name,
        public_key: new.public_key,
        counters: new.counters,
        synced: new.synced,
        created_at: now,
        last_used_at: None,
    };
    match state.factors.add_passkey(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            let dup = "That passkey is registered already.";
            return Ok(refusal(StatusCode::CONFLICT, "duplicate", dup));
        }
        Err(err) => return Err(err.into()),
    }
    audit(&state, &req, &user, AuditKind::PasskeyAdded, None).await;
    let target = match answer.return_to.as_deref() {
        Some(t) if is_local_path(t) && t != PAGE => t.to_owned(),
        _ => format!("{PAGE}?notice=added"),
    };
    let mut response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "redirect": target }));
    // A passkey used with user verification is a second factor: a session without one (a
    // policy may be waiting for it) is replaced by one signed in with it.
    if !user.session.amr.is_mfa() {
        let amr = Amr::password_and_key(kind);
        crate::two_step::upgrade_sessions(&state, &req, &user, &target, &amr, &mut response)
            .await?;
    }
    Ok(response)
}

/// The rename form.
#[derive(Debug, Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    credential_id: String,
    name: Option<String>,
}

/// `POST /account/passkeys/rename`.
pub async fn post_rename(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<RenameForm>,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PAGE).await?;
    let Some(name) = passkey_name(form.name.as_deref(), state.clock.now()) else {
        return Ok(see_other(&format!("{PAGE}?error=name")));
    };
    let renamed = state
        .factors
        .rename_passkey(&user.user.id, &form.credential_id, &name)
        .await?;
    Ok(see_other(&match renamed {
        true => format!("{PAGE}?notice=renamed"),
        false => format!("{PAGE}?error=unknown"),
    }))
}

/// The remove form.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    credential_id: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /account/passkeys/remove` (the current password needed).
pub async fn post_remove(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<RemoveForm>,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in_at(&req, &state, PAGE).await?;
    if !crate::two_step::password_right(&user, form.current_password).await {
        return Ok(see_other(&format!("{PAGE}?error=password")));
    }
    let removed = state
        .factors
        .remove_passkey(&user.user.id, &form.credential_id)
        .await?;
    if !removed {
        return Ok(see_other(&format!("{PAGE}?error=unknown")));
    }
    audit(&state, &req, &user, AuditKind::PasskeyRemoved, None).await;
    Ok(see_other(&format!("{PAGE}?notice=removed")))
}

// ---------------------------------------------------------------------------------------------
// Signing in

/// Why a sign-in answer signed nobody in.
enum Failure {
    /// The ceremony is gone (expired, answered already).
    Gone,
    /// Not a passkey of this server (or of this user), or a disabled user.
    Unknown,
    /// The library refused it.
    Refused(PasskeyError),
}

/// Checks a sign-in answer against the ceremony and the stored passkey, and records its use:
/// the passkey's owner and what kind of key it is. `owner`, when given, is the only user whose
/// passkey will do (the second step after a password).
async fn check_answer(
    state: &LoginState,
    rp: &RelyingParty,
    ceremony: &PasskeyCeremony,
    credential: &serde_json::Value,
    owner: Option<&UserRecord>,
) -> Result<Result<(UserRecord, UsedPasskey), Failure>, StoreError> {
    let response = serde_json::to_vec(credential).unwrap_or_default();
    let assertion = match RelyingParty::read_assertion(&response) {
        Ok(assertion) => assertion,
        Err(err) => return Ok(Err(Failure::Refused(err))),
    };
    let Some(stored) = state.factors.find_passkey(&assertion.credential_id).await? else {
        return Ok(Err(Failure::Unknown));
    };
    if stored.user_handle != assertion.user_handle || owner.is_some_and(|o| o.id != stored.user_id)
    {
        return Ok(Err(Failure::Unknown));
    }
    let user = match owner {
        Some(owner) => Some(owner.clone()),
        None => state.users.find_user(&stored.user_id).await?,
    };
    let Some(user) = user.filter(|u| u.enabled) else {
        return Ok(Err(Failure::Unknown));
    };
    let used = match rp.finish_assertion(
        &ceremony.state,
        &assertion,
        &stored.user_handle,
        &stored.public_key,
        &stored.counters,
    ) {
        Ok(used) => used,
        Err(err) => return Ok(Err(Failure::Refused(err))),
    };
    let now = state.clock.now();
    // The write is the check: an answer racing another with the same counters records once.
    let counters = &used.counters;
    let credential_id = &stored.credential_id;
    let previous = &stored.counters;
    if !state
        .factors
        .record_passkey_use(credential_id, previous, counters, now)
        .await?
    {
        return Ok(Err(Failure::Gone));
    }
    Ok(Ok((user, used)))
}

async fn audit_failure(state: &LoginState, req: &HttpRequest, user: Option<&UserRecord>) {
    let details = json!({ "factor": "passkey" });
    let now = state.clock.now();
    match user {
        Some(user) => {
            let audit = Audit {
                user_id: Some(user.id.as_str()),
                details: Some(json!({ "username": user.username, "factor": "passkey" })),
                ..Audit::new(AuditKind::LoginFailed)
            };
            tessera_web::audit::record(state.audit.as_ref(), req, now, audit).await;
        }
        None => {
            // Anyone can send answers: audited in aggregate.
            let audit = Audit {
                details: Some(details),
                ..Audit::new(AuditKind::LoginFailed)
            };
            let sampler = &state.audit_sampler;
            tessera_web::audit::record_sampled(state.audit.as_ref(), sampler, req, now, audit)
                .await;
        }
    }
}

async fn audit_success(state: &LoginState, req: &HttpRequest, user: &UserRecord, amr: &Amr) {
    let audit = Audit {
        actor: Some(user.id.to_string()),
        user_id: Some(user.id.as_str()),
        details: Some(json!({ "username": user.username, "amr": amr.values() })),
        ..Audit::new(AuditKind::LoginSucceeded)
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
}

fn failure_response(failure: &Failure) -> HttpResponse {
    match failure {
        Failure::Gone => gone(),
        Failure::Unknown => refusal(
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "That passkey is not registered here. Sign in with your password, then add it.",
        ),
        Failure::Refused(err) => refused(err),
    }
}

/// `POST /login/passkey/options`: starts a sign-in with a passkey.
pub async fn post_sign_in_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let (_, rp) = match accepted::<Begin>(&req, &body, &state.relying_party) {
        Ok(read) => read,
        Err(bad) => return bad.response(),
    };
    let now = state.clock.now();
    let address = ClientAddress::of(&req).to_string();
    match tessera_core::pending_limit::admit(state.throttle.repo(), &address, now).await {
        Ok(Admission::Admitted) => {}
        Ok(Admission::Refused(_)) => {
            let busy = "Too many sign-ins are waiting from your network; try again later.";
            return refusal(StatusCode::TOO_MANY_REQUESTS, "slow_down", busy);
        }
        Err(err) => return unavailable(&err),
    }
    let started = match rp.start_assertion() {
        Ok(started) => started,
        Err(err) => return refused(&err),
    };
    let (secure, purpose) = (state.cookies.secure, PasskeyPurpose::SignIn);
    begin(state.factors.as_ref(), now, secure, purpose, None, started).await
}

/// `POST /login/passkey`: the browser's answer signs its passkey's owner in.
pub async fn post_sign_in(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let (answer, rp) = match accepted::<Answer>(&req, &body, &state.relying_party) {
        Ok(read) => read,
        Err(bad) => return bad.response(),
    };
    let (now, secure) = (state.clock.now(), state.cookies.secure);
    let purpose = PasskeyPurpose::SignIn;
    let ceremony = match take(&req, state.factors.as_ref(), now, secure, purpose).await {
        Ok(Some(ceremony)) => ceremony,
        Ok(None) => return gone(),
        Err(err) => return unavailable(&err),
    };
    let (user, used) = match check_answer(&state, rp, &ceremony, &answer.credential, None).await {
        Ok(Ok(checked)) => checked,
        Ok(Err(failure)) => {
            audit_failure(&state, &req, None).await;
            return failure_response(&failure);
        }
        Err(err) => return unavailable(&err),
    };
    let target = local(answer.return_to.as_deref(), "/");
    let amr = Amr::key(used.kind);
    match start_sessions(&state, &req, &user, &target, &amr).await {
        Ok(response) => {
            audit_success(&state, &req, &user, &amr).await;
            finished(response, secure, &target)
        }
        Err(err) => unavailable(&err),
    }
}

/// `POST /login/second-factor/passkey/options`: after the right password, starts the passkey
/// step for that user.
pub async fn post_second_factor_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let (_, rp) = match accepted::<Begin>(&req, &body, &state.relying_party) {
        Ok(read) => read,
        Err(bad) => return bad.response(),
    };
    let user = match crate::second_factor::challenged_user(&state, &req).await {
        Ok(Some((_, user))) => user,
        Ok(None) => return gone(),
        Err(err) => return unavailable(&err),
    };
    let started = match rp.start_assertion() {
        Ok(started) => started,
        Err(err) => return refused(&err),
    };
    let (now, secure) = (state.clock.now(), state.cookies.secure);
    let purpose = PasskeyPurpose::SecondFactor;
    begin(
        state.factors.as_ref(),
        now,
        secure,
        purpose,
        Some(&user),
        started,
    )
    .await
}

/// `POST /login/second-factor/passkey`: one of the user's passkeys as the second step.
pub async fn post_second_factor(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<LoginState>,
) -> HttpResponse {
    let (answer, rp) = match accepted::<Answer>(&req, &body, &state.relying_party) {
        Ok(read) => read,
        Err(bad) => return bad.response(),
    };
    match second_factor_answer(&state, &req, rp, &answer).await {
        Ok(response) => response,
        Err(err) => unavailable(&err),
    }
}

async fn second_factor_answer(
    state: &LoginState,
    req: &HttpRequest,
    rp: &RelyingParty,
    answer: &Answer,
) -> Result<HttpResponse, StoreError> {
    let Some((challenge, user)) = crate::second_factor::challenged_user(state, req).await? else {
        return Ok(gone());
    };
    let (now, secure) = (state.clock.now(), state.cookies.secure);
    let purpose = PasskeyPurpose::SecondFactor;
    let ceremony = take(req, state.factors.as_ref(), now, secure, purpose).await?;
    let Some(ceremony) = ceremony.filter(|c| c.user_id.as_ref() == Some(&user.id)) else {
        return Ok(gone());
    };
    let used = match check_answer(state, rp, &ceremony, &answer.credential, Some(&user)).await? {
        Ok((_, used)) => used,
        Err(failure) => {
            audit_failure(state, req, Some(&user)).await;
            return Ok(failure_response(&failure));
        }
    };
    // Answered once: a second tab's answer finds the challenge gone.
    if !state.factors.delete_challenge(&challenge.id_hash).await? {
        return Ok(gone());
    }
    let target = local(answer.return_to.as_deref(), "/");
    let amr = Amr::password_and_key(used.kind);
    let response = start_sessions(state, req, &user, &target, &amr).await?;
    audit_success(state, req, &user, &amr).await;
    let mut answer = finished(response, secure, &target);
    answer
        .add_cookie(&crate::second_factor::challenge_removal(state))
        .ok();
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_defaulted() {
        let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        assert_eq!(
            passkey_name(Some("  Laptop "), now).as_deref(),
            Some("Laptop")
        );
        assert_eq!(
            passkey_name(None, now).as_deref(),
            Some("Passkey added 2030-03-17")
        );
        assert!(passkey_name(Some(&"x".repeat(65)), now).is_none());
        assert!(passkey_name(Some("a\u{7}b"), now).is_none());
        assert!(notice_text(Some("<script>")).is_none());
        assert!(error_text(Some("password")).is_some());
    }

    #[test]
    fn oversized_and_junk_bodies_are_refused_before_anything_else() {
        let big = vec![b' '; MAX_ANSWER_BYTES + 1];
        let req = actix_web::test::TestRequest::post().to_http_request();
        let none = None;
        assert_eq!(
            accepted::<Begin>(&req, &big, &none).unwrap_err(),
            Unread::TooLarge
        );
        assert_eq!(
            accepted::<Answer>(&req, b"{\"csrf_token\": 1}", &none).unwrap_err(),
            Unread::NotJson
        );
        assert_eq!(
            accepted::<Begin>(&req, b"{}", &none).unwrap_err(),
            Unread::Csrf,
            "the token is checked before whether passkeys are offered"
        );
        assert_eq!(
            Unread::NotOffered.response().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            Unread::TooLarge.response().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
