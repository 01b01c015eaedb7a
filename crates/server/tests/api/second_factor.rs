//! Two-step sign-in with an authenticator app (TOTP), as users meet it: adding the app on
//! `/account/two-step` (the secret read off the page, codes computed here on the fake clock),
//! signing in with a code (valid, previous step, replayed, from another instance at the same
//! instant), a recovery code once, wrong codes throttled like passwords, step-up through
//! `acr_values=mfa` with the openidconnect crate as the relying party (`acr`, `amr` in the ID
//! token), `TESSERA_MFA=required` sending a user without a factor to add one, an admin
//! requiring or removing a user's factor, and `TESSERA_MFA=off`.

use chrono::Duration;
use tessera_core::{
    Clock, FakeClock,
    store::{AuditRepo, SecondFactorRepo, SessionRepo, UserRepo},
    totp::TotpSecret,
};
use tessera_testkit::{
    TestApp,
    html::{hidden_fields, unescape},
    openidconnect::{
        AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce,
        PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
        core::{CoreAuthenticationFlow, CoreClient},
    },
    reqwest::{self, Response},
};

use crate::code_flow::{
    PASSWORD, REDIRECT, browser, callback_params, decide, get, location, rp_discover, rp_http,
    sign_in_as,
};

fn now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    app.clock.as_ref().unwrap().now()
}

fn advance(app: &TestApp, seconds: i64) {
    app.clock
        .as_ref()
        .unwrap()
        .advance(Duration::seconds(seconds));
}

/// The text between `start` and the next `end` in `page`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = page.find(start)? + start.len();
    let to = page[from..].find(end)? + from;
    Some(&page[from..to])
}

async fn post(
    app: &TestApp,
    http: &reqwest::Client,
    path: &str,
    form: &[(String, String)],
) -> Response {
    http.post(app.url(path)).form(form).send().await.unwrap()
}

/// Posts the form of the page at `page_path` whose action is `action`, with `extra` fields.
async fn submit(
    app: &TestApp,
    http: &reqwest::Client,
    page: &str,
    action: &str,
    extra: &[(&str, &str)],
) -> Response {
    // The hidden fields of the form posting to `action` (each form has its own token copy).
    let start = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action} in {page}"));
    let form_html = &page[start..start + page[start..].find("</form>").unwrap()];
    let mut form = hidden_fields(&format!("<form {form_html}</form>"));
    for (name, value) in extra {
        form.push(((*name).to_owned(), (*value).to_owned()));
    }
    post(app, http, action, &form).await
}

/// Signs `http` in as `username` on a fresh `/login` and adds an authenticator app; the secret
/// and the recovery codes.
async fn enrol(app: &TestApp, http: &reqwest::Client, username: &str) -> (TotpSecret, Vec<String>) {
    let signed = sign_in_as(app, http, "/login?return_to=%2Faccount", username, PASSWORD).await;
    assert_eq!(signed.status(), 303);
    let page = get(app, http, "/account/two-step")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"start\""), "{page}");
    let started = submit(app, http, &page, "/account/two-step/start", &[]).await;
    assert_eq!(started.status(), 303);
    let page = get(app, http, &location(&started)).await;
    assert_eq!(
        page.headers()["cache-control"],
        "no-store",
        "the secret is never cached"
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("<svg"), "the QR code is drawn on the page");
    let secret = key_on(&page);
    // A wrong code first: refused, nothing confirmed.
    let wrong = submit(
        app,
        http,
        &page,
        "/account/two-step/confirm",
        &[("code", "000000")],
    )
    .await;
    assert_eq!(wrong.status(), 303);
    assert!(location(&wrong).contains("error=code"));
    let user = app.stored_user(username).await;
    let stored = app.state.store.find_totp(&user.id).await.unwrap().unwrap();
    assert!(stored.confirmed_at.is_none());
    let (_, codes_page) = confirm_with_app(app, http, &page).await;
    let codes: Vec<String> = codes_page
        .split("<li><code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{codes_page}");
    (secret, codes)
}

