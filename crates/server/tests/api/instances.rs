//! Several instances on one database — sharing a key folder, or keeping the keys in the database —
//! agree without talking.

use std::time::Duration;

use serde_json::{Value, json};
use tessera_core::SigningAlg;
use tessera_keys::{KeyFolder, RotationPolicy, VerifyPolicy};
use tessera_testkit::TestApp;

#[tokio::test]
async fn a_second_instance_shares_keys_and_sees_rotations_without_restart() {
    let first = TestApp::spawn().await;
    let second = TestApp::builder().sharing_with(&first).spawn().await;
    let jwks = |app: &TestApp| {
        let url = app.url("/jwks.json");
        let http = app.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(jwks(&first).await, jwks(&second).await);

    // A token signed by one instance verifies at the other.
    let now = first.state.clock.now().timestamp();
    let token = first
        .state
        .keys
        .sign(SigningAlg::ES256, "at+jwt", &json!({"exp": now + 60}))
        .unwrap();
    let policy = VerifyPolicy {
        algs: &SigningAlg::ALL,
        typ: Some("at+jwt"),
        issuer: None,
        audience: None,
        leeway_secs: 0,
    };
    assert!(second.state.keys.verify::<Value>(&token, &policy).is_ok());

    // `tessera keys rotate` (here: the folder API) on the shared folder shows up at both
    // instances through their background reload, no restart.
    let policy = RotationPolicy {
        activation_delay: chrono::Duration::seconds(600),
        publish_grace: chrono::Duration::seconds(1200),
    };
    let new = KeyFolder::new(&first.keys_dir, None)
        .rotate(SigningAlg::RS256, first.state.clock.now(), policy)
        .unwrap();
    for app in [&first, &second] {
        let mut seen = false;
        for _ in 0..100 {
            let kids: Vec<String> = jwks(app).await["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect();
            if kids.contains(&new.kid.as_str().to_owned()) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            seen,
            "instance on port {} did not pick up the rotated key",
            app.port
        );
    }
    assert_eq!(jwks(&first).await, jwks(&second).await);
}

/// `n` client_credentials requests, each on a new connection (so they spread over the
/// instance's workers); their statuses.
async fn service_statuses(app: &TestApp, id: &str, secret: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        let http = tessera_testkit::reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let response = http
            .post(app.url("/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    statuses
}

/// Waits (at most 10 s) until every one of 8 requests answers `expected` (401 stands for a
/// refusal, which after ten wrong secrets the throttle answers 429); how long it took.
async fn until_all(app: &TestApp, id: &str, secret: &str, expected: u16) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let statuses = service_statuses(app, id, secret, 8).await;
        if statuses
            .iter()
            .all(|s| *s == expected || (expected == 401 && *s == 429))
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {statuses:?} after 10 s, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_client_change_applies_at_once_on_every_worker_and_is_announced_to_other_instances() {
    use tessera_core::{
        ClientId,
        secret::{PlainToken, SecretKind},
        store::ClientRepo,
    };
    // Both instances may keep a client record for a minute and run four workers: only the
    // shared per-instance cache and the change announcements can make a change apply sooner.
    let settings = |c: &mut tessera_server::config::RawConfig| {
        c.workers = 4;
        c.client_cache_ttl = 60;
    };
    let a = TestApp::builder().with_config(settings).spawn().await;
    let b = TestApp::builder()
        .sharing_with(&a)
        .with_config(settings)
        .spawn()
        .await;
    let (service, secret) = crate::token_support::client_with(&a, "svc", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
    })
    .await;
    let id = ClientId::new("svc");
    let secret = secret.expose().to_owned();
    assert_eq!(service_statuses(&a, "svc", &secret, 8).await, [200; 8]);
    assert_eq!(service_statuses(&b, "svc", &secret, 8).await, [200; 8]);

    // Disabled through A (as its console does): refused by every worker of A at once…
    assert!(
        a.state
            .clients
            .set_client_enabled(&id, false)
            .await
            .unwrap()
    );
    assert_eq!(service_statuses(&a, "svc", &secret, 8).await, [401; 8]);
    // …and by B once the announcement arrives, long before its cache would expire.
    let took = until_all(&b, "svc", &secret, 401).await;
    eprintln!("disable on A refused on B after {took:?}");

    // Enabled again by the CLI, which writes to the database directly: both instances hear it.
    let cli =
        tessera_storage::SeaStore::new(tessera_storage::connect(&a.database_url).await.unwrap());
    assert!(cli.set_client_enabled(&id, true).await.unwrap());
    let took_a = until_all(&a, "svc", &secret, 200).await;
    let took_b = until_all(&b, "svc", &secret, 200).await;
    eprintln!("CLI enable applied on A after {took_a:?}, on B after {took_b:?}");

    // A new secret through B: the old one is refused on B at once and on A soon after.
    let fresh = PlainToken::generate(SecretKind::ClientSecret);
    assert!(
        b.state
            .clients
            .set_client_secret_hash(&id, Some(&fresh.hash()), b.state.clock.now())
            .await
            .unwrap()
    );
    assert_eq!(service_statuses(&b, "svc", &secret, 8).await, [401; 8]);
    until_all(&a, "svc", &secret, 401).await;
    until_all(&a, "svc", fresh.expose(), 200).await;

    // Deleted through A: gone on B too.
    assert!(a.state.clients.delete_client(&id).await.unwrap());
    assert_eq!(
        service_statuses(&a, "svc", fresh.expose(), 8).await,
        [401; 8]
    );
    until_all(&b, "svc", fresh.expose(), 401).await;
    drop(service);
}

/// Waits (at most 10 s) until `app` publishes `kid`; how long it took.
async fn until_published(app: &TestApp, kid: &str) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
        if jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid)
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "instance on port {} does not publish {kid} after 10 s",
            app.port
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn keys_in_the_database_are_made_once_rotate_and_serve_every_instance_without_a_shared_disk()
{
    use tessera_core::store::SigningKeyRepo;
    use tessera_keys::{DatabaseKeyStore, KeyStore};

    const PASSPHRASE: &str = "a passphrase for the key store";
    let dir = tempfile::TempDir::new().unwrap();
    let url = tessera_storage::testing::fresh_database_url(dir.path()).await;
    let settings = |c: &mut tessera_server::config::RawConfig| {
        c.keys_store = "database".into();
        c.keys_passphrase = Some(PASSPHRASE.into());
    };
    // Two instances start at once on an empty database, each with a key folder of its own.
    let (a, b) = tokio::join!(
        TestApp::builder()
            .on_database(url.clone())
            .with_config(settings)
            .spawn(),
        TestApp::builder()
            .on_database(url.clone())
            .with_config(settings)
            .spawn(),
    );
    assert_ne!(a.keys_dir, b.keys_dir);

    // One set of keys, not two; in the database only, private keys encrypted.
    let set = a.state.store.signing_keys().await.unwrap();
    let algs: Vec<SigningAlg> = set.keys.iter().map(|k| k.alg).collect();
    assert_eq!(algs.len(), 2, "{set:?}");
    assert!(algs.contains(&SigningAlg::RS256) && algs.contains(&SigningAlg::ES256));
    for key in &set.keys {
        assert!(
            key.private_key_pem
                .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            "{key:?} is stored encrypted"
        );
    }
    for app in [&a, &b] {
        assert!(
            !app.keys_dir.exists() || std::fs::read_dir(&app.keys_dir).unwrap().next().is_none(),
            "no key files in {}",
            app.keys_dir.display()
        );
    }
    let jwks = |app: &TestApp| {
        let url = app.url("/jwks.json");
        let http = app.http.clone();
        async move {
            let jwks: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            jwks
        }
    };
    assert_eq!(jwks(&a).await, jwks(&b).await);
    assert_eq!(jwks(&a).await["keys"].as_array().unwrap().len(), 2);

    let verify = VerifyPolicy {
        algs: &SigningAlg::ALL,
        typ: Some("at+jwt"),
        issuer: None,
        audience: None,
        leeway_secs: 0,
    };
    let sign = |app: &TestApp, alg| {
        let now = app.state.clock.now().timestamp();
        app.state
            .keys
            .sign(alg, "at+jwt", &json!({"exp": now + 60}))
            .unwrap()
    };
    let kid_of = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    for alg in SigningAlg::ALL {
        let (from_a, from_b) = (sign(&a, alg), sign(&b, alg));
        assert_eq!(kid_of(&from_a), kid_of(&from_b), "one {alg} key signs");
        assert!(b.state.keys.verify::<Value>(&from_a, &verify).is_ok());
        assert!(a.state.keys.verify::<Value>(&from_b, &verify).is_ok());
    }

    // Rotation through A (what its console does), taking over at once: A signs with the new
    // key, B hears of it and signs with it too; tokens of the old key still verify at both.
    let old_es256 = sign(&a, SigningAlg::ES256);
    let at_once = RotationPolicy {
        activation_delay: chrono::Duration::zero(),
        publish_grace: chrono::Duration::seconds(1200),
    };
    let rotated = a
        .state
        .keys
        .rotate(SigningAlg::ES256, at_once)
        .await
        .unwrap();
    assert_eq!(kid_of(&sign(&a, SigningAlg::ES256)), rotated.kid.as_str());
    let took = until_published(&b, rotated.kid.as_str()).await;
    eprintln!("a key rotated on A was published by B after {took:?}");
    let from_b = sign(&b, SigningAlg::ES256);
    assert_eq!(kid_of(&from_b), rotated.kid.as_str());
    assert!(a.state.keys.verify::<Value>(&from_b, &verify).is_ok());
    for app in [&a, &b] {
        assert!(app.state.keys.verify::<Value>(&old_es256, &verify).is_ok());
    }

    // An admin rotates RS256 in A's console: published by B too (it signs after the delay).
    a.with_user("root", crate::code_flow::PASSWORD, true).await;
    let admin = crate::code_flow::browser();
    let landed = crate::code_flow::sign_in_as(
        &a,
        &admin,
        "/login?return_to=%2Fadmin%2Fkeys",
        "root",
        crate::code_flow::PASSWORD,
    )
    .await;
    assert_eq!(crate::code_flow::location(&landed), "/admin/keys");
    let page = crate::code_flow::get(&a, &admin, "/admin/keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Kept in the database key store"),
        "the console says where the keys are"
    );
    let posted = admin
        .post(a.url("/admin/keys/rotate"))
        .form(&[
            (
                "csrf_token",
                tessera_testkit::html::hidden(&page, "csrf_token")
                    .unwrap()
                    .as_str(),
            ),
            ("alg", "RS256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::code_flow::location(&posted),
        "/admin/keys?notice=rotated"
    );
    let set = a.state.store.signing_keys().await.unwrap();
    assert_eq!(set.keys.len(), 4);
    let console_kid = set.keys.last().unwrap().kid.to_string();
    until_published(&b, &console_kid).await;

    // `tessera keys rotate` writes to the database directly: both instances pick it up.
    let cli = DatabaseKeyStore::new(
        std::sync::Arc::new(tessera_storage::SeaStore::new(
            tessera_storage::connect(&url).await.unwrap(),
        )),
        Some(PASSPHRASE.into()),
    )
    .unwrap();
    let next = cli
        .rotate(SigningAlg::RS256, a.state.clock.now(), at_once)
        .await
        .unwrap();
    for app in [&a, &b] {
        let took = until_published(app, next.kid.as_str()).await;
        eprintln!(
            "a CLI rotation was published by the instance on port {} after {took:?}",
            app.port
        );
    }
    assert_eq!(jwks(&a).await, jwks(&b).await);
    assert_eq!(
        jwks(&a).await["keys"].as_array().unwrap().len(),
        5,
        "the retired keys stay published"
    );
    for app in [&a, &b] {
        for alg in SigningAlg::ALL {
            let kid = kid_of(&sign(app, alg));
            assert!(
                kid == rotated.kid.as_str() || kid == next.kid.as_str(),
                "{alg} is signed with the newest key"
            );
        }
    }

    // A wrong passphrase opens nothing.
    let wrong = DatabaseKeyStore::new(a.state.store.clone(), Some("not it".into())).unwrap();
    let err = wrong.load().await.unwrap_err().to_string();
    assert!(err.contains("wrong passphrase"), "{err}");
}

#[tokio::test]
async fn instances_racing_to_change_the_database_key_set_never_lose_a_change() {
    use tessera_keys::{DatabaseKeyStore, KeyStore};
    let dir = tempfile::TempDir::new().unwrap();
    let url = tessera_storage::testing::fresh_database_url(dir.path()).await;
    tessera_storage::migrate(&url).await.unwrap();
    let store = |_| async {
        DatabaseKeyStore::new(
            std::sync::Arc::new(tessera_storage::SeaStore::new(
                tessera_storage::connect(&url).await.unwrap(),
            )),
            Some("pass".into()),
        )
        .unwrap()
    };
    let stores = futures_util::future::join_all((0..4).map(store)).await;
    let now = tessera_core::Clock::now(&tessera_core::SystemClock);
    // Four writers create the first keys at once: one set.
    let created = futures_util::future::join_all(stores.iter().map(|s| s.ensure_keys(now))).await;
    let made: usize = created.into_iter().map(|c| c.unwrap().len()).sum();
    assert_eq!(made, 2, "exactly one writer made the keys");
    // Four rotations at once: each is kept, none overwrites another.
    let policy = RotationPolicy {
        activation_delay: chrono::Duration::seconds(600),
        publish_grace: chrono::Duration::seconds(1200),
    };
    let rotated = futures_util::future::join_all(
        stores
            .iter()
            .map(|s| s.rotate(SigningAlg::ES256, now, policy)),
    )
    .await;
    let manifest = stores[0].manifest().await.unwrap();
    assert_eq!(manifest.keys.len(), 6, "{manifest:?}");
    for entry in rotated {
        let entry = entry.unwrap();
        assert!(manifest.keys.iter().any(|k| k.kid == entry.kid));
    }
    // Still exactly one current (not retiring) key per algorithm.
    for alg in SigningAlg::ALL {
        let current = manifest
            .keys
            .iter()
            .filter(|k| k.alg == alg && k.retires_at.is_none())
            .count();
        assert_eq!(current, 1, "{alg}: {manifest:?}");
    }
}

/// Waits (at most 10 s) until `token` introspects inactive at `app`; how long it took.
async fn until_inactive(
    app: &TestApp,
    client: &(
        tessera_core::store::ClientRecord,
        tessera_core::secret::PlainToken,
    ),
    token: &str,
) -> Duration {
    let start = std::time::Instant::now();
    loop {
        if crate::token_support::introspect(app, client, token).await["active"] == false {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still active at port {} after 10 s",
            app.port
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two instances on one database behind one issuer (as behind a load balancer), each allowed
/// to remember a token's state and a client for a minute: only the change announcements can
/// make a revocation apply sooner. Statements time out after a second.
async fn remembering_for_a_minute() -> (TestApp, TestApp) {
    let settings = |c: &mut tessera_server::config::RawConfig| {
        c.token_state_cache_ttl = 60;
        c.client_cache_ttl = 60;
        c.database_timeout = 1;
    };
    let a = TestApp::builder().with_config(settings).spawn().await;
    let issuer = a.issuer.clone();
    let b = TestApp::builder()
        .sharing_with(&a)
        .with_config(settings)
        .with_config(move |c| c.issuer = issuer)
        .spawn()
        .await;
    (a, b)
}

#[tokio::test]
async fn a_token_revoked_anywhere_dies_everywhere_though_live_ones_are_answered_from_memory() {
    use crate::token_support::{client_with, code_tokens, introspect, post_form, userinfo};
    use tessera_core::store::{GrantAdminRepo, UserRepo};
    let (a, b) = remembering_for_a_minute().await;
    let rp = client_with(&a, "rp", |_| {}).await;
    let alice = a
        .with_user("alice", crate::code_flow::PASSWORD, false)
        .await;
    let scopes = ["openid", "profile"];
    let first = code_tokens(&a, &rp, &alice, &scopes).await;
    let at = first["access_token"].as_str().unwrap().to_owned();
    for app in [&a, &b] {
        let answer = introspect(app, &rp, &at).await;
        assert_eq!(answer["active"], true);
        assert_eq!(answer["username"], "alice");
        assert_eq!(userinfo(app, &at).await.status, 200);
    }

    // Alice signs out everywhere through A: A refuses her token at once, B once it hears.
    let now = a.state.clock.now();
    assert!(
        a.state
            .store
            .revoke_user_grants(&alice.id, None, "test", now)
            .await
            .unwrap()
            > 0
    );
    assert_eq!(introspect(&a, &rp, &at).await["active"], false);
    assert_eq!(userinfo(&a, &at).await.status, 401);
    let took = until_inactive(&b, &rp, &at).await;
    eprintln!("a grant revoked on A was inactive on B after {took:?}");
    assert_eq!(userinfo(&b, &at).await.status, 401);

    // A new token, seen live at both; the CLI (its own connection) disables alice.
    let second = code_tokens(&a, &rp, &alice, &scopes).await;
    let at = second["access_token"].as_str().unwrap().to_owned();
    for app in [&a, &b] {
        assert_eq!(introspect(app, &rp, &at).await["active"], true);
    }
    let cli =
        tessera_storage::SeaStore::new(tessera_storage::connect(&a.database_url).await.unwrap());
    assert!(cli.set_user_enabled(&alice.id, false, now).await.unwrap());
    for app in [&a, &b] {
        let took = until_inactive(app, &rp, &at).await;
        eprintln!(
            "a user disabled by the CLI was inactive at port {} after {took:?}",
            app.port
        );
        assert_eq!(userinfo(app, &at).await.status, 401);
    }
    assert!(cli.set_user_enabled(&alice.id, true, now).await.unwrap());

    // A token A has just found live needs no database: with the tables behind a token's state
    // locked by another session (PostgreSQL; the listening connection stays up) or A's pool
    // closed (SQLite), it still introspects active and answers userinfo; a token A never saw
    // cannot be checked (503).
    let seen = code_tokens(&a, &rp, &alice, &scopes).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let unseen = code_tokens(&a, &rp, &alice, &scopes).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(introspect(&a, &rp, &seen).await["active"], true);
    assert_eq!(userinfo(&a, &seen).await.status, 200);
    let stall = if a.database_url.starts_with("postgres") {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let other = sea_orm::Database::connect(a.database_url.as_str())
            .await
            .unwrap();
        let stall = other.begin().await.unwrap();
        stall
            .execute_unprepared(
                "LOCK TABLE revoked_access_tokens, grants, users IN ACCESS EXCLUSIVE MODE",
            )
            .await
            .unwrap();
        Some((other, stall))
    } else {
        a.state.store.connection().clone().close().await.unwrap();
        None
    };
    let answer = introspect(&a, &rp, &seen).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["username"], "alice");
    let profile = userinfo(&a, &seen).await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.body["sub"], alice.id.as_str());
    let unknown = post_form(
        &a,
        "/introspect",
        Some((rp.0.client_id.as_str(), rp.1.expose())),
        &[("token", unseen.as_str())],
    )
    .await;
    assert_eq!(unknown.status, 503, "{:?}", unknown.body);
    if let Some((other, stall)) = stall {
        stall.rollback().await.unwrap();
        other.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_user_deleted_by_the_cli_has_no_live_token_on_any_instance() {
    use crate::token_support::{client_with, code_tokens, introspect, token, userinfo};
    let (a, b) = remembering_for_a_minute().await;
    let rp = client_with(&a, "rp", |_| {}).await;
    let bob = a.with_user("bob", crate::code_flow::PASSWORD, false).await;
    let tokens = code_tokens(&a, &rp, &bob, &["openid", "offline_access"]).await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    for app in [&a, &b] {
        assert_eq!(introspect(app, &rp, &at).await["active"], true);
        assert_eq!(userinfo(app, &at).await.status, 200);
    }
    // The CLI's operation, on its own connection.
    let cli =
        tessera_storage::SeaStore::new(tessera_storage::connect(&a.database_url).await.unwrap());
    tessera_admin::ops::users::delete(&cli, None, &bob)
        .await
        .unwrap();
    for app in [&a, &b] {
        let took = until_inactive(app, &rp, &at).await;
        eprintln!(
            "a deleted user's token was inactive at port {} after {took:?}",
            app.port
        );
        assert_eq!(userinfo(app, &at).await.status, 401);
    }
    token(
        &b,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await
    .assert_error(400, "invalid_grant", "a deleted user's refresh token, at B");
}
