//! tessera-discovery: `/.well-known/openid-configuration` (OIDC Discovery 1.0 §4),
//! `/.well-known/oauth-authorization-server` (RFC 8414 §3) and `/jwks.json` (RFC 7517 §5).
//!
//! The metadata states only what the running server does: [`ProviderMetadata::for_issuer`] lists
//! the endpoints, grants, algorithms and authentication methods this build implements (the
//! server test `both_metadata_documents_are_truthful_and_identical` checks it against the running
//! server).

mod jwks;
mod metadata;

use std::sync::Arc;

use actix_web::web;

pub use jwks::{JWKS_MAX_AGE_SECS, get_jwks};
pub use metadata::{ProviderMetadata, get_oauth_metadata, get_openid_configuration};

/// What the discovery endpoints serve: the metadata document, rendered once at start-up.
#[derive(Debug, Clone)]
pub struct Discovery {
    body: Arc<[u8]>,
    jwks: Arc<jwks::JwksCache>,
}

impl Discovery {
    /// Renders the document once; it does not change while the process runs.
    pub fn new(metadata: ProviderMetadata) -> Self {
        let body = serde_json::to_vec(&metadata).unwrap_or_default().into();
        Self {
            body,
            jwks: Arc::default(),
        }
    }
}

/// Mounts the discovery routes. Needs `web::Data<Discovery>` and `web::Data<tessera_keys::Keys>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.well-known/openid-configuration")
            .route(tessera_web::get_or_head().to(get_openid_configuration))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, HEAD")
            })),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .route(tessera_web::get_or_head().to(get_oauth_metadata))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, HEAD")
            })),
    )
    .service(
        web::resource("/jwks.json")
            .route(tessera_web::get_or_head().to(get_jwks))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, HEAD")
            })),
    );
}
