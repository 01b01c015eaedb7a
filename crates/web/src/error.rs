//! Error responses. Token-type endpoints answer JSON per RFC 6749 §5.2 with `no-store`; browser
//! endpoints answer an HTML page. 5xx bodies are generic; details go to the logs only.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
};
use askama::Template;
use serde::Serialize;
use tessera_core::error::{TokenError, TokenErrorCode};

/// The HTML error page.
#[derive(Template, Debug)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// Heading.
    pub title: &'a str,
    /// What happened, for a person.
    pub message: &'a str,
    /// The RFC error code, if any.
    pub code: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error_description: &'a str,
}

/// A JSON error body per RFC 6749 §5.2, with `Cache-Control: no-store`. `invalid_client` gets
/// 401, with `WWW-Authenticate: Basic` when the client tried Basic (RFC 6749 §5.2).
pub fn token_error_response(error: &TokenError, basic_attempted: bool) -> HttpResponse {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    match error.code {
        // RFC 6749 §5.2: a challenge for the scheme the client used in the Authorization
        // header. A client that authenticated in the body (client_secret_post, private_key_jwt,
        // none) gets the 401 and the JSON body only: `invalid_client` is not an RFC 6750 error,
        // and client libraries read a `Bearer` challenge as a resource server's and lose the
        // body's error.
        // The challenge carries the error too: libraries that read a 401's challenge instead of
        // its body (openid-client) find `invalid_client` there.
        TokenErrorCode::InvalidClient if basic_attempted => {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                r#"Basic realm="tessera", error="invalid_client""#,
            ));
        }
        TokenErrorCode::InvalidToken => {
            response.insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#));
        }
        _ => {}
    }
    // A store failure is safe to retry (nothing was consumed or counted): say when.
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, "1"));
    }
    let description = if status.is_server_error() {
        ""
    } else {
        error.description.as_str()
    };
    response.json(ErrorBody {
        error: error.code.as_str(),
        error_description: description,
    })
}

/// `429` for a client whose authentications from this address failed too often: retry after
/// `seconds` (see `tessera_core::client_throttle`).
pub fn token_throttled_response(seconds: u64) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .json(ErrorBody {
            error: "invalid_client",
            error_description: "Too many failed client authentications from this address; retry later.",
        })
}

/// A rendered askama page as an HTML response (`no-store`: pages hold CSRF tokens and account
/// data). A template that fails to render gives a bare 500, logged.
pub fn html_page(status: StatusCode, rendered: Result<String, askama::Error>) -> HttpResponse {
    match rendered {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(err) => {
            tracing::error!(error = %err, "page failed to render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// An HTML error page with the given status.
pub fn html_error(
    status: StatusCode,
    title: &str,
    message: &str,
    code: Option<&str>,
) -> HttpResponse {
    html_page(
        status,
        ErrorPage {
            title,
            message,
            code,
        }
        .render(),
    )
}

/// The page for a form whose CSRF token is missing or does not belong to this browser's session
/// (403): nothing was changed, and the page the form came from, loaded again, carries a fresh
/// token. `next` says where to go from here.
pub fn csrf_refused(next: &str) -> HttpResponse {
    html_error(
        StatusCode::FORBIDDEN,
        "Request refused",
        &format!("The form's security token is missing or wrong; nothing was changed. {next}"),
        Some("csrf"),
    )
}

/// The page for a store failure behind a page: logged with `area`, answered 503 with
/// `Retry-After: 1` (nothing was changed; the same request may be sent again).
pub fn page_unavailable(area: &str, err: &dyn std::fmt::Display, message: &str) -> HttpResponse {
    tracing::error!(error = %err, area, "store failure");
    let mut response = html_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        message,
        Some("temporarily_unavailable"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// What an HTML page answers when it can not do what was asked: one type for every page
/// handler (`Result<HttpResponse, PageError>`), so a store failure is a `?` away from its 503.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The store failed: 503 with `Retry-After: 1`, nothing was changed (logged).
    #[error("store failure: {0}")]
    Store(#[from] tessera_core::store::StoreError),
    /// The form's CSRF token is missing or wrong: 403 ([`csrf_refused`]).
    #[error("the form's CSRF token was refused")]
    Csrf,
    /// The form could not be read as the page's form: 400.
    #[error("the form could not be read: {0}")]
    BadForm(String),
    /// The page needs a signed-in user: 303 to the sign-in page, which comes back to
    /// `return_to` (a local path).
    #[error("sign in first")]
    SignIn {
        /// Where to come back to.
        return_to: String,
    },
    /// A form was posted without a session (it ended meanwhile): 403, sign in again.
    #[error("signed out")]
    SignedOut,
    /// Nothing here by that name: 404 with the title and message given.
    #[error("{title}: {message}")]
    NotFound {
        /// The page's title.
        title: &'static str,
        /// What to tell the user.
        message: &'static str,
    },
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Csrf | Self::SignedOut => StatusCode::FORBIDDEN,
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::BadForm(_) => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Store(err) => page_unavailable(
                "page",
                err,
                "The server could not reach its database; nothing was changed. Please try again in a moment.",
            ),
            Self::Csrf => csrf_refused("Reload the page and try again."),
            Self::SignIn { return_to } => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", return_to)
                    .finish();
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, format!("/login?{query}")))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish()
            }
            Self::SignedOut => {
                html_error(StatusCode::FORBIDDEN, "Signed out", "Sign in again.", None)
            }
            Self::BadForm(_) => html_error(
                StatusCode::BAD_REQUEST,
                "Form not understood",
                "The form could not be read; nothing was changed. Reload the page and try again.",
                Some("invalid_request"),
            ),
            Self::NotFound { title, message } => {
                html_error(StatusCode::NOT_FOUND, title, message, None)
            }
        }
    }
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The answer for unknown routes: 404, as a page for browsers and JSON for everyone else.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if wants_html(&req) {
        html_error(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing at this address.",
            None,
        )
    } else {
        HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ErrorBody {
                error: "not_found",
                error_description: "no such endpoint",
            })
    }
}

