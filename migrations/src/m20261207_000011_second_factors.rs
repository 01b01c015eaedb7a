//! Second factors (issue 15): a user's authenticator app (`totp_factors`: the secret, when it was
//! confirmed, the last step whose code was used), their single-use recovery codes (hashed), and
//! the sign-ins waiting for a second factor after a right password (`second_factor_challenges`,
//! named by the hash of a cookie, five minutes). Sessions, codes and grants record how the user
//! signed in (`amr`, space-separated RFC 8176 values; none on existing rows means a password).
//! Users may be required to use a second factor (`mfa_required`, set in the console). A user
//! deleted takes their rows along.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn user_cascade(name: &str, table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table.to_owned(), "user_id".to_owned())
        .to("users".to_owned(), "id".to_owned())
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

const AMR_TABLES: [&str; 3] = ["browser_sessions", "authorization_codes", "grants"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("totp_factors")
                    .col(string("user_id").primary_key())
                    .col(string("secret"))
                    .col(timestamp_with_time_zone_null("confirmed_at"))
                    .col(big_integer_null("last_used_step"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut user_cascade("fk_totp_user", "totp_factors"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("recovery_codes")
                    .col(string("user_id"))
                    .col(string("code_hash"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("user_id").col("code_hash"))
                    .foreign_key(&mut user_cascade("fk_recovery_user", "recovery_codes"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("second_factor_challenges")
                    .col(string("id_hash").primary_key())
                    .col(string("user_id"))
                    .col(timestamp_with_time_zone("auth_time"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut user_cascade(
                        "fk_challenge_user",
                        "second_factor_challenges",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_second_factor_challenges_expires_at")
                    .table("second_factor_challenges".to_owned())
                    .col("expires_at".to_owned())
                    .to_owned(),
            )
            .await?;
        for table in AMR_TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.to_owned())
                        .add_column(string_null("amr"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("users".to_owned())
                    .add_column(boolean("mfa_required").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("users".to_owned())
                    .drop_column("mfa_required".to_owned())
                    .to_owned(),
            )
            .await?;
        for table in AMR_TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.to_owned())
                        .drop_column("amr".to_owned())
                        .to_owned(),
                )
                .await?;
        }
        for table in ["second_factor_challenges", "recovery_codes", "totp_factors"] {
            manager
                .drop_table(Table::drop().table(table.to_owned()).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
