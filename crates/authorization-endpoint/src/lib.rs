//! tessera-authorization-endpoint: `/authorize`, login, consent, logout and the account page.
//!
//! So far only the first step of RFC 6749 §4.1.2.1 exists (see docs/decisions/0003): the client
//! and its redirect URI are checked *before* anything is redirected anywhere, and a request that
//! passes is answered through the redirect with `temporarily_unavailable` and `iss` (RFC 9207),
//! because login and consent have not landed yet.

mod authorize;

use actix_web::web;

pub use authorize::{AuthorizeOutcome, check_client_and_redirect, get_authorize, post_authorize};

/// Mounts `/authorize`. Needs `web::Data<dyn ClientRepo>` and `web::Data<Issuer>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/authorize")
            .route(web::get().to(get_authorize))
            .route(web::post().to(post_authorize))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
}
