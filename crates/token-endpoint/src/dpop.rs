//! DPoP (RFC 9449): proof of possession of a key, so a stolen access or refresh token is useless
//! without the private key it is bound to.
//!
//! A client sends a **proof** in the `DPoP` header: a JWT (`typ: dpop+jwt`, ES256 or RS256) signed
//! with its key, the public key in the header's `jwk`, and the claims `jti` (single use, on every
//! instance: remembered in the store the JWT assertions use), `htm` and `htu` (this request's
//! method and URL), `iat` (within [`IAT_WINDOW_SECS`] back, [`IAT_FUTURE_SECS`] ahead), `ath`
//! (the hash of the access token it comes with, at resource endpoints) and, when the server
//! wants them (`TESSERA_DPOP_NONCE`), a server `nonce`. Tokens issued with a proof are bound to
//! the key's RFC 7638 thumbprint (`cnf.jkt`).
//!
//! Server nonces are stateless and shared by every instance: a short JWS signed with the
//! server's own ES256 key (`typ: dpop-nonce+jwt`) that expires after [`NONCE_TTL_SECS`].

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{HeaderName, HeaderValue},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tessera_core::{
    SigningAlg,
    error::{TokenError, TokenErrorCode},
    store::StoreError,
};
use tessera_keys::{VerifyPolicy, foreign_keys, jwk_thumbprint, verify_signature_only};

use crate::TokenState;

/// The proof's JOSE `typ`.
pub const PROOF_TYP: &str = "dpop+jwt";
/// The server nonce's JOSE `typ`.
pub const NONCE_TYP: &str = "dpop-nonce+jwt";
/// How old a proof's `iat` may be.
pub const IAT_WINDOW_SECS: i64 = 300;
/// How far ahead of the server's clock a proof's `iat` may be.
pub const IAT_FUTURE_SECS: i64 = 5;
/// How long a server nonce is accepted.
pub const NONCE_TTL_SECS: i64 = 300;
/// The longest `jti` accepted.
const MAX_JTI_LEN: usize = 128;
/// The longest proof accepted (an RSA-4096 `jwk` and the claims fit well within).
const MAX_PROOF_LEN: usize = 4096;
/// The response header that carries a server nonce.
pub const NONCE_HEADER: &str = "dpop-nonce";

/// A checked proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of its key: what tokens are bound to.
    pub jkt: String,
}

/// Why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// Malformed, badly signed, for another request, stale, replayed (logs only).
    #[error("invalid DPoP proof: {0}")]
    Invalid(String),
    /// The server wants a (fresh) nonce of its own in the proof.
    #[error("DPoP nonce required")]
    UseNonce,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(reason: impl Into<String>) -> ProofError {
    ProofError::Invalid(reason.into())
}

/// The `ath` of an access token: base64url of its SHA-256.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// What a proof must match: this request's method and URL, and at a resource endpoint the
/// access token presented with it.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// `htm`.
    pub method: &'a str,
    /// `htu`: the endpoint's URL under the issuer (no query, no fragment).
    pub url: &'a str,
    /// The access token the proof must carry the hash of (`ath`).
    pub access_token: Option<&'a str>,
}

/// The request's proof, checked against `expected`: `Ok(None)` when there is no `DPoP` header.
pub async fn check(
    state: &TokenState,
    req: &HttpRequest,
    expected: Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Proof>, ProofError> {
    let mut headers = req.headers().get_all("dpop");
    let Some(value) = headers.next() else {
        return Ok(None);
    };
    if headers.next().is_some() {
        return Err(invalid("more than one DPoP header"));
    }
    let proof = value
        .to_str()
        .map_err(|_| invalid("DPoP header is not text"))?;
    let (jkt, claims) = verify_proof(proof)?;
    check_claims(state, &claims, expected, now)?;
    // Single use on every instance, remembered as long as the proof could be accepted.
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expires_at = now + Duration::seconds(IAT_WINDOW_SECS + IAT_FUTURE_SECS);
    let first = state
        .replay
        .record_once(&format!("dpop:{jkt}"), jti, expires_at, now)
        .await?;
    if !first {
        return Err(invalid("jti replayed"));
    }
    Ok(Some(Proof { jkt }))
}

/// The proof's key thumbprint and claims, its signature verified with the key in its header.
fn verify_proof(proof: &str) -> Result<(String, Map<String, Value>), ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(invalid("proof too long"));
    }
    let header = jsonwebtoken::decode_header(proof).map_err(|e| invalid(e.to_string()))?;
    let alg = match header.alg {
        jsonwebtoken::Algorithm::ES256 => SigningAlg::ES256,
        jsonwebtoken::Algorithm::RS256 => SigningAlg::RS256,
        other => return Err(invalid(format!("alg {other:?} not accepted"))),
    };
    // The raw header's `jwk`: jsonwebtoken's own type drops members it does not know, and a
    // private member must be refused, not ignored.
    let raw: Value = proof
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("unreadable header"))?;
    let jwk = raw.get("jwk").ok_or_else(|| invalid("no jwk in header"))?;
    const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    if PRIVATE.iter().any(|member| jwk.get(member).is_some()) {
        return Err(invalid("jwk holds private key material"));
    }
    let key = foreign_keys(&serde_json::json!({ "keys": [jwk] }))
        .into_iter()
        .find(|k| k.alg == Some(alg))
        .ok_or_else(|| invalid("jwk is not a usable key for the alg"))?;
    let jkt = jwk_thumbprint(jwk).ok_or_else(|| invalid("jwk has no thumbprint"))?;
    let claims = verify_signature_only(proof, &header, &key.key, alg, PROOF_TYP)
        .map_err(|e| invalid(e.to_string()))?;
    Ok((jkt, claims))
}

