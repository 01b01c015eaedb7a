//! A software authenticator for API tests of passkeys: it answers the options Tessera sends the
//! way a browser's `navigator.credentials.create` / `.get` would (`RegistrationResponseJSON`,
//! `AuthenticationResponseJSON`), with an ES256 key of its own, `none` attestation, user
//! presence and user verification, and a counter that grows. It writes the CBOR and the
//! authenticator data by hand, so that the server's WebAuthn library, not ours, reads them.
//! The browser tests use Chromium's own virtual authenticator instead.

#![expect(
    clippy::expect_used,
    reason = "test support: options it can not answer are a failed test"
)]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const AT: u8 = 0x40;

/// One passkey held in memory.
pub struct SoftAuthenticator {
    key: SigningKey,
    /// The credential id (raw bytes).
    pub credential_id: Vec<u8>,
    user_handle: Option<String>,
    counter: u32,
    origin: String,
    /// Whether it says it is a synced (backup-eligible) credential.
    pub synced: bool,
}

impl std::fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftAuthenticator")
            .field("credential_id", &self.credential_id)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A CBOR byte string header and bytes.
fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=255 => out.extend([0x58, len as u8]),
        _ => {
            out.push(0x59);
            out.extend((len as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(bytes);
}

/// A CBOR text string of fewer than 24 bytes.
fn cbor_text(out: &mut Vec<u8>, text: &str) {
    out.push(0x60 | text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

impl SoftAuthenticator {
    /// A new passkey that will answer for pages of `origin` (`http://localhost:8080`).
    pub fn new(origin: &str) -> Self {
        let key = SigningKey::from_slice(&random_bytes()).expect("P-256 key");
        let credential_id = random_bytes().to_vec();
        Self {
            key,
            credential_id,
            user_handle: None,
            counter: 0,
            origin: origin.to_owned(),
            synced: false,
        }
    }

    /// The credential id as the server stores it (base64url).
    pub fn id(&self) -> String {
        b64(&self.credential_id)
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn flags(&self) -> u8 {
        UP | UV | if self.synced { BE } else { 0 }
    }

    fn auth_data_head(&self, rp_id: &str, flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// The answer to creation options (`PublicKeyCredentialCreationOptionsJSON`).
    pub fn create(&mut self, options: &Value) -> Value {
        let rp_id = options["rp"]["id"].as_str().expect("rp.id");
        let challenge = options["challenge"].as_str().expect("challenge");
        self.user_handle = options["user"]["id"].as_str().map(str::to_owned);
        self.counter += 1;
        let mut auth_data = self.auth_data_head(rp_id, self.flags() | AT);
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        // COSE_Key, EC2 P-256 ES256, in CTAP2 canonical order: 1, 3, -1, -2, -3.
        let point = self.key.verifying_key().to_sec1_point(false);
        let (x, y) = point.as_bytes()[1..].split_at(32);
        auth_data.extend([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]);
        cbor_bytes(&mut auth_data, x);
        auth_data.push(0x22);
        cbor_bytes(&mut auth_data, y);
        // {"fmt": "none", "attStmt": {}, "authData": …}, canonical order.
        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        let client_data = self.client_data("webauthn.create", challenge);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
        })
    }

    /// The answer to request options (`PublicKeyCredentialRequestOptionsJSON`), signed.
    pub fn get(&mut self, options: &Value) -> Value {
        let rp_id = options["rpId"].as_str().expect("rpId");
        let challenge = options["challenge"].as_str().expect("challenge");
        self.get_for(rp_id, challenge)
    }

    /// [`Self::get`] for a given RP ID and challenge (tests that lie about them).
    pub fn get_for(&mut self, rp_id: &str, challenge: &str) -> Value {
        self.counter += 1;
        let auth_data = self.auth_data_head(rp_id, self.flags());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: DerSignature = self.key.sign(&signed);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_bytes()),
                "userHandle": self.user_handle,
            },
        })
    }

    /// Answers from now on for pages of `origin` (a phishing site's, in a test).
    pub fn set_origin(&mut self, origin: &str) {
        origin.clone_into(&mut self.origin);
    }
}

/// 32 random bytes (the SHA-256 of a fresh 256-bit secret of the server's own generator).
fn random_bytes() -> [u8; 32] {
    let secret =
        tessera_core::secret::PlainToken::generate(tessera_core::secret::SecretKind::Session);
    Sha256::digest(secret.expose().as_bytes()).into()
}
