//! `/admin/users/{id}`: one user as an admin looks after them — profile (name, email and whether
//! it is confirmed; editable), standing (enabled, admin, two-step required), the devices signed
//! in (each can be signed out: the session ends and what it issued is revoked), the apps they
//! allowed (each can be removed: consent forgotten, grants revoked), the grants in force (each
//! revocable — those of a trusted issuer's assertion have no consent behind them), their
//! second factors, the
//! sign-in counters that slow their account down (clearable), and their latest audit events.
//! The standing actions post to the same handlers as the user list and come back here.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use tessera_core::{
    AuditKind, ClientId, Subject,
    secret::TokenHash,
    store::{AuditSearch, UserRecord},
};
use tessera_web::PageError;

use crate::ops::users::{self, ProfileEdit, UserOpError};

use super::{
    Admin, AdminForm, AdminPage, AdminState, FieldError, FieldMarks, SensitiveForm, html, see_other,
};

/// A signed-in device.
pub(crate) struct SessionRow {
    id: String,
    device: String,
    ip: String,
    signed_in: String,
    last_seen: String,
    console: bool,
}

/// An app the user allowed.
pub(crate) struct AppRow {
    client_id: String,
    name: String,
    scopes: String,
    since: String,
}

/// A grant of the user's still in force.
pub(crate) struct GrantRow {
    id: String,
    client_id: String,
    app: String,
    scopes: String,
    given: String,
    offline: bool,
    resource: String,
}

/// The most grants the user page lists (a client's page lists all of its own).
const GRANTS_SHOWN: u64 = 100;

/// A sign-in counter of the user's account.
pub(crate) struct CounterRow {
    key: String,
    label: String,
    failures: u32,
    refused_until: String,
}

/// A recent audit event about the user.
pub(crate) struct EventRow {
    at: String,
    kind: String,
    client: String,
    ip: String,
}

/// What the profile form shows: the stored values, or what the admin typed when it was refused.
pub(crate) struct ProfileFields {
    name: String,
    email: String,
    email_verified: bool,
    /// The field that was refused and why.
    marks: FieldMarks,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    user: &'a UserRecord,
    created: String,
    profile: ProfileFields,
    two_step_app: bool,
    passkeys: usize,
    sessions: Vec<SessionRow>,
    apps: Vec<AppRow>,
    grants: Vec<GrantRow>,
    /// Whether there are more grants than shown.
    more_grants: bool,
    counters: Vec<CounterRow>,
    events: Vec<EventRow>,
}

/// `?notice=` on the user page.
#[derive(Debug, Deserialize)]
pub(crate) struct UserQuery {
    notice: Option<String>,
}

fn user_notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "saved" => "Saved.",
        "updated" => "Updated.",
        "signed-out" => "That device is signed out; what it was given is revoked.",
        "removed" => "The app no longer has access.",
        "revoked" => "Revoked: its refresh tokens stop working and its access tokens are inactive.",
        "invalid" => crate::REFUSED,
        "self" => crate::REFUSED_SELF,
        "last-admin" => crate::REFUSED_LAST_ADMIN,
        _ => return None,
    })
}

/// The user `id`, or the console's 404.
async fn user_of(state: &AdminState, id: &str) -> Result<UserRecord, PageError> {
    state
        .users
        .find_user(&Subject::new(id))
        .await?
        .ok_or(PageError::NotFound {
            title: "No such user",
            message: "There is no user with this id.",
        })
}

