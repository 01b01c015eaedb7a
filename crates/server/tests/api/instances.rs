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
