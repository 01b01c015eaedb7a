//! RFC 7591 dynamic registration and RFC 7592 management over HTTP.

use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use tessera_core::{
    ClientId,
    secret::TokenHash,
    store::{AuditRepo, ClientAuthMethod, ClientRepo, InitialAccessTokenRepo},
};
use tessera_testkit::{TestApp, reqwest::StatusCode};

fn web_client() -> Value {
    json!({
        "client_name": "Example <b>App</b>",
        "redirect_uris": ["https://app.example.com/callback", "http://127.0.0.1:51004/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile offline_access",
        "id_token_signed_response_alg": "ES256",
    })
}

/// Registers `metadata` with a fresh initial access token; the 201 answer's body.
pub(crate) async fn registered(app: &TestApp, metadata: &Value) -> Value {
    let token = app.registration_token(None, None).await;
    let response = register(app, Some(token.expose()), metadata).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn register(
    app: &TestApp,
    token: Option<&str>,
    body: &Value,
) -> tessera_testkit::reqwest::Response {
    let mut request = app.http.post(app.url("/register")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn registration_needs_a_valid_initial_access_token() {
    let app = TestApp::spawn().await;
    let none = register(&app, None, &web_client()).await;
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");

    let wrong = register(&app, Some("tsi_not-a-real-token"), &web_client()).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_token"
    );

    let once = app.registration_token(Some(1), None).await;
    assert_eq!(
        register(&app, Some(once.expose()), &web_client())
            .await
            .status(),
        201
    );
    assert_eq!(
        register(&app, Some(once.expose()), &web_client())
            .await
            .status(),
        401,
        "used up"
    );

    let expiring = app
        .registration_token(None, Some(Duration::seconds(-1)))
        .await;
    assert_eq!(
        register(&app, Some(expiring.expose()), &web_client())
            .await
            .status(),
        401,
        "expired"
    );

    let revoked = app.registration_token(None, None).await;
    app.state
        .store
        .revoke_initial_access_token(&revoked.hash(), app.state.clock.now())
        .await
        .unwrap();
    assert_eq!(
        register(&app, Some(revoked.expose()), &web_client())
            .await
            .status(),
        401,
        "revoked"
    );

    // A refused body does not use up a single-use token.
    let careful = app.registration_token(Some(1), None).await;
    let refused = register(
        &app,
        Some(careful.expose()),
        &json!({"redirect_uris": ["http://evil.example/cb"]}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        register(&app, Some(careful.expose()), &web_client())
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_registered_client_gets_its_secret_once_and_it_is_stored_hashed() {
    let app = TestApp::spawn().await;
    let token = app.registration_token(None, None).await;
    let response = register(&app, Some(token.expose()), &web_client()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let info: Value = response.json().await.unwrap();
    let client_id = info["client_id"].as_str().unwrap();
    let secret = info["client_secret"].as_str().unwrap();
    assert!(
        secret.starts_with("tss_") && secret.len() >= 47,
        "≥256-bit secret"
    );
    assert_eq!(info["client_secret_expires_at"], 0);
    assert!(
        info["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("tsg_")
    );
    assert_eq!(
        info["registration_client_uri"],
        app.url(&format!("/register/{client_id}"))
    );
    assert_eq!(
        info["client_name"], "Example <b>App</b>",
        "display fields are data, kept verbatim"
    );
    assert_eq!(info["redirect_uris"], web_client()["redirect_uris"]);
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(info["id_token_signed_response_alg"], "ES256");
    assert_eq!(info["scope"], "openid profile offline_access");

    let stored = app
        .state
        .store
        .find_client(&ClientId::new(client_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.secret_hash, Some(TokenHash::of(secret)));
    assert!(stored.require_pkce);
    let row = format!("{stored:?}");
    assert!(
        !row.contains(secret),
        "the secret itself is nowhere in the stored client"
    );
}

#[tokio::test]
async fn native_and_key_based_clients_register_as_real_clients_send_them() {
    let app = TestApp::spawn().await;
    let token = app.registration_token(None, None).await;
    let public: Value = register(
        &app,
        Some(token.expose()),
        &json!({"redirect_uris": ["http://127.0.0.1:8400/callback", "com.example.app:/oauth2redirect"],
                "token_endpoint_auth_method": "none", "application_type": "native"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(public.get("client_secret").is_none(), "{public}");
    assert_eq!(public["token_endpoint_auth_method"], "none");

    let jwks = serde_json::to_value(app.state.keys.jwks()).unwrap();
    let key_based = register(
        &app,
        Some(token.expose()),
        &json!({"redirect_uris": ["https://svc.example.com/cb"], "token_endpoint_auth_method": "private_key_jwt",
                "jwks": jwks, "token_endpoint_auth_signing_alg": "ES256",
                "grant_types": ["authorization_code", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"]}),
    )
    .await;
    assert_eq!(key_based.status(), 201);
    let key_based: Value = key_based.json().await.unwrap();
    assert!(key_based.get("client_secret").is_none());
    let stored = app
        .state
        .store
        .find_client(&ClientId::new(key_based["client_id"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.token_endpoint_auth_method,
        ClientAuthMethod::PrivateKeyJwt
    );
    assert_eq!(stored.jwks, Some(jwks));
}

#[tokio::test]
async fn invalid_metadata_is_refused_with_rfc7591_errors() {
    let app = TestApp::spawn().await;
    let token = app.registration_token(None, None).await;
    for (body, code) in [
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example.com/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_signed_response_alg": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let response = register(&app, Some(token.expose()), &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], code, "{body}");
        assert!(
            error["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    for (content_type, body) in [
        ("application/json", "{not json"),
        ("text/plain", "{}"),
        ("application/x-www-form-urlencoded", "a=b"),
    ] {
        let response = app
            .http
            .post(app.url("/register"))
            .bearer_auth(token.expose())
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{content_type}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "invalid_client_metadata"
        );
    }
    assert!(
        app.state
            .store
            .list_clients(None, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn rfc7592_read_update_delete_with_a_rotating_registration_token() {
    let app = TestApp::spawn().await;
    let token = app.registration_token(None, None).await;
    let info: Value = register(&app, Some(token.expose()), &web_client())
        .await
        .json()
        .await
        .unwrap();
    let uri = info["registration_client_uri"].as_str().unwrap().to_owned();
    let client_id = info["client_id"].as_str().unwrap().to_owned();
    let first = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let read = app.http.get(&uri).bearer_auth(&first).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["client_id"], client_id.as_str());
    assert!(
        read.get("client_secret").is_none(),
        "secrets are never shown again"
    );
    let second = read["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second, "rotated");
    assert_eq!(
        app.http
            .get(&uri)
            .bearer_auth(&first)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "old token is spent"
    );

    let mut update = web_client();
    update["client_id"] = json!(client_id);
    update["redirect_uris"] = json!(["https://app.example.com/new-callback"]);
    let updated = app
        .http
        .put(&uri)
        .bearer_auth(&second)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example.com/new-callback"])
    );
    let third = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    for (change, why) in [
        (json!({"client_id": "someone-else"}), "other client_id"),
        (
            json!({"registration_access_token": "x"}),
            "server-managed member",
        ),
        (json!({"client_secret": "tss_wrong"}), "wrong secret"),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid metadata",
        ),
    ] {
        let mut body = update.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let response = app
            .http
            .put(&uri)
            .bearer_auth(&third)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{why}");
    }
    let stored = app
        .state
        .store
        .find_client(&ClientId::new(&client_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.redirect_uris,
        ["https://app.example.com/new-callback"],
        "refused updates changed nothing"
    );

    // Another client's token, or none, opens nothing; unknown clients look the same.
    let other: Value = register(&app, Some(token.expose()), &web_client())
        .await
        .json()
        .await
        .unwrap();
    let foreign = other["registration_access_token"].as_str().unwrap();
    assert_eq!(
        app.http
            .get(&uri)
            .bearer_auth(foreign)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(app.http.get(&uri).send().await.unwrap().status(), 401);
    assert_eq!(
        app.http
            .get(app.url("/register/nope"))
            .bearer_auth(&third)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let deleted = app
        .http
        .delete(&uri)
        .bearer_auth(&third)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(
        app.state
            .store
            .find_client(&ClientId::new(&client_id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.http
            .get(&uri)
            .bearer_auth(&third)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let events = app
        .state
        .store
        .recent_events(Some(&client_id), None, 10)
        .await
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["client.deleted", "client.updated", "client.registered"]
    );
}

#[tokio::test]
async fn dozens_of_registrations_a_minute_and_a_single_use_token_raced() {
    let app = Arc::new(TestApp::spawn().await);
    let multi = app.registration_token(None, None).await;
    for _ in 0..40 {
        assert_eq!(
            register(&app, Some(multi.expose()), &web_client())
                .await
                .status(),
            201
        );
    }
    let once = app.registration_token(Some(1), None).await;
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let app = Arc::clone(&app);
            let token = once.expose().to_owned();
            tokio::spawn(async move {
                register(&app, Some(&token), &web_client())
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 401, 401, 401, 401, 401, 401, 401, 401, 401]);
    assert_eq!(
        app.state.store.list_clients(None, 100).await.unwrap().len(),
        41
    );
}

#[tokio::test]
async fn a_disabled_client_can_not_read_update_or_delete_its_registration() {
    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let token = app.registration_token(None, None).await;
    let info: Value = register(&app, Some(token.expose()), &web_client())
        .await
        .json()
        .await
        .unwrap();
    let uri = info["registration_client_uri"].as_str().unwrap().to_owned();
    let client_id = info["client_id"].as_str().unwrap().to_owned();
    let access = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // An admin disables it elsewhere (the CLI, another instance): this instance sees it once
    // its client cache (TESSERA_CLIENT_CACHE_TTL, 2 s) has expired.
    use tessera_core::store::ClientRepo;
    assert!(
        app.state
            .store
            .set_client_enabled(&tessera_core::ClientId::new(&client_id), false)
            .await
            .unwrap()
    );
    clock.advance(chrono::Duration::seconds(3));
    let read = app
        .http
        .get(&uri)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 401, "read");
    let update = app
        .http
        .put(&uri)
        .bearer_auth(&access)
        .json(&web_client())
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 401, "update");
    let delete = app
        .http
        .delete(&uri)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 401, "delete");
    assert!(
        app.state
            .store
            .find_client(&tessera_core::ClientId::new(&client_id))
            .await
            .unwrap()
            .is_some(),
        "still there for the admin"
    );
}

#[tokio::test]
async fn dynamic_registration_can_not_mint_authority_beyond_the_scope_registry() {
    use tessera_core::store::{ScopeRecord, ScopeRepo};
    let app = TestApp::spawn().await;
    let token = app.registration_token(None, None).await;
    let service = |scope: &str| {
        json!({
            "client_name": "service",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": scope,
        })
    };
    // Unknown scopes: refused, whatever the grant.
    let minted = register(&app, Some(token.expose()), &service("admin payments:write")).await;
    assert_eq!(minted.status(), 400);
    let body: Value = minted.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("admin")
    );
    let mut web = web_client();
    web["scope"] = json!("openid payments:write");
    assert_eq!(
        register(&app, Some(token.expose()), &web).await.status(),
        400
    );

    // A registered scope meant for users: an app may ask users for it, not take it for itself.
    let now = app.state.clock.now();
    app.state
        .store
        .save_scope(&ScopeRecord {
            name: "payments:write".into(),
            description: "Make payments from your account".into(),
            client_credentials: false,
            created_at: now,
        })
        .await
        .unwrap();
    assert_eq!(
        register(&app, Some(token.expose()), &web).await.status(),
        201
    );
    assert_eq!(
        register(&app, Some(token.expose()), &service("payments:write"))
            .await
            .status(),
        400,
        "not for client_credentials"
    );
    // One the registry allows for clients themselves: registered, and granted.
    app.state
        .store
        .save_scope(&ScopeRecord {
            name: "reports.read".into(),
            description: "Read reports".into(),
            client_credentials: true,
            created_at: now,
        })
        .await
        .unwrap();
    let registered: Value = register(&app, Some(token.expose()), &service("reports.read"))
        .await
        .json()
        .await
        .unwrap();
    let answer = crate::token_support::post_form(
        &app,
        "/token",
        Some((
            registered["client_id"].as_str().unwrap(),
            registered["client_secret"].as_str().unwrap(),
        )),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["scope"], "reports.read");

    // RFC 7592 update: the same rule.
    let uri = registered["registration_client_uri"].as_str().unwrap();
    let access = registered["registration_access_token"].as_str().unwrap();
    let mut widened = service("reports.read admin");
    widened["client_id"] = registered["client_id"].clone();
    let update = app
        .http
        .put(uri)
        .bearer_auth(access)
        .json(&widened)
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 400);
}
