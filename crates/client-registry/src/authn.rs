//! Client authentication at token-type endpoints (token, introspection, revocation):
//! `client_secret_basic` (RFC 6749 §2.3.1), `client_secret_post`, `private_key_jwt`
//! (RFC 7523 §2.2, §3) and `none` for public clients.
//!
//! Exactly one method per request, and it must be the client's registered one. Every failure is
//! `invalid_client` (401); the reason goes to logs only. An unknown client_id costs the same work as
//! a known one (a secret is still hashed and compared). Wrong credentials of an existing client
//! are counted per client and address in the database; past the free ones, that client's
//! requests from that address are refused for a while, on every instance
//! ([`tessera_core::client_throttle`]).

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use tessera_core::{
    ClientId, Clock, Issuer, SigningAlg,
    client_throttle::ClientAuthThrottle,
    error::{TokenError, TokenErrorCode},
    secret::TokenHash,
    store::{AssertionReplayRepo, ClientAuthMethod, ClientRecord, ClientRepo, ThrottleRepo},
};
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

/// What the request carried that may authenticate a client.
#[derive(Debug, Default, Clone)]
pub struct ClientCredentials<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The form body's parameters.
    pub form: &'a [(String, String)],
    /// The address the request came from (failures are counted per client and address).
    pub address: &'a str,
}

/// A client that proved who it is.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: ClientRecord,
    /// How it proved it.
    pub method: ClientAuthMethod,
}

/// The failure reason when no such client exists (its failures are audited in aggregate and
/// not throttled: there is nothing to guess).
pub const UNKNOWN_CLIENT: &str = "unknown client";
/// The longest client_id looked up (longer ones are unknown without a lookup).
pub const MAX_CLIENT_ID_BYTES: usize = 255;

/// A failed authentication: always `invalid_client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuthFailure {
    /// For logs and audit only.
    pub reason: String,
    /// The client_id it claimed, if any (for audit).
    pub client_id: Option<String>,
    /// Whether HTTP Basic was tried (then `WWW-Authenticate: Basic`).
    pub basic_attempted: bool,
    /// The store could not answer: not the client's fault — a 503 to retry, neither audited
    /// nor counted against the client.
    pub unavailable: bool,
    /// Too many failures of this client from this address: refused unchecked for this many
    /// seconds (429 with `Retry-After`, not audited; see `tessera_core::client_throttle`).
    pub retry_after: Option<u64>,
    /// The client exists and the credential was wrong: what a guess looks like (counted by the
    /// throttle).
    pub guessed: bool,
}

impl ClientAuthFailure {
    /// Whether the client it claimed does not exist (or claimed none).
    pub fn unknown_client(&self) -> bool {
        self.reason == UNKNOWN_CLIENT || self.client_id.is_none()
    }

    /// The RFC 6749 §5.2 error.
    pub fn to_token_error(&self) -> TokenError {
        if self.unavailable {
            return TokenError::new(
                TokenErrorCode::TemporarilyUnavailable,
                "The server is temporarily unavailable; try again.",
            )
            .with_reason(self.reason.clone());
        }
        TokenError::new(
            TokenErrorCode::InvalidClient,
            "Client authentication failed.",
        )
        .with_reason(self.reason.clone())
    }
}

/// Authenticates clients.
#[derive(Clone)]
pub struct ClientAuthenticator {
    clients: Arc<dyn ClientRepo>,
    replay: Arc<dyn AssertionReplayRepo>,
    fetcher: Arc<JwksFetcher>,
    throttle: Arc<ClientAuthThrottle>,
    clock: Arc<dyn Clock>,
    /// Accepted `aud` values of client assertions: the issuer and the token endpoint URL.
    audiences: Vec<String>,
}

impl std::fmt::Debug for ClientAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuthenticator")
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// The parsed request.
#[derive(Debug)]
enum Presented {
    Secret {
        client_id: String,
        secret: String,
        method: ClientAuthMethod,
    },
    Assertion {
        client_id: Option<String>,
        assertion: String,
    },
    Public {
        client_id: String,
    },
}

fn failure(reason: impl Into<String>, client_id: Option<&str>, basic: bool) -> ClientAuthFailure {
    ClientAuthFailure {
        unavailable: false,
        retry_after: None,
        guessed: false,
        reason: reason.into(),
        client_id: client_id.map(str::to_owned),
        basic_attempted: basic,
    }
}

/// The store, not the client, failed (see [`ClientAuthFailure::unavailable`]).
fn store_failure(reason: String, client_id: Option<&str>, basic: bool) -> ClientAuthFailure {
    ClientAuthFailure {
        unavailable: true,
        ..failure(reason, client_id, basic)
    }
}

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

fn single<'a>(form: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut values = form
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("{name} repeated"));
    }
    Ok(first)
}

