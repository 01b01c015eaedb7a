//! Sign-in throttle counters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use tessera_core::{
    secret::TokenHash,
    store::{AttemptWaits, StoreError, ThrottleCounterRecord, ThrottleRepo},
};

use super::SeaStore;
use crate::{backend, entity::sign_in_throttle as counter, write_err};

fn to_record(row: counter::Model) -> ThrottleCounterRecord {
    ThrottleCounterRecord {
        key_hash: TokenHash::from_stored(row.key_hash),
        kind: row.kind,
        label: row.label,
        failures: u32::try_from(row.failures).unwrap_or(0),
        window_started_at: row.window_started_at,
        window_ends_at: row.window_ends_at,
        blocked_until: row.blocked_until,
    }
}

fn stored_count(failures: u32) -> i32 {
    i32::try_from(failures).unwrap_or(i32::MAX)
}

#[async_trait]
impl ThrottleRepo for SeaStore {
    async fn count_attempt(
        &self,
        key_hash: &TokenHash,
        now: DateTime<Utc>,
        waits: &AttemptWaits,
    ) -> Result<bool, StoreError> {
        let failures = || Expr::col(counter::Column::Failures);
        let no_wait = Expr::value(Option::<DateTime<Utc>>::None);
        // The wait after this attempt, from the count before it (`failures`).
        let blocked_until = match waits.blocked_until.split_last() {
            None => no_wait,
            Some((last, steps)) => {
                let mut case = Expr::case(failures().lt(stored_count(waits.free)), no_wait);
                for (i, until) in steps.iter().enumerate() {
                    let before = waits
                        .free
                        .saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
                    case = case.case(failures().eq(stored_count(before)), Expr::value(*until));
                }
                case.finally(Expr::value(*last)).into()
            }
        };
        let mut update = counter::Entity::update_many()
            .col_expr(counter::Column::Failures, failures().add(1))
            .col_expr(counter::Column::BlockedUntil, blocked_until)
            .filter(counter::Column::KeyHash.eq(key_hash.as_str()))
            .filter(counter::Column::WindowEndsAt.gt(now))
            .filter(
                Condition::any()
                    .add(counter::Column::BlockedUntil.is_null())
                    .add(counter::Column::BlockedUntil.lte(now)),
            );
        if let Some(max) = waits.max_failures {
            update = update.filter(counter::Column::Failures.lt(stored_count(max)));
        }
        let result = update.exec(&self.db).await.map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn find_counter(
        &self,
        key_hash: &TokenHash,
    ) -> Result<Option<ThrottleCounterRecord>, StoreError> {
        Ok(counter::Entity::find_by_id(key_hash.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record))
    }

    async fn insert_counter(&self, record: &ThrottleCounterRecord) -> Result<(), StoreError> {
        counter::Entity::insert(counter::ActiveModel {
            key_hash: Set(record.key_hash.as_str().to_owned()),
            kind: Set(record.kind.clone()),
            label: Set(record.label.clone()),
            failures: Set(stored_count(record.failures)),
            window_started_at: Set(record.window_started_at),
            window_ends_at: Set(record.window_ends_at),
            blocked_until: Set(record.blocked_until),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("throttle counter"))?;
        Ok(())
    }

    async fn replace_counter(
        &self,
        record: &ThrottleCounterRecord,
        expected_failures: u32,
        expected_window: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = counter::Entity::update_many()
            .col_expr(
                counter::Column::Failures,
                Expr::value(stored_count(record.failures)),
            )
            .col_expr(
                counter::Column::WindowStartedAt,
                Expr::value(record.window_started_at),
            )
            .col_expr(
                counter::Column::WindowEndsAt,
                Expr::value(record.window_ends_at),
            )
            .col_expr(
                counter::Column::BlockedUntil,
                Expr::value(record.blocked_until),
            )
            .col_expr(counter::Column::Label, Expr::value(record.label.clone()))
            .filter(counter::Column::KeyHash.eq(record.key_hash.as_str()))
            .filter(counter::Column::Failures.eq(stored_count(expected_failures)))
            .filter(counter::Column::WindowStartedAt.eq(expected_window))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn delete_counter(&self, key_hash: &TokenHash) -> Result<bool, StoreError> {
        let result = counter::Entity::delete_by_id(key_hash.as_str().to_owned())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected == 1)
    }

    async fn blocked_counters(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ThrottleCounterRecord>, StoreError> {
        Ok(counter::Entity::find()
            .filter(counter::Column::Kind.eq(kind))
            .filter(counter::Column::BlockedUntil.gt(now))
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn list_counters(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ThrottleCounterRecord>, StoreError> {
        Ok(counter::Entity::find()
            .filter(counter::Column::WindowEndsAt.gt(now))
            .order_by_desc(counter::Column::BlockedUntil)
            .order_by_desc(counter::Column::Failures)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn count_blocked(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        counter::Entity::find()
            .filter(counter::Column::WindowEndsAt.gt(now))
            .filter(counter::Column::BlockedUntil.gt(now))
            .count(&self.db)
            .await
            .map_err(backend)
    }

    async fn account_counters(
        &self,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<ThrottleCounterRecord>, StoreError> {
        use sea_orm::sea_query::LikeExpr;
        let pattern = format!("{} from %", crate::like_literal(label));
        let per_address = LikeExpr::new(pattern).escape('\\');
        let of_account = Condition::any()
            .add(
                Condition::all()
                    .add(counter::Column::Kind.eq("account"))
                    .add(counter::Column::Label.eq(label)),
            )
            .add(
                Condition::all()
                    .add(counter::Column::Kind.eq("account_address"))
                    .add(Expr::col(counter::Column::Label).like(per_address)),
            );
        Ok(counter::Entity::find()
            .filter(counter::Column::WindowEndsAt.gt(now))
            .filter(of_account)
            .order_by_desc(counter::Column::BlockedUntil)
            .order_by_desc(counter::Column::Failures)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect())
    }
}
