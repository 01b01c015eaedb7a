//! The client-authentication throttle: wrong secrets slow down the address they come from, for
//! that client only, with one limit across instances that survives a restart.

use std::time::Duration as StdDuration;

use chrono::Duration;
use tessera_core::{ClientId, FakeClock, store::ClientRepo};
use tessera_testkit::TestApp;

use crate::token_support::client_with;

/// A client_credentials request for `svc` with `secret`, from `address` (through the trusted
/// loopback proxy); status and Retry-After.
async fn from(app: &TestApp, address: &str, secret: &str) -> (u16, Option<String>) {
    let response = app
        .http
        .post(app.url("/token"))
        .header("x-forwarded-for", address)
        .basic_auth("svc", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry_after)
}

#[tokio::test]
async fn wrong_secrets_slow_their_address_down_on_every_instance_and_nobody_else() {
    let clock = FakeClock::new();
    let proxied = |c: &mut tessera_server::config::RawConfig| {
        c.trusted_proxies = "127.0.0.1/32".into();
    };
    let a = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(proxied)
        .spawn()
        .await;
    let b = TestApp::builder()
        .with_clock(clock.clone())
        .sharing_with(&a)
        .with_config(proxied)
        .spawn()
        .await;
    let (_, secret) = client_with(&a, "svc", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
    })
    .await;
    let secret = secret.expose().to_owned();
    let guesser = "203.0.113.9";
    let client = "198.51.100.20";
    assert_eq!(
        from(&b, guesser, &secret).await.0,
        200,
        "B has read the counters"
    );

    // Ten wrong secrets are free; each further one makes the next attempt from that address
    // wait (1 s, 2 s, 4 s, …), and waiting attempts are refused unchecked.
    for _ in 0..10 {
        assert_eq!(from(&a, guesser, "wrong").await.0, 401);
    }
    for wait in [1, 2, 4, 8] {
        assert_eq!(from(&a, guesser, "wrong").await.0, 401);
        let (status, retry_after) = from(&a, guesser, &secret).await;
        assert_eq!(
            (status, retry_after.as_deref()),
            (429, Some(&*wait.to_string()))
        );
        if wait < 8 {
            clock.advance(Duration::seconds(wait + 1));
        }
    }
    // The same client from another address is served, here and on the other instance.
    assert_eq!(from(&a, client, &secret).await.0, 200);
    assert_eq!(from(&b, client, &secret).await.0, 200);

    // B learns of the block through the database within a second or so.
    let start = std::time::Instant::now();
    loop {
        let (status, _) = from(&b, guesser, &secret).await;
        if status == 429 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            start.elapsed() < StdDuration::from_secs(10),
            "B never refused"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    eprintln!("block on A applied on B after {:?}", start.elapsed());
    // A restarted instance (a third one on the same database) refuses too.
    let c = TestApp::builder()
        .with_clock(clock.clone())
        .sharing_with(&a)
        .with_config(proxied)
        .spawn()
        .await;
    assert_eq!(from(&c, guesser, &secret).await.0, 429);
    // The wait ends by itself.
    clock.advance(Duration::seconds(9));
    assert_eq!(from(&c, guesser, &secret).await.0, 200);

    // A disabled client's refusals are not guesses: re-enabled, it is served at once.
    let id = ClientId::new("svc");
    a.state
        .clients
        .set_client_enabled(&id, false)
        .await
        .unwrap();
    for _ in 0..20 {
        assert_eq!(from(&a, client, &secret).await.0, 401);
    }
    a.state.clients.set_client_enabled(&id, true).await.unwrap();
    assert_eq!(from(&a, client, &secret).await.0, 200);
}
