//! Fetching a client's `jwks_uri`: bounded (timeout, size, no redirects, https only), cached, and
//! re-fetched at most once per cool-down when a `kid` is not found (key rotation on the client's
//! side), so an attacker can not turn Tessera into a request amplifier.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a fetched JWK Set is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(300);
/// The least time between two fetches of one URI.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Largest JWK Set accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Longest a fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A cache of fetched JWK Sets.
#[derive(Debug)]
pub struct JwksFetcher {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Instant, serde_json::Value)>>,
    cooldown: Duration,
}

/// Why a JWK Set could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Transport, status, size or format.
    #[error("cannot fetch jwks_uri {uri}: {reason}")]
    Failed {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },
}

impl JwksFetcher {
    /// A fetcher. `allow_http` admits plain-http URIs (tests against a loopback server only).
    pub fn new(allow_http: bool) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!allow_http)
            .build()
            .unwrap_or_default();
        Self {
            http,
            cache: Mutex::new(HashMap::new()),
            cooldown: REFETCH_COOLDOWN,
        }
    }

    /// The same fetcher with another re-fetch cool-down.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The JWK Set at `uri`: cached unless `refresh` asks for a new copy and the cool-down allows.
    pub async fn get(&self, uri: &str, refresh: bool) -> Result<serde_json::Value, FetchError> {
        if let Some((fetched, jwks)) = self.cached(uri) {
            let age = fetched.elapsed();
            if age < CACHE_TTL && (!refresh || age < self.cooldown) {
                return Ok(jwks);
            }
        }
        let jwks = self.fetch(uri).await?;
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(uri.to_owned(), (Instant::now(), jwks.clone()));
        Ok(jwks)
    }

    fn cached(&self, uri: &str) -> Option<(Instant, serde_json::Value)> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(uri)
            .cloned()
    }

    async fn fetch(&self, uri: &str) -> Result<serde_json::Value, FetchError> {
        let failed = |reason: String| FetchError::Failed {
            uri: uri.to_owned(),
            reason,
        };
        let mut response = self
            .http
            .get(uri)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("status {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(failed(format!("larger than {MAX_JWKS_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let jwks: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        if !jwks.get("keys").is_some_and(serde_json::Value::is_array) {
            return Err(failed("not a JWK Set".into()));
        }
        Ok(jwks)
    }
}
