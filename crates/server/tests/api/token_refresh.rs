//! `grant_type=refresh_token`: rotation, reuse detection revoking the family, narrowing, the
//! idle and absolute lifetimes, the rotation cap, the retry window (on by default), when refresh
//! tokens are issued at all, and concurrent presentations of one token (with and without the
//! window).

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use tessera_core::{FakeClock, store::AuditRepo};
use tessera_testkit::TestApp;

use crate::{
    code_flow::PASSWORD,
    token_support::{Answer, client_with, code_tokens, introspect, token, userinfo},
};

async fn refresh(
    app: &TestApp,
    client: &(
        tessera_core::store::ClientRecord,
        tessera_core::secret::PlainToken,
    ),
    refresh_token: &str,
    scope: Option<&str>,
) -> Answer {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token(app, client, &form).await
}

fn refresh_token_of(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned()
}

#[tokio::test]
async fn rotation_narrowing_and_reuse_detection() {
    // Strict rotation: no retry window, so the first re-presentation is reuse.
    let app = TestApp::builder()
        .with_config(|c| c.refresh_token_grace = 0)
        .spawn()
        .await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let first = code_tokens(&app, &rp, &alice, &["openid", "email", "offline_access"]).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    // Widening is refused and does not burn the token.
    refresh(&app, &rp, &r1, Some("openid profile"))
        .await
        .assert_error(400, "invalid_scope", "widening");
    // Narrowing shows in the response and in introspection.
    let narrowed = refresh(&app, &rp, &r1, Some("openid")).await;
    let r2 = refresh_token_of(&narrowed);
    assert_eq!(narrowed.body["scope"], "openid");
    assert_ne!(r2, r1);
    let access2 = narrowed.body["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &rp, access2).await["scope"], "openid");
    // The rotated refresh token keeps the family's scope (RFC 6749 §6).
    assert_eq!(
        introspect(&app, &rp, &r2).await["scope"],
        "openid email offline_access"
    );
    assert_eq!(
        introspect(&app, &rp, &r1).await,
        json!({"active": false}),
        "r1 spent"
    );

    // Another client cannot use it.
    let other = client_with(&app, "other", |_| {}).await;
    refresh(&app, &other, &r2, None).await.assert_error(
        400,
        "invalid_grant",
        "another client's token",
    );

    // Reuse of r1: refused, and the whole family dies — r2 and its access token included.
    refresh(&app, &rp, &r1, None)
        .await
        .assert_error(400, "invalid_grant", "reuse");
    refresh(&app, &rp, &r2, None)
        .await
        .assert_error(400, "invalid_grant", "family revoked");
    assert_eq!(userinfo(&app, access2).await.status, 401);
    assert_eq!(
        introspect(&app, &rp, access2).await,
        json!({"active": false})
    );
    let events = app
        .state
        .store
        .recent_events(Some("rp"), None, 20)
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.kind == "refresh_token.reused"),
        "{events:?}"
    );
}

#[tokio::test]
async fn refresh_tokens_only_where_due() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let openid = code_tokens(&app, &rp, &alice, &["openid"]).await;
    assert!(
        openid.get("refresh_token").is_none(),
        "OpenID without offline_access"
    );
    let plain_oauth = code_tokens(&app, &rp, &alice, &["email"]).await;
    assert!(
        plain_oauth.get("refresh_token").is_some(),
        "OAuth request, refresh grant"
    );
    assert!(
        plain_oauth.get("id_token").is_none(),
        "no ID token without openid"
    );
    let code_only = client_with(&app, "code-only", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::AuthorizationCode];
    })
    .await;
    let body = code_tokens(&app, &code_only, &alice, &["openid", "offline_access"]).await;
    assert!(
        body.get("refresh_token").is_none(),
        "client without the refresh grant"
    );
}

#[tokio::test]
async fn idle_and_absolute_lifetimes_and_the_rotation_cap_force_a_new_sign_in() {
    let clock = FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| {
            c.refresh_token_ttl = 3600;
            c.refresh_token_absolute_ttl = 3 * 3600;
            c.refresh_token_max_rotations = 3;
        })
        .spawn()
        .await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let scopes = ["openid", "offline_access"];

    // Idle: unused for more than an hour.
    let idle = code_tokens(&app, &rp, &alice, &scopes).await;
    clock.advance(Duration::seconds(3601));
    refresh(&app, &rp, idle["refresh_token"].as_str().unwrap(), None)
        .await
        .assert_error(400, "invalid_grant", "idle expiry");

    // Absolute: used every 50 minutes, the family still ends 3 hours after sign-in.
    let mut current = code_tokens(&app, &rp, &alice, &scopes).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        clock.advance(Duration::minutes(50));
        current = refresh_token_of(&refresh(&app, &rp, &current, None).await);
    }
    clock.advance(Duration::minutes(31));
    refresh(&app, &rp, &current, None).await.assert_error(
        400,
        "invalid_grant",
        "absolute lifetime",
    );

    // Rotation cap (global 3; this client overrides it with 1).
    let capped = client_with(&app, "capped", |c| c.refresh_token_max_rotations = Some(1)).await;
    let r = code_tokens(&app, &capped, &alice, &scopes).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = refresh_token_of(&refresh(&app, &capped, &r, None).await);
    refresh(&app, &capped, &r, None)
        .await
        .assert_error(400, "invalid_grant", "rotation cap");
}

