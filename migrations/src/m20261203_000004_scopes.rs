//! The scope registry: the scopes beyond OpenID Connect's own that clients may be given — what
//! the consent page says about each, and whether a client may get it for itself
//! (`client_credentials`, a self-issued JWT bearer assertion). Dynamic registration may only
//! ask for scopes listed here.

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
                    .table("scopes")
                    .col(string("name").primary_key())
                    .col(string("description"))
                    .col(boolean("client_credentials"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("scopes".to_owned())
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
