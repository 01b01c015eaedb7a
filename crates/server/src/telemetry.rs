//! Logging set-up: tracing with an env filter (`RUST_LOG` wins over the configured level), as
//! text or JSON lines on stderr.
//!
//! Lines are formatted on the thread that logs and written by a background thread
//! (`tracing_appender::non_blocking`, through a buffer flushed whenever its queue runs dry), so a
//! request never waits for stderr: at the default `info` level every request logs a line, and a
//! slow terminal or log collector must not slow the workers. Nothing is dropped: a worker only
//! waits when 128,000 lines are queued. Colours only when stderr is a terminal.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Installs the global subscriber. Keep the guard until the process ends: dropping it writes
/// out what is still queued. `None` when a subscriber was installed before (tests).
pub fn init(format: LogFormat, level: &str) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("tessera-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
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
