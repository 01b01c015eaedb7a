//! The `trusted_jwt_issuers` table.

use sea_orm::entity::prelude::*;

/// One row of `trusted_jwt_issuers`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "trusted_jwt_issuers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub issuer: String,
    pub jwks: Option<Json>,
    pub jwks_uri: Option<String>,
    pub allowed_algs: Json,
    pub allowed_subjects: Json,
    pub allowed_scopes: Json,
    pub allowed_clients: Json,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
