//! Client pages: list and search, register (secret shown once), view and edit, rotate the secret,
//! delete, and see and revoke the client's grants.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::{
    ClientId, GrantId,
    store::{ClientAuthMethod, ClientRecord},
};

use super::{
    AdminForm, AdminPage, AdminState, PageQuery, SensitiveForm, field, html, notice, see_other,
    unavailable,
};
use tessera_client_registry::{
    model::{ClientMetadata, limits, validate},
    registry::{apply_update, metadata_of, new_client, rotate_secret},
};

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
}

/// A client as the detail page shows it.
pub(crate) struct ClientView {
    id: String,
    name: String,
    auth_method: &'static str,
    created_at: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scope: String,
    enabled: bool,
    uses_secret: bool,
    access_token_ttl: String,
    refresh_token_ttl: String,
    refresh_token_absolute_ttl: String,
    refresh_token_max_rotations: String,
    access_token_alg: &'static str,
}

pub(crate) struct GrantRow {
    id: String,
    user: String,
    scopes: String,
    created_at: String,
    revoked: bool,
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

fn view(client: &ClientRecord) -> ClientView {
    ClientView {
        id: client.client_id.to_string(),
        name: client.client_name.clone().unwrap_or_default(),
        auth_method: client.token_endpoint_auth_method.as_str(),
        created_at: client.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        redirect_uris: client.redirect_uris.join("\n"),
        post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
        grant_types: client.grant_types.join(" "),
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
) -> HttpResponse {
    let clients = match state.clients.list_clients(query.q.as_deref(), 500).await {
        Ok(clients) => clients,
        Err(err) => return unavailable(&err),
    };
    let page = ClientsPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        query: query.q.as_deref().unwrap_or_default(),
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
    html(StatusCode::OK, page.render())
}

/// `POST /admin/clients`: registers a client through the same rules as RFC 7591.
pub(crate) async fn post_create_client(
    req: HttpRequest,
    AdminForm { admin, form }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let metadata = ClientMetadata {
        redirect_uris: lines(field(&form, "redirect_uris")),
        token_endpoint_auth_method: field(&form, "token_endpoint_auth_method").map(str::to_owned),
        grant_types: words(field(&form, "grant_types")),
        client_name: field(&form, "client_name").map(str::to_owned),
        scope: field(&form, "scope")
            .map(str::to_owned)
            .filter(|s| !s.trim().is_empty()),
        ..ClientMetadata::default()
    };
    let valid = match validate(&metadata) {
        Ok(valid) => valid,
        Err(err) => {
            return tessera_web::html_error(
                StatusCode::BAD_REQUEST,
                "The client was not registered",
                err.description(),
                Some(err.code()),
            );
        }
    };
    let created = new_client(valid, state.clock.now(), false);
    if let Err(err) = state.clients.create_client(&created.client).await {
        return unavailable(&err);
    }
    let id = created.client.client_id.to_string();
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::ClientCreated,
        Some(&id),
        None,
    )
    .await;
    let back = format!("/admin/clients/{id}");
    match &created.secret {
        Some(secret) => {
            let label = format!("The client {id} was registered. Its client secret:");
            let page = ShownOncePage {
                csrf_token: &admin.csrf,
                admin_name: &admin.user.username,
                notice: None,
                title: "Client registered",
                label: &label,
                value: secret.expose(),
                back: &back,
            };
            html(StatusCode::OK, page.render())
        }
        None => see_other(&format!("{back}?notice=created")),
    }
}

async fn load(state: &AdminState, id: &str) -> Result<ClientRecord, HttpResponse> {
    match state.clients.find_client(&ClientId::new(id)).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(tessera_web::html_error(
            StatusCode::NOT_FOUND,
            "No such client",
            "There is no client with this id.",
            None,
        )),
        Err(err) => Err(unavailable(&err)),
    }
}

