//! `/account`: the signed-in user's devices (browser sessions) and the apps they allowed, each
//! revocable, and a password change that signs out the other devices and revokes the grants
//! (refresh-token families) they obtained.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;
use tessera_core::{
    ClientId, Clock,
    password::{hash_password, verify_password},
    secret::TokenHash,
    store::{
        AuditRepo, ClientRepo, ConsentRepo, GrantAdminRepo, SessionKind, SessionRepo, UserRepo,
    },
};
use tessera_web::{
    audit::Audit,
    csrf::{CSRF_FIELD, CsrfToken, csrf_valid},
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
}

/// `?notice=`.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn unavailable(err: &dyn std::fmt::Display) -> HttpResponse {
    tessera_web::error::page_unavailable("account", err, "Please try again in a moment.")
}

fn refused() -> HttpResponse {
    tessera_web::error::csrf_refused("Reload the page and try again.")
}

async fn signed_in(req: &HttpRequest, state: &AccountState) -> Result<SignedIn, HttpResponse> {
    match state.sessions.current(req, SessionKind::User).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) if req.method() == actix_web::http::Method::GET => {
            Err(see_other("/login?return_to=%2Faccount"))
        }
        Ok(None) => Err(tessera_web::html_error(
            StatusCode::FORBIDDEN,
            "Signed out",
            "Sign in again.",
            None,
        )),
        Err(err) => Err(unavailable(&err)),
    }
}

async fn audit(
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
        _ => return None,
    })
}

/// `GET /account`.
pub async fn get_account(
    req: HttpRequest,
    query: web::Query<NoticeQuery>,
    csrf: CsrfToken,
    state: web::Data<AccountState>,
) -> HttpResponse {
    let user = match signed_in(&req, &state).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let (sessions, consents) = match (
        state
            .session_rows
            .list_user_sessions(&user.user.id, now)
            .await,
        state.consents.list_user_consents(&user.user.id).await,
    ) {
        (Ok(sessions), Ok(consents)) => (sessions, consents),
        (Err(err), _) | (_, Err(err)) => return unavailable(&err),
    };
    let mut apps = Vec::with_capacity(consents.len());
    for (client_id, scopes, since) in consents {
        let name = match state.clients.find_client(&client_id).await {
            Ok(client) => client
                .and_then(|c| c.client_name)
                .unwrap_or_else(|| client_id.to_string()),
            Err(err) => return unavailable(&err),
        };
        apps.push(AppRow {
            client_id: client_id.to_string(),
            name,
            scopes: scopes.join(" "),
            since: since.format("%Y-%m-%d").to_string(),
        });
    }
    let page = AccountPage {
        csrf_token: &csrf.0,
        username: &user.user.username,
        notice: notice(query.notice.as_deref()),
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                current: s.id_hash == user.session.id_hash,
                id: s.id_hash.as_str().to_owned(),
                device: s.user_agent.unwrap_or_else(|| "unknown device".into()),
                ip: s.ip.unwrap_or_default(),
                created: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                last_seen: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        apps,
    };
    tessera_web::html_page(StatusCode::OK, page.render())
}

fn csrf_ok(req: &HttpRequest, form: &[(String, String)]) -> bool {
    csrf_valid(
        req,
        form.iter()
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.as_str()),
    )
}

/// `POST /account/sessions/{id}/revoke`: ends one of the user's sessions and what it issued
/// (offline grants survive).
pub async fn post_revoke_session(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AccountState>,
) -> HttpResponse {
    if !csrf_ok(&req, &form) {
        return refused();
    }
    let user = match signed_in(&req, &state).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let hash = TokenHash::from_stored(path.into_inner());
    // Only the user's own sessions: look it up and check the owner before ending it.
    match state.session_rows.find_session(&hash).await {
        Ok(Some(session)) if session.user_id == user.user.id => {}
        Ok(_) => return see_other("/account"),
        Err(err) => return unavailable(&err),
    }
    if let Err(err) = state.session_rows.end_session(&hash, now).await {
        return unavailable(&err);
    }
    if let Err(err) = state
        .grants
        .revoke_session_grants(&hash, false, "device signed out", now)
        .await
    {
        return unavailable(&err);
    }
    audit(
        &state,
        &req,
        &user,
        tessera_core::AuditKind::SessionRevoked,
        None,
    )
    .await;
    if hash == user.session.id_hash {
        return see_other("/login?return_to=%2Faccount");
    }
    see_other("/account?notice=signed-out")
}

/// `POST /account/apps/{client_id}/revoke`: forgets the consent and revokes the app's grants.
pub async fn post_revoke_app(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AccountState>,
) -> HttpResponse {
    if !csrf_ok(&req, &form) {
        return refused();
    }
    let user = match signed_in(&req, &state).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let client = ClientId::new(path.into_inner());
    let now = state.clock.now();
    if let Err(err) = state.consents.delete_consent(&user.user.id, &client).await {
        return unavailable(&err);
    }
    if let Err(err) = state
        .grants
        .revoke_user_client_grants(&user.user.id, &client, "access removed by the user", now)
        .await
    {
        return unavailable(&err);
    }
    audit(
        &state,
        &req,
        &user,
        tessera_core::AuditKind::ConsentRevoked,
        Some(client.as_str()),
    )
    .await;
    see_other("/account?notice=removed")
}

/// `POST /account/password`: needs the current password; ends every other session.
pub async fn post_change_password(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AccountState>,
) -> HttpResponse {
    if !csrf_ok(&req, &form) {
        return refused();
    }
    let user = match signed_in(&req, &state).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (current, new) = (field("current_password"), field("new_password"));
    let stored = user.user.password_hash.clone();
    let checked = tokio::task::spawn_blocking(move || {
        if !verify_password(&current, &stored) {
            return Err("wrong-password");
        }
        hash_password(&new).map_err(|_| "weak-password")
    })
    .await
    .unwrap_or(Err("weak-password"));
    let hash = match checked {
        Ok(hash) => hash,
        Err(code) => return see_other(&format!("/account?notice={code}")),
    };
    let now = state.clock.now();
    // Only the password column is written: a disable or an admin change made meanwhile stays.
    match state
        .users
        .set_password_hash(&user.user.id, &hash, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => return see_other("/login?return_to=%2Faccount"),
        Err(err) => return unavailable(&err),
    }
    // Every other device is signed out, and what it obtained (grants, so refresh-token
    // families, offline ones included) is revoked; this browser's session and grants stay.
    if let Err(err) = state
        .session_rows
        .end_user_sessions(&user.user.id, Some(&user.session.id_hash), now)
        .await
    {
        return unavailable(&err);
    }
    if let Err(err) = state
        .grants
        .revoke_user_grants(
            &user.user.id,
            Some(&user.session.id_hash),
            "password changed",
            now,
        )
        .await
    {
        return unavailable(&err);
    }
    audit(
        &state,
        &req,
        &user,
        tessera_core::AuditKind::UserPasswordChanged,
        None,
    )
    .await;
    see_other("/account?notice=password")
}
