//! tessera-admin: the admin console at `/admin`: server-rendered pages (askama), no JavaScript needed. Admins
//! sign in on the shared `/login` page and get a separate admin session (its own cookie,
//! SameSite=Strict, 30 min idle, recorded as an admin session so a user session's id is never
//! accepted in its place). Every form carries a CSRF token; every action writes an audit event
//! naming the admin. Sensitive actions — key rotation, secret rotation, deleting a client or a
//! user, making someone admin, resetting a password — also need a sign-in within the last 5
//! minutes ([`SensitiveForm`]); otherwise the admin is sent to sign in again and comes back to
//! the page (a user's page for an action on one user).
//!
//! Handlers read their form as a typed struct ([`AdminForm<T>`], on `tessera_web::form::CsrfForm`),
//! call one operation of [`ops`] — the layer the CLI shares, so both follow one set of rules —,
//! record the audit event and render; a store failure is a `PageError` (503, safe to retry).
//! Every form redirects after it succeeds; a secret it made (a client secret, an initial access
//! token) is shown once on the page it redirects to (`shown_once`), so a reload repeats nothing.
//! A form that creates or edits something (a client, a user, a profile, a registration token, a
//! scope, a resource server, a trusted issuer) answers a refusal with the same page (400), the
//! refused field marked (`FieldMarks`) — or, where the rule does not name one, its words above
//! the form — and what was typed kept (never a password); the buttons of a list (enable,
//! revoke, delete) redirect with a notice, a refusal shown in the error style (`is_refusal`).
//!
//! Pages: the dashboard (`dashboard`, the first page), clients, a page per user (`user_page`),
//! who is signed in (`sessions`), registration tokens, scopes, resource servers, trusted
//! issuers, keys, sign-in locks and the audit log (`audit_log`, with its export). They share
//! `templates/admin/layout.html`: the header, the navigation (each page marks its own entry)
//! and the notice.

mod audit_log;
mod clients;
mod dashboard;
mod issuers;
mod locks;
pub mod ops;
mod pages;
mod resources;
mod scopes;
mod sessions;
mod shown_once;
mod user_page;

use std::sync::Arc;

use actix_web::{
    FromRequest, HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use tessera_core::{
    Clock, Issuer,
    store::{
        AuditRepo, ClientRepo, GrantAdminRepo, GrantRepo, InitialAccessTokenRepo, SessionKind,
        ThrottleRepo, TrustedIssuerRepo, UserRecord, UserRepo,
    },
};
use tessera_keys::{Keys, RotationPolicy};
use tessera_web::{
    audit::Audit,
    csrf::{CsrfToken, csrf_valid},
    form::{CsrfForm, Pairs},
    session::Sessions,
};

/// Everything the console needs.
#[derive(Clone)]
pub struct AdminState {
    /// Sessions.
    pub sessions: Sessions,
    /// Clients.
    pub clients: Arc<dyn ClientRepo>,
    /// Users.
    pub users: Arc<dyn UserRepo>,
    /// Grants.
    pub grants: Arc<dyn GrantRepo>,
    /// Grant listings.
    pub grant_list: Arc<dyn GrantAdminRepo>,
    /// Initial access tokens.
    pub tokens: Arc<dyn InitialAccessTokenRepo>,
    /// Audit log.
    pub audit: Arc<dyn AuditRepo>,
    /// Consents (the apps a user allowed, shown and removable on the user page).
    pub consents: Arc<dyn tessera_core::store::ConsentRepo>,
    /// The dashboard's hourly counts and headline figures.
    pub activity: Arc<dyn tessera_core::store::ActivityRepo>,
    /// Trusted JWT issuers.
    pub trusted_issuers: Arc<dyn TrustedIssuerRepo>,
    /// Sign-in throttle counters (the locks admins can see and clear).
    pub throttle: Arc<dyn ThrottleRepo>,
    /// The scope registry.
    pub scopes: Arc<dyn tessera_core::store::ScopeRepo>,
    /// Resource servers (RFC 8707).
    pub resources: Arc<dyn tessera_core::store::ResourceServerRepo>,
    /// Signing keys.
    pub keys: Arc<Keys>,
    /// How rotation schedules keys.
    pub key_policy: RotationPolicy,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The issuer.
    pub issuer: Issuer,
    /// Second factors (a user's can be removed here, e.g. after a lost phone).
    pub factors: Arc<dyn tessera_core::store::SecondFactorRepo>,
    /// The second-factor policy (`TESSERA_MFA`): where one is required, a console session
    /// signed in without one does not do.
    pub mfa: tessera_core::amr::MfaPolicy,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A signed-in admin, with the CSRF token for the page's forms.
#[derive(Debug)]
pub(crate) struct Admin {
    pub user: UserRecord,
    pub csrf: String,
    /// When this admin entered the password.
    pub auth_time: chrono::DateTime<chrono::Utc>,
}

#[derive(Template)]
#[template(path = "admin/forbidden.html")]
struct ForbiddenPage<'a> {
    username: &'a str,
    csrf_token: &'a str,
}

pub(crate) fn html(status: StatusCode, page: Result<String, askama::Error>) -> HttpResponse {
    tessera_web::html_page(status, page)
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

pub(crate) fn unavailable(err: &dyn std::fmt::Display) -> HttpResponse {
    tessera_web::error::page_unavailable(
        "admin",
        err,
        "The console could not reach its database. Please try again.",
    )
}

pub(crate) use tessera_web::form::field;

/// A number field of a console form: blank is unset; anything else must be an integer (the
/// bounds are the operations layer's).
pub(crate) fn number(text: Option<&str>) -> Result<Option<i64>, ()> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| ()),
    }
}