/// The answer for a known route called with the wrong method: 405 with `Allow`.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ErrorBody {
            error: "method_not_allowed",
            error_description: "method not allowed here",
        })
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    fn body(response: HttpResponse) -> String {
        let bytes = response.into_body().try_into_bytes().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Every token-endpoint error as a client sees it: status, the headers that matter
    /// (`WWW-Authenticate` only for Basic attempts and `invalid_token`, `Retry-After` only for a
    /// 503, `Cache-Control: no-store` always) and the RFC 6749 §5.2 body — a 5xx never carries
    /// a description, and the internal reason never leaves the server.
    #[test]
    fn token_error_responses_snapshot() {
        use TokenErrorCode::*;
        let mut answers = Vec::new();
        for (code, basic) in [
            (InvalidRequest, false),
            (InvalidClient, false),
            (InvalidClient, true),
            (InvalidGrant, false),
            (UnauthorizedClient, false),
            (UnsupportedGrantType, false),
            (InvalidScope, false),
            (InvalidToken, false),
            (UnsupportedTokenType, false),
            (ServerError, false),
            (TemporarilyUnavailable, false),
        ] {
            let error = TokenError::new(code, "What went wrong.").with_reason("internal detail");
            let response = token_error_response(&error, basic);
            let header = |name: header::HeaderName| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let entry = serde_json::json!({
                "code": code.as_str(),
                "basic_attempted": basic,
                "status": response.status().as_u16(),
                "www_authenticate": header(header::WWW_AUTHENTICATE),
                "retry_after": header(header::RETRY_AFTER),
                "cache_control": header(header::CACHE_CONTROL),
                "body": serde_json::from_str::<serde_json::Value>(&body(response)).unwrap_or_default(),
            });
            answers.push(entry);
        }
        insta::assert_json_snapshot!(answers);
    }

    #[test]
    fn a_refused_form_is_a_403_page_that_says_nothing_changed() {
        let response = csrf_refused("Reload the page and try again.");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let text = body(response);
        assert!(text.contains("Request refused"), "{text}");
        assert!(
            text.contains("nothing was changed. Reload the page"),
            "{text}"
        );
    }

    #[test]
    fn a_store_failure_behind_a_page_is_a_503_to_retry() {
        let response = page_unavailable("test", &"connection reset", "Please try again.");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let text = body(response);
        assert!(text.contains("Please try again."), "{text}");
        assert!(
            !text.contains("connection reset"),
            "the cause is logged, not shown"
        );
    }
}
