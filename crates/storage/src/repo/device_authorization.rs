//! Device authorizations (RFC 8628).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr,
};
use tessera_core::{
    ClientId, Subject,
    device::{
        DeviceAuthorizationRecord, DeviceDecision, DeviceStatus, MAX_POLL_INTERVAL_SECS,
        SLOW_DOWN_SECS,
    },
    secret::TokenHash,
    store::{Consumption, DeviceAuthorizationRepo, GrantRecord, RefreshTokenRecord, StoreError},
};

use super::{SeaStore, json_to_strings, strings_to_json};
use crate::{backend, entity::device_authorization as device, write_err};

fn to_record(row: device::Model) -> Result<DeviceAuthorizationRecord, StoreError> {
    let status = DeviceStatus::parse(&row.status).ok_or_else(|| StoreError::Corrupt {
        what: "device authorization status",
        detail: row.status.clone(),
    })?;
    Ok(DeviceAuthorizationRecord {
        device_code_hash: TokenHash::from_stored(row.device_code_hash),
        user_code_hash: TokenHash::from_stored(row.user_code_hash),
        client_id: ClientId::new(row.client_id),
        scopes: json_to_strings(row.scopes, "device authorization scopes")?,
        status,
        user_id: row.user_id.map(Subject::new),
        auth_time: row.auth_time,
        interval_secs: row.interval_secs,
        next_poll_at: row.next_poll_at,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

async fn find<C: sea_orm::ConnectionTrait>(
    db: &C,
    device_code_hash: &TokenHash,
) -> Result<Option<DeviceAuthorizationRecord>, StoreError> {
    device::Entity::find_by_id(device_code_hash.as_str().to_owned())
        .one(db)
        .await
        .map_err(backend)?
        .map(to_record)
        .transpose()
}

#[async_trait]
impl DeviceAuthorizationRepo for SeaStore {
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> Result<(), StoreError> {
        device::Entity::insert(device::ActiveModel {
            device_code_hash: Set(record.device_code_hash.as_str().to_owned()),
            user_code_hash: Set(record.user_code_hash.as_str().to_owned()),
            client_id: Set(record.client_id.as_str().to_owned()),
            scopes: Set(strings_to_json(&record.scopes)),
            status: Set(record.status.as_str().to_owned()),
            user_id: Set(record.user_id.as_ref().map(|u| u.as_str().to_owned())),
            auth_time: Set(record.auth_time),
            interval_secs: Set(record.interval_secs),
            next_poll_at: Set(record.next_poll_at),
            created_at: Set(record.created_at),
            expires_at: Set(record.expires_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("device authorization"))?;
        Ok(())
    }

    async fn find_pending_device_authorization(
        &self,
        user_code_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceAuthorizationRecord>, StoreError> {
        device::Entity::find()
            .filter(device::Column::UserCodeHash.eq(user_code_hash.as_str()))
            .filter(device::Column::Status.eq(DeviceStatus::Pending.as_str()))
            .filter(device::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn decide_device_authorization(
        &self,
        user_code_hash: &TokenHash,
        decision: &DeviceDecision,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut update = device::Entity::update_many();
        update = match decision {
            DeviceDecision::Approve { user_id, auth_time } => update
                .col_expr(
                    device::Column::Status,
                    Expr::value(DeviceStatus::Approved.as_str()),
                )
                .col_expr(device::Column::UserId, Expr::value(user_id.as_str()))
                .col_expr(device::Column::AuthTime, Expr::value(*auth_time)),
            DeviceDecision::Deny => update.col_expr(
                device::Column::Status,
                Expr::value(DeviceStatus::Denied.as_str()),
            ),
        };
        let result = update
            .filter(device::Column::UserCodeHash.eq(user_code_hash.as_str()))
            .filter(device::Column::Status.eq(DeviceStatus::Pending.as_str()))
            .filter(device::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(write_err("device authorization"))?;
        Ok(result.rows_affected == 1)
    }

    async fn poll_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        client: &ClientId,
        now: DateTime<Utc>,
    ) -> Result<Option<(DeviceAuthorizationRecord, bool)>, StoreError> {
        let Some(mut record) = find(&self.db, device_code_hash).await? else {
            return Ok(None);
        };
        if record.client_id != *client {
            return Ok(Some((record, true)));
        }
        let key = device::Column::DeviceCodeHash.eq(device_code_hash.as_str());
        if !record.polled_too_soon(now) {
            // In time: the next poll is due an interval from now — unless another poll of the same
            // code (on any instance) got here first since the read, which makes this one too soon.
            let next = now + Duration::seconds(i64::from(record.interval_secs));
            let taken = device::Entity::update_many()
                .col_expr(device::Column::NextPollAt, Expr::value(next))
                .filter(key.clone())
                .filter(device::Column::NextPollAt.eq(record.next_poll_at))
                .exec(&self.db)
                .await
                .map_err(backend)?;
            if taken.rows_affected == 1 {
                record.next_poll_at = next;
                return Ok(Some((record, true)));
            }
        }
        // Too soon (RFC 8628 §3.5): the interval grows for this and every later poll.
        let interval = (record.interval_secs + SLOW_DOWN_SECS).min(MAX_POLL_INTERVAL_SECS);
        let next = now + Duration::seconds(i64::from(interval));
        device::Entity::update_many()
            .col_expr(device::Column::IntervalSecs, Expr::value(interval))
            .col_expr(device::Column::NextPollAt, Expr::value(next))
            .filter(key)
            .exec(&self.db)
            .await
            .map_err(backend)?;
        record.interval_secs = interval;
        record.next_poll_at = next;
        Ok(Some((record, false)))
    }

    async fn redeem_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Consumption<DeviceAuthorizationRecord>, StoreError> {
        // Every early return drops the transaction, which rolls the redemption back.
        let txn = self.db.begin().await.map_err(backend)?;
        let won = device::Entity::update_many()
            .col_expr(
                device::Column::Status,
                Expr::value(DeviceStatus::Redeemed.as_str()),
            )
            .filter(device::Column::DeviceCodeHash.eq(device_code_hash.as_str()))
            .filter(device::Column::Status.eq(DeviceStatus::Approved.as_str()))
            .filter(device::Column::ExpiresAt.gt(now))
            .exec_with_returning(&txn)
            .await
            .map_err(backend)?
            .into_iter()
            .next();
        let Some(row) = won else {
            let outcome = match find(&txn, device_code_hash).await? {
                None => Consumption::NotFound,
                Some(record) if record.status == DeviceStatus::Redeemed => {
                    Consumption::AlreadyConsumed(record)
                }
                Some(record) if record.expires_at <= now => Consumption::Expired,
                Some(_) => Consumption::NotFound,
            };
            return Ok(outcome);
        };
        super::grant::insert(&txn, grant).await?;
        if let Some(refresh) = refresh {
            super::refresh_token::insert(&txn, refresh, false).await?;
        }
        txn.commit().await.map_err(backend)?;
        Ok(Consumption::Consumed(to_record(row)?))
    }
}
