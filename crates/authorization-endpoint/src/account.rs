//! `/account`: the signed-in user's devices (browser sessions) and the apps they allowed, each
//! revocable, their recent security events (`crate::signals`, and factors added or removed), their email address (changed and
//! confirmed through `crate::email_verification`), two-step sign-in (`crate::two_step`), and a
//! password change that signs out the other devices and revokes the grants (refresh-token
//! families) they obtained.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;
use tessera_core::AuditKind;
use tessera_core::amr::MfaPolicy;
use tessera_core::{
    ClientId, Clock,
    password::{hash_password, verify_password},
    secret::TokenHash,
    store::{
        AuditRepo, BrowserSessionRecord, ClientRepo, ConsentRepo, GrantAdminRepo, SecondFactorRepo,
        SessionKind, SessionRepo, UserRepo,
    },
};
use tessera_web::{
    PageError,
    audit::Audit,
    csrf::{CookieSettings, CsrfToken},
    form::CsrfForm,
    session::{Sessions, SignedIn},
};

/// What the account page needs.
#[derive(Clone)]
pub struct AccountState {
    /// Session handling.
    pub sessions: Sessions,
    /// Session rows.
    pub session_rows: Arc<dyn SessionRepo>,
    /// Users.
    pub users: Arc<dyn UserRepo>,
    /// Consents.
    pub consents: Arc<dyn ConsentRepo>,
    /// Clients (for names).
    pub clients: Arc<dyn ClientRepo>,
    /// Grants.
    pub grants: Arc<dyn GrantAdminRepo>,
    /// Audit log.
    pub audit: Arc<dyn AuditRepo>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Second factors (`/account/two-step`).
    pub factors: Arc<dyn SecondFactorRepo>,
    /// The second-factor policy (`TESSERA_MFA`).
    pub mfa: MfaPolicy,
    /// The name authenticator apps show beside the account (the issuer's host).
    pub issuer_label: String,
    /// Cookie names and flags (a session upgraded after adding a factor gets a fresh CSRF secret).
    pub cookies: CookieSettings,
    /// The WebAuthn relying party (`None`: the issuer is an IP address, no passkeys).
    pub relying_party: Option<crate::webauthn::RelyingParty>,
}

impl std::fmt::Debug for AccountState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountState").finish_non_exhaustive()
    }
}

struct SessionRow {
    id: String,
    device: String,
    ip: String,
    created: String,
    last_seen: String,
    current: bool,
}

struct EventRow {
    when: String,
    what: String,
}

impl EventRow {
    /// A signal event in words, or `None` for any other event.
    fn of(event: &tessera_core::store::AuditEvent) -> Option<Self> {
        let d = &event.details;
        let text = |key: &str| d[key].as_str().unwrap_or("?").to_owned();
        let what = match event.kind.as_str() {
            "login.new_device" => format!(
                "Signed in from a device not seen before: {}, network {}.",
                text("device"),
                text("network")
            ),
            "login.network_changed" => format!(
                "Signed in from network {} shortly after a sign-in from {} ({}).",
                text("network"),
                text("from"),
                text("device")
            ),
            "refresh_token.burst" => format!(
                "An app renewed its access {} times within {} seconds{}.",
                d["refreshes"],
                d["within_seconds"],
                event
                    .client_id
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
            "passkey.added" => "A passkey was added to your account.".to_owned(),
            "passkey.removed" => "A passkey was removed from your account.".to_owned(),
            "second_factor.added" => {
                "Two-step sign-in with an authenticator app was turned on.".to_owned()
            }
            "second_factor.removed" => {
                "Two-step sign-in with an authenticator app was turned off.".to_owned()
            }
            _ => return None,
        };
        Some(Self {
            when: event.occurred_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            what,
        })
    }
}

/// The most security events the account page lists.
const EVENTS_SHOWN: usize = 10;

struct AppRow {
    client_id: String,
    name: String,
    scopes: String,
    since: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf_token: &'a str,
    username: &'a str,
    notice: Option<&'a str>,
    sessions: Vec<SessionRow>,
    apps: Vec<AppRow>,
    /// Recent signals about the account (new device, change of network, refresh bursts).
    events: Vec<EventRow>,
    /// The address on the account, and whether it is verified.
    email: Option<(String, bool)>,
    /// Whether email is set up (a link can verify the address).
    email_offered: bool,
    /// Whether second factors are offered here.
    two_step_offered: bool,
    /// Whether this user's two-step sign-in is on.
    two_step_on: bool,
    /// Whether passkeys are offered here.
    passkeys_offered: bool,
    /// How many passkeys the user has.
    passkeys: usize,
}

/// `?notice=`.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The signed-in user, or the sign-in page (a GET) or a 403 (a POST whose session ended).
async fn signed_in(req: &HttpRequest, state: &AccountState) -> Result<SignedIn, PageError> {
    signed_in_at(req, state, "/account").await
}

/// [`signed_in`] for a page at `path` (where the sign-in page comes back to).
pub(crate) async fn signed_in_at(
    req: &HttpRequest,
    state: &AccountState,
    path: &str,
) -> Result<SignedIn, PageError> {
    match state.sessions.current(req, SessionKind::User).await? {
        Some(user) => Ok(user),
        None if req.method() == actix_web::http::Method::GET => Err(PageError::SignIn {
            return_to: path.into(),
        }),
        None => Err(PageError::SignedOut),
    }
}

pub(crate) async fn audit(
    state: &AccountState,
    req: &HttpRequest,
    user: &SignedIn,
    kind: tessera_core::AuditKind,
    client: Option<&str>,
) {
    let audit = Audit {
        kind,
        actor: Some(user.user.id.to_string()),
        client_id: client,
        user_id: Some(user.user.id.as_str()),
        details: None,
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "signed-out" => "That device is signed out.",
        "removed" => "The app no longer has access.",
        "password" => "Your password was changed; your other devices are signed out.",
        "wrong-password" => "The current password is wrong; nothing was changed.",
        "weak-password" => "The new password must have at least 8 characters.",
        "two-step-off" => "Two-step sign-in is off. Your password alone signs you in now.",
        "email-sent" => "We sent a link to your address; open it to confirm the address.",
        "email-changed" => "Your address was changed.",
        "email-verified" => "Your email address is confirmed.",
        "bad-email" => "That does not look like an email address; nothing was changed.",
        _ => return None,
    })
}

