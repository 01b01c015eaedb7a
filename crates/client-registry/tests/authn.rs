//! Client authentication against a real store (SQLite, or PostgreSQL with TEST_DATABASE_URL).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::{net::TcpListener, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Duration;
use serde_json::{Value, json};
use tempfile::TempDir;
use tessera_client_registry::{
    assertion::ASSERTION_TYPE,
    authn::{ClientAuthenticator, ClientCredentials},
    jwks_fetch::JwksFetcher,
    model::{ClientMetadata, validate},
    registry::new_client,
};
use tessera_core::{
    Clock, FakeClock, Issuer, SigningAlg,
    secret::PlainToken,
    store::{ClientAuthMethod, ClientRecord, ClientRepo},
};
use tessera_keys::{KeyFolder, Keys};
use tessera_storage::{SeaStore, connect, migrate, testing::fresh_database_url};

const ISSUER: &str = "https://id.example.com";
const TOKEN_ENDPOINT: &str = "https://id.example.com/token";

struct Env {
    store: Arc<SeaStore>,
    clock: FakeClock,
    auth: ClientAuthenticator,
    _dir: TempDir,
}

async fn env() -> Env {
    let dir = TempDir::new().unwrap();
    let url = fresh_database_url(dir.path()).await;
    migrate(&url).await.unwrap();
    let store = Arc::new(SeaStore::new(connect(&url).await.unwrap()));
    let clock = FakeClock::new();
    let auth = ClientAuthenticator::new(
        store.clone(),
        store.clone(),
        store.clone(),
        Arc::new(JwksFetcher::new(true)),
        Arc::new(clock.clone()),
        &Issuer::new(ISSUER),
        TOKEN_ENDPOINT.into(),
    );
    Env {
        store,
        clock,
        auth,
        _dir: dir,
    }
}

/// A client's own signing keys (a key folder like ours, standing in for the client's).
fn client_keys(clock: &FakeClock) -> (Keys, TempDir) {
    let dir = TempDir::new().unwrap();
    let keys = Keys::open(KeyFolder::new(dir.path(), None), Arc::new(clock.clone())).unwrap();
    (keys, dir)
}

async fn register(env: &Env, metadata: Value) -> (ClientRecord, Option<PlainToken>) {
    let metadata: ClientMetadata = serde_json::from_value(metadata).unwrap();
    let created = new_client(validate(&metadata).unwrap(), env.clock.now(), false);
    env.store.create_client(&created.client).await.unwrap();
    (created.client, created.secret)
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

async fn authenticate(
    env: &Env,
    authorization: Option<&str>,
    pairs: &[(&str, &str)],
) -> Result<ClientAuthMethod, String> {
    let form = form(pairs);
    env.auth
        .authenticate(&ClientCredentials {
            authorization,
            form: &form,
            address: "192.0.2.1".parse().ok(),
        })
        .await
        .map(|ok| ok.method)
        .map_err(|failure| {
            assert_eq!(failure.to_token_error().code.as_str(), "invalid_client");
            failure.reason
        })
}

fn assertion_claims(env: &Env, client_id: &str, aud: &str) -> Value {
    let now = env.clock.now().timestamp();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + 60, "iat": now,
           "jti": tessera_core::secret::random_id()})
}

