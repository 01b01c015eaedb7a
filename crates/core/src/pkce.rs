//! PKCE (RFC 7636), S256 only.
//!
//! The grammar of challenges and verifiers (`43*128unreserved`, §4.1 and §4.2) is checked here;
//! the comparison itself — `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge` in constant
//! time (§4.6) — is oxide-auth's `code_grant::extensions::Pkce`, required and without `plain`
//! (ADR 0018).

use std::borrow::Cow;

use oxide_auth::code_grant::extensions::Pkce;

/// The one method supported (`plain` is refused: RFC 9700 §2.1.1).
pub const S256: &str = "S256";

/// Whether `value` is a well-formed challenge or verifier: 43 to 128 characters of
/// `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Why a code's PKCE check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// A verifier for a code issued without a challenge: PKCE cannot be added after the fact,
    /// and accepting it would hide a downgrade.
    #[error("code_verifier sent for a code issued without a challenge")]
    VerifierWithoutChallenge,
    /// The code has a challenge and the request no verifier.
    #[error("code_verifier missing")]
    MissingVerifier,
    /// The verifier is not `43*128unreserved`.
    #[error("code_verifier malformed")]
    MalformedVerifier,
    /// The verifier does not hash to the challenge.
    #[error("code_verifier does not match the challenge")]
    Mismatch,
}

/// Checks the `verifier` of a token request against the S256 `challenge` its code was issued
/// with (either may be absent: a code without a challenge needs no verifier).
pub fn verify(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), PkceError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(PkceError::VerifierWithoutChallenge),
        (Some(_), None) => Err(PkceError::MissingVerifier),
        (Some(_), Some(verifier)) if !is_well_formed(verifier) => Err(PkceError::MalformedVerifier),
        (Some(challenge), Some(verifier)) => {
            let pkce = Pkce::required();
            let method = pkce
                .challenge(Some(Cow::Borrowed(S256)), Some(Cow::Borrowed(challenge)))
                .map_err(|_| PkceError::Mismatch)?;
            pkce.verify(method, Some(Cow::Borrowed(verifier)))
                .map_err(|_| PkceError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_matches_the_rfc_example_and_nothing_else() {
        assert_eq!(verify(Some(CHALLENGE), Some(VERIFIER)), Ok(()));
        assert_eq!(
            verify(Some(CHALLENGE), Some(&VERIFIER.replace('d', "e"))),
            Err(PkceError::Mismatch)
        );
        assert_eq!(
            verify(Some(CHALLENGE), None),
            Err(PkceError::MissingVerifier)
        );
        assert_eq!(
            verify(None, Some(VERIFIER)),
            Err(PkceError::VerifierWithoutChallenge)
        );
        assert_eq!(
            verify(Some(CHALLENGE), Some("short")),
            Err(PkceError::MalformedVerifier)
        );
        // `plain` would accept the challenge as its own verifier; S256 does not.
        assert_eq!(
            verify(Some(CHALLENGE), Some(CHALLENGE)),
            Err(PkceError::Mismatch)
        );
        assert_eq!(verify(None, None), Ok(()));
    }

    #[test]
    fn the_grammar_is_43_to_128_unreserved() {
        assert!(is_well_formed(VERIFIER));
        assert!(is_well_formed(&"a".repeat(43)));
        assert!(is_well_formed(&"~._-".repeat(32)));
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+", "a".repeat(42))));
        assert!(!is_well_formed(&format!("{}=", "a".repeat(42))));
    }

    proptest! {
        /// Any well-formed verifier verifies against its own S256 challenge, and not against
        /// another verifier's.
        #[test]
        fn a_verifier_matches_its_own_challenge_only(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
            use sha2::{Digest, Sha256};
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            prop_assert_eq!(verify(Some(&challenge), Some(&verifier)), Ok(()));
            if other != verifier {
                prop_assert_eq!(verify(Some(&challenge), Some(&other)), Err(PkceError::Mismatch));
            }
        }
    }
}
