//! tessera-web: HTTP plumbing shared by the endpoint crates — RFC-shaped error responses, the
//! HTML error page and [`PageError`], CSRF-checked typed forms ([`form::CsrfForm`]), security
//! headers, request ids, request metrics and logs, and the pages' stylesheet and branding
//! ([`brand`]).

// Page templates here name `tessera_web::brand` as the other crates' templates do.
extern crate self as tessera_web;

pub mod access_log;
pub mod activity;
pub mod audit;
pub mod body_deadline;
pub mod brand;
pub mod client_address;
pub mod csrf;
pub mod error;
pub mod form;
pub mod hash_gate;
pub mod headers;
pub mod session;
pub mod telemetry;

pub use error::{ErrorPage, PageError, html_error, html_page, token_error_response};
pub use headers::{allow_form_target, security_headers};
pub use telemetry::{Metrics, REQUEST_ID_HEADER, telemetry};

/// A route for `GET` that answers `HEAD` too (RFC 9110 §9.3.2: same headers, no body; actix
/// drops the body of HEAD responses).
pub fn get_or_head() -> actix_web::Route {
    use actix_web::guard;
    actix_web::web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