/// Decodes HTTP Basic credentials: base64, then each of id and secret form-urldecoded
/// (RFC 6749 §2.3.1 requires clients to encode them with application/x-www-form-urlencoded).
pub fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |part: &str| {
        // The usual id and secret have nothing to decode: no copy through the form parser.
        if !part.contains(['%', '+']) {
            return Some(part.to_owned());
        }
        form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

fn parse(credentials: &ClientCredentials<'_>) -> Result<(Presented, bool), ClientAuthFailure> {
    let basic_attempted = credentials.authorization.is_some_and(|h| {
        h.trim_start()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("basic "))
    });
    let form_value =
        |name: &str| single(credentials.form, name).map_err(|e| failure(e, None, basic_attempted));
    let form_id = form_value("client_id")?;
    let form_secret = form_value("client_secret")?;
    let assertion_type = form_value("client_assertion_type")?;
    let assertion = form_value("client_assertion")?;

    let methods = usize::from(basic_attempted)
        + usize::from(form_secret.is_some())
        + usize::from(assertion.is_some() || assertion_type.is_some());
    if methods > 1 {
        return Err(failure(
            "more than one authentication method",
            form_id,
            basic_attempted,
        ));
    }
    if basic_attempted {
        let header = credentials.authorization.unwrap_or_default();
        let (id, secret) = decode_basic(header)
            .ok_or_else(|| failure("malformed Basic credentials", form_id, true))?;
        if form_id.is_some_and(|form_id| form_id != id) {
            return Err(failure(
                "client_id in the body differs from Basic",
                Some(&id),
                true,
            ));
        }
        return Ok((
            Presented::Secret {
                client_id: id,
                secret,
                method: ClientAuthMethod::ClientSecretBasic,
            },
            true,
        ));
    }
    if let Some(secret) = form_secret {
        let id = form_id.ok_or_else(|| failure("client_secret without client_id", None, false))?;
        return Ok((
            Presented::Secret {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
                method: ClientAuthMethod::ClientSecretPost,
            },
            false,
        ));
    }
    if assertion.is_some() || assertion_type.is_some() {
        if assertion_type != Some(ASSERTION_TYPE) {
            return Err(failure("unsupported client_assertion_type", form_id, false));
        }
        let assertion =
            assertion.ok_or_else(|| failure("client_assertion missing", form_id, false))?;
        return Ok((
            Presented::Assertion {
                client_id: form_id.map(str::to_owned),
                assertion: assertion.to_owned(),
            },
            false,
        ));
    }
    match form_id {
        Some(id) => Ok((
            Presented::Public {
                client_id: id.to_owned(),
            },
            false,
        )),
        None => Err(failure("no client authentication", None, false)),
    }
}

impl ClientAuthenticator {
    /// An authenticator. `token_endpoint` is the token endpoint URL, accepted as assertion `aud`
    /// beside the issuer.
    pub fn new(
        clients: Arc<dyn ClientRepo>,
        replay: Arc<dyn AssertionReplayRepo>,
        throttle: Arc<dyn ThrottleRepo>,
        fetcher: Arc<JwksFetcher>,
        clock: Arc<dyn Clock>,
        issuer: &Issuer,
        token_endpoint: String,
    ) -> Self {
        Self {
            clients,
            replay,
            fetcher,
            throttle: Arc::new(ClientAuthThrottle::new(throttle)),
            clock,
            audiences: vec![issuer.as_str().to_owned(), token_endpoint],
        }
    }

    /// Authenticates the client of a request.
    pub async fn authenticate(
        &self,
        credentials: &ClientCredentials<'_>,
    ) -> Result<AuthenticatedClient, ClientAuthFailure> {
        let (presented, basic) = parse(credentials)?;
        let claimed = match &presented {
            Presented::Secret { client_id, .. } | Presented::Public { client_id } => {
                Some(client_id.clone())
            }
            Presented::Assertion {
                client_id,
                assertion,
            } => client_id.clone().or_else(|| unverified_issuer(assertion)),
        };
        let Some(client_id) = claimed else {
            return Err(failure("assertion names no client", None, basic));
        };
        if client_id.len() > MAX_CLIENT_ID_BYTES {
            return Err(failure(UNKNOWN_CLIENT, None, basic));
        }
        let now = self.clock.now();
        if let Some(wait) = self
            .throttle
            .wait(&client_id, credentials.address, now)
            .await
        {
            let mut refused = failure(
                "too many failed authentications from this address",
                Some(&client_id),
                basic,
            );
            refused.retry_after = Some(u64::try_from(wait.num_seconds().max(1)).unwrap_or(1));
            return Err(refused);
        }
        let result = self.check(presented, &client_id, basic).await;
        // Only a wrong credential of a client that exists counts: failures for unknown ids are
        // not remembered (a flood of invented ids costs nothing), nor a disabled client's.
        if let Err(failure) = &result
            && failure.guessed
            && let Err(err) = self
                .throttle
                .failed(&client_id, credentials.address, now)
                .await
        {
            tracing::warn!(error = %err, "could not count a failed client authentication");
        }
        result
    }

