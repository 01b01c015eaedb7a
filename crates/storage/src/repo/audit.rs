//! The audit log (searched newest first with keyset paging on `(occurred_at, id)`), and the
//! dashboard's hourly activity counts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};
use tessera_core::{
    secret::random_id,
    store::{
        ActivityCount, ActivityRepo, AuditEvent, AuditRepo, AuditSearch, FoundEvent, SessionKind,
        StoreError, Totals,
    },
};

use super::SeaStore;
use crate::{
    backend,
    entity::{activity_count, audit_event, browser_session, client, user},
    write_err,
};

fn event_of(row: audit_event::Model) -> FoundEvent {
    FoundEvent {
        id: row.id,
        event: AuditEvent {
            occurred_at: row.occurred_at,
            kind: row.kind,
            actor: row.actor,
            client_id: row.client_id,
            user_id: row.user_id,
            ip: row.ip,
            user_agent: row.user_agent,
            details: row.details,
        },
    }
}

#[async_trait]
impl AuditRepo for SeaStore {
    async fn delete_events_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(audit_event::Entity::delete_many()
            .filter(audit_event::Column::OccurredAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected)
    }

    async fn record_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        audit_event::Entity::insert(audit_event::ActiveModel {
            id: Set(random_id()),
            occurred_at: Set(event.occurred_at),
            kind: Set(event.kind.clone()),
            actor: Set(event.actor.clone()),
            client_id: Set(event.client_id.clone()),
            user_id: Set(event.user_id.clone()),
            ip: Set(event.ip.clone()),
            user_agent: Set(event.user_agent.clone()),
            details: Set(event.details.clone()),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("audit event"))?;
        Ok(())
    }

    async fn recent_events(
        &self,
        client_id: Option<&str>,
        user_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut query = audit_event::Entity::find();
        if let Some(client_id) = client_id {
            query = query.filter(audit_event::Column::ClientId.eq(client_id));
        }
        if let Some(user_id) = user_id {
            query = query.filter(audit_event::Column::UserId.eq(user_id));
        }
        let rows = query
            .order_by_desc(audit_event::Column::OccurredAt)
            .order_by_desc(audit_event::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(|row| event_of(row).event).collect())
    }

    async fn search_events(
        &self,
        search: &AuditSearch,
        limit: u64,
    ) -> Result<Vec<FoundEvent>, StoreError> {
        use audit_event::Column;
        let mut query = audit_event::Entity::find();
        if let Some(kind) = &search.kind {
            query = query.filter(Column::Kind.eq(kind.as_str()));
        }
        if let Some(client_id) = &search.client_id {
            query = query.filter(Column::ClientId.eq(client_id.as_str()));
        }
        if let Some(user_id) = &search.user_id {
            query = query.filter(Column::UserId.eq(user_id.as_str()));
        }
        if let Some(since) = search.since {
            query = query.filter(Column::OccurredAt.gte(since));
        }
        if let Some(until) = search.until {
            query = query.filter(Column::OccurredAt.lt(until));
        }
        if let Some(after) = &search.after {
            query = query.filter(super::older_than(Column::OccurredAt, Column::Id, after));
        }
        let rows = query
            .order_by_desc(Column::OccurredAt)
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(event_of).collect())
    }
}

#[async_trait]
impl ActivityRepo for SeaStore {
    async fn add_activity(
        &self,
        hour: DateTime<Utc>,
        counts: &[(&str, u64)],
    ) -> Result<(), StoreError> {
        let rows: Vec<_> = counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(series, n)| activity_count::ActiveModel {
                hour: Set(hour),
                series: Set((*series).to_owned()),
                count: Set(i64::try_from(*n).unwrap_or(i64::MAX)),
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        // Instances add to the same row: `count = count + excluded.count` (both stores).
        activity_count::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([activity_count::Column::Hour, activity_count::Column::Series])
                    .value(
                        activity_count::Column::Count,
                        Expr::cust("activity_counts.count + excluded.count"),
                    )
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(write_err("activity counts"))?;
        Ok(())
    }

    async fn activity_since(&self, since: DateTime<Utc>) -> Result<Vec<ActivityCount>, StoreError> {
        let rows = activity_count::Entity::find()
            .filter(activity_count::Column::Hour.gte(since))
            .order_by_asc(activity_count::Column::Hour)
            .all(&self.db)
            .await
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|row| ActivityCount {
                hour: row.hour,
                series: row.series,
                count: row.count,
            })
            .collect())
    }

    async fn delete_activity_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(activity_count::Entity::delete_many()
            .filter(activity_count::Column::Hour.lt(before))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected)
    }

    async fn totals(&self, now: DateTime<Utc>) -> Result<Totals, StoreError> {
        use browser_session::Column as S;
        let users = user::Entity::find()
            .count(&self.db)
            .await
            .map_err(backend)?;
        let clients = client::Entity::find()
            .count(&self.db)
            .await
            .map_err(backend)?;
        let sessions = browser_session::Entity::find()
            .filter(S::Kind.eq(SessionKind::User.as_str()))
            .filter(S::EndedAt.is_null())
            .filter(S::IdleExpiresAt.gt(now))
            .filter(S::AbsoluteExpiresAt.gt(now))
            .count(&self.db)
            .await
            .map_err(backend)?;
        Ok(Totals {
            users,
            clients,
            sessions,
        })
    }
}
