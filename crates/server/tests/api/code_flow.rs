//! The authorization code flow in the browser half (sign-in, consent, code), driven by the
//! openidconnect crate as the relying party and a cookie-keeping HTTP client as the browser. The
//! helpers live in `tessera_testkit::flow` (re-exported here for the other test modules).

use chrono::Duration;
use tessera_core::{
    Clock, FakeClock, Subject,
    secret::TokenHash,
    store::{CodeRepo, Consumption},
};
pub(crate) use tessera_testkit::flow::*;
use tessera_testkit::{
    TestApp,
    html::{hidden, hidden_fields},
    openidconnect::AuthorizationCode,
    reqwest::Url,
};
#[tokio::test]
async fn code_flow_with_pkce_and_nonce_binds_the_code_and_remembers_consent() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let (client, secret) = app.with_client("rp", &[REDIRECT]).await;
    let rp = rp_authorize_url(&app, "rp", secret.expose(), &["openid"]).await;
    let http = browser();

    // Not signed in: to the sign-in page, then back to the same authorization request.
    let response = get(&app, &http, rp.url.as_str()).await;
    assert_eq!(response.status(), 302);
    let back = sign_in(&app, &http, &location(&response), "alice").await;
    assert!(back.starts_with("/authorize/resume?request=tsq_"), "{back}");

    // First time: the consent page names the client and the scopes in words.
    let consent = get(&app, &http, &back).await;
    let status = consent.status();
    if status != 200 {
        panic!("{back} -> {status}: {}", consent.text().await.unwrap());
    }
    assert_eq!(consent.headers()["x-frame-options"], "DENY");
    let consent = consent.text().await.unwrap();
    assert!(
        consent.contains("rp app") && consent.contains("Confirm who you are"),
        "{consent}"
    );
    assert!(hidden(&consent, "csrf_token").is_some());

    let approved = decide(&app, &http, &consent, "approve").await;
    assert_eq!(approved.status(), 303, "after a POST: 303, never 307/308");
    let params = callback_params(&location(&approved));
    assert_eq!(params["state"], *rp.state.secret(), "state echoed exactly");
    assert_eq!(params["iss"], app.issuer, "RFC 9207");
    let code = &params["code"];
    assert!(code.starts_with("tsc_") && code.len() >= 47);

    // The code is stored hashed and bound to everything the token endpoint checks.
    let Consumption::Consumed(record) = app
        .state
        .store
        .consume_code(&TokenHash::of(code), now(&app))
        .await
        .unwrap()
    else {
        panic!("the code was not redeemable");
    };
    assert_eq!(record.client_id, client.client_id);
    assert_eq!(record.user_id, alice.id);
    assert_eq!(record.redirect_uri, REDIRECT);
    assert_eq!(
        record.code_challenge.as_deref(),
        Some(rp.challenge.as_str())
    );
    assert_eq!(record.nonce.as_deref(), Some(rp.nonce.secret().as_str()));
    assert_eq!(record.scopes, ["openid"]);
    assert!(record.session_id.is_some());
    assert_eq!(
        (record.expires_at - record.created_at).num_seconds(),
        60,
        "default code lifetime"
    );
    assert!(matches!(
        app.state
            .store
            .consume_code(&TokenHash::of(code), now(&app))
            .await
            .unwrap(),
        Consumption::AlreadyConsumed(_)
    ));

    // Second time: consent is remembered, the code comes at once.
    let again = rp_authorize_url(&app, "rp", secret.expose(), &["openid"]).await;
    let response = get(&app, &http, again.url.as_str()).await;
    assert_eq!(response.status(), 302);
    let params = callback_params(&location(&response));
    assert_eq!(params["state"], *again.state.secret());
    assert!(params.contains_key("code"));

    // A new scope asks again; so does prompt=consent.
    let more = rp_authorize_url(&app, "rp", secret.expose(), &["openid", "offline_access"]).await;
    let response = get(&app, &http, more.url.as_str()).await;
    assert_eq!(
        response.status(),
        200,
        "offline_access needs explicit consent"
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Keep access when you are not using it")
    );
    let _ = Subject::new("unused");
    let _ = AuthorizationCode::new("unused".into());
}

fn now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    app.state.clock.now()
}

