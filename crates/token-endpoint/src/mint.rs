//! Minting: JWT access tokens (RFC 9068), ID tokens (OIDC Core §2, claims built with the
//! openidconnect types) and the token response. Every signature goes through the keys crate —
//! aws-lc-rs with key pairs parsed once, the active key of the algorithm, `kid` always set
//! (ADR 0002, ADR 0007).

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use openidconnect::{
    AccessTokenHash, Audience, AuthenticationContextClass, AuthenticationMethodReference,
    ClientId as OidcClientId, EmptyAdditionalClaims, EndUserEmail, EndUserName, EndUserUsername,
    IssuerUrl, LocalizedClaim, Nonce, StandardClaims, SubjectIdentifier,
    core::{CoreGenderClaim, CoreIdTokenClaims, CoreUserInfoClaims},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::{
    GrantId, Issuer, SigningAlg,
    amr::Amr,
    secret::random_id,
    store::{ClientRecord, UserRecord},
};
use tessera_keys::{KeyError, Keys};

/// The JOSE `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Lifetimes and algorithms that apply unless a client overrides them.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// `TESSERA_ACCESS_TOKEN_TTL`.
    pub access_token_ttl: Duration,
    /// `TESSERA_ID_TOKEN_TTL`.
    pub id_token_ttl: Duration,
    /// `TESSERA_REFRESH_TOKEN_TTL`: idle lifetime, restarted by each rotation.
    pub refresh_idle_ttl: Duration,
    /// `TESSERA_REFRESH_TOKEN_ABSOLUTE_TTL`: a family ends this long after its sign-in.
    pub refresh_absolute_ttl: Duration,
    /// `TESSERA_REFRESH_TOKEN_MAX_ROTATIONS`: `None` for no cap.
    pub refresh_max_rotations: Option<i32>,
    /// `TESSERA_REFRESH_TOKEN_GRACE`: how long after its rotation a token may be presented again
    /// while its successors are unused.
    pub refresh_grace: Duration,
    /// `TESSERA_ACCESS_TOKEN_ALG`: for clients that set none.
    pub access_token_alg: SigningAlg,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::minutes(15),
            id_token_ttl: Duration::hours(1),
            refresh_idle_ttl: Duration::days(30),
            refresh_absolute_ttl: Duration::days(90),
            refresh_max_rotations: None,
            refresh_grace: Duration::zero(),
            access_token_alg: SigningAlg::RS256,
        }
    }
}

/// The longest per-client lifetime honoured (ten years): stored values are bounded by the console
/// and the CLI, and this keeps a hand-edited row from overflowing time arithmetic.
const MAX_CLIENT_LIFETIME_SECS: i64 = 10 * 366 * 24 * 3600;

/// A client's own lifetime setting (seconds) when it has a usable one, else `default`.
pub fn lifetime_or(client_secs: Option<i64>, default: Duration) -> Duration {
    client_secs
        .filter(|secs| (1..=MAX_CLIENT_LIFETIME_SECS).contains(secs))
        .map_or(default, Duration::seconds)
}

/// The claims of a Tessera access token (RFC 9068 §2.2), plus `grant_id`: the family it hangs
/// from, so that revoking a grant is seen at once by userinfo and introspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The user, or the client for client credentials and self-asserted JWT bearer.
    pub sub: String,
    /// The audience: the issuer (Tessera's own resources and the resource servers that trust it),
    /// or the one registered resource server the token was asked for (RFC 8707).
    pub aud: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Its unique id (the revocation denylist key).
    pub jti: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// When the user authenticated, for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The grant (family) it belongs to, for tokens that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// RFC 9449 §6.1: the DPoP key it is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim of a DPoP-bound token (RFC 9449 §6.1, RFC 7800).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the key.
    pub jkt: String,
}

