//! The devices users signed in from.

use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tessera_core::{
    Subject,
    secret::TokenHash,
    signals::KnownDevice,
    store::{KNOWN_DEVICES_READ, KnownDeviceRepo, StoreError},
};

use super::SeaStore;
use crate::{backend, entity::known_device as device, write_err};

#[async_trait]
impl KnownDeviceRepo for SeaStore {
    async fn known_devices(&self, user: &Subject) -> Result<Vec<KnownDevice>, StoreError> {
        Ok(device::Entity::find()
            .filter(device::Column::UserId.eq(user.as_str()))
            .order_by_desc(device::Column::LastSeen)
            .limit(KNOWN_DEVICES_READ)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(|row| KnownDevice {
                fingerprint: TokenHash::from_stored(row.fingerprint),
                label: row.label,
                network: row.network,
                first_seen: row.first_seen,
                last_seen: row.last_seen,
            })
            .collect())
    }

    async fn remember_device(&self, user: &Subject, known: &KnownDevice) -> Result<(), StoreError> {
        let seen = device::Entity::update_many()
            .col_expr(device::Column::LastSeen, Expr::value(known.last_seen))
            .filter(device::Column::UserId.eq(user.as_str()))
            .filter(device::Column::Fingerprint.eq(known.fingerprint.as_str()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        if seen.rows_affected == 1 {
            return Ok(());
        }
        let inserted = device::Entity::insert(device::ActiveModel {
            user_id: Set(user.as_str().to_owned()),
            fingerprint: Set(known.fingerprint.as_str().to_owned()),
            label: Set(known.label.clone()),
            network: Set(known.network.clone()),
            first_seen: Set(known.first_seen),
            last_seen: Set(known.last_seen),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("known device"));
        match inserted {
            // Another sign-in from the same device inserted it first: it is known.
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
