//! [`SeaStore`]: the repository traits of `tessera_core::store` over one sea-orm connection pool.

/// The head of a refresh token's insert, for the one-statement writes on PostgreSQL (rotation,
/// code redemption); the values follow as `SELECT`s of [`refresh_token::values`]'s nine.
macro_rules! refresh_token_insert {
    () => {
        "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, generation, \
         created_at, expires_at, consumed_at, parent_hash, retried_at, branched)"
    };
}

mod assertion;
mod audit;
mod authorization_request;
mod client;
mod code;
mod consent;
mod denylist;
mod device_authorization;
mod email_link;
mod grant;
mod initial_access_token;
mod known_device;
mod passkey;
mod refresh_token;
mod resource_server;
mod scope;
mod second_factor;
mod session;
mod signing_key;
mod sweep;
mod throttle;
mod trusted_issuer;
mod user;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PrimaryKeyTrait, QueryFilter,
    Statement, sea_query::Expr,
};
use tessera_core::store::{Consumption, HealthRepo, StoreError};

use std::sync::{Arc, OnceLock};

use crate::{backend, changes::Topic};

/// A stored algorithm name; [`StoreError::Corrupt`] names `what` when it is not one we sign with.
pub(crate) fn parse_alg(
    value: &str,
    what: &'static str,
) -> Result<tessera_core::SigningAlg, StoreError> {
    value.parse().map_err(
        |err: tessera_core::alg::UnsupportedAlg| StoreError::Corrupt {
            what,
            detail: err.to_string(),
        },
    )
}

/// Told of every change this store announces, as it announces it.
pub type ChangeListener = Arc<dyn Fn(Topic) + Send + Sync>;

/// Every repository, backed by one connection pool. Cheap to clone (clones share the
/// listener).
#[derive(Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    listener: Arc<OnceLock<ChangeListener>>,
}

impl std::fmt::Debug for SeaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaStore")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl SeaStore {
    /// Wraps a connection pool (see [`crate::connect`]); the schema must be migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            listener: Arc::new(OnceLock::new()),
        }
    }

    /// Calls `listener` with the topic of every change written through this store, right after
    /// it is announced to the other instances — so this instance's own memories apply a change
    /// at once rather than when the announcement comes back. Set once; later calls are ignored.
    pub fn on_change(&self, listener: ChangeListener) {
        let _ = self.listener.set(listener);
    }

    pub(crate) fn changed_here(&self, topic: Topic) {
        if let Some(listener) = self.listener.get() {
            listener(topic);
        }
    }

    /// The underlying pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

#[async_trait]
impl HealthRepo for SeaStore {
    async fn ping(&self) -> Result<(), StoreError> {
        // A real read of a table every request needs, not `SELECT 1`: a database that answers
        // but whose tables are locked or stalled is not ready.
        let backend_kind = self.db.get_database_backend();
        self.db
            .query_one_raw(Statement::from_string(
                backend_kind,
                "SELECT client_id FROM clients LIMIT 1",
            ))
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// The consume-once primitive: one `UPDATE … SET consumed_at = now WHERE key = ? AND consumed_at
/// IS NULL AND expires_at > now`. The database applies it to the row atomically (PostgreSQL
/// re-checks the predicate after waiting for a concurrent writer's row lock; SQLite serialises
/// writers), so exactly one caller gets the row back (`RETURNING`), on any number of instances.
/// Only the losers read the row, to tell a replay (already consumed) from an expiry or an
/// unknown key.
async fn consume_once<E, R, C>(
    db: &C,
    columns: [E::Column; 3],
    value: &str,
    now: DateTime<Utc>,
    consumed: fn(&E::Model) -> bool,
    to_record: fn(E::Model) -> Result<R, StoreError>,
) -> Result<Consumption<R>, StoreError>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<String>,
    C: ConnectionTrait,
{
    let [key, consumed_at, expires_at] = columns;
    // One statement on the common path: the row this call consumed comes back with the UPDATE
    // (RETURNING, on PostgreSQL and SQLite ≥ 3.35 alike).
    let won = E::update_many()
        .col_expr(consumed_at, Expr::value(now))
        .filter(key.eq(value))
        .filter(consumed_at.is_null())
        .filter(expires_at.gt(now))
        .exec_with_returning(db)
        .await
        .map_err(backend)?
        .into_iter()
        .next();
    consumption::<E, R, C>(db, won, value, consumed, to_record).await
}

/// A consume-once write as one raw PostgreSQL statement (ADR 0017) that returns the consumed row
/// of `E`, if this statement consumed it; write errors name `what`.
async fn consume_with_statement<E, R>(
    db: &DatabaseConnection,
    sql: &str,
    params: Vec<sea_orm::Value>,
    what: &'static str,
    value: &str,
    consumed: fn(&E::Model) -> bool,
    to_record: fn(E::Model) -> Result<R, StoreError>,
) -> Result<Consumption<R>, StoreError>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<String>,
{
    let won = E::find()
        .from_raw_sql(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            sql,
            params,
        ))
        .one(db)
        .await
        .map_err(crate::write_err(what))?;
    consumption::<E, R, DatabaseConnection>(db, won, value, consumed, to_record).await
}

/// What a consume-once statement's answer means: the row it returned was consumed by this call;
/// without one, the row read again tells a replay (already consumed) from an expiry or an
/// unknown key.
async fn consumption<E, R, C>(
    db: &C,
    won: Option<E::Model>,
    value: &str,
    consumed: fn(&E::Model) -> bool,
    to_record: fn(E::Model) -> Result<R, StoreError>,
) -> Result<Consumption<R>, StoreError>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<String>,
    C: ConnectionTrait,
{
    if let Some(row) = won {
        return Ok(Consumption::Consumed(to_record(row)?));
    }
    let Some(row) = E::find_by_id(value.to_owned())
        .one(db)
        .await
        .map_err(backend)?
    else {
        return Ok(Consumption::NotFound);
    };
    Ok(if consumed(&row) {
        Consumption::AlreadyConsumed(to_record(row)?)
    } else {
        Consumption::Expired
    })
}

/// The rows after `cursor` in a list ordered newest first by `(time, id)` (both descending):
/// older, or as old with a smaller id — the keyset every paged list in time order uses.
fn older_than(
    time: impl ColumnTrait,
    id: impl ColumnTrait,
    cursor: &tessera_core::store::TimeCursor,
) -> sea_orm::Condition {
    sea_orm::Condition::any().add(time.lt(cursor.at)).add(
        sea_orm::Condition::all()
            .add(time.eq(cursor.at))
            .add(id.lt(cursor.id.as_str())),
    )
}

/// The result of an update of one row by its key: [`StoreError::NotFound`] when there was none.
fn updated_one(result: sea_orm::UpdateResult, what: &'static str) -> Result<(), StoreError> {
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound { what });
    }
    Ok(())
}

fn strings_to_json(values: &[String]) -> serde_json::Value {
    serde_json::Value::from(values.to_vec())
}

fn json_to_strings(
    value: serde_json::Value,
    what: &'static str,
) -> Result<Vec<String>, StoreError> {
    serde_json::from_value(value).map_err(|err| StoreError::Corrupt {
        what,
        detail: err.to_string(),
    })
}
