//! `/authorize`: parse, decide, render.

use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
    web,
};
use tessera_core::{
    ClientId, Issuer,
    error::{AuthorizeError, AuthorizeErrorCode},
    store::{ClientRepo, StoreError},
};
use url::Url;

/// What the endpoint answers.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// The client or redirect URI can not be trusted: show a page, redirect nowhere
    /// (RFC 6749 §4.1.2.1 first paragraph).
    ErrorPage(String),
    /// Answer the client through its verified redirect URI.
    Redirect {
        /// The exactly-registered redirect URI.
        redirect_uri: String,
        /// The error to send.
        error: AuthorizeError,
        /// The client's `state`, echoed exactly.
        state: Option<String>,
    },
}

/// Finds the single value of `name`; a repeated parameter is an error (RFC 6749 §3.1).
fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut values = params
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("The {name} parameter is repeated."));
    }
    Ok(first.filter(|value| !value.is_empty()))
}

/// The protocol decision: the client must exist and be enabled, and `redirect_uri` must equal a
/// registered one byte for byte (RFC 9700 §4.1.3: exact string matching).
pub async fn check_client_and_redirect(
    clients: &dyn ClientRepo,
    params: &[(String, String)],
) -> Result<AuthorizeOutcome, StoreError> {
    let (client_id, redirect_uri) =
        match (single(params, "client_id"), single(params, "redirect_uri")) {
            (Ok(client_id), Ok(redirect_uri)) => (client_id, redirect_uri),
            (Err(message), _) | (_, Err(message)) => {
                return Ok(AuthorizeOutcome::ErrorPage(message));
            }
        };
    let Some(client_id) = client_id else {
        return Ok(AuthorizeOutcome::ErrorPage(
            "The request has no client_id.".into(),
        ));
    };
    let client = clients.find_client(&ClientId::new(client_id)).await?;
    let Some(client) = client.filter(|c| c.enabled) else {
        return Ok(AuthorizeOutcome::ErrorPage(
            "The client is unknown or disabled.".into(),
        ));
    };
    let Some(redirect_uri) = redirect_uri else {
        return Ok(AuthorizeOutcome::ErrorPage(
            "The request has no redirect_uri.".into(),
        ));
    };
    if !client
        .redirect_uris
        .iter()
        .any(|registered| registered == redirect_uri)
    {
        return Ok(AuthorizeOutcome::ErrorPage(
            "The redirect_uri is not registered for this client.".into(),
        ));
    }
    let state = match single(params, "state") {
        Ok(state) => state,
        Err(message) => {
            return Ok(AuthorizeOutcome::Redirect {
                redirect_uri: redirect_uri.to_owned(),
                error: AuthorizeError::new(AuthorizeErrorCode::InvalidRequest, message),
                state: None,
            });
        }
    };
    Ok(AuthorizeOutcome::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        error: AuthorizeError::new(
            AuthorizeErrorCode::TemporarilyUnavailable,
            "Sign-in is not available on this server yet.",
        ),
        state: state.map(str::to_owned),
    })
}

async fn handle(
    clients: &dyn ClientRepo,
    issuer: &Issuer,
    params: &[(String, String)],
) -> HttpResponse {
    match check_client_and_redirect(clients, params).await {
        Ok(AuthorizeOutcome::ErrorPage(message)) => tessera_web::html_error(
            StatusCode::BAD_REQUEST,
            "This sign-in request is invalid",
            &message,
            Some("invalid_request"),
        ),
        Ok(AuthorizeOutcome::Redirect {
            redirect_uri,
            error,
            state,
        }) => {
            let Ok(mut target) = Url::parse(&redirect_uri) else {
                return tessera_web::html_error(
                    StatusCode::BAD_REQUEST,
                    "This sign-in request is invalid",
                    "The registered redirect_uri is not a valid URL.",
                    Some("invalid_request"),
                );
            };
            tracing::info!(error = %error, "authorization request refused");
            {
                let mut query = target.query_pairs_mut();
                query.append_pair("error", error.code.as_str());
                query.append_pair("error_description", &error.description);
                if let Some(state) = &state {
                    query.append_pair("state", state);
                }
                query.append_pair("iss", issuer.as_str());
            }
            HttpResponse::Found()
                .insert_header((header::LOCATION, target.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        Err(err) => {
            tracing::error!(error = %err, "client lookup failed");
            tessera_web::html_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable",
                "Please try again in a moment.",
                Some("temporarily_unavailable"),
            )
        }
    }
}

/// `GET /authorize`.
pub async fn get_authorize(
    query: web::Query<Vec<(String, String)>>,
    clients: web::Data<dyn ClientRepo>,
    issuer: web::Data<Issuer>,
) -> HttpResponse {
    handle(clients.get_ref(), &issuer, &query).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-encoded).
pub async fn post_authorize(
    form: web::Form<Vec<(String, String)>>,
    clients: web::Data<dyn ClientRepo>,
    issuer: web::Data<Issuer>,
) -> HttpResponse {
    handle(clients.get_ref(), &issuer, &form).await
}