#[tokio::test]
async fn a_rotated_token_presented_again_in_the_window_gets_a_pair_while_its_successor_is_unused() {
    // The default configuration: a 30 s window.
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let scopes = ["openid", "offline_access"];
    let fresh = || async {
        code_tokens(&app, &rp, &alice, &scopes).await["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // The response of the first rotation is "lost"; the retry 20 s later gets a pair, and using
    // it deletes the lost successor — which is then unknown, not reuse: the family lives on.
    let r1 = fresh().await;
    let lost = refresh_token_of(&refresh(&app, &rp, &r1, None).await);
    clock.advance(Duration::seconds(20));
    let retried = refresh_token_of(&refresh(&app, &rp, &r1, None).await);
    assert_ne!(retried, lost);
    let r3 = refresh_token_of(&refresh(&app, &rp, &retried, None).await);
    refresh(&app, &rp, &lost, None).await.assert_error(
        400,
        "invalid_grant",
        "the lost successor is gone",
    );
    let r4 = refresh_token_of(&refresh(&app, &rp, &r3, None).await);
    assert!(
        introspect(&app, &rp, &r4).await["active"] == true,
        "family alive"
    );

    // Once a successor was used, presenting the parent is reuse: the family dies.
    let r1 = fresh().await;
    let r2 = refresh_token_of(&refresh(&app, &rp, &r1, None).await);
    let r3 = refresh_token_of(&refresh(&app, &rp, &r2, None).await);
    refresh(&app, &rp, &r1, None).await.assert_error(
        400,
        "invalid_grant",
        "successor already used",
    );
    refresh(&app, &rp, &r3, None)
        .await
        .assert_error(400, "invalid_grant", "family revoked");

    // After the window, presenting the rotated token is reuse.
    let r1 = fresh().await;
    let r2 = refresh_token_of(&refresh(&app, &rp, &r1, None).await);
    clock.advance(Duration::seconds(31));
    refresh(&app, &rp, &r1, None)
        .await
        .assert_error(400, "invalid_grant", "after the window");
    refresh(&app, &rp, &r2, None)
        .await
        .assert_error(400, "invalid_grant", "family revoked");

    // Retries are bounded: ten unused successors wait at most; the eleventh retry is refused
    // without ending the family.
    let r1 = fresh().await;
    let mut waiting = vec![refresh_token_of(&refresh(&app, &rp, &r1, None).await)];
    for _ in 1..tessera_core::store::MAX_RETRY_SUCCESSORS {
        waiting.push(refresh_token_of(&refresh(&app, &rp, &r1, None).await));
    }
    refresh(&app, &rp, &r1, None)
        .await
        .assert_error(400, "invalid_grant", "retry limit");
    let last = waiting.pop().unwrap();
    refresh_token_of(&refresh(&app, &rp, &last, None).await);
    for other in &waiting {
        refresh(&app, &rp, other, None).await.assert_error(
            400,
            "invalid_grant",
            "a sibling was used",
        );
    }
    let events = app
        .state
        .store
        .recent_events(Some("rp"), None, 100)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.kind == "refresh_token.grace_retry"));
}

#[tokio::test]
async fn concurrent_presentations_of_one_refresh_token_all_succeed_and_one_line_lives_on() {
    let app = Arc::new(TestApp::spawn().await);
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = Arc::new(client_with(&app, "rp", |_| {}).await);
    let r = code_tokens(&app, &rp, &alice, &["openid", "offline_access"]).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (app, rp, r) = (Arc::clone(&app), Arc::clone(&rp), r.clone());
            tokio::spawn(async move { refresh(&app, &rp, &r, None).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        tokens.push(refresh_token_of(&answer));
    }
    // Whichever answer the client kept works; the others are gone once it is used.
    let kept = tokens.swap_remove(3);
    let next = refresh_token_of(&refresh(&app, &rp, &kept, None).await);
    for other in &tokens {
        refresh(&app, &rp, other, None).await.assert_error(
            400,
            "invalid_grant",
            "a sibling was used",
        );
    }
    refresh_token_of(&refresh(&app, &rp, &next, None).await);
}

#[tokio::test]
async fn with_strict_rotation_twenty_concurrent_rotations_of_one_token_have_one_success() {
    let app = Arc::new(
        TestApp::builder()
            .with_config(|c| c.refresh_token_grace = 0)
            .spawn()
            .await,
    );
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = Arc::new(client_with(&app, "rp", |_| {}).await);
    let r = code_tokens(&app, &rp, &alice, &["openid", "offline_access"]).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, rp, r) = (Arc::clone(&app), Arc::clone(&rp), r.clone());
            tokio::spawn(async move { refresh(&app, &rp, &r, None).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 200)
            .all(|a| a.error() == "invalid_grant"),
        "{statuses:?}"
    );
}
