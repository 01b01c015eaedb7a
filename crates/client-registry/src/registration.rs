//! Dynamic client registration: RFC 7591 (`POST /register`, protected by an initial access token)
//! and RFC 7592 (`GET`/`PUT`/`DELETE /register/{client_id}` with the registration access token).
//!
//! Only hashes of the registration access tokens are stored, so every successful read or update
//! rotates the token and returns the new one (RFC 7592 §3 requires it in each response).
//!
//! Registration can not mint authority: besides OpenID Connect's own scopes a client may only
//! register for scopes in the scope registry, and take for itself (client_credentials, the JWT
//! bearer grant) only those the registry allows that for. A disabled client can not manage its
//! registration (docs/decisions/0011).

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use serde::Serialize;
use tessera_core::{
    ClientId, Clock, Issuer,
    grant_type::GrantType,
    secret::{PlainToken, SecretKind, TokenHash},
    store::{AuditRepo, ClientRecord, ClientRepo, InitialAccessTokenRepo, StoreError},
};

use tessera_web::audit::Audit;

use crate::{
    model::{ClientMetadata, MetadataError, ValidClient, validate},
    registry::{ClientInformation, apply_update, new_client},
};

/// The path of the registration endpoint.
pub const REGISTRATION_PATH: &str = "/register";
/// Largest registration body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

fn no_store(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}

fn metadata_error(err: &MetadataError) -> HttpResponse {
    no_store(StatusCode::BAD_REQUEST).json(ErrorBody {
        error: err.code(),
        error_description: err.description(),
    })
}

/// 401 per RFC 6750 §3: no token → just the challenge; a bad token → `invalid_token`.
fn unauthorized(token_given: bool) -> HttpResponse {
    let challenge = if token_given {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    };
    let mut response = no_store(StatusCode::UNAUTHORIZED);
    response.insert_header((header::WWW_AUTHENTICATE, challenge));
    if token_given {
        response.json(ErrorBody {
            error: "invalid_token",
            error_description: "The access token is invalid.",
        })
    } else {
        response.finish()
    }
}

fn unavailable(err: &StoreError) -> HttpResponse {
    tracing::error!(error = %err, "registration: store failure");
    no_store(StatusCode::SERVICE_UNAVAILABLE).json(ErrorBody {
        error: "temporarily_unavailable",
        error_description: "",
    })
}

/// The bearer token of a request (RFC 6750 §2.1), if any.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Parses a JSON body into metadata (and the raw object, for RFC 7592 checks).
fn parse_metadata(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(ClientMetadata, serde_json::Value), MetadataError> {
    let json_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(MetadataError::InvalidClientMetadata(
            "the body must be application/json".into(),
        ));
    }
    let raw: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| MetadataError::InvalidClientMetadata("the body is not valid JSON".into()))?;
    if !raw.is_object() {
        return Err(MetadataError::InvalidClientMetadata(
            "the body must be a JSON object".into(),
        ));
    }
    let metadata = serde_json::from_value(raw.clone()).map_err(|err| {
        MetadataError::InvalidClientMetadata(format!("malformed metadata: {err}"))
    })?;
    Ok((metadata, raw))
}

/// Shared state of the registration endpoints.
pub struct RegistrationState {
    /// Clients.
    pub clients: std::sync::Arc<dyn ClientRepo>,
    /// Initial access tokens.
    pub tokens: std::sync::Arc<dyn InitialAccessTokenRepo>,
    /// The audit log.
    pub audit: std::sync::Arc<dyn AuditRepo>,
    /// The clock.
    pub clock: std::sync::Arc<dyn Clock>,
    /// The issuer.
    pub issuer: Issuer,
    /// The scope registry: what a client may register for.
    pub scopes: std::sync::Arc<dyn tessera_core::store::ScopeRepo>,
}

