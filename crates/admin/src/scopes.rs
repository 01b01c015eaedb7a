//! `/admin/scopes`: the scope registry — the scopes beyond OpenID Connect's own that apps may
//! register for, what the consent page says about each, and whether a client may get it for
//! itself (client_credentials, a self-issued JWT bearer assertion).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::AuditKind;
use tessera_web::PageError;

use super::{
    AdminForm, AdminPage, AdminState, FieldError, FieldMarks, PageQuery, html, notice, see_other,
};
use crate::ops::scopes::{self as ops, ScopeOpError};

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
    /// The form: empty, or as posted when it was refused.
    form: ScopeForm,
    marks: FieldMarks,
}

/// `GET /admin/scopes`.
pub(crate) async fn get_scopes(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let shown = (notice(query.notice.as_deref()), ScopeForm::default());
    scopes_page(&state, &admin, shown, FieldMarks::default()).await
}

/// The registry and the form (`marks`: the refused field; then 400).
async fn scopes_page(
    state: &AdminState,
    admin: &super::Admin,
    (notice, form): (Option<&'static str>, ScopeForm),
    marks: FieldMarks,
) -> Result<HttpResponse, PageError> {
    let scopes = state.scopes.list_scopes().await?;
    let status = if marks.0.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ScopesPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice,
        form,
        marks,
        scopes: scopes
            .into_iter()
            .map(|s| ScopeRow {
                name: s.name,
                description: s.description,
                client_credentials: s.client_credentials,
            })
            .collect(),
    };
    Ok(html(status, page.render()))
}

/// The form that adds or changes a scope.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ScopeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    client_credentials: Option<String>,
}

/// `POST /admin/scopes`: adds a scope or changes one; a refusal shows the form again as posted,
/// the wrong field marked (400).
pub(crate) async fn post_save_scope(
    req: HttpRequest,
    AdminForm { admin, form, .. }: AdminForm<ScopeForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let own = form.client_credentials.as_deref() == Some("on");
    let now = state.clock.now();
    match ops::save(
        state.scopes.as_ref(),
        &form.name,
        &form.description,
        own,
        now,
    )
    .await
    {
        Ok(_) => {}
        Err(ScopeOpError::Store(err)) => return Err(err.into()),
        Err(refused) => {
            let field = match refused {
                ScopeOpError::Description => "description",
                _ => "name",
            };
            let marks = FieldMarks(Some(FieldError::new(field, refused.to_string())));
            let shown = (Some(super::REFUSED_FIELD), form);
            return scopes_page(&state, &admin, shown, marks).await;
        }
    }
    super::audit(&state, &req, &admin, AuditKind::ScopeSaved, None, None).await;
    Ok(see_other("/admin/scopes?notice=saved"))
}

/// `POST /admin/scopes/{name}/delete`.
pub(crate) async fn post_delete_scope(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    match ops::delete(state.scopes.as_ref(), &path).await {
        Ok(()) => {}
        Err(ScopeOpError::Store(err)) => return Err(err.into()),
        Err(_) => return Ok(see_other("/admin/scopes")),
    }
    super::audit(&state, &req, &admin, AuditKind::ScopeDeleted, None, None).await;
    Ok(see_other("/admin/scopes?notice=deleted"))
}
