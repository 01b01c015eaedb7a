//! Passkeys and their ceremonies.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use tessera_core::{
    Subject,
    secret::TokenHash,
    store::{PasskeyCeremony, PasskeyPurpose, PasskeyRecord, PasskeyRepo, StoreError},
};

use super::SeaStore;
use crate::{
    backend,
    entity::{passkey, passkey_ceremony as ceremony},
    write_err,
};

fn to_record(row: passkey::Model) -> PasskeyRecord {
    PasskeyRecord {
        credential_id: row.credential_id,
        user_id: Subject::new(row.user_id),
        user_handle: row.user_handle,
        name: row.name,
        public_key: row.public_key,
        counters: row.counters,
        synced: row.synced,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}

#[async_trait]
impl PasskeyRepo for SeaStore {
    async fn passkeys(&self, user: &Subject) -> Result<Vec<PasskeyRecord>, StoreError> {
        Ok(passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user.as_str()))
            .order_by_asc(passkey::Column::CreatedAt)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn find_passkey(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
        Ok(passkey::Entity::find_by_id(credential_id.to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record))
    }

    async fn add_passkey(&self, record: &PasskeyRecord) -> Result<(), StoreError> {
        passkey::Entity::insert(passkey::ActiveModel {
            credential_id: Set(record.credential_id.clone()),
            user_id: Set(record.user_id.as_str().to_owned()),
            user_handle: Set(record.user_handle.clone()),
            name: Set(record.name.clone()),
            public_key: Set(record.public_key.clone()),
            counters: Set(record.counters.clone()),
            synced: Set(record.synced),
            created_at: Set(record.created_at),
            last_used_at: Set(record.last_used_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("passkey"))?;
        Ok(())
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        previous: &str,
        counters: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = passkey::Entity::update_many()
            .col_expr(passkey::Column::Counters, Expr::value(counters))
            .col_expr(passkey::Column::LastUsedAt, Expr::value(Some(now)))
            .filter(passkey::Column::CredentialId.eq(credential_id))
            .filter(passkey::Column::Counters.eq(previous))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn rename_passkey(
        &self,
        user: &Subject,
        credential_id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let result = passkey::Entity::update_many()
            .col_expr(passkey::Column::Name, Expr::value(name))
            .filter(passkey::Column::CredentialId.eq(credential_id))
            .filter(passkey::Column::UserId.eq(user.as_str()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn remove_passkey(
        &self,
        user: &Subject,
        credential_id: &str,
    ) -> Result<bool, StoreError> {
        let result = passkey::Entity::delete_many()
            .filter(passkey::Column::CredentialId.eq(credential_id))
            .filter(passkey::Column::UserId.eq(user.as_str()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn remove_all_passkeys(&self, user: &Subject) -> Result<u64, StoreError> {
        Ok(passkey::Entity::delete_many()
            .filter(passkey::Column::UserId.eq(user.as_str()))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected)
    }

    async fn users_with_passkeys(&self, users: &[Subject]) -> Result<Vec<Subject>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: Vec<Subject> = passkey::Entity::find()
            .filter(passkey::Column::UserId.is_in(users.iter().map(|u| u.as_str().to_owned())))
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(|row| Subject::new(row.user_id))
            .collect();
        found.dedup();
        Ok(found)
    }

    async fn create_passkey_ceremony(&self, record: &PasskeyCeremony) -> Result<(), StoreError> {
        if let Some(user) = &record.user_id {
            ceremony::Entity::delete_many()
                .filter(ceremony::Column::UserId.eq(user.as_str()))
                .filter(ceremony::Column::Purpose.eq(record.purpose.as_str()))
                .exec(&self.db)
                .await
                .map_err(backend)?;
        }
        ceremony::Entity::insert(ceremony::ActiveModel {
            id_hash: Set(record.id_hash.as_str().to_owned()),
            purpose: Set(record.purpose.as_str().to_owned()),
            user_id: Set(record.user_id.as_ref().map(|u| u.as_str().to_owned())),
            state: Set(record.state.clone()),
            expires_at: Set(record.expires_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("passkey ceremony"))?;
        Ok(())
    }

    async fn take_passkey_ceremony(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        let Some(row) = ceremony::Entity::find_by_id(id_hash.as_str().to_owned())
            .filter(ceremony::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        // The delete is the check: of two answers to one challenge, one takes it.
        let deleted = ceremony::Entity::delete_by_id(row.id_hash.clone())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        if deleted.rows_affected != 1 {
            return Ok(None);
        }
        let Some(purpose) = PasskeyPurpose::parse(&row.purpose) else {
            return Err(StoreError::Corrupt {
                what: "passkey ceremony",
                detail: format!("unknown purpose {:?}", row.purpose),
            });
        };
        Ok(Some(PasskeyCeremony {
            id_hash: TokenHash::from_stored(row.id_hash),
            purpose,
            user_id: row.user_id.map(Subject::new),
            state: row.state,
            expires_at: row.expires_at,
        }))
    }
}