impl SessionRow {
    fn of(session: BrowserSessionRecord, current: &SignedIn) -> Self {
        Self {
            current: session.id_hash == current.session.id_hash,
            id: session.id_hash.as_str().to_owned(),
            device: session
                .user_agent
                .unwrap_or_else(|| "unknown device".into()),
            ip: session.ip.unwrap_or_default(),
            created: session.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_seen: session
                .last_seen_at
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
        }
    }
}

/// The apps the user allowed, by name.
async fn apps_of(state: &AccountState, user: &SignedIn) -> Result<Vec<AppRow>, PageError> {
    let apps = tessera_core::store::allowed_apps(
        state.consents.as_ref(),
        state.clients.as_ref(),
        &user.user.id,
    )
    .await?;
    Ok(apps
        .into_iter()
        .map(|app| AppRow {
            client_id: app.client_id.to_string(),
            name: app.name,
            scopes: app.scopes.join(" "),
            since: app.since.format("%Y-%m-%d").to_string(),
        })
        .collect())
}

/// The user's latest security events, in words.
async fn events_of(state: &AccountState, user: &SignedIn) -> Result<Vec<EventRow>, PageError> {
    let events = state
        .audit
        .recent_events(None, Some(user.user.id.as_str()), 200)
        .await?;
    Ok(events
        .iter()
        .filter_map(EventRow::of)
        .take(EVENTS_SHOWN)
        .collect())
}

/// `GET /account`.
pub async fn get_account(
    req: HttpRequest,
    query: web::Query<NoticeQuery>,
    csrf: CsrfToken,
    state: web::Data<AccountState>,
    email: web::Data<crate::mail::EmailState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in(&req, &state).await?;
    let now = state.clock.now();
    let sessions = state
        .session_rows
        .list_user_sessions(&user.user.id, now)
        .await?;
    let page = AccountPage {
        csrf_token: &csrf.0,
        username: &user.user.username,
        notice: notice(query.notice.as_deref()),
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow::of(s, &user))
            .collect(),
        apps: apps_of(&state, &user).await?,
        events: events_of(&state, &user).await?,
        email: user
            .user
            .email
            .clone()
            .map(|e| (e, user.user.email_verified)),
        email_offered: email.mailer.is_some(),
        two_step_offered: state.mfa != MfaPolicy::Off,
        two_step_on: state.mfa != MfaPolicy::Off
            && state
                .factors
                .find_totp(&user.user.id)
                .await?
                .is_some_and(|f| f.confirmed_at.is_some()),
        passkeys_offered: state.relying_party.is_some(),
        passkeys: state.factors.passkeys(&user.user.id).await?.len(),
    };
    Ok(tessera_web::html_page(StatusCode::OK, page.render()))
}

