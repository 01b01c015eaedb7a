//! Several instances on one database and one key folder agree without talking.

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
        c.grant_types = vec!["client_credentials".into()];
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