/// The key the set-up page shows.
fn key_on(page: &str) -> TotpSecret {
    TotpSecret::from_base32(between(page, "<code id=\"secret\">", "</code>").unwrap())
        .expect("the key on the page is base32")
}

/// Types the app's current code for the key on the set-up `page`; the key and the recovery
/// codes page that answers.
async fn confirm_with_app(
    app: &TestApp,
    http: &reqwest::Client,
    page: &str,
) -> (TotpSecret, String) {
    let key = key_on(page);
    let code = key.code_at(now(app));
    let path = "/account/two-step/confirm";
    let confirmed = submit(app, http, page, path, &[("code", &code)]).await;
    assert_eq!(confirmed.status(), 200);
    (key, confirmed.text().await.unwrap())
}

/// The password step on a fresh browser: the challenge's redirect.
async fn password_step(
    app: &TestApp,
    http: &reqwest::Client,
    username: &str,
    return_to: &str,
) -> String {
    let login = format!("/login?return_to={}", urlencode(return_to));
    let signed = sign_in_as(app, http, &login, username, PASSWORD).await;
    assert_eq!(signed.status(), 303);
    let next = location(&signed);
    assert!(next.starts_with("/login/second-factor?"), "{next}");
    next
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Answers the second step at `next` with `code`.
async fn second_step(app: &TestApp, http: &reqwest::Client, next: &str, code: &str) -> Response {
    let page = get(app, http, next).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    submit(app, http, &page, "/login/second-factor", &[("code", code)]).await
}

async fn signed_in(app: &TestApp, http: &reqwest::Client) -> bool {
    get(app, http, "/account").await.status() == 200
}

#[tokio::test]
async fn an_authenticator_app_is_added_then_asked_for_and_each_code_works_once() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let first = browser();
    let (secret, recovery) = enrol(&app, &first, "alice").await;
    // Confirming proved the app: this browser's session now counts as two-step.
    let account = get(&app, &first, "/account").await.text().await.unwrap();
    assert!(
        account.contains("On: signing in asks for a code"),
        "{account}"
    );
    let alice = app.stored_user("alice").await;
    let sessions = app
        .state
        .store
        .list_user_sessions(&alice.id, now(&app))
        .await
        .unwrap();
    assert!(
        sessions.iter().all(|s| s.amr.is_mfa()),
        "the enrolling session was replaced"
    );

    // A new device: the right password alone signs nobody in.
    let phone = browser();
    let next = password_step(&app, &phone, "alice", "/account").await;
    assert!(
        !signed_in(&app, &phone).await,
        "no session before the second factor"
    );
    let wrong = second_step(&app, &phone, &next, "123456").await;
    assert_eq!(wrong.status(), 200);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That code is not right")
    );
    // The code the enrolment used (same step) is spent.
    let replay = second_step(&app, &phone, &next, &secret.code_at(now(&app))).await;
    assert_eq!(replay.status(), 200, "a used step is refused");
    // Sixty seconds later the previous step's code is still good (±1 step) …
    advance(&app, 60);
    let step = tessera_core::totp::step_of(now(&app));
    let previous = format!("{:06}", secret.code_at_step(step - 1));
    let accepted = second_step(&app, &phone, &next, &previous).await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(location(&accepted), "/account");
    assert!(signed_in(&app, &phone).await);
    // … and, used once, it is refused on the next device; the current step's is not.
    let tablet = browser();
    let next = password_step(&app, &tablet, "alice", "/account").await;
    let replay = second_step(&app, &tablet, &next, &previous).await;
    assert_eq!(replay.status(), 200);
    let current = second_step(&app, &tablet, &next, &secret.code_at(now(&app))).await;
    assert_eq!(current.status(), 303);
    // The challenge was answered: a second answer with it goes back to the password.
    let again = second_step_raw(&app, &tablet, "123456").await;
    assert_eq!(again.status(), 303);
    assert!(
        location(&again).starts_with("/login?"),
        "{}",
        location(&again)
    );

    // A recovery code works once, typed in capitals with spaces.
    let laptop = browser();
    let next = password_step(&app, &laptop, "alice", "/account").await;
    let typed = recovery[3].to_uppercase().replace('-', " ");
    assert_eq!(
        second_step(&app, &laptop, &next, &typed).await.status(),
        303
    );
    assert_eq!(
        app.state
            .store
            .unused_recovery_codes(&alice.id)
            .await
            .unwrap(),
        9
    );
    let desktop = browser();
    let next = password_step(&app, &desktop, "alice", "/account").await;
    assert_eq!(
        second_step(&app, &desktop, &next, &recovery[3])
            .await
            .status(),
        200
    );

    // Audited: the wrong codes as failed sign-ins, the recovery code's use.
    let events = app
        .state
        .store
        .recent_events(None, None, 200)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"second_factor.added"), "{kinds:?}");
    assert!(kinds.contains(&"second_factor.recovery_used"), "{kinds:?}");
    let failed_codes = events
        .iter()
        .filter(|e| e.kind == "login.failed" && e.details["factor"] == "otp")
        .count();
    assert!(failed_codes >= 4, "{failed_codes}");
}

