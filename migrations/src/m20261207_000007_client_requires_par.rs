//! RFC 9126 §6: a client may be registered as one whose authorization requests must be pushed
//! (`require_pushed_authorization_requests`). Existing clients are not.

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
                    .add_column(boolean("require_pushed_authorization_requests").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("clients".to_owned())
                    .drop_column("require_pushed_authorization_requests".to_owned())
                    .to_owned(),
            )
            .await
    }
}
