//! Security headers on every response (set only where a handler did not set its own).

use actix_web::middleware::DefaultHeaders;

/// `Content-Security-Policy` for everything Tessera serves: its own resources only, no framing
/// (clickjacking on login/consent, RFC 6819 §4.4.1.9), forms only to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The middleware that adds the headers.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
}
