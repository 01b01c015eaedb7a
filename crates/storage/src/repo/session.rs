//! Browser sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tessera_core::{
    Subject,
    amr::Amr,
    secret::TokenHash,
    store::{BrowserSessionRecord, SessionKind, SessionRepo, StoreError, TimeCursor},
};

use super::SeaStore;
use crate::{backend, entity::browser_session as session, write_err};

fn to_record(row: session::Model) -> BrowserSessionRecord {
    BrowserSessionRecord {
        id_hash: TokenHash::from_stored(row.id_hash),
        user_id: Subject::new(row.user_id),
        auth_time: row.auth_time,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        idle_expires_at: row.idle_expires_at,
        absolute_expires_at: row.absolute_expires_at,
        user_agent: row.user_agent,
        ip: row.ip,
        ended_at: row.ended_at,
        kind: SessionKind::parse(&row.kind),
        amr: Amr::from_stored(row.amr.as_deref()),
    }
}

#[async_trait]
impl SessionRepo for SeaStore {
    async fn create_session(&self, record: &BrowserSessionRecord) -> Result<(), StoreError> {
        session::Entity::insert(session::ActiveModel {
            id_hash: Set(record.id_hash.as_str().to_owned()),
            user_id: Set(record.user_id.as_str().to_owned()),
            auth_time: Set(record.auth_time),
            created_at: Set(record.created_at),
            last_seen_at: Set(record.last_seen_at),
            idle_expires_at: Set(record.idle_expires_at),
            absolute_expires_at: Set(record.absolute_expires_at),
            user_agent: Set(record.user_agent.clone()),
            ip: Set(record.ip.clone()),
            ended_at: Set(record.ended_at),
            kind: Set(record.kind.as_str().to_owned()),
            amr: Set(Some(record.amr.to_stored())),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("session"))?;
        Ok(())
    }

    async fn find_session(
        &self,
        id_hash: &TokenHash,
    ) -> Result<Option<BrowserSessionRecord>, StoreError> {
        Ok(session::Entity::find_by_id(id_hash.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record))
    }

    async fn touch_session(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .col_expr(session::Column::IdleExpiresAt, Expr::value(idle_expires_at))
            .filter(session::Column::IdHash.eq(id_hash.as_str()))
            .filter(session::Column::EndedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn end_session(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .filter(session::Column::IdHash.eq(id_hash.as_str()))
            .filter(session::Column::EndedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn list_user_sessions(
        &self,
        user: &Subject,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrowserSessionRecord>, StoreError> {
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(user.as_str()))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::IdleExpiresAt.gt(now))
            .filter(session::Column::AbsoluteExpiresAt.gt(now))
            .order_by_desc(session::Column::LastSeenAt)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn list_sessions(
        &self,
        kind: SessionKind,
        now: DateTime<Utc>,
        after: Option<&TimeCursor>,
        limit: u64,
    ) -> Result<Vec<BrowserSessionRecord>, StoreError> {
        let mut query = session::Entity::find()
            .filter(session::Column::Kind.eq(kind.as_str()))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::IdleExpiresAt.gt(now))
            .filter(session::Column::AbsoluteExpiresAt.gt(now));
        if let Some(after) = after {
            let (time, id) = (session::Column::LastSeenAt, session::Column::IdHash);
            query = query.filter(super::older_than(time, id, after));
        }
        Ok(query
            .order_by_desc(session::Column::LastSeenAt)
            .order_by_desc(session::Column::IdHash)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn end_user_sessions(
        &self,
        user: &Subject,
        keep: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut update = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .filter(session::Column::UserId.eq(user.as_str()))
            .filter(session::Column::EndedAt.is_null());
        if let Some(keep) = keep {
            update = update.filter(session::Column::IdHash.ne(keep.as_str()));
        }
        Ok(update.exec(&self.db).await.map_err(backend)?.rows_affected)
    }
}
