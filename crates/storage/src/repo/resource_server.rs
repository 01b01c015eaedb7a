//! Resource servers (RFC 8707). Every write is announced as a change of `clients`: instances
//! keep the list beside their client cache (which resource a client introspects for, which
//! audiences exist) and drop both — and what they remembered of live tokens — together.

use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, sea_query::OnConflict};
use tessera_core::{
    ClientId,
    resource::ResourceServerRecord,
    store::{ResourceServerRepo, StoreError},
};

use super::{SeaStore, json_to_strings, strings_to_json};
use crate::{backend, changes::Topic, entity::resource_server as resource, write_err};

fn to_record(row: resource::Model) -> Result<ResourceServerRecord, StoreError> {
    Ok(ResourceServerRecord {
        identifier: row.identifier,
        name: row.name,
        scopes: json_to_strings(row.scopes, "resource server scopes")?,
        client_id: row.client_id.map(ClientId::new),
        created_at: row.created_at,
    })
}

#[async_trait]
impl ResourceServerRepo for SeaStore {
    async fn list_resource_servers(&self) -> Result<Vec<ResourceServerRecord>, StoreError> {
        resource::Entity::find()
            .order_by_asc(resource::Column::Identifier)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect()
    }

    async fn find_resource_server(
        &self,
        identifier: &str,
    ) -> Result<Option<ResourceServerRecord>, StoreError> {
        resource::Entity::find_by_id(identifier.to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn save_resource_server(&self, record: &ResourceServerRecord) -> Result<(), StoreError> {
        resource::Entity::insert(resource::ActiveModel {
            identifier: Set(record.identifier.clone()),
            name: Set(record.name.clone()),
            scopes: Set(strings_to_json(&record.scopes)),
            client_id: Set(record.client_id.as_ref().map(|c| c.as_str().to_owned())),
            created_at: Set(record.created_at),
        })
        .on_conflict(
            OnConflict::column(resource::Column::Identifier)
                .update_columns([
                    resource::Column::Name,
                    resource::Column::Scopes,
                    resource::Column::ClientId,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("resource server"))?;
        self.announce(Topic::Clients).await;
        Ok(())
    }

    async fn delete_resource_server(&self, identifier: &str) -> Result<bool, StoreError> {
        let deleted = resource::Entity::delete_by_id(identifier.to_owned())
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected
            > 0;
        if deleted {
            self.announce(Topic::Clients).await;
        }
        Ok(deleted)
    }
}
