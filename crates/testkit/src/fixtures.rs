//! Fixtures on an [`AppState`]: a user, a client. [`crate::TestApp`]'s helpers use these too.

use tessera_core::{
    ClientId, Subject,
    grant_type::{GrantType, ResponseType},
    password::hash_password,
    secret::{PlainToken, SecretKind, random_id},
    store::{ClientAuthMethod, ClientRecord, ClientRepo, UserRecord, UserRepo},
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
