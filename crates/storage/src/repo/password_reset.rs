//! Password-reset links.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use tessera_core::{
    Subject,
    secret::TokenHash,
    store::{PasswordResetRecord, PasswordResetRepo, StoreError},
};

use super::SeaStore;
use crate::{backend, entity::password_reset as reset, write_err};

#[async_trait]
impl PasswordResetRepo for SeaStore {
    async fn create_password_reset(&self, record: &PasswordResetRecord) -> Result<(), StoreError> {
        reset::Entity::delete_many()
            .filter(reset::Column::UserId.eq(record.user_id.as_str()))
            .filter(reset::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        reset::Entity::insert(reset::ActiveModel {
            token_hash: Set(record.token_hash.as_str().to_owned()),
            user_id: Set(record.user_id.as_str().to_owned()),
            created_at: Set(record.created_at),
            expires_at: Set(record.expires_at),
            used_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("password reset"))?;
        Ok(())
    }

    async fn live_password_reset(
        &self,
        user: &Subject,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(reset::Entity::find()
            .filter(reset::Column::UserId.eq(user.as_str()))
            .filter(reset::Column::UsedAt.is_null())
            .filter(reset::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(|row| row.created_at))
    }

    async fn use_password_reset(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<Subject>, StoreError> {
        let used = reset::Entity::update_many()
            .col_expr(reset::Column::UsedAt, Expr::value(now))
            .filter(reset::Column::TokenHash.eq(token_hash.as_str()))
            .filter(reset::Column::UsedAt.is_null())
            .filter(reset::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        if used.rows_affected != 1 {
            return Ok(None);
        }
        Ok(reset::Entity::find_by_id(token_hash.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(|row| Subject::new(row.user_id)))
    }

    async fn password_reset_is_live(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(reset::Entity::find_by_id(token_hash.as_str().to_owned())
            .filter(reset::Column::UsedAt.is_null())
            .filter(reset::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
            .is_some())
    }
}
