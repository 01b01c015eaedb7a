//! Authorization codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::Expr,
};
use tessera_core::{
    ClientId, GrantId, Subject,
    amr::Amr,
    secret::TokenHash,
    store::{
        AuthorizationCodeRecord, CodeRepo, Consumption, GrantRecord, RefreshTokenRecord,
        StoreError, UserRecord,
    },
};

use super::{SeaStore, consume_once, consume_with_statement, json_to_strings, strings_to_json};
use crate::{
    backend,
    entity::{authorization_code as code, user},
    write_err,
};

fn to_record(row: code::Model) -> Result<AuthorizationCodeRecord, StoreError> {
    Ok(AuthorizationCodeRecord {
        code_hash: TokenHash::from_stored(row.code_hash),
        client_id: ClientId::new(row.client_id),
        user_id: Subject::new(row.user_id),
        redirect_uri: row.redirect_uri,
        code_challenge: row.code_challenge,
        scopes: json_to_strings(row.scopes, "code scopes")?,
        nonce: row.nonce,
        session_id: row.session_id.map(TokenHash::from_stored),
        auth_time: row.auth_time,
        created_at: row.created_at,
        expires_at: row.expires_at,
        grant_id: row.grant_id.map(GrantId::new),
        resource: row.resource,
        dpop_jkt: row.dpop_jkt,
        amr: Amr::from_stored(row.amr.as_deref()),
    })
}

/// Uses up a code on `db` (the pool or a transaction), at most once.
async fn consume<C: sea_orm::ConnectionTrait>(
    db: &C,
    hash: &TokenHash,
    now: DateTime<Utc>,
) -> Result<Consumption<AuthorizationCodeRecord>, StoreError> {
    consume_once::<code::Entity, _, _>(
        db,
        [
            code::Column::CodeHash,
            code::Column::ConsumedAt,
            code::Column::ExpiresAt,
        ],
        hash.as_str(),
        now,
        |row| row.consumed_at.is_some(),
        to_record,
    )
    .await
}

#[async_trait]
impl CodeRepo for SeaStore {
    async fn insert_code(&self, record: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        code::Entity::insert(code::ActiveModel {
            code_hash: Set(record.code_hash.as_str().to_owned()),
            client_id: Set(record.client_id.as_str().to_owned()),
            user_id: Set(record.user_id.as_str().to_owned()),
            redirect_uri: Set(record.redirect_uri.clone()),
            code_challenge: Set(record.code_challenge.clone()),
            scopes: Set(strings_to_json(&record.scopes)),
            nonce: Set(record.nonce.clone()),
            session_id: Set(record.session_id.as_ref().map(|h| h.as_str().to_owned())),
            auth_time: Set(record.auth_time),
            created_at: Set(record.created_at),
            expires_at: Set(record.expires_at),
            consumed_at: Set(None),
            grant_id: Set(record.grant_id.as_ref().map(|g| g.as_str().to_owned())),
            resource: Set(record.resource.clone()),
            dpop_jkt: Set(record.dpop_jkt.clone()),
            amr: Set(Some(record.amr.to_stored())),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("authorization code"))?;
        Ok(())
    }

    async fn find_code(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        code::Entity::find_by_id(hash.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn find_code_with_user(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(AuthorizationCodeRecord, Option<UserRecord>)>, StoreError> {
        let Some((row, user)) = code::Entity::find_by_id(hash.as_str().to_owned())
            .find_also_related(user::Entity)
            .one(&self.db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        Ok(Some((to_record(row)?, user.map(super::user::to_record))))
    }

    async fn consume_code(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<AuthorizationCodeRecord>, StoreError> {
        consume(&self.db, hash, now).await
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Consumption<AuthorizationCodeRecord>, StoreError> {
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            return redeem_in_one_statement(&self.db, hash, grant, refresh, now).await;
        }
        // Every early return drops the transaction, which rolls the consumption back.
        let txn = self.db.begin().await.map_err(backend)?;
        let consumed = consume(&txn, hash, now).await?;
        if matches!(consumed, Consumption::Consumed(_)) {
            super::grant::insert(&txn, grant).await?;
            code::Entity::update_many()
                .col_expr(code::Column::GrantId, Expr::value(grant.id.as_str()))
                .filter(code::Column::CodeHash.eq(hash.as_str()))
                .exec(&txn)
                .await
                .map_err(backend)?;
            if let Some(refresh) = refresh {
                super::refresh_token::insert(&txn, refresh, false).await?;
            }
        }
        txn.commit().await.map_err(backend)?;
        Ok(consumed)
    }
}

/// A redemption on PostgreSQL as one statement (data-modifying `WITH`): the code consumed and
/// linked to its grant, the grant and the refresh token inserted — together or not at all, in
/// one round trip instead of six. The `UPDATE`'s predicate is re-checked after a concurrent
/// writer's row lock, so exactly one redemption of a code wins; the foreign keys of the inserted
/// rows are checked at the end of the statement, when the grant exists.
macro_rules! redeem_postgres {
    ($refresh:expr) => {
        concat!(
            "WITH consumed AS (
                UPDATE authorization_codes SET consumed_at = $1, grant_id = $3
                WHERE code_hash = $2 AND consumed_at IS NULL AND expires_at > $1
                RETURNING *
            ), granted AS (
                INSERT INTO grants (id, client_id, user_id, session_id, scopes, offline,
                    auth_time, created_at, revoked_at, revoked_reason, resource, dpop_jkt, amr)
                SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, consumed.resource, $12,
                    consumed.amr
                FROM consumed
                RETURNING id
            )",
            $refresh,
            " SELECT * FROM consumed"
        )
    };
}
const REDEEM_POSTGRES: &str = redeem_postgres!("");
const REDEEM_WITH_REFRESH_POSTGRES: &str = redeem_postgres!(concat!(
    ", refreshed AS (",
    refresh_token_insert!(),
    " SELECT $13, $14, $15, $16, $17, $18, $19, $20, $21, NULL, FALSE FROM granted)"
));

async fn redeem_in_one_statement(
    db: &sea_orm::DatabaseConnection,
    hash: &TokenHash,
    grant: &GrantRecord,
    refresh: Option<&RefreshTokenRecord>,
    now: DateTime<Utc>,
) -> Result<Consumption<AuthorizationCodeRecord>, StoreError> {
    let mut params: Vec<sea_orm::Value> = vec![
        now.into(),
        hash.as_str().into(),
        grant.id.as_str().into(),
        grant.client_id.as_str().into(),
        grant.user_id.as_ref().map(|s| s.as_str().to_owned()).into(),
        grant
            .session_id
            .as_ref()
            .map(|h| h.as_str().to_owned())
            .into(),
        strings_to_json(&grant.scopes).into(),
        grant.offline.into(),
        grant.auth_time.into(),
        grant.created_at.into(),
        grant.revoked_at.into(),
        grant.dpop_jkt.clone().into(),
    ];
    let sql = match refresh {
        Some(refresh) => {
            params.extend(super::refresh_token::values(refresh));
            REDEEM_WITH_REFRESH_POSTGRES
        }
        None => REDEEM_POSTGRES,
    };
    consume_with_statement::<code::Entity, _>(
        db,
        sql,
        params,
        "grant",
        hash.as_str(),
        |row| row.consumed_at.is_some(),
        to_record,
    )
    .await
}
