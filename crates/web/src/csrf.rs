//! CSRF protection for every form. A random secret lives in an HttpOnly, SameSite=Strict cookie;
//! each form carries a token derived from that secret *and the browser's session cookies*
//! (SHA-256 over both), and a POST is accepted only when the token matches (constant-time).
//!
//! - Another site can make the browser send the cookies (not with Strict) but never read them, so
//!   it can not compute the token.
//! - A sibling subdomain that plants its own secret cookie still does not know the session
//!   cookie (HttpOnly), so it can not compute the token for it either; two secret cookies in one
//!   request (one planted) are refused outright. With an https issuer the cookie is
//!   `__Host-tessera_csrf`, which no subdomain can set at all.
//! - Signing in issues a new session and a new secret: tokens from before sign-in stop working.
//! - A POST whose `Sec-Fetch-Site` says it came from another origin, or (without that header)
//!   whose `Origin` is not the issuer's, is refused before the token is looked at.
//!
//! Stateless: nothing is stored, so it works across instances.

use std::future::{Ready, ready};

use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest,
    body::MessageBody,
    cookie::{Cookie, SameSite},
    dev::{Payload, ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use tessera_core::{
    secret::{PlainToken, SecretKind, TokenHash, constant_time_eq},
    store::SessionKind,
};

use crate::session::cookie_name;

/// The cookie holding the secret (over http).
pub const CSRF_COOKIE: &str = "tessera_csrf";
/// The cookie holding the secret with an https issuer.
pub const SECURE_CSRF_COOKIE: &str = "__Host-tessera_csrf";
/// The form field holding the token.
pub const CSRF_FIELD: &str = "csrf_token";

/// Cookie settings derived from the issuer.
#[derive(Debug, Clone, Default)]
pub struct CookieSettings {
    /// Set `Secure` and use `__Host-` names (the issuer is https).
    pub secure: bool,
    /// The issuer's origin (`https://id.example.com`), which every form posts from.
    pub origin: String,
}

impl CookieSettings {
    /// Settings for an issuer URL.
    pub fn for_issuer(issuer: &str) -> Self {
        let origin = url_origin(issuer).unwrap_or_default();
        Self {
            secure: issuer.starts_with("https://"),
            origin,
        }
    }

    /// The CSRF cookie's name.
    pub fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            SECURE_CSRF_COOKIE
        } else {
            CSRF_COOKIE
        }
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

fn settings(req: &HttpRequest) -> CookieSettings {
    req.app_data::<web::Data<CookieSettings>>()
        .map(|s| s.get_ref().clone())
        .unwrap_or_default()
}

/// The CSRF token to put in this response's forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// A secret minted for a request that came without the cookie; [`csrf_cookie`] sets the cookie
/// on the response.
#[derive(Debug, Clone)]
struct IssuedSecret(String);

/// The token for `secret` in the browser session that `req` carries.
fn derive(secret: &str, req: &HttpRequest, settings: &CookieSettings) -> String {
    let session = |kind| {
        req.cookie(cookie_name(kind, settings.secure))
            .map(|c| c.value().to_owned())
            .unwrap_or_default()
    };
    TokenHash::of(&format!(
        "tessera-csrf\u{0}{secret}\u{0}{}\u{0}{}",
        session(SessionKind::User),
        session(SessionKind::Admin)
    ))
    .as_str()
    .to_owned()
}

/// Every value of the cookie `name` in `req` (a planted duplicate shows up as a second one).
fn cookie_values(req: &HttpRequest, name: &str) -> Vec<String> {
    req.cookies()
        .map(|cookies| {
            cookies
                .iter()
                .filter(|c| c.name() == name)
                .map(|c| c.value().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

impl FromRequest for CsrfToken {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    /// The token for the browser's secret, or — the first time a page with a form is asked
    /// for — for a new one.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(token) = req.extensions().get::<CsrfToken>() {
            return ready(Ok(token.clone()));
        }
        let settings = settings(req);
        let existing = cookie_values(req, settings.csrf_cookie())
            .into_iter()
            .find(|v| !v.is_empty());
        let secret = match existing {
            Some(secret) => secret,
            None => {
                let secret = PlainToken::generate(SecretKind::Session)
                    .expose()
                    .to_owned();
                req.extensions_mut().insert(IssuedSecret(secret.clone()));
                secret
            }
        };
        let token = CsrfToken(derive(&secret, req, &settings));
        req.extensions_mut().insert(token.clone());
        ready(Ok(token))
    }
}

/// Whether the request says it came from a page of another origin.
fn cross_origin(req: &HttpRequest, settings: &CookieSettings) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    if let Some(site) = header("sec-fetch-site") {
        // Tessera's own forms are same-origin; `none` is the user typing or a bookmark.
        return !matches!(site.as_str(), "same-origin" | "none");
    }
    match header("origin") {
        // `null` is what a same-origin form sends under `Referrer-Policy: no-referrer`.
        Some(origin) if origin != "null" => {
            !settings.origin.is_empty() && origin != settings.origin
        }
        _ => false,
    }
}

/// Whether a state-changing POST may proceed: it comes from Tessera's own pages, carries exactly
/// one CSRF secret cookie, and `submitted` is the token for that secret in this session.
pub fn csrf_valid(req: &HttpRequest, submitted: Option<&str>) -> bool {
    let settings = settings(req);
    if cross_origin(req, &settings) {
        tracing::info!("form refused: posted from another origin");
        return false;
    }
    let secrets = cookie_values(req, settings.csrf_cookie());
    let [secret] = secrets.as_slice() else {
        return false;
    };
    match submitted {
        Some(submitted) if !secret.is_empty() => constant_time_eq(
            derive(secret, req, &settings).as_bytes(),
            submitted.as_bytes(),
        ),
        _ => false,
    }
}

/// A new CSRF secret cookie (set at sign-in, so earlier tokens stop working).
pub fn fresh_secret_cookie(settings: &CookieSettings) -> Cookie<'static> {
    secret_cookie(
        settings,
        PlainToken::generate(SecretKind::Session)
            .expose()
            .to_owned(),
    )
}

fn secret_cookie(settings: &CookieSettings, secret: String) -> Cookie<'static> {
    Cookie::build(settings.csrf_cookie(), secret)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.secure)
        .finish()
}

