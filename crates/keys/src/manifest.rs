//! The key schedule (the key folder's manifest; the database store keeps the same fields per row)
//! and the state a key is in at a given instant.
//!
//! A key's state is a pure function of its manifest entry and the clock, so every instance that
//! shares the folder agrees on which key signs without talking to the others:
//!
//! ```text
//!  created ── activates_at ──────── retires_at ──────── unpublish_at ──▶
//!   Next (published, not signing) │ Active (signs) │ Retired (published) │ gone
//! ```

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::{Kid, SigningAlg};

/// The manifest file name inside the key folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// `manifest.json`: one entry per key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version, 1.
    pub version: u32,
    /// Every key, in creation order.
    pub keys: Vec<ManifestEntry>,
}

/// One key of the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// The RFC 7638 thumbprint of the public key.
    pub kid: Kid,
    /// The algorithm it signs with.
    pub alg: SigningAlg,
    /// The PKCS#8 PEM file, relative to the folder.
    pub file: String,
    /// When it was generated.
    pub created: DateTime<Utc>,
    /// From when it signs (it is published from creation, so verifiers have it first).
    pub activates_at: DateTime<Utc>,
    /// From when it no longer signs; `None` while it is the current key.
    pub retires_at: Option<DateTime<Utc>>,
    /// From when it is no longer published: once every token it signed has expired.
    pub unpublish_at: Option<DateTime<Utc>>,
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// Signing (and published).
    Active,
    /// No longer signing; published until the tokens it signed have expired.
    Retired,
    /// Neither signing nor published.
    Expired,
}

impl KeyState {
    /// Whether the key belongs in the JWKS.
    pub fn is_published(self) -> bool {
        !matches!(self, KeyState::Expired)
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
        }
    }
}

impl ManifestEntry {
    /// The key's state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        if now < self.activates_at {
            KeyState::Next
        } else if self.retires_at.is_none_or(|retires| now < retires) {
            KeyState::Active
        } else if self.unpublish_at.is_none_or(|gone| now < gone) {
            KeyState::Retired
        } else {
            KeyState::Expired
        }
    }
}

/// `now` as schedules keep it: to the microsecond, what PostgreSQL stores, so that a key set
/// reads back the same from either store.
pub(crate) fn instant(now: DateTime<Utc>) -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(now, 6)
}

impl Manifest {
    /// The algorithms with no key that signs now or will without anyone acting.
    pub fn missing(&self, now: DateTime<Utc>) -> Vec<SigningAlg> {
        SigningAlg::ALL
            .into_iter()
            .filter(|alg| !self.has_current_or_next(*alg, now))
            .collect()
    }

    /// Schedules the current key(s) of `alg` to stop signing at `at` — when their successor
    /// takes over — and to stay published for `publish_grace` more. (A still-pending key that
    /// would have activated later never gets to sign: it goes from next to retired.)
    pub fn retire_current(&mut self, alg: SigningAlg, at: DateTime<Utc>, publish_grace: Duration) {
        for entry in self
            .keys
            .iter_mut()
            .filter(|e| e.alg == alg && e.retires_at.is_none())
        {
            entry.retires_at = Some(at);
            entry.unpublish_at = Some(at + publish_grace);
        }
    }

    /// Whether `alg` has a key that signs now or will sign without further action.
    pub fn has_current_or_next(&self, alg: SigningAlg, now: DateTime<Utc>) -> bool {
        self.keys.iter().any(|entry| {
            entry.alg == alg
                && matches!(entry.state(now), KeyState::Next | KeyState::Active)
                && entry.retires_at.is_none()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(activates: i64, retires: Option<i64>, gone: Option<i64>) -> ManifestEntry {
        let t0 = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        ManifestEntry {
            kid: Kid::new("k"),
            alg: SigningAlg::ES256,
            file: "k.pem".into(),
            created: t0,
            activates_at: t0 + Duration::seconds(activates),
            retires_at: retires.map(|s| t0 + Duration::seconds(s)),
            unpublish_at: gone.map(|s| t0 + Duration::seconds(s)),
        }
    }

    #[test]
    fn state_follows_the_timeline_with_half_open_boundaries() {
        let t0 = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let key = entry(10, Some(20), Some(30));
        let at = |s| key.state(t0 + Duration::seconds(s));
        assert_eq!(at(0), KeyState::Next);
        assert_eq!(at(9), KeyState::Next);
        assert_eq!(at(10), KeyState::Active);
        assert_eq!(at(19), KeyState::Active);
        assert_eq!(at(20), KeyState::Retired);
        assert_eq!(at(29), KeyState::Retired);
        assert_eq!(at(30), KeyState::Expired);
        assert!(!at(30).is_published());
        assert_eq!(
            entry(0, None, None).state(t0 + Duration::days(9999)),
            KeyState::Active
        );
    }
}
