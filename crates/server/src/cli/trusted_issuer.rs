//! `tessera trusted-issuer …`: external issuers whose assertions the jwt-bearer grant accepts,
//! through the operations layer the console uses (`tessera_admin::ops::issuers`).

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_admin::ops::issuers;
use tessera_client_registry::trusted_issuer::TrustedIssuerInput;
use tessera_core::{
    AuditKind, Clock,
    store::{TrustedIssuerRecord, TrustedIssuerRepo},
};
use tessera_storage::SeaStore;

use super::shared::{audit, open_store, print_json};
use crate::config::Config;

/// `tessera trusted-issuer …`: external issuers whose assertions the jwt-bearer grant accepts.
#[derive(Debug, Subcommand)]
pub enum TrustedIssuerCommand {
    /// Trust an issuer.
    Add(Box<AddTrustedIssuer>),
    /// List trusted issuers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept an issuer's assertions again (by its `iss` or id).
    Enable {
        /// The issuer.
        issuer: String,
    },
    /// Refuse an issuer's assertions for now, keeping its settings (by its `iss` or id).
    Disable {
        /// The issuer.
        issuer: String,
    },
    /// Stop trusting an issuer (by its `iss` or id).
    Remove {
        /// The issuer.
        issuer: String,
    },
}

/// `tessera trusted-issuer add` options.
#[derive(Debug, Args)]
pub struct AddTrustedIssuer {
    /// The exact `iss` of its assertions.
    #[arg(long)]
    issuer: String,
    /// A file holding its JWK Set (JSON).
    #[arg(long, conflicts_with = "jwks_uri")]
    jwks_file: Option<PathBuf>,
    /// Its https jwks_uri.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// An algorithm it signs with (repeatable; default RS256, as in the console).
    #[arg(long = "alg")]
    algs: Vec<String>,
    /// A subject it may assert: a username or subject id, or `*` (repeatable).
    #[arg(long = "subject", required = true)]
    subjects: Vec<String>,
    /// A scope its tokens may carry (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A client that may present its assertions (repeatable).
    #[arg(long = "client", required = true)]
    clients: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `trusted-issuer` command.
pub async fn trusted_issuer(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: TrustedIssuerCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        TrustedIssuerCommand::Add(add) => {
            let jwks = add
                .jwks_file
                .as_ref()
                .map(|path| {
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))
                })
                .transpose()?;
            let input = TrustedIssuerInput {
                issuer: add.issuer,
                jwks,
                jwks_uri: add.jwks_uri,
                algs: add.algs,
                subjects: add.subjects,
                scopes: add.scopes,
                clients: add.clients,
            };
            let record = issuers::create(&store, &store, input, now).await?;
            audit(&store, now, AuditKind::TrustedIssuerCreated, None, None).await;
            if add.json {
                print_json(&json!({"id": record.id, "issuer": record.issuer}))?;
            } else {
                println!("trusted {} (id {})", record.issuer, record.id);
            }
        }
        TrustedIssuerCommand::List { json } => list(&store, json).await?,
        TrustedIssuerCommand::Enable { issuer } => {
            issuers::set_enabled(&store, &issuer, true, now).await?;
            audit(&store, now, AuditKind::TrustedIssuerEnabled, None, None).await;
            println!("enabled: {issuer}");
        }
        TrustedIssuerCommand::Disable { issuer } => {
            issuers::set_enabled(&store, &issuer, false, now).await?;
            audit(&store, now, AuditKind::TrustedIssuerDisabled, None, None).await;
            println!("disabled: {issuer}");
        }
        TrustedIssuerCommand::Remove { issuer } => {
            issuers::delete(&store, &issuer).await?;
            audit(&store, now, AuditKind::TrustedIssuerDeleted, None, None).await;
            println!("no longer trusted: {issuer}");
        }
    }
    Ok(())
}

async fn list(store: &SeaStore, json: bool) -> anyhow::Result<()> {
    let issuers = store.list_trusted_issuers().await?;
    let clients_of = |t: &TrustedIssuerRecord| -> Vec<String> {
        t.allowed_clients
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect()
    };
    if json {
        let rows: Vec<_> = issuers
            .iter()
            .map(|t| {
                json!({
                    "id": t.id, "issuer": t.issuer, "jwks_uri": t.jwks_uri,
                    "jwks_by_value": t.jwks.is_some(),
                    "algs": t.allowed_algs.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                    "subjects": t.allowed_subjects, "scopes": t.allowed_scopes,
                    "clients": clients_of(t), "enabled": t.enabled,
                })
            })
            .collect();
        return print_json(&rows);
    }
    if issuers.is_empty() {
        println!("no trusted issuers");
    }
    for t in &issuers {
        println!(
            "{}  {}  subjects: {}  clients: {}",
            t.issuer,
            if t.enabled { "enabled" } else { "disabled" },
            t.allowed_subjects.join(" "),
            clients_of(t).join(" ")
        );
    }
    Ok(())
}