/// Middleware: sets the CSRF cookie when a handler minted a secret for a browser that had none
/// (see [`CsrfToken`]). Only pages that render a form ask for a token, so API endpoints never
/// pay for one and never send a `Set-Cookie`.
pub async fn csrf_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let issued = res.request().extensions().get::<IssuedSecret>().cloned();
    if let Some(IssuedSecret(secret)) = issued {
        let settings = settings(res.request());
        let already_set = res
            .response()
            .cookies()
            .any(|c| c.name() == settings.csrf_cookie());
        if !already_set {
            res.response_mut()
                .add_cookie(&secret_cookie(&settings, secret))?;
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use actix_web::{cookie::Cookie, test::TestRequest};

    use super::*;

    fn settings() -> CookieSettings {
        CookieSettings::for_issuer("http://127.0.0.1:8080/")
    }

    fn token_for(req: &HttpRequest) -> String {
        let secret = cookie_values(req, CSRF_COOKIE).remove(0);
        derive(&secret, req, &settings())
    }

    #[test]
    fn the_token_is_bound_to_the_session_and_one_secret() {
        let req = TestRequest::default()
            .app_data(web::Data::new(settings()))
            .cookie(Cookie::new(CSRF_COOKIE, "s1"))
            .cookie(Cookie::new(SESSION_COOKIE_FOR_TEST, "session-a"))
            .to_http_request();
        let token = token_for(&req);
        assert!(csrf_valid(&req, Some(&token)));
        assert!(!csrf_valid(&req, Some("wrong")));
        assert!(!csrf_valid(&req, None));
        // The same secret in another session: a different token.
        let other = TestRequest::default()
            .app_data(web::Data::new(settings()))
            .cookie(Cookie::new(CSRF_COOKIE, "s1"))
            .cookie(Cookie::new(SESSION_COOKIE_FOR_TEST, "session-b"))
            .to_http_request();
        assert!(!csrf_valid(&other, Some(&token)));
        // A planted second secret: refused even with a token for either.
        let planted = TestRequest::default()
            .app_data(web::Data::new(settings()))
            .insert_header((
                "cookie",
                "tessera_csrf=s1; tessera_csrf=evil; tessera_session=session-a",
            ))
            .to_http_request();
        assert!(!csrf_valid(&planted, Some(&token)));
    }

    #[test]
    fn posts_from_other_origins_are_refused() {
        let with = |name: &str, value: &str| {
            let req = TestRequest::default()
                .app_data(web::Data::new(settings()))
                .cookie(Cookie::new(CSRF_COOKIE, "s1"))
                .insert_header((name.to_owned(), value.to_owned()))
                .to_http_request();
            let token = token_for(&req);
            csrf_valid(&req, Some(&token))
        };
        assert!(with("sec-fetch-site", "same-origin"));
        assert!(with("sec-fetch-site", "none"));
        assert!(!with("sec-fetch-site", "cross-site"));
        assert!(!with("sec-fetch-site", "same-site"));
        assert!(with("origin", "http://127.0.0.1:8080"));
        assert!(with("origin", "null"));
        assert!(!with("origin", "http://127.0.0.1:9000"));
        assert!(!with("origin", "https://evil.example"));
    }

    const SESSION_COOKIE_FOR_TEST: &str = crate::session::SESSION_COOKIE;
}
