//! Signals that an account is in someone else's hands, as a user meets them: sign-ins from
//! browsers with their own user agents and addresses (forwarded by a trusted proxy), a device
//! not seen before and a change of network minutes after another sign-in reported on `/account`
//! and in the audit log, ordinary sign-ins not reported; a burst of refreshes of one family
//! reported once.

use chrono::Duration;
use tessera_core::{
    Clock, FakeClock,
    store::{AuditRepo, UserRepo},
};
use tessera_testkit::{
    TestApp,
    mail::{SmtpSink, decoded},
    reqwest::{self, header},
};

use crate::{
    code_flow::{PASSWORD, get, sign_in_as},
    token_support::{client_with, code_tokens, token},
};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// A browser with its own user agent, behind the trusted proxy that forwards `address`.
fn device(agent: &str, address: &str) -> reqwest::Client {
    let mut headers = header::HeaderMap::new();
    headers.insert(header::USER_AGENT, agent.parse().unwrap());
    headers.insert("x-forwarded-for", address.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn signal_kinds(app: &TestApp) -> Vec<String> {
    let events = app
        .state
        .store
        .recent_events(None, None, 200)
        .await
        .unwrap();
    events
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| tessera_authorization_endpoint::signals::SIGNAL_KINDS.contains(&k.as_str()))
        .collect()
}

#[tokio::test]
async fn a_new_device_and_a_quick_change_of_network_are_reported_to_the_user() {
    let clock = FakeClock::new();
    let sink = SmtpSink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(move |c| {
            c.trusted_proxies = "127.0.0.1/32".into();
            c.smtp_url = Some(smtp);
        })
        .spawn()
        .await;
    let mut alice = app.with_user("alice", PASSWORD, false).await;
    alice.email = Some("alice@example.com".into());
    app.state
        .store
        .update_user(&alice, clock.now())
        .await
        .unwrap();
    let sign_in = async |agent: &str, address: &str| {
        let http = device(agent, address);
        let signed = sign_in_as(
            &app,
            &http,
            "/login?return_to=%2Faccount",
            "alice",
            PASSWORD,
        )
        .await;
        assert_eq!(signed.status(), 303);
        http
    };
    // The first sign-in ever, then the same browser from another address of the same network
    // hours later: nothing to report.
    sign_in(FIREFOX, "203.0.113.7").await;
    clock.advance(Duration::hours(5));
    let laptop = sign_in(FIREFOX, "203.0.113.9").await;
    assert!(signal_kinds(&app).await.is_empty());
    let page = get(&app, &laptop, "/account").await.text().await.unwrap();
    assert!(page.contains("id=\"no-events\""), "{page}");

    // Ten minutes later a phone on another network: a new device, and a change of network.
    clock.advance(Duration::minutes(10));
    sign_in(SAFARI_IOS, "198.51.100.20").await;
    let kinds = signal_kinds(&app).await;
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"login.new_device".to_owned()));
    assert!(kinds.contains(&"login.network_changed".to_owned()));
    // The user sees both on the account page, in words.
    let page = get(&app, &laptop, "/account").await.text().await.unwrap();
    assert!(
        page.contains(
            "Signed in from a device not seen before: Safari on iOS, network 198.51.100.0/24."
        ),
        "{page}"
    );
    assert!(
        page.contains("shortly after a sign-in from 203.0.113.0/24"),
        "{page}"
    );
    // And by email, once for the sign-in, naming both.
    let mail = decoded(&sink.message(0).await);
    assert!(mail.contains("To: alice@example.com"), "{mail}");
    assert!(
        mail.contains("Safari on iOS, network 198.51.100.0/24"),
        "{mail}"
    );
    assert!(
        mail.contains("shortly after one from 203.0.113.0/24"),
        "{mail}"
    );
    assert!(mail.contains("/account"), "{mail}");

    // The phone again the next day: known, and the change of network is no longer quick.
    clock.advance(Duration::days(1));
    sign_in(SAFARI_IOS, "198.51.100.21").await;
    assert_eq!(signal_kinds(&app).await.len(), 2, "nothing new");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.count(), 1, "no mail for ordinary sign-ins");
}

#[tokio::test]
async fn a_burst_of_refreshes_of_one_family_is_reported_once() {
    let clock = FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| {
            c.signal_refresh_burst = 3;
            c.signal_refresh_burst_seconds = 60;
        })
        .spawn()
        .await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let client = client_with(&app, "rp", |_| {}).await;
    let tokens = code_tokens(&app, &client, &alice, &["openid", "offline_access"]).await;
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let answer = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(answer.status, 200, "rotation {i}: {:?}", answer.body);
        refresh = answer.body["refresh_token"].as_str().unwrap().to_owned();
        clock.advance(Duration::seconds(1));
    }
    let bursts: Vec<_> = app
        .state
        .store
        .recent_events(None, Some(alice.id.as_str()), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "refresh_token.burst")
        .collect();
    assert_eq!(bursts.len(), 1, "reported once per window");
    assert_eq!(bursts[0].details["refreshes"], 3);
    assert_eq!(bursts[0].client_id.as_deref(), Some("rp"));
    // Slow refreshes afterwards: the next window reports nothing.
    clock.advance(Duration::minutes(2));
    for _ in 0..2 {
        let answer = token(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        refresh = answer.body["refresh_token"].as_str().unwrap().to_owned();
        clock.advance(Duration::seconds(40));
    }
    assert_eq!(signal_kinds(&app).await.len(), 1);
}
