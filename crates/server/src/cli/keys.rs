//! `tessera keys …`: list, rotate and copy the signing keys of the key store (the console
//! rotates the running ring; both go through `tessera_keys`).

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use tessera_core::{Clock, SigningAlg};
use tessera_keys::{DatabaseKeyStore, KeyFolder, KeyStore, copy_keys};

use chrono::{DateTime, Utc};
use tessera_storage::SeaStore;

use super::shared::{open_store, print_json};
use crate::{
    app,
    config::{Config, KeyStoreKind},
};

/// `tessera keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the keys of the key store with their state.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a new key that signs after the activation delay; the current key retires then and
    /// stays published until the tokens it signed have expired.
    Rotate {
        /// Only this algorithm (default: both).
        #[arg(long)]
        alg: Option<SigningAlg>,
        /// Seconds until the new key signs (default: TESSERA_KEY_ACTIVATION_DELAY).
        #[arg(long)]
        activate_in: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy every key, with its schedule, from the key folder into the database key store
    /// (`--to database`) or back (`--to folder`). The source is left as it was; the target ends
    /// up holding exactly the source's keys (refused if it holds a key the source lacks).
    /// Needs TESSERA_KEYS_PASSPHRASE: keys in the database are always encrypted.
    Copy {
        /// Where the keys go.
        #[arg(long, value_parser = parse_key_store)]
        to: KeyStoreKind,
    },
}

fn parse_key_store(value: &str) -> Result<KeyStoreKind, String> {
    match value {
        "folder" => Ok(KeyStoreKind::Folder),
        "database" => Ok(KeyStoreKind::Database),
        other => Err(format!("`{other}` is not folder or database")),
    }
}

pub(crate) async fn keys(
    config: &Config,
    command: KeysCommand,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let database = match (&command, config.keys_store) {
        (KeysCommand::Copy { .. }, _) | (_, KeyStoreKind::Database) => {
            Some(Arc::new(open_store(config).await?))
        }
        (_, KeyStoreKind::Folder) => None,
    };
    let store = app::key_store(config, database.as_ref())?;
    let now = clock.now();
    match command {
        KeysCommand::List { json } => list(store.as_ref(), now, json).await,
        KeysCommand::Rotate {
            alg,
            activate_in,
            json,
        } => {
            if activate_in.is_some_and(|secs| secs > 30 * 24 * 3600) {
                anyhow::bail!("--activate-in is at most 30 days (2592000 seconds)");
            }
            let policy = config.rotation_policy(activate_in.map(std::time::Duration::from_secs));
            rotate(store.as_ref(), alg, policy, now, json).await
        }
        KeysCommand::Copy { to } => {
            let database =
                database.context("the database key store needs a database connection")?;
            copy(config, database, to).await
        }
    }
}

async fn list(store: &dyn KeyStore, now: DateTime<Utc>, json: bool) -> anyhow::Result<()> {
    let dir = store.describe();
    let manifest = store
        .manifest()
        .await
        .with_context(|| format!("cannot read {dir}"))?;
    if json {
        let keys: Vec<_> = manifest
            .keys
            .iter()
            .map(|k| {
                json!({
                    "kid": k.kid, "alg": k.alg, "state": k.state(now).as_str(),
                    "created": k.created, "activates_at": k.activates_at,
                    "retires_at": k.retires_at, "unpublish_at": k.unpublish_at,
                })
            })
            .collect();
        return print_json(&keys);
    }
    if manifest.keys.is_empty() {
        println!("no keys in {dir} (they are created on first `tessera serve`)");
        return Ok(());
    }
    println!(
        "{:<44} {:<6} {:<8} {:<33} RETIRES",
        "KID", "ALG", "STATE", "ACTIVATES"
    );
    for k in &manifest.keys {
        let retires = k.retires_at.map_or_else(|| "-".into(), |t| t.to_rfc3339());
        let activates = k.activates_at.to_rfc3339();
        let state = k.state(now).as_str();
        println!(
            "{:<44} {:<6} {state:<8} {activates:<33} {retires}",
            k.kid, k.alg
        );
    }
    Ok(())
}

async fn rotate(
    store: &dyn KeyStore,
    alg: Option<SigningAlg>,
    policy: tessera_keys::RotationPolicy,
    now: DateTime<Utc>,
    json: bool,
) -> anyhow::Result<()> {
    let dir = store.describe();
    store
        .ensure_keys(now)
        .await
        .with_context(|| format!("cannot open {dir}"))?;
    let mut created = Vec::new();
    for alg in alg.map_or(SigningAlg::ALL.to_vec(), |a| vec![a]) {
        let entry = store
            .rotate(alg, now, policy)
            .await
            .with_context(|| format!("cannot rotate the {alg} key in {dir}"))?;
        created.push(entry);
    }
    if json {
        let rows: Vec<_> = created
            .iter()
            .map(|e| json!({"kid": e.kid, "alg": e.alg, "activates_at": e.activates_at}))
            .collect();
        return print_json(&rows);
    }
    for entry in &created {
        let from = entry.activates_at.to_rfc3339();
        println!("new {} key {} signs from {from}", entry.alg, entry.kid);
    }
    println!(
        "running instances pick the change up within seconds; the previous keys stay published until their tokens expire"
    );
    Ok(())
}

async fn copy(config: &Config, database: Arc<SeaStore>, to: KeyStoreKind) -> anyhow::Result<()> {
    let folder = KeyFolder::new(&config.keys_dir, config.keys_passphrase.clone());
    let database = DatabaseKeyStore::new(database, config.keys_passphrase.clone())
        .context("the database key store")?;
    let (from, into): (&dyn KeyStore, &dyn KeyStore) = match to {
        KeyStoreKind::Database => (&folder, &database),
        KeyStoreKind::Folder => (&database, &folder),
    };
    let (source, target) = (from.describe(), into.describe());
    let copied = copy_keys(from, into)
        .await
        .with_context(|| format!("cannot copy the keys of {source} to {target}"))?;
    let count = copied.len();
    println!("copied {count} key(s) from {source} to {target}; {source} is unchanged");
    if to != config.keys_store {
        println!(
            "instances use them once started with TESSERA_KEYS_STORE={}",
            to.as_str()
        );
    }
    Ok(())
}
