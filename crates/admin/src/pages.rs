//! Registration tokens, users, signing keys and the audit log.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use tessera_core::{
    SigningAlg, Subject,
    password::hash_password,
    secret::random_id,
    store::{StoreError, UserRecord},
    username::Username,
};

use crate::ops::registration_tokens::{self, NewToken, TokenOpError};

use super::{
    Admin, AdminForm, AdminPage, AdminState, PageQuery, SensitiveForm, clients::ShownOncePage,
    field, html, notice, see_other, unavailable,
};

pub(crate) struct TokenRow {
    id: String,
    description: String,
    uses: String,
    expires: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    registration_endpoint: String,
    tokens: Vec<TokenRow>,
}

/// `GET /admin/registration-tokens`.
pub(crate) async fn get_tokens(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let tokens = match state.tokens.list_initial_access_tokens().await {
        Ok(tokens) => tokens,
        Err(err) => return unavailable(&err),
    };
    let now = state.clock.now();
    let page = TokensPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        registration_endpoint: state
            .issuer
            .endpoint(tessera_client_registry::REGISTRATION_PATH),
        tokens: tokens
            .iter()
            .map(|t| TokenRow {
                id: registration_tokens::id_of(&t.token_hash).to_owned(),
                description: t.description.clone().unwrap_or_default(),
                uses: t
                    .uses_remaining
                    .map_or_else(|| "unlimited".into(), |u| u.to_string()),
                expires: t.expires_at.map_or_else(
                    || "never".into(),
                    |e| e.format("%Y-%m-%d %H:%M UTC").to_string(),
                ),
                state: t.state(now),
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}

/// `POST /admin/registration-tokens`: the token is shown once.
pub(crate) async fn post_create_token(
    req: HttpRequest,
    AdminForm { admin, form }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    // A number that does not parse is refused like one out of bounds.
    let number = |name: &str| -> Result<Option<i64>, ()> {
        match field(&form, name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| ()),
        }
    };
    let (Ok(uses), Ok(expires_in)) = (number("uses"), number("expires_in")) else {
        return see_other("/admin/registration-tokens?notice=invalid");
    };
    let new = NewToken {
        uses,
        expires_in,
        description: field(&form, "description").map(str::to_owned),
        created_by: format!("admin:{}", admin.user.username),
    };
    let token =
        match registration_tokens::create(state.tokens.as_ref(), new, state.clock.now()).await {
            Ok((token, _)) => token,
            Err(TokenOpError::Store(err)) => return unavailable(&err),
            Err(_) => return see_other("/admin/registration-tokens?notice=invalid"),
        };
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::RegistrationTokenCreated,
        None,
        None,
    )
    .await;
    let page = ShownOncePage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: None,
        title: "Initial access token created",
        label: "Give this to the app that will register itself, as a bearer token for the registration endpoint:",
        value: token.expose(),
        back: "/admin/registration-tokens",
    };
    html(StatusCode::OK, page.render())
}

/// `POST /admin/registration-tokens/{id}/revoke` (id: at least the first 12 hex digits of the
/// hash; see [`registration_tokens::find`]).
pub(crate) async fn post_revoke_token(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    match registration_tokens::revoke(state.tokens.as_ref(), &path, state.clock.now()).await {
        Ok(_) => {}
        Err(TokenOpError::Store(err)) => return unavailable(&err),
        Err(_) => return see_other("/admin/registration-tokens?notice=invalid"),
    }
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::RegistrationTokenRevoked,
        None,
        None,
    )
    .await;
    see_other("/admin/registration-tokens?notice=revoked")
}

pub(crate) struct UserRow {
    id: String,
    username: String,
    email: String,
    is_admin: bool,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    query: &'a str,
    users: Vec<UserRow>,
}

/// `GET /admin/users`.
pub(crate) async fn get_users(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let users = match state.users.list_users(query.q.as_deref(), 500).await {
        Ok(users) => users,
        Err(err) => return unavailable(&err),
    };
    let page = UsersPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        query: query.q.as_deref().unwrap_or_default(),
        users: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.into_inner(),
                username: u.username,
                email: u.email.unwrap_or_default(),
                is_admin: u.is_admin,
                enabled: u.enabled,
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}

async fn hash_off_executor(password: String) -> Option<String> {
    tokio::task::spawn_blocking(move || hash_password(&password).ok())
        .await
        .ok()
        .flatten()
}

/// `POST /admin/users`.
pub(crate) async fn post_create_user(
    req: HttpRequest,
    AdminForm { admin, form }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let Ok(username) = Username::parse(field(&form, "username").unwrap_or_default()) else {
        return see_other("/admin/users?notice=invalid");
    };
    let username = username.into_string();
    let Some(hash) =
        hash_off_executor(field(&form, "password").unwrap_or_default().to_owned()).await
    else {
        return see_other("/admin/users?notice=invalid");
    };
    let user = UserRecord {
        id: Subject::new(random_id()),
        username,
        password_hash: hash,
        email: field(&form, "email")
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned),
        email_verified: false,
        name: None,
        is_admin: field(&form, "is_admin") == Some("on"),
        enabled: true,
        created_at: state.clock.now(),
    };
    match state.users.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return see_other("/admin/users?notice=invalid"),
        Err(err) => return unavailable(&err),
    }
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::UserCreated,
        None,
        Some(user.id.as_str()),
    )
    .await;
    see_other("/admin/users?notice=created")
}

/// What an admin changes about a user: each writes only its own column.
enum UserChange {
    ToggleEnabled,
    ToggleAdmin,
    Password(String),
}

