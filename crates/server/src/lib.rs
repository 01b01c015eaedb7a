//! tessera-server: the `tessera` binary's library half — CLI, configuration, telemetry,
//! application assembly, health and metrics.

pub mod app;
pub mod cli;
pub mod config;
pub mod health;
pub mod log_writer;
pub mod memory;
pub mod telemetry;

pub use app::{AppState, Application, build_app};
pub use config::Config;
