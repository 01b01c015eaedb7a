//! Sign-in safety: pending authorization requests kept on the server (the consent and login
//! forms carry only a handle), sign-in throttle counters shared by every instance, and the kind
//! of each browser session (a user session is never accepted as an admin one).
//!
//! One column per `ALTER TABLE` statement: SQLite accepts only one.

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
            .create_table(
                Table::create()
                    .table("authorization_requests")
                    .col(string("id_hash").primary_key())
                    .col(string("client_id"))
                    .col(json("params"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("consumed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_authorization_requests_expires_at")
                    .table("authorization_requests".to_owned())
                    .col("expires_at".to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sign_in_throttle")
                    .col(string("key_hash").primary_key())
                    .col(string("kind"))
                    .col(string("label"))
                    .col(integer("failures"))
                    .col(timestamp_with_time_zone("window_started_at"))
                    .col(timestamp_with_time_zone("window_ends_at"))
                    .col(timestamp_with_time_zone_null("blocked_until"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_in_throttle_window_ends_at")
                    .table("sign_in_throttle".to_owned())
                    .col("window_ends_at".to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("browser_sessions".to_owned())
                    .add_column(string("kind").default("user"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("browser_sessions".to_owned())
                    .drop_column("kind".to_owned())
                    .to_owned(),
            )
            .await?;
        for table in ["sign_in_throttle", "authorization_requests"] {
            manager
                .drop_table(Table::drop().table(table.to_owned()).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
