//! Client pages: list and search, register (secret shown once), view and edit, rotate the secret,
//! delete, and see and revoke the client's grants.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::{
    GrantId,
    grant_type::GrantType,
    store::{ClientAuthMethod, ClientRecord},
};

use super::{
    AdminForm, AdminPage, AdminState, PageQuery, SensitiveForm, html, notice, number, see_other,
};
use crate::ops::clients::{self as ops, ClientEdit, ClientOpError, TokenSettings};
use crate::shown_once::{Made, redirect_showing};
use tessera_client_registry::{model::ClientMetadata, registry::metadata_of};
use tessera_core::AuditKind;
use tessera_web::PageError;

/// One row of the client list.
pub(crate) struct ClientRow {
    id: String,
    name: String,
    auth_method: &'static str,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    query: &'a str,
    clients: Vec<ClientRow>,
    /// The register form's grant checkboxes (code and refresh checked).
    grants: Vec<GrantBox>,
}

/// A client as the detail page shows it.
pub(crate) struct ClientView {
    id: String,
    name: String,
    auth_method: &'static str,
    created_at: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grants: Vec<GrantBox>,
    scope: String,
    enabled: bool,
    uses_secret: bool,
    access_token_ttl: String,
    refresh_token_ttl: String,
    refresh_token_absolute_ttl: String,
    refresh_token_max_rotations: String,
    access_token_alg: &'static str,
    require_par: bool,
    dpop_bound: bool,
}

pub(crate) struct GrantRow {
    id: String,
    /// The user's id ("" for the client itself) and name.
    user_id: String,
    user: String,
    scopes: String,
    created_at: String,
    revoked: bool,
}

