//! Telling every instance that a cached table changed.
//!
//! Instances keep short-lived copies of some rows (client records, see
//! `tessera_client_registry::cache`, and beside them the resource servers, see
//! `tessera_token_endpoint::resources`, both announced as `clients`; what made an access token
//! live, see `tessera_token_endpoint::live`; the signing keys). Every write to such a table through [`SeaStore`] — from a
//! server or from the CLI, which opens the database directly — bumps the table's row in
//! `change_versions`; on PostgreSQL the same statement sends `NOTIFY tessera_changes` with the
//! topic. [`spawn_change_watcher`] turns those into a callback: on PostgreSQL a dedicated
//! `LISTEN` connection wakes at once, on SQLite (one machine, no notifications) the version is
//! polled every [`POLL_INTERVAL`]. A notification lost while the listening connection was down is
//! covered by telling the callback "everything changed" on every reconnect, and by the caches'
//! own time-to-live.

use std::{sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use tessera_core::store::StoreError;

use crate::{SeaStore, backend};

/// The PostgreSQL channel.
pub const CHANNEL: &str = "tessera_changes";
/// How often SQLite's version counter is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The wait before listening again after the listening connection failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A table whose rows instances cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// `clients`.
    Clients,
    /// `signing_keys` (the database key store).
    Keys,
    /// What decides whether an access token is still live: grants (revoked), the access-token
    /// denylist and users (disabled, changed).
    Tokens,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 3] = [Topic::Clients, Topic::Keys, Topic::Tokens];

    /// Its name in `change_versions` and in notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Clients => "clients",
            Topic::Keys => "keys",
            Topic::Tokens => "tokens",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|topic| topic.as_str() == name)
    }
}

/// Bumps `topic`'s version — only if it is still `expected`, when given — and, on PostgreSQL,
/// notifies the listeners in the same statement (delivered when `db`'s transaction commits).
/// Whether the version was bumped.
pub(crate) async fn bump<C: ConnectionTrait>(
    db: &C,
    topic: Topic,
    expected: Option<i64>,
) -> Result<bool, sea_orm::DbErr> {
    let backend_kind = db.get_database_backend();
    let sql = match (backend_kind, expected.is_some()) {
        (DatabaseBackend::Postgres, guarded) => format!(
            "WITH bumped AS (UPDATE change_versions SET version = version + 1 \
             WHERE topic = $1{} RETURNING topic) \
             SELECT pg_notify('{CHANNEL}', topic) FROM bumped",
            if guarded { " AND version = $2" } else { "" }
        ),
        (_, guarded) => format!(
            "UPDATE change_versions SET version = version + 1 WHERE topic = ?{} \
             RETURNING topic",
            if guarded { " AND version = ?" } else { "" }
        ),
    };
    let mut values = vec![topic.as_str().into()];
    values.extend(expected.map(Into::into));
    let statement = Statement::from_sql_and_values(backend_kind, sql, values);
    Ok(!db.query_all_raw(statement).await?.is_empty())
}

impl SeaStore {
    /// Announces that `topic` changed (see [`bump`]). A failure is logged, not returned: the
    /// write it follows has happened, and caches catch up within their TTL.
    pub(crate) async fn announce(&self, topic: Topic) {
        if let Err(err) = bump(self.connection(), topic, None).await {
            tracing::warn!(error = %err, topic = topic.as_str(), "could not announce a change");
        }
        self.changed_here(topic);
    }

    /// How often `topic` has changed.
    pub async fn change_version(&self, topic: Topic) -> Result<i64, StoreError> {
        use sea_orm::EntityTrait;
        Ok(
            crate::entity::change_version::Entity::find_by_id(topic.as_str().to_owned())
                .one(self.connection())
                .await
                .map_err(backend)?
                .map_or(0, |row| row.version),
        )
    }
}

/// Calls `on_change` with each topic that another writer (this instance included) changed,
/// for as long as the runtime runs.
pub fn spawn_change_watcher(
    store: Arc<SeaStore>,
    on_change: Arc<dyn Fn(Topic) + Send + Sync>,
) -> tokio::task::JoinHandle<()> {
    match store.connection().get_database_backend() {
        DatabaseBackend::Postgres => tokio::spawn(listen(store, on_change)),
        _ => tokio::spawn(poll(store, on_change)),
    }
}

fn everything(on_change: &(dyn Fn(Topic) + Send + Sync)) {
    for topic in Topic::ALL {
        on_change(topic);
    }
}

async fn listen(store: Arc<SeaStore>, on_change: Arc<dyn Fn(Topic) + Send + Sync>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let pool = store.connection().get_postgres_connection_pool();
        let mut listener = match PgListener::connect_with(pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for changes; retrying");
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %err, "cannot listen for changes; retrying");
            tokio::time::sleep(RETRY_AFTER).await;
            continue;
        }
        // Whatever changed while nobody listened.
        everything(&*on_change);
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match Topic::parse(notification.payload()) {
                    Some(topic) => on_change(topic),
                    None => everything(&*on_change),
                },
                // The connection was lost; the next call reconnects. Notifications sent
                // meanwhile are gone.
                Ok(None) => {
                    tracing::warn!("the change listener lost its connection; reconnecting");
                    everything(&*on_change);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the change listener failed; starting over");
                    everything(&*on_change);
                    tokio::time::sleep(RETRY_AFTER).await;
                    break;
                }
            }
        }
    }
}

async fn poll(store: Arc<SeaStore>, on_change: Arc<dyn Fn(Topic) + Send + Sync>) {
    let mut seen: Vec<Option<i64>> = vec![None; Topic::ALL.len()];
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        for (topic, seen) in Topic::ALL.into_iter().zip(seen.iter_mut()) {
            match store.change_version(topic).await {
                Ok(version) => {
                    if seen.is_some_and(|before| before != version) {
                        on_change(topic);
                    }
                    *seen = Some(version);
                }
                Err(err) => {
                    tracing::debug!(error = %err, "cannot read the change version");
                }
            }
        }
    }
}
