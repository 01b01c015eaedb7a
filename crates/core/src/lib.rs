//! tessera-core: the protocol vocabulary and rules shared by every other crate.
//!
//! Nothing here knows about HTTP, templates or SQL: ids, algorithms, the RFC error enums, the
//! [`clock::Clock`], token/secret generation and hashing, one-time codes ([`totp`]), how a user
//! signed in and the second-factor policy ([`amr`]), the account signals' rules ([`signals`]),
//! and the repository traits in [`store`] that the storage crate implements.

pub mod alg;
pub mod amr;
pub mod audit_kind;
pub mod authorization_request;
pub mod client_throttle;
pub mod clock;
pub mod device;
pub mod email_address;
pub mod error;
pub mod grant_type;
pub mod ids;
pub mod password;
pub mod pending_limit;
pub mod pkce;
pub mod redirect;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod sign_in;
pub mod signals;
pub mod store;
pub mod totp;
pub mod username;

pub use alg::SigningAlg;
pub use audit_kind::AuditKind;
pub use clock::{Clock, FakeClock, SystemClock};
pub use ids::{ClientId, GrantId, Issuer, Kid, Subject};