async fn render(
    state: &AdminState,
    admin: &Admin,
    user: &UserRecord,
    profile: ProfileFields,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let sessions = state
        .sessions
        .sessions
        .list_user_sessions(&user.id, now)
        .await?;
    let apps = tessera_core::store::allowed_apps(
        state.consents.as_ref(),
        state.clients.as_ref(),
        &user.id,
    )
    .await?
    .into_iter()
    .map(|app| AppRow {
        client_id: app.client_id.to_string(),
        name: app.name,
        scopes: app.scopes.join(" "),
        since: app.since.format("%Y-%m-%d").to_string(),
    })
    .collect();
    let mut grants = state
        .grant_list
        .list_user_grants(&user.id, GRANTS_SHOWN + 1)
        .await?;
    let more_grants = grants.len() as u64 > GRANTS_SHOWN;
    grants.truncate(usize::try_from(GRANTS_SHOWN).unwrap_or(100));
    let mut app_names = std::collections::HashMap::new();
    for grant in &grants {
        if !app_names.contains_key(&grant.client_id) {
            let name = state
                .clients
                .find_client(&grant.client_id)
                .await?
                .and_then(|c| c.client_name)
                .unwrap_or_else(|| grant.client_id.to_string());
            app_names.insert(grant.client_id.clone(), name);
        }
    }
    let grants = grants
        .into_iter()
        .map(|g| GrantRow {
            id: g.id.to_string(),
            app: app_names.get(&g.client_id).cloned().unwrap_or_default(),
            client_id: g.client_id.to_string(),
            scopes: g.scopes.join(" "),
            given: g.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            offline: g.offline,
            resource: g.resource.unwrap_or_default(),
        })
        .collect();
    let counters = state
        .throttle
        .account_counters(&tessera_core::sign_in::account_label(&user.username), now)
        .await?
        .into_iter()
        .map(|c| CounterRow {
            key: c.key_hash.as_str().to_owned(),
            label: c.label,
            failures: c.failures,
            refused_until: c
                .blocked_until
                .filter(|until| *until > now)
                .map_or_else(|| "-".into(), |t| t.format("%H:%M:%S UTC").to_string()),
        })
        .collect();
    let search = AuditSearch {
        user_id: Some(user.id.to_string()),
        ..AuditSearch::default()
    };
    let events = state
        .audit
        .search_events(&search, 20)
        .await?
        .into_iter()
        .map(|found| EventRow {
            at: found.event.occurred_at.format("%Y-%m-%d %H:%M").to_string(),
            kind: found.event.kind,
            client: found.event.client_id.unwrap_or_default(),
            ip: found.event.ip.unwrap_or_default(),
        })
        .collect();
    let page = UserPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice,
        user,
        created: user.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        profile,
        two_step_app: state
            .factors
            .find_totp(&user.id)
            .await?
            .is_some_and(|f| f.confirmed_at.is_some()),
        passkeys: state.factors.passkeys(&user.id).await?.len(),
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                id: s.id_hash.as_str().to_owned(),
                device: s.user_agent.unwrap_or_else(|| "unknown device".into()),
                ip: s.ip.unwrap_or_default(),
                signed_in: s.auth_time.format("%Y-%m-%d %H:%M UTC").to_string(),
                last_seen: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                console: s.kind == tessera_core::store::SessionKind::Admin,
            })
            .collect(),
        apps,
        grants,
        more_grants,
        counters,
        events,
    };
    Ok(html(status, page.render()))
}

/// `GET /admin/users/{id}`.
pub(crate) async fn get_user(
    path: web::Path<String>,
    query: web::Query<UserQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let user = user_of(&state, &path).await?;
    let profile = ProfileFields {
        name: user.name.clone().unwrap_or_default(),
        email: user.email.clone().unwrap_or_default(),
        email_verified: user.email_verified,
        marks: FieldMarks::default(),
    };
    let notice = user_notice(query.notice.as_deref());
    render(&state, &admin, &user, profile, notice, StatusCode::OK).await
}

/// The profile form.
#[derive(Debug, Deserialize)]
pub(crate) struct ProfileForm {
    name: Option<String>,
    email: Option<String>,
    email_verified: Option<String>,
}

