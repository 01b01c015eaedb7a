//! The operations layer: what the console's handlers and the CLI (`tessera_server::admin`) both
//! do, with one set of rules, so that a rule changed here changes for both. Handlers and
//! commands parse their input, call an operation, and render its outcome their own way.

pub mod registration_tokens;