/// Applies `change` to user `id` (never to the acting admin's own enabled/admin flags). A
/// password reset or a disable ends every session of the user and revokes their grants (and so
/// their refresh tokens).
async fn change_user(
    req: &HttpRequest,
    state: &AdminState,
    admin: &Admin,
    id: &str,
    change: UserChange,
) -> HttpResponse {
    let kind = match change {
        UserChange::ToggleEnabled => tessera_core::AuditKind::UserEnabledChanged,
        UserChange::ToggleAdmin => tessera_core::AuditKind::UserAdminChanged,
        UserChange::Password(_) => tessera_core::AuditKind::UserPasswordReset,
    };
    if admin.user.id.as_str() == id && !matches!(change, UserChange::Password(_)) {
        return see_other("/admin/users?notice=self");
    }
    let subject = Subject::new(id);
    let user = match state.users.find_user(&subject).await {
        Ok(Some(user)) => user,
        Ok(None) => return see_other("/admin/users"),
        Err(err) => return unavailable(&err),
    };
    let now = state.clock.now();
    // (written, sessions end, grants are revoked)
    let (changed, ends_sessions, revokes_grants) = match change {
        UserChange::ToggleEnabled => (
            state
                .users
                .set_user_enabled(&subject, !user.enabled, now)
                .await,
            user.enabled,
            user.enabled,
        ),
        UserChange::ToggleAdmin => (
            state
                .users
                .set_user_admin(&subject, !user.is_admin, now)
                .await,
            user.is_admin,
            false,
        ),
        UserChange::Password(hash) => (
            state.users.set_password_hash(&subject, &hash, now).await,
            true,
            true,
        ),
    };
    match changed {
        Ok(true) => {}
        Ok(false) => return see_other("/admin/users"),
        Err(err) => return unavailable(&err),
    }
    if ends_sessions {
        // Disabling, resetting the password or removing admin rights: nothing signed in with
        // the old standing survives (for an admin removal, the console sessions end too).
        if let Err(err) = state
            .sessions
            .sessions
            .end_user_sessions(&subject, None, now)
            .await
        {
            return unavailable(&err);
        }
        if revokes_grants
            && let Err(err) = state
                .grant_list
                .revoke_user_grants(&subject, None, kind.as_str(), now)
                .await
        {
            return unavailable(&err);
        }
    }
    super::audit(state, req, admin, kind, None, Some(id)).await;
    see_other("/admin/users?notice=updated")
}

/// `POST /admin/users/{id}/toggle-enabled`.
pub(crate) async fn post_toggle_enabled(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    change_user(&req, &state, &admin, &path, UserChange::ToggleEnabled).await
}

/// `POST /admin/users/{id}/toggle-admin` (sensitive).
pub(crate) async fn post_toggle_admin(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, .. }: SensitiveForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    change_user(&req, &state, &admin, &path, UserChange::ToggleAdmin).await
}

/// `POST /admin/users/{id}/password` (sensitive).
pub(crate) async fn post_reset_password(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, form }: SensitiveForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let Some(hash) =
        hash_off_executor(field(&form, "password").unwrap_or_default().to_owned()).await
    else {
        return see_other("/admin/users?notice=invalid");
    };
    change_user(&req, &state, &admin, &path, UserChange::Password(hash)).await
}

pub(crate) struct KeyRow {
    kid: String,
    alg: &'static str,
    state: &'static str,
    activates_at: String,
    retires_at: String,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    activation_delay: i64,
    /// Where the keys live ("the database key store").
    store: String,
    keys: Vec<KeyRow>,
}

/// `GET /admin/keys`.
pub(crate) async fn get_keys(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let now = state.clock.now();
    let ring = state.keys.ring();
    let page = KeysPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        activation_delay: state.key_policy.activation_delay.num_seconds(),
        store: state.keys.store().describe(),
        keys: ring
            .keys()
            .map(|k| {
                let entry = k.entry();
                KeyRow {
                    kid: entry.kid.to_string(),
                    alg: entry.alg.as_str(),
                    state: entry.state(now).as_str(),
                    activates_at: entry.activates_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    retires_at: entry.retires_at.map_or_else(
                        || "-".into(),
                        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
                    ),
                }
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}

/// `POST /admin/keys/rotate`.
pub(crate) async fn post_rotate_key(
    req: HttpRequest,
    SensitiveForm { admin, form }: SensitiveForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let Some(alg) = field(&form, "alg").and_then(|a| a.parse::<SigningAlg>().ok()) else {
        return see_other("/admin/keys?notice=invalid");
    };
    match state.keys.rotate(alg, state.key_policy).await {
        Ok(_) => {
            super::audit(
                &state,
                &req,
                &admin,
                tessera_core::AuditKind::KeyRotated,
                None,
                None,
            )
            .await;
            see_other("/admin/keys?notice=rotated")
        }
        Err(err) => unavailable(&err),
    }
}

pub(crate) struct EventRow {
    at: String,
    kind: String,
    actor: String,
    client: String,
    user: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    client_filter: &'a str,
    user_filter: &'a str,
    events: Vec<EventRow>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    client_id: Option<String>,
    user_id: Option<String>,
}

/// `GET /admin/audit`.
pub(crate) async fn get_audit(
    query: web::Query<AuditQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let client = query
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let user = query
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let events = match state.audit.recent_events(client, user, 200).await {
        Ok(events) => events,
        Err(err) => return unavailable(&err),
    };
    let page = AuditPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: None,
        client_filter: client.unwrap_or_default(),
        user_filter: user.unwrap_or_default(),
        events: events
            .into_iter()
            .map(|e| EventRow {
                at: e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                kind: e.kind,
                actor: e.actor.unwrap_or_default(),
                client: e.client_id.unwrap_or_default(),
                user: e.user_id.unwrap_or_default(),
                ip: e.ip.unwrap_or_default(),
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}