impl AccessTokenClaims {
    /// The scopes as a list.
    pub fn scopes(&self) -> Vec<String> {
        self.scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// What an access token is about.
#[derive(Debug, Clone)]
pub struct AccessTokenSubject<'a> {
    /// `sub`.
    pub subject: &'a str,
    /// Scopes.
    pub scopes: &'a [String],
    /// When the user authenticated.
    pub auth_time: Option<DateTime<Utc>>,
    /// Its grant.
    pub grant: Option<&'a GrantId>,
    /// The resource it is for (RFC 8707); `None`: the issuer.
    pub audience: Option<&'a str>,
    /// The DPoP key it is bound to (RFC 9449), if any.
    pub jkt: Option<&'a str>,
}

/// What an ID token is about.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenSubject<'a> {
    /// The user.
    pub user: &'a UserRecord,
    /// Granted scopes (select the claims).
    pub scopes: &'a [String],
    /// The nonce of the authorization request.
    pub nonce: Option<&'a str>,
    /// When the user authenticated.
    pub auth_time: Option<DateTime<Utc>>,
    /// The access token issued with it (for `at_hash`).
    pub access_token: &'a str,
    /// How the user signed in (`amr`, and the `acr` it amounts to).
    pub amr: &'a Amr,
}

/// A minted access token.
#[derive(Debug, Clone)]
pub struct MintedAccessToken {
    /// The compact JWS.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// The JSON of a successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to a DPoP key (RFC 9449 §5).
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// The rotated refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope (always sent, so a narrowed scope is visible).
    pub scope: String,
    /// The ID token, for OpenID requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl TokenResponse {
    /// The response as JSON text, the members in the order serde writes them. The tokens are
    /// ours — JWS compact serialisations (base64url and dots) and `tsr_` + base64url refresh
    /// tokens — and the scope is NQCHARs (RFC 6749 §3.3: no `"`, no `\\`), so nothing needs
    /// escaping and the text is written directly. The scope, which came from a request, is
    /// checked; should it break that, serde_json writes the whole response.
    pub fn to_json(&self) -> String {
        use std::fmt::Write as _;
        let plain = |text: &str| !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
        if !plain(&self.scope) {
            return serde_json::to_string(self).unwrap_or_default();
        }
        let values = [
            Some(self.access_token.as_str()),
            self.refresh_token.as_deref(),
            Some(self.scope.as_str()),
            self.id_token.as_deref(),
        ];
        debug_assert!(
            values.into_iter().flatten().all(plain),
            "tokens are base64url, dots and `tsr_`"
        );
        let mut json =
            String::with_capacity(96 + values.into_iter().flatten().map(str::len).sum::<usize>());
        json.push_str("{\"access_token\":\"");
        json.push_str(&self.access_token);
        json.push_str("\",\"token_type\":\"");
        json.push_str(self.token_type);
        json.push_str("\",\"expires_in\":");
        let _ = write!(json, "{}", self.expires_in);
        if let Some(refresh) = &self.refresh_token {
            json.push_str(",\"refresh_token\":\"");
            json.push_str(refresh);
            json.push('"');
        }
        json.push_str(",\"scope\":\"");
        json.push_str(&self.scope);
        json.push('"');
        if let Some(id_token) = &self.id_token {
            json.push_str(",\"id_token\":\"");
            json.push_str(id_token);
            json.push('"');
        }
        json.push('}');
        json
    }
}

/// Mints tokens with the server's keys.
#[derive(Debug, Clone)]
pub struct Minter {
    keys: Arc<Keys>,
    issuer: Issuer,
    issuer_url: IssuerUrl,
    policy: TokenPolicy,
}

/// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of the SHA-256 of the token —
/// SHA-256 because both RS256 and ES256 hash with it.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

/// The standard claims the granted scopes release about `user` (OIDC Core §5.4): `profile` →
/// `name`, `preferred_username`; `email` → `email`, `email_verified`.
pub fn user_claims(user: &UserRecord, scopes: &[String]) -> StandardClaims<CoreGenderClaim> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = StandardClaims::new(SubjectIdentifier::new(user.id.as_str().to_owned()));
    if has("profile") {
        claims = claims
            .set_name(
                user.name
                    .clone()
                    .map(|name| LocalizedClaim::from(EndUserName::new(name))),
            )
            .set_preferred_username(Some(EndUserUsername::new(user.username.clone())));
    }
    if has("email") && user.email.is_some() {
        claims = claims
            .set_email(user.email.clone().map(EndUserEmail::new))
            .set_email_verified(Some(user.email_verified));
    }
    claims
}

/// The userinfo response body for `user` and the token's scopes.
pub fn userinfo_claims(user: &UserRecord, scopes: &[String]) -> CoreUserInfoClaims {
    CoreUserInfoClaims::new(user_claims(user, scopes), EmptyAdditionalClaims {})
}

