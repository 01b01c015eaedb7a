//! The console's dashboard (issue 16, item 2): what happened, hour by hour.
//!
//! `activity_counts`: one row per hour (UTC, the start of the hour) and series (`sign_in`,
//! `sign_in.failed`, `sign_in.refused`, `token.<grant>`), with a count. Each instance counts in
//! memory and adds what it counted about once a minute (`count = count + n`), so the rows stay
//! few — hours × series, whatever the traffic — and a token request writes nothing. Rows older
//! than eight days are swept.
//!
//! Also an index on `audit_events (kind, occurred_at)`: the console filters the audit log by kind.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ACTIVITY: &str = "activity_counts";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ACTIVITY)
                    .col(timestamp_with_time_zone("hour"))
                    .col(string("series"))
                    .col(big_integer("count"))
                    .primary_key(
                        Index::create()
                            .col("hour".to_owned())
                            .col("series".to_owned()),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_kind_occurred_at")
                    .table("audit_events".to_owned())
                    .col("kind".to_owned())
                    .col("occurred_at".to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_audit_events_kind_occurred_at")
                    .table("audit_events".to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(ACTIVITY.to_owned())
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
