//! `/authorize` (GET and POST), `/authorize/resume` and `/authorize/decision`: parse, decide,
//! render. When the user must sign in or decide, the validated request is kept on the server
//! (`authorization_requests`, 10 minutes, single use) and the pages carry only its handle: the
//! sign-in page comes back to `/authorize/resume?request=…`, and the consent form posts the CSRF
//! token, the handle and the button pressed — nothing a crafted authorization URL could add to
//! (docs/decisions/0008). At the decision everything that could have changed since the page was
//! shown is checked again: the client, the session, `prompt=login` and `max_age`. Consent is
//! remembered per user and client; codes are single-use, hashed at rest and bound to everything
//! the token endpoint must check.
//!
//! A request may also arrive as a `request_uri` naming what its client pushed to `/par` (RFC
//! 9126; taken once, for that client only, and required when the client's registration or
//! `TESSERA_REQUIRE_PAR` says so), and its answer may travel by `response_mode=form_post` (a
//! page that posts it to the redirect URI). Every request left waiting on the server counts
//! against its address (`tessera_core::pending_limit`).

use std::sync::Arc;

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use chrono::Duration;
use tessera_core::{
    ClientId, Clock, Issuer,
    error::{AuthorizeError, AuthorizeErrorCode},
    secret::{PlainToken, SecretKind},
    store::{
        AuditRepo, AuthorizationCodeRecord, AuthorizationRequestRecord, AuthorizationRequestRepo,
        ClientRepo, CodeRepo, ConsentRepo, Consumption, SessionKind,
    },
};
use tessera_web::{
    audit::Audit,
    csrf::CsrfToken,
    form::CsrfForm,
    session::{Sessions, SignedIn},
};
use url::Url;

use tessera_core::{
    authorization_request::{REQUEST_URI_PREFIX, ResponseMode},
    sign_in::Admission,
};
use tessera_web::client_address::ClientAddress;

use crate::{
    decide::{
        ConsentStep, Decision, DecisionForm, SignInStep, Signed, consent_step,
        remembered_after_approval, sign_in_satisfies, sign_in_step,
    },
    request::{AuthorizeRequest, KNOWN, Rejection, client_and_redirect, validate},
};

/// How long a pending request waits for sign-in and the decision.
pub const PENDING_TTL: Duration = Duration::minutes(10);
/// The path that continues a pending request after sign-in.
pub const RESUME_PATH: &str = "/authorize/resume";

/// What the authorization endpoint needs.
#[derive(Clone)]
pub struct AuthorizeState {
    /// Clients.
    pub clients: Arc<dyn ClientRepo>,
    /// Remembered consent.
    pub consents: Arc<dyn ConsentRepo>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeRepo>,
    /// Pending authorization requests.
    pub requests: Arc<dyn AuthorizationRequestRepo>,
    /// The audit log.
    pub audit: Arc<dyn AuditRepo>,
    /// Sessions.
    pub sessions: Sessions,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The issuer (sent as `iss`, RFC 9207).
    pub issuer: Issuer,
    /// Code lifetime.
    pub code_ttl: Duration,
    /// Our keys (to read `id_token_hint`).
    pub keys: Arc<tessera_keys::Keys>,
    /// The scope registry (what the consent page says about a scope).
    pub scopes: Arc<dyn tessera_core::store::ScopeRepo>,
    /// Accept only pushed authorization requests (RFC 9126 §5, `TESSERA_REQUIRE_PAR`).
    pub require_par: bool,
    /// The counters that bound waiting requests per address (`tessera_core::pending_limit`) and
    /// user codes entered on `/device` (`tessera_core::device`).
    pub throttle: Arc<dyn tessera_core::store::ThrottleRepo>,
    /// Device authorizations (RFC 8628), decided on `/device`.
    pub devices: Arc<dyn tessera_core::store::DeviceAuthorizationRepo>,
    /// Registered resource servers (RFC 8707): a request's `resource` must be one.
    pub resources: Arc<dyn tessera_core::store::ResourceServerRepo>,
    /// Second factors (whether a user has one to step up with).
    pub factors: Arc<dyn tessera_core::store::SecondFactorRepo>,
    /// The second-factor policy (`TESSERA_MFA`).
    pub mfa: tessera_core::amr::MfaPolicy,
}