impl Minter {
    /// A minter for `issuer` (validated by config: a URL without trailing slash).
    pub fn new(keys: Arc<Keys>, issuer: Issuer, policy: TokenPolicy) -> Result<Self, String> {
        let issuer_url = IssuerUrl::new(issuer.as_str().to_owned()).map_err(|e| e.to_string())?;
        Ok(Self {
            keys,
            issuer,
            issuer_url,
            policy,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The keys.
    pub fn keys(&self) -> &Arc<Keys> {
        &self.keys
    }

    /// The access-token algorithm of `client`.
    pub fn access_token_alg(&self, client: &ClientRecord) -> SigningAlg {
        client
            .access_token_signed_alg
            .unwrap_or(self.policy.access_token_alg)
    }

    /// The access-token lifetime of `client`.
    pub fn access_token_ttl(&self, client: &ClientRecord) -> Duration {
        lifetime_or(client.access_token_ttl, self.policy.access_token_ttl)
    }

    /// Builds and signs an access token for `client` about `about`.
    pub fn access_token(
        &self,
        client: &ClientRecord,
        about: &AccessTokenSubject<'_>,
        now: DateTime<Utc>,
    ) -> Result<MintedAccessToken, KeyError> {
        let ttl = self.access_token_ttl(client);
        let claims = AccessTokenClaims {
            iss: self.issuer.as_str().to_owned(),
            sub: about.subject.to_owned(),
            aud: about.audience.unwrap_or(self.issuer.as_str()).to_owned(),
            client_id: client.client_id.as_str().to_owned(),
            scope: about.scopes.join(" "),
            jti: random_id(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            auth_time: about.auth_time.map(|t| t.timestamp()),
            grant_id: about.grant.map(|g| g.as_str().to_owned()),
            cnf: about.jkt.map(|jkt| Confirmation {
                jkt: jkt.to_owned(),
            }),
        };
        let token = self.keys.ring().sign(
            self.access_token_alg(client),
            ACCESS_TOKEN_TYP,
            &claims,
            now,
        )?;
        Ok(MintedAccessToken {
            token,
            expires_in: ttl.num_seconds(),
        })
    }

    /// Builds (with openidconnect's types) and signs an ID token for `client` about `about`.
    pub fn id_token(
        &self,
        client: &ClientRecord,
        about: &IdTokenSubject<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let IdTokenSubject {
            user,
            scopes,
            nonce,
            auth_time,
            access_token,
            amr,
        } = *about;
        // JWT times are whole seconds; the key is still chosen at the exact `now` (a key that
        // activated within this second must not look inactive).
        let issued = whole_seconds(now);
        let audience = client.client_id.as_str().to_owned();
        let claims = CoreIdTokenClaims::new(
            self.issuer_url.clone(),
            vec![Audience::new(audience.clone())],
            issued + self.policy.id_token_ttl,
            issued,
            user_claims(user, scopes),
            EmptyAdditionalClaims {},
        )
        .set_nonce(nonce.map(|n| Nonce::new(n.to_owned())))
        .set_auth_time(auth_time.map(whole_seconds))
        .set_auth_context_ref(Some(AuthenticationContextClass::new(amr.acr().to_owned())))
        .set_auth_method_refs(Some(
            amr.values()
                .into_iter()
                .map(|m| AuthenticationMethodReference::new(m.to_owned()))
                .collect(),
        ))
        .set_authorized_party(Some(OidcClientId::new(audience)))
        .set_access_token_hash(Some(AccessTokenHash::new(at_hash(access_token))));
        let alg = client
            .id_token_signed_response_alg
            .unwrap_or(SigningAlg::RS256);
        self.keys.ring().sign(alg, "JWT", &claims, now)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_token_response_is_written_as_serde_would_write_it() {
        let mut response = super::TokenResponse {
            access_token: "eyJh.eyJz.c2ln-_".into(),
            token_type: "Bearer",
            expires_in: 900,
            refresh_token: None,
            scope: "openid api:read~x!".into(),
            id_token: None,
        };
        let same = |r: &super::TokenResponse| {
            assert_eq!(r.to_json(), serde_json::to_string(r).unwrap());
        };
        same(&response);
        response.refresh_token = Some("tsr_abc".into());
        response.id_token = Some("eyJ.a.b".into());
        response.expires_in = -1;
        same(&response);
        // A value that needs escaping goes through serde_json.
        response.scope = "quote\" back\\slash \u{1}".into();
        same(&response);
    }

    proptest::proptest! {
        /// Whatever the scope, and for any tokens of the shapes we mint, the text is the JSON
        /// serde_json writes.
        #[test]
        fn any_token_response_is_serdes_json(
            access in "[A-Za-z0-9._-]{0,40}",
            scope in "\\PC{0,20}",
            refresh in proptest::option::of("tsr_[A-Za-z0-9_-]{0,20}"),
            id_token in proptest::option::of("[A-Za-z0-9._-]{0,30}"),
            expires_in in proptest::num::i64::ANY,
        ) {
            let response = super::TokenResponse {
                access_token: access,
                token_type: "Bearer",
                expires_in,
                refresh_token: refresh,
                scope,
                id_token,
            };
            proptest::prop_assert_eq!(response.to_json(), serde_json::to_string(&response).unwrap());
        }
    }

    use super::*;

    /// OIDC Core §3.1.3.6 with the example of the OpenID Foundation's conformance notes: the
    /// left-most 128 bits of SHA-256, base64url without padding.
    #[test]
    fn at_hash_is_left_half_of_sha256() {
        let hash = at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
        assert_eq!(hash, "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(URL_SAFE_NO_PAD.decode(hash).unwrap().len(), 16);
    }
}

/// A ready minter with sample client and user, for tests and benchmarks (not for production
/// use: the keys live wherever `dir` is).
#[doc(hidden)]
pub mod sample {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use tessera_core::{
        ClientId, Clock, FakeClock, Issuer, Subject,
        store::{ClientRecord, UserRecord},
    };
    use tessera_keys::{KeyError, KeyFolder, Keys};

    use super::{Minter, TokenPolicy};

    /// What [`sample`] builds.
    #[derive(Debug)]
    pub struct Sample {
        /// The minter (issuer `https://issuer.example`).
        pub minter: Minter,
        /// A client `rp`.
        pub client: ClientRecord,
        /// A user `alice`.
        pub user: UserRecord,
        /// The fixed time its keys are active at.
        pub now: DateTime<Utc>,
    }

    /// Keys created in `dir` on a fixed clock, a client and a user.
    pub fn sample(dir: &std::path::Path) -> Result<Sample, KeyError> {
        let clock = FakeClock::new();
        let keys = Keys::open(KeyFolder::new(dir, None), Arc::new(clock.clone()))?;
        let minter = Minter::new(
            Arc::new(keys),
            Issuer::new("https://issuer.example"),
            TokenPolicy::default(),
        )
        .map_err(KeyError::Invalid)?;
        let now = clock.now();
        let client = ClientRecord::empty(ClientId::new("rp"), now);
        let user = UserRecord {
            id: Subject::new("u1"),
            username: "alice".into(),
            password_hash: String::new(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice".into()),
            is_admin: false,
            enabled: true,
            mfa_required: false,
            created_at: now,
        };
        Ok(Sample {
            minter,
            client,
            user,
            now,
        })
    }
}

#[cfg(test)]
mod minting {
    use super::{sample::sample, *};

    #[test]
    fn mints_id_and_access_tokens_with_both_algorithms() {
        let dir = tempfile::TempDir::new().unwrap();
        let sample = sample(dir.path()).unwrap();
        let (minter, mut client, user, now) =
            (sample.minter, sample.client, sample.user, sample.now);
        let scopes = vec!["openid".to_owned(), "profile".to_owned()];
        for alg in SigningAlg::ALL {
            client.id_token_signed_response_alg = Some(alg);
            client.access_token_signed_alg = Some(alg);
            let access = minter
                .access_token(
                    &client,
                    &AccessTokenSubject {
                        subject: "u1",
                        scopes: &scopes,
                        auth_time: Some(now),
                        grant: None,
                        audience: None,
                        jkt: None,
                    },
                    now,
                )
                .unwrap();
            let id = minter
                .id_token(
                    &client,
                    &IdTokenSubject {
                        user: &user,
                        scopes: &scopes,
                        nonce: Some("n"),
                        auth_time: Some(now),
                        access_token: &access.token,
                        amr: &Amr::password_and_otp(),
                    },
                    now,
                )
                .unwrap();
            assert_eq!(id.split('.').count(), 3);
        }
    }
}
