//! The key folder: one PKCS#8 PEM per key (mode 0600) and `manifest.json`.
//!
//! Writers (first start, `tessera keys rotate`) take an exclusive lock on `.lock` in the folder,
//! write the new key file first and then replace the manifest atomically (write + rename), so a
//! reader never sees a manifest naming a key file that is not there yet, and two instances
//! starting at once on an empty shared folder create one set of keys, not two.

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use tessera_core::SigningAlg;

use crate::{
    KeyError,
    manifest::{MANIFEST_FILE, Manifest, ManifestEntry, instant},
    material::PrivateKey,
    ring::{KeyRing, LoadedKey},
    store::PortableKey,
};

const LOCK_FILE: &str = ".lock";

/// How rotation schedules keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// How long a new key is published before it signs, so that verifiers caching the JWKS
    /// have it before they meet a token it signed.
    pub activation_delay: Duration,
    /// How long a retired key stays published: the longest lifetime of a token it may have
    /// signed plus the JWKS cache lifetime.
    pub publish_grace: Duration,
}

/// A key folder on disk, with the passphrase that protects its private keys (if any).
#[derive(Clone)]
pub struct KeyFolder {
    dir: PathBuf,
    passphrase: Option<String>,
}

impl std::fmt::Debug for KeyFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFolder")
            .field("dir", &self.dir)
            .field("encrypted", &self.passphrase.is_some())
            .finish()
    }
}

impl KeyFolder {
    /// A folder at `dir`; nothing is read until asked.
    pub fn new(dir: impl Into<PathBuf>, passphrase: Option<String>) -> Self {
        Self {
            dir: dir.into(),
            passphrase: passphrase.filter(|p| !p.is_empty()),
        }
    }

