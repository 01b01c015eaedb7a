//! Grants: the families that refresh and access tokens hang from.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tessera_core::{
    ClientId, GrantId, Subject,
    amr::Amr,
    secret::TokenHash,
    store::{GrantAdminRepo, GrantRecord, GrantRepo, StoreError, TimeCursor},
};

use super::{SeaStore, json_to_strings, strings_to_json};
use crate::{backend, changes::Topic, entity::grant, write_err};

pub(super) fn to_record(row: grant::Model) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: GrantId::new(row.id),
        client_id: ClientId::new(row.client_id),
        user_id: row.user_id.map(Subject::new),
        scopes: json_to_strings(row.scopes, "grant scopes")?,
        offline: row.offline,
        session_id: row.session_id.map(TokenHash::from_stored),
        auth_time: row.auth_time,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
        resource: row.resource,
        dpop_jkt: row.dpop_jkt,
        amr: Amr::from_stored(row.amr.as_deref()),
    })
}

#[async_trait]
impl GrantRepo for SeaStore {
    async fn create_grant(&self, record: &GrantRecord) -> Result<(), StoreError> {
        insert(&self.db, record).await
    }

    async fn find_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        grant::Entity::find_by_id(id.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn revoke_grant(
        &self,
        id: &GrantId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = grant::Entity::update_many()
            .col_expr(grant::Column::RevokedAt, Expr::value(now))
            .col_expr(grant::Column::RevokedReason, Expr::value(reason))
            .filter(grant::Column::Id.eq(id.as_str()))
            .filter(grant::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        self.revoked(result.rows_affected).await;
        Ok(result.rows_affected == 1)
    }
}

#[async_trait]
impl GrantAdminRepo for SeaStore {
    async fn list_client_grants(
        &self,
        client: &ClientId,
        user: Option<&Subject>,
        after: Option<&TimeCursor>,
        limit: u64,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let mut query = grant::Entity::find().filter(grant::Column::ClientId.eq(client.as_str()));
        if let Some(user) = user {
            query = query.filter(grant::Column::UserId.eq(user.as_str()));
        }
        if let Some(after) = after {
            let (time, id) = (grant::Column::CreatedAt, grant::Column::Id);
            query = query.filter(super::older_than(time, id, after));
        }
        query
            .order_by_desc(grant::Column::CreatedAt)
            .order_by_desc(grant::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect()
    }

    async fn list_user_grants(
        &self,
        user: &Subject,
        limit: u64,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        grant::Entity::find()
            .filter(grant::Column::UserId.eq(user.as_str()))
            .filter(grant::Column::RevokedAt.is_null())
            .order_by_desc(grant::Column::CreatedAt)
            .order_by_desc(grant::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect()
    }

    async fn revoke_user_client_grants(
        &self,
        user: &Subject,
        client: &ClientId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let update = revoking(reason, now)
            .filter(grant::Column::UserId.eq(user.as_str()))
            .filter(grant::Column::ClientId.eq(client.as_str()));
        let revoked = update.exec(&self.db).await.map_err(backend)?.rows_affected;
        self.revoked(revoked).await;
        Ok(revoked)
    }

    async fn revoke_user_grants(
        &self,
        user: &Subject,
        keep: Option<&TokenHash>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut update = revoking(reason, now).filter(grant::Column::UserId.eq(user.as_str()));
        if let Some(keep) = keep {
            update = update.filter(
                sea_orm::Condition::any()
                    .add(grant::Column::SessionId.is_null())
                    .add(grant::Column::SessionId.ne(keep.as_str())),
            );
        }
        let revoked = update.exec(&self.db).await.map_err(backend)?.rows_affected;
        self.revoked(revoked).await;
        Ok(revoked)
    }

    async fn revoke_session_grants(
        &self,
        session: &TokenHash,
        include_offline: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut update =
            revoking(reason, now).filter(grant::Column::SessionId.eq(session.as_str()));
        if !include_offline {
            update = update.filter(grant::Column::Offline.eq(false));
        }
        let revoked = update.exec(&self.db).await.map_err(backend)?.rows_affected;
        self.revoked(revoked).await;
        Ok(revoked)
    }
}

impl SeaStore {
    /// Tells every instance that `count` grants were revoked (their access tokens die now).
    async fn revoked(&self, count: u64) {
        if count > 0 {
            self.announce(Topic::Tokens).await;
        }
    }
}

/// `UPDATE grants SET revoked_at = now, revoked_reason = reason WHERE revoked_at IS NULL`, for
/// the caller to narrow.
fn revoking(reason: &str, now: DateTime<Utc>) -> sea_orm::UpdateMany<grant::Entity> {
    grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(now))
        .col_expr(grant::Column::RevokedReason, Expr::value(reason))
        .filter(grant::Column::RevokedAt.is_null())
}

/// Creates a grant on `db` (the pool or a transaction).
pub(super) async fn insert<C: sea_orm::ConnectionTrait>(
    db: &C,
    record: &GrantRecord,
) -> Result<(), StoreError> {
    grant::Entity::insert(grant::ActiveModel {
        id: Set(record.id.as_str().to_owned()),
        client_id: Set(record.client_id.as_str().to_owned()),
        user_id: Set(record.user_id.as_ref().map(|s| s.as_str().to_owned())),
        session_id: Set(record.session_id.as_ref().map(|h| h.as_str().to_owned())),
        scopes: Set(strings_to_json(&record.scopes)),
        offline: Set(record.offline),
        auth_time: Set(record.auth_time),
        created_at: Set(record.created_at),
        revoked_at: Set(record.revoked_at),
        revoked_reason: Set(None),
        resource: Set(record.resource.clone()),
        dpop_jkt: Set(record.dpop_jkt.clone()),
        amr: Set(Some(record.amr.to_stored())),
    })
    .exec_without_returning(db)
    .await
    .map_err(write_err("grant"))?;
    Ok(())
}
