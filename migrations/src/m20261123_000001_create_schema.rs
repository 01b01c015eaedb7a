//! The initial schema: every table of the data model in DESIGN.md.
//!
//! Ids are text (server-generated, random) so that any instance can mint them without a sequence;
//! every secret column holds a SHA-256 hex digest, never the value. Foreign keys cascade from
//! clients and users so deleting either removes everything issued to it; audit events keep no
//! foreign keys so they outlive what they describe.

#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async-trait) declares `&SchemaManager` without a lifetime"
)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(name: &str, from: (&str, &str), to: (&str, &str)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0.to_owned(), from.1.to_owned())
        .to(to.0.to_owned(), to.1.to_owned())
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(table: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement
        .name(format!("idx_{table}_{}", columns.join("_")))
        .table(table.to_owned());
    for column in columns {
        statement.col((*column).to_owned());
    }
    statement.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("clients")
                    .col(string("client_id").primary_key())
                    .col(string_null("client_name"))
                    .col(string_null("secret_hash"))
                    .col(json("redirect_uris"))
                    .col(json("post_logout_redirect_uris"))
                    .col(json("grant_types"))
                    .col(json("response_types"))
                    .col(json("scopes"))
                    .col(string("token_endpoint_auth_method"))
                    .col(json_null("jwks"))
                    .col(string_null("jwks_uri"))
                    .col(string_null("token_endpoint_auth_signing_alg"))
                    .col(string_null("id_token_signed_response_alg"))
                    .col(string_null("access_token_signed_alg"))
                    .col(big_integer_null("access_token_ttl"))
                    .col(big_integer_null("refresh_token_ttl"))
                    .col(boolean("require_pkce"))
                    .col(boolean("enabled"))
                    .col(string_null("registration_token_hash"))
                    .col(json_null("metadata"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(string("id").primary_key())
                    .col(string_uniq("username"))
                    .col(string("password_hash"))
                    .col(string_null("email"))
                    .col(boolean("email_verified"))
                    .col(string_null("name"))
                    .col(boolean("is_admin"))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("browser_sessions")
                    .col(string("id_hash").primary_key())
                    .col(string("user_id"))
                    .col(timestamp_with_time_zone("auth_time"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .col(timestamp_with_time_zone("idle_expires_at"))
                    .col(timestamp_with_time_zone("absolute_expires_at"))
                    .col(string_null("user_agent"))
                    .col(string_null("ip"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .foreign_key(&mut fk(
                        "fk_sessions_user",
                        ("browser_sessions", "user_id"),
                        ("users", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("browser_sessions", &["user_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("consents")
                    .col(string("user_id"))
                    .col(string("client_id"))
                    .col(json("scopes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("user_id").col("client_id"))
                    .foreign_key(&mut fk(
                        "fk_consents_user",
                        ("consents", "user_id"),
                        ("users", "id"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_consents_client",
                        ("consents", "client_id"),
                        ("clients", "client_id"),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("grants")
                    .col(string("id").primary_key())
                    .col(string("client_id"))
                    .col(string_null("user_id"))
                    .col(string_null("session_id"))
                    .col(json("scopes"))
                    .col(boolean("offline"))
                    .col(timestamp_with_time_zone_null("auth_time"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(string_null("revoked_reason"))
                    .foreign_key(&mut fk(
                        "fk_grants_client",
                        ("grants", "client_id"),
                        ("clients", "client_id"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_grants_user",
                        ("grants", "user_id"),
                        ("users", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("grants", &["client_id"]))
            .await?;
        manager.create_index(index("grants", &["user_id"])).await?;
        manager
            .create_index(index("grants", &["session_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("authorization_codes")
                    .col(string("code_hash").primary_key())
                    .col(string("client_id"))
                    .col(string("user_id"))
                    .col(text("redirect_uri"))
                    .col(string_null("code_challenge"))
                    .col(json("scopes"))
                    .col(text_null("nonce"))
                    .col(string_null("session_id"))
                    .col(timestamp_with_time_zone("auth_time"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("consumed_at"))
                    .col(string_null("grant_id"))
                    .foreign_key(&mut fk(
                        "fk_codes_client",
                        ("authorization_codes", "client_id"),
                        ("clients", "client_id"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_codes_user",
                        ("authorization_codes", "user_id"),
                        ("users", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("authorization_codes", &["expires_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(string("token_hash").primary_key())
                    .col(string("grant_id"))
                    .col(string("client_id"))
                    .col(json("scopes"))
                    .col(integer("generation"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("consumed_at"))
                    .foreign_key(&mut fk(
                        "fk_refresh_grant",
                        ("refresh_tokens", "grant_id"),
                        ("grants", "id"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("refresh_tokens", &["grant_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("revoked_access_tokens")
                    .col(string("jti").primary_key())
                    .col(string_null("grant_id"))
                    .col(timestamp_with_time_zone("revoked_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("revoked_access_tokens", &["expires_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("trusted_jwt_issuers")
                    .col(string("id").primary_key())
                    .col(string_uniq("issuer"))
                    .col(json_null("jwks"))
                    .col(string_null("jwks_uri"))
                    .col(json("allowed_algs"))
                    .col(json("allowed_subjects"))
                    .col(json("allowed_scopes"))
                    .col(json("allowed_clients"))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("used_assertion_jtis")
                    .col(string("issuer"))
                    .col(string("jti"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .primary_key(Index::create().col("issuer").col("jti"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("used_assertion_jtis", &["expires_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("initial_access_tokens")
                    .col(string("token_hash").primary_key())
                    .col(string_null("description"))
                    .col(integer_null("uses_remaining"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(string_null("created_by"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(string("id").primary_key())
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(string("kind"))
                    .col(string_null("actor"))
                    .col(string_null("client_id"))
                    .col(string_null("user_id"))
                    .col(string_null("ip"))
                    .col(text_null("user_agent"))
                    .col(json("details"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("audit_events", &["occurred_at"]))
            .await?;
        manager
            .create_index(index("audit_events", &["client_id"]))
            .await?;
        manager
            .create_index(index("audit_events", &["user_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_events",
            "initial_access_tokens",
            "used_assertion_jtis",
            "trusted_jwt_issuers",
            "revoked_access_tokens",
            "refresh_tokens",
            "authorization_codes",
            "grants",
            "consents",
            "browser_sessions",
            "users",
            "clients",
        ] {
            manager
                .drop_table(Table::drop().table(table.to_owned()).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
