//! `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout §2): an ID token *we* issued — our
//! signature, our issuer, `typ: JWT` (so an access token, `at+jwt`, is not one) — whatever its
//! age: it only says who the relying party thinks is signed in, and for which client.

use tessera_core::{Issuer, SigningAlg};
use tessera_keys::{Keys, VerifyPolicy};

/// What a valid hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The user it was issued about.
    pub subject: String,
    /// Its audiences (the client ids it was issued to).
    pub audiences: Vec<String>,
    /// `azp`, when present.
    pub authorized_party: Option<String>,
}

impl Hint {
    /// The client the hint was issued to: `azp`, else its only audience.
    pub fn client(&self) -> Option<&str> {
        self.authorized_party
            .as_deref()
            .or(match self.audiences.as_slice() {
                [only] => Some(only.as_str()),
                _ => None,
            })
    }

    /// Whether `client_id` is one of the hint's audiences.
    pub fn issued_to(&self, client_id: &str) -> bool {
        self.audiences.iter().any(|aud| aud == client_id)
    }
}

/// Reads `hint`, or `None` when it is not an ID token of ours.
pub fn read(keys: &Keys, issuer: &Issuer, hint: &str) -> Option<Hint> {
    let policy = VerifyPolicy {
        algs: &SigningAlg::ALL,
        typ: Some("JWT"),
        issuer: Some(issuer.as_str()),
        audience: None,
        // Expired hints are fine (they only say who asks); a year bounds what we still read.
        leeway_secs: 366 * 24 * 3600,
    };
    let claims: serde_json::Value = keys.verify(hint, &policy).ok()?;
    let audiences = match &claims["aud"] {
        serde_json::Value::String(aud) => vec![aud.clone()],
        serde_json::Value::Array(auds) => auds
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => return None,
    };
    Some(Hint {
        subject: claims["sub"].as_str()?.to_owned(),
        audiences,
        authorized_party: claims["azp"].as_str().map(str::to_owned),
    })
}
