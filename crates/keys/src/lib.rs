//! tessera-keys: the signing keys.
//!
//! - [`KeyStore`]: where the key set lives — [`KeyFolder`], the folder of PKCS#8 PEM files plus
//!   `manifest.json` (the embedded default; optional passphrase encryption, rotation under a
//!   file lock), or [`DatabaseKeyStore`], rows of the shared database with passphrase-encrypted
//!   private keys (`TESSERA_KEYS_STORE=database`: N instances, no shared disk). [`copy_keys`]
//!   moves a set from one to the other. Keys are generated with the RustCrypto `rsa`/`p256`
//!   crates.
//! - [`manifest`]: a key's state (next → active → retired → gone) is a function of its schedule
//!   and the clock, so instances sharing a store agree without talking.
//! - [`Keys`]: the shared handle the server uses: signs and verifies through jsonwebtoken on
//!   aws-lc-rs (see docs/decisions/0002), renders the JWKS, and picks up changes made by another
//!   instance or the CLI ([`Keys::reload_if_changed`]).

pub mod database;
pub mod folder;
pub mod jwk;
pub mod manifest;
mod material;
pub mod ring;
pub mod store;

use std::{
    path::Path,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use tessera_core::{Clock, SigningAlg};

pub use database::DatabaseKeyStore;
pub use folder::{KeyFolder, RotationPolicy};
pub use jwk::{ForeignKey, JwkSet, PublicJwk, foreign_keys, jwk_thumbprint};
pub use manifest::{KeyState, Manifest, ManifestEntry};
pub use ring::{KeyRing, LoadedKey, VerifyPolicy, verify_signature_only, verify_with_key};
pub use store::{KeyStore, PortableKey, copy_keys};

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
    /// A key stored in the database could not be decoded; names the key.
    #[error("database key store: key {kid}: {cause}")]
    InRecord {
        /// The key's id.
        kid: String,
        /// Why.
        cause: Box<KeyError>,
    },
    /// The database key store could not be read or written.
    #[error("database key store: {0}")]
    Store(String),
    /// A copy would drop keys the target holds and the source lacks.
    #[error("{target} holds keys the source does not have ({kids}); copying would drop them")]
    WouldDrop {
        /// The target store.
        target: String,
        /// The keys.
        kids: String,
    },
    /// Blocking key work could not finish.
    #[error("key task failed: {0}")]
    Task(String),
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
    store: Arc<dyn KeyStore>,
    ring: RwLock<Arc<KeyRing>>,
    clock: Arc<dyn Clock>,
    /// Whether the last look at the store failed (readiness says so).
    unreadable: AtomicBool,
}

impl Keys {
    /// Opens `store`, creating any missing keys (an RS256 and an ES256 key on first start), and
    /// loads it.
    pub async fn open_store(
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyError> {
        store.ensure_keys(clock.now()).await?;
        let ring = store.load().await?;
        Ok(Self::with_ring(store, ring, clock))
    }

    /// [`Keys::open_store`] for a folder, blocking the calling thread (tools, tests, benches).
    pub fn open(folder: KeyFolder, clock: Arc<dyn Clock>) -> Result<Self, KeyError> {
        folder.ensure_keys(clock.now())?;
        let ring = folder.load()?;
        Ok(Self::with_ring(Arc::new(folder), ring, clock))
    }

    fn with_ring(store: Arc<dyn KeyStore>, ring: KeyRing, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            ring: RwLock::new(Arc::new(ring)),
            clock,
            unreadable: AtomicBool::new(false),
        }
    }

    /// The store the keys come from.
    pub fn store(&self) -> &dyn KeyStore {
        &*self.store
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

    /// Re-reads the store if it changed since the last load; returns whether it did. On an error
    /// the keys loaded before stay in use, and [`Keys::ready`] says false until a look succeeds.
    pub async fn reload_if_changed(&self) -> Result<bool, KeyError> {
        let reloaded = self.try_reload().await;
        self.unreadable.store(reloaded.is_err(), Ordering::Relaxed);
        reloaded
    }

    async fn try_reload(&self) -> Result<bool, KeyError> {
        if self.store.fingerprint().await? == self.ring().fingerprint() {
            return Ok(false);
        }
        let ring = self.store.load().await?;
        *self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
        tracing::info!(store = %self.store.describe(), "signing keys reloaded");
        Ok(true)
    }

    /// Rotates `alg` in the store (see [`KeyStore::rotate`]) and loads the result.
    pub async fn rotate(
        &self,
        alg: SigningAlg,
        policy: RotationPolicy,
    ) -> Result<ManifestEntry, KeyError> {
        let entry = self.store.rotate(alg, self.clock.now(), policy).await?;
        self.reload_if_changed().await?;
        Ok(entry)
    }

    /// The time on the keys' clock (what [`Keys::jwks`] and signing go by).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
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

    /// Whether every algorithm has an active key now and the store could be read at the last
    /// look (readiness).
    pub fn ready(&self) -> bool {
        if self.unreadable.load(Ordering::Relaxed) {
            return false;
        }
        let ring = self.ring();
        let now = self.clock.now();
        SigningAlg::ALL
            .iter()
            .all(|alg| ring.signing_key(*alg, now).is_some())
    }
}
