//! tessera-client-registry: the client model and its rules ([`model`]), registry operations
//! shared by every way of managing clients ([`registry`]), client authentication for token-type
//! endpoints ([`authn`]), JWT assertion verification for client authentication and the JWT bearer
//! grant ([`assertion`]), and RFC 7591/7592 dynamic registration ([`registration`]).

pub mod assertion;
pub mod authn;
pub mod cache;
pub mod jwks_fetch;
pub mod model;
pub mod registration;
pub mod registry;
pub mod trusted_issuer;

use actix_web::web;

pub use registration::{REGISTRATION_PATH, RegistrationState};

/// Mounts `/register` and `/register/{client_id}`. Needs `web::Data<RegistrationState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(REGISTRATION_PATH)
            .app_data(web::PayloadConfig::new(registration::MAX_BODY_BYTES))
            .route(web::post().to(registration::post_register))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("POST")
            })),
    )
    .service(
        web::resource(format!("{REGISTRATION_PATH}/{{client_id}}"))
            .app_data(web::PayloadConfig::new(registration::MAX_BODY_BYTES))
            .route(web::get().to(registration::get_registration))
            .route(web::put().to(registration::put_registration))
            .route(web::delete().to(registration::delete_registration))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, PUT, DELETE")
            })),
    );
}
