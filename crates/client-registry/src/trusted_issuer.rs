//! Trusted external JWT issuers for the jwt-bearer grant (RFC 7523 §2.1): the rules an admin's
//! input must meet, shared by the console and the CLI.

use chrono::{DateTime, Utc};
use tessera_core::{
    ClientId, SigningAlg,
    secret::random_id,
    store::{ClientRepo, TrustedIssuerRecord},
};
use tessera_keys::foreign_keys;

use tessera_core::grant_type::GrantType;

/// What an admin gives.
#[derive(Debug, Clone, Default)]
pub struct TrustedIssuerInput {
    /// The exact `iss` of its assertions.
    pub issuer: String,
    /// Its JWK Set as JSON text…
    pub jwks: Option<String>,
    /// …or its https `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// Accepted algorithms.
    pub algs: Vec<String>,
    /// Accepted subjects (`*` for any that names a local user).
    pub subjects: Vec<String>,
    /// The most scope its tokens may carry.
    pub scopes: Vec<String>,
    /// Clients that may present its assertions.
    pub clients: Vec<String>,
}

/// Why the input was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TrustedIssuerError {
    /// A rule refused it (the message is for the admin).
    #[error("{0}")]
    Invalid(String),
    /// Looking up its clients failed.
    #[error(transparent)]
    Store(#[from] tessera_core::store::StoreError),
}

fn refuse(message: impl Into<String>) -> TrustedIssuerError {
    TrustedIssuerError::Invalid(message.into())
}

/// Checks the input (keys usable, algorithms known, clients registered for the grant) and
/// builds the record.
pub async fn validate_trusted_issuer(
    input: TrustedIssuerInput,
    clients: &dyn ClientRepo,
    now: DateTime<Utc>,
) -> Result<TrustedIssuerRecord, TrustedIssuerError> {
    let issuer = input.issuer.trim().to_owned();
    if issuer.is_empty() || issuer.len() > 500 || issuer.chars().any(char::is_whitespace) {
        return Err(refuse(
            "the issuer must be a non-empty string without spaces",
        ));
    }
    let jwks = match input
        .jwks
        .as_deref()
        .map(str::trim)
        .filter(|j| !j.is_empty())
    {
        Some(text) => {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|_| refuse("the JWK Set is not valid JSON"))?;
            if foreign_keys(&value).is_empty() {
                return Err(refuse(
                    "the JWK Set holds no usable RSA or P-256 signing key",
                ));
            }
            Some(value)
        }
        None => None,
    };
    let jwks_uri = input
        .jwks_uri
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    match (&jwks, &jwks_uri) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(refuse("give either a JWK Set or a jwks_uri"));
        }
        (None, Some(uri)) if !uri.starts_with("https://") || url::Url::parse(uri).is_err() => {
            return Err(refuse("jwks_uri must be an https URL"));
        }
        _ => {}
    }
    let mut allowed_algs = Vec::new();
    for alg in &input.algs {
        let alg: SigningAlg = alg
            .parse()
            .map_err(|_| refuse(format!("unsupported algorithm {alg}")))?;
        if !allowed_algs.contains(&alg) {
            allowed_algs.push(alg);
        }
    }
    if allowed_algs.is_empty() {
        return Err(refuse("name at least one algorithm (RS256, ES256)"));
    }
    let clean = |values: Vec<String>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for value in values.iter().flat_map(|v| v.split_whitespace()) {
            if !out.iter().any(|o| o == value) {
                out.push(value.to_owned());
            }
        }
        out
    };
    let allowed_subjects = clean(input.subjects);
    if allowed_subjects.is_empty() {
        return Err(refuse(
            "name at least one subject (or * for any local user)",
        ));
    }
    let allowed_scopes = clean(input.scopes);
    if allowed_scopes.iter().any(|s| s == "offline_access") {
        return Err(refuse("offline_access cannot be granted to assertions"));
    }
    let mut allowed_clients = Vec::new();
    for id in clean(input.clients) {
        let client = clients
            .find_client(&ClientId::new(id.as_str()))
            .await?
            .ok_or_else(|| refuse(format!("no client {id}")))?;
        if !client.grant_types.contains(&GrantType::JwtBearer) {
            return Err(refuse(format!(
                "client {id} is not registered for the jwt-bearer grant"
            )));
        }
        allowed_clients.push(client.client_id);
    }
    if allowed_clients.is_empty() {
        return Err(refuse("name at least one client that may use this issuer"));
    }
    Ok(TrustedIssuerRecord {
        id: random_id(),
        issuer,
        jwks,
        jwks_uri,
        allowed_algs,
        allowed_subjects,
        allowed_scopes,
        allowed_clients,
        enabled: true,
        created_at: now,
        updated_at: now,
    })
}
