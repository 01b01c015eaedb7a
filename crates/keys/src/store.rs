//! Where the key set lives: [`KeyStore`], with two implementations —
//! [`KeyFolder`] (the `keys/` folder, the embedded default) and
//! [`DatabaseKeyStore`](crate::DatabaseKeyStore) (`TESSERA_KEYS_STORE=database`, for instances
//! that share a database but no disk). Both keep the same schedule per key (next → active →
//! retired → gone, see [`crate::manifest`]) and change it the same way
//! ([`Manifest::missing`], [`Manifest::retire_current`]); [`copy_keys`] moves a set from one to
//! the other.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_core::{Kid, SigningAlg};

use crate::{
    KeyError, KeyFolder, RotationPolicy,
    manifest::{Manifest, ManifestEntry},
    material::PrivateKey,
    ring::KeyRing,
};

/// A key set the server signs with. Every method may block on disk or database I/O and on key
/// decoding (scrypt), so callers run them off the request path.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// What an operator would call it in a message: "the key folder ./keys".
    fn describe(&self) -> String;
    /// Makes sure every algorithm has a key that signs now or will without anyone acting; keys
    /// made here sign at once (there is nobody to warn yet). Safe when several instances start
    /// at once: one set is made, not several. Returns the entries it created.
    async fn ensure_keys(&self, now: DateTime<Utc>) -> Result<Vec<ManifestEntry>, KeyError>;
    /// Adds a key for `alg` that signs after `policy.activation_delay`; the key(s) it replaces
    /// retire at that moment and stay published for `policy.publish_grace` more.
    async fn rotate(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        policy: RotationPolicy,
    ) -> Result<ManifestEntry, KeyError>;
    /// Every key's schedule.
    async fn manifest(&self) -> Result<Manifest, KeyError>;
    /// Changes whenever the set changes (cheap: no private key is read).
    async fn fingerprint(&self) -> Result<[u8; 32], KeyError>;
    /// Every key, decoded and ready to sign.
    async fn load(&self) -> Result<KeyRing, KeyError>;
    /// Every key with its private key, for [`copy_keys`].
    async fn export(&self) -> Result<Vec<PortableKey>, KeyError>;
    /// Makes `keys` the whole set.
    async fn replace_with(&self, keys: Vec<PortableKey>) -> Result<(), KeyError>;
}

/// A key with its schedule, as it moves between stores. Its `Debug` shows no key material.
pub struct PortableKey {
    pub(crate) entry: ManifestEntry,
    pub(crate) private: PrivateKey,
}

impl std::fmt::Debug for PortableKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortableKey")
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

impl PortableKey {
    /// A fresh key for `alg`, created `now`, that signs from `activates_at`.
    pub(crate) fn generate(
        alg: SigningAlg,
        now: DateTime<Utc>,
        activates_at: DateTime<Utc>,
    ) -> Result<Self, KeyError> {
        let private = PrivateKey::generate(alg)?;
        let kid = private.public_jwk()?.kid;
        tracing::info!(key.kid = %kid, key.alg = %alg, %activates_at, "signing key created");
        Ok(Self {
            entry: ManifestEntry {
                file: format!("{kid}.pem"),
                kid,
                alg,
                created: now,
                activates_at,
                retires_at: None,
                unpublish_at: None,
            },
            private,
        })
    }

    /// Its schedule.
    pub fn entry(&self) -> &ManifestEntry {
        &self.entry
    }
}

/// Copies every key of `from` into `to`, schedules included, so that `to` holds exactly the set
/// `from` has (`from` is left as it was). Refused, with nothing written, when `to` holds a key
/// that `from` lacks: copying would drop it. Returns the keys copied.
pub async fn copy_keys(
    from: &dyn KeyStore,
    to: &dyn KeyStore,
) -> Result<Vec<ManifestEntry>, KeyError> {
    let keys = from.export().await?;
    let copied: BTreeSet<&Kid> = keys.iter().map(|key| &key.entry.kid).collect();
    let dropped: Vec<String> = to
        .manifest()
        .await?
        .keys
        .into_iter()
        .filter(|entry| !copied.contains(&entry.kid))
        .map(|entry| entry.kid.to_string())
        .collect();
    if !dropped.is_empty() {
        return Err(KeyError::WouldDrop {
            target: to.describe(),
            kids: dropped.join(", "),
        });
    }
    let entries = keys.iter().map(|key| key.entry.clone()).collect();
    to.replace_with(keys).await?;
    Ok(entries)
}

/// Runs blocking key work (disk, scrypt, RSA generation) on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, KeyError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| KeyError::Task(err.to_string()))?
}

#[async_trait]
impl KeyStore for KeyFolder {
    fn describe(&self) -> String {
        format!("the key folder {}", self.dir().display())
    }

    async fn ensure_keys(&self, now: DateTime<Utc>) -> Result<Vec<ManifestEntry>, KeyError> {
        let folder = self.clone();
        blocking(move || KeyFolder::ensure_keys(&folder, now)).await
    }

    async fn rotate(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        policy: RotationPolicy,
    ) -> Result<ManifestEntry, KeyError> {
        let folder = self.clone();
        blocking(move || KeyFolder::rotate(&folder, alg, now, policy)).await
    }

    async fn manifest(&self) -> Result<Manifest, KeyError> {
        let folder = self.clone();
        blocking(move || folder.read_manifest()).await
    }

    async fn fingerprint(&self) -> Result<[u8; 32], KeyError> {
        let folder = self.clone();
        blocking(move || Ok(folder.read_manifest_bytes()?.0)).await
    }

    async fn load(&self) -> Result<KeyRing, KeyError> {
        let folder = self.clone();
        blocking(move || KeyFolder::load(&folder)).await
    }

    async fn export(&self) -> Result<Vec<PortableKey>, KeyError> {
        let folder = self.clone();
        blocking(move || KeyFolder::export(&folder)).await
    }

    async fn replace_with(&self, keys: Vec<PortableKey>) -> Result<(), KeyError> {
        let folder = self.clone();
        blocking(move || KeyFolder::replace_with(&folder, &keys)).await
    }
}
