//! `tessera resource-server …`: the APIs tokens can be narrowed to (RFC 8707), through the
//! operations layer the console uses (`tessera_admin::ops::resources`).

use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;
use tessera_admin::ops::resources::{self as ops, ResourceInput, ResourceStores};
use tessera_core::{AuditKind, Clock, store::ResourceServerRepo};

use super::shared::{audit, open_store, print_json};
use crate::config::Config;

/// `tessera resource-server …`
#[derive(Debug, Subcommand)]
pub enum ResourceServerCommand {
    /// Register an API (or change one): tokens asked for with `resource=IDENTIFIER` are for it
    /// alone.
    Add {
        /// Its identifier: an https URI, the `aud` of its tokens.
        identifier: String,
        /// A name for people.
        #[arg(long)]
        name: String,
        /// The registered scopes it owns, space-separated (none: its tokens keep every granted
        /// scope).
        #[arg(long, default_value = "")]
        scopes: String,
        /// The confidential client it authenticates as at /introspect (which then hears only
        /// about its tokens).
        #[arg(long)]
        introspect_as: Option<String>,
    },
    /// List the registered resource servers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove one: its tokens stop being active.
    Remove {
        /// Its identifier.
        identifier: String,
    },
}

/// `tessera resource-server …`.
pub async fn resource_server(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: ResourceServerCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        ResourceServerCommand::Add {
            identifier,
            name,
            scopes,
            introspect_as,
        } => {
            let stores = ResourceStores {
                resources: &store,
                scopes: &store,
                clients: &store,
            };
            let input = ResourceInput {
                identifier: &identifier,
                name: &name,
                scopes: &scopes,
                client_id: introspect_as.as_deref(),
            };
            let saved = ops::save(stores, &input, now).await?;
            audit(&store, now, AuditKind::ResourceServerSaved, None, None).await;
            println!("saved resource server {}", saved.identifier);
        }
        ResourceServerCommand::List { json } => {
            let resources = store.list_resource_servers().await?;
            if json {
                let rows: Vec<_> = resources
                    .iter()
                    .map(|r| {
                        json!({"identifier": r.identifier, "name": r.name, "scopes": r.scopes,
                               "introspect_as": r.client_id.as_ref().map(|c| c.as_str())})
                    })
                    .collect();
                print_json(&rows)?;
            } else {
                for r in &resources {
                    let client = r.client_id.as_ref().map_or("-", |c| c.as_str());
                    println!(
                        "{:<40} {:<24} {:<32} {}",
                        r.identifier,
                        r.name,
                        r.scopes.join(" "),
                        client
                    );
                }
            }
        }
        ResourceServerCommand::Remove { identifier } => {
            ops::delete(&store, &identifier).await?;
            audit(&store, now, AuditKind::ResourceServerDeleted, None, None).await;
            println!("removed resource server {identifier}");
        }
    }
    Ok(())
}
