//! `/admin/scopes`: the scope registry — the scopes beyond OpenID Connect's own that apps may
//! register for, what the consent page says about each, and whether a client may get it for
//! itself (client_credentials, a self-issued JWT bearer assertion).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::store::ScopeRecord;

use super::{
    AdminForm, AdminPage, AdminState, PageQuery, field, html, notice, see_other, unavailable,
};

pub(crate) struct ScopeRow {
    name: String,
    description: String,
    client_credentials: bool,
}

#[derive(Template)]
#[template(path = "admin/scopes.html")]
struct ScopesPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    scopes: Vec<ScopeRow>,
}

/// Whether `name` may be registered: a scope token (RFC 6749 §3.3 NQCHAR), at most 64
/// characters, not one of OpenID Connect's own.
pub fn valid_scope_name(name: &str) -> bool {
    name.len() <= 64
        && tessera_core::scope::is_token(name)
        && !tessera_client_registry::registration::OIDC_SCOPES.contains(&name)
}

/// `GET /admin/scopes`.
pub(crate) async fn get_scopes(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let scopes = match state.scopes.list_scopes().await {
        Ok(scopes) => scopes,
        Err(err) => return unavailable(&err),
    };
    let page = ScopesPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        scopes: scopes
            .into_iter()
            .map(|s| ScopeRow {
                name: s.name,
                description: s.description,
                client_credentials: s.client_credentials,
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}

/// `POST /admin/scopes`: adds a scope or changes one.
pub(crate) async fn post_save_scope(
    req: HttpRequest,
    AdminForm { admin, form }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let name = field(&form, "name").unwrap_or_default().trim().to_owned();
    let description = field(&form, "description")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(200)
        .collect::<String>();
    if !valid_scope_name(&name) || description.chars().any(char::is_control) {
        return see_other("/admin/scopes?notice=invalid");
    }
    let record = ScopeRecord {
        name,
        description,
        client_credentials: field(&form, "client_credentials") == Some("on"),
        created_at: state.clock.now(),
    };
    if let Err(err) = state.scopes.save_scope(&record).await {
        return unavailable(&err);
    }
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::ScopeSaved,
        None,
        None,
    )
    .await;
    see_other("/admin/scopes?notice=saved")
}

/// `POST /admin/scopes/{name}/delete`.
pub(crate) async fn post_delete_scope(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    match state.scopes.delete_scope(&path).await {
        Ok(true) => {
            super::audit(
                &state,
                &req,
                &admin,
                tessera_core::AuditKind::ScopeDeleted,
                None,
                None,
            )
            .await;
            see_other("/admin/scopes?notice=deleted")
        }
        Ok(false) => see_other("/admin/scopes"),
        Err(err) => unavailable(&err),
    }
}
