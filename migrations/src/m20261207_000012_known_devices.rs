//! The devices each user has signed in from (issue 15, item 5): browser family and system, and
//! network, keyed by their hash; first and last seen. A sign-in from one not on the list is a
//! new-device signal. Rows not seen for a year are swept. A user deleted takes their rows along.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "known_devices";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(string("user_id"))
                    .col(string("fingerprint"))
                    .col(string("label"))
                    .col(string("network"))
                    .col(timestamp_with_time_zone("first_seen"))
                    .col(timestamp_with_time_zone("last_seen"))
                    .primary_key(Index::create().col("user_id").col("fingerprint"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_known_device_user")
                            .from(TABLE.to_owned(), "user_id".to_owned())
                            .to("users".to_owned(), "id".to_owned())
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_known_devices_last_seen")
                    .table(TABLE.to_owned())
                    .col("last_seen".to_owned())
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
