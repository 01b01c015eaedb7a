//! What the management commands share: the store (migrated first), the audit event with actor
//! `cli`, JSON output.

use chrono::{DateTime, Utc};
use serde_json::json;
use tessera_core::{
    AuditKind,
    store::{AuditEvent, AuditRepo},
};
use tessera_storage::SeaStore;

use crate::config::Config;

/// The configured database, migrated.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<SeaStore> {
    tessera_storage::migrate(&config.database_url).await?;
    Ok(SeaStore::new(
        tessera_storage::connect(&config.database_url).await?,
    ))
}

/// Records what a command did (actor `cli`); a failure to record is logged, not fatal.
pub(crate) async fn audit(
    store: &SeaStore,
    now: DateTime<Utc>,
    kind: AuditKind,
    client_id: Option<&str>,
    user_id: Option<&str>,
) {
    record(store, now, kind, (client_id, user_id), json!({})).await;
}

/// [`audit`] of an event about a user, with details (e.g. the name of a user deleted).
pub(crate) async fn audit_with(
    store: &SeaStore,
    now: DateTime<Utc>,
    kind: AuditKind,
    user_id: Option<&str>,
    details: serde_json::Value,
) {
    record(store, now, kind, (None, user_id), details).await;
}

async fn record(
    store: &SeaStore,
    now: DateTime<Utc>,
    kind: AuditKind,
    (client_id, user_id): (Option<&str>, Option<&str>),
    details: serde_json::Value,
) {
    let event = AuditEvent {
        occurred_at: now,
        kind: kind.as_str().to_owned(),
        actor: Some("cli".into()),
        client_id: client_id.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
        ip: None,
        user_agent: None,
        details,
    };
    if let Err(err) = store.record_event(&event).await {
        tracing::error!(error = %err, "audit event lost");
    }
}

/// Prints `value` as pretty JSON.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
