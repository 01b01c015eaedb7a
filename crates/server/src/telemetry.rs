//! Logging set-up: tracing with an env filter (`RUST_LOG` wins over the configured level), as
//! text or JSON lines on stderr.
//!
//! Lines are formatted on the thread that logs and written out by a background thread every
//! 20 ms ([`crate::log_writer`]), so a request never waits for stderr nor wakes another thread:
//! at the default `info` level every request logs a line, and a slow terminal or log collector
//! must not slow the workers. Nothing is dropped. Colours only when stderr is a terminal.
//!
//! The per-request access line is formatted by [`tessera_web::access_log`] (cheaper than an
//! event) and appended to the same buffer, in the same format, under the same filter. Other
//! lines written while a request is served carry its id ([`WithRequestId`]): `request.id=…` at
//! the end of a text line (at the start, on a colour terminal), a `"request.id"` member of a
//! JSON line.

use std::io::IsTerminal;

use tracing::{Event, Subscriber};
use tracing_subscriber::{
    EnvFilter, fmt,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{Format, Json, JsonFields, Writer},
    },
    prelude::*,
    registry::LookupSpan,
};

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
                    .with_writer(writer)
                    .map_event_format(|inner| WithRequestId { inner, json: false }),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .with_writer(writer)
                    .fmt_fields(JsonFields::new())
                    .event_format(WithRequestId {
                        inner: json_format(),
                        json: true,
                    }),
            )
            .try_init(),
    };
    installed.ok().map(|()| guard)
}

/// The JSON line: the event's fields at the top level, with the current span (if any).
fn json_format() -> Format<Json> {
    fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(true)
}

/// An event format that adds the id of the request being served
/// ([`tessera_web::telemetry::current_request_id`]) to what `inner` writes.
#[derive(Debug)]
pub struct WithRequestId<F> {
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let Some(id) = tessera_web::telemetry::current_request_id() else {
            return self.inner.format_event(ctx, writer, event);
        };
        if !self.json && writer.has_ansi_escapes() {
            // A terminal: the id first, then the coloured line as it was.
            write!(writer, "[{id}] ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let body = line.strip_suffix('\n').unwrap_or(&line);
        // Request ids are `[A-Za-z0-9._-]` (checked or generated): nothing to escape.
        match (self.json, body.strip_suffix('}')) {
            (true, Some(head)) => writeln!(writer, "{head},\"request.id\":\"{id}\"}}"),
            _ => writeln!(writer, "{body} request.id={id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn logged_while_serving(json: bool) -> String {
        let lines = Lines::default();
        let sink = lines.clone();
        let make = move || sink.clone();
        let layer_text = (!json).then(|| {
            fmt::layer()
                .with_ansi(false)
                .with_writer(make.clone())
                .map_event_format(|inner| WithRequestId { inner, json: false })
        });
        let layer_json = json.then(|| {
            fmt::layer()
                .with_writer(make.clone())
                .fmt_fields(JsonFields::new())
                .event_format(WithRequestId {
                    inner: json_format(),
                    json: true,
                })
        });
        let subscriber = tracing_subscriber::registry()
            .with(layer_text)
            .with(layer_json);
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::info!(answer = 42, "outside any request");
        tessera_web::telemetry::serve_as("req-7", async {
            tracing::warn!(client.id = "app", "inside a request");
        })
        .await;
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test]
    async fn lines_written_while_a_request_is_served_carry_its_id() {
        let text = logged_while_serving(false).await;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(!lines[0].contains("request.id"), "{text}");
        assert!(
            lines[1].ends_with("inside a request client.id=\"app\" request.id=req-7"),
            "{text}"
        );

        let json = logged_while_serving(true).await;
        let events: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 2, "{json}");
        assert!(events[0].get("request.id").is_none());
        assert_eq!(events[1]["request.id"], "req-7");
        assert_eq!(events[1]["client.id"], "app");
        assert_eq!(events[1]["message"], "inside a request");
    }
}
