//! The sign-in pages against the ways they can be turned on users: the consent decision, the
//! sign-in throttle (no lockout a stranger can place; counted before the hash; hashing bounded),
//! CSRF a sibling subdomain or another site can not forge, admin sessions that are admin
//! sessions, and credential changes that end what they should. HTTP-level, with a
//! cookie-keeping client as the browser (the real-browser journeys are in `journeys.rs`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use sha2::{Digest, Sha256};
use tessera_core::{
    Clock, FakeClock,
    secret::{PlainToken, SecretKind},
    store::{AuditRepo, ClientRecord, ConsentRepo, ThrottleRepo, UserRepo},
};
use tessera_testkit::{
    TestApp,
    html::{hidden, hidden_fields},
    reqwest::{self, Response, Url},
};

use crate::{
    code_flow::{PASSWORD, REDIRECT, browser, get, location, sign_in_as},
    token_support::{Answer, client_with, introspect, redeem, token, userinfo},
};

/// An authorization URL for the test client with a fresh PKCE pair; the verifier.
fn authorize_url(
    app: &TestApp,
    client: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(PlainToken::generate(SecretKind::Session).expose());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "s-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    (url.to_string(), verifier)
}

/// Up to the consent page for `url`, signing in as alice; the page.
async fn consent_page(app: &TestApp, http: &reqwest::Client, url: &str) -> String {
    let mut response = get(app, http, url).await;
    if response.status() == 302 {
        let login = location(&response);
        let signed_in = sign_in_as(app, http, &login, "alice", PASSWORD).await;
        assert_eq!(signed_in.status(), 303);
        response = get(app, http, &location(&signed_in)).await;
    }
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn decide(app: &TestApp, http: &reqwest::Client, form: &[(String, String)]) -> Response {
    http.post(app.url("/authorize/decision"))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_consent_form_carries_a_handle_and_the_decision_is_only_the_click() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_client("rp", &[REDIRECT]).await;
    let http = browser();

    // Parameters that look like form fields ride along on the URL; the form holds none of them.
    let (url, _) = authorize_url(&app, "rp", "openid profile", &[("decision", "approve")]);
    let page = consent_page(&app, &http, &url).await;
    let fields = hidden_fields(&page);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["csrf_token", "request"],
        "only the token and the handle"
    );
    assert!(hidden(&page, "request").unwrap().starts_with("tsq_"));

    // The decision field twice (a crafted form): refused, nothing decided.
    let mut twice = fields.clone();
    twice.push(("decision".into(), "deny".into()));
    twice.push(("decision".into(), "approve".into()));
    assert_eq!(decide(&app, &http, &twice).await.status(), 400);
    let mut odd = fields.clone();
    odd.push(("decision".into(), "maybe".into()));
    assert_eq!(decide(&app, &http, &odd).await.status(), 400);
    // One Deny: access_denied, nothing remembered.
    let mut deny = fields.clone();
    deny.push(("decision".into(), "deny".into()));
    let denied = decide(&app, &http, &deny).await;
    assert_eq!(denied.status(), 303);
    let params = query_of(&location(&denied));
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "s-1");
    let alice = app.stored_user("alice").await;
    let client = tessera_core::ClientId::new("rp");
    assert_eq!(
        app.state
            .store
            .find_consent(&alice.id, &client)
            .await
            .unwrap(),
        None
    );
    // The same handle again (a replayed or double-clicked form): refused, still nothing.
    let mut approve = fields.clone();
    approve.push(("decision".into(), "approve".into()));
    let replay = decide(&app, &http, &approve).await;
    assert_eq!(replay.status(), 400);
    assert!(replay.headers().get("location").is_none());
    assert_eq!(
        app.state
            .store
            .find_consent(&alice.id, &client)
            .await
            .unwrap(),
        None
    );

    // A pending request expires: after ten minutes the form is refused.
    let (url, _) = authorize_url(&app, "rp", "openid", &[]);
    let page = consent_page(&app, &http, &url).await;
    clock.advance(Duration::minutes(11));
    let mut late = hidden_fields(&page);
    late.push(("decision".into(), "approve".into()));
    assert_eq!(decide(&app, &http, &late).await.status(), 400);
}

