//! tessera-token-endpoint: `/token` (one module per grant under [`grants`]), token minting
//! ([`mint`]), `/userinfo`, `/revoke`, `/introspect`, `/par` (pushed authorization requests,
//! [`par`]) and `/device_authorization` (RFC 8628, [`device`]), with the per-instance memory of
//! live access tokens `/userinfo` and `/introspect` consult ([`live`]), the per-instance list of
//! resource servers tokens are narrowed to (RFC 8707, [`resources`]) and DPoP proofs (RFC 9449,
//! [`dpop`]).
//!
//! Handlers parse, call, render; the decisions live in plain functions over [`TokenState`]
//! that return a [`TokenResponse`](mint::TokenResponse) or an RFC error, plus the audit notes
//! the handler records.

pub mod access;
pub mod device;
pub mod dpop;
pub mod form;
pub mod grants;
pub mod introspect;
pub mod live;
pub mod mint;
pub mod par;
pub mod resources;
pub mod revoke;
pub mod scope;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

use actix_web::web;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use tessera_client_registry::authn::ClientAuthenticator;
use tessera_core::{
    Clock,
    store::{
        AccessTokenDenylist, AuditRepo, ClientRepo, CodeRepo, GrantRepo, RefreshTokenRepo,
        TrustedIssuerRepo, UserRepo,
    },
};

use crate::mint::Minter;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: String,
}

/// Tokens issued, by grant type: the success count of `/token` (successes write no audit
/// events — client credentials must not write to the database at all), for the metrics and for
/// the console's dashboard ([`tessera_web::activity`], counted in memory).
#[derive(Debug, Clone, Default)]
pub struct TokenMetrics {
    issued: Family<GrantLabels, Counter>,
    activity: Arc<tessera_web::activity::Activity>,
}

impl TokenMetrics {
    /// Counters that also count into `activity` (the instance's dashboard counts).
    pub fn counting_into(activity: Arc<tessera_web::activity::Activity>) -> Self {
        Self {
            issued: Family::default(),
            activity,
        }
    }

    /// Registers the counters in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "tokens_issued",
            "Token responses by grant type",
            self.issued.clone(),
        );
    }

    fn issued(&self, grant: tessera_core::grant_type::GrantType) {
        self.activity
            .count(tessera_web::activity::Series::for_grant(grant));
        self.issued
            .get_or_create(&GrantLabels {
                grant_type: grant.as_str().to_owned(),
            })
            .inc();
    }
}

/// Everything the token-type endpoints need.
#[derive(Clone)]
pub struct TokenState {
    /// Clients.
    pub clients: Arc<dyn ClientRepo>,
    /// Users.
    pub users: Arc<dyn UserRepo>,
    /// Grants (token families).
    pub grants: Arc<dyn GrantRepo>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeRepo>,
    /// Refresh tokens.
    pub refresh_tokens: Arc<dyn RefreshTokenRepo>,
    /// Revoked access tokens.
    pub denylist: Arc<dyn AccessTokenDenylist>,
    /// Trusted JWT issuers.
    pub trusted_issuers: Arc<dyn TrustedIssuerRepo>,
    /// The audit log.
    pub audit: Arc<dyn AuditRepo>,
    /// Device authorizations (RFC 8628).
    pub devices: Arc<dyn tessera_core::store::DeviceAuthorizationRepo>,
    /// Pending authorization requests (where `/par` keeps pushed ones).
    pub requests: Arc<dyn tessera_core::store::AuthorizationRequestRepo>,
    /// The counters that bound waiting requests per address (`tessera_core::pending_limit`).
    pub throttle: Arc<dyn tessera_core::store::ThrottleRepo>,
    /// Aggregates the audit events anyone can cause at volume.
    pub audit_sampler: Arc<tessera_web::audit::AuditSampler>,
    /// Client authentication, and the assertion checks the JWT bearer grant shares with it
    /// (keys fetched from `jwks_uri`, `jti` replay store).
    pub authenticator: ClientAuthenticator,
    /// Signs tokens.
    pub minter: Minter,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Success counters.
    pub metrics: TokenMetrics,
    /// The instance's memory of live access tokens (introspection, userinfo).
    pub live_tokens: Arc<live::LiveTokens>,
    /// The registered resource servers (RFC 8707), kept per instance.
    pub resources: Arc<resources::ResourceDirectory>,
    /// Where DPoP proofs' `jti`s are remembered (RFC 9449 §11.1), on every instance.
    pub replay: Arc<dyn tessera_core::store::AssertionReplayRepo>,
    /// `TESSERA_DPOP_NONCE`: DPoP proofs must carry a server nonce (RFC 9449 §8).
    pub dpop_nonce_required: bool,
    /// Refreshes per family on this instance (`tessera_core::signals`), shared by its workers.
    pub bursts: Arc<tessera_core::signals::BurstWatch>,
    /// The thresholds of the signals (`TESSERA_SIGNAL_*`).
    pub signals: tessera_core::signals::SignalPolicy,
}

impl std::fmt::Debug for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenState")
            .field("minter", &self.minter)
            .finish_non_exhaustive()
    }
}

async fn post_only() -> actix_web::HttpResponse {
    tessera_web::error::method_not_allowed("POST")
}

async fn get_or_post_only() -> actix_web::HttpResponse {
    tessera_web::error::method_not_allowed("GET, POST")
}

/// Where pushed authorization requests are sent (RFC 9126).
pub const PAR_PATH: &str = "/par";

/// Mounts `/token`, `/userinfo`, `/revoke`, `/introspect`, `/par` and `/device_authorization` (a
/// `TokenState` must be in app data).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(form::MAX_BODY_BYTES))
        .service(
            web::resource("/token")
                .route(web::post().to(token::post_token))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/userinfo")
                .route(web::get().to(userinfo::get_userinfo))
                .route(web::post().to(userinfo::post_userinfo))
                .default_service(web::to(get_or_post_only)),
        )
        .service(
            web::resource("/revoke")
                .route(web::post().to(revoke::post_revoke))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource("/introspect")
                .route(web::post().to(introspect::post_introspect))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource(PAR_PATH)
                .route(web::post().to(par::post_par))
                .default_service(web::to(post_only)),
        )
        .service(
            web::resource(device::DEVICE_AUTHORIZATION_PATH)
                .route(web::post().to(device::post_device_authorization))
                .default_service(web::to(post_only)),
        );
}
