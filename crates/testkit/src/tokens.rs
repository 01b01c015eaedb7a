//! Token-endpoint helpers for tests: form posts with client authentication, codes issued
//! straight into the store (for the refusal tests; the end-to-end test goes through the
//! browser flow), and clients with the grants a test needs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failed unwrap is a failed test"
)]

use crate::{TestApp, reqwest::header::HeaderMap};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tessera_core::{
    grant_type::GrantType,
    secret::{PlainToken, SecretKind},
    store::{AuthorizationCodeRecord, ClientRecord, ClientRepo, CodeRepo, UserRecord},
};

use crate::flow::REDIRECT;

/// A response: status, headers, JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// Asserts an RFC 6749 §5.2 error with its status.
    pub fn assert_error(&self, status: u16, error: &str, what: &str) {
        assert_eq!(
            (self.status, self.error()),
            (status, error),
            "{what}: {:?}",
            self.body
        );
        assert_eq!(self.headers["cache-control"], "no-store", "{what}");
    }
}

pub async fn answer(response: crate::reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// POSTs a form to `path`, with HTTP Basic when `basic` is given.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Answer {
    let mut request = app.http.post(app.url(path)).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    answer(request.send().await.unwrap()).await
}

/// A confidential client (client_secret_basic) registered for code + refresh, changed by
/// `change`.
pub async fn client_with(
    app: &TestApp,
    id: &str,
    change: impl FnOnce(&mut ClientRecord),
) -> (ClientRecord, PlainToken) {
    let (mut client, secret) = app.with_client(id, &[REDIRECT]).await;
    client.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    change(&mut client);
    app.state.store.update_client(&client).await.unwrap();
    (client, secret)
}

/// `/token` as `client` (Basic).
pub async fn token(
    app: &TestApp,
    client: &(ClientRecord, PlainToken),
    form: &[(&str, &str)],
) -> Answer {
    post_form(
        app,
        "/token",
        Some((client.0.client_id.as_str(), client.1.expose())),
        form,
    )
    .await
}

/// A code as `/authorize` would have issued it (S256 challenge, nonce `n-1`); returns the code
/// and the verifier.
pub async fn issue_code(
    app: &TestApp,
    client: &ClientRecord,
    user: &UserRecord,
    scopes: &[&str],
) -> (String, String) {
    issue_code_with(app, client, user, scopes, true).await
}

/// [`issue_code`], optionally without a PKCE challenge (as a server without PKCE would issue).
pub async fn issue_code_with(
    app: &TestApp,
    client: &ClientRecord,
    user: &UserRecord,
    scopes: &[&str],
    with_challenge: bool,
) -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(PlainToken::generate(SecretKind::Session).expose());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let code = PlainToken::generate(SecretKind::AuthorizationCode);
    let now = app.state.clock.now();
    app.state
        .store
        .insert_code(&AuthorizationCodeRecord {
            code_hash: code.hash(),
            client_id: client.client_id.clone(),
            user_id: user.id.clone(),
            redirect_uri: REDIRECT.into(),
            code_challenge: with_challenge.then_some(challenge),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            nonce: Some("n-1".into()),
            session_id: None,
            auth_time: now - Duration::seconds(5),
            created_at: now,
            expires_at: now + Duration::seconds(60),
            grant_id: None,
            resource: None,
            dpop_jkt: None,
            amr: tessera_core::amr::Amr::password(),
        })
        .await
        .unwrap();
    (code.expose().to_owned(), verifier)
}

/// Redeems a fresh code for `user` with `scopes`; asserts success and returns the body.
pub async fn code_tokens(
    app: &TestApp,
    client: &(ClientRecord, PlainToken),
    user: &UserRecord,
    scopes: &[&str],
) -> Value {
    let (code, verifier) = issue_code(app, &client.0, user, scopes).await;
    let answer = redeem(app, client, &code, &verifier).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// `grant_type=authorization_code` for `code` sent to [`REDIRECT`], with its PKCE verifier.
pub async fn redeem(
    app: &TestApp,
    client: &(ClientRecord, PlainToken),
    code: &str,
    verifier: &str,
) -> Answer {
    token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// `GET /userinfo` with a bearer token.
pub async fn userinfo(app: &TestApp, access_token: &str) -> Answer {
    answer(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// `/introspect` as `client`; returns the body.
pub async fn introspect(app: &TestApp, client: &(ClientRecord, PlainToken), token: &str) -> Value {
    let answer = post_form(
        app,
        "/introspect",
        Some((client.0.client_id.as_str(), client.1.expose())),
        &[("token", token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// base64url without padding (JWS parts).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The decoded (unverified) payload of a JWS.
pub fn payload(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The decoded header of a JWS.
pub fn header(jws: &str) -> Value {
    let part = jws.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}