#[tokio::test]
async fn the_decision_checks_again_what_changed_since_the_page_was_shown() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_client("rp", &[REDIRECT]).await;

    // The client is disabled while the page is open: an error page, no redirect, no code.
    let http = browser();
    let (url, _) = authorize_url(&app, "rp", "openid", &[]);
    let mut form = hidden_fields(&consent_page(&app, &http, &url).await);
    form.push(("decision".into(), "approve".into()));
    use tessera_core::store::ClientRepo;
    app.state
        .store
        .set_client_enabled(&tessera_core::ClientId::new("rp"), false)
        .await
        .unwrap();
    // (Disabled elsewhere: this instance's client cache lets it be seen within 2 s.)
    clock.advance(Duration::seconds(3));
    let refused = decide(&app, &http, &form).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.headers().get("location").is_none());
    app.state
        .store
        .set_client_enabled(&tessera_core::ClientId::new("rp"), true)
        .await
        .unwrap();

    // max_age: the sign-in was fresh when the page was shown; by the decision it is older than
    // max_age before the request arrived → sign in again first, then the same request resumes.
    let (url, _) = authorize_url(&app, "rp", "openid", &[("max_age", "60")]);
    clock.advance(Duration::minutes(5));
    let page = consent_page(&app, &http, &url).await;
    // A second sign-in happened just now (max_age forced it), so the decision goes through.
    let mut form = hidden_fields(&page);
    form.push(("decision".into(), "approve".into()));
    let approved = decide(&app, &http, &form).await;
    assert_eq!(approved.status(), 303);
    assert!(query_of(&location(&approved)).contains_key("code"));

    // The session ends (signed out elsewhere) while the consent page is open: sign in again,
    // and the page comes back for the same request.
    let (url, _) = authorize_url(&app, "rp", "openid email", &[]);
    let page = consent_page(&app, &http, &url).await;
    let alice = app.stored_user("alice").await;
    use tessera_core::store::SessionRepo;
    app.state
        .store
        .end_user_sessions(&alice.id, None, clock.now())
        .await
        .unwrap();
    let mut form = hidden_fields(&page);
    form.push(("decision".into(), "approve".into()));
    let to_login = decide(&app, &http, &form).await;
    assert_eq!(to_login.status(), 302);
    let login = location(&to_login);
    assert!(
        login.starts_with("/login?return_to=%2Fauthorize%2Fresume%3Frequest%3Dtsq_"),
        "{login}"
    );
    let back = sign_in_as(&app, &http, &login, "alice", PASSWORD).await;
    let again = get(&app, &http, &location(&back)).await;
    assert_eq!(again.status(), 200, "the consent page for the same request");
}

#[tokio::test]
async fn a_native_app_on_a_loopback_port_is_accepted_and_nothing_else_is_loosened() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_client("native", &["http://127.0.0.1/cb", "http://[::1]/cb"])
        .await;
    let http = browser();
    for (redirect, accepted) in [
        ("http://127.0.0.1:53124/cb", true),
        ("http://[::1]:8400/cb", true),
        ("http://127.0.0.1/cb", true),
        ("http://127.0.0.1:53124/cb/extra", false),
        ("http://localhost:53124/cb", false),
        ("https://127.0.0.1:53124/cb", false),
    ] {
        let mut url = Url::parse(&app.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "native")
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid")
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .append_pair("code_challenge_method", "S256");
        let response = get(&app, &http, url.as_str()).await;
        if accepted {
            assert_eq!(response.status(), 302, "{redirect}");
            assert!(location(&response).starts_with("/login?"), "{redirect}");
        } else {
            assert_eq!(response.status(), 400, "{redirect}");
            assert!(response.headers().get("location").is_none(), "{redirect}");
        }
    }
}

/// The sign-in page's CSRF token for a fresh browser.
async fn login_token(app: &TestApp, http: &reqwest::Client) -> String {
    hidden(
        &get(app, http, "/login").await.text().await.unwrap(),
        "csrf_token",
    )
    .unwrap()
}

