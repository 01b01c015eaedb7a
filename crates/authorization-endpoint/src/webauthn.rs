//! The WebAuthn relying party (passkeys, ADR 0029): Tessera's one door to the `webauthn_rp`
//! library. It starts ceremonies — the options a browser passes to `navigator.credentials`, and
//! the server state to keep until the answer, serialised so that any instance can take it — and
//! checks answers: the challenge, the origin (the issuer's), the RP ID hash, user presence and
//! verification (always required: a passkey stands for two factors, `tessera_core::amr`), the
//! signature, the counters. Everything stored is base64url text.
//!
//! The RP ID is the issuer's host. WebAuthn does not allow an IP address as RP ID, so an issuer
//! named by address (`http://127.0.0.1:8080`) has no passkeys: [`RelyingParty::for_issuer`] says
//! `None` and the pages say why.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use tessera_core::amr::KeyKind;
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthentication16, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, PublicKeyCredentialCreationOptions, Registration,
    RegistrationServerState,
    bin::{Decode, Encode},
    request::{
        AsciiDomain, ExtensionInfo, PublicKeyCredentialDescriptor, RpId,
        auth::AuthenticationVerificationOptions,
        register::{
            CredProtect, Nickname, PublicKeyCredentialUserEntity, RegistrationVerificationOptions,
            UserHandle16, Username,
        },
    },
    response::{
        AuthTransports, Backup, CredentialId,
        register::{CompressedPubKey, DynamicState, StaticState},
    },
};

/// Why a passkey answer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    /// The browser's answer is not a WebAuthn response this server can read.
    #[error("not a WebAuthn response: {0}")]
    Malformed(String),
    /// The answer was read and refused (wrong origin, challenge, signature, no user
    /// verification, …).
    #[error("refused: {0}")]
    Refused(String),
    /// Something stored could not be read back (a bug or a damaged row).
    #[error("stored passkey data unreadable: {0}")]
    Stored(&'static str),
}

/// The stored public key as the library decodes it.
type StoredKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

/// The server as a WebAuthn relying party.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    rp_id: RpId,
    origin: String,
}

/// A passkey the browser just created, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    /// The credential id (base64url).
    pub credential_id: String,
    /// The user handle it was created for (base64url).
    pub user_handle: String,
    /// The public key (base64url of the library's encoding).
    pub public_key: String,
    /// The counters (base64url of the library's encoding).
    pub counters: String,
    /// A synced credential (backup eligible).
    pub synced: bool,
}

/// A sign-in answer, read but not yet checked: which passkey it claims to be.
#[derive(Debug)]
pub struct Assertion {
    parsed: DiscoverableAuthentication16,
    /// The credential id it names (base64url).
    pub credential_id: String,
    /// The user handle it names (base64url).
    pub user_handle: String,
}

/// A checked sign-in with a stored passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedPasskey {
    /// The counters to store (base64url).
    pub counters: String,
    /// Whether they changed (store only then).
    pub changed: bool,
    /// What kind of key it is.
    pub kind: KeyKind,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str, what: &'static str) -> Result<Vec<u8>, PasskeyError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| PasskeyError::Stored(what))
}

fn kind_of(state: &DynamicState) -> KeyKind {
    match state.backup {
        Backup::NotEligible => KeyKind::Hardware,
        Backup::Eligible | Backup::Exists => KeyKind::Software,
    }
}

/// The account name authenticators show for `username`. WebAuthn wants an RFC 8265 username
/// (no spaces, among others); Tessera's usernames may have them: spaces become dots, and a name
/// that still does not pass is shown as `user` (the display name, which allows more, carries
/// the rest).
fn webauthn_name(username: &str) -> Result<Username<'static>, PasskeyError> {
    Username::try_from(username.to_owned())
        .or_else(|_| Username::try_from(username.split_whitespace().collect::<Vec<_>>().join(".")))
        .or_else(|_| Username::try_from("user".to_owned()))
        .map_err(|_| PasskeyError::Malformed("no WebAuthn account name".into()))
}

/// A new random user handle (base64url), for a user's first passkey.
pub fn new_user_handle() -> String {
    b64(UserHandle16::new().as_ref())
}

impl RelyingParty {
    /// The relying party of `issuer`: its host as RP ID, its origin as the one origin answers
    /// may come from. `None` when the host is an IP address (WebAuthn allows none) or missing.
    pub fn for_issuer(issuer: &str) -> Option<Self> {
        let url = url::Url::parse(issuer).ok()?;
        let url::Host::Domain(host) = url.host()? else {
            return None;
        };
        let rp_id = RpId::Domain(AsciiDomain::try_from(host.to_ascii_lowercase()).ok()?);
        Some(Self {
            rp_id,
            origin: url.origin().ascii_serialization(),
        })
    }

    /// The RP ID (the issuer's host).
    pub fn rp_id(&self) -> &str {
        self.rp_id.as_ref()
    }

    fn origins(&self) -> [&str; 1] {
        [self.origin.as_str()]
    }

