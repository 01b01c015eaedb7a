//! Refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use tessera_core::{
    ClientId, GrantId,
    secret::TokenHash,
    store::{Consumption, RefreshTokenRecord, RefreshTokenRepo, StoreError},
};

use super::{SeaStore, consume_once, json_to_strings, strings_to_json};
use crate::{entity::refresh_token, write_err};

fn to_record(row: refresh_token::Model) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        token_hash: TokenHash::from_stored(row.token_hash),
        grant_id: GrantId::new(row.grant_id),
        client_id: ClientId::new(row.client_id),
        scopes: json_to_strings(row.scopes, "refresh token scopes")?,
        generation: row.generation,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

#[async_trait]
impl RefreshTokenRepo for SeaStore {
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> Result<(), StoreError> {
        refresh_token::Entity::insert(refresh_token::ActiveModel {
            token_hash: Set(record.token_hash.as_str().to_owned()),
            grant_id: Set(record.grant_id.as_str().to_owned()),
            client_id: Set(record.client_id.as_str().to_owned()),
            scopes: Set(strings_to_json(&record.scopes)),
            generation: Set(record.generation),
            created_at: Set(record.created_at),
            expires_at: Set(record.expires_at),
            consumed_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("refresh token"))?;
        Ok(())
    }

    async fn consume_refresh_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<RefreshTokenRecord>, StoreError> {
        consume_once::<refresh_token::Entity, _>(
            &self.db,
            [
                refresh_token::Column::TokenHash,
                refresh_token::Column::ConsumedAt,
                refresh_token::Column::ExpiresAt,
            ],
            hash.as_str(),
            now,
            |row| row.consumed_at.is_some(),
            to_record,
        )
        .await
    }
}