/// The signed-in admin, or the response that sends the browser where it must go: the sign-in
/// page (GET without an admin session), a 403 page (a signed-in non-admin), or 403 for a POST
/// without a session.
pub(crate) async fn require_admin(
    req: &HttpRequest,
    state: &AdminState,
    csrf: &CsrfToken,
) -> Result<Admin, HttpResponse> {
    let admin = state
        .sessions
        .current(req, SessionKind::Admin)
        .await
        .map_err(|e| unavailable(&e))?;
    // Where a second factor is required (by the policy or for this admin), a console session
    // without one (made before the requirement) does not do: sign in again.
    let required = |s: &tessera_web::session::SignedIn| {
        tessera_core::amr::required_factor_given(state.mfa, s.user.mfa_required, &s.session.amr)
    };
    if let Some(signed_in) = admin.filter(|s| s.user.is_admin && required(s)) {
        return Ok(Admin {
            auth_time: signed_in.session.auth_time,
            user: signed_in.user,
            csrf: csrf.0.clone(),
        });
    }
    let user = state
        .sessions
        .current(req, SessionKind::User)
        .await
        .map_err(|e| unavailable(&e))?;
    if let Some(user) = user.filter(|s| !s.user.is_admin) {
        let page = ForbiddenPage {
            username: &user.user.username,
            csrf_token: &csrf.0,
        };
        return Err(html(StatusCode::FORBIDDEN, page.render()));
    }
    if req.method() == actix_web::http::Method::GET {
        let target = req
            .uri()
            .path_and_query()
            .map_or("/admin", |pq| pq.as_str());
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", target)
            .finish();
        return Err(see_other(&format!("/login?{query}")));
    }
    Err(tessera_web::html_error(
        StatusCode::FORBIDDEN,
        "Signed out",
        "Your admin session ended; sign in again.",
        None,
    ))
}

/// The signed-in admin of a page, as an extractor: when there is none, the request is answered
/// with what [`require_admin`] decided (sign-in redirect or 403 page).
#[derive(Debug)]
pub(crate) struct AdminPage(pub Admin);

/// A POSTed form with a valid CSRF token ([`CsrfForm`]) from a signed-in admin
/// ([`require_admin`]), read as `T`, as an extractor.
#[derive(Debug)]
pub(crate) struct AdminForm<T = Pairs> {
    pub admin: Admin,
    pub form: T,
    /// The fields as posted (for fields that repeat).
    pub pairs: Pairs,
}

/// An [`AdminForm`] for a sensitive action: the admin must have signed in within the last
/// five minutes (`tessera_web::session::RECENT_SIGN_IN`), else is sent to sign in again and
/// back to the page the form was on.
#[derive(Debug)]
pub(crate) struct SensitiveForm<T = Pairs> {
    pub admin: Admin,
    pub form: T,
}

/// The console page a sensitive action's form is on (where to come back after signing in).
fn page_of_action(path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["admin", section @ ("clients" | "users"), id, ..] => format!("/admin/{section}/{id}"),
        ["admin", section, ..] => format!("/admin/{section}"),
        _ => "/admin".into(),
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for SensitiveForm<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let form = AdminForm::<T>::from_request(&req, payload);
        Box::pin(async move {
            let AdminForm { admin, form, .. } = form.await?;
            let state = admin_state(&req)?;
            let now = state.clock.now();
            if now - admin.auth_time > tessera_web::session::RECENT_SIGN_IN {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", &page_of_action(req.path()))
                    .append_pair("login_hint", &admin.user.username)
                    .append_pair("reason", "recent")
                    .finish();
                return Err(refusal(see_other(&format!("/login?{query}"))));
            }
            Ok(SensitiveForm { admin, form })
        })
    }
}

fn refusal(response: HttpResponse) -> actix_web::Error {
    actix_web::error::InternalError::from_response("admin console refusal", response).into()
}

