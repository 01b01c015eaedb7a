//! tessera-storage: the sea-orm implementation of `tessera_core::store`, for SQLite (the embedded
//! default) and PostgreSQL (production) from one schema.
//!
//! [`connect`] opens a pool with the settings each backend needs (SQLite: one connection, WAL,
//! `synchronous=FULL`, foreign keys on, a busy timeout; PostgreSQL: a pool of
//! [`PoolSettings::pool_size`] and a `statement_timeout`; both: a connection is pinged before
//! it is handed out only after 500 ms idle); [`migrate`] applies pending migrations so that
//! several instances starting at once on one PostgreSQL apply each migration exactly once;
//! [`SeaStore`] implements every repository trait.

pub mod changes;
pub mod entity;
mod repo;
pub mod testing;

use std::{path::Path, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, SqlErr,
    TransactionTrait,
    sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};
use tessera_core::store::StoreError;
use tessera_migration::Migrator;
use tessera_migration::MigratorTrait;

pub use repo::SeaStore;

/// Failures opening or migrating the database; each names what went wrong for an operator.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL names no backend Tessera supports.
    #[error("unsupported database URL scheme in `{0}` (expected sqlite:// or postgres://)")]
    UnsupportedScheme(String),
    /// The folder for an SQLite file could not be created.
    #[error("cannot create the folder {path} for the SQLite database: {cause}")]
    CreateDir {
        /// The folder.
        path: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The database could not be reached.
    #[error("cannot connect to the database at {url}: {cause}")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// Why.
        cause: DbErr,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(DbErr),
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (or in-memory database).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a URL names.
    pub fn of(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StorageError::UnsupportedScheme(redact_url(url)))
        }
    }
}

/// How long a statement waits for an SQLite write lock, and a request for a pooled connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting to an unreachable server may take before start-up gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled connection idle this long is pinged before it is handed out (one round trip), so
/// one the server or a proxy dropped meanwhile is replaced rather than failing a request; a
/// connection in use moments ago is handed out as it is (a ping on every checkout cost two
/// round trips per refresh rotation).
const IDLE_BEFORE_PING: Duration = Duration::from_millis(500);

/// Connections in a pool at most, unless configured (sqlx's own default).
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// The pool: how many connections, and how long a request may wait for the database — for a
/// pooled connection, and (PostgreSQL) for one statement, so a stalled database turns into a
/// 503 rather than requests that hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Waiting for a connection from the pool.
    pub acquire: Duration,
    /// One statement (PostgreSQL `statement_timeout`; SQLite waits `acquire` for a write lock).
    pub statement: Duration,
    /// Connections in the pool at most (PostgreSQL; an SQLite file gets one).
    pub pool_size: u32,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            acquire: BUSY_TIMEOUT,
            statement: BUSY_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

/// Opens a connection pool. For SQLite the file's folder is created and the file with it.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StorageError> {
    connect_with_settings(url, PoolSettings::default()).await
}

/// [`connect`] with the given settings.
pub async fn connect_with_settings(
    url: &str,
    settings: PoolSettings,
) -> Result<DatabaseConnection, StorageError> {
    let backend = Backend::of(url)?;
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(settings.acquire)
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false);
    if backend == Backend::Postgres {
        let statement_ms = settings.statement.as_millis().to_string();
        options.map_sqlx_postgres_opts(move |opts| {
            opts.options([("statement_timeout", statement_ms.as_str())])
        });
    }
    // SQLite serialises writers: one connection (sea-orm's default there), or the others wait
    // on the file lock with a busy handler (measured: p99 of a rotation 45 ms → 450 ms with 10).
    options
        .max_connections(match backend {
            Backend::Postgres => settings.pool_size,
            Backend::Sqlite => 1,
        })
        .min_connections(0);
    if backend == Backend::Sqlite {
        if let Some(dir) = sqlite_file(url).and_then(|file| file.parent())
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|cause| StorageError::CreateDir {
                path: dir.display().to_string(),
                cause,
            })?;
        }
        options.map_sqlx_sqlite_opts(move |opts: SqliteConnectOptions| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(settings.acquire)
        });
    }
    // Opening an SQLite file that another process is creating or migrating can fail at once
    // with "database is locked" (setting WAL mode needs a lock the busy handler does not wait
    // for); two instances starting together on one file then wait for each other, as on
    // PostgreSQL, instead of one of them failing to start.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match sea_orm::Database::connect(options.clone()).await {
            Ok(db) => return Ok(db),
            Err(cause)
                if backend == Backend::Sqlite
                    && cause.to_string().contains("database is locked")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(cause) => {
                return Err(StorageError::Connect {
                    url: redact_url(url),
                    cause,
                });
            }
        }
    }
}

/// The file behind an SQLite URL, or `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

/// A URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// An arbitrary, fixed key for the PostgreSQL advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x7e55_e2a0_0001;

/// Applies every pending migration, returning how many were applied.
///
/// On PostgreSQL the whole run is one transaction that first takes a transaction-level advisory
/// lock: a second instance starting at the same moment waits, then finds nothing pending. DDL is
/// transactional there, so a failed run leaves nothing half-applied. SQLite serialises writers
/// itself; one SQLite file serves one instance.
pub async fn migrate(url: &str) -> Result<usize, StorageError> {
    let db = connect_with_settings(
        url,
        PoolSettings {
            pool_size: 1,
            ..PoolSettings::default()
        },
    )
    .await?;
    let result = migrate_on(&db).await;
    let _ = db.close().await;
    result
}

async fn migrate_on(db: &DatabaseConnection) -> Result<usize, StorageError> {
    let txn = db.begin().await.map_err(StorageError::Migrate)?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await
        .map_err(StorageError::Migrate)?;
    }
    let pending = Migrator::get_pending_migrations(&txn)
        .await
        .map_err(StorageError::Migrate)?
        .len();
    Migrator::up(&txn, None)
        .await
        .map_err(StorageError::Migrate)?;
    txn.commit().await.map_err(StorageError::Migrate)?;
    Ok(pending)
}

/// `text` for a LIKE pattern with `\\` as the escape character: its `%`, `_` and `\\` match
/// themselves.
pub(crate) fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A portable case-insensitive substring search over `columns`: `LOWER(column) LIKE %term%` with
/// LIKE's wildcards in the term escaped, any column matching. `None` for an empty term.
pub(crate) fn search_condition<C: sea_orm::ColumnTrait>(
    term: &str,
    columns: &[C],
) -> Option<sea_orm::Condition> {
    use sea_orm::{
        ExprTrait,
        sea_query::{Expr, Func, LikeExpr},
    };
    let term = term.trim();
    if term.is_empty() {
        return None;
    }
    let pattern = format!("%{}%", like_literal(&term.to_lowercase()));
    Some(
        columns
            .iter()
            .fold(sea_orm::Condition::any(), |any, column| {
                any.add(
                    Expr::expr(Func::lower(Expr::col(*column)))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
            }),
    )
}

pub(crate) fn backend(err: DbErr) -> StoreError {
    StoreError::Backend(Box::new(err))
}

/// Maps a write error, turning unique-constraint violations into a domain conflict.
pub(crate) fn write_err(what: &'static str) -> impl Fn(DbErr) -> StoreError {
    move |err| match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict { what },
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound {
            what: "referenced row",
        },
        _ => backend(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_paths() {
        assert_eq!(
            sqlite_file("sqlite://./data/t.db?mode=rwc"),
            Some(Path::new("./data/t.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/abs/t.db"),
            Some(Path::new("/abs/t.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:hunter2@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert!(Backend::of("mysql://x").is_err());
    }
}