/// Posts the second step's form without loading the page first (the cookie may be gone).
async fn second_step_raw(app: &TestApp, http: &reqwest::Client, code: &str) -> Response {
    let page = get(app, http, "/login").await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.retain(|(name, _)| name == "csrf_token");
    form.push(("return_to".into(), "/account".into()));
    form.push(("code".into(), code.into()));
    post(app, http, "/login/second-factor", &form).await
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords_and_the_wait_ends() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("bob", PASSWORD, false).await;
    let (secret, _) = enrol(&app, &browser(), "bob").await;
    advance(&app, 30);
    let http = browser();
    let next = password_step(&app, &http, "bob", "/account").await;
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..8 {
        let answer = second_step(&app, &http, &next, "000000").await;
        statuses.push(answer.status().as_u16());
        if answer.status() == 429 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.unwrap_or_else(|| panic!("never throttled: {statuses:?}"));
    assert!(
        statuses[..5].iter().all(|s| *s == 200),
        "five free attempts: {statuses:?}"
    );
    let wait: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    // Even the right code waits its turn; after the wait it signs in.
    let right = second_step(&app, &http, &next, &secret.code_at(now(&app))).await;
    assert_eq!(right.status(), 429);
    advance(&app, wait + 1);
    // The challenge lives five minutes; the step moved on: a fresh code.
    let right = second_step(&app, &http, &next, &secret.code_at(now(&app))).await;
    assert_eq!(right.status(), 303);
    // Password guesses were not counted against the code attempts or the other way round.
    let other = browser();
    let signed = sign_in_as(&app, &other, "/login", "bob", PASSWORD).await;
    assert_eq!(signed.status(), 303);
}

#[tokio::test]
async fn a_challenge_lapses_after_five_minutes() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("carol", PASSWORD, false).await;
    let (secret, _) = enrol(&app, &browser(), "carol").await;
    let http = browser();
    let next = password_step(&app, &http, "carol", "/account").await;
    advance(&app, 301);
    let late = second_step_raw(&app, &http, &secret.code_at(now(&app))).await;
    assert_eq!(late.status(), 303);
    assert!(location(&late).starts_with("/login?"));
    assert!(
        get(&app, &http, &next).await.status() == 303,
        "the page sends back to sign-in"
    );
    assert!(!signed_in(&app, &http).await);
}

/// An RP (openidconnect crate) asking for `acr_values`; the browser signs in as needed
/// (`on_login` answers the sign-in page and says where the browser goes next); the ID token's
/// `acr` and `amr`.
pub(crate) async fn rp_sign_in(
    app: &TestApp,
    http: &reqwest::Client,
    client: &(String, String),
    acr: Option<&str>,
    mut on_login: impl AsyncFnMut(&str) -> String,
) -> (String, Vec<String>) {
    let metadata = rp_discover(app).await;
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.0.clone()),
        Some(ClientSecret::new(client.1.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .add_scope(Scope::new("profile".into()));
    if let Some(acr) = acr {
        request = request.add_auth_context_value(AuthenticationContextClass::new(acr.into()));
    }
    let (url, _state, nonce) = request.url();
    let mut response = get(app, http, url.as_str()).await;
    if response.status() == 302 && location(&response).starts_with("/login") {
        let back = on_login(&location(&response)).await;
        response = get(app, http, &back).await;
    }
    let params = if response.status() == 200 {
        let consent = response.text().await.unwrap();
        callback_params(&location(&decide(app, http, &consent, "approve").await))
    } else {
        callback_params(&location(&response))
    };
    let tokens = rp
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http())
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &nonce)
        .unwrap()
        .clone();
    let acr = claims
        .auth_context_ref()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let amr = claims
        .auth_method_refs()
        .map(|m| m.iter().map(|v| v.to_string()).collect())
        .unwrap_or_default();
    (acr, amr)
}

