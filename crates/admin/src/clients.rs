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
    AdminForm, AdminPage, AdminState, FieldError, FieldMarks, PageQuery, SensitiveForm, html,
    notice, number, see_other,
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
    /// The query of the next page, when there may be one.
    next: Option<String>,
    /// Whether this is a later page.
    paged: bool,
    /// The register form: its defaults, or what was posted and refused.
    new: NewClientFields,
}

/// What the register form shows: the defaults, or what the admin posted when it was refused
/// (with the field that was wrong and why), so nothing typed is lost.
pub(crate) struct NewClientFields {
    client_name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    auth_method: String,
    grants: Vec<GrantBox>,
    scope: String,
    access_token_ttl: String,
    refresh_token_ttl: String,
    refresh_token_absolute_ttl: String,
    refresh_token_max_rotations: String,
    access_token_alg: String,
    id_token_alg: String,
    jwks_uri: String,
    jwks: String,
    require_par: bool,
    dpop_bound: bool,
    marks: FieldMarks,
}

impl NewClientFields {
    fn defaults() -> Self {
        Self {
            client_name: String::new(),
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            auth_method: "client_secret_basic".into(),
            grants: grant_boxes(|grant| {
                matches!(
                    grant,
                    GrantType::AuthorizationCode | GrantType::RefreshToken
                )
            }),
            scope: "openid profile email offline_access".into(),
            access_token_ttl: String::new(),
            refresh_token_ttl: String::new(),
            refresh_token_absolute_ttl: String::new(),
            refresh_token_max_rotations: String::new(),
            access_token_alg: String::new(),
            id_token_alg: String::new(),
            jwks_uri: String::new(),
            jwks: String::new(),
            require_par: false,
            dpop_bound: false,
            marks: FieldMarks::default(),
        }
    }

    /// The form as posted, with `error`.
    fn posted(form: &ClientForm, error: FieldError) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let wanted: Vec<String> = form.grants().unwrap_or_default();
        Self {
            client_name: text(&form.client_name),
            redirect_uris: text(&form.redirect_uris),
            post_logout_redirect_uris: text(&form.post_logout_redirect_uris),
            auth_method: text(&form.token_endpoint_auth_method),
            grants: grant_boxes(|grant| {
                wanted
                    .iter()
                    .any(|w| ops::grant_type_value(w) == grant.as_str())
            }),
            scope: text(&form.scope),
            access_token_ttl: text(&form.access_token_ttl),
            refresh_token_ttl: text(&form.refresh_token_ttl),
            refresh_token_absolute_ttl: text(&form.refresh_token_absolute_ttl),
            refresh_token_max_rotations: text(&form.refresh_token_max_rotations),
            access_token_alg: text(&form.access_token_alg),
            id_token_alg: text(&form.id_token_signed_response_alg),
            jwks_uri: text(&form.jwks_uri),
            jwks: text(&form.jwks),
            require_par: form.requires_par(),
            dpop_bound: form.dpop_bound(),
            marks: FieldMarks(Some(error)),
        }
    }
}

/// The register form's field a refused registration or change is about (`""`: the form as a
/// whole), with the rule's words; `None` for a store failure or a missing client.
fn field_error(err: &ClientOpError) -> Option<FieldError> {
    use tessera_client_registry::model::MetadataError;
    Some(match err {
        ClientOpError::Store(_) | ClientOpError::NotFound(_) => return None,
        ClientOpError::OutOfRange { setting, .. } => FieldError::new(setting, err.to_string()),
        ClientOpError::Metadata(MetadataError::InvalidRedirectUri(text)) => {
            let field = if text.contains("post_logout") || text.contains("post-logout") {
                "post_logout_redirect_uris"
            } else {
                "redirect_uris"
            };
            FieldError::new(field, text.clone())
        }
        ClientOpError::Metadata(MetadataError::InvalidClientMetadata(text)) => {
            let lower = text.to_lowercase();
            let field = [
                ("jwks", "jwks"),
                ("id_token", "id_token_signed_response_alg"),
                ("grant", "grant_types"),
                ("response_type", "grant_types"),
                ("token_endpoint_auth", "token_endpoint_auth_method"),
                ("client_name", "client_name"),
                ("scope", "scope"),
            ]
            .into_iter()
            .find(|(word, _)| lower.contains(word))
            .map_or("", |(_, field)| field);
            FieldError::new(field, text.clone())
        }
        other => FieldError::new("", other.to_string()),
    })
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
    id_token_alg: &'static str,
    jwks_uri: String,
    jwks: String,
}

