//! Refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr,
};
use tessera_core::{
    ClientId, GrantId,
    secret::TokenHash,
    store::{Consumption, RefreshTokenRecord, RefreshTokenRepo, StoreError},
};

use super::{SeaStore, consume_once, json_to_strings, strings_to_json};
use crate::{backend, entity::refresh_token, write_err};

fn to_record(row: refresh_token::Model) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        token_hash: TokenHash::from_stored(row.token_hash),
        grant_id: GrantId::new(row.grant_id),
        client_id: ClientId::new(row.client_id),
        scopes: json_to_strings(row.scopes, "refresh token scopes")?,
        generation: row.generation,
        created_at: row.created_at,
        expires_at: row.expires_at,
        consumed_at: row.consumed_at,
        parent_hash: row.parent_hash.map(TokenHash::from_stored),
    })
}

#[async_trait]
impl RefreshTokenRepo for SeaStore {
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> Result<(), StoreError> {
        insert(&self.db, record).await
    }

    async fn rotate_refresh_token(
        &self,
        hash: &TokenHash,
        successor: &RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Consumption<RefreshTokenRecord>, StoreError> {
        let txn = self.db.begin().await.map_err(backend)?;
        let consumed = consume_once::<refresh_token::Entity, _, _>(
            &txn,
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
        .await?;
        if matches!(consumed, Consumption::Consumed(_)) {
            // An error here drops the transaction: the consumption is rolled back with it.
            insert(&txn, successor).await?;
        }
        txn.commit().await.map_err(backend)?;
        Ok(consumed)
    }

    async fn consume_refresh_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<RefreshTokenRecord>, StoreError> {
        consume_once::<refresh_token::Entity, _, _>(
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

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        refresh_token::Entity::find_by_id(hash.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn claim_refresh_retry(
        &self,
        hash: &TokenHash,
        rotated_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // One statement, like consume-once: of concurrent retries exactly one sees a row.
        let result = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RetriedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
            .filter(refresh_token::Column::RetriedAt.is_null())
            .filter(refresh_token::Column::ConsumedAt.gte(rotated_since))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn retire_refresh_children(
        &self,
        parent: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::ConsumedAt, Expr::value(now))
            .filter(refresh_token::Column::ParentHash.eq(parent.as_str()))
            .filter(refresh_token::Column::ConsumedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected)
    }
}

/// Stores a refresh token on `db` (the pool or a transaction).
async fn insert<C: sea_orm::ConnectionTrait>(
    db: &C,
    record: &RefreshTokenRecord,
) -> Result<(), StoreError> {
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        token_hash: Set(record.token_hash.as_str().to_owned()),
        grant_id: Set(record.grant_id.as_str().to_owned()),
        client_id: Set(record.client_id.as_str().to_owned()),
        scopes: Set(strings_to_json(&record.scopes)),
        generation: Set(record.generation),
        created_at: Set(record.created_at),
        expires_at: Set(record.expires_at),
        consumed_at: Set(record.consumed_at),
        parent_hash: Set(record.parent_hash.as_ref().map(|h| h.as_str().to_owned())),
        retried_at: Set(None),
    })
    .exec_without_returning(db)
    .await
    .map_err(write_err("refresh token"))?;
    Ok(())
}