#[tokio::test]
async fn client_secret_basic_and_post_succeed_and_wrong_secrets_fail() {
    let env = env().await;
    let (client, secret) =
        register(&env, json!({"redirect_uris": ["https://app.example/cb"]})).await;
    let (id, secret) = (client.client_id.as_str(), secret.unwrap());
    assert_eq!(
        authenticate(&env, Some(&basic(id, secret.expose())), &[]).await,
        Ok(ClientAuthMethod::ClientSecretBasic)
    );
    // client_id may also appear in the body, if it is the same.
    assert!(
        authenticate(
            &env,
            Some(&basic(id, secret.expose())),
            &[("client_id", id)]
        )
        .await
        .is_ok()
    );
    assert!(
        authenticate(
            &env,
            Some(&basic(id, secret.expose())),
            &[("client_id", "other")]
        )
        .await
        .is_err()
    );

    let wrong = authenticate(&env, Some(&basic(id, "tss_wrong")), &[])
        .await
        .unwrap_err();
    assert!(wrong.contains("wrong client secret"), "{wrong}");
    let unknown = authenticate(&env, Some(&basic("nobody", secret.expose())), &[])
        .await
        .unwrap_err();
    assert!(unknown.contains("unknown client"), "{unknown}");
    // Right secret, wrong method: the client registered client_secret_basic.
    let method = authenticate(
        &env,
        None,
        &[("client_id", id), ("client_secret", secret.expose())],
    )
    .await
    .unwrap_err();
    assert!(
        method.contains("registered authentication method"),
        "{method}"
    );
    // No authentication at all for a confidential client.
    assert!(
        authenticate(&env, None, &[("client_id", id)])
            .await
            .is_err()
    );

    let (post_client, post_secret) =
        register(&env, json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post"})).await;
    let post_id = post_client.client_id.as_str();
    let post_secret = post_secret.unwrap();
    assert_eq!(
        authenticate(
            &env,
            None,
            &[
                ("client_id", post_id),
                ("client_secret", post_secret.expose())
            ]
        )
        .await,
        Ok(ClientAuthMethod::ClientSecretPost)
    );
    assert!(
        authenticate(&env, Some(&basic(post_id, post_secret.expose())), &[])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn percent_encoded_basic_credentials_decode() {
    let env = env().await;
    let (client, secret) =
        register(&env, json!({"redirect_uris": ["https://app.example/cb"]})).await;
    let secret = secret.unwrap();
    // Every character form-encoded, as RFC 6749 §2.3.1 has clients do.
    let encode = |text: &str| {
        text.bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    };
    let header = basic(&encode(client.client_id.as_str()), &encode(secret.expose()));
    assert_eq!(
        authenticate(&env, Some(&header), &[]).await,
        Ok(ClientAuthMethod::ClientSecretBasic)
    );
}

#[tokio::test]
async fn two_methods_at_once_and_malformed_input_fail() {
    let env = env().await;
    let (client, secret) =
        register(&env, json!({"redirect_uris": ["https://app.example/cb"]})).await;
    let (id, secret) = (client.client_id.as_str(), secret.unwrap());
    let two = authenticate(
        &env,
        Some(&basic(id, secret.expose())),
        &[("client_secret", secret.expose())],
    )
    .await
    .unwrap_err();
    assert!(two.contains("more than one"), "{two}");
    let two = authenticate(
        &env,
        Some(&basic(id, secret.expose())),
        &[
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", "x.y.z"),
        ],
    )
    .await
    .unwrap_err();
    assert!(two.contains("more than one"), "{two}");
    assert!(authenticate(&env, Some("Basic %%%"), &[]).await.is_err());
    assert!(
        authenticate(&env, None, &[("client_id", id), ("client_id", id)])
            .await
            .is_err()
    );
    assert!(authenticate(&env, None, &[]).await.is_err());
}

#[tokio::test]
async fn a_public_client_authenticates_with_its_id_only_and_a_disabled_client_not_at_all() {
    let env = env().await;
    let (client, secret) = register(
        &env,
        json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert!(secret.is_none());
    let id = client.client_id.as_str();
    assert_eq!(
        authenticate(&env, None, &[("client_id", id)]).await,
        Ok(ClientAuthMethod::None)
    );
    // A public client can not be authenticated with a made-up secret either.
    assert!(
        authenticate(&env, None, &[("client_id", id), ("client_secret", "x")])
            .await
            .is_err()
    );

    assert!(
        env.store
            .set_client_enabled(&client.client_id, false)
            .await
            .unwrap()
    );
    let reason = authenticate(&env, None, &[("client_id", id)])
        .await
        .unwrap_err();
    assert!(reason.contains("disabled"), "{reason}");
}

#[tokio::test]
async fn private_key_jwt_succeeds_once_and_refuses_every_bad_assertion() {
    let env = env().await;
    let (keys, _dir) = client_keys(&env.clock);
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let (client, _) = register(
        &env,
        json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": jwks, "token_endpoint_auth_signing_alg": "ES256"}),
    )
    .await;
    let id = client.client_id.as_str().to_owned();
    let present = |assertion: String| {
        let env = &env;
        async move {
            authenticate(
                env,
                None,
                &[
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &assertion),
                ],
            )
            .await
        }
    };

    let good = keys
        .sign(
            SigningAlg::ES256,
            "JWT",
            &assertion_claims(&env, &id, ISSUER),
        )
        .unwrap();
    assert_eq!(
        present(good.clone()).await,
        Ok(ClientAuthMethod::PrivateKeyJwt)
    );
    let replay = present(good).await.unwrap_err();
    assert!(replay.contains("replayed"), "{replay}");
    // The token endpoint URL is an accepted audience too.
    let to_endpoint = keys
        .sign(
            SigningAlg::ES256,
            "JWT",
            &assertion_claims(&env, &id, TOKEN_ENDPOINT),
        )
        .unwrap();
    assert!(present(to_endpoint).await.is_ok());

    let mut cases: Vec<(&str, String)> = Vec::new();
    let sign = |claims: &Value| keys.sign(SigningAlg::ES256, "JWT", claims).unwrap();
    cases.push((
        "wrong aud",
        sign(&assertion_claims(&env, &id, "https://elsewhere.example")),
    ));
    let mut expired = assertion_claims(&env, &id, ISSUER);
    expired["exp"] = json!(env.clock.now().timestamp() - 60);
    cases.push(("expired", sign(&expired)));
    let mut long = assertion_claims(&env, &id, ISSUER);
    long["exp"] = json!(env.clock.now().timestamp() + 7200);
    cases.push(("exp too far ahead", sign(&long)));
    let mut no_exp = assertion_claims(&env, &id, ISSUER);
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push(("no exp", sign(&no_exp)));
    let mut no_jti = assertion_claims(&env, &id, ISSUER);
    no_jti.as_object_mut().unwrap().remove("jti");
    cases.push(("no jti", sign(&no_jti)));
    let mut other_sub = assertion_claims(&env, &id, ISSUER);
    other_sub["sub"] = json!("someone");
    cases.push(("sub differs", sign(&other_sub)));
    // Signed with the client's RS256 key: a key it has, but not the pinned algorithm.
    cases.push((
        "alg mismatch",
        keys.sign(
            SigningAlg::RS256,
            "JWT",
            &assertion_claims(&env, &id, ISSUER),
        )
        .unwrap(),
    ));
    // Signed by somebody else's key.
    let (foreign, _foreign_dir) = client_keys(&env.clock);
    cases.push((
        "foreign key",
        foreign
            .sign(
                SigningAlg::ES256,
                "JWT",
                &assertion_claims(&env, &id, ISSUER),
            )
            .unwrap(),
    ));
    cases.push(("garbage", "not-a-jwt".into()));
    for (why, assertion) in cases {
        assert!(present(assertion).await.is_err(), "{why} was accepted");
    }
    // A wrong client_assertion_type.
    let good = keys
        .sign(
            SigningAlg::ES256,
            "JWT",
            &assertion_claims(&env, &id, ISSUER),
        )
        .unwrap();
    assert!(
        authenticate(
            &env,
            None,
            &[
                ("client_assertion_type", "urn:x"),
                ("client_assertion", &good)
            ]
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn private_key_jwt_with_jwks_uri_fetches_and_refetches_after_client_rotation() {
    let env = env().await;
    let clock = env.clock.clone();
    let (keys, dir) = client_keys(&clock);
    let keys = Arc::new(keys);
    // The client's JWKS endpoint: a loopback server serving its current keys.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    let served = Arc::clone(&keys);
    let server = actix_web::HttpServer::new(move || {
        let served = Arc::clone(&served);
        actix_web::App::new().route(
            "/jwks",
            actix_web::web::get().to(move || {
                let jwks = served.jwks();
                async move { actix_web::HttpResponse::Ok().json(jwks) }
            }),
        )
    })
    .listen(listener)
    .unwrap()
    .workers(1)
    .run();
    tokio::spawn(server);

    // Registered directly: validation demands https jwks_uris, this test serves plain http.
    let (mut client, _) = register(
        &env,
        json!({"redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC"}]},
        "token_endpoint_auth_signing_alg": "ES256"}),
    )
    .await;
    client.jwks = None;
    client.jwks_uri = Some(jwks_uri);
    env.store.update_client(&client).await.unwrap();
    let id = client.client_id.as_str().to_owned();
    let present = |assertion: String| {
        let env = &env;
        async move {
            authenticate(
                env,
                None,
                &[
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &assertion),
                ],
            )
            .await
        }
    };
    // A second authenticator whose fetcher may re-fetch at once (no cool-down).
    let eager = ClientAuthenticator::new(
        env.store.clone(),
        env.store.clone(),
        env.store.clone(),
        Arc::new(JwksFetcher::new(true).with_cooldown(std::time::Duration::ZERO)),
        Arc::new(clock.clone()),
        &Issuer::new(ISSUER),
        TOKEN_ENDPOINT.into(),
    );
    let check = |assertion: String| {
        let eager = &eager;
        async move {
            let form = form(&[
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ]);
            eager
                .authenticate(&ClientCredentials {
                    authorization: None,
                    form: &form,
                    address: "192.0.2.1".parse().ok(),
                })
                .await
                .map(|a| a.method)
        }
    };
    let sign = || {
        keys.sign(
            SigningAlg::ES256,
            "JWT",
            &assertion_claims(&env, &id, ISSUER),
        )
        .unwrap()
    };

    // Both fetch and cache the client's current JWKS.
    assert!(present(sign()).await.is_ok());
    assert!(check(sign()).await.is_ok());

    // The client rotates to a new key that signs at once.
    let rotated = KeyFolder::new(dir.path(), None)
        .rotate(
            SigningAlg::ES256,
            clock.now(),
            tessera_keys::RotationPolicy {
                activation_delay: Duration::zero(),
                publish_grace: Duration::seconds(600),
            },
        )
        .unwrap();
    keys.reload_if_changed().await.unwrap();
    let after = sign();
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(),
        Some(rotated.kid.as_str())
    );
    // Within the cool-down the cached copy is used and the new kid is unknown: refused (no
    // request storm from assertions with made-up kids).
    assert!(present(after).await.is_err());
    // Past the cool-down the unknown kid triggers one fresh fetch, and the new key is found.
    assert_eq!(
        check(sign()).await.map_err(|f| f.reason),
        Ok(ClientAuthMethod::PrivateKeyJwt)
    );
}