    /// Starts adding a passkey for the user with `user_handle` (base64url), named `username`
    /// and `display_name` on the authenticator, which must not already hold one of `existing`
    /// (credential ids, base64url). The server state to keep (base64url) and the options for
    /// `navigator.credentials.create` (`PublicKeyCredentialCreationOptionsJSON`).
    pub fn start_registration(
        &self,
        user_handle: &str,
        username: &str,
        display_name: &str,
        existing: &[String],
    ) -> Result<(String, serde_json::Value), PasskeyError> {
        let handle_bytes: [u8; 16] = unb64(user_handle, "user handle")?
            .try_into()
            .map_err(|_| PasskeyError::Stored("user handle"))?;
        let handle =
            UserHandle16::decode(handle_bytes).map_err(|_| PasskeyError::Stored("user handle"))?;
        let name = webauthn_name(username)?;
        let display = Nickname::try_from(display_name).ok();
        let mut exclude = Vec::with_capacity(existing.len());
        for id in existing {
            let id = CredentialId::<Vec<u8>>::decode(unb64(id, "credential id")?)
                .map_err(|_| PasskeyError::Stored("credential id"))?;
            exclude.push(PublicKeyCredentialDescriptor {
                id,
                transports: AuthTransports::decode(0)
                    .map_err(|_| PasskeyError::Stored("transports"))?,
            });
        }
        let user = PublicKeyCredentialUserEntity {
            name,
            id: &handle,
            display_name: display,
        };
        let mut creation = PublicKeyCredentialCreationOptions::passkey(&self.rp_id, user, exclude);
        // Ask authenticators to require user verification for the key (credProtect), without
        // making browsers refuse the ones that do not know the extension: every assertion asks
        // for user verification anyway.
        creation.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        let (server, client) = creation
            .start_ceremony()
            .map_err(|err| PasskeyError::Refused(format!("{err}")))?;
        let options = serde_json::to_value(&client)
            .map_err(|err| PasskeyError::Malformed(err.to_string()))?;
        let state = server
            .encode()
            .map_err(|_| PasskeyError::Stored("registration state"))?;
        Ok((b64(&state), options))
    }

    /// Checks the browser's answer (`RegistrationResponseJSON`) against the kept `state`.
    pub fn finish_registration(
        &self,
        state: &str,
        response: &[u8],
    ) -> Result<NewPasskey, PasskeyError> {
        let bytes = unb64(state, "registration state")?;
        let server = RegistrationServerState::<16>::decode(bytes.as_slice())
            .map_err(|_| PasskeyError::Stored("registration state"))?;
        let registration = Registration::from_json_relaxed(response)
            .map_err(|err| PasskeyError::Malformed(err.to_string()))?;
        let origins = self.origins();
        let options = RegistrationVerificationOptions::<&str, &str> {
            allowed_origins: &origins,
            ..RegistrationVerificationOptions::default()
        };
        let credential = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let public_key = credential
            .static_state()
            .encode()
            .map_err(|_| PasskeyError::Stored("public key"))?;
        let dynamic = credential.dynamic_state();
        let counters = dynamic
            .encode()
            .map_err(|_| PasskeyError::Stored("counters"))?;
        Ok(NewPasskey {
            credential_id: b64(credential.id().as_ref()),
            user_handle: b64(credential.user_id().as_ref()),
            public_key: b64(&public_key),
            counters: b64(&counters),
            synced: kind_of(&dynamic) == KeyKind::Software,
        })
    }

    /// Starts a sign-in with any passkey of this server the browser finds (discoverable
    /// credentials, no username): the server state to keep and the options for
    /// `navigator.credentials.get` (`PublicKeyCredentialRequestOptionsJSON`).
    pub fn start_assertion(&self) -> Result<(String, serde_json::Value), PasskeyError> {
        let (server, client) = DiscoverableCredentialRequestOptions::passkey(&self.rp_id)
            .start_ceremony()
            .map_err(|err| PasskeyError::Refused(format!("{err}")))?;
        let options = serde_json::to_value(&client)
            .map_err(|err| PasskeyError::Malformed(err.to_string()))?;
        let state = server
            .encode()
            .map_err(|_| PasskeyError::Stored("assertion state"))?;
        Ok((b64(&state), options))
    }

    /// Reads the browser's sign-in answer (`AuthenticationResponseJSON`) far enough to know
    /// which passkey it claims to be.
    pub fn read_assertion(response: &[u8]) -> Result<Assertion, PasskeyError> {
        let parsed = DiscoverableAuthentication16::from_json_relaxed(response)
            .map_err(|err| PasskeyError::Malformed(err.to_string()))?;
        let credential_id = b64(parsed.raw_id().as_ref());
        let user_handle = b64(parsed.response().user_handle().as_ref());
        Ok(Assertion {
            parsed,
            credential_id,
            user_handle,
        })
    }