impl ClientView {
    /// The view with the settings form's fields as posted (a refused edit, shown again).
    fn with_posted(mut self, form: &ClientForm) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        self.name = text(&form.client_name);
        self.redirect_uris = text(&form.redirect_uris);
        self.post_logout_redirect_uris = text(&form.post_logout_redirect_uris);
        let wanted = form.grants().unwrap_or_default();
        self.grants = grant_boxes(|grant| {
            wanted
                .iter()
                .any(|w| ops::grant_type_value(w) == grant.as_str())
        });
        self.scope = text(&form.scope);
        self.access_token_ttl = text(&form.access_token_ttl);
        self.refresh_token_ttl = text(&form.refresh_token_ttl);
        self.refresh_token_absolute_ttl = text(&form.refresh_token_absolute_ttl);
        self.refresh_token_max_rotations = text(&form.refresh_token_max_rotations);
        self.id_token_alg = match form.id_token_signed_response_alg.as_deref() {
            Some("ES256") => "ES256",
            Some("RS256") => "RS256",
            _ => "",
        };
        self.jwks_uri = text(&form.jwks_uri);
        self.jwks = text(&form.jwks);
        self.require_par = form.requires_par();
        self.dpop_bound = form.dpop_bound();
        self.enabled = form.enabled.as_deref() == Some("on");
        self
    }
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
    /// The settings form's refused field, when it is shown again as posted.
    marks: FieldMarks,
    /// The grants' user filter, as typed.
    query: String,
    /// The query of the next page of grants.
    next: Option<String>,
    /// Whether this is a later page of grants.
    paged: bool,
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
        id_token_alg: client
            .id_token_signed_response_alg
            .map_or("", |a| a.as_str()),
        jwks_uri: client.jwks_uri.clone().unwrap_or_default(),
        jwks: client
            .jwks
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
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
    let notice = notice(query.notice.as_deref());
    let new = NewClientFields::defaults();
    let list = (query.q.as_deref(), query.after.as_deref());
    clients_page(&state, &admin, list, (notice, new), StatusCode::OK).await
}