    /// The folder's path.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io_err(&self, path: &Path) -> impl Fn(std::io::Error) -> KeyError + '_ {
        let path = path.display().to_string();
        move |cause| KeyError::Io {
            path: path.clone(),
            cause,
        }
    }

    /// Creates the folder if needed and makes sure every algorithm has a key that signs now (or
    /// will, without anyone acting). Keys made here sign at once: there is nobody to warn yet.
    /// Returns the entries it created.
    pub fn ensure_keys(&self, now: DateTime<Utc>) -> Result<Vec<ManifestEntry>, KeyError> {
        let now = instant(now);
        fs::create_dir_all(&self.dir).map_err(self.io_err(&self.dir))?;
        let _lock = self.lock()?;
        let mut manifest = self.read_manifest()?;
        let mut created = Vec::new();
        for alg in manifest.missing(now) {
            let entry = self.create_key(alg, now, now)?;
            manifest.keys.push(entry.clone());
            created.push(entry);
        }
        if !created.is_empty() {
            self.write_manifest(&manifest)?;
        }
        Ok(created)
    }

    /// Adds a key for `alg` that signs after `policy.activation_delay`; the key(s) it replaces
    /// retire at that moment and stay published for `policy.publish_grace` more.
    pub fn rotate(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        policy: RotationPolicy,
    ) -> Result<ManifestEntry, KeyError> {
        let now = instant(now);
        let _lock = self.lock()?;
        let mut manifest = self.read_manifest()?;
        let activates_at = now + policy.activation_delay;
        manifest.retire_current(alg, activates_at, policy.publish_grace);
        let entry = self.create_key(alg, now, activates_at)?;
        manifest.keys.push(entry.clone());
        self.write_manifest(&manifest)?;
        Ok(entry)
    }

    /// Reads the manifest (empty when the folder has none yet).
    pub fn read_manifest(&self) -> Result<Manifest, KeyError> {
        Ok(self.read_manifest_bytes()?.1)
    }

    /// The manifest and the SHA-256 of its bytes (how readers notice a change).
    pub(crate) fn read_manifest_bytes(&self) -> Result<([u8; 32], Manifest), KeyError> {
        let path = self.dir.join(MANIFEST_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                let manifest: Manifest =
                    serde_json::from_slice(&bytes).map_err(|err| KeyError::Manifest {
                        path: path.display().to_string(),
                        detail: err.to_string(),
                    })?;
                Ok((Sha256::digest(&bytes).into(), manifest))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                // Distinguish "no manifest yet" from "no folder / not a folder".
                let meta = fs::metadata(&self.dir).map_err(self.io_err(&self.dir))?;
                if !meta.is_dir() {
                    return Err(KeyError::NotAFolder(self.dir.display().to_string()));
                }
                Ok((
                    [0; 32],
                    Manifest {
                        version: 1,
                        keys: Vec::new(),
                    },
                ))
            }
            Err(err) => Err(self.io_err(&path)(err)),
        }
    }

    /// Loads every key of the manifest into memory.
    pub fn load(&self) -> Result<KeyRing, KeyError> {
        let (fingerprint, manifest) = self.read_manifest_bytes()?;
        let mut keys = Vec::with_capacity(manifest.keys.len());
        for entry in &manifest.keys {
            let path = self.dir.join(&entry.file);
            let private = self.read_key_file(entry, &path)?;
            keys.push(LoadedKey::new(entry.clone(), &private).map_err(|err| err.in_file(&path))?);
        }
        KeyRing::new(keys, fingerprint)
    }

    fn create_key(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        activates_at: DateTime<Utc>,
    ) -> Result<ManifestEntry, KeyError> {
        let key = PortableKey::generate(alg, now, activates_at)?;
        self.write_key_file(&key)?;
        Ok(key.entry)
    }

    /// Writes `key`'s file (unless one is there already: a file is named after the key's
    /// thumbprint, so it holds the same key) and returns its manifest entry.
    fn write_key_file(&self, key: &PortableKey) -> Result<ManifestEntry, KeyError> {
        let entry = ManifestEntry {
            file: format!("{}.pem", key.entry.kid),
            ..key.entry.clone()
        };
        let path = self.dir.join(&entry.file);
        let pem = key.private.to_pem(self.passphrase.as_deref())?;
        let mut out = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(out) => out,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Ok(entry),
            Err(err) => return Err(self.io_err(&path)(err)),
        };
        out.write_all(pem.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(self.io_err(&path))?;
        Ok(entry)
    }

    /// Every key of the manifest with its private key (for copying to another store).
    pub fn export(&self) -> Result<Vec<PortableKey>, KeyError> {
        let manifest = self.read_manifest()?;
        manifest
            .keys
            .into_iter()
            .map(|entry| {
                let path = self.dir.join(&entry.file);
                let private = self.read_key_file(&entry, &path)?;
                Ok(PortableKey { entry, private })
            })
            .collect()
    }

    /// Makes `keys` the folder's whole key set (files of keys it no longer lists stay on disk).
    pub fn replace_with(&self, keys: &[PortableKey]) -> Result<(), KeyError> {
        fs::create_dir_all(&self.dir).map_err(self.io_err(&self.dir))?;
        let _lock = self.lock()?;
        let entries = keys
            .iter()
            .map(|key| self.write_key_file(key))
            .collect::<Result<_, _>>()?;
        self.write_manifest(&Manifest {
            version: 1,
            keys: entries,
        })
    }

    fn read_key_file(&self, entry: &ManifestEntry, path: &Path) -> Result<PrivateKey, KeyError> {
        let pem = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(self.io_err(path))?);
        PrivateKey::from_pem(entry.alg, &pem, self.passphrase.as_deref())
            .map_err(|err| err.in_file(path))
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<(), KeyError> {
        let path = self.dir.join(MANIFEST_FILE);
        let tmp = self.dir.join(format!(".{MANIFEST_FILE}.tmp"));
        let mut json =
            serde_json::to_vec_pretty(manifest).map_err(|err| KeyError::Encode(err.to_string()))?;
        json.push(b'\n');
        let mut out = File::create(&tmp).map_err(self.io_err(&tmp))?;
        out.write_all(&json)
            .and_then(|()| out.sync_all())
            .map_err(self.io_err(&tmp))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).map_err(self.io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(self.io_err(&path))?;
        Ok(())
    }

    fn lock(&self) -> Result<File, KeyError> {
        let path = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(self.io_err(&path))?;
        file.lock().map_err(self.io_err(&path))?;
        Ok(file)
    }
}
