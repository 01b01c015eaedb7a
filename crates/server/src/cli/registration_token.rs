//! `tessera registration-token …`: initial access tokens for RFC 7591 registration, through the
//! operations layer the console uses (`tessera_admin::ops::registration_tokens`).

use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;
use serde_json::json;
use tessera_admin::ops::registration_tokens;
use tessera_core::{AuditKind, Clock, store::InitialAccessTokenRepo};

use chrono::{DateTime, Utc};
use tessera_storage::SeaStore;

use super::shared::{audit, open_store, print_json};
use crate::config::Config;

/// `tessera registration-token …`
#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Create an initial access token for RFC 7591 registration; printed once.
    Create {
        /// How many registrations it allows (default: unlimited until it expires).
        #[arg(long)]
        uses: Option<u32>,
        /// Seconds until it expires (default: never).
        #[arg(long)]
        expires: Option<u64>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List initial access tokens (by id: the start of their hash).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an initial access token, given its id from `list` or the token itself.
    Revoke {
        /// Id (at least 12 characters of the hash) or token.
        token: String,
    },
}

/// Runs `tessera registration-token …`.
pub async fn registration_token(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: RegistrationTokenCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        RegistrationTokenCommand::Create {
            uses,
            expires,
            description,
            json,
        } => {
            let new = registration_tokens::NewToken {
                uses: uses.map(i64::from),
                expires_in: expires.map(|secs| i64::try_from(secs).unwrap_or(i64::MAX)),
                description,
                created_by: "cli".into(),
            };
            let (token, record) = registration_tokens::create(&store, new, now).await?;
            let (uses, expires_at) = (record.uses_remaining, record.expires_at);
            audit(&store, now, AuditKind::RegistrationTokenCreated, None, None).await;
            let endpoint = config
                .issuer
                .endpoint(tessera_client_registry::REGISTRATION_PATH);
            if json {
                print_json(&json!({
                    "initial_access_token": token.expose(), "id": registration_tokens::id_of(&record.token_hash),
                    "uses": uses, "expires_at": expires_at, "registration_endpoint": endpoint,
                }))?;
            } else {
                println!("{}", token.expose());
                eprintln!(
                    "register with: POST {endpoint} and Authorization: Bearer <the token above>"
                );
            }
        }
        RegistrationTokenCommand::List { json } => list(&store, now, json).await?,
        RegistrationTokenCommand::Revoke { token } => {
            if !registration_tokens::revoke(&store, &token, now).await? {
                bail!("no active initial access token matches");
            }
            audit(&store, now, AuditKind::RegistrationTokenRevoked, None, None).await;
            println!("revoked");
        }
    }
    Ok(())
}

async fn list(store: &SeaStore, now: DateTime<Utc>, json: bool) -> anyhow::Result<()> {
    let tokens = store.list_initial_access_tokens().await?;
    let rows: Vec<_> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": registration_tokens::id_of(&t.token_hash), "description": t.description,
                "uses_remaining": t.uses_remaining, "expires_at": t.expires_at,
                "created_at": t.created_at, "revoked_at": t.revoked_at,
            })
        })
        .collect();
    if json {
        print_json(&rows)?;
    } else {
        println!(
            "{:<16}  {:<8} {:<9}  {:<20} DESCRIPTION",
            "ID", "STATE", "USES LEFT", "EXPIRES (UTC)"
        );
        for t in &tokens {
            let state = t.state(now);
            println!(
                "{:<16}  {:<8} {:<9}  {:<20} {}",
                registration_tokens::id_of(&t.token_hash),
                state,
                t.uses_remaining
                    .map_or("unlimited".into(), |u| u.to_string()),
                t.expires_at
                    .map_or("never".into(), |e| e.format("%Y-%m-%d %H:%M").to_string()),
                t.description.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}
