//! CSRF protection for every form: the double-submit cookie pattern. A random token lives in an
//! HttpOnly, SameSite=Strict cookie; each form carries the same value in a hidden `csrf_token`
//! field; a POST is accepted only when both are present and equal (constant-time). Another site
//! can make the browser send the cookie at most (not with Strict), but can never read it to put
//! it in the form. Stateless, so it works across instances.

use std::future::{Ready, ready};

use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest,
    body::MessageBody,
    cookie::{Cookie, SameSite},
    dev::{Payload, ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use tessera_core::secret::{PlainToken, SecretKind, constant_time_eq};

/// The cookie holding the token.
pub const CSRF_COOKIE: &str = "tessera_csrf";
/// The form field holding the token.
pub const CSRF_FIELD: &str = "csrf_token";

/// Cookie settings derived from the issuer.
#[derive(Debug, Clone, Copy)]
pub struct CookieSettings {
    /// Set `Secure` (the issuer is https).
    pub secure: bool,
}

/// The CSRF token to put in this response's forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl FromRequest for CsrfToken {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .extensions()
            .get::<CsrfToken>()
            .cloned()
            .or_else(|| {
                req.cookie(CSRF_COOKIE)
                    .map(|c| CsrfToken(c.value().to_owned()))
            })
            .unwrap_or_else(|| CsrfToken(String::new()));
        ready(Ok(token))
    }
}

/// Whether `submitted` matches the token in the request's cookie.
pub fn csrf_valid(req: &HttpRequest, submitted: Option<&str>) -> bool {
    match (req.cookie(CSRF_COOKIE), submitted) {
        (Some(cookie), Some(submitted)) if !cookie.value().is_empty() => {
            constant_time_eq(cookie.value().as_bytes(), submitted.as_bytes())
        }
        _ => false,
    }
}

/// Machine endpoints: no pages, no forms, no cookies. Their clients never need a CSRF cookie, and
/// minting one per request would cost a random token and a `Set-Cookie` on every API call.
const API_PATHS: [&str; 9] = [
    "/token",
    "/userinfo",
    "/revoke",
    "/introspect",
    "/jwks.json",
    "/.well-known/",
    "/register",
    "/health/",
    "/metrics",
];

fn is_api_path(path: &str) -> bool {
    API_PATHS.iter().any(|api| {
        if api.ends_with('/') {
            path.starts_with(api)
        } else {
            path == *api
                || path
                    .strip_prefix(api)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    })
}

/// Middleware: makes sure every browser has a CSRF cookie (issued on the response of the first
/// request that lacks one; the token is available to that request's handler at once). API
/// endpoints are left alone.
pub async fn csrf_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let has_cookie = is_api_path(req.path())
        || req
            .cookie(CSRF_COOKIE)
            .is_some_and(|c| !c.value().is_empty());
    let secure = req
        .app_data::<web::Data<CookieSettings>>()
        .is_some_and(|s| s.secure);
    let issued = (!has_cookie).then(|| {
        let token = PlainToken::generate(SecretKind::Session)
            .expose()
            .to_owned();
        req.extensions_mut().insert(CsrfToken(token.clone()));
        token
    });
    let mut res = next.call(req).await?;
    if let Some(token) = issued {
        let cookie = Cookie::build(CSRF_COOKIE, token)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .finish();
        res.response_mut().add_cookie(&cookie)?;
    }
    Ok(res)
}