impl GrantRow {
    fn of(
        grant: &tessera_core::store::GrantRecord,
        names: &std::collections::HashMap<String, String>,
    ) -> Self {
        let user_id = grant.user_id.as_ref().map(ToString::to_string);
        Self {
            id: grant.id.to_string(),
            user: user_id.as_ref().map_or_else(
                || "(the client itself)".into(),
                |id| names.get(id).cloned().unwrap_or_default(),
            ),
            user_id: user_id.unwrap_or_default(),
            scopes: grant.scopes.join(" "),
            created_at: grant.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            revoked: grant.revoked_at.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/client.html")]
struct ClientPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    client: ClientView,
    grants: Vec<GrantRow>,
}

/// The page that shows a secret or token once.
#[derive(Template)]
#[template(path = "admin/shown_once.html")]
pub(crate) struct ShownOncePage<'a> {
    pub csrf_token: &'a str,
    pub admin_name: &'a str,
    pub notice: Option<&'a str>,
    pub title: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub back: &'a str,
}

fn lines(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn words(text: Option<&str>) -> Option<Vec<String>> {
    text.map(|t| t.split_whitespace().map(str::to_owned).collect())
}

/// A grant type's checkbox on the register and edit forms: field `grant_<field>`.
pub(crate) struct GrantBox {
    field: &'static str,
    label: &'static str,
    hint: &'static str,
    checked: bool,
}

/// Every grant type, as the forms offer them: (grant, field, label, what it is for).
const GRANTS: [(GrantType, &str, &str, &str); 5] = [
    (
        GrantType::AuthorizationCode,
        "authorization_code",
        "authorization_code",
        "people sign in through the browser",
    ),
    (
        GrantType::RefreshToken,
        "refresh_token",
        "refresh_token",
        "stay signed in (with offline_access)",
    ),
    (
        GrantType::ClientCredentials,
        "client_credentials",
        "client_credentials",
        "a service acting as itself",
    ),
    (
        GrantType::DeviceCode,
        "device_code",
        "device_code",
        "TVs and consoles (RFC 8628)",
    ),
    (
        GrantType::JwtBearer,
        "jwt_bearer",
        "jwt-bearer",
        "assertions from a trusted issuer (RFC 7523)",
    ),
];

fn grant_boxes(checked: impl Fn(GrantType) -> bool) -> Vec<GrantBox> {
    GRANTS
        .iter()
        .map(|(grant, field, label, hint)| GrantBox {
            field,
            label,
            hint,
            checked: checked(*grant),
        })
        .collect()
}

fn view(client: &ClientRecord) -> ClientView {
    ClientView {
        id: client.client_id.to_string(),
        name: client.client_name.clone().unwrap_or_default(),
        auth_method: client.token_endpoint_auth_method.as_str(),
        created_at: client.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        redirect_uris: client.redirect_uris.join("\n"),
        post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
        grants: grant_boxes(|grant| client.grant_types.contains(&grant)),
        scope: client.scopes.join(" "),
        enabled: client.enabled,
        access_token_ttl: client
            .access_token_ttl
            .map(|t| t.to_string())
            .unwrap_or_default(),
        refresh_token_ttl: client
            .refresh_token_ttl
            .map(|t| t.to_string())
            .unwrap_or_default(),
        refresh_token_absolute_ttl: client
            .refresh_token_absolute_ttl
            .map(|t| t.to_string())
            .unwrap_or_default(),
        refresh_token_max_rotations: client
            .refresh_token_max_rotations
            .map(|t| t.to_string())
            .unwrap_or_default(),
        access_token_alg: client.access_token_signed_alg.map_or("", |a| a.as_str()),
        require_par: client.require_pushed_authorization_requests,
        dpop_bound: client.dpop_bound_access_tokens,
        uses_secret: matches!(
            client.token_endpoint_auth_method,
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
        ),
    }
}

/// `GET /admin/clients`.
pub(crate) async fn get_clients(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let clients = state.clients.list_clients(query.q.as_deref(), 500).await?;
    let page = ClientsPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        query: query.q.as_deref().unwrap_or_default(),
        grants: grant_boxes(|grant| {
            matches!(
                grant,
                GrantType::AuthorizationCode | GrantType::RefreshToken
            )
        }),
        clients: clients
            .iter()
            .map(|c| ClientRow {
                id: c.client_id.to_string(),
                name: c.client_name.clone().unwrap_or_default(),
                auth_method: c.token_endpoint_auth_method.as_str(),
                enabled: c.enabled,
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// The fields of the register and edit forms (each optional: a field left out keeps its
/// default or, when editing, the client's value where the form has no such field).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ClientForm {
    client_name: Option<String>,
    redirect_uris: Option<String>,
    post_logout_redirect_uris: Option<String>,
    token_endpoint_auth_method: Option<String>,
    /// Grant types as words (a form posted by a script; the page's own form has checkboxes).
    grant_types: Option<String>,
    /// Present when the form had the grant checkboxes (so none checked means none).
    grants_listed: Option<String>,
    grant_authorization_code: Option<String>,
    grant_refresh_token: Option<String>,
    grant_client_credentials: Option<String>,
    grant_device_code: Option<String>,
    grant_jwt_bearer: Option<String>,
    scope: Option<String>,
    access_token_ttl: Option<String>,
    refresh_token_ttl: Option<String>,
    refresh_token_absolute_ttl: Option<String>,
    refresh_token_max_rotations: Option<String>,
    access_token_alg: Option<String>,
    enabled: Option<String>,
    require_pushed_authorization_requests: Option<String>,
    dpop_bound_access_tokens: Option<String>,
}

impl ClientForm {
    /// The grant types the form gives: the checked boxes, or the words of `grant_types`;
    /// `None` when it has neither (an edit keeps the client's).
    fn grants(&self) -> Option<Vec<String>> {
        if self.grants_listed.is_none() {
            return words(self.grant_types.as_deref());
        }
        let checked = [
            &self.grant_authorization_code,
            &self.grant_refresh_token,
            &self.grant_client_credentials,
            &self.grant_device_code,
            &self.grant_jwt_bearer,
        ];
        Some(
            GRANTS
                .iter()
                .zip(checked)
                .filter(|(_, value)| value.as_deref() == Some("on"))
                .map(|((grant, ..), _)| grant.as_str().to_owned())
                .collect(),
        )
    }

    /// The checkbox: only DPoP-bound access tokens for this client.
    fn dpop_bound(&self) -> bool {
        self.dpop_bound_access_tokens.as_deref() == Some("on")
    }

    /// The checkbox: only pushed authorization requests for this client.
    fn requires_par(&self) -> bool {
        self.require_pushed_authorization_requests.as_deref() == Some("on")
    }

    /// The token settings the form gives, or `Err` for a field that is not a number or an
    /// algorithm.
    fn settings(&self) -> Result<TokenSettings, ()> {
        let alg = match self.access_token_alg.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(alg) => Some(alg.parse::<tessera_core::SigningAlg>().map_err(|_| ())?),
        };
        Ok(TokenSettings {
            access_token_ttl: number(self.access_token_ttl.as_deref())?,
            refresh_token_ttl: number(self.refresh_token_ttl.as_deref())?,
            refresh_token_absolute_ttl: number(self.refresh_token_absolute_ttl.as_deref())?,
            refresh_token_max_rotations: number(self.refresh_token_max_rotations.as_deref())?,
            access_token_alg: alg,
        })
    }

    /// The metadata of a new client.
    fn metadata(&self) -> ClientMetadata {
        ClientMetadata {
            redirect_uris: lines(self.redirect_uris.as_deref()),
            post_logout_redirect_uris: Some(lines(self.post_logout_redirect_uris.as_deref())),
            token_endpoint_auth_method: self.token_endpoint_auth_method.clone(),
            grant_types: self.grants(),
            client_name: self.client_name.clone(),
            scope: self.scope.clone().filter(|s| !s.trim().is_empty()),
            require_pushed_authorization_requests: Some(self.requires_par()),
            dpop_bound_access_tokens: Some(self.dpop_bound()),
            ..ClientMetadata::default()
        }
    }

    /// `client`'s registration with the form's changes.
    fn edit_of(&self, client: &ClientRecord, settings: TokenSettings) -> ClientEdit {
        let mut metadata = metadata_of(client);
        metadata.client_name = self.client_name.clone();
        metadata.redirect_uris = lines(self.redirect_uris.as_deref());
        metadata.post_logout_redirect_uris = Some(lines(self.post_logout_redirect_uris.as_deref()));
        if let Some(grants) = self.grants() {
            metadata.grant_types = Some(grants);
            metadata.response_types = None;
        }
        if let Some(scope) = &self.scope {
            metadata.scope = Some(scope.clone());
        }
        metadata.require_pushed_authorization_requests = Some(self.requires_par());
        metadata.dpop_bound_access_tokens = Some(self.dpop_bound());
        ClientEdit {
            metadata,
            settings,
            enabled: self.enabled.as_deref() == Some("on"),
        }
    }
}

/// The page for a refused registration or change (400, the rule's words), or the error.
fn refused(title: &str, err: ClientOpError) -> Result<HttpResponse, PageError> {
    match err {
        ClientOpError::Store(err) => Err(err.into()),
        ClientOpError::NotFound(_) => Err(no_such_client()),
        ClientOpError::Metadata(err) => Ok(tessera_web::html_error(
            StatusCode::BAD_REQUEST,
            title,
            err.description(),
            Some(err.code()),
        )),
        other => Ok(tessera_web::html_error(
            StatusCode::BAD_REQUEST,
            title,
            &other.to_string(),
            Some("invalid_client_metadata"),
        )),
    }
}

fn no_such_client() -> PageError {
    PageError::NotFound {
        title: "No such client",
        message: "There is no client with this id.",
    }
}

/// `POST /admin/clients`: registers a client through the same rules as RFC 7591.
pub(crate) async fn post_create_client(
    req: HttpRequest,
    AdminForm { admin, form, .. }: AdminForm<ClientForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    const TITLE: &str = "The client was not registered";
    let Ok(settings) = form.settings() else {
        return Ok(see_other("/admin/clients?notice=invalid"));
    };
    let now = state.clock.now();
    let created = match ops::create(state.clients.as_ref(), &form.metadata(), settings, now).await {
        Ok(created) => created,
        Err(err) => return refused(TITLE, err),
    };
    let id = created.client.client_id.as_str();
    super::audit(
        &state,
        &req,
        &admin,
        AuditKind::ClientCreated,
        Some(id),
        None,
    )
    .await;
    let Some(secret) = &created.secret else {
        return Ok(see_other(&format!("/admin/clients/{id}?notice=created")));
    };
    Ok(redirect_showing(
        &state,
        Made::ClientCreated,
        id,
        secret.expose(),
    ))
}

async fn load(state: &AdminState, id: &str) -> Result<ClientRecord, PageError> {
    ops::find(state.clients.as_ref(), id)
        .await
        .map_err(|err| match err {
            ClientOpError::Store(err) => err.into(),
            _ => no_such_client(),
        })
}

/// `GET /admin/clients/{id}`.
pub(crate) async fn get_client(
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let client = load(&state, &path).await?;
    let grants = state
        .grant_list
        .list_client_grants(&client.client_id, 200)
        .await?;
    let ids = grants
        .iter()
        .filter_map(|g| g.user_id.as_ref().map(|u| u.as_str()));
    let names = super::usernames(state.users.as_ref(), ids).await?;
    let page = ClientPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        client: view(&client),
        grants: grants.iter().map(|g| GrantRow::of(g, &names)).collect(),
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// `POST /admin/clients/{id}`: edits name, URIs, grant types, scopes, token settings and the
/// enabled flag.
pub(crate) async fn post_edit_client(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, form, .. }: AdminForm<ClientForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let client = load(&state, &path).await?;
    let invalid = format!("/admin/clients/{}?notice=invalid", client.client_id);
    let Ok(settings) = form.settings() else {
        return Ok(see_other(&invalid));
    };
    let edit = form.edit_of(&client, settings);
    match ops::edit(state.clients.as_ref(), &client, edit, state.clock.now()).await {
        Ok(_) => {}
        Err(ClientOpError::OutOfRange { .. }) => return Ok(see_other(&invalid)),
        Err(err) => return refused("The change was not saved", err),
    }
    let id = client.client_id.as_str();
    super::audit(
        &state,
        &req,
        &admin,
        AuditKind::ClientUpdated,
        Some(id),
        None,
    )
    .await;
    Ok(see_other(&format!("/admin/clients/{id}?notice=saved")))
}

/// `POST /admin/clients/{id}/rotate-secret`: the new secret is shown once.
pub(crate) async fn post_rotate_secret(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, .. }: SensitiveForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let id = path.as_str();
    let secret = match ops::new_secret(state.clients.as_ref(), id, state.clock.now()).await {
        Ok(secret) => secret,
        Err(ClientOpError::NoSecret(_)) => {
            return Ok(see_other(&format!("/admin/clients/{id}?notice=invalid")));
        }
        Err(err) => return refused("No new secret", err),
    };
    let kind = AuditKind::ClientSecretRotated;
    super::audit(&state, &req, &admin, kind, Some(id), None).await;
    Ok(redirect_showing(
        &state,
        Made::ClientSecret,
        id,
        secret.expose(),
    ))
}

/// `POST /admin/clients/{id}/delete`.
pub(crate) async fn post_delete_client(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, .. }: SensitiveForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    match ops::delete(state.clients.as_ref(), &path).await {
        Ok(()) => {}
        Err(ClientOpError::NotFound(_)) => return Ok(see_other("/admin/clients")),
        Err(err) => return refused("The client was not deleted", err),
    }
    let kind = AuditKind::ClientDeleted;
    super::audit(&state, &req, &admin, kind, Some(path.as_str()), None).await;
    Ok(see_other("/admin/clients?notice=deleted"))
}

/// `POST /admin/clients/{id}/grants/{grant}/revoke`.
pub(crate) async fn post_revoke_grant(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let (client_id, grant_id) = path.into_inner();
    let back = format!("/admin/clients/{client_id}");
    let grant = GrantId::new(grant_id);
    match state.grants.find_grant(&grant).await? {
        Some(found) if found.client_id.as_str() == client_id => {}
        _ => return Ok(see_other(&back)),
    }
    let now = state.clock.now();
    state
        .grants
        .revoke_grant(&grant, "revoked by an admin", now)
        .await?;
    let kind = AuditKind::GrantRevoked;
    super::audit(&state, &req, &admin, kind, Some(&client_id), None).await;
    Ok(see_other(&format!("{back}?notice=revoked")))
}
