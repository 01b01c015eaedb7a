//! Trusted JWT issuers (the jwt-bearer grant): list, trust, enable/disable, delete.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::store::TrustedIssuerRecord;

use super::{
    AdminForm, AdminPage, AdminState, PageQuery, field, html, notice, see_other, unavailable,
};
use tessera_client_registry::trusted_issuer::{TrustedIssuerInput, validate_trusted_issuer};

struct IssuerRow {
    id: String,
    issuer: String,
    keys: String,
    algs: String,
    subjects: String,
    scopes: String,
    clients: String,
    enabled: bool,
}

impl From<&TrustedIssuerRecord> for IssuerRow {
    fn from(t: &TrustedIssuerRecord) -> Self {
        Self {
            id: t.id.clone(),
            issuer: t.issuer.clone(),
            keys: t
                .jwks_uri
                .clone()
                .unwrap_or_else(|| "JWK Set by value".into()),
            algs: t
                .allowed_algs
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            subjects: t.allowed_subjects.join(" "),
            scopes: t.allowed_scopes.join(" "),
            clients: t
                .allowed_clients
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            enabled: t.enabled,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/issuers.html")]
struct IssuersPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    error: Option<String>,
    issuers: Vec<IssuerRow>,
}

async fn render(
    state: &AdminState,
    admin: &super::Admin,
    notice_text: Option<&'static str>,
    error: Option<String>,
) -> HttpResponse {
    let issuers = match state.trusted_issuers.list_trusted_issuers().await {
        Ok(issuers) => issuers,
        Err(err) => return unavailable(&err),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = IssuersPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice_text,
        error,
        issuers: issuers.iter().map(IssuerRow::from).collect(),
    };
    html(status, page.render())
}

/// `GET /admin/trusted-issuers`.
pub(crate) async fn get_issuers(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    render(&state, &admin, notice(query.notice.as_deref()), None).await
}

/// `POST /admin/trusted-issuers`.
pub(crate) async fn post_create_issuer(
    req: HttpRequest,
    AdminForm { admin, form }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let text = |name: &str| field(&form, name).map(str::to_owned);
    let input = TrustedIssuerInput {
        issuer: text("issuer").unwrap_or_default(),
        jwks: text("jwks"),
        jwks_uri: text("jwks_uri"),
        algs: form
            .iter()
            .filter(|(k, _)| k == "alg")
            .map(|(_, v)| v.clone())
            .collect(),
        subjects: text("subjects").into_iter().collect(),
        scopes: text("scopes").into_iter().collect(),
        clients: text("clients").into_iter().collect(),
    };
    let record =
        match validate_trusted_issuer(input, state.clients.as_ref(), state.clock.now()).await {
            Ok(record) => record,
            Err(err) => return render(&state, &admin, None, Some(err.0)).await,
        };
    match state.trusted_issuers.create_trusted_issuer(&record).await {
        Ok(()) => {}
        Err(tessera_core::store::StoreError::Conflict { .. }) => {
            return render(
                &state,
                &admin,
                None,
                Some("that issuer is trusted already".into()),
            )
            .await;
        }
        Err(err) => return unavailable(&err),
    }
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::TrustedIssuerCreated,
        None,
        None,
    )
    .await;
    see_other("/admin/trusted-issuers?notice=created")
}

async fn find(state: &AdminState, id: &str) -> Result<Option<TrustedIssuerRecord>, HttpResponse> {
    match state.trusted_issuers.list_trusted_issuers().await {
        Ok(all) => Ok(all.into_iter().find(|t| t.id == id)),
        Err(err) => Err(unavailable(&err)),
    }
}

/// `POST /admin/trusted-issuers/{id}/toggle`.
pub(crate) async fn post_toggle_issuer(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let mut record = match find(&state, &path).await {
        Ok(Some(record)) => record,
        Ok(None) => return see_other("/admin/trusted-issuers?notice=invalid"),
        Err(response) => return response,
    };
    record.enabled = !record.enabled;
    record.updated_at = state.clock.now();
    if let Err(err) = state.trusted_issuers.update_trusted_issuer(&record).await {
        return unavailable(&err);
    }
    let kind = if record.enabled {
        tessera_core::AuditKind::TrustedIssuerEnabled
    } else {
        tessera_core::AuditKind::TrustedIssuerDisabled
    };
    super::audit(&state, &req, &admin, kind, None, None).await;
    see_other("/admin/trusted-issuers?notice=updated")
}

/// `POST /admin/trusted-issuers/{id}/delete`.
pub(crate) async fn post_delete_issuer(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    match state.trusted_issuers.delete_trusted_issuer(&path).await {
        Ok(true) => {
            super::audit(
                &state,
                &req,
                &admin,
                tessera_core::AuditKind::TrustedIssuerDeleted,
                None,
                None,
            )
            .await;
            see_other("/admin/trusted-issuers?notice=deleted")
        }
        Ok(false) => see_other("/admin/trusted-issuers?notice=invalid"),
        Err(err) => unavailable(&err),
    }
}
