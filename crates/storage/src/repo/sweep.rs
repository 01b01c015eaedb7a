//! Sweeping rows that can no longer matter (see [`SweepRepo`]).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use tessera_core::store::{StoreError, SweepRepo, Swept};

use super::SeaStore;
use crate::{
    backend,
    entity::{
        authorization_code, authorization_request, browser_session, device_authorization,
        email_link, known_device, passkey_ceremony, refresh_token, revoked_access_token,
        second_factor_challenge, sign_in_throttle, used_assertion_jti,
    },
};

#[async_trait]
impl SweepRepo for SeaStore {
    async fn sweep_expired(
        &self,
        now: DateTime<Utc>,
        keep_after_expiry: Duration,
    ) -> Result<Swept, StoreError> {
        let before = now - keep_after_expiry;
        let codes = authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let refresh_tokens = refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let sessions = browser_session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(browser_session::Column::EndedAt.lt(before))
                    .add(browser_session::Column::IdleExpiresAt.lt(before))
                    .add(browser_session::Column::AbsoluteExpiresAt.lt(before)),
            )
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let revoked_access_tokens = revoked_access_token::Entity::delete_many()
            .filter(revoked_access_token::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let assertion_jtis = used_assertion_jti::Entity::delete_many()
            .filter(used_assertion_jti::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let authorization_requests = authorization_request::Entity::delete_many()
            .filter(authorization_request::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let throttle_counters = sign_in_throttle::Entity::delete_many()
            .filter(sign_in_throttle::Column::WindowEndsAt.lt(now))
            .filter(
                Condition::any()
                    .add(sign_in_throttle::Column::BlockedUntil.is_null())
                    .add(sign_in_throttle::Column::BlockedUntil.lt(now)),
            )
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let device_authorizations = device_authorization::Entity::delete_many()
            .filter(device_authorization::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let second_factor_challenges = second_factor_challenge::Entity::delete_many()
            .filter(second_factor_challenge::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let known_devices = known_device::Entity::delete_many()
            .filter(known_device::Column::LastSeen.lt(now - Duration::days(365)))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let email_links = email_link::Entity::delete_many()
            .filter(email_link::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        let passkey_ceremonies = passkey_ceremony::Entity::delete_many()
            .filter(passkey_ceremony::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected;
        Ok(Swept {
            passkey_ceremonies,
            email_links,
            known_devices,
            second_factor_challenges,
            device_authorizations,
            authorization_requests,
            throttle_counters,
            codes,
            refresh_tokens,
            sessions,
            revoked_access_tokens,
            assertion_jtis,
        })
    }
}
