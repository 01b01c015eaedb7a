//! RFC 7591 initial access tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use tessera_core::{
    secret::TokenHash,
    store::{InitialAccessTokenRecord, InitialAccessTokenRepo, StoreError, TimeCursor},
};

use super::SeaStore;
use crate::{backend, entity::initial_access_token as iat, search_condition, write_err};

fn to_record(row: iat::Model) -> InitialAccessTokenRecord {
    InitialAccessTokenRecord {
        token_hash: TokenHash::from_stored(row.token_hash),
        description: row.description,
        uses_remaining: row.uses_remaining,
        expires_at: row.expires_at,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
        created_by: row.created_by,
    }
}

/// Unrevoked, unexpired, uses left.
fn usable(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(iat::Column::RevokedAt.is_null())
        .add(
            Condition::any()
                .add(iat::Column::ExpiresAt.is_null())
                .add(iat::Column::ExpiresAt.gt(now)),
        )
        .add(
            Condition::any()
                .add(iat::Column::UsesRemaining.is_null())
                .add(iat::Column::UsesRemaining.gt(0)),
        )
}

#[async_trait]
impl InitialAccessTokenRepo for SeaStore {
    async fn create_initial_access_token(
        &self,
        record: &InitialAccessTokenRecord,
    ) -> Result<(), StoreError> {
        iat::Entity::insert(iat::ActiveModel {
            token_hash: Set(record.token_hash.as_str().to_owned()),
            description: Set(record.description.clone()),
            uses_remaining: Set(record.uses_remaining),
            expires_at: Set(record.expires_at),
            created_at: Set(record.created_at),
            revoked_at: Set(record.revoked_at),
            created_by: Set(record.created_by.clone()),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("initial access token"))?;
        Ok(())
    }

    async fn initial_access_token_usable(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(iat::Entity::find()
            .filter(iat::Column::TokenHash.eq(hash.as_str()))
            .filter(usable(now))
            .one(&self.db)
            .await
            .map_err(backend)?
            .is_some())
    }

    async fn use_initial_access_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // One statement: the uses-left check and the decrement can not be separated by a
        // concurrent registration on another instance. Unlimited tokens (NULL) stay NULL.
        let result = iat::Entity::update_many()
            .col_expr(
                iat::Column::UsesRemaining,
                Expr::col(iat::Column::UsesRemaining).sub(1),
            )
            .filter(iat::Column::TokenHash.eq(hash.as_str()))
            .filter(usable(now))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn list_initial_access_tokens(
        &self,
    ) -> Result<Vec<InitialAccessTokenRecord>, StoreError> {
        Ok(iat::Entity::find()
            .order_by_desc(iat::Column::CreatedAt)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn page_initial_access_tokens(
        &self,
        search: Option<&str>,
        after: Option<&TimeCursor>,
        limit: u64,
    ) -> Result<Vec<InitialAccessTokenRecord>, StoreError> {
        let mut query = iat::Entity::find();
        if let Some(after) = after {
            let (time, id) = (iat::Column::CreatedAt, iat::Column::TokenHash);
            query = query.filter(super::older_than(time, id, after));
        }
        if let Some(condition) =
            search.and_then(|term| search_condition(term, &[iat::Column::Description]))
        {
            query = query.filter(condition);
        }
        Ok(query
            .order_by_desc(iat::Column::CreatedAt)
            .order_by_desc(iat::Column::TokenHash)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn revoke_initial_access_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = iat::Entity::update_many()
            .col_expr(iat::Column::RevokedAt, Expr::value(now))
            .filter(iat::Column::TokenHash.eq(hash.as_str()))
            .filter(iat::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }
}