async fn attempt(
    app: &TestApp,
    http: &reqwest::Client,
    csrf: &str,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Response {
    let mut request = http.post(app.url("/login")).form(&[
        ("csrf_token", csrf),
        ("return_to", "/account"),
        ("username", username),
        ("password", password),
    ]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

async fn counter(app: &TestApp, kind: &str, label: &str) -> Option<u32> {
    app.state
        .store
        .list_counters(app.state.clock.now(), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == kind && c.label == label)
        .map(|c| c.failures)
}

#[tokio::test]
async fn wrong_passwords_slow_the_account_down_without_locking_anyone_else_out() {
    let clock = FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| c.trusted_proxies = "127.0.0.1/32".into())
        .spawn()
        .await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_user("bob", PASSWORD, false).await;
    app.with_user("admin", PASSWORD, true).await;
    let office = Some("203.0.113.7");

    // Twelve wrong passwords for alice from the office NAT: five free, then each one refused
    // until its wait is over (the clock moves past each wait).
    let http = browser();
    let csrf = login_token(&app, &http).await;
    let mut counted = 0;
    for _ in 0..12 {
        let response = attempt(&app, &http, &csrf, "alice", "wrong", office).await;
        match response.status().as_u16() {
            200 => counted += 1,
            429 => {
                let wait: i64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=900).contains(&wait), "{wait}");
                clock.advance(Duration::seconds(wait));
                assert_eq!(
                    attempt(&app, &http, &csrf, "alice", "wrong", office)
                        .await
                        .status(),
                    200
                );
                counted += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(counted, 12);
    assert_eq!(counter(&app, "account", "alice").await, Some(12));
    // Now alice from the office must wait (about a minute, never long) …
    let refused = attempt(&app, &http, &csrf, "alice", PASSWORD, office).await;
    assert_eq!(refused.status(), 429);
    let wait: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        wait <= 130,
        "the account from this address is slowed, not locked: {wait}"
    );
    // … but everyone else behind the same address signs in at once, admins included.
    for other in ["bob", "admin"] {
        let http = browser();
        let csrf = login_token(&app, &http).await;
        let response = attempt(&app, &http, &csrf, other, PASSWORD, office).await;
        assert_eq!(
            response.status(),
            303,
            "{other} is not locked out by alice's typos"
        );
    }
    // And alice herself, from her phone on another network, waits at most the account's 30 s.
    let phone = browser();
    let csrf_phone = login_token(&app, &phone).await;
    let from_phone = attempt(
        &app,
        &phone,
        &csrf_phone,
        "alice",
        PASSWORD,
        Some("198.51.100.4"),
    )
    .await;
    if from_phone.status() == 429 {
        let wait: i64 = from_phone.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait <= 31, "the account-wide wait is capped: {wait}");
        clock.advance(Duration::seconds(wait));
        let retried = attempt(
            &app,
            &phone,
            &csrf_phone,
            "alice",
            PASSWORD,
            Some("198.51.100.4"),
        )
        .await;
        assert_eq!(retried.status(), 303);
    } else {
        assert_eq!(from_phone.status(), 303);
    }
    // Signing in cleared alice's counters; the office address keeps its total.
    assert_eq!(counter(&app, "account", "alice").await, None);
    assert!(counter(&app, "address", "203.0.113.7").await.is_some());

    // The audit log names the username tried (truncated), never the password.
    let long = "x".repeat(150);
    let http = browser();
    let csrf = login_token(&app, &http).await;
    attempt(&app, &http, &csrf, &long, "secret-password-123", office).await;
    let events = app
        .state
        .store
        .recent_events(None, None, 100)
        .await
        .unwrap();
    let failed = events
        .iter()
        .find(|e| e.kind == "login.failed" && e.details.to_string().contains("xxxx"))
        .expect("a failed sign-in event");
    let shown = failed.details["username"].as_str().unwrap();
    assert_eq!(shown.chars().count(), 64, "truncated");
    assert!(
        events
            .iter()
            .all(|e| !e.details.to_string().contains("secret-password-123"))
    );
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_listed_proxy() {
    // No proxies listed (the default): X-Forwarded-For is ignored, so rotating it does not
    // escape the per-address counters.
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let http = browser();
    let csrf = login_token(&app, &http).await;
    for i in 0..6 {
        let spoofed = format!("198.51.100.{i}");
        let response = attempt(&app, &http, &csrf, "alice", "wrong", Some(&spoofed)).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        counter(&app, "account_address", "alice from 127.0.0.1").await,
        Some(6),
        "all counted against the real peer"
    );
    assert_eq!(
        attempt(&app, &http, &csrf, "alice", "wrong", Some("198.51.100.99"))
            .await
            .status(),
        429,
        "a new forwarded address does not help"
    );

    // Behind a listed proxy, the forwarded address is the client.
    let proxied = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| c.trusted_proxies = "127.0.0.0/8, ::1".into())
        .spawn()
        .await;
    proxied.with_user("alice", PASSWORD, false).await;
    let http = browser();
    let csrf = login_token(&proxied, &http).await;
    attempt(&proxied, &http, &csrf, "alice", "wrong", Some("192.0.2.10")).await;
    assert_eq!(counter(&proxied, "address", "192.0.2.10").await, Some(1));
    assert_eq!(counter(&proxied, "address", "127.0.0.1").await, None);
}

/// `n` wrong passwords for alice at once, from one browser: each answer's status and whether
/// it carried `Retry-After`.
async fn burst(app: &TestApp, n: usize) -> Vec<(u16, bool)> {
    let http = browser();
    let csrf = login_token(app, &http).await;
    let attempts = (0..n).map(|_| {
        let (http, csrf) = (http.clone(), csrf.clone());
        async move {
            let response = attempt(app, &http, &csrf, "alice", "wrong", None).await;
            let retry = response.headers().get("retry-after").is_some();
            (response.status().as_u16(), retry)
        }
    });
    futures_util::future::join_all(attempts).await
}

fn count(answers: &[(u16, bool)], status: u16) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

/// An app whose throttle admits everything, with the given hash gate: what is measured is the
/// gate.
async fn gated_app(concurrency: u32, queue: u32) -> TestApp {
    let app = TestApp::builder()
        .with_config(move |c| {
            c.password_hash_concurrency = concurrency;
            c.password_hash_queue = queue;
            c.sign_in_free_attempts = 10_000;
            c.sign_in_account_free_attempts = 10_000;
            c.sign_in_address_limit = 10_000;
        })
        .spawn()
        .await;
    app.with_user("alice", PASSWORD, false).await;
    app
}

#[tokio::test]
async fn parallel_guesses_do_not_slip_past_the_count() {
    // Default limits, time standing still: of 50 simultaneous guesses from one address, the
    // five free ones and the one that starts the first wait are checked; the rest are refused.
    let app = TestApp::builder()
        .with_clock(FakeClock::new())
        .spawn()
        .await;
    app.with_user("alice", PASSWORD, false).await;
    let answers = burst(&app, 50).await;
    assert_eq!(
        (count(&answers, 200), count(&answers, 429)),
        (6, 44),
        "{answers:?}"
    );
    assert_eq!(
        counter(&app, "account_address", "alice from 127.0.0.1").await,
        Some(6)
    );
}

#[tokio::test]
async fn two_hundred_parallel_wrong_sign_ins_hash_at_most_the_cap_and_are_counted_exactly() {
    let app = gated_app(2, 500).await;
    let answers = burst(&app, 200).await;
    assert_eq!(count(&answers, 200), 200, "{answers:?}");
    let peak = app.state.hashes.peak();
    assert!(
        (1..=2).contains(&peak),
        "at most 2 hashes at once, saw {peak}"
    );
    assert_eq!(
        counter(&app, "account", "alice").await,
        Some(200),
        "counted exactly"
    );

    // A small queue: a burst beyond it is answered 503 with Retry-After, before anything is
    // counted, and the count still equals the attempts that were checked.
    let small = gated_app(1, 3).await;
    let answers = burst(&small, 60).await;
    let (checked, busy) = (count(&answers, 200), count(&answers, 503));
    assert_eq!(checked + busy, 60, "{answers:?}");
    assert!(busy > 0, "a burst of 60 overflows a queue of 3");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == 503)
            .all(|(_, retry)| *retry),
        "503 carries Retry-After"
    );
    assert_eq!(small.state.hashes.peak(), 1);
    assert_eq!(
        counter(&small, "account", "alice").await,
        Some(u32::try_from(checked).unwrap())
    );
}

