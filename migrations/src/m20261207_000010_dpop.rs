//! RFC 9449 (DPoP): a client may be registered as one whose access tokens are always
//! sender-constrained (`dpop_bound_access_tokens`); an authorization code may be bound to a key
//! (`dpop_jkt` at `/authorize`); a grant keeps the key its public client's refresh tokens are
//! bound to. Existing rows have none.

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
                    .table("clients".to_owned())
                    .add_column(boolean("dpop_bound_access_tokens").default(false))
                    .to_owned(),
            )
            .await?;
        for table in ["authorization_codes", "grants"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.to_owned())
                        .add_column(string_null("dpop_jkt"))
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
                        .drop_column("dpop_jkt".to_owned())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("clients".to_owned())
                    .drop_column("dpop_bound_access_tokens".to_owned())
                    .to_owned(),
            )
            .await
    }
}
