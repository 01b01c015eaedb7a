//! The database key store (`TESSERA_KEYS_STORE=database`): the key set as rows of the shared
//! database, so that N instances with no shared disk agree on it. Private keys are stored as
//! PKCS#8 PEM encrypted with the configured passphrase (PBES2: scrypt + AES-256-CBC); the
//! database alone never holds a usable key.
//!
//! The set changes as a whole, guarded by its version: a writer reads the set, works out the
//! change (the same [`Manifest`] rules as the folder), and writes it back only if nobody changed
//! it meanwhile — otherwise it reads again and decides again. Two instances starting at once on
//! an empty database therefore make one set of keys. Every change bumps the version, which
//! instances poll cheaply and which PostgreSQL also announces (`NOTIFY tessera_changes`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tessera_core::{
    SigningAlg,
    store::{SigningKeyRecord, SigningKeyRepo, SigningKeySet, StoreError},
};
use zeroize::Zeroizing;

use crate::{
    KeyError, RotationPolicy,
    manifest::{Manifest, ManifestEntry, instant},
    material::PrivateKey,
    ring::{KeyRing, LoadedKey},
    store::{KeyStore, PortableKey, blocking},
};

/// How often a change is tried again after losing to another writer before giving up.
const ATTEMPTS: usize = 5;

fn kept_changing() -> KeyError {
    KeyError::Store("the key set kept changing under this writer; try again".into())
}

/// The key set in the database.
#[derive(Clone)]
pub struct DatabaseKeyStore {
    repo: Arc<dyn SigningKeyRepo>,
    passphrase: Arc<Zeroizing<String>>,
}

impl std::fmt::Debug for DatabaseKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseKeyStore").finish_non_exhaustive()
    }
}

fn store_err(err: StoreError) -> KeyError {
    KeyError::Store(err.to_string())
}

fn entry_of(record: &SigningKeyRecord) -> ManifestEntry {
    ManifestEntry {
        kid: record.kid.clone(),
        alg: record.alg,
        file: format!("{}.pem", record.kid),
        created: record.created,
        activates_at: record.activates_at,
        retires_at: record.retires_at,
        unpublish_at: record.unpublish_at,
    }
}

fn manifest_of(set: &SigningKeySet) -> Manifest {
    Manifest {
        version: 1,
        keys: set.keys.iter().map(entry_of).collect(),
    }
}

fn fingerprint_of(version: i64) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"signing_keys version ")
        .chain_update(version.to_be_bytes())
        .finalize()
        .into()
}

impl DatabaseKeyStore {
    /// The store over `repo`; the passphrase is required (an empty one is refused).
    pub fn new(
        repo: Arc<dyn SigningKeyRepo>,
        passphrase: Option<String>,
    ) -> Result<Self, KeyError> {
        match passphrase.filter(|p| !p.is_empty()) {
            Some(passphrase) => Ok(Self {
                repo,
                passphrase: Arc::new(Zeroizing::new(passphrase)),
            }),
            None => Err(KeyError::PassphraseRequired),
        }
    }

    async fn read(&self) -> Result<SigningKeySet, KeyError> {
        self.repo.signing_keys().await.map_err(store_err)
    }

    /// Encrypts `keys` for storage.
    async fn records(&self, keys: Vec<PortableKey>) -> Result<Vec<SigningKeyRecord>, KeyError> {
        let passphrase = Arc::clone(&self.passphrase);
        blocking(move || {
            keys.into_iter()
                .map(|key| {
                    let pem = key.private.to_pem(Some(passphrase.as_str()))?;
                    Ok(SigningKeyRecord {
                        kid: key.entry.kid,
                        alg: key.entry.alg,
                        created: key.entry.created,
                        activates_at: key.entry.activates_at,
                        retires_at: key.entry.retires_at,
                        unpublish_at: key.entry.unpublish_at,
                        private_key_pem: pem.to_string(),
                    })
                })
                .collect()
        })
        .await
    }

    /// Decrypts every key of `set`.
    async fn decode(&self, set: SigningKeySet) -> Result<Vec<PortableKey>, KeyError> {
        let passphrase = Arc::clone(&self.passphrase);
        blocking(move || {
            set.keys
                .iter()
                .map(|record| {
                    let private = PrivateKey::from_pem(
                        record.alg,
                        &record.private_key_pem,
                        Some(&passphrase),
                    )
                    .map_err(|err| KeyError::InRecord {
                        kid: record.kid.to_string(),
                        cause: Box::new(err),
                    })?;
                    Ok(PortableKey {
                        entry: entry_of(record),
                        private,
                    })
                })
                .collect()
        })
        .await
    }