impl std::fmt::Debug for AuthorizeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    csrf_token: &'a str,
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<String>,
    request: &'a str,
    /// Where the answer goes (the redirect URI's host, or its scheme for a native app).
    destination: String,
    /// The app registered itself (RFC 7591): nobody at this server vouched for its name.
    unverified: bool,
}

/// What the consent page names as the destination of the answer.
fn destination(redirect_uri: &str) -> String {
    match Url::parse(redirect_uri) {
        Ok(url) => match url.host_str() {
            Some(host) => match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            },
            None => format!("the app ({}:)", url.scheme()),
        },
        Err(_) => redirect_uri.to_owned(),
    }
}

/// What a scope means, for the consent page: OpenID Connect's own in words, others as the scope
/// registry describes them.
pub(crate) async fn describe(registry: &dyn tessera_core::store::ScopeRepo, scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "See your name and profile".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access when you are not using it (stay connected)".into(),
        other => match registry.find_scope(other).await {
            Ok(Some(registered)) if !registered.description.is_empty() => {
                format!("{} ({other})", registered.description)
            }
            _ => format!("Access: {other}"),
        },
    }
}

fn page(status: StatusCode, message: &str) -> HttpResponse {
    tessera_web::html_error(
        status,
        "This sign-in request is invalid",
        message,
        Some("invalid_request"),
    )
}

/// Too many requests from this address are waiting (`tessera_core::pending_limit`).
fn too_many(wait: Duration) -> HttpResponse {
    let mut response = tessera_web::html_error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in requests",
        "Too many sign-in requests from your network are waiting. Please try again in a few minutes.",
        Some("temporarily_unavailable"),
    );
    let seconds = (wait.num_seconds().max(0) + 1).to_string();
    if let Ok(value) = header::HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn unavailable(err: &dyn std::fmt::Display) -> HttpResponse {
    tessera_web::error::page_unavailable(
        "authorize",
        err,
        "Sign-in is unavailable; please try again in a moment.",
    )
}

/// The one script of the form-post page: submit the form (the page's button does the same
/// without JavaScript). Its hash is the only script the page's policy allows.
pub const AUTO_SUBMIT: &str = "document.getElementById('form-post').submit();";

/// The base64 SHA-256 of [`AUTO_SUBMIT`], for the page's `script-src` (computed once).
static AUTO_SUBMIT_SHA256: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(
        AUTO_SUBMIT.as_bytes(),
    ))
});

/// The form-post response page (OAuth 2.0 Form Post Response Mode §2).
#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: Vec<(&'a str, &'a str)>,
    destination: String,
    script: &'static str,
}

