//! Audit events from HTTP handlers: who (actor), what (kind), which client and user, and the
//! request's peer address and user agent. Never secrets. A failure to record is logged, not
//! turned into an error for the person making the request.

use actix_web::{HttpRequest, http::header};
use chrono::{DateTime, Utc};
use tessera_core::store::{AuditEvent, AuditRepo};

/// What happened, to whom.
#[derive(Debug, Clone)]
pub struct Audit<'a> {
    /// What happened.
    pub kind: tessera_core::AuditKind,
    /// Who acted.
    pub actor: Option<String>,
    /// The client concerned.
    pub client_id: Option<&'a str>,
    /// The user concerned.
    pub user_id: Option<&'a str>,
    /// Extra details (no secrets).
    pub details: Option<serde_json::Value>,
}

impl Audit<'_> {
    /// An event of `kind` with nothing else said yet.
    pub fn new(kind: tessera_core::AuditKind) -> Self {
        Self {
            kind,
            actor: None,
            client_id: None,
            user_id: None,
            details: None,
        }
    }
}

/// Records `audit` for `req` at `now` (and counts a sign-in's for the dashboard,
/// [`crate::activity`]).
pub async fn record(repo: &dyn AuditRepo, req: &HttpRequest, now: DateTime<Utc>, audit: Audit<'_>) {
    crate::activity::count_audit(req, audit.kind);
    write(repo, req, now, audit).await;
}

async fn write(repo: &dyn AuditRepo, req: &HttpRequest, now: DateTime<Utc>, audit: Audit<'_>) {
    let event = AuditEvent {
        occurred_at: now,
        kind: audit.kind.as_str().to_owned(),
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

/// Events that anyone can cause at volume (a failed authentication of a client that does not
/// exist, a sign-in refused while throttled) are audited *in aggregate*: the first of each kind
/// from each source address in a minute is written, the rest are counted
/// (`tessera_audit_events_suppressed_total{kind}`). One instance's memory: a bounded map,
/// emptied when full, so a flood from ever-new addresses costs at most one row per address and
/// minute and never more memory than the bound.
#[derive(Debug)]
pub struct AuditSampler {
    seen: std::sync::Mutex<std::collections::HashMap<(String, String), i64>>,
    suppressed: prometheus_client::metrics::family::Family<
        KindLabel,
        prometheus_client::metrics::counter::Counter,
    >,
}

/// The `kind` label of the suppressed-events counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct KindLabel {
    kind: String,
}

/// Sources remembered per instance before the sampler's map is emptied.
const SAMPLER_CAPACITY: usize = 10_000;

impl Default for AuditSampler {
    fn default() -> Self {
        Self {
            seen: std::sync::Mutex::new(std::collections::HashMap::new()),
            suppressed: prometheus_client::metrics::family::Family::default(),
        }
    }
}

impl AuditSampler {
    /// Registers the suppressed-events counter.
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "audit_events_suppressed",
            "Audit events not written because one of the same kind from the same source was written this minute",
            self.suppressed.clone(),
        );
    }

    /// Whether an event of `kind` from `source` at `now` should be written.
    pub fn admit(&self, kind: &str, source: &str, now: DateTime<Utc>) -> bool {
        let minute = now.timestamp().div_euclid(60);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SAMPLER_CAPACITY {
            seen.retain(|_, at| *at == minute);
            if seen.len() >= SAMPLER_CAPACITY {
                seen.clear();
            }
        }
        let key = (kind.to_owned(), source.to_owned());
        if seen.get(&key) == Some(&minute) {
            self.suppressed
                .get_or_create(&KindLabel {
                    kind: kind.to_owned(),
                })
                .inc();
            return false;
        }
        seen.insert(key, minute);
        true
    }

    /// How many events of `kind` were suppressed so far.
    #[cfg(test)]
    fn suppressed(&self, kind: &str) -> u64 {
        self.suppressed
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .get()
    }
}

/// Records `audit` unless `sampler` has written one of its kind from this source this minute
/// (the dashboard counts it either way).
pub async fn record_sampled(
    repo: &dyn AuditRepo,
    sampler: &AuditSampler,
    req: &HttpRequest,
    now: DateTime<Utc>,
    audit: Audit<'_>,
) {
    crate::activity::count_audit(req, audit.kind);
    let source = crate::client_address::ClientAddress::of(req).to_string();
    if sampler.admit(audit.kind.as_str(), &source, now) {
        let mut audit = audit;
        let mut details = audit
            .details
            .take()
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some(map) = details.as_object_mut() {
            map.insert("sampled".into(), serde_json::Value::Bool(true));
        }
        audit.details = Some(details);
        write(repo, req, now, audit).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_kind_source_and_minute_and_a_bounded_map() {
        let sampler = AuditSampler::default();
        let t0 = DateTime::from_timestamp(1_900_000_020, 0).unwrap_or_default();
        assert!(sampler.admit("client.auth_failed", "192.0.2.1", t0));
        assert!(!sampler.admit("client.auth_failed", "192.0.2.1", t0));
        assert!(sampler.admit("client.auth_failed", "192.0.2.2", t0));
        assert!(sampler.admit("login.throttled", "192.0.2.1", t0));
        assert!(sampler.admit(
            "client.auth_failed",
            "192.0.2.1",
            t0 + chrono::Duration::minutes(1)
        ));
        assert_eq!(sampler.suppressed("client.auth_failed"), 1);
        for i in 0..(SAMPLER_CAPACITY * 3) {
            sampler.admit("client.auth_failed", &format!("10.{i}"), t0);
        }
        assert!(sampler.seen.lock().unwrap().len() <= SAMPLER_CAPACITY);
    }
}
