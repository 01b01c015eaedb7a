//! `/admin/resources`: the resource servers (RFC 8707) — APIs that access tokens can be narrowed
//! to with `resource`: each one's identifier URI (the tokens' `aud`), name, the scopes it owns,
//! and the client it introspects as. A refused form is shown again (400) with the wrong field
//! marked and the input kept; a saved one redirects (a reload repeats nothing).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::AuditKind;
use tessera_web::PageError;

use super::{
    AdminForm, AdminPage, AdminState, FieldError, FieldMarks, PageQuery, html, notice, see_other,
};
use crate::ops::resources::{self as ops, ResourceInput, ResourceOpError, ResourceStores};

pub(crate) struct ResourceRow {
    identifier: String,
    name: String,
    scopes: String,
    client_id: String,
}

/// The form that adds or changes a resource server.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ResourceForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    client_id: String,
}

#[derive(Template)]
#[template(path = "admin/resources.html")]
struct ResourcesPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    /// The refused field, when the form is shown again as posted.
    marks: FieldMarks,
    form: ResourceForm,
    resources: Vec<ResourceRow>,
}

async fn render(
    state: &AdminState,
    page: ResourcesPage<'_>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let resources = state.resources.list_resource_servers().await?;
    let page = ResourcesPage {
        resources: resources
            .into_iter()
            .map(|r| ResourceRow {
                identifier: r.identifier,
                name: r.name,
                scopes: r.scopes.join(" "),
                client_id: r.client_id.map(|c| c.to_string()).unwrap_or_default(),
            })
            .collect(),
        ..page
    };
    Ok(html(status, page.render()))
}

/// `GET /admin/resources`.
pub(crate) async fn get_resources(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let page = ResourcesPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        marks: FieldMarks::default(),
        form: ResourceForm::default(),
        resources: Vec::new(),
    };
    render(&state, page, StatusCode::OK).await
}

/// `POST /admin/resources`: adds or changes one.
pub(crate) async fn post_save_resource(
    req: HttpRequest,
    AdminForm { admin, form, .. }: AdminForm<ResourceForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let stores = ResourceStores {
        resources: state.resources.as_ref(),
        scopes: state.scopes.as_ref(),
        clients: state.clients.as_ref(),
    };
    let input = ResourceInput {
        identifier: &form.identifier,
        name: &form.name,
        scopes: &form.scopes,
        client_id: Some(&form.client_id),
    };
    match ops::save(stores, &input, state.clock.now()).await {
        Ok(_) => {}
        Err(ResourceOpError::Store(err)) => return Err(err.into()),
        Err(refused) => {
            let field = match refused {
                ResourceOpError::Identifier(_) => "identifier",
                ResourceOpError::Name => "name",
                ResourceOpError::Scope(_) => "scopes",
                ResourceOpError::Client(..) => "client_id",
                _ => "",
            };
            let page = ResourcesPage {
                csrf_token: &admin.csrf,
                admin_name: &admin.user.username,
                notice: Some(super::REFUSED_FIELD),
                marks: FieldMarks(Some(FieldError::new(field, refused.to_string()))),
                form,
                resources: Vec::new(),
            };
            return render(&state, page, StatusCode::BAD_REQUEST).await;
        }
    }
    super::audit(
        &state,
        &req,
        &admin,
        AuditKind::ResourceServerSaved,
        None,
        None,
    )
    .await;
    Ok(see_other("/admin/resources?notice=saved"))
}

/// The form that removes one.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    identifier: String,
}

/// `POST /admin/resources/delete`.
pub(crate) async fn post_delete_resource(
    req: HttpRequest,
    AdminForm { admin, form, .. }: AdminForm<DeleteForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    match ops::delete(state.resources.as_ref(), &form.identifier).await {
        Ok(()) => {}
        Err(ResourceOpError::Store(err)) => return Err(err.into()),
        Err(_) => return Ok(see_other("/admin/resources")),
    }
    super::audit(
        &state,
        &req,
        &admin,
        AuditKind::ResourceServerDeleted,
        None,
        None,
    )
    .await;
    Ok(see_other("/admin/resources?notice=deleted"))
}
