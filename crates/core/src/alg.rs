//! The JWS algorithms Tessera signs with (RFC 7518 §3.1). Only asymmetric algorithms exist here:
//! `none` and the HMAC family can not even be named, so they can never be configured or accepted.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A JWS signing algorithm Tessera can sign and verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over an RSA-2048 key.
    RS256,
    /// ECDSA with P-256 and SHA-256.
    ES256,
}

impl SigningAlg {
    /// Every algorithm, in the order metadata lists them.
    pub const ALL: [SigningAlg; 2] = [SigningAlg::RS256, SigningAlg::ES256];

    /// The `alg` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an algorithm name Tessera does not sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported signing algorithm `{0}` (expected RS256 or ES256)")]
pub struct UnsupportedAlg(pub String);

impl FromStr for SigningAlg {
    type Err = UnsupportedAlg;

    /// Exact, case-sensitive match (JWS `alg` values are case-sensitive, RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(SigningAlg::RS256),
            "ES256" => Ok(SigningAlg::ES256),
            other => Err(UnsupportedAlg(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_exact_names() {
        assert_eq!("RS256".parse::<SigningAlg>(), Ok(SigningAlg::RS256));
        assert_eq!("ES256".parse::<SigningAlg>(), Ok(SigningAlg::ES256));
        for bad in ["rs256", "none", "None", "HS256", "", "RS256 "] {
            assert!(
                bad.parse::<SigningAlg>().is_err(),
                "{bad:?} must be refused"
            );
        }
    }
}
