//! tessera-authorization-endpoint: `/authorize`, login, consent, logout and the account page.
//!
//! So far only the first step of RFC 6749 §4.1.2.1 exists (see docs/decisions/0003): the client
//! and its redirect URI are checked *before* anything is redirected anywhere, and a request that
//! passes is answered through the redirect with `temporarily_unavailable` and `iss` (RFC 9207),
//! because login and consent have not landed yet.

mod authorize;
pub mod login;

use actix_web::web;

pub use authorize::{AuthorizeOutcome, check_client_and_redirect, get_authorize, post_authorize};

/// Mounts `/authorize` and `/login`. Needs `web::Data<dyn ClientRepo>`, `web::Data<Issuer>` and
/// `web::Data<login::LoginState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/login")
            .route(tessera_web::get_or_head().to(login::get_login))
            .route(web::post().to(login::post_login))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.service(
        web::resource("/authorize")
            .route(web::get().to(get_authorize))
            .route(web::post().to(post_authorize))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
}
