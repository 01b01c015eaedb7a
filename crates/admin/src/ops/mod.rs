//! The operations layer: what the console's handlers and the CLI (`tessera_server::cli`) both
//! do, with one set of rules, so that a rule changed here changes for both. Handlers and
//! commands parse their input, call an operation, record the audit event and render the outcome
//! their own way. (Signing keys have theirs in `tessera_keys`: the console rotates the running
//! ring, the CLI the key store.)

pub mod audit;
pub mod clients;
pub mod issuers;
pub mod locks;
pub mod registration_tokens;
pub mod resources;
pub mod scopes;
pub mod users;