#[tokio::test]
async fn deny_prompt_none_and_max_age() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let (_, secret) = app.with_client("rp", &[REDIRECT]).await;
    let http = browser();

    // prompt=none without a session: login_required, through the redirect, with state and iss.
    let rp = rp_authorize_url(&app, "rp", secret.expose(), &["openid"]).await;
    let response = get(&app, &http, &format!("{}&prompt=none", rp.url)).await;
    assert_eq!(response.status(), 302);
    let params = callback_params(&location(&response));
    assert_eq!(params["error"], "login_required");
    assert_eq!(params["state"], *rp.state.secret());
    assert_eq!(params["iss"], app.issuer);

    // Signed in but never consented: prompt=none → consent_required.
    let response = get(&app, &http, rp.url.as_str()).await;
    let back = sign_in(&app, &http, &location(&response), "alice").await;
    let response = get(&app, &http, &format!("{}&prompt=none", rp.url)).await;
    assert_eq!(
        callback_params(&location(&response))["error"],
        "consent_required"
    );

    // Deny → access_denied.
    let consent = get(&app, &http, &back).await.text().await.unwrap();
    let denied = decide(&app, &http, &consent, "deny").await;
    assert_eq!(denied.status(), 303);
    let params = callback_params(&location(&denied));
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], *rp.state.secret());

    // A consent form without its CSRF token is refused, and no code is issued.
    let consent = get(&app, &http, &back).await.text().await.unwrap();
    let mut form: Vec<(String, String)> = hidden_fields(&consent)
        .into_iter()
        .filter(|(n, _)| n != "csrf_token")
        .collect();
    form.push(("decision".into(), "approve".into()));
    let forged = http
        .post(app.url("/authorize/decision"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // max_age=0 forces a new sign-in even with a session; prompt=login likewise.
    for extra in ["&max_age=0", "&prompt=login"] {
        let response = get(&app, &http, &format!("{}{extra}", rp.url)).await;
        let login = location(&response);
        assert!(login.starts_with("/login?"), "{extra}: {login}");
        assert!(
            !login.contains("max_age") && !login.contains("prompt%3Dlogin"),
            "no loop back to sign-in: {login}"
        );
    }
}

#[tokio::test]
async fn pkce_is_required_and_plain_refused_through_the_redirect() {
    let app = TestApp::spawn().await;
    let (_, secret) = app.with_client("rp", &[REDIRECT]).await;
    let rp = rp_authorize_url(&app, "rp", secret.expose(), &["openid"]).await;
    let without: Vec<(String, String)> = rp
        .url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    let plain: Vec<(String, String)> = without
        .iter()
        .cloned()
        .chain([
            ("code_challenge".into(), "a".repeat(43)),
            ("code_challenge_method".into(), "plain".into()),
        ])
        .collect();
    for (params, why) in [(without, "missing"), (plain, "plain")] {
        let mut url = Url::parse(&app.url("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(&params);
        let response = browser().get(url).send().await.unwrap();
        assert_eq!(response.status(), 302, "{why}");
        let params = callback_params(&location(&response));
        assert_eq!(params["error"], "invalid_request", "{why}");
        assert_eq!(params["iss"], app.issuer);
    }
}

#[tokio::test]
async fn codes_expire_after_their_lifetime_on_a_fake_clock() {
    let clock = FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| c.code_ttl = 30)
        .spawn()
        .await;
    app.with_user("alice", PASSWORD, false).await;
    let (_, secret) = app.with_client("rp", &[REDIRECT]).await;
    let http = browser();
    let rp = rp_authorize_url(&app, "rp", secret.expose(), &["openid"]).await;
    let response = get(&app, &http, rp.url.as_str()).await;
    let back = sign_in(&app, &http, &location(&response), "alice").await;
    let consent = get(&app, &http, &back).await.text().await.unwrap();
    let approved = decide(&app, &http, &consent, "approve").await;
    let code = callback_params(&location(&approved))["code"].clone();
    clock.advance(Duration::seconds(30));
    assert_eq!(
        app.state
            .store
            .consume_code(&TokenHash::of(&code), clock.now())
            .await
            .unwrap(),
        Consumption::Expired,
        "configured 30 s lifetime"
    );
}
