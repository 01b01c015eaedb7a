//! Refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::Expr,
};
use tessera_core::{
    ClientId, GrantId,
    secret::TokenHash,
    store::{
        Consumption, MAX_RETRY_SUCCESSORS, RefreshRetry, RefreshTokenInFamily, RefreshTokenRecord,
        RefreshTokenRepo, StoreError,
    },
};

use super::{SeaStore, consume_once, consume_with_statement, json_to_strings, strings_to_json};
use crate::{
    backend,
    entity::{grant, refresh_token, user},
    write_err,
};

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

fn to_record_and_branch(
    row: refresh_token::Model,
) -> Result<(RefreshTokenRecord, bool), StoreError> {
    let branched = row.branched;
    Ok((to_record(row)?, branched))
}

/// Uses up a refresh token on `db` (the pool or a transaction), at most once; with the record,
/// whether it is one of several successors a retry stored (`branched`).
async fn consume<C: sea_orm::ConnectionTrait>(
    db: &C,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> Result<Consumption<(RefreshTokenRecord, bool)>, StoreError> {
    consume_once::<refresh_token::Entity, _, _>(
        db,
        [
            refresh_token::Column::TokenHash,
            refresh_token::Column::ConsumedAt,
            refresh_token::Column::ExpiresAt,
        ],
        hash.as_str(),
        now,
        |row| row.consumed_at.is_some(),
        to_record_and_branch,
    )
    .await
}

#[async_trait]
impl RefreshTokenRepo for SeaStore {
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> Result<(), StoreError> {
        insert(&self.db, record, false).await
    }

    async fn rotate_refresh_token(
        &self,
        hash: &TokenHash,
        successor: &RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Consumption<RefreshTokenRecord>, StoreError> {
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            return rotate_in_one_statement(&self.db, hash, successor, now).await;
        }
        let txn = self.db.begin().await.map_err(backend)?;
        let consumed = consume(&txn, hash, now).await?;
        if let Consumption::Consumed((record, branched)) = &consumed {
            // An error here drops the transaction: the consumption is rolled back with it.
            insert(&txn, successor, false).await?;
            // Successors of one parent that a retry stored: the first used wins, the rest go.
            if *branched && let Some(parent) = &record.parent_hash {
                refresh_token::Entity::delete_many()
                    .filter(refresh_token::Column::ParentHash.eq(parent.as_str()))
                    .filter(refresh_token::Column::ConsumedAt.is_null())
                    .exec(&txn)
                    .await
                    .map_err(backend)?;
            }
        }
        let consumed = consumed.map(|(record, _)| record);
        txn.commit().await.map_err(backend)?;
        Ok(consumed)
    }

    async fn consume_refresh_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<RefreshTokenRecord>, StoreError> {
        Ok(consume(&self.db, hash, now)
            .await?
            .map(|(record, _)| record))
    }

    async fn find_refresh_token_in_family(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenInFamily>, StoreError> {
        // refresh_tokens ⟕ grants ⟕ users: one statement where a rotation used to make three.
        let Some((token, grant, user)) =
            refresh_token::Entity::find_by_id(hash.as_str().to_owned())
                .find_also_related(grant::Entity)
                .and_also_related(user::Entity)
                .one(&self.db)
                .await
                .map_err(backend)?
        else {
            return Ok(None);
        };
        Ok(Some(RefreshTokenInFamily {
            token: to_record(token)?,
            grant: grant.map(super::grant::to_record).transpose()?,
            user: user.map(super::user::to_record),
        }))
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

    async fn retry_rotated_refresh_token(
        &self,
        parent: &TokenHash,
        rotated_since: DateTime<Utc>,
        successor: &RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<RefreshRetry, StoreError> {
        // Every early return drops the transaction, which rolls it back.
        let txn = self.db.begin().await.map_err(backend)?;
        // Writing the parent row first serialises concurrent retries of it (a row lock on
        // PostgreSQL, the write lock on SQLite): each sees the successors the others stored.
        let claimed = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RetriedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.eq(parent.as_str()))
            .filter(refresh_token::Column::ConsumedAt.gte(rotated_since))
            .exec(&txn)
            .await
            .map_err(backend)?;
        if claimed.rows_affected != 1 {
            return Ok(RefreshRetry::OutsideWindow);
        }
        let successors = refresh_token::Entity::find()
            .filter(refresh_token::Column::ParentHash.eq(parent.as_str()))
            .all(&txn)
            .await
            .map_err(backend)?;
        if successors.iter().any(|row| row.consumed_at.is_some()) {
            return Ok(RefreshRetry::SuccessorUsed);
        }
        if successors.len() >= MAX_RETRY_SUCCESSORS {
            return Ok(RefreshRetry::TooMany);
        }
        // Marking the unused successors waits for a rotation of one of them that is under way
        // (its row lock); one that committed meanwhile is no longer unused, and is caught here.
        let marked = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Branched, Expr::value(true))
            .filter(refresh_token::Column::ParentHash.eq(parent.as_str()))
            .filter(refresh_token::Column::ConsumedAt.is_null())
            .exec(&txn)
            .await
            .map_err(backend)?;
        if marked.rows_affected != successors.len() as u64 {
            return Ok(RefreshRetry::SuccessorUsed);
        }
        insert(&txn, successor, true).await?;
        txn.commit().await.map_err(backend)?;
        Ok(RefreshRetry::Stored)
    }
}

/// A rotation on PostgreSQL as one statement (data-modifying `WITH`): the consumption, the
/// pruning of a retry's other successors and the successor's insert commit together or not at
/// all, in one round trip instead of five (`BEGIN`, `UPDATE`, `INSERT`, `COMMIT` besides the
/// read). The `UPDATE`'s predicate is re-checked after a concurrent writer's row lock, as in
/// [`consume_once`](super::consume_once), so exactly one rotation of a token wins.
///
/// All parts see the snapshot from before the statement: the `DELETE` excludes the consumed row
/// itself (changing one row twice in a statement is undefined), and cannot see the successor.
const ROTATE_POSTGRES: &str = concat!(
    "WITH consumed AS (
        UPDATE refresh_tokens SET consumed_at = $1
        WHERE token_hash = $2 AND consumed_at IS NULL AND expires_at > $1
        RETURNING *
    ), pruned AS (
        DELETE FROM refresh_tokens
        WHERE parent_hash = (SELECT parent_hash FROM consumed WHERE branched)
          AND consumed_at IS NULL AND token_hash <> $2
    ), successor AS (",
    refresh_token_insert!(),
    " SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, FALSE FROM consumed
    )
    SELECT * FROM consumed"
);

async fn rotate_in_one_statement(
    db: &sea_orm::DatabaseConnection,
    hash: &TokenHash,
    successor: &RefreshTokenRecord,
    now: DateTime<Utc>,
) -> Result<Consumption<RefreshTokenRecord>, StoreError> {
    let mut params = vec![now.into(), hash.as_str().into()];
    params.extend(values(successor));
    consume_with_statement::<refresh_token::Entity, _>(
        db,
        ROTATE_POSTGRES,
        params,
        "refresh token",
        hash.as_str(),
        |row| row.consumed_at.is_some(),
        to_record,
    )
    .await
}

/// A refresh token's nine values in the order of [`refresh_token_insert!`]'s columns, up to
/// `retried_at` (always unset for a new token).
pub(super) fn values(record: &RefreshTokenRecord) -> [sea_orm::Value; 9] {
    [
        record.token_hash.as_str().into(),
        record.grant_id.as_str().into(),
        record.client_id.as_str().into(),
        strings_to_json(&record.scopes).into(),
        record.generation.into(),
        record.created_at.into(),
        record.expires_at.into(),
        record.consumed_at.into(),
        record
            .parent_hash
            .as_ref()
            .map(|h| h.as_str().to_owned())
            .into(),
    ]
}

/// Stores a refresh token on `db` (the pool or a transaction); `branched` for one of several
/// successors of its parent.
pub(super) async fn insert<C: sea_orm::ConnectionTrait>(
    db: &C,
    record: &RefreshTokenRecord,
    branched: bool,
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
        branched: Set(branched),
    })
    .exec_without_returning(db)
    .await
    .map_err(write_err("refresh token"))?;
    Ok(())
}
