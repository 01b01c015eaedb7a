//! Test support shared by every crate's tests: a fresh, empty database per call.
//!
//! Without `TEST_DATABASE_URL` the database is an SQLite file in the caller's temporary folder.
//! With it (a PostgreSQL URL, e.g. `postgres://postgres@127.0.0.1:5432/test`), a new database
//! named `tessera_t_<random>` is created on that server, so tests never see each other's rows and
//! can run in parallel. `scripts/test` drops leftovers of earlier runs.

use std::path::Path;

use sea_orm::{ConnectionTrait, Database};

/// The variable naming the PostgreSQL server tests use.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// The prefix of databases created by [`fresh_database_url`].
pub const TEST_DATABASE_PREFIX: &str = "tessera_t_";

/// A URL for a new, empty database (not yet migrated).
///
/// # Panics
/// When `TEST_DATABASE_URL` is set but the server can not be reached: a test run that was asked
/// to use PostgreSQL must fail loudly rather than pass on something else.
pub async fn fresh_database_url(dir: &Path) -> String {
    match std::env::var(TEST_DATABASE_URL) {
        Ok(server) if !server.is_empty() => fresh_postgres(&server).await,
        _ => format!("sqlite://{}?mode=rwc", dir.join("tessera.db").display()),
    }
}

/// Whether tests run against PostgreSQL.
pub fn using_postgres() -> bool {
    std::env::var(TEST_DATABASE_URL).is_ok_and(|url| !url.is_empty())
}

#[expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: failing loudly is the point"
)]
async fn fresh_postgres(server: &str) -> String {
    let name = format!(
        "{TEST_DATABASE_PREFIX}{}",
        tessera_core::secret::random_id()
    );
    let admin = Database::connect(server).await.unwrap_or_else(|err| {
        panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {err}")
    });
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(server).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}
