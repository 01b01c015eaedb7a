//! The database key store's rows. The set changes as a whole, guarded by its version in
//! `change_versions` (topic `keys`): two instances creating the first keys at once, or an
//! operator rotating on one while another starts, end with one set, not a mix.

use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, TransactionTrait};
use tessera_core::{
    Kid,
    store::{SigningKeyRecord, SigningKeyRepo, SigningKeySet, StoreError},
};

use super::SeaStore;
use crate::{
    backend,
    changes::{Topic, bump},
    entity::signing_key,
    write_err,
};

fn to_record(row: signing_key::Model) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        alg: super::parse_alg(&row.alg, "signing key algorithm")?,
        kid: Kid::new(row.kid),
        created: row.created,
        activates_at: row.activates_at,
        retires_at: row.retires_at,
        unpublish_at: row.unpublish_at,
        private_key_pem: row.private_key_pem,
    })
}

#[async_trait]
impl SigningKeyRepo for SeaStore {
    async fn signing_keys(&self) -> Result<SigningKeySet, StoreError> {
        // Rows and version from one snapshot, so that a writer handing the version back never
        // overwrites a change it did not see.
        let txn = self.db.begin().await.map_err(backend)?;
        let version = crate::entity::change_version::Entity::find_by_id(Topic::Keys.as_str())
            .one(&txn)
            .await
            .map_err(backend)?
            .map_or(0, |row| row.version);
        let rows = signing_key::Entity::find()
            .order_by_asc(signing_key::Column::Position)
            .all(&txn)
            .await
            .map_err(backend)?;
        txn.commit().await.map_err(backend)?;
        Ok(SigningKeySet {
            version,
            keys: rows.into_iter().map(to_record).collect::<Result<_, _>>()?,
        })
    }

    async fn signing_keys_version(&self) -> Result<i64, StoreError> {
        self.change_version(Topic::Keys).await
    }

    async fn replace_signing_keys(
        &self,
        version: i64,
        keys: &[SigningKeyRecord],
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(backend)?;
        // The guarded bump comes first: it takes the row lock (PostgreSQL) or the write lock
        // (SQLite), so a second writer waits here and then finds the version moved on.
        if !bump(&txn, Topic::Keys, Some(version))
            .await
            .map_err(backend)?
        {
            return Ok(false);
        }
        signing_key::Entity::delete_many()
            .exec(&txn)
            .await
            .map_err(backend)?;
        if !keys.is_empty() {
            signing_key::Entity::insert_many(keys.iter().zip(0..).map(|(key, position)| {
                signing_key::ActiveModel {
                    kid: Set(key.kid.to_string()),
                    position: Set(position),
                    alg: Set(key.alg.as_str().to_owned()),
                    created: Set(key.created),
                    activates_at: Set(key.activates_at),
                    retires_at: Set(key.retires_at),
                    unpublish_at: Set(key.unpublish_at),
                    private_key_pem: Set(key.private_key_pem.clone()),
                }
            }))
            .exec_without_returning(&txn)
            .await
            .map_err(write_err("signing key"))?;
        }
        txn.commit().await.map_err(backend)?;
        self.changed_here(Topic::Keys);
        Ok(true)
    }
}