/// The page that POSTs `params` (and `iss`) to `redirect_uri` from the browser: submitted by its
/// one script, allowed by hash, or by its button; its policy lets the form go to the redirect
/// URI's origin only.
fn form_post(redirect_uri: &str, params: &[(&str, &str)], issuer: &Issuer) -> HttpResponse {
    let mut fields = params.to_vec();
    fields.push(("iss", issuer.as_str()));
    let page = FormPostPage {
        action: redirect_uri,
        fields,
        destination: destination(redirect_uri),
        script: AUTO_SUBMIT,
    };
    let mut response = tessera_web::html_page(StatusCode::OK, page.render());
    let policy = tessera_web::headers::policy_for_form_post(redirect_uri, &AUTO_SUBMIT_SHA256);
    if let Ok(value) = header::HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Sends `params` to the client, plus `iss` (RFC 9207): in the redirect URI's query, or, with
/// `response_mode=form_post`, as a form the browser posts there. A redirect after a POST is a
/// 303, so the browser follows with a GET (never 307/308).
fn to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    issuer: &Issuer,
    (mode, after_post): (ResponseMode, bool),
) -> HttpResponse {
    let Ok(mut target) = Url::parse(redirect_uri) else {
        return page(
            StatusCode::BAD_REQUEST,
            "The registered redirect_uri is not a valid URL.",
        );
    };
    if mode == ResponseMode::FormPost {
        return form_post(redirect_uri, params, issuer);
    }
    {
        let mut query = target.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", issuer.as_str());
    }
    let mut response = if after_post {
        HttpResponse::SeeOther()
    } else {
        HttpResponse::Found()
    };
    response
        .insert_header((header::LOCATION, target.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn error_to_client(
    redirect_uri: &str,
    state: Option<&str>,
    error: &AuthorizeError,
    issuer: &Issuer,
    how: (ResponseMode, bool),
) -> HttpResponse {
    tracing::info!(error = %error, "authorization request refused");
    let mut params = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    to_client(redirect_uri, &params, issuer, how)
}

fn rejection(rejected: Rejection, issuer: &Issuer, after_post: bool) -> HttpResponse {
    match rejected {
        Rejection::Page(message) => page(StatusCode::BAD_REQUEST, &message),
        Rejection::Redirect {
            redirect_uri,
            state,
            error,
            mode,
        } => error_to_client(
            &redirect_uri,
            state.as_deref(),
            &error,
            issuer,
            (mode, after_post),
        ),
    }
}

async fn validated(
    state: &AuthorizeState,
    params: &[(String, String)],
) -> Result<AuthorizeRequest, HttpResponse> {
    let client_id = client_and_redirect(params)
        .map_err(|r| rejection(r, &state.issuer, false))?
        .0;
    let client = state
        .clients
        .find_client(&ClientId::new(client_id))
        .await
        .map_err(|e| unavailable(&e))?;
    validate(params, client).map_err(|r| rejection(r, &state.issuer, false))
}

/// The sign-in page, coming back to the pending request `handle` afterwards.
fn to_login(handle: &str, request: &AuthorizeRequest) -> HttpResponse {
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("return_to", &resume_path(handle));
    if let Some(hint) = &request.login_hint {
        login.append_pair("login_hint", hint);
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("/login?{}", login.finish())))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `/authorize/resume?request=<handle>`.
pub fn resume_path(handle: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("request", handle);
    format!("{RESUME_PATH}?{}", query.finish())
}

/// The redirect URI of the pending request a sign-in page's `return_to` continues, if it is one:
/// the page's form may end in a redirect to it.
pub async fn continuation_target(
    requests: &dyn AuthorizationRequestRepo,
    return_to: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let query = return_to.strip_prefix(RESUME_PATH)?.strip_prefix('?')?;
    let handle = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "request")
        .map(|(_, value)| value.into_owned())?;
    let pending = requests
        .find_authorization_request(&tessera_core::secret::TokenHash::of(&handle), now)
        .await
        .ok()??;
    pending
        .params
        .into_iter()
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value)
}

/// Keeps `params` (only the ones Tessera reads) as a pending request; its handle. Counted
/// against the browser's address first (`tessera_core::pending_limit`): past the limit, a 429
/// page with `Retry-After`, and nothing is kept.
async fn keep_pending(
    state: &AuthorizeState,
    req: &HttpRequest,
    request: &AuthorizeRequest,
    params: &[(String, String)],
) -> Result<String, HttpResponse> {
    let now = state.clock.now();
    let address = ClientAddress::of(req).to_string();
    match tessera_core::pending_limit::admit(state.throttle.as_ref(), &address, now).await {
        Ok(Admission::Admitted) => {}
        Ok(Admission::Refused(wait)) => return Err(too_many(wait)),
        Err(err) => return Err(unavailable(&err)),
    }
    let handle = PlainToken::generate(SecretKind::AuthorizationRequest);
    let record = AuthorizationRequestRecord {
        id_hash: handle.hash(),
        client_id: request.client.client_id.clone(),
        params: params
            .iter()
            .filter(|(name, _)| KNOWN.contains(&name.as_str()))
            .cloned()
            .collect(),
        created_at: now,
        expires_at: now + PENDING_TTL,
    };
    state
        .requests
        .insert_authorization_request(&record)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(handle.expose().to_owned())
}

async fn audit(
    state: &AuthorizeState,
    req: &HttpRequest,
    kind: tessera_core::AuditKind,
    request: &AuthorizeRequest,
    user: &SignedIn,
) {
    let audit = Audit {
        kind,
        actor: Some(user.user.id.to_string()),
        client_id: Some(request.client.client_id.as_str()),
        user_id: Some(user.user.id.as_str()),
        details: Some(serde_json::json!({ "scopes": request.scopes })),
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
}

/// Issues a code for `request` to the signed-in user and sends it to the client.
async fn issue_code(
    state: &AuthorizeState,
    request: &AuthorizeRequest,
    user: &SignedIn,
    after_post: bool,
) -> HttpResponse {
    let now = state.clock.now();
    let code = PlainToken::generate(SecretKind::AuthorizationCode);
    let record = AuthorizationCodeRecord {
        code_hash: code.hash(),
        client_id: request.client.client_id.clone(),
        user_id: user.user.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        scopes: request.scopes.clone(),
        nonce: request.nonce.clone(),
        session_id: Some(user.session.id_hash.clone()),
        auth_time: user.session.auth_time,
        amr: user.session.amr.clone(),
        created_at: now,
        expires_at: now + state.code_ttl,
        grant_id: None,
        resource: request.resource.clone(),
        dpop_jkt: request.dpop_jkt.clone(),
    };
    if let Err(err) = state.codes.insert_code(&record).await {
        return unavailable(&err);
    }
    let mut params = vec![("code", code.expose())];
    if let Some(client_state) = &request.state {
        params.push(("state", client_state.as_str()));
    }
    let how = (request.response_mode, after_post);
    to_client(&request.redirect_uri, &params, &state.issuer, how)
}

/// Where a request goes once the user is signed in well enough: a code when consent is
/// remembered, else the consent page for the pending request (kept now if it is not yet).
async fn proceed(
    state: &AuthorizeState,
    req: &HttpRequest,
    csrf: &CsrfToken,
    request: &AuthorizeRequest,
    params: &[(String, String)],
    user: &SignedIn,
    pending: Option<&str>,
) -> HttpResponse {
    let granted = match state
        .consents
        .find_consent(&user.user.id, &request.client.client_id)
        .await
    {
        Ok(granted) => granted.unwrap_or_default(),
        Err(err) => return unavailable(&err),
    };
    match consent_step(request, &granted) {
        ConsentStep::Remembered => {
            if let Some(handle) = pending
                && let Err(response) = consume(state, handle).await
            {
                return response;
            }
            return issue_code(state, request, user, false).await;
        }
        ConsentStep::Required => {
            let error = AuthorizeError::new(
                AuthorizeErrorCode::ConsentRequired,
                "The user has not allowed this access.",
            );
            return refuse(state, request, &error, false);
        }
        ConsentStep::Ask => {}
    }
    let handle = match pending {
        Some(handle) => handle.to_owned(),
        None => match keep_pending(state, req, request, params).await {
            Ok(handle) => handle,
            Err(response) => return response,
        },
    };
    let client_name = request
        .client
        .client_name
        .clone()
        .unwrap_or_else(|| request.client.client_id.to_string());
    let mut described = Vec::with_capacity(request.scopes.len());
    for scope in &request.scopes {
        described.push(describe(state.scopes.as_ref(), scope).await);
    }
    let consent = ConsentPage {
        csrf_token: &csrf.0,
        client_name: &client_name,
        username: &user.user.username,
        scopes: described,
        request: &handle,
        destination: destination(&request.redirect_uri),
        unverified: request.client.registration_token_hash.is_some(),
    };
    let response = tessera_web::html_page(StatusCode::OK, consent.render());
    tessera_web::allow_form_target(response, &request.redirect_uri)
}

fn gone() -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in request has expired or was already answered. Go back to the app and start \
         again.",
    )
}

