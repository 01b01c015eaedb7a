//! Black-box tests of the real application on 127.0.0.1:0 (one binary, one module per area).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod account;
mod admin;
mod authlib;
mod authorize;
mod cli;
mod client_throttle;
mod code_flow;
mod console;
mod device;
mod discovery;
mod dpop;
mod faults;
mod floods;
mod health;
mod in_process;
mod instances;
mod journeys;
mod oauth2_crate;
mod openid_client;
mod operations;
mod par;
mod passkeys;
mod password_reset;
mod process_faults;
mod process_memory;
mod registration;
mod resource_indicators;
mod second_factor;
mod sign_in_safety;
mod signals;
mod token_code;
mod token_grants;
mod token_refresh;
mod token_resources;
/// Token-endpoint helpers, from testkit.
pub(crate) use tessera_testkit::tokens as token_support;
