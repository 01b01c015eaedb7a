//! Trusted JWT issuers (the jwt-bearer grant's external issuers): trust one (the rules of
//! `tessera_client_registry::trusted_issuer`; RS256 when no algorithm is named), enable or
//! disable it, stop trusting it.

use chrono::{DateTime, Utc};
use tessera_client_registry::trusted_issuer::{
    TrustedIssuerError, TrustedIssuerInput, validate_trusted_issuer,
};
use tessera_core::store::{ClientRepo, StoreError, TrustedIssuerRecord, TrustedIssuerRepo};

/// Why an operation on a trusted issuer was refused.
#[derive(Debug, thiserror::Error)]
pub enum IssuerOpError {
    /// A rule refused the input (the message is for the admin).
    #[error("trusted issuer refused: {0}")]
    Invalid(String),
    /// That `iss` is trusted already.
    #[error("{0} is trusted already")]
    Exists(String),
    /// No trusted issuer has this id or `iss`.
    #[error("{0} is not a trusted issuer")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TrustedIssuerError> for IssuerOpError {
    fn from(err: TrustedIssuerError) -> Self {
        match err {
            TrustedIssuerError::Invalid(message) => Self::Invalid(message),
            TrustedIssuerError::Store(err) => Self::Store(err),
        }
    }
}

/// The algorithm assumed when none is named.
pub const DEFAULT_ALG: &str = "RS256";

/// Trusts an issuer.
pub async fn create(
    issuers: &dyn TrustedIssuerRepo,
    clients: &dyn ClientRepo,
    mut input: TrustedIssuerInput,
    now: DateTime<Utc>,
) -> Result<TrustedIssuerRecord, IssuerOpError> {
    input.algs.retain(|alg| !alg.trim().is_empty());
    if input.algs.is_empty() {
        input.algs.push(DEFAULT_ALG.to_owned());
    }
    let record = validate_trusted_issuer(input, clients, now).await?;
    match issuers.create_trusted_issuer(&record).await {
        Ok(()) => Ok(record),
        Err(StoreError::Conflict { .. }) => Err(IssuerOpError::Exists(record.issuer)),
        Err(err) => Err(err.into()),
    }
}

/// The trusted issuer with this id or exact `iss`.
pub async fn find(
    issuers: &dyn TrustedIssuerRepo,
    id_or_issuer: &str,
) -> Result<TrustedIssuerRecord, IssuerOpError> {
    issuers
        .list_trusted_issuers()
        .await?
        .into_iter()
        .find(|t| t.id == id_or_issuer || t.issuer == id_or_issuer)
        .ok_or_else(|| IssuerOpError::NotFound(id_or_issuer.to_owned()))
}

/// Enables or disables an issuer (by id or `iss`); the record afterwards.
pub async fn set_enabled(
    issuers: &dyn TrustedIssuerRepo,
    id_or_issuer: &str,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<TrustedIssuerRecord, IssuerOpError> {
    let mut record = find(issuers, id_or_issuer).await?;
    if record.enabled != enabled {
        record.enabled = enabled;
        record.updated_at = now;
        issuers.update_trusted_issuer(&record).await?;
    }
    Ok(record)
}

/// Stops trusting an issuer (by id or `iss`).
pub async fn delete(
    issuers: &dyn TrustedIssuerRepo,
    id_or_issuer: &str,
) -> Result<TrustedIssuerRecord, IssuerOpError> {
    let record = find(issuers, id_or_issuer).await?;
    if !issuers.delete_trusted_issuer(&record.id).await? {
        return Err(IssuerOpError::NotFound(id_or_issuer.to_owned()));
    }
    Ok(record)
}