#[tokio::test]
async fn csrf_tokens_that_another_site_or_a_sibling_subdomain_could_forge_are_refused() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A fresh browser: learn its secret from the Set-Cookie of the sign-in page.
    let page = plain.get(app.url("/login")).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_csrf="))
        .unwrap();
    let value = cookie.split(';').next().unwrap().to_owned();
    let token = hidden(&page.text().await.unwrap(), "csrf_token").unwrap();
    let post = |cookie_header: String, headers: Vec<(&'static str, &'static str)>| {
        let plain = plain.clone();
        let url = app.url("/login");
        let token = token.clone();
        async move {
            let mut request = plain.post(url).header("cookie", cookie_header).form(&[
                ("csrf_token", token.as_str()),
                ("return_to", "/account"),
                ("username", "alice"),
                ("password", PASSWORD),
            ]);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    // A planted second secret (what a sibling subdomain can do over http): refused.
    assert_eq!(
        post(format!("{value}; tessera_csrf=planted"), vec![]).await,
        403
    );
    assert_eq!(
        post(format!("tessera_csrf=planted; {value}"), vec![]).await,
        403
    );
    // A planted secret replacing the real one: the page's token does not fit it.
    assert_eq!(post("tessera_csrf=planted".into(), vec![]).await, 403);
    // From another site, or from a sibling subdomain's page (same-site but not same-origin),
    // or with another Origin: refused even with the right token and cookie.
    for header in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "http://127.0.0.1:9000"),
        ("origin", "https://evil.example"),
    ] {
        assert_eq!(post(value.clone(), vec![header]).await, 403, "{header:?}");
    }
    // The browser's own post: accepted.
    assert_eq!(
        post(value.clone(), vec![("sec-fetch-site", "same-origin")]).await,
        303
    );
}