fn check_claims(
    state: &TokenState,
    claims: &Map<String, Value>,
    expected: Expected<'_>,
    now: DateTime<Utc>,
) -> Result<(), ProofError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = text("jti").ok_or_else(|| invalid("jti missing"))?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(invalid("jti empty or too long"));
    }
    if text("htm") != Some(expected.method) {
        return Err(invalid("htm is not this request's method"));
    }
    // RFC 9449 §4.3: compared without query and fragment.
    let htu = text("htu").ok_or_else(|| invalid("htu missing"))?;
    let htu = htu.split(['?', '#']).next().unwrap_or_default();
    if htu != expected.url {
        return Err(invalid("htu is not this endpoint"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("iat missing"))?;
    let now_secs = now.timestamp();
    if iat > now_secs + IAT_FUTURE_SECS || iat < now_secs - IAT_WINDOW_SECS {
        return Err(invalid("iat outside the accepted window"));
    }
    match (expected.access_token, text("ath")) {
        (Some(token), Some(ath)) if ath == access_token_hash(token) => {}
        (Some(_), _) => return Err(invalid("ath missing or not the access token's")),
        (None, _) => {}
    }
    if state.dpop_nonce_required && !nonce_valid(state, text("nonce"), now) {
        return Err(ProofError::UseNonce);
    }
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct NonceClaims {
    iss: String,
    exp: i64,
}

/// A fresh server nonce.
pub fn fresh_nonce(state: &TokenState, now: DateTime<Utc>) -> Option<String> {
    let claims = NonceClaims {
        iss: state.minter.issuer().as_str().to_owned(),
        exp: (now + Duration::seconds(NONCE_TTL_SECS)).timestamp(),
    };
    let ring = state.minter.keys().ring();
    ring.sign(SigningAlg::ES256, NONCE_TYP, &claims, now).ok()
}

fn nonce_valid(state: &TokenState, nonce: Option<&str>, now: DateTime<Utc>) -> bool {
    let Some(nonce) = nonce else {
        return false;
    };
    let issuer = state.minter.issuer().as_str();
    let policy = VerifyPolicy {
        algs: &[SigningAlg::ES256],
        typ: Some(NONCE_TYP),
        issuer: Some(issuer),
        audience: None,
        leeway_secs: 0,
    };
    state
        .minter
        .keys()
        .ring()
        .verify::<NonceClaims>(nonce, &policy, now)
        .is_ok()
}

/// Adds a fresh nonce to `response` when the server wants nonces (RFC 9449 §8: on errors and,
/// so the client has the next one, on successes).
pub fn with_nonce(
    state: &TokenState,
    mut response: HttpResponse,
    now: DateTime<Utc>,
) -> HttpResponse {
    if state.dpop_nonce_required
        && let Some(nonce) = fresh_nonce(state, now)
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static(NONCE_HEADER), value);
    }
    response
}

/// The proof of a `/token` request by `client`: `Err` with the answer when it is refused, or
/// missing for a client registered with `dpop_bound_access_tokens` (RFC 9449 §5.2).
pub async fn token_request_proof(
    state: &TokenState,
    req: &HttpRequest,
    client: &tessera_core::store::ClientRecord,
    now: DateTime<Utc>,
) -> Result<Option<Proof>, HttpResponse> {
    let url = state.minter.issuer().endpoint("/token");
    let expected = Expected {
        method: "POST",
        url: &url,
        access_token: None,
    };
    let client_id = Some(client.client_id.as_str());
    match check(state, req, expected, now).await {
        Ok(None) if client.dpop_bound_access_tokens => {
            let message = "This client must send a DPoP proof with its token requests.";
            let err = TokenError::new(TokenErrorCode::InvalidDpopProof, message);
            Err(crate::token::refuse("token", client_id, &err, false))
        }
        Ok(proof) => Ok(proof),
        Err(err) => {
            let response = crate::token::refuse("token", client_id, &token_error(&err), false);
            Err(with_nonce(state, response, now))
        }
    }
}

/// The token endpoint's error for a refused proof (RFC 9449 §7.1 / §8).
pub fn token_error(err: &ProofError) -> TokenError {
    match err {
        ProofError::Invalid(reason) => TokenError::new(
            TokenErrorCode::InvalidDpopProof,
            "The DPoP proof is invalid.",
        )
        .with_reason(reason.clone()),
        ProofError::UseNonce => TokenError::new(
            TokenErrorCode::UseDpopNonce,
            "Use the server's DPoP nonce (the DPoP-Nonce header) in the proof.",
        ),
        ProofError::Store(err) => crate::grants::unavailable(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ath_is_the_base64url_sha256_of_the_token() {
        // RFC 9449 §7.1's example.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