/// Marks the pending request `handle` answered; only the first caller gets through.
async fn consume(state: &AuthorizeState, handle: &str) -> Result<(), HttpResponse> {
    let hash = tessera_core::secret::TokenHash::of(handle);
    match state
        .requests
        .consume_authorization_request(&hash, state.clock.now())
        .await
    {
        Ok(Consumption::Consumed(_)) => Ok(()),
        Ok(_) => Err(gone()),
        Err(err) => Err(unavailable(&err)),
    }
}

/// A pending request by handle, validated again against the client as it is now.
async fn pending(
    state: &AuthorizeState,
    handle: &str,
) -> Result<(AuthorizationRequestRecord, AuthorizeRequest), HttpResponse> {
    // Only the handles of sign-in and consent: a pushed request is taken at /authorize only.
    if !handle.starts_with(SecretKind::AuthorizationRequest.prefix()) {
        return Err(gone());
    }
    let hash = tessera_core::secret::TokenHash::of(handle);
    let record = match state
        .requests
        .find_authorization_request(&hash, state.clock.now())
        .await
    {
        Ok(Some(record)) => record,
        Ok(None) => return Err(gone()),
        Err(err) => return Err(unavailable(&err)),
    };
    let request = validated(state, &record.params).await?;
    Ok((record, request))
}

