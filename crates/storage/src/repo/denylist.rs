//! The access-token denylist: `jti`s of revoked JWT access tokens, kept until the tokens expire.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tessera_core::{
    GrantId,
    store::{AccessTokenDenylist, StoreError},
};

use super::SeaStore;
use crate::{backend, changes::Topic, entity::revoked_access_token as revoked};

#[async_trait]
impl AccessTokenDenylist for SeaStore {
    async fn deny_access_token(
        &self,
        jti: &str,
        grant: Option<&GrantId>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Rows of tokens that have expired anyway are dead weight: a verifier refuses them first.
        revoked::Entity::delete_many()
            .filter(revoked::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        revoked::Entity::insert(revoked::ActiveModel {
            jti: Set(jti.to_owned()),
            grant_id: Set(grant.map(|g| g.as_str().to_owned())),
            revoked_at: Set(now),
            expires_at: Set(expires_at),
        })
        .on_conflict_do_nothing_on([revoked::Column::Jti])
        .exec_without_returning(&self.db)
        .await
        .map_err(backend)?;
        self.announce(Topic::Tokens).await;
        Ok(())
    }

    async fn access_token_denied(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(revoked::Entity::find_by_id(jti.to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .is_some())
    }
}
