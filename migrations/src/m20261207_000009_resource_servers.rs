//! RFC 8707: the resource servers an admin registers (identifier URI, name, the scopes they own,
//! the client they introspect as), and the resource an authorization code and a grant are bound
//! to. Existing codes and grants have none (their tokens keep the issuer as audience).

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
                    .table("resource_servers")
                    .col(string("identifier").primary_key())
                    .col(string("name"))
                    .col(json("scopes"))
                    .col(string_null("client_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        for table in ["authorization_codes", "grants"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.to_owned())
                        .add_column(string_null("resource"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["authorization_codes", "grants"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.to_owned())
                        .drop_column("resource".to_owned())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(
                Table::drop()
                    .table("resource_servers".to_owned())
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
