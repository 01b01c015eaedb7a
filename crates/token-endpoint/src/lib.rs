//! tessera-token-endpoint: `/token` (one module per grant), token minting, `/userinfo`,
//! `/revoke` and `/introspect`.
//!
//! The foundation only reserves the crate; the endpoints land with their own issue. Nothing is
//! mounted and nothing is advertised in discovery until it exists.

use actix_web::web;

/// Mounts the token endpoints (none yet).
pub fn configure(_cfg: &mut web::ServiceConfig) {}