/// OpenID Connect's own scopes: always known, only ever granted by a user.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Dynamic registration can not mint authority: every scope a client registers for must be
/// OpenID Connect's own or in the scope registry, and a client that can get tokens for itself
/// (`client_credentials`, the JWT bearer grant) only for scopes the registry allows that for.
async fn check_registry(
    scopes: &dyn tessera_core::store::ScopeRepo,
    valid: &crate::model::ValidClient,
) -> Result<(), HttpResponse> {
    let for_itself = valid
        .grant_types
        .iter()
        .any(|g| matches!(g, GrantType::ClientCredentials | GrantType::JwtBearer));
    for scope in &valid.scopes {
        if OIDC_SCOPES.contains(&scope.as_str()) {
            continue;
        }
        let registered = scopes
            .find_scope(scope)
            .await
            .map_err(|e| unavailable(&e))?;
        let problem = match registered {
            None => format!("the scope {scope} is not offered by this server"),
            Some(s) if for_itself && !s.client_credentials => format!(
                "the scope {scope} can not be granted to a client for itself (client_credentials or jwt-bearer)"
            ),
            Some(_) => continue,
        };
        return Err(metadata_error(&MetadataError::InvalidClientMetadata(
            problem,
        )));
    }
    Ok(())
}

impl std::fmt::Debug for RegistrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl RegistrationState {
    fn client_uri(&self, id: &ClientId) -> String {
        self.issuer.endpoint(&format!("{REGISTRATION_PATH}/{id}"))
    }

    async fn audit(&self, req: &HttpRequest, kind: tessera_core::AuditKind, client_id: &ClientId) {
        let audit = Audit {
            actor: Some(format!("client:{client_id}")),
            client_id: Some(client_id.as_str()),
            ..Audit::new(kind)
        };
        tessera_web::audit::record(self.audit.as_ref(), req, self.clock.now(), audit).await;
    }

    /// [`Self::authorized_client`], or the answer when there is none: 401 (with a challenge
    /// naming the error when a token was sent) or 503.
    async fn opened_client(
        &self,
        req: &HttpRequest,
        id: &str,
    ) -> Result<ClientRecord, HttpResponse> {
        match self.authorized_client(req, id).await {
            Ok(Some(client)) => Ok(client),
            Ok(None) => Err(unauthorized(bearer(req).is_some())),
            Err(err) => Err(unavailable(&err)),
        }
    }

    /// The client a registration access token opens, if it does. Unknown client, wrong token
    /// and a disabled client answer alike (RFC 7592 §2: do not reveal whether the client
    /// exists); an admin's disable also ends the client's own management of its registration.
    async fn authorized_client(
        &self,
        req: &HttpRequest,
        id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let Some(token) = bearer(req) else {
            return Ok(None);
        };
        let client = self.clients.find_client(&ClientId::new(id)).await?;
        let stored = client
            .as_ref()
            .and_then(|c| c.registration_token_hash.clone());
        let ok = stored
            .as_ref()
            .unwrap_or(&TokenHash::from_stored("0".repeat(64)))
            .verify(token);
        Ok(client.filter(|c| ok && stored.is_some() && c.enabled))
    }
}

/// `POST /register` (RFC 7591 §3.1).
pub async fn post_register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<RegistrationState>,
) -> HttpResponse {
    let Some(token) = bearer(&req) else {
        return unauthorized(false);
    };
    let hash = PlainToken::from_presented(token).hash();
    let now = state.clock.now();
    let usable = state.tokens.initial_access_token_usable(&hash, now).await;
    if !matches!(usable, Ok(true)) {
        return usable.map_or_else(|err| unavailable(&err), |_| unauthorized(true));
    }
    let valid = match parse_metadata(&req, &body).and_then(|(metadata, _)| validate(&metadata)) {
        Ok(valid) => valid,
        Err(err) => return metadata_error(&err),
    };
    if let Err(response) = check_registry(state.scopes.as_ref(), &valid).await {
        return response;
    }
    match state.tokens.use_initial_access_token(&hash, now).await {
        Ok(true) => {}
        Ok(false) => return unauthorized(true),
        Err(err) => return unavailable(&err),
    }
    let created = new_client(valid, now, true);
    if let Err(err) = state.clients.create_client(&created.client).await {
        return unavailable(&err);
    }
    let kind = tessera_core::AuditKind::ClientRegistered;
    state.audit(&req, kind, &created.client.client_id).await;
    let info = ClientInformation::new(
        &created.client,
        created.secret.as_ref(),
        created.registration_token.as_ref(),
        Some(state.client_uri(&created.client.client_id)),
    );
    no_store(StatusCode::CREATED).json(info)
}