    /// Checks `assertion` against the kept `state` and the stored passkey (public key
    /// `public_key`, counters `counters`, both base64url; its user handle `user_handle`).
    pub fn finish_assertion(
        &self,
        state: &str,
        assertion: &Assertion,
        user_handle: &str,
        public_key: &str,
        counters: &str,
    ) -> Result<UsedPasskey, PasskeyError> {
        let bytes = unb64(state, "assertion state")?;
        let server = DiscoverableAuthenticationServerState::decode(bytes.as_slice())
            .map_err(|_| PasskeyError::Stored("assertion state"))?;
        let handle_bytes: [u8; 16] = unb64(user_handle, "user handle")?
            .try_into()
            .map_err(|_| PasskeyError::Stored("user handle"))?;
        let handle =
            UserHandle16::decode(handle_bytes).map_err(|_| PasskeyError::Stored("user handle"))?;
        let key_bytes = unb64(public_key, "public key")?;
        let key = StaticState::<StoredKey>::decode(key_bytes.as_slice())
            .map_err(|_| PasskeyError::Stored("public key"))?;
        let counter_bytes: [u8; 7] = unb64(counters, "counters")?
            .try_into()
            .map_err(|_| PasskeyError::Stored("counters"))?;
        let dynamic =
            DynamicState::decode(counter_bytes).map_err(|_| PasskeyError::Stored("counters"))?;
        let mut credential =
            AuthenticatedCredential::new(assertion.parsed.raw_id(), &handle, key, dynamic)
                .map_err(|_| PasskeyError::Stored("passkey"))?;
        let origins = self.origins();
        let options = AuthenticationVerificationOptions::<&str, &str> {
            allowed_origins: &origins,
            ..AuthenticationVerificationOptions::default()
        };
        let changed = server
            .verify(&self.rp_id, &assertion.parsed, &mut credential, &options)
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let dynamic = credential.dynamic_state();
        let encoded = dynamic
            .encode()
            .map_err(|_| PasskeyError::Stored("counters"))?;
        Ok(UsedPasskey {
            counters: b64(&encoded),
            changed,
            kind: kind_of(&dynamic),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rp_id_is_the_issuers_host_and_never_an_address() {
        let rp = RelyingParty::for_issuer("https://Login.Example.com/tenant").unwrap();
        assert_eq!(rp.rp_id(), "login.example.com");
        assert_eq!(rp.origin, "https://login.example.com");
        let local = RelyingParty::for_issuer("http://localhost:8080").unwrap();
        assert_eq!(local.origin, "http://localhost:8080");
        assert!(RelyingParty::for_issuer("http://127.0.0.1:8080").is_none());
        assert!(RelyingParty::for_issuer("http://[::1]:8080").is_none());
    }

    #[test]
    fn ceremonies_start_with_options_a_browser_reads_and_state_that_round_trips() {
        let rp = RelyingParty::for_issuer("http://localhost:8080").unwrap();
        let handle = new_user_handle();
        let (state, options) = rp
            .start_registration(&handle, "alice", "Alice", &[])
            .unwrap();
        assert_eq!(options["rp"]["id"], "localhost");
        assert_eq!(options["user"]["id"], handle.as_str());
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(
            options["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert_eq!(
            options["extensions"]["enforceCredentialProtectionPolicy"], false,
            "an authenticator without credProtect is not refused by the browser"
        );
        assert!(options["challenge"].as_str().is_some_and(|c| c.len() >= 22));
        let bytes = unb64(&state, "state").unwrap();
        assert!(RegistrationServerState::<16>::decode(bytes.as_slice()).is_ok());
        let (state, options) = rp.start_assertion().unwrap();
        assert_eq!(options["rpId"], "localhost");
        assert_eq!(options["userVerification"], "required");
        let bytes = unb64(&state, "state").unwrap();
        assert!(DiscoverableAuthenticationServerState::decode(bytes.as_slice()).is_ok());
        // Two ceremonies never share a challenge.
        let (_, again) = rp.start_assertion().unwrap();
        assert_ne!(options["challenge"], again["challenge"]);
    }

    #[test]
    fn every_username_starts_a_registration() {
        let rp = RelyingParty::for_issuer("http://localhost:8080").unwrap();
        for (username, shown) in [
            ("alice", "alice"),
            ("Jane Doe", "Jane.Doe"),
            ("émile@example.com", "émile@example.com"),
            ("\u{200b}", "user"),
        ] {
            let (_, options) = rp
                .start_registration(&new_user_handle(), username, username, &[])
                .unwrap_or_else(|e| panic!("{username:?}: {e}"));
            assert_eq!(options["user"]["name"], shown, "{username:?}");
        }
    }

    #[test]
    fn junk_answers_are_malformed_not_panics() {
        for junk in [&b""[..], b"{}", b"null", b"{\"id\":1}", &[0xff; 64]] {
            assert!(matches!(
                RelyingParty::read_assertion(junk),
                Err(PasskeyError::Malformed(_))
            ));
        }
        let rp = RelyingParty::for_issuer("http://localhost:8080").unwrap();
        let (state, _) = rp
            .start_registration(&new_user_handle(), "alice", "Alice", &[])
            .unwrap();
        assert!(matches!(
            rp.finish_registration(&state, b"{\"id\":\"AAAA\"}"),
            Err(PasskeyError::Malformed(_))
        ));
        assert!(matches!(
            rp.finish_registration("not base64!", b"{}"),
            Err(PasskeyError::Stored(_))
        ));
    }
}
