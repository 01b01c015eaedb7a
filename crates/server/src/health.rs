//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, http::header, web};
use serde_json::json;
use tessera_core::store::HealthRepo;
use tessera_keys::Keys;
use tessera_web::Metrics;

/// `GET /health/live`: the process serves requests.
pub async fn get_live() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"status": "ok"}))
}

/// `GET /health/ready`: the database answers and every algorithm has an active signing key.
pub async fn get_ready(store: web::Data<dyn HealthRepo>, keys: web::Data<Keys>) -> HttpResponse {
    let database = match store.ping().await {
        Ok(()) => "ok",
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database check failed");
            "unavailable"
        }
    };
    let signing_keys = if keys.ready() { "ok" } else { "unavailable" };
    let ready = database == "ok" && signing_keys == "ok";
    let mut response = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "status": if ready { "ok" } else { "unavailable" },
            "checks": { "database": database, "keys": signing_keys },
        }))
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn get_metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(metrics.render())
}