/// Rotates the registration access token of `client`, stores it with the other changes, and
/// answers the client information response.
async fn respond_with_rotated_token(
    state: &RegistrationState,
    mut client: ClientRecord,
    secret: Option<&PlainToken>,
) -> HttpResponse {
    let token = PlainToken::generate(SecretKind::RegistrationAccessToken);
    client.registration_token_hash = Some(token.hash());
    if let Err(err) = state.clients.update_client(&client).await {
        return unavailable(&err);
    }
    let info = ClientInformation::new(
        &client,
        secret,
        Some(&token),
        Some(state.client_uri(&client.client_id)),
    );
    no_store(StatusCode::OK).json(info)
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn get_registration(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RegistrationState>,
) -> HttpResponse {
    match state.opened_client(&req, &path).await {
        Ok(client) => respond_with_rotated_token(&state, client, None).await,
        Err(response) => response,
    }
}

/// Members a client may not send in an update (RFC 7592 §2.2).
const SERVER_MANAGED: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

/// An RFC 7592 §2.2 update of `client`, checked: it names the client (`client_id`), sends no
/// server-managed member, sends the client secret only if it is the current one, and its
/// metadata passes every rule.
pub fn update_of(
    client: &ClientRecord,
    metadata: &ClientMetadata,
    raw: &serde_json::Value,
) -> Result<ValidClient, MetadataError> {
    let invalid = |text: String| Err(MetadataError::InvalidClientMetadata(text));
    if raw.get("client_id").and_then(serde_json::Value::as_str) != Some(client.client_id.as_str()) {
        return invalid("client_id must be present and equal to the registered one".into());
    }
    if let Some(member) = SERVER_MANAGED.iter().find(|m| raw.get(**m).is_some()) {
        return invalid(format!("{member} can not be sent"));
    }
    if let Some(secret) = raw.get("client_secret") {
        let matches = secret
            .as_str()
            .zip(client.secret_hash.as_ref())
            .is_some_and(|(secret, hash)| hash.verify(secret));
        if !matches {
            return invalid("client_secret does not match".into());
        }
    }
    validate(metadata)
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): replaces the metadata.
pub async fn put_registration(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<RegistrationState>,
) -> HttpResponse {
    let client = match state.opened_client(&req, &path).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let valid = match parse_metadata(&req, &body)
        .and_then(|(metadata, raw)| update_of(&client, &metadata, &raw))
    {
        Ok(valid) => valid,
        Err(err) => return metadata_error(&err),
    };
    if let Err(response) = check_registry(state.scopes.as_ref(), &valid).await {
        return response;
    }
    let now = state.clock.now();
    let (updated, new_secret) = apply_update(&client, valid, now);
    let stored =
        crate::registry::store_secret_change(state.clients.as_ref(), &client, &updated, now);
    if let Err(err) = stored.await {
        return unavailable(&err);
    }
    let kind = tessera_core::AuditKind::ClientUpdated;
    state.audit(&req, kind, &client.client_id).await;
    respond_with_rotated_token(&state, updated, new_secret.as_ref()).await
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): 204, and everything issued to it goes.
pub async fn delete_registration(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<RegistrationState>,
) -> HttpResponse {
    let client = match state.opened_client(&req, &path).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    if let Err(err) = state.clients.delete_client(&client.client_id).await {
        return unavailable(&err);
    }
    state
        .audit(
            &req,
            tessera_core::AuditKind::ClientDeleted,
            &client.client_id,
        )
        .await;
    no_store(StatusCode::NO_CONTENT).finish()
}