/// The client list with the register form `new` (and a notice above).
async fn clients_page(
    state: &AdminState,
    admin: &super::Admin,
    (search, after): (Option<&str>, Option<&str>),
    (notice, new): (Option<&'static str>, NewClientFields),
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let cursor = after.and_then(tessera_core::store::ClientCursor::decode);
    let mut clients = state
        .clients
        .page_clients(search, cursor.as_ref(), super::LIST_PAGE + 1)
        .await?;
    let more = clients.len() as u64 > super::LIST_PAGE;
    clients.truncate(usize::try_from(super::LIST_PAGE).unwrap_or(100));
    let next = clients.last().filter(|_| more).map(|c| {
        let cursor = tessera_core::store::ClientCursor::after(c);
        super::next_page(search, &cursor.encode())
    });
    let page = ClientsPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice,
        query: search.unwrap_or_default(),
        new,
        next,
        paged: cursor.is_some(),
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
    Ok(html(status, page.render()))
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
    /// `private_key_jwt`: where the client's keys are, or the keys themselves (JSON).
    jwks_uri: Option<String>,
    jwks: Option<String>,
    id_token_signed_response_alg: Option<String>,
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

    /// The token settings the form gives, or the field that is not a number or an algorithm.
    fn settings(&self) -> Result<TokenSettings, FieldError> {
        let alg = match self.access_token_alg.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(alg) => Some(
                alg.parse::<tessera_core::SigningAlg>()
                    .map_err(|_| FieldError::new("access_token_alg", "choose RS256 or ES256"))?,
            ),
        };
        let whole = |field: &'static str, value: &Option<String>| {
            number(value.as_deref())
                .map_err(|()| FieldError::new(field, "a whole number of seconds, or empty"))
        };
        Ok(TokenSettings {
            access_token_ttl: whole("access_token_ttl", &self.access_token_ttl)?,
            refresh_token_ttl: whole("refresh_token_ttl", &self.refresh_token_ttl)?,
            refresh_token_absolute_ttl: whole(
                "refresh_token_absolute_ttl",
                &self.refresh_token_absolute_ttl,
            )?,
            refresh_token_max_rotations: number(self.refresh_token_max_rotations.as_deref())
                .map_err(|()| {
                    FieldError::new("refresh_token_max_rotations", "a whole number, or empty")
                })?,
            access_token_alg: alg,
        })
    }

    /// The client's own keys (`private_key_jwt`), or the field that is not a JWK Set.
    fn keys(&self) -> Result<(Option<String>, Option<serde_json::Value>), FieldError> {
        let uri = self
            .jwks_uri
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        let jwks = match self
            .jwks
            .as_deref()
            .map(str::trim)
            .filter(|j| !j.is_empty())
        {
            None => None,
            Some(text) => Some(
                serde_json::from_str(text)
                    .map_err(|err| FieldError::new("jwks", format!("not JSON: {err}")))?,
            ),
        };
        Ok((uri, jwks))
    }

    fn id_token_alg(&self) -> Option<String> {
        self.id_token_signed_response_alg
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
    }

    /// The metadata of a new client.
    fn metadata(&self) -> Result<ClientMetadata, FieldError> {
        let (jwks_uri, jwks) = self.keys()?;
        Ok(ClientMetadata {
            jwks_uri,
            jwks,
            id_token_signed_response_alg: self.id_token_alg(),
            redirect_uris: lines(self.redirect_uris.as_deref()),
            post_logout_redirect_uris: Some(lines(self.post_logout_redirect_uris.as_deref())),
            token_endpoint_auth_method: self.token_endpoint_auth_method.clone(),
            grant_types: self.grants(),
            client_name: self.client_name.clone(),
            scope: self.scope.clone().filter(|s| !s.trim().is_empty()),
            require_pushed_authorization_requests: Some(self.requires_par()),
            dpop_bound_access_tokens: Some(self.dpop_bound()),
            ..ClientMetadata::default()
        })
    }

    /// `client`'s registration with the form's changes.
    fn edit_of(
        &self,
        client: &ClientRecord,
        settings: TokenSettings,
    ) -> Result<ClientEdit, FieldError> {
        let mut metadata = metadata_of(client);
        if self.jwks_uri.is_some() || self.jwks.is_some() {
            (metadata.jwks_uri, metadata.jwks) = self.keys()?;
        }
        if self.id_token_signed_response_alg.is_some() {
            metadata.id_token_signed_response_alg = self.id_token_alg();
        }
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
        Ok(ClientEdit {
            metadata,
            settings,
            enabled: self.enabled.as_deref() == Some("on"),
        })
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
    // A refusal shows the form again as posted, the wrong field marked (400): nothing typed
    // is lost, and nothing was registered.
    let refuse = async |error: FieldError| {
        let new = NewClientFields::posted(&form, error);
        let notice = Some(super::REFUSED_FIELD);
        clients_page(
            &state,
            &admin,
            (None, None),
            (notice, new),
            StatusCode::BAD_REQUEST,
        )
        .await
    };
    let (settings, metadata) = match (form.settings(), form.metadata()) {
        (Ok(settings), Ok(metadata)) => (settings, metadata),
        (Err(error), _) | (_, Err(error)) => return refuse(error).await,
    };
    let now = state.clock.now();
    let created = match ops::create(state.clients.as_ref(), &metadata, settings, now).await {
        Ok(created) => created,
        Err(err) => match field_error(&err) {
            Some(error) => return refuse(error).await,
            None => return Err(store_or_missing(err)),
        },
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

/// The page error of a store failure (503) or a missing client (404).
fn store_or_missing(err: ClientOpError) -> PageError {
    match err {
        ClientOpError::Store(err) => err.into(),
        _ => no_such_client(),
    }
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
    let notice = notice(query.notice.as_deref());
    let view = view(&client);
    let list = (query.q.as_deref(), query.after.as_deref());
    let shown = (notice, view, FieldMarks::default());
    client_page(&state, &admin, &client, shown, list).await
}

/// A client's page: its settings form (`view`, marked by `marks`) and a page of its grants
/// (`search`: only those of the user with this name or id; `after`: the page after this
/// cursor); 400 when a field is marked.
async fn client_page(
    state: &AdminState,
    admin: &super::Admin,
    client: &ClientRecord,
    (notice, view, marks): (Option<&'static str>, ClientView, FieldMarks),
    (search, after): (Option<&str>, Option<&str>),
) -> Result<HttpResponse, PageError> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let user = match search {
        None => None,
        Some(name) => Some(match state.users.find_user_by_username(name).await? {
            Some(user) => user.id,
            None => tessera_core::Subject::new(name),
        }),
    };
    let cursor = after.and_then(tessera_core::store::TimeCursor::decode);
    let mut grants = state
        .grant_list
        .list_client_grants(
            &client.client_id,
            user.as_ref(),
            cursor.as_ref(),
            super::LIST_PAGE + 1,
        )
        .await?;
    let more = grants.len() as u64 > super::LIST_PAGE;
    grants.truncate(usize::try_from(super::LIST_PAGE).unwrap_or(100));
    let next = grants.last().filter(|_| more).map(|g| {
        let cursor = tessera_core::store::TimeCursor {
            at: g.created_at,
            id: g.id.to_string(),
        };
        super::next_page(search, &cursor.encode())
    });
    let ids = grants
        .iter()
        .filter_map(|g| g.user_id.as_ref().map(|u| u.as_str()));
    let names = super::usernames(state.users.as_ref(), ids).await?;
    let status = if marks.0.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ClientPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice,
        client: view,
        grants: grants.iter().map(|g| GrantRow::of(g, &names)).collect(),
        marks,
        query: search.unwrap_or_default().to_owned(),
        next,
        paged: cursor.is_some(),
    };
    Ok(html(status, page.render()))
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
    // A refusal shows the form again as posted, the wrong field marked (400).
    let refuse = async |error: FieldError| {
        let view = view(&client).with_posted(&form);
        let shown = (Some(super::REFUSED_FIELD), view, FieldMarks(Some(error)));
        client_page(&state, &admin, &client, shown, (None, None)).await
    };
    let edit = match form
        .settings()
        .and_then(|settings| form.edit_of(&client, settings))
    {
        Ok(edit) => edit,
        Err(error) => return refuse(error).await,
    };
    match ops::edit(state.clients.as_ref(), &client, edit, state.clock.now()).await {
        Ok(_) => {}
        Err(err) => match field_error(&err) {
            Some(error) => return refuse(error).await,
            None => return Err(store_or_missing(err)),
        },
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
    AdminForm { admin, form, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let (client_id, grant_id) = path.into_inner();
    let grant = GrantId::new(grant_id);
    let client_page = format!("/admin/clients/{client_id}");
    // Only a grant of this client.
    let user = match state.grants.find_grant(&grant).await? {
        Some(found) if found.client_id.as_str() == client_id => found.user_id,
        _ => return Ok(see_other(&client_page)),
    };
    // Back to the user's page when the button was there, else the client's.
    let back = match (super::field(&form, "back"), &user) {
        (Some("user"), Some(user)) => format!("/admin/users/{user}"),
        _ => client_page,
    };
    let now = state.clock.now();
    state
        .grants
        .revoke_grant(&grant, "revoked by an admin", now)
        .await?;
    let kind = AuditKind::GrantRevoked;
    let user = user.as_ref().map(|u| u.as_str());
    super::audit(&state, &req, &admin, kind, Some(&client_id), user).await;
    Ok(see_other(&format!("{back}?notice=revoked")))
}
