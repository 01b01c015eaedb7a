//! Links sent by email.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use tessera_core::{
    Subject,
    secret::TokenHash,
    store::{EmailLinkPurpose, EmailLinkRecord, EmailLinkRepo, StoreError},
};

use super::SeaStore;
use crate::{backend, entity::email_link as link, write_err};

#[async_trait]
impl EmailLinkRepo for SeaStore {
    async fn create_email_link(
        &self,
        record: &EmailLinkRecord,
        replace_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        link::Entity::delete_many()
            .filter(link::Column::UserId.eq(record.user_id.as_str()))
            .filter(link::Column::Purpose.eq(record.purpose.as_str()))
            .filter(link::Column::UsedAt.is_null())
            .filter(link::Column::CreatedAt.lt(replace_before))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        let inserted = link::Entity::insert(link::ActiveModel {
            token_hash: Set(record.token_hash.as_str().to_owned()),
            user_id: Set(record.user_id.as_str().to_owned()),
            purpose: Set(record.purpose.as_str().to_owned()),
            email: Set(record.email.clone()),
            created_at: Set(record.created_at),
            expires_at: Set(record.expires_at),
            used_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("email link"));
        match inserted {
            Ok(_) => Ok(true),
            // Another request made one a moment ago (the unique partial index).
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn latest_email_link(
        &self,
        user: &Subject,
        purpose: EmailLinkPurpose,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(link::Entity::find()
            .filter(link::Column::UserId.eq(user.as_str()))
            .filter(link::Column::Purpose.eq(purpose.as_str()))
            .filter(link::Column::UsedAt.is_null())
            .order_by_desc(link::Column::CreatedAt)
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(|row| row.created_at))
    }

    async fn use_email_link(
        &self,
        token_hash: &TokenHash,
        purpose: EmailLinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<(Subject, Option<String>)>, StoreError> {
        let used = link::Entity::update_many()
            .col_expr(link::Column::UsedAt, Expr::value(now))
            .filter(link::Column::TokenHash.eq(token_hash.as_str()))
            .filter(link::Column::Purpose.eq(purpose.as_str()))
            .filter(link::Column::UsedAt.is_null())
            .filter(link::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        if used.rows_affected != 1 {
            return Ok(None);
        }
        Ok(link::Entity::find_by_id(token_hash.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(|row| (Subject::new(row.user_id), row.email)))
    }

    async fn email_link_is_live(
        &self,
        token_hash: &TokenHash,
        purpose: EmailLinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(link::Entity::find_by_id(token_hash.as_str().to_owned())
            .filter(link::Column::Purpose.eq(purpose.as_str()))
            .filter(link::Column::UsedAt.is_null())
            .filter(link::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
            .is_some())
    }
}