#[tokio::test]
async fn acr_values_mfa_steps_a_password_session_up_and_the_id_token_says_how() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("dana", PASSWORD, false).await;
    let (client, secret) = app.with_client("rp", &[REDIRECT]).await;
    let client = (client.client_id.to_string(), secret.expose().to_owned());
    let discovery: serde_json::Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["acr_values_supported"],
        serde_json::json!(["pwd", "mfa"])
    );

    // A session from before the app was added: password only.
    let old = browser();
    let signed = sign_in_as(&app, &old, "/login", "dana", PASSWORD).await;
    assert_eq!(signed.status(), 303);
    let (secret_key, _) = enrol(&app, &browser(), "dana").await;
    let (acr, amr) = rp_sign_in(&app, &old, &client, None, async |_| {
        panic!("no sign-in needed")
    })
    .await;
    assert_eq!((acr.as_str(), amr), ("pwd", vec!["pwd".to_owned()]));

    // prompt=none with acr_values=mfa: the session will not do and nobody may be asked.
    let url = {
        let mut url = tessera_testkit::reqwest::Url::parse(&app.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.0)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid")
            .append_pair("code_challenge", &"a".repeat(43))
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "none")
            .append_pair("acr_values", "mfa");
        url
    };
    let silent = get(&app, &old, url.as_str()).await;
    assert_eq!(
        callback_params(&location(&silent))["error"],
        "login_required"
    );

    // acr_values=mfa: sign in again, with the app this time.
    advance(&app, 30);
    let app_ref = &app;
    let old_ref = &old;
    let (acr, amr) = rp_sign_in(&app, &old, &client, Some("mfa"), async |login: &str| {
        let signed = sign_in_as(app_ref, old_ref, login, "dana", PASSWORD).await;
        let next = location(&signed);
        assert!(next.starts_with("/login/second-factor"), "{next}");
        let done = second_step(app_ref, old_ref, &next, &secret_key.code_at(now(app_ref))).await;
        assert_eq!(done.status(), 303);
        location(&done)
    })
    .await;
    assert_eq!(acr, "mfa");
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    // Now the session has it: asking again needs no sign-in.
    let (acr, _) = rp_sign_in(&app, &old, &client, Some("mfa"), async |_| {
        panic!("no sign-in needed")
    })
    .await;
    assert_eq!(acr, "mfa");
}

#[tokio::test]
async fn a_required_second_factor_is_added_at_sign_in_and_the_flow_goes_on() {
    let clock = FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| c.mfa = "required".into())
        .spawn()
        .await;
    app.with_user("erin", PASSWORD, false).await;
    let (client, secret) = app.with_client("rp", &[REDIRECT]).await;
    let client = (client.client_id.to_string(), secret.expose().to_owned());
    let http = browser();
    let app_ref = &app;
    let http_ref = &http;
    let (acr, amr) = rp_sign_in(&app, &http, &client, None, async |login: &str| {
        let signed = sign_in_as(app_ref, http_ref, login, "erin", PASSWORD).await;
        let enrol_at = location(&signed);
        assert!(
            enrol_at.starts_with("/account/two-step?required=1&return_to="),
            "{enrol_at}"
        );
        let page = get(app_ref, http_ref, &enrol_at)
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("id=\"required\""), "{page}");
        // The password-only session will not do for the authorization request meanwhile.
        let started = submit(app_ref, http_ref, &page, "/account/two-step/start", &[]).await;
        let page = get(app_ref, http_ref, &location(&started))
            .await
            .text()
            .await
            .unwrap();
        let (_, codes) = confirm_with_app(app_ref, http_ref, &page).await;
        // The link whose id is `continue` (the page's header links home first).
        let end = codes.find("\" id=\"continue\"").unwrap();
        let start = codes[..end].rfind("href=\"").unwrap() + "href=\"".len();
        let back = unescape(&codes[start..end]);
        assert!(back.starts_with("/authorize/resume?request="), "{back}");
        back
    })
    .await;
    assert_eq!((acr.as_str(), amr.len()), ("mfa", 3));
}

