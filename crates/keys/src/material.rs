//! Key material: generation with the RustCrypto crates (rsa, p256), PKCS#8 PEM encoding
//! (optionally passphrase-encrypted), and conversion into jsonwebtoken's aws-lc keys.

use jsonwebtoken::DecodingKey;
use p256::elliptic_curve::{Generate, sec1::ToSec1Point};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use pkcs8_ec::{
    DecodePrivateKey as DecodeEcPrivateKey, EncodePrivateKey as EncodeEcPrivateKey,
    LineEnding as EcLineEnding,
};
use rand::rngs::OsRng;
use rsa::traits::PublicKeyParts;
use tessera_core::SigningAlg;
use zeroize::Zeroizing;

use crate::{KeyError, jwk::PublicJwk};

/// RSA modulus size for RS256 keys.
pub const RSA_BITS: usize = 2048;

const ENCRYPTED_LABEL: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

/// A private key of either kind.
pub(crate) enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::SecretKey),
}

impl PrivateKey {
    /// Generates a fresh key for `alg`.
    pub(crate) fn generate(alg: SigningAlg) -> Result<Self, KeyError> {
        Ok(match alg {
            SigningAlg::RS256 => Self::Rsa(Box::new(
                rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                    .map_err(|err| KeyError::Generate(err.to_string()))?,
            )),
            SigningAlg::ES256 => Self::P256(p256::SecretKey::generate()),
        })
    }

    /// Encodes as PKCS#8 PEM, encrypted (PBES2: scrypt + AES-256-CBC) when a passphrase is given.
    pub(crate) fn to_pem(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, KeyError> {
        let encoded = match (self, passphrase) {
            (Self::Rsa(key), None) => key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|err| err.to_string()),
            (Self::P256(key), None) => key
                .to_pkcs8_pem(EcLineEnding::LF)
                .map_err(|err| err.to_string()),
            (Self::Rsa(key), Some(pass)) => key
                .to_pkcs8_encrypted_pem(&mut OsRng, pass.as_bytes(), LineEnding::LF)
                .map_err(|err| err.to_string()),
            (Self::P256(key), Some(pass)) => key
                .to_pkcs8_encrypted_pem(pass.as_bytes(), EcLineEnding::LF)
                .map_err(|err| err.to_string()),
        };
        encoded.map_err(KeyError::Encode)
    }

    /// Decodes a PKCS#8 PEM written by [`PrivateKey::to_pem`].
    pub(crate) fn from_pem(
        alg: SigningAlg,
        pem: &str,
        passphrase: Option<&str>,
    ) -> Result<Self, KeyError> {
        let encrypted = pem.trim_start().starts_with(ENCRYPTED_LABEL);
        let decoded = match (alg, encrypted, passphrase) {
            (_, true, None) => return Err(KeyError::PassphraseRequired),
            (SigningAlg::RS256, false, _) => rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                .map(|k| Self::Rsa(Box::new(k)))
                .map_err(|err| err.to_string()),
            (SigningAlg::ES256, false, _) => p256::SecretKey::from_pkcs8_pem(pem)
                .map(Self::P256)
                .map_err(|err| err.to_string()),
            (SigningAlg::RS256, true, Some(pass)) => {
                rsa::RsaPrivateKey::from_pkcs8_encrypted_pem(pem, pass.as_bytes())
                    .map(|k| Self::Rsa(Box::new(k)))
                    .map_err(|err| err.to_string())
            }
            (SigningAlg::ES256, true, Some(pass)) => {
                p256::SecretKey::from_pkcs8_encrypted_pem(pem, pass.as_bytes())
                    .map(Self::P256)
                    .map_err(|err| err.to_string())
            }
        };
        decoded.map_err(KeyError::Decode)
    }

    /// The public half as a JWK (its `kid` is the RFC 7638 thumbprint).
    pub(crate) fn public_jwk(&self) -> Result<PublicJwk, KeyError> {
        match self {
            Self::Rsa(key) => Ok(PublicJwk::rsa(
                &key.n().to_bytes_be(),
                &key.e().to_bytes_be(),
            )),
            Self::P256(key) => {
                let point = key.public_key().to_sec1_point(false);
                match (point.x(), point.y()) {
                    (Some(x), Some(y)) => Ok(PublicJwk::ec_p256(x, y)),
                    _ => Err(KeyError::Decode(
                        "P-256 public key is the identity point".into(),
                    )),
                }
            }
        }
    }

    /// The aws-lc-rs key pair, parsed once from PKCS#8 DER (see [`Signer`]).
    pub(crate) fn signer(&self) -> Result<Signer, KeyError> {
        let rejected = |err: aws_lc_rs::error::KeyRejected| KeyError::Decode(err.to_string());
        match self {
            Self::Rsa(key) => {
                let der = key
                    .to_pkcs8_der()
                    .map_err(|err| KeyError::Encode(err.to_string()))?;
                aws_lc_rs::rsa::KeyPair::from_pkcs8(der.as_bytes())
                    .map(Signer::Rsa)
                    .map_err(rejected)
            }
            Self::P256(key) => {
                let der = EncodeEcPrivateKey::to_pkcs8_der(key)
                    .map_err(|err| KeyError::Encode(err.to_string()))?;
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der.as_bytes(),
                )
                .map(Signer::P256)
                .map_err(rejected)
            }
        }
    }
}

/// A private key ready to sign: the aws-lc-rs key pair that jsonwebtoken's `aws_lc_rs` backend
/// would build from DER on every call, built once at load. RS256 is RSASSA-PKCS1-v1_5 with
/// SHA-256; ES256 is ECDSA P-256 with SHA-256 in the fixed-length `r || s` form JWS wants
/// (RFC 7518 §3.3, §3.4).
pub(crate) enum Signer {
    Rsa(aws_lc_rs::rsa::KeyPair),
    P256(aws_lc_rs::signature::EcdsaKeyPair),
}

impl Signer {
    /// Signs `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let failed = |_| KeyError::Sign("the crypto library refused to sign".into());
        match self {
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
            Self::P256(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(failed),
        }
    }
}

/// jsonwebtoken's verification key for a published JWK.
pub(crate) fn decoding_key(jwk: &PublicJwk) -> Result<DecodingKey, KeyError> {
    let result = match (jwk.alg, &jwk.n, &jwk.e, &jwk.x, &jwk.y) {
        (SigningAlg::RS256, Some(n), Some(e), _, _) => DecodingKey::from_rsa_components(n, e),
        (SigningAlg::ES256, _, _, Some(x), Some(y)) => DecodingKey::from_ec_components(x, y),
        _ => {
            return Err(KeyError::Decode(format!(
                "JWK {} lacks its public parameters",
                jwk.kid
            )));
        }
    };
    result.map_err(|err| KeyError::Decode(err.to_string()))
}
