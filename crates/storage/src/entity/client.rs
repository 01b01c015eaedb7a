//! The `clients` table.

use sea_orm::entity::prelude::*;

/// One row of `clients`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub client_name: Option<String>,
    pub secret_hash: Option<String>,
    pub redirect_uris: Json,
    pub post_logout_redirect_uris: Json,
    pub grant_types: Json,
    pub response_types: Json,
    pub scopes: Json,
    pub token_endpoint_auth_method: String,
    pub jwks: Option<Json>,
    pub jwks_uri: Option<String>,
    pub token_endpoint_auth_signing_alg: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub access_token_signed_alg: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub refresh_token_absolute_ttl: Option<i64>,
    pub refresh_token_max_rotations: Option<i32>,
    pub require_pkce: bool,
    pub require_pushed_authorization_requests: bool,
    pub dpop_bound_access_tokens: bool,
    pub enabled: bool,
    pub registration_token_hash: Option<String>,
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
