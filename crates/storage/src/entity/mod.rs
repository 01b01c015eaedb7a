//! sea-orm entities, one module per table of the schema in `tessera-migration`.

pub mod audit_event;
pub mod authorization_code;
pub mod authorization_request;
pub mod browser_session;
pub mod change_version;
pub mod client;
pub mod consent;
pub mod device_authorization;
pub mod email_link;
pub mod grant;
pub mod initial_access_token;
pub mod known_device;
pub mod passkey;
pub mod passkey_ceremony;
pub mod recovery_code;
pub mod refresh_token;
pub mod resource_server;
pub mod revoked_access_token;
pub mod scope;
pub mod second_factor_challenge;
pub mod sign_in_throttle;
pub mod signing_key;
pub mod totp_factor;
pub mod trusted_jwt_issuer;
pub mod used_assertion_jti;
pub mod user;
