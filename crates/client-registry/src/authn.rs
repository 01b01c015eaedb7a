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
use tessera_core::{
    ClientId, Clock, Issuer,
    client_throttle::ClientAuthThrottle,
    error::{TokenError, TokenErrorCode},
    secret::TokenHash,
    store::{AssertionReplayRepo, ClientAuthMethod, ClientRecord, ClientRepo, ThrottleRepo},
};

use crate::{
    assertion::{
        ASSERTION_TYPE, AssertionError, AssertionRules, AssertionVerifier,
        MAX_ASSERTION_LIFETIME_SECS, pinned_or_any, replay_namespace, unverified_issuer,
    },
    jwks_fetch::JwksFetcher,
};

/// What the request carried that may authenticate a client.
#[derive(Debug, Default, Clone)]
pub struct ClientCredentials<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The form body's parameters.
    pub form: &'a [(String, String)],
    /// The address the request came from (failures are counted per client and address;
    /// formatted only when something is counted or refused).
    pub address: Option<std::net::IpAddr>,
}

/// The request's address as the throttle counts it (none: the empty string).
struct Address(Option<std::net::IpAddr>);

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => Ok(()),
        }
    }
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
    assertions: AssertionVerifier,
    throttle: Arc<ClientAuthThrottle>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ClientAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuthenticator")
            .field("assertions", &self.assertions)
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
            assertions: AssertionVerifier::new(
                replay,
                fetcher,
                clock.clone(),
                issuer,
                token_endpoint,
            ),
            throttle: Arc::new(ClientAuthThrottle::new(throttle)),
            clock,
        }
    }

    /// The assertion verifier (the JWT bearer grant verifies with it too).
    pub fn assertions(&self) -> &AssertionVerifier {
        &self.assertions
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
            .wait(&client_id, Address(credentials.address), now)
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
                .failed(&client_id, Address(credentials.address), now)
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
                let stored = client.as_ref().and_then(|c| c.secret_hash.as_ref());
                let matches = match stored {
                    Some(hash) => hash.verify(&secret),
                    None => {
                        let stand_in = TokenHash::from_stored("0".repeat(64));
                        let _ = std::hint::black_box(stand_in.verify(&secret));
                        false
                    }
                };
                let client = client.ok_or_else(|| fail(UNKNOWN_CLIENT))?;
                check_usable(&client, method).map_err(&fail)?;
                if !matches {
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
        self.assertions
            .verify(
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
