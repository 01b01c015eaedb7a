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

/// A token minted for a request that came without the cookie; [`csrf_cookie`] sets the cookie on
/// the response.
#[derive(Debug, Clone)]
struct IssuedToken(String);

impl FromRequest for CsrfToken {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    /// The browser's token, or — the first time a page with a form is asked for — a new one.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(token) = req.extensions().get::<CsrfToken>() {
            return ready(Ok(token.clone()));
        }
        let token = match req.cookie(CSRF_COOKIE).filter(|c| !c.value().is_empty()) {
            Some(cookie) => cookie.value().to_owned(),
            None => {
                let token = PlainToken::generate(SecretKind::Session)
                    .expose()
                    .to_owned();
                req.extensions_mut().insert(IssuedToken(token.clone()));
                token
            }
        };
        req.extensions_mut().insert(CsrfToken(token.clone()));
        ready(Ok(CsrfToken(token)))
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

/// Middleware: sets the CSRF cookie when a handler minted a token for a browser that had none
/// (see [`CsrfToken`]). Only pages that render a form ask for a token, so API endpoints never
/// pay for one and never send a `Set-Cookie`.
pub async fn csrf_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let issued = res.request().extensions().get::<IssuedToken>().cloned();
    if let Some(IssuedToken(token)) = issued {
        let secure = res
            .request()
            .app_data::<web::Data<CookieSettings>>()
            .is_some_and(|s| s.secure);
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