fn admin_state(req: &HttpRequest) -> Result<web::Data<AdminState>, actix_web::Error> {
    req.app_data::<web::Data<AdminState>>()
        .cloned()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("admin console not configured"))
}

impl FromRequest for AdminPage {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = admin_state(&req)?;
            let csrf = CsrfToken::extract(&req).await?;
            require_admin(&req, &state, &csrf)
                .await
                .map(AdminPage)
                .map_err(refusal)
        })
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for AdminForm<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let form = CsrfForm::<T>::from_request(&req, payload);
        Box::pin(async move {
            let CsrfForm { form, pairs } = form.await?;
            let state = admin_state(&req)?;
            let csrf = CsrfToken::extract(&req).await?;
            let admin = require_admin(&req, &state, &csrf).await.map_err(refusal)?;
            Ok(AdminForm { admin, form, pairs })
        })
    }
}

/// The usernames of the users `ids` name, one lookup per user ("(deleted user)" for an id
/// that names none): lists show names, with the id beside them.
pub async fn usernames<'a>(
    users: &dyn tessera_core::store::UserRepo,
    ids: impl Iterator<Item = &'a str>,
) -> Result<std::collections::HashMap<String, String>, tessera_core::store::StoreError> {
    let mut names = std::collections::HashMap::new();
    for id in ids {
        if names.contains_key(id) {
            continue;
        }
        let name = users
            .find_user(&tessera_core::Subject::new(id))
            .await?
            .map_or_else(|| "(deleted user)".to_owned(), |u| u.username);
        names.insert(id.to_owned(), name);
    }
    Ok(names)
}

/// Writes an audit event for an admin action.
pub(crate) async fn audit(
    state: &AdminState,
    req: &HttpRequest,
    admin: &Admin,
    kind: tessera_core::AuditKind,
    client_id: Option<&str>,
    user_id: Option<&str>,
) {
    let audit = Audit {
        kind,
        actor: Some(format!("admin:{}", admin.user.username)),
        client_id,
        user_id,
        details: None,
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
}

/// The query of a console page: `?notice=` after an action, `?q=` to search a list,
/// `?after=` for the next page of one.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageQuery {
    pub(crate) notice: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) after: Option<String>,
}

/// Rows per page of a console list.
pub(crate) const LIST_PAGE: u64 = 100;

/// The query of a list's next page: the search kept, `after` the last row's key.
pub(crate) fn next_page(search: Option<&str>, after: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(search) = search.filter(|s| !s.is_empty()) {
        query.append_pair("q", search);
    }
    query.append_pair("after", after).finish()
}

/// A form field that was refused, and why (the page marks it and keeps what was typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The field's name (`""`: the form as a whole).
    pub field: &'static str,
    /// Why, in the rule's words.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// The refused field of a form shown again, if any: what the template asks to mark it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldMarks(pub Option<FieldError>);

impl FieldMarks {
    /// Why `field` was refused, if it was.
    pub(crate) fn error_for(&self, field: &str) -> Option<&str> {
        self.0
            .as_ref()
            .filter(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// The attribute that marks `field` when it was refused.
    pub(crate) fn invalid(&self, field: &str) -> &'static str {
        if self.error_for(field).is_some() {
            r#" aria-invalid="true""#
        } else {
            ""
        }
    }

    /// A refusal that names no one field of the form.
    pub(crate) fn general(&self) -> Option<&str> {
        self.error_for("")
    }
}

/// The notice of a refused form (shown as an error, not a confirmation).
pub(crate) const REFUSED: &str = "That was not accepted; nothing was changed.";
/// The notice of an action an admin may not take on their own account.
pub(crate) const REFUSED_SELF: &str = "You can not do that to your own account.";
/// The notice above a form re-shown with a field marked.
pub(crate) const REFUSED_FIELD: &str = "That was not saved: see the field marked below.";
/// A refusal: deleting the last enabled admin.
pub(crate) const REFUSED_LAST_ADMIN: &str =
    "That is the last enabled admin; make someone else admin first. Nothing was changed.";

/// Whether a notice says something was refused (the layout shows it as an error).
pub(crate) fn is_refusal(notice: &str) -> bool {
    [REFUSED, REFUSED_SELF, REFUSED_FIELD, REFUSED_LAST_ADMIN].contains(&notice)
}

/// Messages shown after an action (by code, so no text is reflected from the URL).
pub(crate) fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "revoked" => "Revoked.",
        "created" => "Created.",
        "rotated" => "A new key was created; it signs once its activation time comes.",
        "updated" => "Updated.",
        "invalid" => REFUSED,
        "self" => REFUSED_SELF,
        "last-admin" => REFUSED_LAST_ADMIN,
        "cleared" => "Cleared; the next attempt is not slowed down.",
        "signed-out" => "That device is signed out; what it was given is revoked.",
        _ => return None,
    })
}

