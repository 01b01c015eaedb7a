//! Pushed authorization requests (RFC 9126): `/par` takes an authenticated client's request and
//! answers a single-use `request_uri` that `/authorize` accepts for 60 seconds — with the code
//! flow completed through it, and every refusal.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tessera_core::{
    FakeClock,
    store::{ClientRecord, ClientRepo},
};
use tessera_testkit::{
    TestApp,
    flow::{PASSWORD, REDIRECT, browser, callback_params, decide, get, location, sign_in},
    tokens::{Answer, client_with, post_form, token},
};

const VERIFIER: &str = "a-pushed-request-verifier-that-is-long-enough-0123456789";

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

/// Pushes a code-flow request as `client` (Basic), with `extra` parameters.
async fn push(
    app: &TestApp,
    client: &(ClientRecord, tessera_core::secret::PlainToken),
    extra: &[(&str, &str)],
) -> Answer {
    let challenge = challenge();
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "pushed-state"),
        ("nonce", "n-par"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    form.extend_from_slice(extra);
    let basic = Some((client.0.client_id.as_str(), client.1.expose()));
    post_form(app, "/par", basic, &form).await
}

fn authorize_with(client_id: &str, request_uri: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri)
        .finish();
    format!("/authorize?{query}")
}

#[tokio::test]
async fn a_pushed_request_runs_the_code_flow_once() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let client = client_with(&app, "rp", |_| {}).await;

    let pushed = push(&app, &client, &[]).await;
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let request_uri = pushed.body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:tsp_"));
    assert_eq!(pushed.body["expires_in"], 60);

    // The browser carries only client_id and request_uri; the rest is the pushed request.
    let alice = browser();
    let answer = get(&app, &alice, &authorize_with("rp", &request_uri)).await;
    assert_eq!(answer.status(), 302);
    let back = sign_in(&app, &alice, &location(&answer), "alice").await;
    let consent = get(&app, &alice, &back).await.text().await.unwrap();
    let decided = decide(&app, &alice, &consent, "approve").await;
    let params = callback_params(&location(&decided));
    assert_eq!(params["state"], "pushed-state");
    let redeemed = token(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(redeemed.status, 200, "{:?}", redeemed.body);
    let id_token = redeemed.body["id_token"].as_str().unwrap();
    assert_eq!(tessera_testkit::tokens::payload(id_token)["nonce"], "n-par");

    // Used once: the same request_uri again is refused, and never reaches the client.
    let again = get(&app, &browser(), &authorize_with("rp", &request_uri)).await;
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
}

