//! Bearer secrets: generation, hashing, constant-time comparison.
//!
//! Authorization codes, refresh tokens, registration and initial access tokens, session ids and
//! client secrets are 256-bit random values with a recognisable prefix (so a leaked one is easy
//! to spot in a log or a commit). Only their SHA-256 is stored: a 256-bit random value can not be
//! guessed, so a slow hash would buy nothing and would cap the token endpoint.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{RngCore, rngs::OsRng};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of entropy in every generated secret: 256 bits (RFC 6749 §10.10, RFC 9700 §4.x).
pub const SECRET_BYTES: usize = 32;

/// What a secret is for; the prefix makes a leaked value recognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// An authorization code.
    AuthorizationCode,
    /// A refresh token.
    RefreshToken,
    /// A client secret.
    ClientSecret,
    /// A browser session id (cookie value).
    Session,
    /// An RFC 7591 initial access token.
    InitialAccessToken,
    /// An RFC 7592 registration access token.
    RegistrationAccessToken,
    /// The handle of a pending authorization request (carried by the login and consent forms).
    AuthorizationRequest,
    /// The handle of a pushed authorization request (RFC 9126), inside its `request_uri`.
    PushedRequest,
    /// An RFC 8628 device code, which a device polls the token endpoint with.
    DeviceCode,
    /// A sign-in waiting for its second factor (cookie value).
    SecondFactorChallenge,
    /// The token of an emailed link (a password reset, an address's verification).
    EmailLink,
    /// A passkey ceremony waiting for the browser's answer (cookie value).
    PasskeyCeremony,
}

impl SecretKind {
    /// The prefix of values of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::AuthorizationCode => "tsc_",
            SecretKind::RefreshToken => "tsr_",
            SecretKind::ClientSecret => "tss_",
            SecretKind::Session => "tsb_",
            SecretKind::InitialAccessToken => "tsi_",
            SecretKind::RegistrationAccessToken => "tsg_",
            SecretKind::AuthorizationRequest => "tsq_",
            SecretKind::PushedRequest => "tsp_",
            SecretKind::DeviceCode => "tsd_",
            SecretKind::SecondFactorChallenge => "tsf_",
            SecretKind::EmailLink => "tsw_",
            SecretKind::PasskeyCeremony => "tsk_",
        }
    }
}

/// A secret in clear: shown once to its holder, never stored, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    /// A fresh 256-bit random secret of `kind`.
    pub fn generate(kind: SecretKind) -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(format!(
            "{}{}",
            kind.prefix(),
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// Wraps a value presented by a client.
    pub fn from_presented(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value, to hand to its holder.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the value, which is what gets stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(<redacted>)")
    }
}

/// The stored form of a secret: lowercase hex SHA-256.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a clear value.
    pub fn of(value: &str) -> Self {
        Self(hex(&Sha256::digest(value.as_bytes())))
    }

    /// Wraps a hash read from storage.
    pub fn from_stored(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    /// The hex digest, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` hashes to this value, compared in constant time (the hex digest
    /// written on the stack: nothing allocated on the path every authenticated request takes).
    pub fn verify(&self, presented: &str) -> bool {
        let digest = Sha256::digest(presented.as_bytes());
        let mut text = [0u8; 64];
        for (i, byte) in digest.iter().enumerate() {
            text[2 * i] = HEX_DIGITS[usize::from(byte >> 4)];
            text[2 * i + 1] = HEX_DIGITS[usize::from(byte & 0xf)];
        }
        constant_time_eq(&text, self.0.as_bytes())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to correlate log lines; the full hash is a lookup key.
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or(""))
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Lowercase hex of `bytes`.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// A random 128-bit identifier in hex, for rows and claims that need an id nobody has to guess
/// (grants, audit events, a token's `jti`). Not a secret: it comes from the thread's CSPRNG
/// (ChaCha, seeded and reseeded from the OS) rather than a system call per id, which every
/// minted token paid. Secrets ([`PlainToken`]) still come from the OS directly.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_distinct() {
        let a = random_id();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{a}"
        );
        assert_ne!(a, random_id());
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        // The stored hash of a known value (SHA-256 of "abc").
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_secrets_are_prefixed_long_and_distinct() {
        let a = PlainToken::generate(SecretKind::RefreshToken);
        let b = PlainToken::generate(SecretKind::RefreshToken);
        assert!(a.expose().starts_with("tsr_"));
        // 32 bytes → 43 base64url characters after the prefix.
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_sha256_hex_and_verifies() {
        let hash = TokenHash::of("abc");
        assert_eq!(
            hash.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(hash.verify("abc"));
        assert!(!hash.verify("abd"));
        assert!(!hash.verify(""));
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let token = PlainToken::generate(SecretKind::ClientSecret);
        let shown = format!("{token:?} {:?}", token.hash());
        assert!(!shown.contains(token.expose()));
        assert!(!shown.contains(token.hash().as_str()));
    }

    #[test]
    fn constant_time_eq_needs_equal_length_and_bytes() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"samE"));
        assert!(!constant_time_eq(b"same", b"same!"));
    }
}
