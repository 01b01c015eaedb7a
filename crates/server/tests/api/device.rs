//! The device authorization grant (RFC 8628): a device asks `/device_authorization` for codes and
//! polls `/token`, while the user allows it on `/device` in a browser — the whole flow, its pace
//! (`slow_down`), its expiry, a denial, every refusal, user-code guessing, and two instances.

use chrono::Duration;
use tessera_core::{
    FakeClock,
    grant_type::GrantType,
    secret::PlainToken,
    store::{ClientAuthMethod, ClientRecord},
};
use tessera_testkit::{
    TestApp,
    flow::{PASSWORD, browser, get, location, sign_in},
    html::hidden_fields,
    tokens::{Answer, client_with, post_form, token},
};

pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public client registered for the device grant and refresh tokens.
pub(crate) async fn tv_client(app: &TestApp, id: &str) -> (ClientRecord, PlainToken) {
    client_with(app, id, |c| {
        c.client_name = Some("Living-room TV".into());
        c.token_endpoint_auth_method = ClientAuthMethod::None;
        c.secret_hash = None;
        c.grant_types = vec![GrantType::DeviceCode, GrantType::RefreshToken];
    })
    .await
}

/// `POST /device_authorization` as the public client `id`.
async fn ask(app: &TestApp, id: &str, scope: &str) -> Answer {
    post_form(
        app,
        "/device_authorization",
        None,
        &[("client_id", id), ("scope", scope)],
    )
    .await
}

/// One poll of `/token` with `device_code` as the public client `id`.
async fn poll(app: &TestApp, id: &str, device_code: &str) -> Answer {
    post_form(
        app,
        "/token",
        None,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", id),
        ],
    )
    .await
}

/// A browser signed in as `username` (from the device page's sign-in redirect).
pub(crate) async fn signed_in_browser(app: &TestApp, username: &str) -> reqwest::Client {
    let http = browser();
    let to_login = get(app, &http, "/device").await;
    assert_eq!(to_login.status(), 303);
    let back = sign_in(app, &http, &location(&to_login), username).await;
    assert_eq!(back, "/device");
    http
}

