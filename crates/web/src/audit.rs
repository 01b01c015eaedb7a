//! Audit events from HTTP handlers: who (actor), what (kind), which client and user, and the
//! request's peer address and user agent. Never secrets. A failure to record is logged, not
//! turned into an error for the person making the request.

use actix_web::{HttpRequest, http::header};
use chrono::{DateTime, Utc};
use tessera_core::store::{AuditEvent, AuditRepo};

/// What happened, to whom.
#[derive(Debug, Clone, Default)]
pub struct Audit<'a> {
    /// A dotted kind, e.g. `client.created`.
    pub kind: &'a str,
    /// Who acted.
    pub actor: Option<String>,
    /// The client concerned.
    pub client_id: Option<&'a str>,
    /// The user concerned.
    pub user_id: Option<&'a str>,
    /// Extra details (no secrets).
    pub details: Option<serde_json::Value>,
}

/// Records `audit` for `req` at `now`.
pub async fn record(repo: &dyn AuditRepo, req: &HttpRequest, now: DateTime<Utc>, audit: Audit<'_>) {
    let event = AuditEvent {
        occurred_at: now,
        kind: audit.kind.to_owned(),
        actor: audit.actor,
        client_id: audit.client_id.map(str::to_owned),
        user_id: audit.user_id.map(str::to_owned),
        ip: Some(crate::client_address::ClientAddress::of(req).to_string())
            .filter(|ip| !ip.is_empty()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(400).collect()),
        details: audit.details.unwrap_or_else(|| serde_json::json!({})),
    };
    if let Err(err) = repo.record_event(&event).await {
        tracing::error!(error = %err, audit.kind = %event.kind, "audit event lost");
    }
}
