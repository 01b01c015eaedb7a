//! A loaded set of keys: signs with the active key of an algorithm, verifies against the
//! published ones, and renders the JWKS.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Serialize, de::DeserializeOwned};
use tessera_core::{Kid, SigningAlg};

use crate::{
    KeyError,
    jwk::{JwkSet, PublicJwk},
    manifest::{KeyState, ManifestEntry},
    material::{PrivateKey, Signer, decoding_key},
};

/// One key, ready to sign and verify.
pub struct LoadedKey {
    entry: ManifestEntry,
    jwk: PublicJwk,
    signer: Signer,
    decoding: DecodingKey,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

impl LoadedKey {
    pub(crate) fn new(entry: ManifestEntry, private: &PrivateKey) -> Result<Self, KeyError> {
        let jwk = private.public_jwk()?;
        if jwk.kid != entry.kid || jwk.alg != entry.alg {
            return Err(KeyError::Manifest {
                path: entry.file.clone(),
                detail: format!(
                    "the key in the file has kid {} ({}), the manifest says {} ({})",
                    jwk.kid, jwk.alg, entry.kid, entry.alg
                ),
            });
        }
        Ok(Self {
            signer: private.signer()?,
            decoding: decoding_key(&jwk)?,
            jwk,
            entry,
        })
    }

    /// The manifest entry.
    pub fn entry(&self) -> &ManifestEntry {
        &self.entry
    }

    /// The public JWK.
    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }
}

/// What a verifier demands of a JWS beyond a good signature (RFC 8725 §3).
#[derive(Debug, Clone)]
pub struct VerifyPolicy<'a> {
    /// Algorithms accepted; the header's `alg` must also equal the key's own.
    pub algs: &'a [SigningAlg],
    /// Required `typ` (compared case-insensitively, an `application/` prefix ignored), if any.
    pub typ: Option<&'a str>,
    /// Required `iss`, if any.
    pub issuer: Option<&'a str>,
    /// `aud` must contain one of these, if given.
    pub audience: Option<&'a [&'a str]>,
    /// Tolerated clock skew for `exp`/`nbf`, seconds.
    pub leeway_secs: i64,
}

/// Keys loaded from the folder, with the manifest fingerprint they were loaded from.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<LoadedKey>,
    fingerprint: [u8; 32],
}

fn jwt_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::RS256 => Algorithm::RS256,
        SigningAlg::ES256 => Algorithm::ES256,
    }
}

fn normalise_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    lower
        .strip_prefix("application/")
        .map(str::to_owned)
        .unwrap_or(lower)
}

impl KeyRing {
    pub(crate) fn new(keys: Vec<LoadedKey>, fingerprint: [u8; 32]) -> Result<Self, KeyError> {
        let mut kids: Vec<&Kid> = keys.iter().map(|k| &k.entry.kid).collect();
        kids.sort();
        if let Some(pair) = kids.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(KeyError::Manifest {
                path: "manifest.json".into(),
                detail: format!("kid {} appears twice", pair[0]),
            });
        }
        Ok(Self { keys, fingerprint })
    }

    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// Every key with its state at `now`.
    pub fn keys(&self) -> impl Iterator<Item = &LoadedKey> {
        self.keys.iter()
    }

    /// The key that signs `alg` at `now`: of the active ones, the most recently activated.
    pub fn signing_key(&self, alg: SigningAlg, now: DateTime<Utc>) -> Option<&LoadedKey> {
        self.keys
            .iter()
            .filter(|k| k.entry.alg == alg && k.entry.state(now) == KeyState::Active)
            .max_by_key(|k| k.entry.activates_at)
    }

    /// The JWKS at `now`: next, active and retired keys.
    pub fn jwks(&self, now: DateTime<Utc>) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| k.entry.state(now).is_published())
                .map(|k| k.jwk.clone())
                .collect(),
        }
    }

    /// Signs `claims` as a compact JWS with the active `alg` key; `kid` and `typ` are always set.
    pub fn sign<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let key = self
            .signing_key(alg, now)
            .ok_or(KeyError::NoActiveKey(alg))?;
        let mut header = Header::new(jwt_alg(alg));
        header.kid = Some(key.entry.kid.as_str().to_owned());
        header.typ = Some(typ.to_owned());
        // The JWS Compact Serialization (RFC 7515 §7.1), signed with the key pair parsed once
        // at load (docs/decisions/0007).
        let json = |result: Result<Vec<u8>, serde_json::Error>| {
            result
                .map(|json| URL_SAFE_NO_PAD.encode(json))
                .map_err(|err| KeyError::Sign(err.to_string()))
        };
        let mut jws = json(serde_json::to_vec(&header))?;
        jws.push('.');
        jws.push_str(&json(serde_json::to_vec(claims))?);
        let signature = key.signer.sign(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jws)
    }

    /// Verifies a compact JWS signed by one of our published keys and returns its claims.
    ///
    /// The header must name a `kid` we publish at `now` and an `alg` that is both the key's own
    /// and allowed by the policy (so `none`, HS* and algorithm confusion fail); `exp` is required
    /// and checked against `now`, as are `nbf`, `iss` and `aud` when present or demanded.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        policy: &VerifyPolicy<'_>,
        now: DateTime<Utc>,
    ) -> Result<T, KeyError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|err| KeyError::Invalid(err.to_string()))?;
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| KeyError::Invalid("no kid".into()))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.entry.kid.as_str() == kid && k.entry.state(now).is_published())
            .ok_or_else(|| KeyError::Invalid(format!("unknown kid {kid}")))?;
        verify_with_key(token, &header, &key.decoding, key.entry.alg, policy, now)
    }
}

