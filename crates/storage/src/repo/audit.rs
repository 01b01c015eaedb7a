//! The audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tessera_core::{
    secret::random_id,
    store::{AuditEvent, AuditRepo, StoreError},
};

use super::SeaStore;
use crate::{backend, entity::audit_event, write_err};

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
        Ok(rows
            .into_iter()
            .map(|row| AuditEvent {
                occurred_at: row.occurred_at,
                kind: row.kind,
                actor: row.actor,
                client_id: row.client_id,
                user_id: row.user_id,
                ip: row.ip,
                user_agent: row.user_agent,
                details: row.details,
            })
            .collect())
    }
}
