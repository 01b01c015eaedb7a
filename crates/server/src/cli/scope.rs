//! `tessera scope …`: the scope registry, through the operations layer the console uses
//! (`tessera_admin::ops::scopes`).

use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;
use tessera_admin::ops::scopes;
use tessera_core::{AuditKind, Clock, store::ScopeRepo};

use tessera_storage::SeaStore;

use super::shared::{audit, open_store, print_json};
use crate::config::Config;

/// `tessera scope …`
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Add a scope to the registry (or change its description and flag).
    Add {
        /// The scope token, e.g. api.read.
        name: String,
        /// What the consent page says it lets an app do.
        #[arg(long, default_value = "")]
        description: String,
        /// A client may get it for itself (client_credentials, self-issued JWT bearer).
        #[arg(long)]
        client_credentials: bool,
    },
    /// List the registry.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a scope from the registry (clients that have it keep it).
    Remove {
        /// The scope token.
        name: String,
    },
}

/// `tessera scope …`.
pub async fn scope(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: ScopeCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        ScopeCommand::Add {
            name,
            description,
            client_credentials,
        } => {
            let saved = scopes::save(&store, &name, &description, client_credentials, now).await?;
            audit(&store, now, AuditKind::ScopeSaved, None, None).await;
            println!("saved scope {}", saved.name);
        }
        ScopeCommand::List { json } => list(&store, json).await?,
        ScopeCommand::Remove { name } => {
            scopes::delete(&store, &name).await?;
            audit(&store, now, AuditKind::ScopeDeleted, None, None).await;
            println!("removed scope {name}");
        }
    }
    Ok(())
}

async fn list(store: &SeaStore, json: bool) -> anyhow::Result<()> {
    let scopes = store.list_scopes().await?;
    if json {
        let rows: Vec<_> = scopes
            .iter()
            .map(|s| {
                json!({"name": s.name, "description": s.description,
                       "client_credentials": s.client_credentials})
            })
            .collect();
        print_json(&rows)?;
    } else {
        for s in &scopes {
            let own = if s.client_credentials {
                "for the client itself"
            } else {
                "users only"
            };
            println!("{:<24} {:<22} {}", s.name, own, s.description);
        }
    }
    Ok(())
}