/// `GET /admin/clients/{id}`.
pub(crate) async fn get_client(
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let client = match load(&state, &path).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let grants = match state
        .grant_list
        .list_client_grants(&client.client_id, 200)
        .await
    {
        Ok(grants) => grants,
        Err(err) => return unavailable(&err),
    };
    let page = ClientPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        client: view(&client),
        grants: grants
            .iter()
            .map(|g| GrantRow {
                id: g.id.to_string(),
                user: g
                    .user_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "(the client itself)".into()),
                scopes: g.scopes.join(" "),
                created_at: g.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                revoked: g.revoked_at.is_some(),
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}

/// `POST /admin/clients/{id}`: edits name, URIs, grant types, scopes and the enabled flag.
pub(crate) async fn post_edit_client(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, form }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let client = match load(&state, &path).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let mut metadata = metadata_of(&client);
    metadata.client_name = field(&form, "client_name").map(str::to_owned);
    metadata.redirect_uris = lines(field(&form, "redirect_uris"));
    metadata.post_logout_redirect_uris = Some(lines(field(&form, "post_logout_redirect_uris")));
    if let Some(grants) = words(field(&form, "grant_types")) {
        metadata.grant_types = Some(grants);
        metadata.response_types = None;
    }
    if let Some(scope) = field(&form, "scope") {
        metadata.scope = Some(scope.to_owned());
    }
    let valid = match validate(&metadata) {
        Ok(valid) => valid,
        Err(err) => {
            return tessera_web::html_error(
                StatusCode::BAD_REQUEST,
                "The change was not saved",
                err.description(),
                Some(err.code()),
            );
        }
    };
    let (mut updated, _) = apply_update(&client, valid, state.clock.now());
    updated.enabled = field(&form, "enabled") == Some("on");
    let lifetime = |name: &str, max: i64| -> Result<Option<i64>, ()> {
        match field(&form, name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .map(Some)
                .ok_or(()),
        }
    };
    let access_alg = match field(&form, "access_token_alg").map(str::trim) {
        None | Some("") => Ok(None),
        Some(alg) => alg
            .parse::<tessera_core::SigningAlg>()
            .map(Some)
            .map_err(|_| ()),
    };
    match (
        lifetime("access_token_ttl", limits::MAX_ACCESS_TOKEN_TTL),
        lifetime("refresh_token_ttl", limits::MAX_REFRESH_TOKEN_TTL),
        lifetime(
            "refresh_token_absolute_ttl",
            limits::MAX_REFRESH_TOKEN_ABSOLUTE_TTL,
        ),
        lifetime(
            "refresh_token_max_rotations",
            limits::MAX_REFRESH_TOKEN_ROTATIONS,
        ),
        access_alg,
    ) {
        (Ok(access), Ok(refresh), Ok(absolute), Ok(rotations), Ok(alg)) => {
            updated.access_token_ttl = access;
            updated.refresh_token_ttl = refresh;
            updated.refresh_token_absolute_ttl = absolute;
            updated.refresh_token_max_rotations = rotations.and_then(|r| i32::try_from(r).ok());
            updated.access_token_signed_alg = alg;
        }
        _ => {
            return see_other(&format!(
                "/admin/clients/{}?notice=invalid",
                client.client_id
            ));
        }
    }
    if let Err(err) = state.clients.update_client(&updated).await {
        return unavailable(&err);
    }
    // The secret and the enabled flag are their own writes, made only when they change.
    if let Err(err) = tessera_client_registry::registry::store_secret_change(
        state.clients.as_ref(),
        &client,
        &updated,
        state.clock.now(),
    )
    .await
    {
        return unavailable(&err);
    }
    if updated.enabled != client.enabled
        && let Err(err) = state
            .clients
            .set_client_enabled(&client.client_id, updated.enabled)
            .await
    {
        return unavailable(&err);
    }
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::ClientUpdated,
        Some(client.client_id.as_str()),
        None,
    )
    .await;
    see_other(&format!("/admin/clients/{}?notice=saved", client.client_id))
}

/// `POST /admin/clients/{id}/rotate-secret`: the new secret is shown once.
pub(crate) async fn post_rotate_secret(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, .. }: SensitiveForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let mut client = match load(&state, &path).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let Some(secret) = rotate_secret(&mut client, state.clock.now()) else {
        return see_other(&format!(
            "/admin/clients/{}?notice=invalid",
            client.client_id
        ));
    };
    let Some(hash) = client.secret_hash.clone() else {
        return unavailable(&"a rotated secret has a hash");
    };
    match state
        .clients
        .set_client_secret_hash(&client.client_id, Some(&hash), state.clock.now())
        .await
    {
        Ok(true) => {}
        Ok(false) => return see_other("/admin/clients"),
        Err(err) => return unavailable(&err),
    }
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::ClientSecretRotated,
        Some(client.client_id.as_str()),
        None,
    )
    .await;
    let back = format!("/admin/clients/{}", client.client_id);
    let page = ShownOncePage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: None,
        title: "New client secret",
        label: "The previous secret no longer works. The new client secret:",
        value: secret.expose(),
        back: &back,
    };
    html(StatusCode::OK, page.render())
}

/// `POST /admin/clients/{id}/delete`.
pub(crate) async fn post_delete_client(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, .. }: SensitiveForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    match state
        .clients
        .delete_client(&ClientId::new(path.as_str()))
        .await
    {
        Ok(true) => {
            super::audit(
                &state,
                &req,
                &admin,
                tessera_core::AuditKind::ClientDeleted,
                Some(path.as_str()),
                None,
            )
            .await;
            see_other("/admin/clients?notice=deleted")
        }
        Ok(false) => see_other("/admin/clients"),
        Err(err) => unavailable(&err),
    }
}

/// `POST /admin/clients/{id}/grants/{grant}/revoke`.
pub(crate) async fn post_revoke_grant(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let (client_id, grant_id) = path.into_inner();
    let grant = GrantId::new(grant_id);
    match state.grants.find_grant(&grant).await {
        Ok(Some(found)) if found.client_id.as_str() == client_id => {}
        Ok(_) => return see_other(&format!("/admin/clients/{client_id}")),
        Err(err) => return unavailable(&err),
    }
    if let Err(err) = state
        .grants
        .revoke_grant(&grant, "revoked by an admin", state.clock.now())
        .await
    {
        return unavailable(&err);
    }
    super::audit(
        &state,
        &req,
        &admin,
        tessera_core::AuditKind::GrantRevoked,
        Some(&client_id),
        None,
    )
    .await;
    see_other(&format!("/admin/clients/{client_id}?notice=revoked"))
}
