//! The database key store (`TESSERA_KEYS_STORE=database`): one row per signing key with its
//! place in the set, its schedule and its passphrase-encrypted private key, and a `keys` row in
//! `change_versions` whose version every change of the set bumps (writers compare it to decide
//! who came first; instances read it to notice a change, and PostgreSQL also notifies them) —
//! and a `tokens` row, bumped by every write that can end a live access token (a revoked grant
//! or token, a changed user), so that instances forget what they remembered about their tokens.

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
                    .table("signing_keys")
                    .col(string("kid").primary_key())
                    .col(integer("position"))
                    .col(string("alg"))
                    .col(timestamp_with_time_zone("created"))
                    .col(timestamp_with_time_zone("activates_at"))
                    .col(timestamp_with_time_zone_null("retires_at"))
                    .col(timestamp_with_time_zone_null("unpublish_at"))
                    .col(text("private_key_pem"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("change_versions".to_owned())
                    .columns(["topic".to_owned(), "version".to_owned()])
                    .values_panic(["keys".into(), 0i64.into()])
                    .values_panic(["tokens".into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table("change_versions".to_owned())
                    .and_where(Expr::col("topic".to_owned()).is_in(["keys", "tokens"]))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table("signing_keys".to_owned())
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