/// `POST /admin/logout`: ends the admin session (and the sign-in session).
async fn post_logout(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AdminState>,
) -> HttpResponse {
    if !csrf_valid(&req, field(&form, tessera_web::csrf::CSRF_FIELD)) {
        return tessera_web::error::csrf_refused("Reload the page and try again.");
    }
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, "/login?return_to=%2Fadmin"));
    for kind in [SessionKind::Admin, SessionKind::User] {
        match state.sessions.end(&req, kind).await {
            Ok(removal) => {
                response.cookie(removal);
            }
            Err(err) => return unavailable(&err),
        }
    }
    response.finish()
}

/// Mounts `/admin/...`. Needs `web::Data<AdminState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(dashboard::get_dashboard))
        .route("/admin/", web::get().to(dashboard::get_dashboard))
        .route("/admin/logout", web::post().to(post_logout))
        .route("/admin/clients", web::get().to(clients::get_clients))
        .route(
            "/admin/clients",
            web::post().to(clients::post_create_client),
        )
        .route("/admin/clients/{id}", web::get().to(clients::get_client))
        .route(
            "/admin/clients/{id}",
            web::post().to(clients::post_edit_client),
        )
        .route(
            "/admin/clients/{id}/rotate-secret",
            web::post().to(clients::post_rotate_secret),
        )
        .route(
            "/admin/clients/{id}/delete",
            web::post().to(clients::post_delete_client),
        )
        .route(
            "/admin/clients/{id}/grants/{grant}/revoke",
            web::post().to(clients::post_revoke_grant),
        )
        .route(
            "/admin/registration-tokens",
            web::get().to(pages::get_tokens),
        )
        .route(
            "/admin/registration-tokens",
            web::post().to(pages::post_create_token),
        )
        .route(
            "/admin/registration-tokens/{id}/revoke",
            web::post().to(pages::post_revoke_token),
        )
        .route("/admin/users", web::get().to(pages::get_users))
        .route("/admin/users", web::post().to(pages::post_create_user))
        .route("/admin/users/{id}", web::get().to(user_page::get_user))
        .route("/admin/sessions", web::get().to(sessions::get_sessions))
        .route(
            "/admin/users/{id}/profile",
            web::post().to(user_page::post_profile),
        )
        .route(
            "/admin/users/{id}/delete",
            web::post().to(user_page::post_delete_user),
        )
        .route(
            "/admin/users/{id}/sessions/{session}/revoke",
            web::post().to(user_page::post_revoke_session),
        )
        .route(
            "/admin/users/{id}/apps/{client}/revoke",
            web::post().to(user_page::post_revoke_app),
        )
        .route(
            "/admin/users/{id}/toggle-enabled",
            web::post().to(pages::post_toggle_enabled),
        )
        .route(
            "/admin/users/{id}/toggle-admin",
            web::post().to(pages::post_toggle_admin),
        )
        .route(
            "/admin/users/{id}/password",
            web::post().to(pages::post_reset_password),
        )
        .route(
            "/admin/users/{id}/toggle-mfa-required",
            web::post().to(pages::post_toggle_mfa_required),
        )
        .route(
            "/admin/users/{id}/remove-second-factor",
            web::post().to(pages::post_remove_second_factor),
        )
        .route(
            "/admin/trusted-issuers",
            web::get().to(issuers::get_issuers),
        )
        .route(
            "/admin/trusted-issuers",
            web::post().to(issuers::post_create_issuer),
        )
        .route(
            "/admin/trusted-issuers/{id}/toggle",
            web::post().to(issuers::post_toggle_issuer),
        )
        .route(
            "/admin/trusted-issuers/{id}/delete",
            web::post().to(issuers::post_delete_issuer),
        )
        .route("/admin/keys", web::get().to(pages::get_keys))
        .route("/admin/keys/rotate", web::post().to(pages::post_rotate_key))
        .route("/admin/audit", web::get().to(audit_log::get_audit))
        .route("/admin/audit/export", web::get().to(audit_log::get_export))
        .route(shown_once::PATH, web::get().to(shown_once::get_shown_once))
        .route("/admin/resources", web::get().to(resources::get_resources))
        .route(
            "/admin/resources",
            web::post().to(resources::post_save_resource),
        )
        .route(
            "/admin/resources/delete",
            web::post().to(resources::post_delete_resource),
        )
        .route("/admin/scopes", web::get().to(scopes::get_scopes))
        .route("/admin/scopes", web::post().to(scopes::post_save_scope))
        .route(
            "/admin/scopes/{name}/delete",
            web::post().to(scopes::post_delete_scope),
        )
        .route("/admin/sign-in-locks", web::get().to(locks::get_locks))
        .route(
            "/admin/sign-in-locks/{key}/clear",
            web::post().to(locks::post_clear_lock),
        );
}
