//! `tessera keys …`: list, rotate and copy the signing keys of the key store (the console
//! rotates the running ring; both go through `tessera_keys`).

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use tessera_core::{Clock, SigningAlg};
use tessera_keys::{DatabaseKeyStore, KeyFolder, KeyStore, copy_keys};

use super::shared::open_store;
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
    let dir = store.describe();
    match command {
        KeysCommand::List { json } => {
            let manifest = store
                .manifest()
                .await
                .with_context(|| format!("cannot read {dir}"))?;
            let now = clock.now();
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
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else if manifest.keys.is_empty() {
                println!("no keys in {dir} (they are created on first `tessera serve`)");
            } else {
                println!(
                    "{:<44} {:<6} {:<8} {:<33} RETIRES",
                    "KID", "ALG", "STATE", "ACTIVATES"
                );
                for k in &manifest.keys {
                    println!(
                        "{:<44} {:<6} {:<8} {:<33} {}",
                        k.kid,
                        k.alg,
                        k.state(now).as_str(),
                        k.activates_at.to_rfc3339(),
                        k.retires_at
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_else(|| "-".into())
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Rotate {
            alg,
            activate_in,
            json,
        } => {
            if activate_in.is_some_and(|secs| secs > 30 * 24 * 3600) {
                anyhow::bail!("--activate-in is at most 30 days (2592000 seconds)");
            }
            let policy = config.rotation_policy(activate_in.map(std::time::Duration::from_secs));
            let now = clock.now();
            store
                .ensure_keys(now)
                .await
                .with_context(|| format!("cannot open {dir}"))?;
            let algs = alg.map_or(SigningAlg::ALL.to_vec(), |a| vec![a]);
            let mut created = Vec::new();
            for alg in algs {
                let entry = store
                    .rotate(alg, now, policy)
                    .await
                    .with_context(|| format!("cannot rotate the {alg} key in {dir}"))?;
                created.push(entry);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&json!(created.iter().map(|e| json!({"kid": e.kid, "alg": e.alg, "activates_at": e.activates_at})).collect::<Vec<_>>()))?);
            } else {
                for entry in &created {
                    println!(
                        "new {} key {} signs from {}",
                        entry.alg,
                        entry.kid,
                        entry.activates_at.to_rfc3339()
                    );
                }
                println!(
                    "running instances pick the change up within seconds; the previous keys stay published until their tokens expire"
                );
            }
            Ok(())
        }
        KeysCommand::Copy { to } => {
            let folder = KeyFolder::new(&config.keys_dir, config.keys_passphrase.clone());
            let database = DatabaseKeyStore::new(
                database.context("the database key store needs a database connection")?,
                config.keys_passphrase.clone(),
            )
            .context("the database key store")?;
            let (from, into): (&dyn KeyStore, &dyn KeyStore) = match to {
                KeyStoreKind::Database => (&folder, &database),
                KeyStoreKind::Folder => (&database, &folder),
            };
            let copied = copy_keys(from, into).await.with_context(|| {
                format!(
                    "cannot copy the keys of {} to {}",
                    from.describe(),
                    into.describe()
                )
            })?;
            println!(
                "copied {} key(s) from {} to {}; {} is unchanged",
                copied.len(),
                from.describe(),
                into.describe(),
                from.describe()
            );
            if to != config.keys_store {
                println!(
                    "instances use them once started with TESSERA_KEYS_STORE={}",
                    to.as_str()
                );
            }
            Ok(())
        }
    }
}
