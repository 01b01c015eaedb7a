//! tessera-web: HTTP plumbing shared by the endpoint crates — RFC-shaped error responses and the
//! HTML error page, security headers, request ids, request metrics and logs.

pub mod error;
pub mod headers;
pub mod telemetry;

pub use error::{ErrorPage, html_error, token_error_response};
pub use headers::security_headers;
pub use telemetry::{Metrics, REQUEST_ID_HEADER, telemetry};