#[tokio::test]
async fn a_request_uri_is_the_pushing_clients_for_a_minute() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let client = client_with(&app, "rp", |_| {}).await;
    client_with(&app, "other", |_| {}).await;

    // Another client_id beside it: refused, and the request is still there for its own client.
    let request_uri = push(&app, &client, &[]).await.body["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = get(&app, &browser(), &authorize_with("other", &request_uri)).await;
    assert_eq!(theirs.status(), 400);
    let missing = get(
        &app,
        &browser(),
        &format!("/authorize?request_uri={request_uri}"),
    )
    .await;
    assert_eq!(missing.status(), 400);
    let own = get(&app, &browser(), &authorize_with("rp", &request_uri)).await;
    assert_eq!(own.status(), 302, "not used up by the refusals");

    // After 60 seconds it is gone.
    let late = push(&app, &client, &[]).await.body["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(Duration::seconds(61));
    let expired = get(&app, &browser(), &authorize_with("rp", &late)).await;
    assert_eq!(expired.status(), 400);

    // Not ours, or a sign-in handle dressed up as one: refused.
    for forged in [
        "urn:ietf:params:oauth:request_uri:tsq_abc".to_owned(),
        "https://rp.example/request.jwt".to_owned(),
        request_uri.replace("tsp_", "tsq_"),
    ] {
        let answer = get(&app, &browser(), &authorize_with("rp", &forged)).await;
        assert_eq!(answer.status(), 400, "{forged}");
    }
}

#[tokio::test]
async fn pushing_needs_client_authentication_and_a_valid_request() {
    let app = TestApp::spawn().await;
    let client = client_with(&app, "rp", |_| {}).await;

    let anonymous = post_form(&app, "/par", None, &[("response_type", "code")]).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["error"], "invalid_client");
    let wrong = post_form(&app, "/par", Some(("rp", "tss_wrong")), &[]).await;
    assert_eq!(wrong.status, 401);

    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("request_uri", "urn:x")], "invalid_request"),
        (
            &[("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (&[("scope", "openid admin.everything")], "invalid_scope"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
    ];
    for (extra, code) in cases {
        let mut form: Vec<(&str, &str)> = Vec::new();
        let challenge = challenge();
        for (name, value) in [
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ] {
            if !extra.iter().any(|(n, _)| *n == name) {
                form.push((name, value));
            }
        }
        form.extend_from_slice(extra);
        let basic = Some((client.0.client_id.as_str(), client.1.expose()));
        let refused = post_form(&app, "/par", basic, &form).await;
        assert_eq!(refused.status, 400, "{extra:?}: {:?}", refused.body);
        assert_eq!(refused.body["error"], code, "{extra:?}");
    }
    // A redirect URI the client did not register: refused, not pushed.
    let basic = Some((client.0.client_id.as_str(), client.1.expose()));
    let unregistered = post_form(
        &app,
        "/par",
        basic,
        &[
            ("response_type", "code"),
            ("redirect_uri", "https://evil.example/cb"),
        ],
    )
    .await;
    assert_eq!(unregistered.status, 400);
    assert_eq!(unregistered.body["error"], "invalid_request");
    // Only POST.
    let get_par = app.http.get(app.url("/par")).send().await.unwrap();
    assert_eq!(get_par.status(), 405);
}

#[tokio::test]
async fn with_par_required_only_pushed_requests_are_taken_and_discovery_says_so() {
    let app = TestApp::builder()
        .with_config(|raw| raw.require_par = true)
        .spawn()
        .await;
    let client = client_with(&app, "rp", |_| {}).await;
    let metadata: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["pushed_authorization_request_endpoint"],
        format!("{}/par", app.issuer)
    );
    assert_eq!(metadata["require_pushed_authorization_requests"], true);

    let challenge = challenge();
    let plain = format!(
        "/authorize?response_type=code&client_id=rp&redirect_uri={}&scope=openid\
         &code_challenge={challenge}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let refused = get(&app, &browser(), &plain).await;
    assert_eq!(
        refused.status(),
        302,
        "told through the verified redirect URI"
    );
    let params = callback_params(&location(&refused));
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("pushed"), "{params:?}");

    let request_uri = push(&app, &client, &[]).await.body["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let pushed = get(&app, &browser(), &authorize_with("rp", &request_uri)).await;
    assert_eq!(pushed.status(), 302, "on to sign-in");
    assert!(location(&pushed).starts_with("/login?"));
}

#[tokio::test]
async fn a_client_registered_to_push_is_refused_unpushed_requests_and_the_others_are_not() {
    let app = TestApp::spawn().await;
    let pushing = client_with(&app, "pusher", |c| {
        c.require_pushed_authorization_requests = true;
    })
    .await;
    client_with(&app, "plain", |_| {}).await;
    let challenge = challenge();
    let unpushed = |client_id: &str| {
        format!(
            "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid\
             &state=s&code_challenge={challenge}&code_challenge_method=S256",
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        )
    };
    let refused = get(&app, &browser(), &unpushed("pusher")).await;
    let params = callback_params(&location(&refused));
    assert_eq!(
        (params["error"].as_str(), params["state"].as_str()),
        ("invalid_request", "s")
    );
    let other = get(&app, &browser(), &unpushed("plain")).await;
    assert!(
        location(&other).starts_with("/login?"),
        "other clients are unaffected"
    );
    let request_uri = push(&app, &pushing, &[]).await.body["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let pushed = get(&app, &browser(), &authorize_with("pusher", &request_uri)).await;
    assert!(
        location(&pushed).starts_with("/login?"),
        "pushed: on to sign-in"
    );

    // The flag is registration metadata: dynamic registration sets it and reads it back, and it
    // survives the console and the CLI (their create paths carry it).
    let registered = crate::registration::registered(
        &app,
        &serde_json::json!({
            "redirect_uris": [REDIRECT],
            "require_pushed_authorization_requests": true,
        }),
    )
    .await;
    assert_eq!(registered["require_pushed_authorization_requests"], true);
    let stored = app
        .state
        .store
        .find_client(&tessera_core::ClientId::new(
            registered["client_id"].as_str().unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.require_pushed_authorization_requests);
}

#[tokio::test]
async fn a_public_clients_pushes_are_bounded_per_address_and_a_confidential_clients_are_not() {
    use tessera_core::{pending_limit::MAX_PER_ADDRESS, store::ClientAuthMethod};
    let app = TestApp::spawn().await;
    let confidential = client_with(&app, "backend", |_| {}).await;
    client_with(&app, "spa", |c| {
        c.token_endpoint_auth_method = ClientAuthMethod::None;
        c.secret_hash = None;
    })
    .await;
    let challenge = challenge();
    let form = [
        ("client_id", "spa"),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for _ in 0..MAX_PER_ADDRESS {
        assert_eq!(post_form(&app, "/par", None, &form).await.status, 201);
    }
    let refused = post_form(&app, "/par", None, &form).await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "temporarily_unavailable");
    // The confidential client, from the same address, still pushes.
    assert_eq!(push(&app, &confidential, &[]).await.status, 201);
}

#[tokio::test]
async fn a_request_pushed_to_one_instance_is_taken_once_across_instances() {
    let first = TestApp::spawn().await;
    let second = TestApp::builder().sharing_with(&first).spawn().await;
    let client = client_with(&first, "rp", |_| {}).await;
    let request_uri = push(&first, &client, &[]).await.body["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    // The other instance takes it (the row is in the shared database) …
    let taken = get(&second, &browser(), &authorize_with("rp", &request_uri)).await;
    assert!(
        location(&taken).starts_with("/login?"),
        "{}",
        taken.status()
    );
    // … and then neither instance takes it again.
    for app in [&first, &second] {
        let again = get(app, &browser(), &authorize_with("rp", &request_uri)).await;
        assert_eq!(again.status(), 400);
    }
}
