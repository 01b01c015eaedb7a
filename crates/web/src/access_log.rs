//! The access log: one line per request, written by [`crate::telemetry`].
//!
//! The line is formatted by hand here rather than as a `tracing` event: at the default `info`
//! level every request logs one, and going through the event machinery (field visitors, the
//! formatter, a timestamp formatted from scratch) cost a quarter of a JWKS request and a tenth of
//! a token request (docs/benchmarks.md). It is still governed by the log filter — the line is
//! written only when the target [`TARGET`] is enabled at `INFO` (`TESSERA_LOG_LEVEL`, or
//! `RUST_LOG=warn,tessera::access=info` to keep access lines alone) — and it goes to the same
//! writer, in the same format (`text` or `json`), as every other log line (without colours, even
//! on a terminal).
//!
//! The process installs the output once at start-up ([`install`]); where none is installed (an
//! embedding that set up its own `tracing` subscriber, the tests) the line is an ordinary
//! `tracing` event with the same fields.

use std::{fmt::Write as _, sync::OnceLock};

use chrono::{DateTime, Utc};
use tessera_core::{Clock, SystemClock};

/// The `tracing` target the access log answers to.
pub const TARGET: &str = "tessera::access";

/// The shape of a line, as `TESSERA_LOG_FORMAT` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `2026-12-06T23:26:03.009470Z  INFO tessera::access: request request.id=… http.method=GET …`
    Text,
    /// One JSON object: `{"timestamp":…,"level":"INFO","target":"tessera::access","message":"request",…}`
    Json,
}

/// Takes a finished line (newline included) and writes it out.
pub type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;

struct Output {
    format: Format,
    sink: Sink,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

/// Installs where access lines go and their format; the first call wins (like a global
/// `tracing` subscriber). Returns whether this call installed it.
pub fn install(format: Format, sink: Sink) -> bool {
    OUTPUT.set(Output { format, sink }).is_ok()
}

/// What one request's line says.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The request id (`X-Request-Id`).
    pub request_id: &'a str,
    /// The method, from a fixed set.
    pub method: &'static str,
    /// The route pattern, or `unmatched`.
    pub route: &'a str,
    /// The path, never the query.
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// How long the request took, in microseconds.
    pub micros: u64,
}

/// Logs `entry` if the filter lets [`TARGET`] through at `INFO`.
pub fn log(entry: &Entry<'_>) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    match OUTPUT.get() {
        Some(output) => {
            let mut line = String::with_capacity(256);
            format_line(&mut line, output.format, SystemClock.now(), entry);
            (output.sink)(line.as_bytes());
        }
        None => tracing::event!(
            target: TARGET,
            tracing::Level::INFO,
            request.id = %entry.request_id,
            http.method = %entry.method,
            http.route = %entry.route,
            http.path = %entry.path,
            http.status = %entry.status,
            duration_ms = entry.micros as f64 / 1000.0,
            "request"
        ),
    }
}

