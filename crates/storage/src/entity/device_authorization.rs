//! The `device_authorizations` table (RFC 8628).

use sea_orm::entity::prelude::*;

/// One row of `device_authorizations`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "device_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub device_code_hash: String,
    #[sea_orm(unique)]
    pub user_code_hash: String,
    pub client_id: String,
    pub scopes: Json,
    pub status: String,
    pub user_id: Option<String>,
    pub auth_time: Option<DateTimeUtc>,
    pub interval_secs: i32,
    pub next_poll_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

/// No relations are navigated (the foreign keys live in the migration).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
