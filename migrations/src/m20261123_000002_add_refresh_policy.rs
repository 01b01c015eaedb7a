//! Refresh-token policy: per-client absolute lifetime and rotation cap, and the links that the
//! grace retry of a rotated token needs (which token a rotation issued, whether its one retry was
//! used).
//!
//! One column per `ALTER TABLE` statement: SQLite accepts only one.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn add(table: &str, column: ColumnDef) -> TableAlterStatement {
    Table::alter()
        .table(table.to_owned())
        .add_column(column)
        .to_owned()
}

fn drop(table: &str, column: &str) -> TableAlterStatement {
    Table::alter()
        .table(table.to_owned())
        .drop_column(column.to_owned())
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(add(
                "clients",
                big_integer_null("refresh_token_absolute_ttl"),
            ))
            .await?;
        manager
            .alter_table(add("clients", integer_null("refresh_token_max_rotations")))
            .await?;
        manager
            .alter_table(add("refresh_tokens", string_null("parent_hash")))
            .await?;
        manager
            .alter_table(add(
                "refresh_tokens",
                timestamp_with_time_zone_null("retried_at"),
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_parent_hash")
                    .table("refresh_tokens".to_owned())
                    .col("parent_hash".to_owned())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_refresh_tokens_parent_hash")
                    .table("refresh_tokens".to_owned())
                    .to_owned(),
            )
            .await?;
        for (table, column) in [
            ("refresh_tokens", "retried_at"),
            ("refresh_tokens", "parent_hash"),
            ("clients", "refresh_token_max_rotations"),
            ("clients", "refresh_token_absolute_ttl"),
        ] {
            manager.alter_table(drop(table, column)).await?;
        }
        Ok(())
    }
}
