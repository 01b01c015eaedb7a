//! The `passkeys` table.

use sea_orm::entity::prelude::*;

/// One row of `passkeys`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub credential_id: String,
    pub user_id: String,
    pub user_handle: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub public_key: String,
    pub counters: String,
    pub synced: bool,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
