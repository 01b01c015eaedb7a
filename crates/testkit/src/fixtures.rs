//! Fixtures on an [`AppState`]: a user, a client. [`crate::TestApp`]'s helpers use these too.
//! And records as the server would have stored them, for tests that seed many at once: a
//! browser session, a grant.

use tessera_core::{
    ClientId, GrantId, Subject,
    amr::Amr,
    grant_type::{GrantType, ResponseType},
    password::hash_password,
    secret::{PlainToken, SecretKind, TokenHash, random_id},
    store::{
        BrowserSessionRecord, ClientAuthMethod, ClientRecord, ClientRepo, GrantRecord, SessionKind,
        UserRecord, UserRepo,
    },
};
use tessera_server::AppState;

/// Creates a user with this password (argon2id-hashed like any other).
///
/// # Panics
/// When the password breaks the policy or the store refuses the user.
pub async fn user(state: &AppState, username: &str, password: &str) -> UserRecord {
    user_with(state, username, password, false).await
}

/// Creates a user, optionally an admin.
///
/// # Panics
/// When the password breaks the policy or the store refuses the user.
#[expect(clippy::expect_used, reason = "test support")]
pub async fn user_with(
    state: &AppState,
    username: &str,
    password: &str,
    admin: bool,
) -> UserRecord {
    let user = UserRecord {
        id: Subject::new(random_id()),
        username: username.to_owned(),
        password_hash: hash_password(password).expect("password meets the policy"),
        email: Some(format!("{username}@example.com")),
        email_verified: true,
        name: None,
        is_admin: admin,
        enabled: true,
        mfa_required: false,
        created_at: state.clock.now(),
    };
    state.store.create_user(&user).await.expect("user stored");
    user
}

/// Registers a confidential (client_secret_basic) code-flow client directly in the store.
///
/// # Panics
/// When the store refuses it.
#[expect(clippy::expect_used, reason = "test support")]
pub async fn client(
    state: &AppState,
    client_id: &str,
    redirect_uris: &[&str],
) -> (ClientRecord, PlainToken) {
    let secret = PlainToken::generate(SecretKind::ClientSecret);
    let now = state.clock.now();
    let client = ClientRecord {
        client_name: Some(format!("{client_id} app")),
        secret_hash: Some(secret.hash()),
        redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
        grant_types: vec![GrantType::AuthorizationCode],
        response_types: vec![ResponseType::Code],
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec(),
        token_endpoint_auth_method: ClientAuthMethod::ClientSecretBasic,
        ..ClientRecord::empty(ClientId::new(client_id), now)
    };
    state
        .store
        .create_client(&client)
        .await
        .expect("client stored");
    (client, secret)
}

/// A user's browser session in force, as the sign-in page would have stored it: the cookie
/// value `cookie` (only its hash is kept), signed in with a password and last seen at `seen`,
/// idle for an hour and absolutely for eight from `seen`.
pub fn session_record(
    cookie: &str,
    user: &Subject,
    seen: chrono::DateTime<chrono::Utc>,
) -> BrowserSessionRecord {
    BrowserSessionRecord {
        id_hash: TokenHash::of(cookie),
        user_id: user.clone(),
        auth_time: seen,
        created_at: seen,
        last_seen_at: seen,
        idle_expires_at: seen + chrono::Duration::hours(1),
        absolute_expires_at: seen + chrono::Duration::hours(8),
        user_agent: None,
        ip: None,
        ended_at: None,
        kind: SessionKind::User,
        amr: Amr::password(),
    }
}

/// A grant `user` gave `client` at `at` (scope `openid`, not offline), as a code redemption
/// would have stored it.
pub fn grant_record(
    id: &str,
    client: &ClientId,
    user: &Subject,
    at: chrono::DateTime<chrono::Utc>,
) -> GrantRecord {
    GrantRecord {
        id: GrantId::new(id),
        client_id: client.clone(),
        user_id: Some(user.clone()),
        scopes: vec!["openid".into()],
        offline: false,
        session_id: None,
        auth_time: Some(at),
        created_at: at,
        revoked_at: None,
        resource: None,
        dpop_jkt: None,
        amr: Amr::password(),
    }
}