#[tokio::test]
async fn a_user_session_is_not_an_admin_session_and_sensitive_actions_need_a_recent_sign_in() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("root", PASSWORD, true).await;

    // An admin signs in to the account page: a user session only.
    let http = browser();
    let signed_in = sign_in_as(&app, &http, "/login?return_to=%2Faccount", "root", PASSWORD).await;
    let user_cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    let value = user_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("tessera_session=")
        .to_owned();
    // Presented as the admin cookie, it is not an admin session.
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/admin/clients"))
        .header("cookie", format!("tessera_admin={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 303);
    assert!(location(&replayed).starts_with("/login?"));

    // A real admin session: fine now, but after 6 minutes key rotation asks for the password.
    let admin = browser();
    let landed = sign_in_as(
        &app,
        &admin,
        "/login?return_to=%2Fadmin%2Fkeys",
        "root",
        PASSWORD,
    )
    .await;
    assert_eq!(location(&landed), "/admin/keys");
    let keys_before = app.state.keys.ring().keys().count();
    clock.advance(Duration::minutes(6));
    let page = get(&app, &admin, "/admin/keys").await.text().await.unwrap();
    let rotate = |csrf: String| {
        let admin = admin.clone();
        let url = app.url("/admin/keys/rotate");
        async move {
            admin
                .post(url)
                .form(&[("csrf_token", csrf.as_str()), ("alg", "ES256")])
                .send()
                .await
                .unwrap()
        }
    };
    let asked = rotate(hidden(&page, "csrf_token").unwrap()).await;
    assert_eq!(asked.status(), 303);
    let login = location(&asked);
    assert!(
        login.starts_with("/login?return_to=%2Fadmin%2Fkeys"),
        "{login}"
    );
    assert_eq!(
        app.state.keys.ring().keys().count(),
        keys_before,
        "nothing rotated"
    );
    // Signing in again (the same browser) makes the action possible.
    let again = sign_in_as(&app, &admin, &login, "root", PASSWORD).await;
    assert_eq!(location(&again), "/admin/keys");
    let page = get(&app, &admin, "/admin/keys").await.text().await.unwrap();
    let rotated = rotate(hidden(&page, "csrf_token").unwrap()).await;
    assert_eq!(location(&rotated), "/admin/keys?notice=rotated");
    assert_eq!(app.state.keys.ring().keys().count(), keys_before + 1);
}

/// One device signs alice in through the code flow and redeems the code: its token response.
async fn device_tokens(
    app: &TestApp,
    client: &(ClientRecord, PlainToken),
    http: &reqwest::Client,
) -> serde_json::Value {
    let (url, verifier) = authorize_url(app, "rp", "openid offline_access", &[]);
    let mut response = get(app, http, &url).await;
    if response.status() == 302 && location(&response).starts_with("/login") {
        let signed_in = sign_in_as(app, http, &location(&response), "alice", PASSWORD).await;
        response = get(app, http, &location(&signed_in)).await;
    }
    let location = if response.status() == 200 {
        let mut form = hidden_fields(&response.text().await.unwrap());
        form.push(("decision".into(), "approve".into()));
        crate::code_flow::location(&decide(app, http, &form).await)
    } else {
        location(&response)
    };
    let code = query_of(&location)["code"].clone();
    let answer = redeem(app, client, &code, &verifier).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

async fn refresh(
    app: &TestApp,
    client: &(ClientRecord, PlainToken),
    tokens: &serde_json::Value,
) -> Answer {
    token(
        app,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await
}

#[tokio::test]
async fn credential_changes_end_the_sessions_and_tokens_they_should() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_user("root", PASSWORD, true).await;
    let client = client_with(&app, "rp", |_| {}).await;
    let (laptop, phone) = (browser(), browser());
    let laptop_tokens = device_tokens(&app, &client, &laptop).await;
    let phone_tokens = device_tokens(&app, &client, &phone).await;

    // Alice changes her password on the laptop: the phone is signed out and its refresh token
    // (an offline grant) no longer works; the laptop's session and tokens stay.
    let page = get(&app, &laptop, "/account").await.text().await.unwrap();
    let changed = laptop
        .post(app.url("/account/password"))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token").unwrap().as_str()),
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&changed), "/account?notice=password");
    refresh(&app, &client, &phone_tokens).await.assert_error(
        400,
        "invalid_grant",
        "the phone's refresh token",
    );
    assert_eq!(
        get(&app, &phone, "/account").await.status(),
        303,
        "phone signed out"
    );
    let laptop_tokens = {
        let answer = refresh(&app, &client, &laptop_tokens).await;
        assert_eq!(
            answer.status, 200,
            "the laptop keeps its tokens: {:?}",
            answer.body
        );
        answer.body
    };
    assert_eq!(get(&app, &laptop, "/account").await.status(), 200);

    // An admin resets the password: every session and grant of alice ends.
    let admin = browser();
    sign_in_as(
        &app,
        &admin,
        "/login?return_to=%2Fadmin%2Fusers",
        "root",
        PASSWORD,
    )
    .await;
    let users = get(&app, &admin, "/admin/users")
        .await
        .text()
        .await
        .unwrap();
    let alice = app.stored_user("alice").await;
    let reset = admin
        .post(app.url(&format!("/admin/users/{}/password", alice.id)))
        .form(&[
            ("csrf_token", hidden(&users, "csrf_token").unwrap().as_str()),
            ("password", "reset by the admin 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&reset), "/admin/users?notice=updated");
    refresh(&app, &client, &laptop_tokens).await.assert_error(
        400,
        "invalid_grant",
        "after a reset",
    );
    assert_eq!(
        get(&app, &laptop, "/account").await.status(),
        303,
        "laptop signed out"
    );

    // Alice signs in with the new password; then the admin disables her: her access token
    // introspects inactive and /userinfo refuses it.
    let tablet = browser();
    let (url, verifier) = authorize_url(&app, "rp", "openid offline_access", &[]);
    let to_login = get(&app, &tablet, &url).await;
    let signed_in = sign_in_as(
        &app,
        &tablet,
        &location(&to_login),
        "alice",
        "reset by the admin 1",
    )
    .await;
    let back = get(&app, &tablet, &location(&signed_in)).await;
    let code = query_of(&location(&back))["code"].clone();
    let tablet_tokens = redeem(&app, &client, &code, &verifier).await.body;
    let access = tablet_tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access).await.status, 200);
    let users = get(&app, &admin, "/admin/users")
        .await
        .text()
        .await
        .unwrap();
    let disabled = admin
        .post(app.url(&format!("/admin/users/{}/toggle-enabled", alice.id)))
        .form(&[("csrf_token", hidden(&users, "csrf_token").unwrap().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&disabled), "/admin/users?notice=updated");
    assert_eq!(introspect(&app, &client, &access).await["active"], false);
    assert_eq!(userinfo(&app, &access).await.status, 401);
    refresh(&app, &client, &tablet_tokens).await.assert_error(
        400,
        "invalid_grant",
        "a disabled user's refresh token",
    );
}

#[tokio::test]
async fn a_concurrent_disable_is_not_undone_by_a_stale_write() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, true).await;
    let store = &app.state.store;
    let now = app.state.clock.now();
    // An in-flight password change read alice before an admin disabled her and removed her
    // admin rights; its writes land afterwards.
    let stale = store.find_user(&alice.id).await.unwrap().unwrap();
    assert!(store.set_user_enabled(&alice.id, false, now).await.unwrap());
    assert!(store.set_user_admin(&alice.id, false, now).await.unwrap());
    assert!(
        store
            .set_password_hash(&alice.id, "$argon2id$new", now)
            .await
            .unwrap()
    );
    let mut profile = stale.clone();
    profile.name = Some("Alice L.".into());
    store.update_user(&profile, now).await.unwrap();
    let after = store.find_user(&alice.id).await.unwrap().unwrap();
    assert!(!after.enabled, "still disabled");
    assert!(!after.is_admin, "still not an admin");
    assert_eq!(after.password_hash, "$argon2id$new");
    assert_eq!(after.name.as_deref(), Some("Alice L."));
}

