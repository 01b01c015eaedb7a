//! `GET /jwks.json`: every published public key, with an ETag so caches revalidate cheaply.

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, HeaderValue},
    web,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use tessera_keys::Keys;

/// How long clients may cache the JWKS. Key rotation publishes new keys well before they sign
/// (the activation delay must exceed this), so a cached copy never misses a signing key.
pub const JWKS_MAX_AGE_SECS: u32 = 300;

/// Whether an `If-None-Match` header matches `etag` (weak comparison, RFC 9110 §13.1.2).
fn none_match(req: &HttpRequest, etag: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// `GET /jwks.json`.
pub async fn get_jwks(req: HttpRequest, keys: web::Data<Keys>) -> HttpResponse {
    let body = match serde_json::to_vec(&keys.jwks()) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "JWKS serialisation failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let etag = format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(&Sha256::digest(&body)[..16])
    );
    let cache_control = format!("public, max-age={JWKS_MAX_AGE_SECS}");
    let not_modified = none_match(&req, &etag);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    if not_modified {
        return response.finish();
    }
    response
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .body(body)
}
