//! The `sign_in_throttle` table.

use sea_orm::entity::prelude::*;

/// One row of `sign_in_throttle`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_throttle")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    pub kind: String,
    pub label: String,
    pub failures: i32,
    pub window_started_at: DateTimeUtc,
    pub window_ends_at: DateTimeUtc,
    pub blocked_until: Option<DateTimeUtc>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
