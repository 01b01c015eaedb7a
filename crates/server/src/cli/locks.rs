//! `tessera sign-in-locks …`: the sign-in throttle's counters, through the operations layer
//! the console uses (`tessera_admin::ops::locks`).

use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;
use serde_json::json;
use tessera_admin::ops::locks;
use tessera_core::{AuditKind, Clock};

use chrono::{DateTime, Utc};
use tessera_storage::SeaStore;

use super::shared::{audit, open_store, print_json};
use crate::config::Config;

/// `tessera sign-in-locks …`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// List the sign-in throttle counters whose window has not ended (refused ones first).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Clear counters: one by its id from `list` (at least 12 characters), or all of them.
    Clear {
        /// Id from `list`.
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Clear every counter.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

/// `tessera sign-in-locks …`.
pub async fn sign_in_locks(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: LockCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        LockCommand::List { json } => list(&store, now, json).await?,
        LockCommand::Clear { id, all } => {
            let which = match (&id, all) {
                (_, true) => locks::Which::All,
                (Some(id), false) => locks::Which::Id(id),
                (None, false) => bail!("give an id from `list`, or --all"),
            };
            let cleared = locks::clear(&store, which, now).await?;
            audit(&store, now, AuditKind::LoginLockCleared, None, None).await;
            println!("cleared {cleared} counter(s)");
        }
    }
    Ok(())
}

async fn list(store: &SeaStore, now: DateTime<Utc>, json: bool) -> anyhow::Result<()> {
    let counters = locks::list(store, now).await?;
    if json {
        let rows: Vec<_> = counters
            .iter()
            .map(|c| {
                json!({
                    "id": locks::id_of(c), "kind": c.kind, "label": c.label,
                    "attempts": c.failures,
                    "refused_until": c.blocked_until.filter(|u| *u > now),
                    "window_ends_at": c.window_ends_at,
                })
            })
            .collect();
        print_json(&rows)?;
    } else if counters.is_empty() {
        println!("no sign-in attempts are being counted");
    } else {
        for c in &counters {
            let refused = c
                .blocked_until
                .filter(|u| *u > now)
                .map_or_else(|| "-".to_owned(), |u| u.to_rfc3339());
            println!(
                "{}  {:<15} attempts: {:<5} refused until: {:<25} {}",
                locks::id_of(c),
                c.kind,
                c.failures,
                refused,
                c.label
            );
        }
    }
    Ok(())
}
