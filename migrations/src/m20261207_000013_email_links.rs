//! Links sent by email (issue 15, item 4): a password reset or the verification of an address,
//! each a hashed, single-use token for one user and purpose (with the address it verifies),
//! short-lived; at most one unused per user and purpose (a unique partial index; a request after
//! the resend window replaces it). Swept when expired. A user deleted takes their rows along.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "email_links";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(string("token_hash").primary_key())
                    .col(string("user_id"))
                    .col(string("purpose"))
                    .col(string_null("email"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_link_user")
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
                    .name("idx_email_links_user")
                    .table(TABLE.to_owned())
                    .col("user_id".to_owned())
                    .to_owned(),
            )
            .await?;
        // One unused link per user and purpose: of two requests at the same instant (two
        // instances, two refusals of a guesser) one inserts and one is refused, so one message
        // goes out. A partial index, which SQLite and PostgreSQL both have.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_email_links_one_unused \
                 ON email_links (user_id, purpose) WHERE used_at IS NULL",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TABLE.to_owned()).if_exists().to_owned())
            .await
    }
}