/// Whether the factors `user` signed in with will do for `request`
/// (`tessera_core::amr::session_will_do`); whether the user has a second factor is looked up
/// only when it matters.
async fn will_do(
    state: &AuthorizeState,
    request: &AuthorizeRequest,
    user: &SignedIn,
) -> Result<bool, HttpResponse> {
    use tessera_core::amr::{MfaPolicy, session_will_do};
    let amr = &user.session.amr;
    if state.mfa == MfaPolicy::Off || amr.is_mfa() {
        return Ok(true);
    }
    let has_factor = match request.acr_mfa {
        true => state
            .factors
            .has_second_factor(&user.user.id)
            .await
            .map_err(|err| unavailable(&err))?,
        false => false,
    };
    let required = user.user.mfa_required;
    let asks = request.acr_mfa;
    Ok(session_will_do(state.mfa, required, has_factor, asks, amr))
}

/// The signed-in user and whether their sign-in will do for `request` as to its factors.
async fn signed_in_for(
    state: &AuthorizeState,
    req: &HttpRequest,
    request: &AuthorizeRequest,
) -> Result<Option<(SignedIn, bool)>, HttpResponse> {
    let Some(user) = signed_in(state, req).await? else {
        return Ok(None);
    };
    let will_do = will_do(state, request, &user).await?;
    Ok(Some((user, will_do)))
}

async fn signed_in(
    state: &AuthorizeState,
    req: &HttpRequest,
) -> Result<Option<SignedIn>, HttpResponse> {
    state
        .sessions
        .current(req, SessionKind::User)
        .await
        .map_err(|err| unavailable(&err))
}

/// Tells the client `error` through its verified redirect URI.
fn refuse(
    state: &AuthorizeState,
    request: &AuthorizeRequest,
    error: &AuthorizeError,
    after_post: bool,
) -> HttpResponse {
    error_to_client(
        &request.redirect_uri,
        request.state.as_deref(),
        error,
        &state.issuer,
        (request.response_mode, after_post),
    )
}

/// The subject an `id_token_hint` names, or the error when it is not an ID token of ours.
fn hinted_subject(
    state: &AuthorizeState,
    request: &AuthorizeRequest,
) -> Result<Option<String>, AuthorizeError> {
    let Some(hint) = &request.id_token_hint else {
        return Ok(None);
    };
    crate::id_token_hint::read(&state.keys, &state.issuer, hint)
        .map(|hint| Some(hint.subject))
        .ok_or_else(|| {
            AuthorizeError::new(
                AuthorizeErrorCode::InvalidRequest,
                "The id_token_hint is not an ID token of ours.",
            )
        })
}

/// The request's parameters, and whether they were pushed: those of the pushed request its
/// `request_uri` names (RFC 9126 §4; its `client_id` must be the pushing client's, and the pushed
/// request is used once), or the query's own.
async fn parameters(
    state: &AuthorizeState,
    params: Vec<(String, String)>,
) -> Result<(Vec<(String, String)>, bool), HttpResponse> {
    let bad = |message: &str| page(StatusCode::BAD_REQUEST, message);
    let request_uri = crate::request::single(&params, "request_uri").map_err(|m| bad(&m))?;
    let Some(request_uri) = request_uri else {
        return Ok((params, false));
    };
    let unknown = || {
        bad(
            "The request_uri is unknown, expired or already used. Go back to the app and start again.",
        )
    };
    let handle = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .filter(|h| h.starts_with(SecretKind::PushedRequest.prefix()))
        .ok_or_else(unknown)?;
    let hash = tessera_core::secret::TokenHash::of(handle);
    let now = state.clock.now();
    let client_id = crate::request::single(&params, "client_id").ok().flatten();
    match state.requests.find_authorization_request(&hash, now).await {
        Ok(Some(record)) if Some(record.client_id.as_str()) == client_id => {}
        Ok(_) => return Err(unknown()),
        Err(err) => return Err(unavailable(&err)),
    }
    match state
        .requests
        .consume_authorization_request(&hash, now)
        .await
    {
        Ok(Consumption::Consumed(record)) => Ok((record.params, true)),
        Ok(_) => Err(unknown()),
        Err(err) => Err(unavailable(&err)),
    }
}

