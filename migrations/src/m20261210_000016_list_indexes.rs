//! Indexes for the console's paged lists (issue 16, item 6): who is signed in, newest activity
//! first (`browser_sessions (last_seen_at, id_hash)`), and a client's grants, newest first
//! (`grants (client_id, created_at, id)`), so a page is an index range, not a sort of the table.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns)
const INDEXES: [(&str, &str, &[&str]); 2] = [
    (
        "idx_browser_sessions_last_seen_at_id_hash",
        "browser_sessions",
        &["last_seen_at", "id_hash"],
    ),
    (
        "idx_grants_client_id_created_at_id",
        "grants",
        &["client_id", "created_at", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(table.to_owned());
            for column in columns {
                index.col((*column).to_owned());
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(table.to_owned()).to_owned())
                .await?;
        }
        Ok(())
    }
}