/// Appends `entry` as one line (with its newline) in `format`, stamped `at`.
pub fn format_line(out: &mut String, format: Format, at: DateTime<Utc>, entry: &Entry<'_>) {
    let millis = entry.micros / 1000;
    let fraction = entry.micros % 1000;
    match format {
        Format::Text => {
            timestamp(out, at);
            let _ = writeln!(
                out,
                "  INFO {TARGET}: request request.id={} http.method={} http.route={} \
                 http.path={} http.status={} duration_ms={millis}.{fraction:03}",
                entry.request_id, entry.method, entry.route, entry.path, entry.status
            );
        }
        Format::Json => {
            out.push_str("{\"timestamp\":\"");
            timestamp(out, at);
            let _ = writeln!(
                out,
                "\",\"level\":\"INFO\",\"target\":\"{TARGET}\",\"message\":\"request\",\
                 \"request.id\":{},\"http.method\":\"{}\",\"http.route\":{},\"http.path\":{},\
                 \"http.status\":{},\"duration_ms\":{millis}.{fraction:03}}}",
                json_string(entry.request_id),
                entry.method,
                json_string(entry.route),
                json_string(entry.path),
                entry.status
            );
        }
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// `2026-12-06T23:26:03.009470Z` (RFC 3339, UTC, microseconds). The part up to the second is
/// formatted once a second per thread.
fn timestamp(out: &mut String, at: DateTime<Utc>) {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, String)> = const {
            std::cell::RefCell::new((i64::MIN, String::new()))
        };
    }
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != at.timestamp() {
            *second = at.timestamp();
            text.clear();
            let _ = write!(text, "{}", at.format("%Y-%m-%dT%H:%M:%S"));
        }
        out.push_str(text);
    });
    let _ = write!(out, ".{:06}Z", at.timestamp_subsec_micros() % 1_000_000);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(path: &'a str) -> Entry<'a> {
        Entry {
            request_id: "ab12cd34-1f",
            method: "POST",
            route: "/token",
            path,
            status: 200,
            micros: 1_234,
        }
    }

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).unwrap()
    }

    #[test]
    fn a_text_line_reads_like_the_other_log_lines() {
        let mut line = String::new();
        format_line(
            &mut line,
            Format::Text,
            at(1_796_599_563_009_470),
            &entry("/token"),
        );
        assert_eq!(
            line,
            "2026-12-06T23:26:03.009470Z  INFO tessera::access: request request.id=ab12cd34-1f \
             http.method=POST http.route=/token http.path=/token http.status=200 \
             duration_ms=1.234\n"
        );
    }

    #[test]
    fn a_json_line_is_one_object_with_escaped_strings() {
        let mut line = String::new();
        let path = "/a\"b\\c";
        format_line(
            &mut line,
            Format::Json,
            at(1_796_599_563_000_001),
            &entry(path),
        );
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["timestamp"], "2026-12-06T23:26:03.000001Z");
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["target"], TARGET);
        assert_eq!(value["message"], "request");
        assert_eq!(value["request.id"], "ab12cd34-1f");
        assert_eq!(value["http.method"], "POST");
        assert_eq!(value["http.route"], "/token");
        assert_eq!(value["http.path"], path);
        assert_eq!(value["http.status"], 200);
        assert_eq!(value["duration_ms"], 1.234);
    }

    #[test]
    fn the_filter_decides_whether_a_line_is_written() {
        use std::sync::{Arc, Mutex};

        use tracing_subscriber::{EnvFilter, prelude::*};

        let written = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&written);
        assert!(install(
            Format::Text,
            Box::new(move |line| sink
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(line).into_owned()))
        ));
        let lines_under = |filter: &str| {
            written.lock().unwrap().clear();
            let subscriber = tracing_subscriber::registry().with(EnvFilter::new(filter));
            tracing::subscriber::with_default(subscriber, || log(&entry("/jwks.json")));
            written.lock().unwrap().clone()
        };
        assert_eq!(lines_under("info").len(), 1);
        assert!(lines_under("warn").is_empty());
        assert_eq!(lines_under("warn,tessera::access=info").len(), 1);
        assert!(lines_under("info,tessera::access=off").is_empty());
        assert!(lines_under("info")[0].contains("http.path=/jwks.json"));
    }

    #[test]
    fn the_timestamp_follows_the_clock_across_seconds_and_small_durations_keep_their_zeros() {
        let mut first = String::new();
        timestamp(&mut first, at(59_999_999));
        let mut next = String::new();
        timestamp(&mut next, at(60_000_000));
        assert_eq!(first, "1970-01-01T00:00:59.999999Z");
        assert_eq!(next, "1970-01-01T00:01:00.000000Z");
        let mut line = String::new();
        let quick = Entry {
            micros: 7,
            ..entry("/jwks.json")
        };
        format_line(&mut line, Format::Text, at(0), &quick);
        assert!(line.ends_with("duration_ms=0.007\n"), "{line}");
    }
}