/// A fresh request's parameters (pushed or not) and the request they make, validated — and
/// refused when it had to be pushed (RFC 9126 §5 server-wide, §6 by the client's registration).
async fn incoming(
    state: &AuthorizeState,
    params: Vec<(String, String)>,
) -> Result<(Vec<(String, String)>, AuthorizeRequest), HttpResponse> {
    let (params, pushed) = parameters(state, params).await?;
    let request = validated(state, &params).await?;
    if !pushed && (state.require_par || request.client.require_pushed_authorization_requests) {
        let error = AuthorizeError::new(
            AuthorizeErrorCode::InvalidRequest,
            "Authorization requests must be pushed first (PAR, RFC 9126).",
        );
        return Err(refuse(state, &request, &error, false));
    }
    // RFC 8707: a resource must be one registered here.
    if let Some(resource) = &request.resource {
        match state.resources.find_resource_server(resource).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                let error = AuthorizeError::new(
                    AuthorizeErrorCode::InvalidTarget,
                    "The resource is not registered at this server.",
                );
                return Err(refuse(state, &request, &error, false));
            }
            Err(err) => return Err(unavailable(&err)),
        }
    }
    Ok((params, request))
}

/// A fresh authorization request (GET or POST): validate, then sign in, consent or answer.
async fn handle(
    req: HttpRequest,
    params: Vec<(String, String)>,
    csrf: CsrfToken,
    state: &AuthorizeState,
) -> HttpResponse {
    let (params, request) = match incoming(state, params).await {
        Ok(incoming) => incoming,
        Err(response) => return response,
    };
    let user = match signed_in_for(state, &req, &request).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let hinted = match hinted_subject(state, &request) {
        Ok(hinted) => hinted,
        Err(error) => return refuse(state, &request, &error, false),
    };
    let signed = user.as_ref().map(|(u, will_do)| Signed {
        sub: u.user.id.as_str(),
        auth_time: u.session.auth_time,
        will_do: *will_do,
    });
    let now = state.clock.now();
    let step = sign_in_step(&request, signed, hinted.as_deref(), now);
    match (step, user.map(|(user, _)| user)) {
        (SignInStep::Proceed, Some(user)) => {
            proceed(state, &req, &csrf, &request, &params, &user, None).await
        }
        (SignInStep::LoginRequired, _) => {
            let error = AuthorizeError::new(
                AuthorizeErrorCode::LoginRequired,
                "The user is not signed in.",
            );
            refuse(state, &request, &error, false)
        }
        _ => match keep_pending(state, &req, &request, &params).await {
            Ok(handle) => to_login(&handle, &request),
            Err(response) => response,
        },
    }
}

/// `GET /authorize`.
pub async fn get_authorize(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    csrf: CsrfToken,
    state: web::Data<AuthorizeState>,
) -> HttpResponse {
    handle(req, query.into_inner(), csrf, &state).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-encoded).
pub async fn post_authorize(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    csrf: CsrfToken,
    state: web::Data<AuthorizeState>,
) -> HttpResponse {
    handle(req, form.into_inner(), csrf, &state).await
}

/// The single value of `name` in a form, or why a missing or repeated one is refused.
fn one_field<'a>(form: &'a [(String, String)], name: &str) -> Result<&'a str, String> {
    match crate::request::single(form, name) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(format!("The form has no {name}.")),
        Err(message) => Err(message),
    }
}

/// `GET /authorize/resume?request=…`: back from the sign-in page.
pub async fn get_resume(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    csrf: CsrfToken,
    state: web::Data<AuthorizeState>,
) -> HttpResponse {
    let handle = match one_field(&query, "request") {
        Ok(handle) => handle,
        Err(message) => return page(StatusCode::BAD_REQUEST, &message),
    };
    let (record, request) = match pending(&state, handle).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let user = match signed_in_for(&state, &req, &request).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    match user {
        Some((user, true))
            if sign_in_satisfies(&request, user.session.auth_time, record.created_at) =>
        {
            proceed(
                &state,
                &req,
                &csrf,
                &request,
                &record.params,
                &user,
                Some(handle),
            )
            .await
        }
        _ => to_login(handle, &request),
    }
}

