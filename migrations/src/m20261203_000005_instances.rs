//! Several instances on one database: refresh-token successors that a retry stored beside each
//! other (`branched`: the first one used deletes the rest), an index for the client-auth
//! throttle's read of refusing counters, and a version number per cached
//! table that every write bumps, so that an instance — or the CLI next to a running server —
//! can tell every instance's cache that it changed (polled on SQLite; on PostgreSQL a
//! `NOTIFY` wakes the listeners at once).

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("refresh_tokens".to_owned())
                    .add_column(boolean("branched").default(false))
                    .to_owned(),
            )
            .await?;
        // Each instance reads the counters that refuse client authentications every second.
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_in_throttle_blocked_until")
                    .table("sign_in_throttle".to_owned())
                    .col("blocked_until".to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("change_versions")
                    .col(string("topic").primary_key())
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("change_versions".to_owned())
                    .columns(["topic".to_owned(), "version".to_owned()])
                    .values_panic(["clients".into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sign_in_throttle_blocked_until")
                    .table("sign_in_throttle".to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table("change_versions".to_owned())
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("refresh_tokens".to_owned())
                    .drop_column("branched".to_owned())
                    .to_owned(),
            )
            .await
    }
}
