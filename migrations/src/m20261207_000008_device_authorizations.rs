//! RFC 8628: device authorization requests, each named by the hash of its device code (what the
//! device polls with) and, uniquely, by the hash of its user code (what the user types), with the
//! user's decision and the polling pace. A client or user deleted takes its rows along.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "device_authorizations";

fn cascade(name: &str, column: &str, to: (&str, &str)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(TABLE.to_owned(), column.to_owned())
        .to(to.0.to_owned(), to.1.to_owned())
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(string("device_code_hash").primary_key())
                    .col(string("user_code_hash").unique_key())
                    .col(string("client_id"))
                    .col(json("scopes"))
                    .col(string("status"))
                    .col(string_null("user_id"))
                    .col(timestamp_with_time_zone_null("auth_time"))
                    .col(integer("interval_secs"))
                    .col(timestamp_with_time_zone("next_poll_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut cascade(
                        "fk_device_client",
                        "client_id",
                        ("clients", "client_id"),
                    ))
                    .foreign_key(&mut cascade("fk_device_user", "user_id", ("users", "id")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_authorizations_expires_at")
                    .table(TABLE.to_owned())
                    .col("expires_at".to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TABLE.to_owned()).if_exists().to_owned())
            .await
    }
}
