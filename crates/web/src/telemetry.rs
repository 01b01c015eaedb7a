//! Per-request telemetry: a request id (taken from `X-Request-Id` when it is well-formed,
//! generated otherwise, echoed in the response), kept in a task-local while the request is served
//! so that what handlers log carries it ([`current_request_id`], which the log formatter of
//! `tessera_server::telemetry` reads — cheaper than a `tracing` span per request, which the fmt
//! layer would format at creation and enter and leave on every poll), one access-log line per
//! request ([`crate::access_log`]), and Prometheus metrics by route pattern (never by raw path:
//! unbounded label values would let anyone grow the metrics without bound).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use crate::access_log;
use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

tokio::task_local! {
    /// The id of the request being served.
    static REQUEST_ID: Arc<str>;
}

/// The id of the request the current task is serving, if any (log lines written while a
/// request is served carry it).
pub fn current_request_id() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

/// Runs `future` as the serving of the request `id` (what [`telemetry`] does around each
/// request; for tests of what reads [`current_request_id`]).
pub async fn serve_as<F: std::future::Future>(id: &str, future: F) -> F::Output {
    REQUEST_ID.scope(Arc::from(id), future).await
}

/// The request id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The process's metrics registry and the request metrics in it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    next_request_id: AtomicU64,
    instance: String,
}

impl Metrics {
    /// A fresh registry with the HTTP metrics registered.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("tessera");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let instance = tessera_core::secret::random_id().chars().take(8).collect();
        Arc::new(Self {
            registry,
            requests,
            latency,
            next_request_id: AtomicU64::new(1),
            instance,
        })
    }

    /// The registry, for other crates to register their own metrics before serving.
    pub fn registry_mut(this: &mut Arc<Self>) -> Option<&mut Registry> {
        Arc::get_mut(this).map(|m| &mut m.registry)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(err) = encode(&mut out, &self.registry) {
            tracing::error!(error = %err, "metrics encoding failed");
        }
        out
    }

    fn observe(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        let labels = RequestLabels {
            method,
            route,
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: labels.route,
            })
            .observe(seconds);
    }

    /// `instance-counter` (hex), written on the stack and allocated once, as the `Arc`.
    fn new_request_id(&self) -> Arc<str> {
        use std::io::Write;
        let n = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        // The instance is 8 characters (see `new`); a u64 in hex is at most 16.
        let mut buf = [0u8; 64];
        let mut out = &mut buf[..];
        let _ = write!(out, "{}-{n:x}", self.instance);
        let len = 64 - out.len();
        Arc::from(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }
}

fn acceptable_request_id(value: &HeaderValue) -> Option<Arc<str>> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    ok.then(|| Arc::from(text))
}

/// The method as a metrics label, from a fixed set: an arbitrary method a client sends must not
/// create a new time series.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// The telemetry middleware (`actix_web::middleware::from_fn(telemetry)`); needs
/// `web::Data<Metrics>` in the app data.
pub async fn telemetry(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let request_id: Arc<str> = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(acceptable_request_id)
        .or_else(|| metrics.as_ref().map(|m| m.new_request_id()))
        .unwrap_or_else(|| Arc::from(""));
    let method = method_label(req.method());
    // Copied: an error from further in leaves no request to read it from. (A second handle on
    // the request would be cheaper, but routing needs the only one.)
    let path = req.path().to_owned();
    // What the handlers log carries the request id (the access line has the rest).
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(Arc::clone(&request_id), next.call(req))
        .await;
    let elapsed = started.elapsed();
    let (status, route) = match &result {
        Ok(res) => (res.status().as_u16(), res.request().match_pattern()),
        Err(err) => (err.as_response_error().status_code().as_u16(), None),
    };
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    // The path, not the query: queries can carry codes and tokens.
    access_log::log(&access_log::Entry {
        request_id: &request_id,
        method,
        route: &route,
        path: &path,
        status,
        micros: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    });
    if let Some(metrics) = &metrics {
        metrics.observe(method, route, status, elapsed.as_secs_f64());
    }
    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}
