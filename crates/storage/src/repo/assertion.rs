//! The JWT assertion replay store (RFC 7523 §3 item 7: "the authorization server MAY ensure that
//! JWTs are not replayed by maintaining the set of used jti values for the length of time for
//! which the JWT would be considered valid").

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TryInsertResult};
use tessera_core::store::{AssertionReplayRepo, StoreError};

use super::SeaStore;
use crate::{backend, entity::used_assertion_jti as jti};

#[async_trait]
impl AssertionReplayRepo for SeaStore {
    async fn record_once(
        &self,
        issuer: &str,
        jti_value: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Forget jtis whose assertions have expired: they can not be replayed any more.
        jti::Entity::delete_many()
            .filter(jti::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        // INSERT … ON CONFLICT DO NOTHING: the primary key (issuer, jti) decides, atomically.
        let inserted = jti::Entity::insert(jti::ActiveModel {
            issuer: Set(issuer.to_owned()),
            jti: Set(jti_value.to_owned()),
            expires_at: Set(expires_at),
        })
        .on_conflict_do_nothing_on([jti::Column::Issuer, jti::Column::Jti])
        .exec_without_returning(&self.db)
        .await
        .map_err(backend)?;
        Ok(matches!(inserted, TryInsertResult::Inserted(1)))
    }
}