/// `POST /authorize/decision`: the consent form's approve or deny. The form carries the CSRF
/// token, the pending request's handle and the button pressed, each once
/// ([`DecisionForm`]); the pending request is answered exactly once.
pub async fn post_decision(
    req: HttpRequest,
    CsrfForm { form, .. }: CsrfForm<DecisionForm>,
    state: web::Data<AuthorizeState>,
) -> HttpResponse {
    let handle = form.request.as_str();
    let (record, request) = match pending(&state, handle).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let user = match signed_in_for(&state, &req, &request).await {
        Ok(Some((user, true)))
            if sign_in_satisfies(&request, user.session.auth_time, record.created_at) =>
        {
            user
        }
        Ok(_) => return to_login(handle, &request),
        Err(response) => return response,
    };
    if let Err(response) = consume(&state, handle).await {
        return response;
    }
    match form.decision {
        Decision::Approve => approve(&state, &req, &request, &user).await,
        Decision::Deny => {
            let kind = tessera_core::AuditKind::ConsentDenied;
            audit(&state, &req, kind, &request, &user).await;
            let error = AuthorizeError::new(
                AuthorizeErrorCode::AccessDenied,
                "The user denied the request.",
            );
            refuse(&state, &request, &error, true)
        }
    }
}

/// *Allow*: remembers the consent and sends a code to the client.
async fn approve(
    state: &AuthorizeState,
    req: &HttpRequest,
    request: &AuthorizeRequest,
    user: &SignedIn,
) -> HttpResponse {
    let (sub, client) = (&user.user.id, &request.client.client_id);
    let granted = match state.consents.find_consent(sub, client).await {
        Ok(granted) => granted.unwrap_or_default(),
        Err(err) => return unavailable(&err),
    };
    let scopes = remembered_after_approval(granted, &request.scopes);
    let now = state.clock.now();
    if let Err(err) = state.consents.save_consent(sub, client, &scopes, now).await {
        return unavailable(&err);
    }
    audit(
        state,
        req,
        tessera_core::AuditKind::ConsentGiven,
        request,
        user,
    )
    .await;
    issue_code(state, request, user, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The consent page (fixed token, handle and client): only the token and the handle are
    /// hidden fields, the client's name and scopes are escaped, and the destination is named.
    #[test]
    fn consent_page_snapshot() {
        let page = ConsentPage {
            csrf_token: "csrf-token",
            client_name: "Example <App>",
            username: "alice",
            scopes: vec!["Sign you in".into(), "See your email address".into()],
            request: "tsq_handle",
            destination: destination("https://app.example/cb"),
            unverified: true,
        };
        insta::assert_snapshot!(page.render().unwrap());
    }

    /// The form-post page: the fields as hidden inputs (escaped), a visible button, and exactly
    /// the script whose hash its policy allows.
    #[test]
    fn form_post_page_and_policy() {
        let issuer = Issuer::new("https://id.example.com");
        let response = form_post(
            "https://app.example/cb",
            &[("code", "tsc_1"), ("state", "a\"<b")],
            &issuer,
        );
        let policy = response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        use base64::Engine as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(
            <sha2::Sha256 as sha2::Digest>::digest(AUTO_SUBMIT.as_bytes()),
        );
        assert!(
            policy.contains(&format!("script-src 'sha256-{hash}'")),
            "{policy}"
        );
        assert!(
            policy.contains("form-action 'self' https://app.example;"),
            "{policy}"
        );
        let page = FormPostPage {
            action: "https://app.example/cb",
            fields: vec![
                ("code", "tsc_1"),
                ("state", "a\"<b"),
                ("iss", issuer.as_str()),
            ],
            destination: destination("https://app.example/cb"),
            script: AUTO_SUBMIT,
        }
        .render()
        .unwrap();
        assert!(page.contains(&format!("<script>{AUTO_SUBMIT}</script>")));
        insta::assert_snapshot!(page);
    }
}
