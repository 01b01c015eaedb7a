//! Logging set-up: tracing with an env filter (`RUST_LOG` wins over the configured level), as
//! text or JSON lines on stderr.
//!
//! Lines are formatted on the thread that logs and written out by a background thread every
//! 20 ms ([`crate::log_writer`]), so a request never waits for stderr nor wakes another thread:
//! at the default `info` level every request logs a line, and a slow terminal or log collector
//! must not slow the workers. Nothing is dropped. Colours only when stderr is a terminal.
//!
//! The per-request access line is formatted by [`tessera_web::access_log`] (cheaper than an
//! event) and appended to the same buffer, in the same format, under the same filter.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::{
    config::LogFormat,
    log_writer::{Flusher, buffered_stderr},
};

/// Installs the global subscriber. Keep the flusher until the process ends: dropping it writes
/// out what is still buffered. `None` when a subscriber was installed before (tests).
pub fn init(format: LogFormat, level: &str) -> Option<Flusher> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = buffered_stderr();
    // Access lines are formatted by tessera_web::access_log and go to the same buffer.
    let access = writer.clone();
    tessera_web::access_log::install(
        match format {
            LogFormat::Text => tessera_web::access_log::Format::Text,
            LogFormat::Json => tessera_web::access_log::Format::Json,
        },
        Box::new(move |line| access.append(line)),
    );
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(writer),
            )
            .try_init(),
    };
    installed.ok().map(|()| guard)
}
