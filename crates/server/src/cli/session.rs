//! `tessera session list|sign-out`: who is signed in, as the console's `/admin/sessions` shows
//! it, and signing one device out (the session ends and what it issued is revoked, as the
//! console's *Sign out* does). A session is named by the first characters of its id (the hash
//! of its cookie; never the cookie itself).

use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;
use serde_json::json;
use tessera_admin::ops::users;
use tessera_core::{
    AuditKind, Clock,
    store::{BrowserSessionRecord, GrantAdminRepo, SessionKind, SessionRepo, TimeCursor},
};

use super::shared::{audit, open_store, print_json};
use crate::config::Config;

/// The length of the id `list` shows.
const ID_CHARS: usize = 16;
/// The shortest id `sign-out` takes.
const MIN_ID_CHARS: usize = 12;
/// Sessions per store read.
const BATCH: u64 = 500;

/// `tessera session …`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List the sessions in force, most recently seen first (end-user sessions; --console for
    /// the admin console's).
    List {
        /// Only this user's (username or subject id).
        #[arg(long)]
        user: Option<String>,
        /// The admin console's sessions instead.
        #[arg(long)]
        console: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign one device out: its session ends and the grants issued in it are revoked (apps
    /// allowed to stay signed in keep their refresh tokens).
    SignOut {
        /// The session's id as `session list` shows it (at least 12 characters).
        id: String,
    },
}

/// Runs `tessera session …`.
pub async fn session(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: SessionCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        SessionCommand::List {
            user,
            console,
            json,
        } => {
            let kind = if console {
                SessionKind::Admin
            } else {
                SessionKind::User
            };
            let sessions = match user {
                Some(user) => {
                    let user = users::find(&store, &user).await?;
                    let mut found = store.list_user_sessions(&user.id, now).await?;
                    found.retain(|s| s.kind == kind);
                    found
                }
                None => all_sessions(&store, kind, now).await?,
            };
            list(&store, &sessions, json).await
        }
        SessionCommand::SignOut { id } => {
            if id.len() < MIN_ID_CHARS {
                bail!("give at least {MIN_ID_CHARS} characters of the id `session list` shows");
            }
            let mut matching = Vec::new();
            for kind in [SessionKind::User, SessionKind::Admin] {
                let sessions = all_sessions(&store, kind, now).await?;
                matching.extend(
                    sessions
                        .into_iter()
                        .filter(|s| s.id_hash.as_str().starts_with(&id)),
                );
            }
            let session = match matching.len() {
                0 => bail!("no session in force has an id starting {id}"),
                1 => matching.remove(0),
                n => bail!("the id matches {n} sessions; give more of it"),
            };
            store.end_session(&session.id_hash, now).await?;
            let reason = "signed out by an admin";
            store
                .revoke_session_grants(&session.id_hash, false, reason, now)
                .await?;
            let user = session.user_id.as_str();
            audit(&store, now, AuditKind::SessionRevoked, None, Some(user)).await;
            println!("signed out session {id} of user {user}; what it issued is revoked");
            Ok(())
        }
    }
}

/// Every session of `kind` in force, read in batches.
async fn all_sessions(
    store: &tessera_storage::SeaStore,
    kind: SessionKind,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<BrowserSessionRecord>> {
    let mut all: Vec<BrowserSessionRecord> = Vec::new();
    loop {
        let after = all.last().map(|s| TimeCursor {
            at: s.last_seen_at,
            id: s.id_hash.as_str().to_owned(),
        });
        let batch = store
            .list_sessions(kind, now, after.as_ref(), BATCH)
            .await?;
        let done = (batch.len() as u64) < BATCH;
        all.extend(batch);
        if done {
            return Ok(all);
        }
    }
}

async fn list(
    store: &tessera_storage::SeaStore,
    sessions: &[BrowserSessionRecord],
    json: bool,
) -> anyhow::Result<()> {
    let ids = sessions.iter().map(|s| s.user_id.as_str());
    let names = tessera_admin::usernames(store, ids).await?;
    let short = |s: &BrowserSessionRecord| {
        let hash = s.id_hash.as_str();
        hash.get(..ID_CHARS).unwrap_or(hash).to_owned()
    };
    if json {
        let rows: Vec<_> = sessions
            .iter()
            .map(|s| {
                json!({
                    "id": short(s), "sub": s.user_id, "username": names.get(s.user_id.as_str()),
                    "user_agent": s.user_agent, "ip": s.ip, "auth_time": s.auth_time,
                    "last_seen_at": s.last_seen_at, "amr": s.amr.values(),
                })
            })
            .collect();
        return print_json(&rows);
    }
    println!(
        "{:<16} {:<24} {:<16} {:<17} {:<17} DEVICE",
        "ID", "USER", "IP", "SIGNED IN (UTC)", "LAST SEEN (UTC)"
    );
    for s in sessions {
        println!(
            "{:<16} {:<24} {:<16} {:<17} {:<17} {}",
            short(s),
            names.get(s.user_id.as_str()).map_or("", String::as_str),
            s.ip.as_deref().unwrap_or(""),
            s.auth_time.format("%Y-%m-%d %H:%M"),
            s.last_seen_at.format("%Y-%m-%d %H:%M"),
            s.user_agent.as_deref().unwrap_or(""),
        );
    }
    Ok(())
}