/// `POST /account/sessions/{id}/revoke`: ends one of the user's sessions and what it issued
/// (offline grants survive).
pub async fn post_revoke_session(
    req: HttpRequest,
    path: web::Path<String>,
    _: CsrfForm,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in(&req, &state).await?;
    let now = state.clock.now();
    let hash = TokenHash::from_stored(path.into_inner());
    // Only the user's own sessions: look it up and check the owner before ending it.
    match state.session_rows.find_session(&hash).await? {
        Some(session) if session.user_id == user.user.id => {}
        _ => return Ok(see_other("/account")),
    }
    state.session_rows.end_session(&hash, now).await?;
    let reason = "device signed out";
    state
        .grants
        .revoke_session_grants(&hash, false, reason, now)
        .await?;
    audit(&state, &req, &user, AuditKind::SessionRevoked, None).await;
    if hash == user.session.id_hash {
        return Ok(see_other("/login?return_to=%2Faccount"));
    }
    Ok(see_other("/account?notice=signed-out"))
}

/// `POST /account/apps/{client_id}/revoke`: forgets the consent and revokes the app's grants.
pub async fn post_revoke_app(
    req: HttpRequest,
    path: web::Path<String>,
    _: CsrfForm,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in(&req, &state).await?;
    let client = ClientId::new(path.into_inner());
    let (sub, now) = (&user.user.id, state.clock.now());
    state.consents.delete_consent(sub, &client).await?;
    let reason = "access removed by the user";
    state
        .grants
        .revoke_user_client_grants(sub, &client, reason, now)
        .await?;
    let kind = AuditKind::ConsentRevoked;
    audit(&state, &req, &user, kind, Some(client.as_str())).await;
    Ok(see_other("/account?notice=removed"))
}

/// The password change form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Why a password change was refused (the `?notice=` code the account page explains).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRefusal {
    /// The current password is wrong.
    Wrong,
    /// The new one breaks the password rule.
    Weak,
}

impl PasswordRefusal {
    fn notice(self) -> &'static str {
        match self {
            Self::Wrong => "wrong-password",
            Self::Weak => "weak-password",
        }
    }
}

/// The new password's hash, if `current` is the password hashed as `stored` and `new` keeps the
/// rule (argon2 twice: run it off the async executor).
pub fn new_password_hash(
    current: &str,
    stored: &str,
    new: &str,
) -> Result<String, PasswordRefusal> {
    if !verify_password(current, stored) {
        return Err(PasswordRefusal::Wrong);
    }
    hash_password(new).map_err(|_| PasswordRefusal::Weak)
}

/// `POST /account/password`: needs the current password; ends every other session.
pub async fn post_change_password(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<PasswordForm>,
    state: web::Data<AccountState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in(&req, &state).await?;
    let stored = user.user.password_hash.clone();
    let PasswordForm {
        current_password,
        new_password,
    } = form;
    let checked = tokio::task::spawn_blocking(move || {
        new_password_hash(&current_password, &stored, &new_password)
    })
    .await
    .unwrap_or(Err(PasswordRefusal::Weak));
    let hash = match checked {
        Ok(hash) => hash,
        Err(refusal) => return Ok(see_other(&format!("/account?notice={}", refusal.notice()))),
    };
    let (sub, now) = (&user.user.id, state.clock.now());
    // Only the password column is written: a disable or an admin change made meanwhile stays.
    if !state.users.set_password_hash(sub, &hash, now).await? {
        return Ok(see_other("/login?return_to=%2Faccount"));
    }
    // Every other device is signed out, and what it obtained (grants, so refresh-token
    // families, offline ones included) is revoked; this browser's session and grants stay.
    let this = Some(&user.session.id_hash);
    state.session_rows.end_user_sessions(sub, this, now).await?;
    let reason = "password changed";
    state
        .grants
        .revoke_user_grants(sub, this, reason, now)
        .await?;
    audit(&state, &req, &user, AuditKind::UserPasswordChanged, None).await;
    Ok(see_other("/account?notice=password"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_change_needs_the_current_password_and_a_good_new_one() {
        let stored = hash_password("the current password").unwrap();
        let changed = new_password_hash("the current password", &stored, "a new passphrase");
        assert!(verify_password("a new passphrase", &changed.unwrap()));
        let wrong = new_password_hash("not it at all", &stored, "a new passphrase");
        assert_eq!(wrong, Err(PasswordRefusal::Wrong));
        let weak = new_password_hash("the current password", &stored, "short");
        assert_eq!(weak, Err(PasswordRefusal::Weak));
        assert_eq!(
            [
                PasswordRefusal::Wrong.notice(),
                PasswordRefusal::Weak.notice()
            ]
            .map(|code| notice(Some(code)).is_some()),
            [true, true],
            "the account page explains both"
        );
    }
}
