//! Trusted external JWT issuers (the jwt-bearer grant, RFC 7523 §2.1).

use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tessera_core::{
    ClientId, SigningAlg,
    store::{StoreError, TrustedIssuerRecord, TrustedIssuerRepo},
};

use super::{SeaStore, json_to_strings, strings_to_json, updated_one};
use crate::{backend, entity::trusted_jwt_issuer as issuer, write_err};

fn to_record(row: issuer::Model) -> Result<TrustedIssuerRecord, StoreError> {
    let allowed_algs = json_to_strings(row.allowed_algs, "trusted issuer algs")?
        .iter()
        .map(|alg| {
            alg.parse::<SigningAlg>()
                .map_err(|err| StoreError::Corrupt {
                    what: "trusted issuer algs",
                    detail: err.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(TrustedIssuerRecord {
        id: row.id,
        issuer: row.issuer,
        jwks: row.jwks,
        jwks_uri: row.jwks_uri,
        allowed_algs,
        allowed_subjects: json_to_strings(row.allowed_subjects, "trusted issuer subjects")?,
        allowed_scopes: json_to_strings(row.allowed_scopes, "trusted issuer scopes")?,
        allowed_clients: json_to_strings(row.allowed_clients, "trusted issuer clients")?
            .into_iter()
            .map(ClientId::new)
            .collect(),
        enabled: row.enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_active(record: &TrustedIssuerRecord) -> issuer::ActiveModel {
    let algs: Vec<String> = record
        .allowed_algs
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    let clients: Vec<String> = record
        .allowed_clients
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    issuer::ActiveModel {
        id: Set(record.id.clone()),
        issuer: Set(record.issuer.clone()),
        jwks: Set(record.jwks.clone()),
        jwks_uri: Set(record.jwks_uri.clone()),
        allowed_algs: Set(strings_to_json(&algs)),
        allowed_subjects: Set(strings_to_json(&record.allowed_subjects)),
        allowed_scopes: Set(strings_to_json(&record.allowed_scopes)),
        allowed_clients: Set(strings_to_json(&clients)),
        enabled: Set(record.enabled),
        created_at: Set(record.created_at),
        updated_at: Set(record.updated_at),
    }
}

#[async_trait]
impl TrustedIssuerRepo for SeaStore {
    async fn create_trusted_issuer(&self, record: &TrustedIssuerRecord) -> Result<(), StoreError> {
        issuer::Entity::insert(to_active(record))
            .exec_without_returning(&self.db)
            .await
            .map_err(write_err("trusted issuer"))?;
        Ok(())
    }

    async fn find_trusted_issuer(
        &self,
        iss: &str,
    ) -> Result<Option<TrustedIssuerRecord>, StoreError> {
        issuer::Entity::find()
            .filter(issuer::Column::Issuer.eq(iss))
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn list_trusted_issuers(&self) -> Result<Vec<TrustedIssuerRecord>, StoreError> {
        issuer::Entity::find()
            .order_by_asc(issuer::Column::Issuer)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect()
    }

    async fn page_trusted_issuers(
        &self,
        search: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<TrustedIssuerRecord>, StoreError> {
        let mut query = issuer::Entity::find();
        if let Some(after) = after {
            query = query.filter(issuer::Column::Issuer.gt(after));
        }
        if let Some(condition) =
            search.and_then(|term| crate::search_condition(term, &[issuer::Column::Issuer]))
        {
            query = query.filter(condition);
        }
        query
            .order_by_asc(issuer::Column::Issuer)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect()
    }

    async fn update_trusted_issuer(&self, record: &TrustedIssuerRecord) -> Result<(), StoreError> {
        let mut active = to_active(record);
        active.created_at = sea_orm::ActiveValue::NotSet;
        let result = issuer::Entity::update_many()
            .set(active)
            .filter(issuer::Column::Id.eq(record.id.as_str()))
            .exec(&self.db)
            .await
            .map_err(write_err("trusted issuer"))?;
        updated_one(result, "trusted issuer")
    }

    async fn delete_trusted_issuer(&self, id: &str) -> Result<bool, StoreError> {
        Ok(issuer::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await
            .map_err(backend)?
            .rows_affected
            == 1)
    }
}