/// `POST /admin/users/{id}/profile`: saves name and email; a refused field is named on the page
/// with what was typed kept (400), a saved one redirects (a reload repeats nothing).
pub(crate) async fn post_profile(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, form, .. }: AdminForm<ProfileForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let user = user_of(&state, &path).await?;
    let edit = ProfileEdit {
        name: form.name.clone(),
        email: form.email.clone(),
        email_verified: form.email_verified.as_deref() == Some("on"),
    };
    let now = state.clock.now();
    let refused = match users::update_profile(state.users.as_ref(), &user, edit, now).await {
        Ok(_) => None,
        Err(UserOpError::Store(err)) => return Err(err.into()),
        Err(UserOpError::Email) => Some(FieldError::new("email", UserOpError::Email.to_string())),
        Err(other) => Some(FieldError::new("name", other.to_string())),
    };
    if let Some(error) = refused {
        let profile = ProfileFields {
            name: form.name.unwrap_or_default(),
            email: form.email.unwrap_or_default(),
            email_verified: form.email_verified.as_deref() == Some("on"),
            marks: FieldMarks(Some(error)),
        };
        let notice = Some(crate::REFUSED_FIELD);
        return render(
            &state,
            &admin,
            &user,
            profile,
            notice,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let kind = AuditKind::UserUpdated;
    super::audit(&state, &req, &admin, kind, None, Some(user.id.as_str())).await;
    Ok(see_other(&format!("/admin/users/{}?notice=saved", user.id)))
}

/// `POST /admin/users/{id}/delete` (a sensitive action): deletes the user and everything of
/// theirs (`ops::users::delete`); never the acting admin, never the last enabled admin.
pub(crate) async fn post_delete_user(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, .. }: SensitiveForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = state.users.find_user(&Subject::new(path.as_str())).await? else {
        return Ok(see_other("/admin/users"));
    };
    let page = format!("/admin/users/{}", user.id);
    match users::delete(state.users.as_ref(), Some(&admin.user.id), &user).await {
        Ok(()) => {}
        Err(UserOpError::OwnAccount) => return Ok(see_other(&format!("{page}?notice=self"))),
        Err(UserOpError::LastAdmin) => {
            return Ok(see_other(&format!("{page}?notice=last-admin")));
        }
        Err(UserOpError::NotFound(_)) => return Ok(see_other("/admin/users")),
        Err(UserOpError::Store(err)) => return Err(err.into()),
        Err(_) => return Ok(see_other(&format!("{page}?notice=invalid"))),
    }
    // The event keeps the name: the audit log can no longer look it up.
    let audit = tessera_web::audit::Audit {
        kind: AuditKind::UserDeleted,
        actor: Some(format!("admin:{}", admin.user.username)),
        client_id: None,
        user_id: Some(user.id.as_str()),
        details: Some(serde_json::json!({ "username": user.username })),
    };
    tessera_web::audit::record(state.audit.as_ref(), &req, state.clock.now(), audit).await;
    Ok(see_other("/admin/users?notice=deleted"))
}

/// `POST /admin/users/{id}/sessions/{session}/revoke`: signs one device out and revokes what its
/// session issued (offline grants survive, as when the user does it on their account page).
pub(crate) async fn post_revoke_session(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    AdminForm { admin, form, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let (id, session) = path.into_inner();
    let user = user_of(&state, &id).await?;
    // Back to the list of who is signed in when the button was there, else the user's page.
    let back = match super::field(&form, "back") {
        Some("sessions") => "/admin/sessions".to_owned(),
        _ => format!("/admin/users/{}", user.id),
    };
    let hash = TokenHash::from_stored(session);
    let now = state.clock.now();
    let sessions = state.sessions.sessions.as_ref();
    // Only a session of this user.
    match sessions.find_session(&hash).await? {
        Some(found) if found.user_id == user.id => {}
        _ => return Ok(see_other(&back)),
    }
    sessions.end_session(&hash, now).await?;
    let reason = "signed out by an admin";
    state
        .grant_list
        .revoke_session_grants(&hash, false, reason, now)
        .await?;
    let kind = AuditKind::SessionRevoked;
    super::audit(&state, &req, &admin, kind, None, Some(user.id.as_str())).await;
    Ok(see_other(&format!("{back}?notice=signed-out")))
}

/// `POST /admin/users/{id}/apps/{client}/revoke`: forgets the user's consent to the app and
/// revokes its grants.
pub(crate) async fn post_revoke_app(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let (id, client) = path.into_inner();
    let user = user_of(&state, &id).await?;
    let client = ClientId::new(client);
    let now = state.clock.now();
    state.consents.delete_consent(&user.id, &client).await?;
    let reason = "access removed by an admin";
    state
        .grant_list
        .revoke_user_client_grants(&user.id, &client, reason, now)
        .await?;
    let kind = AuditKind::ConsentRevoked;
    let client_id = Some(client.as_str());
    super::audit(
        &state,
        &req,
        &admin,
        kind,
        client_id,
        Some(user.id.as_str()),
    )
    .await;
    Ok(see_other(&format!(
        "/admin/users/{}?notice=removed",
        user.id
    )))
}
