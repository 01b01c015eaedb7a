//! Pending authorization requests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tessera_core::{
    ClientId,
    secret::TokenHash,
    store::{AuthorizationRequestRecord, AuthorizationRequestRepo, Consumption, StoreError},
};

use super::{SeaStore, consume_once};
use crate::{backend, entity::authorization_request as request, write_err};

fn to_record(row: request::Model) -> Result<AuthorizationRequestRecord, StoreError> {
    let params: Vec<(String, String)> =
        serde_json::from_value(row.params).map_err(|err| StoreError::Corrupt {
            what: "authorization request parameters",
            detail: err.to_string(),
        })?;
    Ok(AuthorizationRequestRecord {
        id_hash: TokenHash::from_stored(row.id_hash),
        client_id: ClientId::new(row.client_id),
        params,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

#[async_trait]
impl AuthorizationRequestRepo for SeaStore {
    async fn insert_authorization_request(
        &self,
        record: &AuthorizationRequestRecord,
    ) -> Result<(), StoreError> {
        request::Entity::insert(request::ActiveModel {
            id_hash: Set(record.id_hash.as_str().to_owned()),
            client_id: Set(record.client_id.as_str().to_owned()),
            params: Set(serde_json::to_value(&record.params).unwrap_or_default()),
            created_at: Set(record.created_at),
            expires_at: Set(record.expires_at),
            consumed_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("authorization request"))?;
        Ok(())
    }

    async fn find_authorization_request(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthorizationRequestRecord>, StoreError> {
        request::Entity::find_by_id(id_hash.as_str().to_owned())
            .filter(request::Column::ConsumedAt.is_null())
            .filter(request::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn consume_authorization_request(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<AuthorizationRequestRecord>, StoreError> {
        consume_once::<request::Entity, _, _>(
            &self.db,
            [
                request::Column::IdHash,
                request::Column::ConsumedAt,
                request::Column::ExpiresAt,
            ],
            id_hash.as_str(),
            now,
            |row| row.consumed_at.is_some(),
            to_record,
        )
        .await
    }
}
