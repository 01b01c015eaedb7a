//! `GET /jwks.json`: every published public key, with an ETag so caches revalidate cheaply.

use std::sync::{Arc, Mutex};

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, HeaderValue},
    web,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use tessera_keys::{Keys, ring::KeyRing};

use crate::Discovery;

/// How long clients may cache the JWKS. Key rotation publishes new keys well before they sign
/// (the activation delay must exceed this), so a cached copy never misses a signing key.
pub const JWKS_MAX_AGE_SECS: u32 = 300;
const CACHE_CONTROL: &str = "public, max-age=300";
const _: () = assert!(
    JWKS_MAX_AGE_SECS == 300,
    "CACHE_CONTROL repeats JWKS_MAX_AGE_SECS"
);

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

/// The JWKS as served: its bytes and their entity tag.
#[derive(Debug)]
struct Rendered {
    body: web::Bytes,
    etag: HeaderValue,
}

/// The last rendered JWKS, for the key ring it was rendered from and the keys that ring
/// published then. The document changes only when the keys are reloaded or a key reaches its
/// publish or unpublish time, so a request costs a comparison, not serialisation and a digest.
#[derive(Debug, Default)]
pub struct JwksCache {
    last: Mutex<Option<RenderedFor>>,
}

/// A rendering, with the ring and the indices of the keys it published.
type RenderedFor = (Arc<KeyRing>, Vec<usize>, Arc<Rendered>);

impl JwksCache {
    fn rendered(&self, keys: &Keys) -> Result<Arc<Rendered>, serde_json::Error> {
        let ring = keys.ring();
        let now = keys.now();
        let published = || {
            ring.keys()
                .enumerate()
                .filter(move |(_, key)| key.entry().state(now).is_published())
                .map(|(index, _)| index)
        };
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached_ring, cached_published, rendered)) = &*last
            && Arc::ptr_eq(cached_ring, &ring)
            && cached_published.iter().copied().eq(published())
        {
            return Ok(Arc::clone(rendered));
        }
        let body = serde_json::to_vec(&ring.jwks(now))?;
        let etag = format!(
            "\"{}\"",
            URL_SAFE_NO_PAD.encode(&Sha256::digest(&body)[..16])
        );
        let rendered = Arc::new(Rendered {
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
            body: web::Bytes::from(body),
        });
        *last = Some((
            Arc::clone(&ring),
            published().collect(),
            Arc::clone(&rendered),
        ));
        Ok(rendered)
    }
}

/// `GET /jwks.json`.
pub async fn get_jwks(
    req: HttpRequest,
    keys: web::Data<Keys>,
    discovery: web::Data<Discovery>,
) -> HttpResponse {
    let rendered = match discovery.jwks.rendered(&keys) {
        Ok(rendered) => rendered,
        Err(err) => {
            tracing::error!(error = %err, "JWKS serialisation failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let not_modified = rendered
        .etag
        .to_str()
        .is_ok_and(|etag| none_match(&req, etag));
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, rendered.etag.clone()))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    if not_modified {
        return response.finish();
    }
    response
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .body(rendered.body.clone())
}
