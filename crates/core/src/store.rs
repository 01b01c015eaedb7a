//! Repository traits: what the protocol needs from storage, with no SQL in sight. The storage
//! crate implements them for SQLite and PostgreSQL; endpoint crates only ever see these traits.
//!
//! Single use is a storage guarantee, not a protocol habit: [`CodeRepo::consume`],
//! [`RefreshTokenRepo::consume`] and [`AssertionReplayRepo::record_once`] are each one atomic
//! statement, so exactly one of any number of concurrent callers — on any number of instances
//! sharing the database — wins.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    ClientId, GrantId, Kid, SigningAlg, Subject,
    amr::Amr,
    secret::TokenHash,
    signals::KnownDevice,
    totp::{TotpRecord, TotpSecret},
};

/// A storage failure. Callers answer `server_error` / `temporarily_unavailable`; details go to logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same unique key exists already.
    #[error("{what} already exists")]
    Conflict {
        /// What collided, e.g. "client", "username".
        what: &'static str,
    },
    /// A row that the operation depends on does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was missing.
        what: &'static str,
    },
    /// A stored value could not be read back into its domain type (corrupt or hand-edited row).
    #[error("stored {what} is invalid: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// Why it could not be read.
        detail: String,
    },
    /// The database could not be reached or answered with an error: the driver's error, kept as
    /// the source (`std::error::Error::source`), so logs and callers see its whole chain.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The outcome of redeeming a single-use value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumption<T> {
    /// This caller redeemed it; nobody else ever will.
    Consumed(T),
    /// It was redeemed before: a replay. RFC 9700 §4.5 / §4.14 want the caller to revoke what
    /// the first redemption issued, so the record is returned.
    AlreadyConsumed(T),
    /// It exists but expired before it was redeemed.
    Expired,
    /// No such value.
    NotFound,
}

impl<T> Consumption<T> {
    /// The same outcome with `f` applied to its record.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Consumption<U> {
        match self {
            Consumption::Consumed(record) => Consumption::Consumed(f(record)),
            Consumption::AlreadyConsumed(record) => Consumption::AlreadyConsumed(f(record)),
            Consumption::Expired => Consumption::Expired,
            Consumption::NotFound => Consumption::NotFound,
        }
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2, OIDC Registration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuthMethod {
    /// HTTP Basic with client_id and client_secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// A public client: no authentication.
    None,
}

impl ClientAuthMethod {
    /// The registered metadata value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    /// Parses a registered metadata value.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "client_secret_basic" => Self::ClientSecretBasic,
            "client_secret_post" => Self::ClientSecretPost,
            "private_key_jwt" => Self::PrivateKeyJwt,
            "none" => Self::None,
            _ => return None,
        })
    }
}

/// A registered OAuth client as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// The server-chosen id.
    pub client_id: ClientId,
    /// Display name (data, never markup).
    pub client_name: Option<String>,
    /// SHA-256 of the client secret, for confidential clients using a secret.
    pub secret_hash: Option<TokenHash>,
    /// Exactly-matched redirect URIs.
    pub redirect_uris: Vec<String>,
    /// RP-initiated logout targets.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types the client may use.
    pub grant_types: Vec<crate::grant_type::GrantType>,
    /// Response types the client may use.
    pub response_types: Vec<crate::grant_type::ResponseType>,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// The one authentication method it must use.
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// Its JWK Set by value (private_key_jwt, JWT bearer).
    pub jwks: Option<serde_json::Value>,
    /// Or where to fetch it.
    pub jwks_uri: Option<String>,
    /// Pinned alg for its client assertions.
    pub token_endpoint_auth_signing_alg: Option<SigningAlg>,
    /// Alg of its ID tokens.
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// Alg of its access tokens (default from config when unset).
    pub access_token_signed_alg: Option<SigningAlg>,
    /// Per-client access token lifetime, seconds.
    pub access_token_ttl: Option<i64>,
    /// Per-client refresh token idle lifetime, seconds (each rotation starts it again).
    pub refresh_token_ttl: Option<i64>,
    /// Per-client absolute lifetime of a refresh-token family, seconds from the sign-in.
    pub refresh_token_absolute_ttl: Option<i64>,
    /// Per-client cap on the number of rotations of one family.
    pub refresh_token_max_rotations: Option<i32>,
    /// Whether PKCE is required (true for every public client).
    pub require_pkce: bool,
    /// RFC 9126 §6: its authorization requests must be pushed (`/par`).
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: its token requests must carry a DPoP proof (sender-constrained tokens only).
    pub dpop_bound_access_tokens: bool,
    /// Disabled clients can not authenticate or authorize.
    pub enabled: bool,
    /// SHA-256 of the RFC 7592 registration access token, for dynamically registered clients.
    pub registration_token_hash: Option<TokenHash>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl ClientRecord {
    /// A public client with nothing registered yet and no per-client overrides, created and
    /// updated at `now`: the base that builders and fixtures fill in (`..ClientRecord::empty(..)`).
    pub fn empty(client_id: ClientId, now: DateTime<Utc>) -> Self {
        Self {
            client_id,
            client_name: None,
            secret_hash: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            response_types: Vec::new(),
            scopes: Vec::new(),
            token_endpoint_auth_method: ClientAuthMethod::None,
            jwks: None,
            jwks_uri: None,
            token_endpoint_auth_signing_alg: None,
            id_token_signed_response_alg: None,
            access_token_signed_alg: None,
            access_token_ttl: None,
            refresh_token_ttl: None,
            refresh_token_absolute_ttl: None,
            refresh_token_max_rotations: None,
            require_pkce: true,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            enabled: true,
            registration_token_hash: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// An end user (or admin) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The stable subject identifier.
    pub id: Subject,
    /// The login name, unique.
    pub username: String,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Email address, if known.
    pub email: Option<String>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Whether the user may use the admin console.
    pub is_admin: bool,
    /// Disabled users can not log in.
    pub enabled: bool,
    /// Whether an admin requires a second factor of this user, whatever the server's policy.
    pub mfa_required: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One authorization: the family that refresh and access tokens hang from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// Its id (carried in access tokens so a revocation is seen at once).
    pub id: GrantId,
    /// The client it was given to.
    pub client_id: ClientId,
    /// The user who gave it; `None` for client_credentials / self-asserted JWT bearer.
    pub user_id: Option<Subject>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Whether offline access was granted (survives logout).
    pub offline: bool,
    /// The browser session it was given in (logout revokes non-offline grants of the session).
    pub session_id: Option<TokenHash>,
    /// When the user authenticated.
    pub auth_time: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The resource (RFC 8707) it was given for: its access tokens are for that one only.
    pub resource: Option<String>,
    /// The DPoP key (RFC 7638 thumbprint) its refresh tokens are bound to (RFC 9449 §5: a public
    /// client's, when it proved one at the first token request).
    pub dpop_jkt: Option<String>,
    /// How the user signed in (its ID tokens' `amr` and `acr`).
    pub amr: Amr,
}

/// An authorization code and everything it is bound to (RFC 6749 §4.1.2, RFC 7636, OIDC Core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    /// SHA-256 of the code.
    pub code_hash: TokenHash,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user who authorized.
    pub user_id: Subject,
    /// The redirect URI it was sent to, compared exactly at redemption.
    pub redirect_uri: String,
    /// The PKCE challenge (S256), if any.
    pub code_challenge: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The OIDC nonce, carried into the ID token.
    pub nonce: Option<String>,
    /// Hash of the browser session that produced it.
    pub session_id: Option<TokenHash>,
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being redeemable.
    pub expires_at: DateTime<Utc>,
    /// The grant its redemption created, so a replay can revoke it.
    pub grant_id: Option<GrantId>,
    /// The resource (RFC 8707) the authorization request named.
    pub resource: Option<String>,
    /// RFC 9449 §10: the DPoP key (`dpop_jkt`) its redemption must prove.
    pub dpop_jkt: Option<String>,
    /// How the user signed in (carried to the grant and its ID tokens).
    pub amr: Amr,
}

/// A refresh token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// Its family.
    pub grant_id: GrantId,
    /// The client it is bound to.
    pub client_id: ClientId,
    /// Scopes it may be exchanged for.
    pub scopes: Vec<String>,
    /// How many rotations preceded it.
    pub generation: i32,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
    /// When it was rotated (used), if it was.
    pub consumed_at: Option<DateTime<Utc>>,
    /// The token whose rotation issued this one (`None` for the first of a family).
    pub parent_hash: Option<TokenHash>,
}

