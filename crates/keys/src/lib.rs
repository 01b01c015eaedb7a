//! tessera-keys: the signing keys.
//!
//! - [`KeyFolder`]: the folder of PKCS#8 PEM files plus `manifest.json` (generation with the
//!   RustCrypto `rsa`/`p256` crates, optional passphrase encryption, rotation under a file lock).
//! - [`manifest`]: a key's state (next → active → retired → gone) is a function of its manifest
//!   entry and the clock, so instances sharing the folder agree without talking.
//! - [`Keys`]: the shared handle the server uses: signs and verifies through jsonwebtoken on
//!   aws-lc-rs (see docs/decisions/0002), renders the JWKS, and picks up folder changes made by
//!   another instance or the CLI ([`Keys::reload_if_changed`]).

pub mod folder;
pub mod jwk;
pub mod manifest;
mod material;
pub mod ring;

use std::{
    path::Path,
    sync::{Arc, RwLock},
};

use serde::{Serialize, de::DeserializeOwned};
use tessera_core::{Clock, SigningAlg};

pub use folder::{KeyFolder, RotationPolicy};
pub use jwk::{ForeignKey, JwkSet, PublicJwk, foreign_keys};
pub use manifest::{KeyState, Manifest, ManifestEntry};
pub use ring::{KeyRing, LoadedKey, VerifyPolicy, verify_with_key};

/// What can go wrong with keys. Messages name the file or folder concerned.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file or folder could not be read or written.
    #[error("key folder: {path}: {cause}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The configured key folder exists but is not a folder.
    #[error("key folder: {0} is not a folder")]
    NotAFolder(String),
    /// The manifest could not be read.
    #[error("key folder: {path}: invalid manifest: {detail}")]
    Manifest {
        /// The manifest path.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A private key is encrypted and no passphrase was configured.
    #[error("private key is encrypted but no passphrase is configured (TESSERA_KEYS_PASSPHRASE)")]
    PassphraseRequired,
    /// A private key could not be decoded (or the passphrase is wrong).
    #[error("cannot decode private key (wrong passphrase or damaged file): {0}")]
    Decode(String),
    /// A key file could not be decoded; names the file.
    #[error("key folder: {path}: {cause}")]
    InFile {
        /// The key file.
        path: String,
        /// Why.
        cause: Box<KeyError>,
    },
    /// Key generation failed.
    #[error("cannot generate key: {0}")]
    Generate(String),
    /// Encoding failed.
    #[error("cannot encode key: {0}")]
    Encode(String),
    /// No key of that algorithm is active.
    #[error("no active {0} signing key")]
    NoActiveKey(SigningAlg),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// A token failed verification; the detail is for logs, never for clients.
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl KeyError {
    pub(crate) fn in_file(self, path: &Path) -> Self {
        KeyError::InFile {
            path: path.display().to_string(),
            cause: Box::new(self),
        }
    }
}

/// The server's shared handle on its keys.
#[derive(Debug)]
pub struct Keys {
    folder: KeyFolder,
    ring: RwLock<Arc<KeyRing>>,
    clock: Arc<dyn Clock>,
}

impl Keys {
    /// Opens the folder, creating it and any missing keys (an RS256 and an ES256 key on first
    /// start), and loads it.
    pub fn open(folder: KeyFolder, clock: Arc<dyn Clock>) -> Result<Self, KeyError> {
        folder.ensure_keys(clock.now())?;
        let ring = folder.load()?;
        Ok(Self {
            folder,
            ring: RwLock::new(Arc::new(ring)),
            clock,
        })
    }

    /// The folder.
    pub fn folder(&self) -> &KeyFolder {
        &self.folder
    }

    /// The keys as currently loaded.
    pub fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(
            &self
                .ring
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Re-reads the folder if its manifest changed since the last load; returns whether it did.
    /// On an error the keys loaded before stay in use.
    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        let (fingerprint, _) = self.folder.read_manifest_bytes()?;
        if fingerprint == self.ring().fingerprint() {
            return Ok(false);
        }
        let ring = self.folder.load()?;
        *self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
        tracing::info!(dir = %self.folder.dir().display(), "key folder reloaded");
        Ok(true)
    }

    /// The JWKS now.
    pub fn jwks(&self) -> JwkSet {
        self.ring().jwks(self.clock.now())
    }

    /// Signs with the active key of `alg` now.
    pub fn sign<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        self.ring().sign(alg, typ, claims, self.clock.now())
    }

    /// Verifies a JWS signed by one of our published keys (see [`KeyRing::verify`]).
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        policy: &VerifyPolicy<'_>,
    ) -> Result<T, KeyError> {
        self.ring().verify(token, policy, self.clock.now())
    }

    /// Whether every algorithm has an active key now (readiness).
    pub fn ready(&self) -> bool {
        let ring = self.ring();
        let now = self.clock.now();
        SigningAlg::ALL
            .iter()
            .all(|alg| ring.signing_key(*alg, now).is_some())
    }
}