    async fn check(
        &self,
        presented: Presented,
        client_id: &str,
        basic: bool,
    ) -> Result<AuthenticatedClient, ClientAuthFailure> {
        let fail = |reason: &str| failure(reason, Some(client_id), basic);
        let client = self
            .clients
            .find_client(&ClientId::new(client_id))
            .await
            .map_err(|err| {
                store_failure(format!("client lookup: {err}"), Some(client_id), basic)
            })?;
        match presented {
            Presented::Secret { secret, method, .. } => {
                // Hash and compare even when there is nothing to compare with, so an unknown
                // client_id answers in the same time as a wrong secret.
                let stored = client.as_ref().and_then(|c| c.secret_hash.clone());
                let matches = stored
                    .as_ref()
                    .unwrap_or(&TokenHash::from_stored("0".repeat(64)))
                    .verify(&secret);
                let client = client.ok_or_else(|| fail(UNKNOWN_CLIENT))?;
                check_usable(&client, method).map_err(&fail)?;
                if stored.is_none() || !matches {
                    return Err(ClientAuthFailure {
                        guessed: true,
                        ..fail("wrong client secret")
                    });
                }
                Ok(AuthenticatedClient { client, method })
            }
            Presented::Public { .. } => {
                let client = client.ok_or_else(|| fail(UNKNOWN_CLIENT))?;
                check_usable(&client, ClientAuthMethod::None).map_err(&fail)?;
                Ok(AuthenticatedClient {
                    client,
                    method: ClientAuthMethod::None,
                })
            }
            Presented::Assertion { assertion, .. } => {
                let client = client.ok_or_else(|| fail(UNKNOWN_CLIENT))?;
                check_usable(&client, ClientAuthMethod::PrivateKeyJwt).map_err(&fail)?;
                self.check_assertion(&client, &assertion)
                    .await
                    .map_err(|err| {
                        if err.unavailable() {
                            store_failure(err.to_string(), Some(client_id), basic)
                        } else {
                            ClientAuthFailure {
                                guessed: true,
                                ..fail(&err.to_string())
                            }
                        }
                    })?;
                Ok(AuthenticatedClient {
                    client,
                    method: ClientAuthMethod::PrivateKeyJwt,
                })
            }
        }
    }

    /// RFC 7523 §3: signature with the client's key (its pinned alg, else the key's own),
    /// iss = sub = client_id, aud,
    /// exp required and short, nbf/iat sane, jti single use across instances.
    async fn check_assertion(
        &self,
        client: &ClientRecord,
        assertion: &str,
    ) -> Result<(), AssertionError> {
        let algs = pinned_or_any(client.token_endpoint_auth_signing_alg);
        self.verify_assertion(
            assertion,
            &AssertionRules {
                jwks: client.jwks.as_ref(),
                jwks_uri: client.jwks_uri.as_deref(),
                algs: &algs,
                issuer: client.client_id.as_str(),
                subject: Some(client.client_id.as_str()),
                replay_namespace: replay_namespace(client.client_id.as_str()),
                max_lifetime_secs: MAX_ASSERTION_LIFETIME_SECS,
            },
        )
        .await
        .map(|_| ())
    }

    /// Verifies a JWT assertion (RFC 7523 §3) against `rules`: a key from the issuer's JWK Set
    /// (by value, or fetched from `jwks_uri` with one re-fetch when no key matches, so the issuer
    /// may rotate), an algorithm among the pinned ones and the key's own, `iss`, `sub` when
    /// demanded, `aud` = the issuer or the token endpoint, `exp` required and at most
    /// `max_lifetime_secs` ahead, `nbf`/`iat` sane within a small leeway, and `jti` required and
    /// single use across instances (kept until the assertion expires). Returns the claims;
    /// failures are described for logs only.
    pub async fn verify_assertion(
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

/// What an assertion must satisfy (see [`ClientAuthenticator::verify_assertion`]).
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

fn check_usable(client: &ClientRecord, used: ClientAuthMethod) -> Result<(), &'static str> {
    if !client.enabled {
        return Err("client disabled");
    }
    if client.token_endpoint_auth_method != used {
        return Err("not the client's registered authentication method");
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// Any Authorization header or assertion text: parsed or refused, never a panic.
        #[test]
        fn credentials_and_assertions_never_panic(header in ".{0,200}", assertion in "[A-Za-z0-9_.=-]{0,300}") {
            let _ = super::decode_basic(&header);
            let _ = super::decode_basic(&format!("Basic {header}"));
            let _ = super::unverified_issuer(&assertion);
            let _ = super::unverified_issuer(&header);
        }
    }

    use super::*;

    #[test]
    fn basic_credentials_are_form_urldecoded_after_base64() {
        // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
        let header = format!("Basic {}", STANDARD.encode("my%3Aclient:s%2Be+cr%25t%3A"));
        assert_eq!(
            decode_basic(&header),
            Some(("my:client".into(), "s+e cr%t:".into()))
        );
        assert_eq!(
            decode_basic(&format!("basic {}", STANDARD.encode("a:b"))),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(decode_basic("Basic !!!"), None);
        assert_eq!(
            decode_basic(&format!("Bearer {}", STANDARD.encode("a:b"))),
            None
        );
        assert_eq!(
            decode_basic(&format!("Basic {}", STANDARD.encode("no-colon"))),
            None
        );
    }
}
