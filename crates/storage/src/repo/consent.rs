//! Remembered consent.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use tessera_core::{
    ClientId, Subject,
    store::{ConsentRepo, StoreError},
};

use super::{SeaStore, json_to_strings, strings_to_json};
use crate::{backend, entity::consent, write_err};

#[async_trait]
impl ConsentRepo for SeaStore {
    async fn find_consent(
        &self,
        user: &Subject,
        client: &ClientId,
    ) -> Result<Option<Vec<String>>, StoreError> {
        consent::Entity::find_by_id((user.as_str().to_owned(), client.as_str().to_owned()))
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(|row| json_to_strings(row.scopes, "consent scopes"))
            .transpose()
    }

    async fn list_user_consents(
        &self,
        user: &Subject,
    ) -> Result<Vec<(ClientId, Vec<String>, DateTime<Utc>)>, StoreError> {
        consent::Entity::find()
            .filter(consent::Column::UserId.eq(user.as_str()))
            .order_by_desc(consent::Column::UpdatedAt)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(|row| {
                Ok((
                    ClientId::new(row.client_id),
                    json_to_strings(row.scopes, "consent scopes")?,
                    row.updated_at,
                ))
            })
            .collect()
    }

    async fn delete_consent(&self, user: &Subject, client: &ClientId) -> Result<bool, StoreError> {
        let result =
            consent::Entity::delete_by_id((user.as_str().to_owned(), client.as_str().to_owned()))
                .exec(&self.db)
                .await
                .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn save_consent(
        &self,
        user: &Subject,
        client: &ClientId,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // One upsert: concurrent consents from two tabs can not collide on the primary key.
        consent::Entity::insert(consent::ActiveModel {
            user_id: Set(user.as_str().to_owned()),
            client_id: Set(client.as_str().to_owned()),
            scopes: Set(strings_to_json(scopes)),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([consent::Column::UserId, consent::Column::ClientId])
                .update_columns([consent::Column::Scopes, consent::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("consent"))?;
        Ok(())
    }
}