/// Posts the device page's form (its hidden fields) with `user_code` and, when given, a
/// decision; the response.
async fn submit(
    app: &TestApp,
    http: &reqwest::Client,
    page: &str,
    user_code: Option<&str>,
    decision: Option<&str>,
) -> reqwest::Response {
    let mut form = hidden_fields(page);
    if let Some(code) = user_code {
        form.retain(|(name, _)| name != "user_code");
        form.push(("user_code".into(), code.into()));
    }
    if let Some(decision) = decision {
        form.push(("decision".into(), decision.into()));
    }
    http.post(app.url("/device"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Enters `user_code` on `/device` and answers the confirmation page with `decision`; the
/// final response.
pub(crate) async fn allow_or_deny(
    app: &TestApp,
    http: &reqwest::Client,
    user_code: &str,
    decision: &str,
) -> reqwest::Response {
    let page = get(app, http, "/device").await.text().await.unwrap();
    let confirm = submit(app, http, &page, Some(user_code), None).await;
    assert_eq!(confirm.status(), 200);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("on your device?</h1>"), "{confirm}");
    submit(app, http, &confirm, None, Some(decision)).await
}

#[tokio::test]
async fn a_device_is_allowed_on_another_screen_and_its_code_is_redeemed_once() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    tv_client(&app, "tv").await;

    let asked = ask(&app, "tv", "openid profile offline_access").await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    assert_eq!(asked.headers["cache-control"], "no-store");
    let body = &asked.body;
    let device_code = body["device_code"].as_str().unwrap().to_owned();
    let user_code = body["user_code"].as_str().unwrap().to_owned();
    assert!(device_code.starts_with("tsd_"));
    assert_eq!(user_code.len(), 9);
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(body["verification_uri"], app.url("/device"));
    assert_eq!(
        body["verification_uri_complete"],
        format!("{}?user_code={user_code}", app.url("/device"))
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);

    poll(&app, "tv", &device_code).await.assert_error(
        400,
        "authorization_pending",
        "before the user decides",
    );

    // The user opens verification_uri_complete: sign-in first, then the code is in the field
    // and must still be confirmed.
    let alice = browser();
    let complete = format!("/device?user_code={user_code}");
    let to_login = get(&app, &alice, &complete).await;
    let back = sign_in(&app, &alice, &location(&to_login), "alice").await;
    assert_eq!(back, complete);
    let page = get(&app, &alice, &back).await.text().await.unwrap();
    assert!(page.contains(&format!("value=\"{user_code}\"")), "{page}");
    let confirm = submit(&app, &alice, &page, Some(&user_code.to_lowercase()), None).await;
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("Allow Living-room TV on your device?"));
    assert!(confirm.contains("See your name and profile"));
    let approved = submit(&app, &alice, &confirm, None, Some("approve")).await;
    assert_eq!(approved.status(), 303);
    assert_eq!(location(&approved), "/device?notice=approved");
    let done = get(&app, &alice, "/device?notice=approved").await;
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("your device is connected")
    );

    clock.advance(Duration::seconds(5));
    let tokens = poll(&app, "tv", &device_code).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["scope"], "openid profile offline_access");
    let id_token = tokens.body["id_token"].as_str().unwrap();
    let claims = tessera_testkit::tokens::payload(id_token);
    assert_eq!(claims["aud"], serde_json::json!(["tv"]));
    assert!(claims["auth_time"].is_i64(), "{claims}");
    assert_eq!(claims.get("nonce"), None);
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let access = tokens.body["access_token"].as_str().unwrap();
    let userinfo = tessera_testkit::tokens::userinfo(&app, access).await;
    assert_eq!(userinfo.status, 200, "{:?}", userinfo.body);
    assert_eq!(userinfo.body["preferred_username"], "alice");

    // The app is on the user's account page, like any app they allowed.
    let account = get(&app, &alice, "/account").await.text().await.unwrap();
    assert!(account.contains("Living-room TV"), "{account}");

    // The device code is used up: presented again, it revokes what it issued.
    clock.advance(Duration::seconds(5));
    poll(&app, "tv", &device_code).await.assert_error(
        400,
        "invalid_grant",
        "a redeemed device code",
    );
    let refreshed = post_form(
        &app,
        "/token",
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", "tv"),
        ],
    )
    .await;
    refreshed.assert_error(400, "invalid_grant", "the replayed code's grant is revoked");
}

#[tokio::test]
async fn polling_too_fast_slows_the_device_down_and_the_codes_expire() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    tv_client(&app, "tv").await;
    let asked = ask(&app, "tv", "openid").await;
    let device_code = asked.body["device_code"].as_str().unwrap().to_owned();
    let user_code = asked.body["user_code"].as_str().unwrap().to_owned();

    poll(&app, "tv", &device_code)
        .await
        .assert_error(400, "authorization_pending", "first poll");
    // At once again: slow_down, and the interval is now 10 s (RFC 8628 §3.5: +5 s for good).
    poll(&app, "tv", &device_code)
        .await
        .assert_error(400, "slow_down", "a poll at once");
    clock.advance(Duration::seconds(6));
    poll(&app, "tv", &device_code).await.assert_error(
        400,
        "slow_down",
        "6 s is too soon after a slow_down",
    );
    // Now 15 s.
    clock.advance(Duration::seconds(15));
    poll(&app, "tv", &device_code)
        .await
        .assert_error(400, "authorization_pending", "15 s later");
    clock.advance(Duration::seconds(14));
    poll(&app, "tv", &device_code).await.assert_error(
        400,
        "authorization_pending",
        "a second of leeway",
    );

    // Ten minutes after it was asked for: expired for the device and for the user.
    clock.advance(Duration::seconds(600));
    poll(&app, "tv", &device_code)
        .await
        .assert_error(400, "expired_token", "past expires_in");
    let alice = signed_in_browser(&app, "alice").await;
    let page = get(&app, &alice, "/device").await.text().await.unwrap();
    let late = submit(&app, &alice, &page, Some(&user_code), None).await;
    assert_eq!(late.status(), 400);
    let late = late.text().await.unwrap();
    assert!(
        late.contains("That code is not valid, or it expired"),
        "{late}"
    );
    assert!(
        late.contains(&format!("value=\"{user_code}\"")),
        "input kept"
    );
}