/// A refresh token with its family and the family's user, as one read (a rotation needs all
/// three before it consumes the token).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenInFamily {
    /// The token.
    pub token: RefreshTokenRecord,
    /// Its grant; `None` if the row is gone.
    pub grant: Option<GrantRecord>,
    /// The grant's user; `None` for a grant without one or a user that is gone.
    pub user: Option<UserRecord>,
}

/// An external issuer whose JWT assertions the jwt-bearer grant accepts (RFC 7523 §2.1, §3).
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedIssuerRecord {
    /// A server-chosen id.
    pub id: String,
    /// The `iss` its assertions carry, compared exactly.
    pub issuer: String,
    /// Its JWK Set by value…
    pub jwks: Option<serde_json::Value>,
    /// …or where to fetch it (https).
    pub jwks_uri: Option<String>,
    /// The algorithms it signs with (pinned).
    pub allowed_algs: Vec<SigningAlg>,
    /// Which assertion subjects are accepted; each is mapped to the local user with that
    /// username or subject id. `*` accepts any subject that names a local user.
    pub allowed_subjects: Vec<String>,
    /// The most scope a token from its assertions may carry.
    pub allowed_scopes: Vec<String>,
    /// Which clients may present its assertions.
    pub allowed_clients: Vec<ClientId>,
    /// Disabled issuers are refused.
    pub enabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Trusted external JWT issuers (the admin's side of the jwt-bearer grant).
#[async_trait]
pub trait TrustedIssuerRepo: Send + Sync {
    /// Stores a new issuer; [`StoreError::Conflict`] when that `issuer` is trusted already.
    async fn create_trusted_issuer(&self, issuer: &TrustedIssuerRecord) -> Result<(), StoreError>;
    /// Looks an issuer up by its exact `iss`.
    async fn find_trusted_issuer(
        &self,
        issuer: &str,
    ) -> Result<Option<TrustedIssuerRecord>, StoreError>;
    /// Every trusted issuer, by `iss`.
    async fn list_trusted_issuers(&self) -> Result<Vec<TrustedIssuerRecord>, StoreError>;
    /// A page of trusted issuers by `iss`: those whose `iss` contains `search`
    /// (case-insensitive), after the `iss` `after` (keyset paging). At most `limit`.
    async fn page_trusted_issuers(
        &self,
        search: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<TrustedIssuerRecord>, StoreError>;
    /// Replaces an issuer's stored fields (by id).
    async fn update_trusted_issuer(&self, issuer: &TrustedIssuerRecord) -> Result<(), StoreError>;
    /// Removes an issuer by id; whether it existed.
    async fn delete_trusted_issuer(&self, id: &str) -> Result<bool, StoreError>;
}

/// The access-token denylist (RFC 7009 §2: a revoked JWT access token stays refused until it
/// expires).
#[async_trait]
pub trait AccessTokenDenylist: Send + Sync {
    /// Denies the token with this `jti` until `expires_at`. Idempotent.
    async fn deny_access_token(
        &self,
        jti: &str,
        grant: Option<&GrantId>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Whether the token with this `jti` was revoked.
    async fn access_token_denied(&self, jti: &str) -> Result<bool, StoreError>;
}

/// An audit event: who did what, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// A dotted kind, e.g. `client.created`, `login.failed`.
    pub kind: String,
    /// Who acted (a user id, `cli`, a client id).
    pub actor: Option<String>,
    /// The client concerned.
    pub client_id: Option<String>,
    /// The user concerned.
    pub user_id: Option<String>,
    /// Remote address.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Free-form details (no secrets).
    pub details: serde_json::Value,
}

/// Reachability of the database, for readiness checks.
#[async_trait]
pub trait HealthRepo: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Registered clients.
#[async_trait]
pub trait ClientRepo: Send + Sync {
    /// Stores a new client; [`StoreError::Conflict`] when the id is taken.
    async fn create_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// Looks a client up by id.
    async fn find_client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;
    /// Deletes a client and, by cascade, everything issued to it. Returns whether it existed.
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError>;
    /// Replaces a client's stored fields (not its id, creation time, enabled flag or secret,
    /// which have their own targeted updates);
    /// [`StoreError::NotFound`] when it does not exist.
    async fn update_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// Sets only the enabled flag (never written by [`ClientRepo::update_client`], so a stale
    /// read written back can not re-enable a client); whether the client exists.
    async fn set_client_enabled(&self, id: &ClientId, enabled: bool) -> Result<bool, StoreError>;
    /// Sets only the secret hash (a rotation, or a change of authentication method), so an edit
    /// made meanwhile stays — and an edit never brings back a rotated-away secret; whether the
    /// client exists.
    async fn set_client_secret_hash(
        &self,
        id: &ClientId,
        secret_hash: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Clients ordered by creation, newest first; `search` matches id or name (case-insensitive).
    async fn list_clients(
        &self,
        search: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ClientRecord>, StoreError>;
    /// A page of [`ClientRepo::list_clients`]: only the clients listed after the one `after`
    /// names (keyset paging on creation time and id).
    async fn page_clients(
        &self,
        search: Option<&str>,
        after: Option<&ClientCursor>,
        limit: u64,
    ) -> Result<Vec<ClientRecord>, StoreError>;
}

/// Where a page of the client list ended: the last client's creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCursor {
    /// When the client was created.
    pub created_at: DateTime<Utc>,
    /// Its id.
    pub client_id: ClientId,
}

impl ClientCursor {
    /// The cursor after `client`.
    pub fn after(client: &ClientRecord) -> Self {
        Self {
            created_at: client.created_at,
            client_id: client.client_id.clone(),
        }
    }

    /// The cursor as one URL word: `<RFC 3339 time>_<client id>`.
    pub fn encode(&self) -> String {
        TimeCursor {
            at: self.created_at,
            id: self.client_id.to_string(),
        }
        .encode()
    }

    /// A cursor [`ClientCursor::encode`] wrote; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let cursor = TimeCursor::decode(text)?;
        Some(Self {
            created_at: cursor.at,
            client_id: ClientId::new(cursor.id),
        })
    }
}

/// An RFC 7591 initial access token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// What it is for.
    pub description: Option<String>,
    /// Registrations left; `None` for unlimited until expiry.
    pub uses_remaining: Option<i32>,
    /// When it stops working; `None` for never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who created it.
    pub created_by: Option<String>,
}

/// Where an initial access token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialAccessTokenState {
    /// It may register clients.
    Active,
    /// An admin revoked it.
    Revoked,
    /// Its lifetime ended.
    Expired,
    /// It allowed all the registrations it was made for.
    UsedUp,
}

impl InitialAccessTokenState {
    /// How lists show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::UsedUp => "used up",
        }
    }
}