#[tokio::test]
async fn an_admin_requires_or_removes_a_users_second_factor() {
    let clock = FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let frank = app.with_user("frank", PASSWORD, false).await;
    // Required for frank alone: his next sign-in adds an app.
    app.state
        .store
        .set_user_mfa_required(&frank.id, true, now(&app))
        .await
        .unwrap();
    let http = browser();
    let signed = sign_in_as(&app, &http, "/login", "frank", PASSWORD).await;
    assert!(location(&signed).starts_with("/account/two-step?required=1"));
    let (_, _) = enrol(&app, &browser(), "frank").await;
    assert_eq!(
        app.state
            .store
            .users_with_totp(std::slice::from_ref(&frank.id))
            .await
            .unwrap(),
        std::slice::from_ref(&frank.id)
    );
    // Removed (a lost phone): the password alone signs in again where nothing requires more.
    app.state
        .store
        .set_user_mfa_required(&frank.id, false, now(&app))
        .await
        .unwrap();
    assert!(app.state.store.remove_totp(&frank.id).await.unwrap());
    let signed = sign_in_as(&app, &browser(), "/login", "frank", PASSWORD).await;
    assert_eq!(location(&signed), "/");
    assert_eq!(
        app.state
            .store
            .unused_recovery_codes(&frank.id)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn with_second_factors_off_nothing_is_offered_or_asked() {
    let clock = FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| c.mfa = "off".into())
        .spawn()
        .await;
    let gina = app.with_user("gina", PASSWORD, false).await;
    // An app stored while the policy was different does nothing now.
    let key = TotpSecret::generate();
    app.state
        .store
        .begin_totp(&gina.id, &key, now(&app))
        .await
        .unwrap();
    app.state
        .store
        .confirm_totp(&gina.id, 1, &[], now(&app))
        .await
        .unwrap();
    let http = browser();
    let signed = sign_in_as(&app, &http, "/login?return_to=%2Faccount", "gina", PASSWORD).await;
    assert_eq!(location(&signed), "/account");
    let page = get(&app, &http, "/account/two-step")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("not offered"), "{page}");
    let discovery: serde_json::Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["acr_values_supported"],
        serde_json::json!(["pwd"])
    );
}

#[tokio::test]
async fn one_code_signs_in_once_across_two_instances() {
    let clock = FakeClock::new();
    let first = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let second = TestApp::builder()
        .with_clock(clock.clone())
        .sharing_with(&first)
        .spawn()
        .await;
    first.with_user("hal", PASSWORD, false).await;
    let (key, _) = enrol(&first, &browser(), "hal").await;
    advance(&first, 30);
    let (a, b) = (browser(), browser());
    let next_a = password_step(&first, &a, "hal", "/account").await;
    let next_b = password_step(&second, &b, "hal", "/account").await;
    let page_a = get(&first, &a, &next_a).await.text().await.unwrap();
    let page_b = get(&second, &b, &next_b).await.text().await.unwrap();
    let code = key.code_at(now(&first));
    let field = [("code", code.as_str())];
    let (answer_a, answer_b) = tokio::join!(
        submit(&first, &a, &page_a, "/login/second-factor", &field),
        submit(&second, &b, &page_b, "/login/second-factor", &field),
    );
    let mut statuses = [answer_a.status().as_u16(), answer_b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 303],
        "exactly one instance accepts the code"
    );
    let user = first.stored_user("hal").await;
    let stored = first
        .state
        .store
        .find_totp(&user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.last_used_step,
        Some(tessera_core::totp::step_of(now(&first)))
    );
}
