//! Trusted JWT issuers (the jwt-bearer grant): list, trust, enable/disable, delete. A refused
//! trust form is shown again (400) with the rule's words above it and everything typed kept.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::store::TrustedIssuerRecord;

use super::{AdminForm, AdminPage, AdminState, PageQuery, field, html, notice, see_other};
use crate::ops::issuers::{self as ops, IssuerOpError};
use tessera_client_registry::trusted_issuer::TrustedIssuerInput;
use tessera_core::AuditKind;
use tessera_web::PageError;

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

/// The trust form: empty (RS256 ticked), or as posted when it was refused.
pub(crate) struct IssuerFields {
    issuer: String,
    jwks: String,
    jwks_uri: String,
    rs256: bool,
    es256: bool,
    subjects: String,
    scopes: String,
    clients: String,
}

impl Default for IssuerFields {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            jwks: String::new(),
            jwks_uri: String::new(),
            rs256: true,
            es256: false,
            subjects: String::new(),
            scopes: String::new(),
            clients: String::new(),
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
    form: IssuerFields,
    issuers: Vec<IssuerRow>,
    /// The search, as typed.
    query: String,
    /// The query of the next page.
    next: Option<String>,
    /// Whether this is a later page.
    paged: bool,
}

/// A page of the trusted issuers (by `iss`; `search` in it, `after` the last one shown) and
/// the trust form (`error`: why it was refused; then 400).
async fn render(
    state: &AdminState,
    admin: &super::Admin,
    notice_text: Option<&'static str>,
    (error, form): (Option<String>, IssuerFields),
    (search, after): (Option<&str>, Option<&str>),
) -> HttpResponse {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let limit = super::LIST_PAGE + 1;
    let mut issuers = match state
        .trusted_issuers
        .page_trusted_issuers(search, after, limit)
        .await
    {
        Ok(issuers) => issuers,
        Err(err) => return actix_web::ResponseError::error_response(&PageError::from(err)),
    };
    let more = issuers.len() as u64 > super::LIST_PAGE;
    issuers.truncate(usize::try_from(super::LIST_PAGE).unwrap_or(100));
    let next = issuers
        .last()
        .filter(|_| more)
        .map(|i| super::next_page(search, &i.issuer));
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
        form,
        query: search.unwrap_or_default().to_owned(),
        next,
        paged: after.is_some(),
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
    let shown = (None, IssuerFields::default());
    let list = (query.q.as_deref(), query.after.as_deref());
    render(&state, &admin, notice(query.notice.as_deref()), shown, list).await
}

/// `POST /admin/trusted-issuers` (`alg` may repeat: one checkbox per algorithm).
pub(crate) async fn post_create_issuer(
    req: HttpRequest,
    AdminForm { admin, pairs, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let text = |name: &str| field(&pairs, name).map(str::to_owned);
    let algs: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "alg")
        .map(|(_, v)| v.clone())
        .collect();
    // What was typed, to show again if it is refused.
    let typed = IssuerFields {
        issuer: text("issuer").unwrap_or_default(),
        jwks: text("jwks").unwrap_or_default(),
        jwks_uri: text("jwks_uri").unwrap_or_default(),
        rs256: algs.iter().any(|a| a == "RS256"),
        es256: algs.iter().any(|a| a == "ES256"),
        subjects: text("subjects").unwrap_or_default(),
        scopes: text("scopes").unwrap_or_default(),
        clients: text("clients").unwrap_or_default(),
    };
    let input = TrustedIssuerInput {
        issuer: text("issuer").unwrap_or_default(),
        jwks: text("jwks"),
        jwks_uri: text("jwks_uri"),
        algs,
        subjects: text("subjects").into_iter().collect(),
        scopes: text("scopes").into_iter().collect(),
        clients: text("clients").into_iter().collect(),
    };
    let (issuers, clients) = (state.trusted_issuers.as_ref(), state.clients.as_ref());
    match ops::create(issuers, clients, input, state.clock.now()).await {
        Ok(_) => {}
        Err(IssuerOpError::Store(err)) => return Err(err.into()),
        Err(IssuerOpError::Invalid(message)) => {
            let refused = Some(super::REFUSED);
            let shown = (Some(message), typed);
            return Ok(render(&state, &admin, refused, shown, (None, None)).await);
        }
        Err(err) => {
            let refused = Some(super::REFUSED);
            let shown = (Some(err.to_string()), typed);
            return Ok(render(&state, &admin, refused, shown, (None, None)).await);
        }
    }
    let kind = AuditKind::TrustedIssuerCreated;
    super::audit(&state, &req, &admin, kind, None, None).await;
    Ok(see_other("/admin/trusted-issuers?notice=created"))
}

/// `POST /admin/trusted-issuers/{id}/toggle`.
pub(crate) async fn post_toggle_issuer(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let issuers = state.trusted_issuers.as_ref();
    let now = state.clock.now();
    let enabled = match ops::find(issuers, &path).await {
        Ok(record) => !record.enabled,
        Err(IssuerOpError::Store(err)) => return Err(err.into()),
        Err(_) => return Ok(see_other("/admin/trusted-issuers?notice=invalid")),
    };
    ops::set_enabled(issuers, &path, enabled, now)
        .await
        .map_err(store_or_gone)?;
    let kind = if enabled {
        AuditKind::TrustedIssuerEnabled
    } else {
        AuditKind::TrustedIssuerDisabled
    };
    super::audit(&state, &req, &admin, kind, None, None).await;
    Ok(see_other("/admin/trusted-issuers?notice=updated"))
}

/// A store failure, or the issuer went away meanwhile.
fn store_or_gone(err: IssuerOpError) -> PageError {
    match err {
        IssuerOpError::Store(err) => err.into(),
        _ => PageError::NotFound {
            title: "No such issuer",
            message: "This issuer is no longer trusted.",
        },
    }
}

/// `POST /admin/trusted-issuers/{id}/delete`.
pub(crate) async fn post_delete_issuer(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    match ops::delete(state.trusted_issuers.as_ref(), &path).await {
        Ok(_) => {}
        Err(IssuerOpError::Store(err)) => return Err(err.into()),
        Err(_) => return Ok(see_other("/admin/trusted-issuers?notice=invalid")),
    }
    let kind = AuditKind::TrustedIssuerDeleted;
    super::audit(&state, &req, &admin, kind, None, None).await;
    Ok(see_other("/admin/trusted-issuers?notice=deleted"))
}