impl std::fmt::Display for InitialAccessTokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl InitialAccessTokenRecord {
    /// Where the token stands at `now` (a revocation first, then the lifetime, then the uses).
    pub fn state(&self, now: DateTime<Utc>) -> InitialAccessTokenState {
        if self.revoked_at.is_some() {
            InitialAccessTokenState::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            InitialAccessTokenState::Expired
        } else if self.uses_remaining == Some(0) {
            InitialAccessTokenState::UsedUp
        } else {
            InitialAccessTokenState::Active
        }
    }
}

/// Initial access tokens (RFC 7591 §3).
#[async_trait]
pub trait InitialAccessTokenRepo: Send + Sync {
    /// Stores a new token.
    async fn create_initial_access_token(
        &self,
        token: &InitialAccessTokenRecord,
    ) -> Result<(), StoreError>;
    /// Uses the token once, atomically: succeeds only while it is unrevoked, unexpired and has
    /// uses left (decremented in the same statement). `false` otherwise.
    async fn use_initial_access_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Whether the token would be accepted now (read-only; [`Self::use_initial_access_token`]
    /// decides atomically).
    async fn initial_access_token_usable(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Every token, newest first.
    async fn list_initial_access_tokens(&self)
    -> Result<Vec<InitialAccessTokenRecord>, StoreError>;
    /// A page of tokens, newest first: those whose description contains `search`
    /// (case-insensitive), after `after` (a [`TimeCursor`] of the creation time and the hash).
    /// At most `limit`.
    async fn page_initial_access_tokens(
        &self,
        search: Option<&str>,
        after: Option<&TimeCursor>,
        limit: u64,
    ) -> Result<Vec<InitialAccessTokenRecord>, StoreError>;
    /// Revokes a token; whether it was active.
    async fn revoke_initial_access_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// End users.
#[async_trait]
pub trait UserRepo: Send + Sync {
    /// Stores a new user; [`StoreError::Conflict`] when the username or id is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    /// Looks a user up by login name.
    async fn find_user_by_username(&self, username: &str)
    -> Result<Option<UserRecord>, StoreError>;
    /// Looks a user up by subject.
    async fn find_user(&self, id: &Subject) -> Result<Option<UserRecord>, StoreError>;
    /// Replaces a user's profile: username, email, email_verified, name. Never the password,
    /// the admin flag or the enabled flag, which have their own targeted updates so that a stale
    /// read written back can not undo a concurrent change to them.
    async fn update_user(&self, user: &UserRecord, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Sets only the password hash; whether the user exists.
    async fn set_password_hash(
        &self,
        id: &Subject,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Sets only the enabled flag; whether the user exists.
    async fn set_user_enabled(
        &self,
        id: &Subject,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Sets only the admin flag; whether the user exists.
    async fn set_user_admin(
        &self,
        id: &Subject,
        is_admin: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Sets only whether the user must use a second factor; whether the user exists.
    async fn set_user_mfa_required(
        &self,
        id: &Subject,
        required: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The user whose email address is `email` (case-insensitive), if exactly one has it.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Users by username; `search` matches username or email (case-insensitive); `after`
    /// lists only the usernames after it (keyset paging).
    async fn list_users(
        &self,
        search: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<UserRecord>, StoreError>;
    /// How many enabled admins exist.
    async fn count_admins(&self) -> Result<u64, StoreError>;
    /// Deletes a user and, by the schema's cascades, everything of theirs: sessions, grants
    /// and their refresh tokens, consents, codes, device authorizations, second factors,
    /// passkeys, known devices and email links. Audit events stay (they name the id). Whether
    /// the user existed.
    async fn delete_user(&self, id: &Subject) -> Result<bool, StoreError>;
}

/// A server-side browser session; the cookie holds only a random id whose hash is the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSessionRecord {
    /// SHA-256 of the cookie value.
    pub id_hash: TokenHash,
    /// Who is logged in.
    pub user_id: Subject,
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Last request seen.
    pub last_seen_at: DateTime<Utc>,
    /// Ends after this much inactivity.
    pub idle_expires_at: DateTime<Utc>,
    /// Ends at this time regardless.
    pub absolute_expires_at: DateTime<Utc>,
    /// The device's user agent.
    pub user_agent: Option<String>,
    /// The device's address.
    pub ip: Option<String>,
    /// When it was ended (logout, revocation).
    pub ended_at: Option<DateTime<Utc>>,
    /// What it signs in to.
    pub kind: SessionKind,
    /// How the user signed in.
    pub amr: Amr,
}

/// What a browser session is for: each cookie accepts only its own kind, so a user session's id
/// can never be presented as the admin cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// The end-user session (sign-in, authorization, account pages).
    User,
    /// The admin console session.
    Admin,
}

impl SessionKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::User => "user",
            SessionKind::Admin => "admin",
        }
    }

    /// From the stored name (anything unknown is a user session: never more privilege).
    pub fn parse(value: &str) -> Self {
        if value == "admin" {
            SessionKind::Admin
        } else {
            SessionKind::User
        }
    }
}

impl BrowserSessionRecord {
    /// Whether the session can be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

/// An authorization request waiting for the user to sign in or decide (the consent page): kept
/// on the server so the forms carry only a handle, never the request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequestRecord {
    /// SHA-256 of the handle.
    pub id_hash: TokenHash,
    /// The client it is for.
    pub client_id: ClientId,
    /// The request's parameters as received (only the ones Tessera reads).
    pub params: Vec<(String, String)>,
    /// When it arrived (`prompt=login` needs a sign-in after this).
    pub created_at: DateTime<Utc>,
    /// When it can no longer be continued.
    pub expires_at: DateTime<Utc>,
}

/// Pending authorization requests.
#[async_trait]
pub trait AuthorizationRequestRepo: Send + Sync {
    /// Stores a new pending request.
    async fn insert_authorization_request(
        &self,
        request: &AuthorizationRequestRecord,
    ) -> Result<(), StoreError>;
    /// A request that is neither expired nor decided yet.
    async fn find_authorization_request(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthorizationRequestRecord>, StoreError>;
    /// Marks the request decided, atomically: exactly one decision per request.
    async fn consume_authorization_request(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<AuthorizationRequestRecord>, StoreError>;
}

/// Registered resource servers (RFC 8707; see [`crate::resource`]).
#[async_trait]
pub trait ResourceServerRepo: Send + Sync {
    /// Every resource server, by identifier.
    async fn list_resource_servers(
        &self,
    ) -> Result<Vec<crate::resource::ResourceServerRecord>, StoreError>;
    /// One by identifier.
    async fn find_resource_server(
        &self,
        identifier: &str,
    ) -> Result<Option<crate::resource::ResourceServerRecord>, StoreError>;
    /// Adds or replaces one.
    async fn save_resource_server(
        &self,
        record: &crate::resource::ResourceServerRecord,
    ) -> Result<(), StoreError>;
    /// Deletes one; whether it existed.
    async fn delete_resource_server(&self, identifier: &str) -> Result<bool, StoreError>;
}

/// Device authorizations (RFC 8628; see [`crate::device`]).
#[async_trait]
pub trait DeviceAuthorizationRepo: Send + Sync {
    /// Stores a new request; [`StoreError::Conflict`] when its user code is taken (the caller
    /// draws another).
    async fn insert_device_authorization(
        &self,
        record: &crate::device::DeviceAuthorizationRecord,
    ) -> Result<(), StoreError>;
    /// The request of a user code, while it is pending and unexpired.
    async fn find_pending_device_authorization(
        &self,
        user_code_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::device::DeviceAuthorizationRecord>, StoreError>;
    /// Records the user's decision, atomically and at most once: whether this call decided a
    /// request that was pending and unexpired.
    async fn decide_device_authorization(
        &self,
        user_code_hash: &TokenHash,
        decision: &crate::device::DeviceDecision,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A poll of the device code by `client`: the request as it stands, with the poll recorded —
    /// `true` when it came in time (the next is due an interval later), `false` when it came too
    /// soon (the interval grew by [`crate::device::SLOW_DOWN_SECS`]). `None`: no such device
    /// code. Polls on several instances are serialised by the row; a poll by another client than
    /// the request's is not recorded (it is refused, and must not change the owner's pace).
    async fn poll_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        client: &ClientId,
        now: DateTime<Utc>,
    ) -> Result<Option<(crate::device::DeviceAuthorizationRecord, bool)>, StoreError>;
    /// Redemption in one transaction: an approved request becomes redeemed (at most once, on
    /// any number of instances) and, only if this call redeemed it, `grant` is created and
    /// `refresh` stored. A store failure leaves it approved for the retry.
    async fn redeem_device_authorization(
        &self,
        device_code_hash: &TokenHash,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Consumption<crate::device::DeviceAuthorizationRecord>, StoreError>;
}

/// One sign-in throttle counter: failures for one key (an account, an account from one address,
/// or one address) within a window. The key is stored hashed; `label` is for admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleCounterRecord {
    /// SHA-256 of the key.
    pub key_hash: TokenHash,
    /// `account`, `account_address`, `address` or `client_address`.
    pub kind: String,
    /// What the key is, for the console: the username tried (truncated) and/or the address.
    pub label: String,
    /// Attempts counted in the window.
    pub failures: u32,
    /// When the window began.
    pub window_started_at: DateTime<Utc>,
    /// When the window (and the counter) ends.
    pub window_ends_at: DateTime<Utc>,
    /// Attempts are refused until then.
    pub blocked_until: Option<DateTime<Utc>>,
}

/// What one counted attempt makes the next one wait: nothing while the count is at most
/// `free`; after `free + 1 + i` attempts, until `blocked_until[i]` (the last entry for every
/// count beyond); and with `max_failures`, no attempt is counted past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptWaits {
    /// Attempts counted without a wait.
    pub free: u32,
    /// When the next attempt may come, by how far the count is past `free`.
    pub blocked_until: Vec<DateTime<Utc>>,
    /// A hard limit on the count within the window.
    pub max_failures: Option<u32>,
}

/// Sign-in throttle counters, shared by every instance (see `tessera_core::sign_in`).
#[async_trait]
pub trait ThrottleRepo: Send + Sync {
    /// Counts one attempt on the counter `key_hash` if it is in its window, not blocked and
    /// under `waits.max_failures` — one atomic `UPDATE` whose `WHERE` is the admission check, so
    /// any number of concurrent attempts on any number of instances are each counted once and
    /// none slips past a block. Whether it was counted (false: no such row, its window ended,
    /// or it refuses attempts now).
    async fn count_attempt(
        &self,
        key_hash: &TokenHash,
        now: DateTime<Utc>,
        waits: &AttemptWaits,
    ) -> Result<bool, StoreError>;
    /// The counter for `key_hash`, if one exists.
    async fn find_counter(
        &self,
        key_hash: &TokenHash,
    ) -> Result<Option<ThrottleCounterRecord>, StoreError>;
    /// Stores a new counter; [`StoreError::Conflict`] when another caller created it first.
    async fn insert_counter(&self, counter: &ThrottleCounterRecord) -> Result<(), StoreError>;
    /// Replaces the counter only if it still holds `expected_failures` failures in the window
    /// that began at `expected_window` (compare-and-set); whether it was replaced.
    async fn replace_counter(
        &self,
        counter: &ThrottleCounterRecord,
        expected_failures: u32,
        expected_window: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes a counter; whether there was one.
    async fn delete_counter(&self, key_hash: &TokenHash) -> Result<bool, StoreError>;
    /// Counters of `kind` that refuse attempts at `now` (at most `limit`).
    async fn blocked_counters(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ThrottleCounterRecord>, StoreError>;
    /// Counters whose window has not ended, blocked ones first, then by failures.
    async fn list_counters(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ThrottleCounterRecord>, StoreError>;
    /// How many counters whose window has not ended refuse attempts at `now`.
    async fn count_blocked(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The counters of one account whose window has not ended: kind `account` labelled
    /// `label`, and kind `account_address` labelled `<label> from …`
    /// (`sign_in::account_label`, `sign_in::counts_account`).
    async fn account_counters(
        &self,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<ThrottleCounterRecord>, StoreError>;
}

/// A scope in the registry (OpenID Connect's own scopes are built in and not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRecord {
    /// The scope token, e.g. `api.read`.
    pub name: String,
    /// What the consent page says it lets an app do.
    pub description: String,
    /// Whether a client may get it for itself (`client_credentials`, a self-issued assertion).
    pub client_credentials: bool,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// The scope registry.
#[async_trait]
pub trait ScopeRepo: Send + Sync {
    /// Every registered scope, by name.
    async fn list_scopes(&self) -> Result<Vec<ScopeRecord>, StoreError>;
    /// One scope.
    async fn find_scope(&self, name: &str) -> Result<Option<ScopeRecord>, StoreError>;
    /// Adds a scope or replaces its description and flag.
    async fn save_scope(&self, scope: &ScopeRecord) -> Result<(), StoreError>;
    /// Removes a scope from the registry (clients that have it keep it); whether it was there.
    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError>;
}

/// One signing key kept in the database (`TESSERA_KEYS_STORE=database`): its schedule and its
/// private key as a passphrase-encrypted PKCS#8 PEM. The keys crate gives the fields meaning.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The RFC 7638 thumbprint of the public key.
    pub kid: Kid,
    /// The algorithm it signs with.
    pub alg: SigningAlg,
    /// When it was generated.
    pub created: DateTime<Utc>,
    /// From when it signs.
    pub activates_at: DateTime<Utc>,
    /// From when it no longer signs.
    pub retires_at: Option<DateTime<Utc>>,
    /// From when it is no longer published.
    pub unpublish_at: Option<DateTime<Utc>>,
    /// The encrypted PKCS#8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`).
    pub private_key_pem: String,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("activates_at", &self.activates_at)
            .field("retires_at", &self.retires_at)
            .field("unpublish_at", &self.unpublish_at)
            .finish_non_exhaustive()
    }
}

/// The key set as read, with the version it had: a writer hands the version back so that of two
/// instances changing the set at once, one wins and the other reads again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SigningKeySet {
    /// How often the set has changed.
    pub version: i64,
    /// Every key, in the order it was written (creation order).
    pub keys: Vec<SigningKeyRecord>,
}

/// The signing keys, when they live in the database.
#[async_trait]
pub trait SigningKeyRepo: Send + Sync {
    /// Every key and the set's version.
    async fn signing_keys(&self) -> Result<SigningKeySet, StoreError>;
    /// The set's version alone (how instances notice a change cheaply).
    async fn signing_keys_version(&self) -> Result<i64, StoreError>;
    /// Makes `keys` the whole set, in one transaction, if its version is still `version`;
    /// `false` (nothing written) when another writer came first. Tells every instance.
    async fn replace_signing_keys(
        &self,
        version: i64,
        keys: &[SigningKeyRecord],
    ) -> Result<bool, StoreError>;
}

/// Browser sessions.
/// A right password waiting for its second factor: named by the hash of a cookie the browser
/// holds for five minutes; no session exists until the second factor is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorChallenge {
    /// SHA-256 of the cookie value.
    pub id_hash: TokenHash,
    /// Who entered the right password.
    pub user_id: Subject,
    /// When they did.
    pub auth_time: DateTime<Utc>,
    /// When the challenge lapses.
    pub expires_at: DateTime<Utc>,
}

/// Users' second factors: the authenticator app (TOTP), recovery codes, passkeys (which are also
/// a first factor, [`PasskeyRepo`]), and the sign-ins waiting for one.
#[async_trait]
pub trait SecondFactorRepo: PasskeyRepo + Send + Sync {
    /// Whether the user has a second factor to give: a confirmed authenticator app or a passkey.
    async fn has_second_factor(&self, user: &Subject) -> Result<bool, StoreError> {
        if self
            .find_totp(user)
            .await?
            .is_some_and(|f| f.confirmed_at.is_some())
        {
            return Ok(true);
        }
        Ok(!self.passkeys(user).await?.is_empty())
    }

    /// The user's authenticator app, confirmed or not.
    async fn find_totp(&self, user: &Subject) -> Result<Option<TotpRecord>, StoreError>;

    /// Starts enrolment: stores `secret` unconfirmed, replacing an unconfirmed one. A confirmed
    /// app is left alone and [`StoreError::Conflict`] returned (remove it first).
    async fn begin_totp(
        &self,
        user: &Subject,
        secret: &TotpSecret,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Confirms the unconfirmed app with the code of `step` and replaces the user's recovery
    /// codes with `recovery` (hashes), in one transaction. False when there was nothing to
    /// confirm (confirmed meanwhile, or removed).
    async fn confirm_totp(
        &self,
        user: &Subject,
        step: i64,
        recovery: &[TokenHash],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records that the code of `step` was used, if no later or equal step was: false when it
    /// was (a replay, or a race with another instance). The write is the check.
    async fn use_totp_step(&self, user: &Subject, step: i64) -> Result<bool, StoreError>;

    /// Marks an unused recovery code used; false when there is no such unused code.
    async fn use_recovery_code(
        &self,
        user: &Subject,
        code: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// How many recovery codes the user has left.
    async fn unused_recovery_codes(&self, user: &Subject) -> Result<u64, StoreError>;

    /// Replaces the user's recovery codes.
    async fn replace_recovery_codes(
        &self,
        user: &Subject,
        recovery: &[TokenHash],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Removes the app and the recovery codes; false when there was no app.
    async fn remove_totp(&self, user: &Subject) -> Result<bool, StoreError>;

    /// Stores a challenge.
    async fn create_challenge(&self, challenge: &SecondFactorChallenge) -> Result<(), StoreError>;

    /// The challenge named by `id_hash`, if it has not lapsed at `now`.
    async fn find_challenge(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<SecondFactorChallenge>, StoreError>;

    /// Deletes the challenge; true when this call did (so a challenge is answered once).
    async fn delete_challenge(&self, id_hash: &TokenHash) -> Result<bool, StoreError>;

    /// Which of `users` have a confirmed authenticator app (one query, for lists).
    async fn users_with_totp(&self, users: &[Subject]) -> Result<Vec<Subject>, StoreError>;
}

/// A passkey (WebAuthn credential) of a user. The binary parts are base64url text, as the
/// WebAuthn library encodes them; only the passkey pages read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id (base64url), unique across the server.
    pub credential_id: String,
    /// Whose passkey it is.
    pub user_id: Subject,
    /// The user handle the authenticator keeps (base64url; one per user).
    pub user_handle: String,
    /// The name the user gave it.
    pub name: String,
    /// The public key (the library's encoding, base64url).
    pub public_key: String,
    /// The authenticator's flags and signature counter (the library's encoding, base64url).
    pub counters: String,
    /// A synced (backed-up) credential rather than one bound to a device.
    pub synced: bool,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last used to sign in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a passkey ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyPurpose {
    /// Adding a passkey to a signed-in user's account.
    Register,
    /// Signing in with a passkey instead of a password.
    SignIn,
    /// Giving a passkey as the second factor after the password.
    SecondFactor,
}

impl PasskeyPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::SecondFactor => "second_factor",
        }
    }

    /// From the stored name.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "register" => Some(Self::Register),
            "sign_in" => Some(Self::SignIn),
            "second_factor" => Some(Self::SecondFactor),
            _ => None,
        }
    }
}

/// A WebAuthn ceremony waiting for the browser's answer (five minutes, answered once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    /// SHA-256 of the cookie value.
    pub id_hash: TokenHash,
    /// What it is for.
    pub purpose: PasskeyPurpose,
    /// The user it is for (none for a sign-in, which finds the user from the passkey).
    pub user_id: Option<Subject>,
    /// The library's serialised server state (base64url).
    pub state: String,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

/// The most passkeys one user may register.
pub const MAX_PASSKEYS_PER_USER: usize = 20;

/// Users' passkeys and the ceremonies that add or use them.
#[async_trait]
pub trait PasskeyRepo: Send + Sync {
    /// The user's passkeys, oldest first.
    async fn passkeys(&self, user: &Subject) -> Result<Vec<PasskeyRecord>, StoreError>;

    /// The passkey with this credential id.
    async fn find_passkey(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError>;

    /// Stores a new passkey; [`StoreError::Conflict`] when its credential id is registered.
    async fn add_passkey(&self, passkey: &PasskeyRecord) -> Result<(), StoreError>;

    /// Records a sign-in with the passkey: its new counters, if they are still `previous` (the
    /// write is the check: of two instances given one assertion, one records it). False when
    /// they were not (or the passkey is gone).
    async fn record_passkey_use(
        &self,
        credential_id: &str,
        previous: &str,
        counters: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Renames one of the user's passkeys; false when they have no such passkey.
    async fn rename_passkey(
        &self,
        user: &Subject,
        credential_id: &str,
        name: &str,
    ) -> Result<bool, StoreError>;

    /// Removes one of the user's passkeys; false when they have no such passkey.
    async fn remove_passkey(&self, user: &Subject, credential_id: &str)
    -> Result<bool, StoreError>;

    /// Removes every passkey of the user; how many there were.
    async fn remove_all_passkeys(&self, user: &Subject) -> Result<u64, StoreError>;

    /// Which of `users` have at least one passkey (one query, for lists).
    async fn users_with_passkeys(&self, users: &[Subject]) -> Result<Vec<Subject>, StoreError>;

    /// Stores a ceremony. One for a user replaces that user's waiting ceremony of the same
    /// purpose (a second tab's start voids the first's), so a signed-in user or a right password
    /// keeps at most one row each; sign-in ceremonies, which name no user, are bounded per address
    /// by the caller.
    async fn create_passkey_ceremony(&self, ceremony: &PasskeyCeremony) -> Result<(), StoreError>;

    /// Takes (deletes and returns) the ceremony named by `id_hash`, if it has not lapsed at
    /// `now`: a second answer to one challenge finds nothing.
    async fn take_passkey_ceremony(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<PasskeyCeremony>, StoreError>;
}

/// What an emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailLinkPurpose {
    /// Choosing a new password.
    PasswordReset,
    /// Proving the user reads an address.
    VerifyEmail,
    /// Clearing the sign-in throttle of one's own account.
    Unlock,
}

impl EmailLinkPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "reset",
            Self::VerifyEmail => "verify",
            Self::Unlock => "unlock",
        }
    }
}

/// An emailed link's token as stored (only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLinkRecord {
    /// SHA-256 of the token in the link.
    pub token_hash: TokenHash,
    /// Whose it is.
    pub user_id: Subject,
    /// What it does.
    pub purpose: EmailLinkPurpose,
    /// The address it verifies (for [`EmailLinkPurpose::VerifyEmail`]).
    pub email: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// Links sent by email (password resets, address verification).
#[async_trait]
pub trait EmailLinkRepo: Send + Sync {
    /// Stores `record`, replacing the user's unused links of its purpose made before
    /// `replace_before`; false (nothing stored) when an unused one made since is there — one
    /// unused link per user and purpose, whoever races.
    async fn create_email_link(
        &self,
        record: &EmailLinkRecord,
        replace_before: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// When the user's unused link of `purpose` was made, if there is one (live or not).
    async fn latest_email_link(
        &self,
        user: &Subject,
        purpose: EmailLinkPurpose,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Uses the link up (once, while live, for `purpose`): whose it is and the address it names.
    async fn use_email_link(
        &self,
        token_hash: &TokenHash,
        purpose: EmailLinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<(Subject, Option<String>)>, StoreError>;
    /// Whether the link is live and unused for `purpose` at `now`.
    async fn email_link_is_live(
        &self,
        token_hash: &TokenHash,
        purpose: EmailLinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// The devices users signed in from (`crate::signals`).
#[async_trait]
pub trait KnownDeviceRepo: Send + Sync {
    /// The user's devices, most recently seen first (at most [`KNOWN_DEVICES_READ`]).
    async fn known_devices(&self, user: &Subject) -> Result<Vec<KnownDevice>, StoreError>;
    /// Records a sign-in from `device`: its last sight, or a new row.
    async fn remember_device(&self, user: &Subject, device: &KnownDevice)
    -> Result<(), StoreError>;
}

/// The most devices read per user when a sign-in is compared with them.
pub const KNOWN_DEVICES_READ: u64 = 100;

#[async_trait]
pub trait SessionRepo: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &BrowserSessionRecord) -> Result<(), StoreError>;
    /// Looks a session up by the hash of its cookie value.
    async fn find_session(
        &self,
        id_hash: &TokenHash,
    ) -> Result<Option<BrowserSessionRecord>, StoreError>;
    /// Records activity: moves `last_seen_at` and the idle expiry.
    async fn touch_session(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Ends a session; whether it was active.
    async fn end_session(
        &self,
        id_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A user's active sessions, most recently seen first.
    async fn list_user_sessions(
        &self,
        user: &Subject,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrowserSessionRecord>, StoreError>;
    /// Sessions of `kind` in force at `now` (neither ended nor expired), every user's, most
    /// recently seen first; `after` continues a list (a [`TimeCursor`] of `last_seen_at` and
    /// the id hash). At most `limit`.
    async fn list_sessions(
        &self,
        kind: SessionKind,
        now: DateTime<Utc>,
        after: Option<&TimeCursor>,
        limit: u64,
    ) -> Result<Vec<BrowserSessionRecord>, StoreError>;
    /// Ends every active session of `user` except `keep`; how many ended.
    async fn end_user_sessions(
        &self,
        user: &Subject,
        keep: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Remembered consent: which scopes a user allowed a client.
#[async_trait]
pub trait ConsentRepo: Send + Sync {
    /// The scopes `user` has allowed `client`, if any.
    async fn find_consent(
        &self,
        user: &Subject,
        client: &ClientId,
    ) -> Result<Option<Vec<String>>, StoreError>;
    /// Every client the user has allowed, with the scopes and when, newest first.
    async fn list_user_consents(
        &self,
        user: &Subject,
    ) -> Result<Vec<(ClientId, Vec<String>, DateTime<Utc>)>, StoreError>;
    /// Forgets a consent; whether there was one.
    async fn delete_consent(&self, user: &Subject, client: &ClientId) -> Result<bool, StoreError>;
    /// Records (replaces) the allowed scopes.
    async fn save_consent(
        &self,
        user: &Subject,
        client: &ClientId,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// An app a user allowed, as the account page and the console show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedApp {
    /// The client.
    pub client_id: ClientId,
    /// Its name, or its id when it has none (or is gone).
    pub name: String,
    /// The scopes allowed.
    pub scopes: Vec<String>,
    /// When.
    pub since: DateTime<Utc>,
}

/// Every app `user` allowed, newest first, by name.
pub async fn allowed_apps(
    consents: &dyn ConsentRepo,
    clients: &dyn ClientRepo,
    user: &Subject,
) -> Result<Vec<AllowedApp>, StoreError> {
    let mut apps = Vec::new();
    for (client_id, scopes, since) in consents.list_user_consents(user).await? {
        let name = clients
            .find_client(&client_id)
            .await?
            .and_then(|c| c.client_name)
            .unwrap_or_else(|| client_id.to_string());
        apps.push(AllowedApp {
            client_id,
            name,
            scopes,
            since,
        });
    }
    Ok(apps)
}

/// Grants as admins see them.
#[async_trait]
pub trait GrantAdminRepo: Send + Sync {
    /// A client's grants, newest first (revoked ones included); only `user`'s when given;
    /// `after` continues a list (a [`TimeCursor`] of `created_at` and the grant id).
    async fn list_client_grants(
        &self,
        client: &ClientId,
        user: Option<&Subject>,
        after: Option<&TimeCursor>,
        limit: u64,
    ) -> Result<Vec<GrantRecord>, StoreError>;
    /// The grants of `user` still in force (not revoked), every client's, newest first; at most
    /// `limit`.
    async fn list_user_grants(
        &self,
        user: &Subject,
        limit: u64,
    ) -> Result<Vec<GrantRecord>, StoreError>;
    /// Revokes every active grant `user` gave `client`; how many.
    async fn revoke_user_client_grants(
        &self,
        user: &Subject,
        client: &ClientId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Revokes every active grant of `user` (offline ones included) except those issued in the
    /// browser session `keep`; how many. Their refresh tokens stop working with them.
    async fn revoke_user_grants(
        &self,
        user: &Subject,
        keep: Option<&TokenHash>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Revokes the active grants issued in a browser session; offline grants survive unless
    /// `include_offline`. How many.
    async fn revoke_session_grants(
        &self,
        session: &TokenHash,
        include_offline: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Grants (token families).
#[async_trait]
pub trait GrantRepo: Send + Sync {
    /// Stores a new grant.
    async fn create_grant(&self, grant: &GrantRecord) -> Result<(), StoreError>;
    /// Looks a grant up.
    async fn find_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError>;
    /// Revokes a grant (and so every token hanging from it). Idempotent; returns whether this
    /// call revoked it.
    async fn revoke_grant(
        &self,
        id: &GrantId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Authorization codes.
#[async_trait]
pub trait CodeRepo: Send + Sync {
    /// Stores a freshly issued code.
    async fn insert_code(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError>;
    /// A code by hash, whatever its state (to check who may redeem it before consuming it).
    async fn find_code(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError>;
    /// [`CodeRepo::find_code`] with the code's user (`None` if gone), in one read.
    async fn find_code_with_user(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(AuthorizationCodeRecord, Option<UserRecord>)>, StoreError>;
    /// Redeems a code, atomically and at most once.
    async fn consume_code(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<AuthorizationCodeRecord>, StoreError>;
    /// Redemption in one transaction: consumes the code (at most once, as
    /// [`CodeRepo::consume_code`]) and, only if this call consumed it, creates `grant`, links the
    /// code to it and stores `refresh`. Either all happen or none: a store failure leaves the
    /// code unused, so the retry of a 503 is not taken for a replay.
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Consumption<AuthorizationCodeRecord>, StoreError>;
}

/// Refresh tokens.
#[async_trait]
pub trait RefreshTokenRepo: Send + Sync {
    /// Stores a freshly issued refresh token.
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;
    /// Rotation in one transaction: consumes `hash` (at most once, as
    /// [`RefreshTokenRepo::consume_refresh_token`]) and, only if this call consumed it, stores
    /// `successor`. Either both happen or neither: a failure in between leaves the presented
    /// token unconsumed, so the client's retry of a 503 is not mistaken for reuse. The unused
    /// siblings of `hash` (successors a retry of its parent stored) are deleted with it.
    async fn rotate_refresh_token(
        &self,
        hash: &TokenHash,
        successor: &RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<Consumption<RefreshTokenRecord>, StoreError>;
    /// Uses up a refresh token, atomically and at most once (without a successor).
    async fn consume_refresh_token(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Consumption<RefreshTokenRecord>, StoreError>;
    /// A refresh token with its grant and the grant's user, in one read (what a rotation checks
    /// before it consumes the token).
    async fn find_refresh_token_in_family(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenInFamily>, StoreError>;
    /// Looks a refresh token up without using it (introspection, revocation).
    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// The retry of a rotated token whose response may have been lost, in one transaction: when
    /// `parent` was rotated at or after `rotated_since` and none of its successors has been used,
    /// `successor` is stored beside the unused ones (each works until one of them is used; the
    /// rotation of one deletes the others). Concurrent retries of one token are serialised: the
    /// parent row is written first.
    async fn retry_rotated_refresh_token(
        &self,
        parent: &TokenHash,
        rotated_since: DateTime<Utc>,
        successor: &RefreshTokenRecord,
        now: DateTime<Utc>,
    ) -> Result<RefreshRetry, StoreError>;
}

/// The most unused successors one rotated refresh token may have (retries beyond it are refused).
pub const MAX_RETRY_SUCCESSORS: usize = 10;

/// What a retry of a rotated refresh token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRetry {
    /// The new successor is stored.
    Stored,
    /// The token was rotated before the window: reuse.
    OutsideWindow,
    /// A successor was used: the client moved on, so this is reuse.
    SuccessorUsed,
    /// [`MAX_RETRY_SUCCESSORS`] unused successors exist already.
    TooMany,
}

/// Replay protection for JWT assertions (RFC 7523 §3 item 7).
#[async_trait]
pub trait AssertionReplayRepo: Send + Sync {
    /// Records `(issuer, jti)` until `expires_at`. `true` for the first sight, `false` for a
    /// replay — atomically, across instances.
    async fn record_once(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// The audit log.
#[async_trait]
pub trait AuditRepo: Send + Sync {
    /// Appends an event.
    async fn record_event(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// The latest events, newest first, optionally only those about one client or user.
    async fn recent_events(
        &self,
        client_id: Option<&str>,
        user_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// Deletes events that occurred before `before` (the retention); how many.
    async fn delete_events_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Events matching `search`, newest first, at most `limit`; page on with the last one's
    /// [`AuditCursor`] as `search.after`.
    async fn search_events(
        &self,
        search: &AuditSearch,
        limit: u64,
    ) -> Result<Vec<FoundEvent>, StoreError>;
}

/// Which audit events to list (every field narrows; none lists all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    /// Exactly this kind (`login.failed`).
    pub kind: Option<String>,
    /// About this client.
    pub client_id: Option<String>,
    /// About this user (by id).
    pub user_id: Option<String>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only events listed after this one (keyset paging: older, or as old with a smaller id).
    pub after: Option<AuditCursor>,
}

/// Where a page of a list kept in time order ended: the last row's time and id (the id breaks
/// ties between rows of the same time), so the next page starts after it however many rows
/// arrive meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeCursor {
    /// The row's time.
    pub at: DateTime<Utc>,
    /// The row's id.
    pub id: String,
}

impl TimeCursor {
    /// The cursor as one URL word: `<RFC 3339 time>_<id>`, the time to the nanosecond as
    /// stored (SQLite keeps what it is given; a rounded time would skip or repeat rows).
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            self.id
        )
    }

    /// A cursor [`TimeCursor::encode`] wrote; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('_')?;
        let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
        let valid_id = !id.is_empty() && id.len() <= 255 && !id.chars().any(char::is_control);
        valid_id.then(|| Self {
            at,
            id: id.to_owned(),
        })
    }
}

/// Where a page of the audit log ended: the last event's time and id.
pub type AuditCursor = TimeCursor;

/// An audit event as listed: its id beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEvent {
    /// The event's id (for the paging cursor).
    pub id: String,
    /// The event.
    pub event: AuditEvent,
}

impl FoundEvent {
    /// The cursor that lists the events after this one.
    pub fn cursor(&self) -> AuditCursor {
        AuditCursor {
            at: self.event.occurred_at,
            id: self.id.clone(),
        }
    }
}

/// Counts per hour of what the console's dashboard shows (sign-ins, token responses by grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    /// The start of the hour (UTC).
    pub hour: DateTime<Utc>,
    /// What was counted (`sign_in`, `token.client_credentials`, …).
    pub series: String,
    /// How many, summed over instances.
    pub count: i64,
}

/// The dashboard's counts: each instance adds what it counted in memory about once a minute.
#[async_trait]
pub trait ActivityRepo: Send + Sync {
    /// Adds `counts` (series, how many) to the hour starting at `hour`.
    async fn add_activity(
        &self,
        hour: DateTime<Utc>,
        counts: &[(&str, u64)],
    ) -> Result<(), StoreError>;
    /// Every count of the hours starting at or after `since`.
    async fn activity_since(&self, since: DateTime<Utc>) -> Result<Vec<ActivityCount>, StoreError>;
    /// Deletes the counts of hours before `before`; how many rows.
    async fn delete_activity_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// How many users, clients and live user sessions there are at `now`.
    async fn totals(&self, now: DateTime<Utc>) -> Result<Totals, StoreError>;
}

/// The dashboard's headline figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Users (enabled or not).
    pub users: u64,
    /// Registered clients.
    pub clients: u64,
    /// User sessions neither ended nor expired.
    pub sessions: u64,
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Authorization codes.
    pub codes: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
    /// Browser sessions.
    pub sessions: u64,
    /// Denylisted access-token ids.
    pub revoked_access_tokens: u64,
    /// Remembered assertion `jti`s.
    pub assertion_jtis: u64,
    /// Pending authorization requests.
    pub authorization_requests: u64,
    /// Sign-in throttle counters whose window ended.
    pub throttle_counters: u64,
    /// Device authorizations.
    pub device_authorizations: u64,
    /// Sign-ins that waited for a second factor in vain.
    pub second_factor_challenges: u64,
    /// Devices not signed in from for a year.
    pub known_devices: u64,
    /// Emailed links past their lifetime.
    pub email_links: u64,
    /// Passkey ceremonies never answered.
    pub passkey_ceremonies: u64,
}

impl Swept {
    /// Rows removed in all.
    pub fn total(&self) -> u64 {
        self.codes
            + self.refresh_tokens
            + self.sessions
            + self.revoked_access_tokens
            + self.assertion_jtis
            + self.authorization_requests
            + self.throttle_counters
            + self.device_authorizations
            + self.second_factor_challenges
            + self.known_devices
            + self.email_links
            + self.passkey_ceremonies
    }
}

/// Removing rows that can no longer matter. Everything is kept at least until it expired and then
/// `keep_after_expiry` longer, so that a replay of a used code or a rotated refresh token shortly
/// after its expiry is still recognised (and revokes its grant) rather than looking unknown.
#[async_trait]
pub trait SweepRepo: Send + Sync {
    /// Deletes codes, refresh tokens and sessions that expired (or ended) before
    /// `now - keep_after_expiry`, and denylist entries and assertion `jti`s whose tokens expired
    /// before `now`, pending authorization requests and throttle counters that expired before
    /// `now`. Idempotent; safe to run on every instance at once.
    async fn sweep_expired(
        &self,
        now: DateTime<Utc>,
        keep_after_expiry: chrono::Duration,
    ) -> Result<Swept, StoreError>;
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration};

    use super::{InitialAccessTokenRecord, InitialAccessTokenState as State};
    use crate::secret::TokenHash;

    #[test]
    fn an_initial_access_token_is_revoked_then_expired_then_used_up_then_active() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let token = InitialAccessTokenRecord {
            token_hash: TokenHash::of("tsi_x"),
            description: None,
            uses_remaining: Some(1),
            expires_at: Some(now + Duration::seconds(1)),
            created_at: now,
            revoked_at: None,
            created_by: None,
        };
        assert_eq!(token.state(now), State::Active);
        assert_eq!(token.state(now + Duration::seconds(1)), State::Expired);
        let used = InitialAccessTokenRecord {
            uses_remaining: Some(0),
            ..token.clone()
        };
        assert_eq!(used.state(now), State::UsedUp);
        assert_eq!(used.state(now + Duration::days(1)), State::Expired);
        let revoked = InitialAccessTokenRecord {
            revoked_at: Some(now),
            ..used
        };
        assert_eq!(revoked.state(now + Duration::days(1)), State::Revoked);
        assert_eq!(format!("{:<9}|", State::UsedUp), "used up  |");
    }
}
