//! The `known_devices` table.

use sea_orm::entity::prelude::*;

/// One row of `known_devices`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "known_devices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub fingerprint: String,
    pub label: String,
    pub network: String,
    pub first_seen: DateTimeUtc,
    pub last_seen: DateTimeUtc,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
