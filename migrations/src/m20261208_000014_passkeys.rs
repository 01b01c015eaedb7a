//! Passkeys (issue 15, item 1; ADR 0029): the WebAuthn credentials users registered, and the
//! ceremonies waiting for a browser's answer.
//!
//! `passkeys`: one row per credential — its id (base64url, unique across the server), the user,
//! the user handle the authenticator keeps (random, base64url; the same for every passkey of one
//! user), a name the user chose, the public key and the authenticator's counters as the WebAuthn
//! library encodes them (base64url), whether it is a synced (backed-up) credential, when it was
//! added and last used. A user deleted takes their passkeys along.
//!
//! `passkey_ceremonies`: a registration or an assertion started and not yet answered, named by the
//! hash of a random cookie value, with the library's serialised server state (the challenge
//! among it), five minutes; taken (deleted) by the answer, so each challenge is answered once by
//! whichever instance gets it. Swept when expired.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PASSKEYS: &str = "passkeys";
const CEREMONIES: &str = "passkey_ceremonies";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PASSKEYS)
                    .col(string("credential_id").primary_key())
                    .col(string("user_id"))
                    .col(string("user_handle"))
                    .col(string("name"))
                    .col(text("public_key"))
                    .col(string("counters"))
                    .col(boolean("synced"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkey_user")
                            .from(PASSKEYS.to_owned(), "user_id".to_owned())
                            .to("users".to_owned(), "id".to_owned())
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user")
                    .table(PASSKEYS.to_owned())
                    .col("user_id".to_owned())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CEREMONIES)
                    .col(string("id_hash").primary_key())
                    .col(string("purpose"))
                    .col(string_null("user_id"))
                    .col(text("state"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkey_ceremony_user")
                            .from(CEREMONIES.to_owned(), "user_id".to_owned())
                            .to("users".to_owned(), "id".to_owned())
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [CEREMONIES, PASSKEYS] {
            manager
                .drop_table(Table::drop().table(table.to_owned()).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
