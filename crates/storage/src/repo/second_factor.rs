//! Second factors: authenticator apps, recovery codes and the sign-ins waiting for one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionTrait, sea_query::Expr,
};
use tessera_core::{
    Subject,
    secret::TokenHash,
    store::{SecondFactorChallenge, SecondFactorRepo, StoreError},
    totp::{TotpRecord, TotpSecret},
};

use super::SeaStore;
use crate::{
    backend,
    entity::{recovery_code, second_factor_challenge as challenge, totp_factor},
    write_err,
};

fn to_record(row: totp_factor::Model) -> Result<TotpRecord, StoreError> {
    Ok(TotpRecord {
        user_id: Subject::new(row.user_id),
        secret: TotpSecret::from_base32(&row.secret).ok_or(StoreError::Corrupt {
            what: "TOTP secret",
            detail: "not base32".into(),
        })?,
        confirmed_at: row.confirmed_at,
        last_used_step: row.last_used_step,
        created_at: row.created_at,
    })
}

/// Deletes `user`'s recovery codes on `db` (the pool or a transaction).
async fn delete_recovery_codes(
    db: &impl ConnectionTrait,
    user: &Subject,
) -> Result<(), StoreError> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user.as_str()))
        .exec(db)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Replaces `user`'s recovery codes on `db` (the pool or a transaction).
async fn put_recovery_codes(
    db: &impl ConnectionTrait,
    user: &Subject,
    recovery: &[TokenHash],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    delete_recovery_codes(db, user).await?;
    if recovery.is_empty() {
        return Ok(());
    }
    let rows = recovery.iter().map(|hash| recovery_code::ActiveModel {
        user_id: Set(user.as_str().to_owned()),
        code_hash: Set(hash.as_str().to_owned()),
        used_at: Set(None),
        created_at: Set(now),
    });
    recovery_code::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .map_err(write_err("recovery code"))?;
    Ok(())
}

#[async_trait]
impl SecondFactorRepo for SeaStore {
    async fn find_totp(&self, user: &Subject) -> Result<Option<TotpRecord>, StoreError> {
        totp_factor::Entity::find_by_id(user.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn begin_totp(
        &self,
        user: &Subject,
        secret: &TotpSecret,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        totp_factor::Entity::delete_many()
            .filter(totp_factor::Column::UserId.eq(user.as_str()))
            .filter(totp_factor::Column::ConfirmedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        // A confirmed app is still there: the insert collides with it.
        totp_factor::Entity::insert(totp_factor::ActiveModel {
            user_id: Set(user.as_str().to_owned()),
            secret: Set(secret.to_base32()),
            confirmed_at: Set(None),
            last_used_step: Set(None),
            created_at: Set(now),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("authenticator app"))?;
        Ok(())
    }

    async fn confirm_totp(
        &self,
        user: &Subject,
        step: i64,
        recovery: &[TokenHash],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Every early return drops the transaction, which rolls the confirmation back.
        let txn = self.db.begin().await.map_err(backend)?;
        let confirmed = totp_factor::Entity::update_many()
            .col_expr(totp_factor::Column::ConfirmedAt, Expr::value(now))
            .col_expr(totp_factor::Column::LastUsedStep, Expr::value(step))
            .filter(totp_factor::Column::UserId.eq(user.as_str()))
            .filter(totp_factor::Column::ConfirmedAt.is_null())
            .exec(&txn)
            .await
            .map_err(backend)?;
        if confirmed.rows_affected != 1 {
            return Ok(false);
        }
        put_recovery_codes(&txn, user, recovery, now).await?;
        txn.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn use_totp_step(&self, user: &Subject, step: i64) -> Result<bool, StoreError> {
        let result = totp_factor::Entity::update_many()
            .col_expr(totp_factor::Column::LastUsedStep, Expr::value(step))
            .filter(totp_factor::Column::UserId.eq(user.as_str()))
            .filter(totp_factor::Column::ConfirmedAt.is_not_null())
            .filter(
                Condition::any()
                    .add(totp_factor::Column::LastUsedStep.is_null())
                    .add(totp_factor::Column::LastUsedStep.lt(step)),
            )
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn use_recovery_code(
        &self,
        user: &Subject,
        code: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
            .filter(recovery_code::Column::UserId.eq(user.as_str()))
            .filter(recovery_code::Column::CodeHash.eq(code.as_str()))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn unused_recovery_codes(&self, user: &Subject) -> Result<u64, StoreError> {
        recovery_code::Entity::find()
            .filter(recovery_code::Column::UserId.eq(user.as_str()))
            .filter(recovery_code::Column::UsedAt.is_null())
            .count(&self.db)
            .await
            .map_err(backend)
    }

    async fn replace_recovery_codes(
        &self,
        user: &Subject,
        recovery: &[TokenHash],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(backend)?;
        put_recovery_codes(&txn, user, recovery, now).await?;
        txn.commit().await.map_err(backend)
    }

    async fn remove_totp(&self, user: &Subject) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(backend)?;
        let removed = totp_factor::Entity::delete_many()
            .filter(totp_factor::Column::UserId.eq(user.as_str()))
            .exec(&txn)
            .await
            .map_err(backend)?;
        delete_recovery_codes(&txn, user).await?;
        txn.commit().await.map_err(backend)?;
        Ok(removed.rows_affected == 1)
    }

    async fn create_challenge(&self, record: &SecondFactorChallenge) -> Result<(), StoreError> {
        challenge::Entity::insert(challenge::ActiveModel {
            id_hash: Set(record.id_hash.as_str().to_owned()),
            user_id: Set(record.user_id.as_str().to_owned()),
            auth_time: Set(record.auth_time),
            expires_at: Set(record.expires_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("second-factor challenge"))?;
        Ok(())
    }

    async fn find_challenge(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<SecondFactorChallenge>, StoreError> {
        Ok(challenge::Entity::find_by_id(id_hash.as_str().to_owned())
            .filter(challenge::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(|row| SecondFactorChallenge {
                id_hash: TokenHash::from_stored(row.id_hash),
                user_id: Subject::new(row.user_id),
                auth_time: row.auth_time,
                expires_at: row.expires_at,
            }))
    }

    async fn delete_challenge(&self, id_hash: &TokenHash) -> Result<bool, StoreError> {
        let result = challenge::Entity::delete_by_id(id_hash.as_str().to_owned())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn users_with_totp(&self, users: &[Subject]) -> Result<Vec<Subject>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        Ok(totp_factor::Entity::find()
            .filter(totp_factor::Column::UserId.is_in(users.iter().map(|u| u.as_str().to_owned())))
            .filter(totp_factor::Column::ConfirmedAt.is_not_null())
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(|row| Subject::new(row.user_id))
            .collect())
    }
}
