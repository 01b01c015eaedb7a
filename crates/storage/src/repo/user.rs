//! Users.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tessera_core::{
    Subject,
    store::{StoreError, UserRecord, UserRepo},
};

use super::{SeaStore, updated_one};
use crate::{backend, changes::Topic, entity::user, search_condition, write_err};

pub(super) fn to_record(row: user::Model) -> UserRecord {
    UserRecord {
        id: Subject::new(row.id),
        username: row.username,
        password_hash: row.password_hash,
        email: row.email,
        email_verified: row.email_verified,
        name: row.name,
        is_admin: row.is_admin,
        enabled: row.enabled,
        mfa_required: row.mfa_required,
        created_at: row.created_at,
    }
}

/// `UPDATE users SET <column> = <value>, updated_at = now WHERE id = ?`: one column, nothing
/// else read or written back.
async fn set_column(
    store: &SeaStore,
    id: &Subject,
    column: user::Column,
    value: sea_orm::sea_query::SimpleExpr,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = user::Entity::update_many()
        .col_expr(column, value)
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id.as_str()))
        .exec(&store.db)
        .await
        .map_err(write_err("user"))?;
    Ok(result.rows_affected == 1)
}

#[async_trait]
impl UserRepo for SeaStore {
    async fn create_user(&self, record: &UserRecord) -> Result<(), StoreError> {
        user::Entity::insert(user::ActiveModel {
            id: Set(record.id.as_str().to_owned()),
            username: Set(record.username.clone()),
            password_hash: Set(record.password_hash.clone()),
            email: Set(record.email.clone()),
            email_verified: Set(record.email_verified),
            name: Set(record.name.clone()),
            is_admin: Set(record.is_admin),
            enabled: Set(record.enabled),
            mfa_required: Set(record.mfa_required),
            created_at: Set(record.created_at),
            updated_at: Set(record.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("user"))?;
        Ok(())
    }

    async fn find_user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record))
    }

    async fn find_user(&self, id: &Subject) -> Result<Option<UserRecord>, StoreError> {
        Ok(user::Entity::find_by_id(id.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record))
    }

    async fn update_user(&self, record: &UserRecord, now: DateTime<Utc>) -> Result<(), StoreError> {
        let result = user::Entity::update_many()
            .set(user::ActiveModel {
                id: NotSet,
                username: Set(record.username.clone()),
                password_hash: NotSet,
                email: Set(record.email.clone()),
                email_verified: Set(record.email_verified),
                name: Set(record.name.clone()),
                is_admin: NotSet,
                enabled: NotSet,
                mfa_required: NotSet,
                created_at: NotSet,
                updated_at: Set(now),
            })
            .filter(user::Column::Id.eq(record.id.as_str()))
            .exec(&self.db)
            .await
            .map_err(write_err("user"))?;
        if result.rows_affected == 1 {
            // `/userinfo` answers from what instances remember about a token's user.
            self.announce(Topic::Tokens).await;
        }
        updated_one(result, "user")
    }

    async fn set_password_hash(
        &self,
        id: &Subject,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        set_column(
            self,
            id,
            user::Column::PasswordHash,
            Expr::value(password_hash),
            now,
        )
        .await
    }

    async fn set_user_enabled(
        &self,
        id: &Subject,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let changed =
            set_column(self, id, user::Column::Enabled, Expr::value(enabled), now).await?;
        if changed {
            // A disabled user's tokens die now; instances forget what they found about them.
            // (A password or admin change ends no token by itself: a password change revokes
            // the other devices' grants, which announces that.)
            self.announce(Topic::Tokens).await;
        }
        Ok(changed)
    }

    async fn set_user_admin(
        &self,
        id: &Subject,
        is_admin: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        set_column(self, id, user::Column::IsAdmin, Expr::value(is_admin), now).await
    }

    async fn set_user_mfa_required(
        &self,
        id: &Subject,
        required: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        set_column(
            self,
            id,
            user::Column::MfaRequired,
            Expr::value(required),
            now,
        )
        .await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        use sea_orm::{ExprTrait, sea_query::Func};
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            return Ok(None);
        }
        let found = user::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(user::Column::Email))).eq(email))
            .limit(2)
            .all(&self.db)
            .await
            .map_err(backend)?;
        // Two accounts with one address: neither is "the" user of that address.
        Ok(match <[_; 1]>::try_from(found) {
            Ok([one]) => Some(to_record(one)),
            Err(_) => None,
        })
    }

    async fn list_users(
        &self,
        search: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let mut query = user::Entity::find();
        if let Some(after) = after {
            query = query.filter(user::Column::Username.gt(after));
        }
        if let Some(condition) = search
            .and_then(|term| search_condition(term, &[user::Column::Username, user::Column::Email]))
        {
            query = query.filter(condition);
        }
        Ok(query
            .order_by_asc(user::Column::Username)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn count_admins(&self) -> Result<u64, StoreError> {
        user::Entity::find()
            .filter(user::Column::IsAdmin.eq(true))
            .filter(user::Column::Enabled.eq(true))
            .count(&self.db)
            .await
            .map_err(backend)
    }

    async fn delete_user(&self, id: &Subject) -> Result<bool, StoreError> {
        let result = user::Entity::delete_by_id(id.as_str().to_owned())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        let deleted = result.rows_affected == 1;
        if deleted {
            // Their access tokens die now: instances forget what they found about them.
            self.announce(Topic::Tokens).await;
        }
        Ok(deleted)
    }
}
