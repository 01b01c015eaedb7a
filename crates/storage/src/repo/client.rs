//! Clients.

use async_trait::async_trait;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tessera_core::{
    ClientId, SigningAlg,
    grant_type::{GrantType, ResponseType},
    secret::TokenHash,
    store::{ClientAuthMethod, ClientCursor, ClientRecord, ClientRepo, StoreError},
};

use super::{SeaStore, json_to_strings, strings_to_json, updated_one};
use crate::{backend, changes::Topic, entity::client, search_condition, write_err};

fn parse_alg(value: Option<String>, what: &'static str) -> Result<Option<SigningAlg>, StoreError> {
    value.map(|alg| super::parse_alg(&alg, what)).transpose()
}

/// A stored list of protocol words, each parsed: an unknown one is a corrupt row (written by
/// nothing this version knows), not something to drop silently.
fn parsed<T>(
    value: serde_json::Value,
    what: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<Vec<T>, StoreError> {
    json_to_strings(value, what)?
        .into_iter()
        .map(|word| parse(&word).ok_or(StoreError::Corrupt { what, detail: word }))
        .collect()
}

fn to_record(row: client::Model) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        token_endpoint_auth_method: ClientAuthMethod::parse(&row.token_endpoint_auth_method)
            .ok_or_else(|| StoreError::Corrupt {
                what: "client auth method",
                detail: row.token_endpoint_auth_method.clone(),
            })?,
        client_id: ClientId::new(row.client_id),
        client_name: row.client_name,
        secret_hash: row.secret_hash.map(TokenHash::from_stored),
        redirect_uris: json_to_strings(row.redirect_uris, "redirect_uris")?,
        post_logout_redirect_uris: json_to_strings(
            row.post_logout_redirect_uris,
            "post_logout_redirect_uris",
        )?,
        grant_types: parsed(row.grant_types, "grant_types", GrantType::parse)?,
        response_types: parsed(row.response_types, "response_types", ResponseType::parse)?,
        scopes: json_to_strings(row.scopes, "scopes")?,
        jwks: row.jwks,
        jwks_uri: row.jwks_uri,
        token_endpoint_auth_signing_alg: parse_alg(
            row.token_endpoint_auth_signing_alg,
            "token_endpoint_auth_signing_alg",
        )?,
        id_token_signed_response_alg: parse_alg(
            row.id_token_signed_response_alg,
            "id_token_signed_response_alg",
        )?,
        access_token_signed_alg: parse_alg(row.access_token_signed_alg, "access_token_signed_alg")?,
        access_token_ttl: row.access_token_ttl,
        refresh_token_ttl: row.refresh_token_ttl,
        refresh_token_absolute_ttl: row.refresh_token_absolute_ttl,
        refresh_token_max_rotations: row.refresh_token_max_rotations,
        require_pkce: row.require_pkce,
        require_pushed_authorization_requests: row.require_pushed_authorization_requests,
        dpop_bound_access_tokens: row.dpop_bound_access_tokens,
        enabled: row.enabled,
        registration_token_hash: row.registration_token_hash.map(TokenHash::from_stored),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_active(record: &ClientRecord) -> client::ActiveModel {
    client::ActiveModel {
        client_id: Set(record.client_id.as_str().to_owned()),
        client_name: Set(record.client_name.clone()),
        secret_hash: Set(record.secret_hash.as_ref().map(|h| h.as_str().to_owned())),
        redirect_uris: Set(strings_to_json(&record.redirect_uris)),
        post_logout_redirect_uris: Set(strings_to_json(&record.post_logout_redirect_uris)),
        grant_types: Set(serde_json::json!(
            record
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
        )),
        response_types: Set(serde_json::json!(
            record
                .response_types
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
        )),
        scopes: Set(strings_to_json(&record.scopes)),
        token_endpoint_auth_method: Set(record.token_endpoint_auth_method.as_str().to_owned()),
        jwks: Set(record.jwks.clone()),
        jwks_uri: Set(record.jwks_uri.clone()),
        token_endpoint_auth_signing_alg: Set(record
            .token_endpoint_auth_signing_alg
            .map(|a| a.as_str().to_owned())),
        id_token_signed_response_alg: Set(record
            .id_token_signed_response_alg
            .map(|a| a.as_str().to_owned())),
        access_token_signed_alg: Set(record
            .access_token_signed_alg
            .map(|a| a.as_str().to_owned())),
        access_token_ttl: Set(record.access_token_ttl),
        refresh_token_ttl: Set(record.refresh_token_ttl),
        refresh_token_absolute_ttl: Set(record.refresh_token_absolute_ttl),
        refresh_token_max_rotations: Set(record.refresh_token_max_rotations),
        require_pkce: Set(record.require_pkce),
        require_pushed_authorization_requests: Set(record.require_pushed_authorization_requests),
        dpop_bound_access_tokens: Set(record.dpop_bound_access_tokens),
        enabled: Set(record.enabled),
        registration_token_hash: Set(record
            .registration_token_hash
            .as_ref()
            .map(|h| h.as_str().to_owned())),
        metadata: Set(None),
        created_at: Set(record.created_at),
        updated_at: Set(record.updated_at),
    }
}

#[async_trait]
impl ClientRepo for SeaStore {
    async fn create_client(&self, record: &ClientRecord) -> Result<(), StoreError> {
        client::Entity::insert(to_active(record))
            .exec_without_returning(&self.db)
            .await
            .map_err(write_err("client"))?;
        self.announce(Topic::Clients).await;
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        client::Entity::find_by_id(id.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(backend)?
            .map(to_record)
            .transpose()
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let result = client::Entity::delete_by_id(id.as_str().to_owned())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        self.announce(Topic::Clients).await;
        Ok(result.rows_affected == 1)
    }

    async fn update_client(&self, record: &ClientRecord) -> Result<(), StoreError> {
        let mut active = to_active(record);
        active.created_at = NotSet;
        active.enabled = NotSet;
        active.secret_hash = NotSet;
        let result = client::Entity::update_many()
            .set(active)
            .filter(client::Column::ClientId.eq(record.client_id.as_str()))
            .exec(&self.db)
            .await
            .map_err(write_err("client"))?;
        self.announce(Topic::Clients).await;
        updated_one(result, "client")
    }

    async fn set_client_enabled(&self, id: &ClientId, enabled: bool) -> Result<bool, StoreError> {
        let result = client::Entity::update_many()
            .col_expr(
                client::Column::Enabled,
                sea_orm::sea_query::Expr::value(enabled),
            )
            .filter(client::Column::ClientId.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        self.announce(Topic::Clients).await;
        Ok(result.rows_affected == 1)
    }

    async fn set_client_secret_hash(
        &self,
        id: &ClientId,
        secret_hash: Option<&TokenHash>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let result = client::Entity::update_many()
            .col_expr(
                client::Column::SecretHash,
                sea_orm::sea_query::Expr::value(secret_hash.map(|h| h.as_str().to_owned())),
            )
            .col_expr(
                client::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(client::Column::ClientId.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        self.announce(Topic::Clients).await;
        Ok(result.rows_affected == 1)
    }

    async fn list_clients(
        &self,
        search: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        self.page_clients(search, None, limit).await
    }

    async fn page_clients(
        &self,
        search: Option<&str>,
        after: Option<&ClientCursor>,
        limit: u64,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        let mut query = client::Entity::find();
        if let Some(after) = after {
            query = query.filter(
                Condition::any()
                    .add(client::Column::CreatedAt.lt(after.created_at))
                    .add(
                        Condition::all()
                            .add(client::Column::CreatedAt.eq(after.created_at))
                            .add(client::Column::ClientId.gt(after.client_id.as_str())),
                    ),
            );
        }
        if let Some(condition) = search.and_then(|term| {
            search_condition(
                term,
                &[client::Column::ClientId, client::Column::ClientName],
            )
        }) {
            query = query.filter(condition);
        }
        query
            .order_by_desc(client::Column::CreatedAt)
            .order_by_asc(client::Column::ClientId)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(to_record)
            .collect()
    }
}
