//! JWT assertions (RFC 7523 §3): verifying one against the rules of who may present it. Used by
//! client authentication (`private_key_jwt`, the client's own keys, [`crate::authn`]) and by the
//! JWT bearer grant (a trusted issuer's keys, `tessera_token_endpoint::grants::jwt_bearer`): one
//! verifier, one `jti` namespace per issuer, so an assertion never counts twice.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use tessera_core::{Clock, Issuer, SigningAlg, store::AssertionReplayRepo};
use tessera_keys::{VerifyPolicy, foreign_keys, verify_with_key};

use crate::jwks_fetch::JwksFetcher;

/// `client_assertion_type` for JWT client assertions (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// An assertion's `exp` may be at most this far ahead. An hour is what common client libraries
/// sign by default (authlib, Google's) and what large providers accept; the `jti` is remembered
/// until `exp`, so a longer life never means a second use.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 3600;
/// Clock skew tolerated on assertion times.
pub const ASSERTION_LEEWAY_SECS: i64 = 30;

/// Why a JWT assertion (RFC 7523) was not accepted. Only [`AssertionError::Store`] is not the
/// presenter's fault; the rest are described for logs and audit, never to the client.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    /// The JOSE header does not parse.
    #[error("assertion header: {0}")]
    Header(#[source] jsonwebtoken::errors::Error),
    /// The issuer has neither a JWK Set nor a `jwks_uri`.
    #[error("the issuer has no keys")]
    NoKeys,
    /// Its `jwks_uri` could not be fetched or read.
    #[error("{0}")]
    Jwks(#[from] crate::jwks_fetch::FetchError),
    /// The header's `alg` is not one we verify.
    #[error("assertion alg {0} not accepted")]
    AlgUnsupported(String),
    /// The header's `alg` is not allowed for this issuer.
    #[error("assertion alg {0} not allowed here")]
    AlgNotAllowed(SigningAlg),
    /// No key of the issuer fits the header's `kid` and `alg`.
    #[error("no matching key for the assertion")]
    NoMatchingKey,
    /// The matching key names no algorithm.
    #[error("key without algorithm")]
    KeyWithoutAlg,
    /// Signature, `iss`, `aud`, `exp` or `nbf` do not verify.
    #[error("{0}")]
    Unverified(#[from] tessera_keys::KeyError),
    /// A claim is missing or out of bounds (`sub`, `exp` too far ahead, `iat`, `jti`).
    #[error("{0}")]
    Claim(String),
    /// Its `jti` was seen before.
    #[error("assertion jti replayed")]
    Replayed,
    /// The replay store failed: the assertion was not judged (a 503 to retry).
    #[error("replay store: {0}")]
    Store(#[source] tessera_core::store::StoreError),
}

impl AssertionError {
    /// Whether the store, not the assertion, failed.
    pub fn unavailable(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}

fn claim(reason: impl Into<String>) -> AssertionError {
    AssertionError::Claim(reason.into())
}

/// Verifies JWT assertions: keys by value or fetched, the replay store, the clock, and the
/// audiences an assertion may name (the issuer and the token endpoint URL).
#[derive(Clone)]
pub struct AssertionVerifier {
    replay: Arc<dyn AssertionReplayRepo>,
    fetcher: Arc<JwksFetcher>,
    clock: Arc<dyn Clock>,
    audiences: Vec<String>,
}

impl std::fmt::Debug for AssertionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionVerifier")
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl AssertionVerifier {
    /// A verifier; `token_endpoint` is accepted as `aud` beside the issuer.
    pub fn new(
        replay: Arc<dyn AssertionReplayRepo>,
        fetcher: Arc<JwksFetcher>,
        clock: Arc<dyn Clock>,
        issuer: &Issuer,
        token_endpoint: String,
    ) -> Self {
        Self {
            replay,
            fetcher,
            clock,
            audiences: vec![issuer.as_str().to_owned(), token_endpoint],
        }
    }

    /// Verifies a JWT assertion (RFC 7523 §3) against `rules`: a key from the issuer's JWK Set
    /// (by value, or fetched from `jwks_uri` with one re-fetch when no key matches, so the issuer
    /// may rotate), an algorithm among the pinned ones and the key's own, `iss`, `sub` when
    /// demanded, `aud` = the issuer or the token endpoint, `exp` required and at most
    /// `max_lifetime_secs` ahead, `nbf`/`iat` sane within a small leeway, and `jti` required and
    /// single use across instances (kept until the assertion expires). Returns the claims;
    /// failures are described for logs only.
    pub async fn verify(
        &self,
        assertion: &str,
        rules: &AssertionRules<'_>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, AssertionError> {
        let header = jsonwebtoken::decode_header(assertion).map_err(AssertionError::Header)?;
        let jwks = match (rules.jwks, rules.jwks_uri) {
            (Some(jwks), _) => jwks.clone(),
            (None, Some(uri)) => self.fetcher.get(uri, false).await?,
            (None, None) => return Err(AssertionError::NoKeys),
        };
        // The header's alg only narrows which registered key may verify: the key's own
        // algorithm (its `alg`, else its `kty`/`crv`) must be that one and an allowed one.
        let header_alg = match header.alg {
            jsonwebtoken::Algorithm::RS256 => SigningAlg::RS256,
            jsonwebtoken::Algorithm::ES256 => SigningAlg::ES256,
            other => return Err(AssertionError::AlgUnsupported(format!("{other:?}"))),
        };
        if !rules.algs.contains(&header_alg) {
            return Err(AssertionError::AlgNotAllowed(header_alg));
        }
        let wanted = [header_alg];
        let mut key = pick_key(&jwks, header.kid.as_deref(), &wanted);
        if key.is_none()
            && let (None, Some(uri)) = (rules.jwks, rules.jwks_uri)
        {
            // The issuer may have rotated: one fresh fetch (subject to the cool-down).
            let fresh = self.fetcher.get(uri, true).await?;
            key = pick_key(&fresh, header.kid.as_deref(), &wanted);
        }
        let key = key.ok_or(AssertionError::NoMatchingKey)?;
        let alg = key.alg.ok_or(AssertionError::KeyWithoutAlg)?;
        let audiences: Vec<&str> = self.audiences.iter().map(String::as_str).collect();
        let now = self.clock.now();
        let claims: serde_json::Map<String, serde_json::Value> = verify_with_key(
            assertion,
            &header,
            &key.key,
            alg,
            &VerifyPolicy {
                algs: rules.algs,
                typ: None,
                issuer: Some(rules.issuer),
                audience: Some(&audiences),
                leeway_secs: ASSERTION_LEEWAY_SECS,
            },
            now,
        )?;
        check_assertion_claims(&claims, rules, now)?;
        let jti = claims
            .get("jti")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| claim("jti missing"))?;
        let exp = claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_default();
        let expires_at = DateTime::from_timestamp(exp, 0).unwrap_or(now)
            + chrono::Duration::seconds(ASSERTION_LEEWAY_SECS);
        let first = self
            .replay
            .record_once(&rules.replay_namespace, jti, expires_at, now)
            .await
            .map_err(AssertionError::Store)?;
        if !first {
            return Err(AssertionError::Replayed);
        }
        Ok(claims)
    }
}

/// What an assertion must satisfy (see [`AssertionVerifier::verify`]).
#[derive(Debug, Clone)]
pub struct AssertionRules<'a> {
    /// The issuer's JWK Set by value…
    pub jwks: Option<&'a serde_json::Value>,
    /// …or where to fetch it.
    pub jwks_uri: Option<&'a str>,
    /// The algorithms allowed (the pinned one, or all: see [`pinned_or_any`]).
    pub algs: &'a [SigningAlg],
    /// The required `iss`.
    pub issuer: &'a str,
    /// The required `sub`, if one is required (any string `sub` is demanded regardless).
    pub subject: Option<&'a str>,
    /// Where its `jti`s are remembered (issuers do not share a namespace).
    pub replay_namespace: String,
    /// How far ahead `exp` may be.
    pub max_lifetime_secs: i64,
}

/// Where an assertion's `jti` is remembered: one namespace per issuer, whatever the assertion
/// is used for, so one self-signed assertion can not serve as both the client authentication
/// and the JWT bearer grant of a request (or of two).
pub fn replay_namespace(issuer: &str) -> String {
    format!("iss:{issuer}")
}

/// The algorithms an assertion may use: the pinned one, else any we support (the key decides).
pub fn pinned_or_any(pinned: Option<SigningAlg>) -> Vec<SigningAlg> {
    pinned.map_or_else(|| SigningAlg::ALL.to_vec(), |alg| vec![alg])
}

fn pick_key(
    jwks: &serde_json::Value,
    kid: Option<&str>,
    algs: &[SigningAlg],
) -> Option<tessera_keys::ForeignKey> {
    let mut candidates: Vec<_> = foreign_keys(jwks)
        .into_iter()
        .filter(|k| k.alg.is_some_and(|alg| algs.contains(&alg)))
        .collect();
    match kid {
        Some(kid) => candidates
            .into_iter()
            .find(|k| k.kid.as_deref() == Some(kid)),
        None if candidates.len() == 1 => candidates.pop(),
        None => None,
    }
}

fn check_assertion_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
    rules: &AssertionRules<'_>,
    now: DateTime<Utc>,
) -> Result<(), AssertionError> {
    let sub = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| claim("sub missing"))?;
    if rules.subject.is_some_and(|required| required != sub) {
        return Err(claim("sub is not the one required"));
    }
    let now = now.timestamp();
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or_default();
    if exp > now + rules.max_lifetime_secs + ASSERTION_LEEWAY_SECS {
        return Err(claim(format!(
            "exp more than {}s ahead",
            rules.max_lifetime_secs
        )));
    }
    if let Some(iat) = claims.get("iat") {
        let iat = iat.as_i64().ok_or_else(|| claim("iat not a number"))?;
        if iat > now + ASSERTION_LEEWAY_SECS {
            return Err(claim("iat in the future"));
        }
    }
    Ok(())
}

/// The `iss` of a JWT, read without verification — only to choose whose keys verify it.
pub fn unverified_issuer(assertion: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}
