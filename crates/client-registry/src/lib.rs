//! tessera-client-registry: the client model and its rules, client authentication, RFC 7591/7592
//! registration and the admin console.
//!
//! The foundation only reserves the crate; the registry lands with its own issue. Nothing is
//! mounted and nothing is advertised in discovery until it exists.

use actix_web::web;

/// Mounts the registry's routes (none yet).
pub fn configure(_cfg: &mut web::ServiceConfig) {}