/// Verifies a compact JWS against one known key whose algorithm is `alg` (our own keys, or a
/// client's registered ones): the header's `alg` must be exactly `alg` and allowed by the policy,
/// `typ` as demanded, then the signature, then `exp` (required), `nbf`, `iss` and `aud` against
/// `now`. `header` is the already-decoded header of `token`.
pub fn verify_with_key<T: DeserializeOwned>(
    token: &str,
    header: &Header,
    key: &DecodingKey,
    alg: SigningAlg,
    policy: &VerifyPolicy<'_>,
    now: DateTime<Utc>,
) -> Result<T, KeyError> {
    if !policy.algs.contains(&alg) {
        return Err(KeyError::Invalid(format!("alg {alg} not accepted")));
    }
    // Signature here; time and audience are checked against our Clock below.
    let claims = verify_signature(token, header, key, alg, policy.typ)?;
    check_claims(&claims, policy, now)?;
    serde_json::from_value(serde_json::Value::Object(claims))
        .map_err(|err| KeyError::Invalid(format!("claims: {err}")))
}

/// Verifies `token`'s `alg`, `typ` and signature with `key` and returns its claims, with no
/// check of times, issuer or audience (for JWTs without `exp`, such as DPoP proofs, whose `iat`
/// the caller judges).
pub fn verify_signature_only(
    token: &str,
    header: &Header,
    key: &DecodingKey,
    alg: SigningAlg,
    typ: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, KeyError> {
    verify_signature(token, header, key, alg, Some(typ))
}

/// The header's `alg` exactly `alg`, its `typ` the one demanded (if any), then the signature.
fn verify_signature(
    token: &str,
    header: &Header,
    key: &DecodingKey,
    alg: SigningAlg,
    typ: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, KeyError> {
    if header.alg != jwt_alg(alg) {
        return Err(KeyError::Invalid(format!(
            "alg {:?} not accepted",
            header.alg
        )));
    }
    if let Some(expected) = typ
        && header.typ.as_deref().map(normalise_typ) != Some(normalise_typ(expected))
    {
        return Err(KeyError::Invalid(format!(
            "typ {:?} is not {expected}",
            header.typ
        )));
    }
    let mut validation = Validation::new(jwt_alg(alg));
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|err| KeyError::Invalid(err.to_string()))
}

fn check_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
    policy: &VerifyPolicy<'_>,
    now: DateTime<Utc>,
) -> Result<(), KeyError> {
    let now = now.timestamp();
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| KeyError::Invalid("exp missing".into()))?;
    if now >= exp.saturating_add(policy.leeway_secs) {
        return Err(KeyError::Invalid("expired".into()));
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf
            .as_i64()
            .ok_or_else(|| KeyError::Invalid("nbf not a number".into()))?;
        if now.saturating_add(policy.leeway_secs) < nbf {
            return Err(KeyError::Invalid("not yet valid".into()));
        }
    }
    if let Some(issuer) = policy.issuer
        && claims.get("iss").and_then(serde_json::Value::as_str) != Some(issuer)
    {
        return Err(KeyError::Invalid("wrong issuer".into()));
    }
    if let Some(accepted) = policy.audience {
        let matches = match claims.get("aud") {
            Some(serde_json::Value::String(aud)) => accepted.contains(&aud.as_str()),
            Some(serde_json::Value::Array(auds)) => auds
                .iter()
                .filter_map(serde_json::Value::as_str)
                .any(|aud| accepted.contains(&aud)),
            _ => false,
        };
        if !matches {
            return Err(KeyError::Invalid("wrong audience".into()));
        }
    }
    Ok(())
}
