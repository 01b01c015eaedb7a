//! The `signing_keys` table (the database key store).

use sea_orm::entity::prelude::*;

/// One row of `signing_keys`.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub position: i32,
    pub alg: String,
    pub created: DateTimeUtc,
    pub activates_at: DateTimeUtc,
    pub retires_at: Option<DateTimeUtc>,
    pub unpublish_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub private_key_pem: String,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("signing_key::Model")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
