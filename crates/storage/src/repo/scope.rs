//! The scope registry.

use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, sea_query::OnConflict};
use tessera_core::store::{ScopeRecord, ScopeRepo, StoreError};

use super::SeaStore;
use crate::{backend, entity::scope, write_err};

fn to_record(row: scope::Model) -> ScopeRecord {
    ScopeRecord {
        name: row.name,
        description: row.description,
        client_credentials: row.client_credentials,
        created_at: row.created_at,
    }
}

#[async_trait]
impl ScopeRepo for SeaStore {
    async fn list_scopes(&self) -> Result<Vec<ScopeRecord>, StoreError> {
        Ok(scope::Entity::find()
            .order_by_asc(scope::Column::Name)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn find_scope(&self, name: &str) -> Result<Option<ScopeRecord>, StoreError> {
        Ok(scope::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record))
    }

    async fn save_scope(&self, record: &ScopeRecord) -> Result<(), StoreError> {
        scope::Entity::insert(scope::ActiveModel {
            name: Set(record.name.clone()),
            description: Set(record.description.clone()),
            client_credentials: Set(record.client_credentials),
            created_at: Set(record.created_at),
        })
        .on_conflict(
            OnConflict::column(scope::Column::Name)
                .update_columns([scope::Column::Description, scope::Column::ClientCredentials])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("scope"))?;
        Ok(())
    }

    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
        Ok(scope::Entity::delete_by_id(name.to_owned())
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected
            == 1)
    }
}