    /// Applies `change` to the set as read — the manifest to change and the new keys' records
    /// to add — until it is written without another writer coming first. `change` returning
    /// `None` means there is nothing to do.
    async fn change<T>(
        &self,
        mut change: impl FnMut(&mut Manifest) -> Option<(Vec<SigningKeyRecord>, T)>,
    ) -> Result<Option<T>, KeyError> {
        for _ in 0..ATTEMPTS {
            let set = self.read().await?;
            let mut manifest = manifest_of(&set);
            let Some((added, outcome)) = change(&mut manifest) else {
                return Ok(None);
            };
            // The changed schedules with the stored key material, then the new keys.
            // `change` may only edit schedules in place or clear the list, so the entries still
            // line up with the rows they were read from.
            let mut records: Vec<SigningKeyRecord> = set
                .keys
                .into_iter()
                .zip(manifest.keys)
                .map(|(record, entry)| SigningKeyRecord {
                    retires_at: entry.retires_at,
                    unpublish_at: entry.unpublish_at,
                    ..record
                })
                .collect();
            records.extend(added);
            if self
                .repo
                .replace_signing_keys(set.version, &records)
                .await
                .map_err(store_err)?
            {
                return Ok(Some(outcome));
            }
        }
        Err(kept_changing())
    }

    /// A new key for `alg`, ready to store.
    async fn generate(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        activates_at: DateTime<Utc>,
    ) -> Result<(ManifestEntry, SigningKeyRecord), KeyError> {
        let key = blocking(move || PortableKey::generate(alg, now, activates_at)).await?;
        let entry = key.entry.clone();
        let mut records = self.records(vec![key]).await?;
        Ok((entry, records.remove(0)))
    }
}

#[async_trait]
impl KeyStore for DatabaseKeyStore {
    fn describe(&self) -> String {
        "the database key store".into()
    }

    async fn ensure_keys(&self, now: DateTime<Utc>) -> Result<Vec<ManifestEntry>, KeyError> {
        let now = instant(now);
        let missing = manifest_of(&self.read().await?).missing(now);
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let mut new = Vec::with_capacity(missing.len());
        for alg in missing {
            new.push(self.generate(alg, now, now).await?);
        }
        // Only the keys of algorithms still missing when the set is written: if another
        // instance made keys meanwhile, ours are dropped.
        let written = self
            .change(|manifest| {
                let still = manifest.missing(now);
                let (entries, records): (Vec<_>, Vec<_>) = new
                    .iter()
                    .filter(|(entry, _)| still.contains(&entry.alg))
                    .cloned()
                    .unzip();
                (!entries.is_empty()).then_some((records, entries))
            })
            .await?;
        Ok(written.unwrap_or_default())
    }

    async fn rotate(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        policy: RotationPolicy,
    ) -> Result<ManifestEntry, KeyError> {
        let now = instant(now);
        let activates_at = now + policy.activation_delay;
        let (entry, record) = self.generate(alg, now, activates_at).await?;
        self.change(|manifest| {
            manifest.retire_current(alg, activates_at, policy.publish_grace);
            Some((vec![record.clone()], entry.clone()))
        })
        .await?
        .ok_or_else(|| KeyError::Store("rotation was not written".into()))
    }

    async fn manifest(&self) -> Result<Manifest, KeyError> {
        Ok(manifest_of(&self.read().await?))
    }

    async fn fingerprint(&self) -> Result<[u8; 32], KeyError> {
        Ok(fingerprint_of(
            self.repo.signing_keys_version().await.map_err(store_err)?,
        ))
    }

    async fn load(&self) -> Result<KeyRing, KeyError> {
        let set = self.read().await?;
        let fingerprint = fingerprint_of(set.version);
        let keys = self.decode(set).await?;
        let loaded = keys
            .into_iter()
            .map(|key| {
                let kid = key.entry.kid.to_string();
                LoadedKey::new(key.entry, &key.private).map_err(|err| KeyError::InRecord {
                    kid,
                    cause: Box::new(err),
                })
            })
            .collect::<Result<_, _>>()?;
        KeyRing::new(loaded, fingerprint)
    }

    async fn export(&self) -> Result<Vec<PortableKey>, KeyError> {
        let set = self.read().await?;
        self.decode(set).await
    }

    async fn replace_with(&self, keys: Vec<PortableKey>) -> Result<(), KeyError> {
        let records = self.records(keys).await?;
        self.change(|manifest| {
            // The whole set is replaced: no stored key survives.
            manifest.keys.clear();
            Some((records.clone(), ()))
        })
        .await?;
        Ok(())
    }
}
