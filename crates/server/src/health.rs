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

/// How long the readiness check waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /health/ready`: the database answers a real query within 2 s, every algorithm has an
/// active signing key and the key store could be read at the last look (every 5 s). A stalled
/// database or an unreadable key store makes the instance unready; it recovers by itself.
pub async fn get_ready(store: web::Data<dyn HealthRepo>, keys: web::Data<Keys>) -> HttpResponse {
    let database = match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database check failed");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer within 2 s");
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
