//! Public JWKs (RFC 7517) and their RFC 7638 thumbprints, which serve as `kid`s.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::{Kid, SigningAlg};

/// A public signing key as published in the JWKS. Private members can not be represented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// `RSA` or `EC`.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// The one algorithm this key signs with.
    pub alg: SigningAlg,
    /// The key id.
    pub kid: Kid,
    /// RSA modulus, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve, `P-256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A JWK Set document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

impl PublicJwk {
    /// An RS256 key from its big-endian modulus and exponent.
    pub fn rsa(n: &[u8], e: &[u8]) -> Self {
        let n = URL_SAFE_NO_PAD.encode(n);
        let e = URL_SAFE_NO_PAD.encode(e);
        // RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
        let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
        Self {
            kty: "RSA".into(),
            use_: "sig".into(),
            alg: SigningAlg::RS256,
            kid,
            n: Some(n),
            e: Some(e),
            crv: None,
            x: None,
            y: None,
        }
    }

    /// An ES256 key from its P-256 affine coordinates.
    pub fn ec_p256(x: &[u8], y: &[u8]) -> Self {
        let x = URL_SAFE_NO_PAD.encode(x);
        let y = URL_SAFE_NO_PAD.encode(y);
        let kid = thumbprint(&format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
        ));
        Self {
            kty: "EC".into(),
            use_: "sig".into(),
            alg: SigningAlg::ES256,
            kid,
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(x),
            y: Some(y),
        }
    }
}

/// The RFC 7638 thumbprint of a public RSA or EC JWK (its required members only, in
/// lexicographic order), base64url; `None` for another key type or a member missing.
pub fn jwk_thumbprint(jwk: &serde_json::Value) -> Option<String> {
    // Members are base64url or a curve name: anything else (a quote, a backslash) is refused,
    // so the canonical JSON below needs no escaping.
    let member = |name: &str| {
        jwk.get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|v| {
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    let canonical = match member("kty")? {
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            member("e")?,
            member("n")?
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        _ => return None,
    };
    Some(thumbprint(&canonical).as_str().to_owned())
}

fn thumbprint(canonical: &str) -> Kid {
    Kid::new(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// A verification key taken from someone else's JWK Set (a client's `jwks`, a trusted issuer's).
pub struct ForeignKey {
    /// Its `kid`, if it has one.
    pub kid: Option<String>,
    /// The algorithm it is for: its `alg` member, or the one its key type implies.
    pub alg: Option<SigningAlg>,
    /// jsonwebtoken's verification key.
    pub key: jsonwebtoken::DecodingKey,
}

impl std::fmt::Debug for ForeignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The signing keys of a JWK Set that Tessera can verify with (RSA and P-256 keys whose `use`, if
/// present, is `sig`); other keys are skipped.
pub fn foreign_keys(jwks: &serde_json::Value) -> Vec<ForeignKey> {
    let Some(keys) = jwks.get("keys").and_then(serde_json::Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|jwk| jwk.get("use").is_none_or(|u| u == "sig"))
        .filter_map(|jwk| {
            let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).ok()?;
            let implied = match jwk.get("kty").and_then(serde_json::Value::as_str)? {
                "RSA" => SigningAlg::RS256,
                "EC" if jwk.get("crv").and_then(serde_json::Value::as_str) == Some("P-256") => {
                    SigningAlg::ES256
                }
                _ => return None,
            };
            let declared = match jwk.get("alg").and_then(serde_json::Value::as_str) {
                Some(alg) => Some(alg.parse::<SigningAlg>().ok()?),
                None => None,
            };
            if declared.is_some_and(|alg| alg != implied) {
                return None;
            }
            let key = jsonwebtoken::DecodingKey::from_jwk(&parsed).ok()?;
            Some(ForeignKey {
                kid: jwk
                    .get("kid")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                alg: Some(implied),
                key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 7638 §3.1.
    #[test]
    fn rsa_thumbprint_matches_rfc7638_example() {
        let n = URL_SAFE_NO_PAD
            .decode(
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            )
            .unwrap();
        let jwk = PublicJwk::rsa(&n, &[1, 0, 1]);
        assert_eq!(
            jwk.kid.as_str(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn thumbprints_of_published_keys_are_their_kids() {
        for jwk in [
            PublicJwk::rsa(&[0xc3; 256], &[1, 0, 1]),
            PublicJwk::ec_p256(&[1; 32], &[2; 32]),
        ] {
            let json = serde_json::to_value(&jwk).unwrap();
            assert_eq!(jwk_thumbprint(&json).as_deref(), Some(jwk.kid.as_str()));
        }
        let odd = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a\"b", "y": "c"});
        assert_eq!(jwk_thumbprint(&odd), None);
        assert_eq!(
            jwk_thumbprint(&serde_json::json!({"kty": "oct", "k": "x"})),
            None
        );
    }

    #[test]
    fn serialises_without_private_or_empty_members() {
        let jwk = PublicJwk::ec_p256(&[1; 32], &[2; 32]);
        let json = serde_json::to_value(&jwk).unwrap();
        let members: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    }

    /// The JWKS document as resource servers read it: member names, order and encodings.
    #[test]
    fn jwks_document_snapshot() {
        let n = URL_SAFE_NO_PAD
            .decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
            .unwrap();
        let set = JwkSet {
            keys: vec![
                PublicJwk::rsa(&n, &[1, 0, 1]),
                PublicJwk::ec_p256(&[1; 32], &[2; 32]),
            ],
        };
        insta::assert_json_snapshot!(set);
    }
}