/// The `tessera` binary on `app`'s database (and nothing else from the environment).
fn tessera_on(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TESSERA_")) {
        command.env_remove(key);
    }
    command.env("TESSERA_DATABASE_URL", &app.state.config.database_url);
    command.output().unwrap()
}

#[tokio::test]
async fn admins_see_and_clear_sign_in_locks_in_the_console_and_the_cli() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_user("root", PASSWORD, true).await;
    let http = browser();
    let csrf = login_token(&app, &http).await;
    for _ in 0..6 {
        attempt(&app, &http, &csrf, "alice", "wrong", None).await;
    }
    assert_eq!(
        attempt(&app, &http, &csrf, "alice", PASSWORD, None)
            .await
            .status(),
        429
    );

    // The console lists the counter with what it is about, and clears it.
    let admin = browser();
    sign_in_as(
        &app,
        &admin,
        "/login?return_to=%2Fadmin%2Fsign-in-locks",
        "root",
        PASSWORD,
    )
    .await;
    let page = get(&app, &admin, "/admin/sign-in-locks")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("alice from 127.0.0.1"), "{page}");
    assert!(!page.contains("wrong"), "no password is shown");
    let key = app
        .state
        .store
        .list_counters(clock.now(), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == "account_address")
        .unwrap()
        .key_hash;
    let cleared = admin
        .post(app.url(&format!("/admin/sign-in-locks/{}/clear", key.as_str())))
        .form(&[("csrf_token", hidden(&page, "csrf_token").unwrap().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&cleared), "/admin/sign-in-locks?notice=cleared");
    assert_eq!(
        attempt(&app, &http, &csrf, "alice", "wrong", None)
            .await
            .status(),
        200,
        "alice may try again at once"
    );

    // The CLI, on the same database: list shows the counters, clear --all removes them.
    let dir = tempfile::TempDir::new().unwrap();
    let cli = |args: &[&str]| tessera_on(&app, dir.path(), args);
    let listed = cli(&["sign-in-locks", "list", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let labels: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"alice"), "{labels:?}");
    assert!(labels.contains(&"127.0.0.1"), "{labels:?}");
    let cleared = cli(&["sign-in-locks", "clear", "--all"]);
    assert!(cleared.status.success(), "{cleared:?}");
    assert!(String::from_utf8_lossy(&cleared.stdout).contains("cleared 3 counter(s)"));
    assert!(
        app.state
            .store
            .list_counters(clock.now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let refused = cli(&["sign-in-locks", "clear", "abc"]);
    assert_eq!(refused.status.code(), Some(1));
}

#[tokio::test]
async fn an_https_issuer_gets_host_prefixed_cookies_and_hsts() {
    let app = TestApp::builder()
        .with_config(|c| c.issuer = "https://id.example.test".into())
        .spawn()
        .await;
    let page = app.get("/login").await;
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-tessera_csrf="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    // Every answer, not only pages.
    let health = app.get("/health/live").await;
    assert!(health.headers().get("strict-transport-security").is_some());
}

#[tokio::test]
async fn id_token_hints_must_be_our_id_tokens_for_the_client_and_the_user() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_user("bob", PASSWORD, false).await;
    let client = client_with(&app, "rp", |_| {}).await;
    client_with(&app, "other", |_| {}).await;
    let alice_browser = browser();
    let tokens = device_tokens(&app, &client, &alice_browser).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();

    // /authorize with prompt=none: alice's hint while alice is signed in → a code; the same hint
    // in bob's browser → login_required; an access token as the hint → invalid_request.
    let hinted = |hint: &str| {
        authorize_url(
            &app,
            "rp",
            "openid",
            &[("prompt", "none"), ("id_token_hint", hint)],
        )
        .0
    };
    let ok = get(&app, &alice_browser, &hinted(&id_token)).await;
    assert!(
        query_of(&location(&ok)).contains_key("code"),
        "{}",
        location(&ok)
    );
    let bob_browser = browser();
    let (url, _) = authorize_url(&app, "rp", "openid", &[]);
    let to_login = get(&app, &bob_browser, &url).await;
    sign_in_as(&app, &bob_browser, &location(&to_login), "bob", PASSWORD).await;
    let someone_else = get(&app, &bob_browser, &hinted(&id_token)).await;
    assert_eq!(
        query_of(&location(&someone_else))["error"],
        "login_required"
    );
    let not_an_id_token = get(&app, &alice_browser, &hinted(&access_token)).await;
    assert_eq!(
        query_of(&location(&not_an_id_token))["error"],
        "invalid_request"
    );

    // /logout: an access token is not a hint, and the hint must be for the client named.
    let logout = |params: &[(&str, &str)]| {
        let mut url = Url::parse(&app.url("/logout")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    };
    let refused = get(
        &app,
        &alice_browser,
        &logout(&[("id_token_hint", &access_token)]),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let wrong_client = get(
        &app,
        &alice_browser,
        &logout(&[("id_token_hint", &id_token), ("client_id", "other")]),
    )
    .await;
    assert_eq!(wrong_client.status(), 400);
    let fine = get(
        &app,
        &alice_browser,
        &logout(&[("id_token_hint", &id_token), ("client_id", "rp")]),
    )
    .await;
    assert_eq!(fine.status(), 200, "the confirmation page");
}

#[tokio::test]
async fn the_consent_page_names_the_destination_and_marks_self_registered_apps() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_client("vetted", &[REDIRECT]).await;
    let iat = app.registration_token(None, None).await;
    let registered: serde_json::Value = app
        .http
        .post(app.url("/register"))
        .bearer_auth(iat.expose())
        .json(&serde_json::json!({
            "client_name": "Totally Official Bank",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "scope": "openid",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let own = registered["client_id"].as_str().unwrap().to_owned();
    let http = browser();
    let (url, _) = authorize_url(&app, &own, "openid", &[]);
    let page = consent_page(&app, &http, &url).await;
    assert!(page.contains("Totally Official Bank"));
    assert!(
        page.contains("id=\"unverified\""),
        "a self-registered app is marked"
    );
    assert!(
        page.contains("127.0.0.1:51004"),
        "the destination host is named"
    );
    let (url, _) = authorize_url(&app, "vetted", "openid", &[]);
    let page = consent_page(&app, &http, &url).await;
    assert!(
        !page.contains("id=\"unverified\""),
        "an admin-registered app is not"
    );
    assert!(page.contains("127.0.0.1:51004"));
}

#[tokio::test]
async fn admins_manage_the_scope_registry_in_the_console_and_the_cli_and_consent_shows_it() {
    use tessera_core::store::ScopeRepo;
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    app.with_user("alice", PASSWORD, false).await;
    let admin = browser();
    sign_in_as(
        &app,
        &admin,
        "/login?return_to=%2Fadmin%2Fscopes",
        "root",
        PASSWORD,
    )
    .await;
    let page = get(&app, &admin, "/admin/scopes")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"no-scopes\""));
    let csrf = hidden(&page, "csrf_token").unwrap();
    let saved = admin
        .post(app.url("/admin/scopes"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "photos.read"),
            ("description", "See your photos"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&saved), "/admin/scopes?notice=saved");
    for bad in ["openid", "two words", ""] {
        let refused = admin
            .post(app.url("/admin/scopes"))
            .form(&[("csrf_token", csrf.as_str()), ("name", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{bad:?}");
        let shown = refused.text().await.unwrap();
        assert!(
            shown.contains("is not a scope that can be registered"),
            "{bad:?}: {shown}"
        );
        assert!(shown.contains("aria-invalid"), "the name is marked");
    }
    let stored = app
        .state
        .store
        .find_scope("photos.read")
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.client_credentials);

    // The consent page describes it.
    let (mut client, _) = app.with_client("rp", &[REDIRECT]).await;
    client.scopes.push("photos.read".into());
    use tessera_core::store::ClientRepo;
    app.state.store.update_client(&client).await.unwrap();
    let http = browser();
    let (url, _) = authorize_url(&app, "rp", "openid photos.read", &[]);
    let consent = consent_page(&app, &http, &url).await;
    assert!(
        consent.contains("See your photos (photos.read)"),
        "{consent}"
    );

    // The CLI, on the same database.
    let dir = tempfile::TempDir::new().unwrap();
    let cli = |args: &[&str]| tessera_on(&app, dir.path(), args);
    let added = cli(&[
        "scope",
        "add",
        "reports.read",
        "--description",
        "Read reports",
        "--client-credentials",
    ]);
    assert!(added.status.success(), "{added:?}");
    let listed = cli(&["scope", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["photos.read", "reports.read"]);
    assert_eq!(rows[1]["client_credentials"], true);
    assert_eq!(cli(&["scope", "add", "openid"]).status.code(), Some(1));
    assert!(cli(&["scope", "remove", "photos.read"]).status.success());
    assert_eq!(
        cli(&["scope", "remove", "photos.read"]).status.code(),
        Some(1)
    );
    // And the console's remove button.
    let page = get(&app, &admin, "/admin/scopes")
        .await
        .text()
        .await
        .unwrap();
    let removed = admin
        .post(app.url("/admin/scopes/reports.read/delete"))
        .form(&[("csrf_token", hidden(&page, "csrf_token").unwrap().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&removed), "/admin/scopes?notice=deleted");
    assert!(app.state.store.list_scopes().await.unwrap().is_empty());
}

#[tokio::test]
async fn two_instances_share_the_sign_in_limits_and_the_pending_requests() {
    let clock = FakeClock::new();
    let a = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let b = TestApp::builder()
        .with_clock(clock.clone())
        .sharing_with(&a)
        .spawn()
        .await;
    a.with_user("alice", PASSWORD, false).await;
    a.with_client("rp", &[REDIRECT]).await;

    // Six wrong passwords through A: the seventh attempt, through B, must wait.
    let http = browser();
    let csrf = login_token(&a, &http).await;
    for _ in 0..6 {
        assert_eq!(
            attempt(&a, &http, &csrf, "alice", "wrong", None)
                .await
                .status(),
            200
        );
    }
    let csrf_b = login_token(&b, &http).await;
    let refused = attempt(&b, &http, &csrf_b, "alice", PASSWORD, None).await;
    assert_eq!(refused.status(), 429, "one limit across instances");
    clock.advance(Duration::seconds(2));

    // An authorization request that arrived at A is continued and decided at B (a load
    // balancer may send each step anywhere; cookies are per host, as in a browser).
    let (url, _) = authorize_url(&a, "rp", "openid", &[]);
    let to_login = get(&a, &http, &url).await;
    let login = location(&to_login);
    let signed_in = sign_in_as(&b, &http, &login, "alice", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    let consent = get(&b, &http, &location(&signed_in)).await;
    assert_eq!(consent.status(), 200, "B knows the request A kept");
    let mut form = hidden_fields(&consent.text().await.unwrap());
    form.push(("decision".into(), "approve".into()));
    let approved = decide(&a, &http, &form).await;
    assert!(
        query_of(&location(&approved)).contains_key("code"),
        "and A takes the decision"
    );
    // The same handle at B now: already answered.
    assert_eq!(decide(&b, &http, &form).await.status(), 400);
}