#[tokio::test]
async fn a_denied_device_is_told_so_and_the_code_can_not_be_allowed_afterwards() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    tv_client(&app, "tv").await;
    let asked = ask(&app, "tv", "openid").await;
    let device_code = asked.body["device_code"].as_str().unwrap().to_owned();
    let user_code = asked.body["user_code"].as_str().unwrap().to_owned();

    let alice = signed_in_browser(&app, "alice").await;
    let denied = allow_or_deny(&app, &alice, &user_code, "deny").await;
    assert_eq!(location(&denied), "/device?notice=denied");
    poll(&app, "tv", &device_code)
        .await
        .assert_error(400, "access_denied", "denied");

    let page = get(&app, &alice, "/device").await.text().await.unwrap();
    let again = submit(&app, &alice, &page, Some(&user_code), None).await;
    assert_eq!(again.status(), 400, "a decided code is not offered again");
    clock.advance(Duration::seconds(5));
    poll(&app, "tv", &device_code)
        .await
        .assert_error(400, "access_denied", "still denied");
}

#[tokio::test]
async fn device_requests_and_polls_are_refused_with_the_rfc_errors() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    tv_client(&app, "tv").await;
    tv_client(&app, "other-tv").await;
    let web = client_with(&app, "web", |_| {}).await;
    let service = client_with(&app, "service", |c| {
        c.grant_types = vec![GrantType::DeviceCode];
    })
    .await;

    // Asking.
    let basic = |c: &(ClientRecord, PlainToken)| {
        (c.0.client_id.as_str().to_owned(), c.1.expose().to_owned())
    };
    let (id, secret) = basic(&web);
    post_form(
        &app,
        "/device_authorization",
        Some((&id, &secret)),
        &[("scope", "openid")],
    )
    .await
    .assert_error(400, "unauthorized_client", "not registered for the grant");
    ask(&app, "tv", "openid admin").await.assert_error(
        400,
        "invalid_scope",
        "a scope not the client's",
    );
    ask(&app, "tv", "")
        .await
        .assert_error(400, "invalid_scope", "no scope");
    post_form(&app, "/device_authorization", None, &[("scope", "openid")])
        .await
        .assert_error(401, "invalid_client", "no client");
    let (id, _) = basic(&service);
    post_form(
        &app,
        "/device_authorization",
        Some((&id, "wrong")),
        &[("scope", "openid")],
    )
    .await
    .assert_error(401, "invalid_client", "a wrong secret");
    let get = app
        .http
        .get(app.url("/device_authorization"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);

    // A confidential client asks with its secret and polls with it.
    let (id, secret) = basic(&service);
    let asked = post_form(
        &app,
        "/device_authorization",
        Some((&id, &secret)),
        &[("scope", "openid")],
    )
    .await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    let service_code = asked.body["device_code"].as_str().unwrap().to_owned();
    token(
        &app,
        &service,
        &[("grant_type", DEVICE_GRANT), ("device_code", &service_code)],
    )
    .await
    .assert_error(400, "authorization_pending", "a confidential client polls");

    // Polling.
    let asked = ask(&app, "tv", "openid").await;
    let device_code = asked.body["device_code"].as_str().unwrap().to_owned();
    poll(&app, "tv", "tsd_not-a-device-code")
        .await
        .assert_error(400, "invalid_grant", "an unknown device code");
    post_form(
        &app,
        "/token",
        None,
        &[("grant_type", DEVICE_GRANT), ("client_id", "tv")],
    )
    .await
    .assert_error(400, "invalid_request", "no device_code");
    poll(&app, "other-tv", &device_code).await.assert_error(
        400,
        "invalid_grant",
        "another client's device code",
    );
    token(
        &app,
        &web,
        &[("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
    )
    .await
    .assert_error(400, "unauthorized_client", "a client without the grant");
    // Its first poll, at once: the other clients' polls did not count against its pace.
    poll(&app, "tv", &device_code).await.assert_error(
        400,
        "authorization_pending",
        "the owner still polls, not slowed down by others",
    );
}

#[tokio::test]
async fn guessing_user_codes_is_slowed_per_account_and_bounded_per_address() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("mallory", PASSWORD, false).await;
    tv_client(&app, "tv").await;
    let asked = ask(&app, "tv", "openid").await;
    let user_code = asked.body["user_code"].as_str().unwrap().to_owned();
    let wrong = if user_code == "BBBB-BBBB" {
        "CCCC-CCCC"
    } else {
        "BBBB-BBBB"
    };

    let mallory = signed_in_browser(&app, "mallory").await;
    let page = get(&app, &mallory, "/device").await.text().await.unwrap();
    // A malformed entry is not a guess: refused, not counted.
    for _ in 0..10 {
        let malformed = submit(&app, &mallory, &page, Some("AEIO-U123"), None).await;
        assert_eq!(malformed.status(), 400);
    }
    // Six wrong codes are answered; the seventh waits, and so does the right code then.
    for n in 1..=6 {
        let answer = submit(&app, &mallory, &page, Some(wrong), None).await;
        assert_eq!(answer.status(), 400, "guess {n}");
    }
    let waits = submit(&app, &mallory, &page, Some(wrong), None).await;
    assert_eq!(waits.status(), 429);
    assert_eq!(waits.headers()["retry-after"], "3");
    let right = submit(&app, &mallory, &page, Some(&user_code), None).await;
    assert_eq!(right.status(), 429, "counted before the lookup");
    clock.advance(Duration::seconds(3));
    let right = submit(&app, &mallory, &page, Some(&user_code), None).await;
    assert_eq!(right.status(), 200, "after the wait");

    // One address enters at most 100 codes in 10 minutes, whatever the accounts.
    // Every entry counts for the address, refused ones too: mallory's nine so far.
    let mut entered = 9;
    let mut account = 0;
    while entered < 100 {
        account += 1;
        let name = format!("user{account}");
        app.with_user(&name, PASSWORD, false).await;
        let http = signed_in_browser(&app, &name).await;
        let page = get(&app, &http, "/device").await.text().await.unwrap();
        for _ in 0..6 {
            if entered == 100 {
                break;
            }
            let answer = submit(&app, &http, &page, Some(wrong), None).await;
            assert_eq!(answer.status(), 400, "entry {}", entered + 1);
            entered += 1;
        }
    }
    let fresh = "fresh";
    app.with_user(fresh, PASSWORD, false).await;
    let http = signed_in_browser(&app, fresh).await;
    let page = get(&app, &http, "/device").await.text().await.unwrap();
    let refused = submit(&app, &http, &page, Some(&user_code), None).await;
    assert_eq!(refused.status(), 429, "the 101st entry from this address");
    clock.advance(Duration::minutes(10));
    let later = submit(&app, &http, &page, Some(&user_code), None).await;
    assert_eq!(
        later.status(),
        400,
        "a new window; the code expired meanwhile"
    );
}

#[tokio::test]
async fn two_instances_share_one_device_authorization_and_redeem_it_once() {
    let clock = FakeClock::new();
    let first = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let second = TestApp::builder()
        .with_clock(clock.clone())
        .sharing_with(&first)
        .spawn()
        .await;
    first.with_user("alice", PASSWORD, false).await;
    tv_client(&first, "tv").await;

    // Asked at one instance, allowed on the other's page.
    let asked = ask(&first, "tv", "openid offline_access").await;
    let device_code = asked.body["device_code"].as_str().unwrap().to_owned();
    let user_code = asked.body["user_code"].as_str().unwrap().to_owned();
    let alice = signed_in_browser(&second, "alice").await;
    let approved = allow_or_deny(&second, &alice, &user_code, "approve").await;
    assert_eq!(location(&approved), "/device?notice=approved");

    // Both instances polled at the same moment: one gets the tokens, the other is told to slow
    // down (not taken for a replay, which would revoke the tokens).
    let (a, b) = tokio::join!(
        poll(&first, "tv", &device_code),
        poll(&second, "tv", &device_code)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{:?} / {:?}", a.body, b.body);
    let (issuer, won, lost) = if a.status == 200 {
        (&first, a, b)
    } else {
        (&second, b, a)
    };
    assert_eq!(lost.error(), "slow_down");
    // (Each test instance has an issuer of its own, its own port: the tokens are the winner's.)
    let access = won.body["access_token"].as_str().unwrap().to_owned();
    let userinfo = tessera_testkit::tokens::userinfo(issuer, &access).await;
    assert_eq!(
        userinfo.status, 200,
        "the tokens are live: {:?}",
        userinfo.body
    );
    // The same poll once more at once (a retry after a lost answer, or a twin that reached an
    // instance after the redemption committed): slow down, and the tokens stay live.
    poll(&first, "tv", &device_code).await.assert_error(
        400,
        "slow_down",
        "a twin of the redeeming poll",
    );
    let still = tessera_testkit::tokens::userinfo(issuer, &access).await;
    assert_eq!(
        still.status, 200,
        "not taken for a replay: {:?}",
        still.body
    );

    // Later, at the other instance: the device code is used up.
    clock.advance(Duration::seconds(20));
    poll(&second, "tv", &device_code).await.assert_error(
        400,
        "invalid_grant",
        "redeemed at the other instance",
    );
}

/// The provider metadata with the device endpoint, as an RP library reads it.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
struct DeviceEndpoint {
    device_authorization_endpoint: tessera_testkit::openidconnect::DeviceAuthorizationUrl,
}
impl tessera_testkit::openidconnect::AdditionalProviderMetadata for DeviceEndpoint {}
type DeviceProviderMetadata = tessera_testkit::openidconnect::ProviderMetadata<
    DeviceEndpoint,
    tessera_testkit::openidconnect::core::CoreAuthDisplay,
    tessera_testkit::openidconnect::core::CoreClientAuthMethod,
    tessera_testkit::openidconnect::core::CoreClaimName,
    tessera_testkit::openidconnect::core::CoreClaimType,
    tessera_testkit::openidconnect::core::CoreGrantType,
    tessera_testkit::openidconnect::core::CoreJweContentEncryptionAlgorithm,
    tessera_testkit::openidconnect::core::CoreJweKeyManagementAlgorithm,
    tessera_testkit::openidconnect::core::CoreJsonWebKey,
    tessera_testkit::openidconnect::core::CoreResponseMode,
    tessera_testkit::openidconnect::core::CoreResponseType,
    tessera_testkit::openidconnect::core::CoreSubjectIdentifierType,
>;

#[tokio::test]
async fn the_openidconnect_crate_polls_while_the_user_allows_the_device() {
    use tessera_testkit::openidconnect::{
        IssuerUrl, Nonce, OAuth2TokenResponse, Scope,
        core::{CoreClient, CoreDeviceAuthorizationResponse},
    };
    // The clock starts now (the RP checks the ID token's times against its own clock) and moves
    // by the intervals the RP sleeps.
    let clock = FakeClock::at(tessera_core::Clock::now(&tessera_core::SystemClock));
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    tv_client(&app, "tv").await;

    let http = tessera_testkit::flow::rp_http();
    let metadata =
        DeviceProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let endpoint = metadata
        .additional_metadata()
        .device_authorization_endpoint
        .clone();
    let client = CoreClient::from_provider_metadata(
        metadata,
        tessera_testkit::openidconnect::ClientId::new("tv".into()),
        None,
    )
    .set_device_authorization_url(endpoint)
    .set_auth_type(tessera_testkit::openidconnect::AuthType::RequestBody);
    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .request_async(&http)
        .await
        .unwrap();
    let user_code = details.user_code().secret().clone();

    // The RP polls; the first time it sleeps, the user allows the device in a browser.
    let allowed = std::sync::atomic::AtomicBool::new(false);
    let (app_ref, allowed_ref, clock_ref, code_ref) = (&app, &allowed, &clock, &user_code);
    let sleep = move |interval: std::time::Duration| async move {
        if !allowed_ref.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let alice = signed_in_browser(app_ref, "alice").await;
            let done = allow_or_deny(app_ref, &alice, code_ref, "approve").await;
            assert_eq!(done.status(), 303);
        }
        clock_ref.advance(Duration::from_std(interval).unwrap());
    };
    let tokens = client
        .exchange_device_access_token(&details)
        .unwrap()
        .request_async(&http, sleep, None)
        .await
        .unwrap();
    assert!(
        allowed.load(std::sync::atomic::Ordering::SeqCst),
        "it polled before the decision"
    );
    assert_eq!(tokens.scopes().unwrap()[0].as_str(), "openid");
    let id_token = tessera_testkit::openidconnect::TokenResponse::id_token(&tokens).unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(
        claims.preferred_username().unwrap().as_str(),
        "alice",
        "the user who allowed it"
    );
}
