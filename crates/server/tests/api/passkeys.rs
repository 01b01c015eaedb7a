//! Passkeys as users and attackers meet them over HTTP, with a software authenticator
//! (`tessera_testkit::passkey`) answering where a browser's `navigator.credentials` would:
//! adding one on `/account/passkeys`, signing in with it and no username, each challenge
//! answered once (also when two instances get the same answer at once), answers from another
//! origin, for an unknown passkey or of junk refused, a passkey as the second step after the
//! password with `acr`/`amr` read by the openidconnect crate, another user's passkey refused
//! there, a passkey satisfying `TESSERA_MFA=required`, renaming and removing (password needed),
//! the admin's removal, a server named by IP address offering none, and the sign-in ceremonies
//! anyone can start bounded per address. Chromium with its virtual authenticator is in
//! `journeys.rs`.

use serde_json::{Value, json};
use tessera_core::store::{AuditRepo, PasskeyRepo};
use tessera_testkit::{
    TestApp,
    html::form_fields,
    passkey::SoftAuthenticator,
    reqwest::{self, Response},
};

use crate::{
    code_flow::{PASSWORD, REDIRECT, browser, get, location, sign_in_as},
    second_factor::rp_sign_in,
};

async fn localhost_app() -> TestApp {
    TestApp::builder().on_localhost().spawn().await
}

async fn post_json(app: &TestApp, http: &reqwest::Client, path: &str, body: &Value) -> Response {
    http.post(app.url(path)).json(body).send().await.unwrap()
}

/// The CSRF token of the page's passkey form.
async fn passkey_csrf(app: &TestApp, http: &reqwest::Client, page: &str, action: &str) -> String {
    let html = get(app, http, page).await.text().await.unwrap();
    assert!(html.contains("id=\"passkey\""), "{html}");
    form_fields(&html, action)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .map(|(_, v)| v)
        .unwrap()
}

/// A signed-in browser adds a passkey named `name`; the redirect it is sent to.
async fn add_passkey(
    app: &TestApp,
    http: &reqwest::Client,
    authenticator: &mut SoftAuthenticator,
    name: &str,
) -> Response {
    let page = get(app, http, "/account/passkeys")
        .await
        .text()
        .await
        .unwrap();
    let action = "/account/passkeys";
    run_ceremony(app, http, &page, action, Some(name), |o| {
        authenticator.create(o)
    })
    .await
}

/// Signs `username` in with the password and adds a passkey; the authenticator.
async fn user_with_passkey(app: &TestApp, username: &str) -> SoftAuthenticator {
    app.with_user(username, PASSWORD, false).await;
    let http = browser();
    let signed = sign_in_as(app, &http, "/login", username, PASSWORD).await;
    assert_eq!(signed.status(), 303);
    let mut authenticator = SoftAuthenticator::new(&app.issuer);
    let added = add_passkey(app, &http, &mut authenticator, "Laptop").await;
    assert_eq!(added.status(), 200, "{:?}", added.text().await);
    authenticator
}

/// Starts a passkey sign-in on `/login` (the options) for `http`; the CSRF token and options.
async fn start_sign_in(app: &TestApp, http: &reqwest::Client) -> (String, Value) {
    let csrf = passkey_csrf(app, http, "/login", "/login/passkey").await;
    let started = post_json(
        app,
        http,
        "/login/passkey/options",
        &json!({ "csrf_token": csrf }),
    )
    .await;
    assert_eq!(started.status(), 200);
    let options: Value = started.json().await.unwrap();
    (csrf, options["options"].clone())
}

async fn finish_sign_in(
    app: &TestApp,
    http: &reqwest::Client,
    csrf: &str,
    credential: &Value,
) -> Response {
    let body = json!({ "csrf_token": csrf, "return_to": "/account", "credential": credential });
    post_json(app, http, "/login/passkey", &body).await
}

async fn signed_in(app: &TestApp, http: &reqwest::Client) -> bool {
    get(app, http, "/account").await.status() == 200
}

#[tokio::test]
async fn a_passkey_is_added_then_signs_in_without_a_password_each_challenge_once() {
    let app = localhost_app().await;
    app.with_user("alice", PASSWORD, false).await;
    let http = browser();
    assert_eq!(
        sign_in_as(&app, &http, "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
    let page = get(&app, &http, "/account/passkeys").await;
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline'; script"),
        "{policy}"
    );
    assert!(page.text().await.unwrap().contains("id=\"none\""));
    let script = get(&app, &http, "/passkey.js").await;
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    let mut laptop = SoftAuthenticator::new(&app.issuer);
    let added = add_passkey(&app, &http, &mut laptop, "Work laptop").await;
    assert_eq!(added.status(), 200);
    let answer: Value = added.json().await.unwrap();
    assert_eq!(answer["redirect"], "/account/passkeys?notice=added");
    let alice = app.stored_user("alice").await;
    let stored = app.state.store.passkeys(&alice.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].credential_id, laptop.id());
    assert_eq!(stored[0].name, "Work laptop");
    let listed = get(&app, &http, "/account/passkeys?notice=added")
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains("value=\"Work laptop\""), "{listed}");
    assert!(listed.contains("this device only"));
    let account = get(&app, &http, "/account").await.text().await.unwrap();
    assert!(account.contains("1 passkey."), "{account}");
    assert!(
        account.contains("On: signing in with your password asks for one of your passkeys."),
        "{account}"
    );
    assert!(
        account.contains("A passkey was added to your account."),
        "shown under the security events: {account}"
    );

    // A fresh browser, no username: the passkey alone signs alice in.
    let other = browser();
    let (csrf, options) = start_sign_in(&app, &other).await;
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required");
    assert!(
        options
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty))
    );
    let credential = laptop.get(&options);
    let done = finish_sign_in(&app, &other, &csrf, &credential).await;
    assert_eq!(done.status(), 200);
    let answer: Value = done.json().await.unwrap();
    assert_eq!(answer["redirect"], "/account");
    assert!(signed_in(&app, &other).await);
    let events = app.state.store.recent_events(None, None, 50).await.unwrap();
    let success = events
        .iter()
        .find(|e| e.kind == "login.succeeded" && e.user_id.as_deref() == Some(alice.id.as_str()))
        .expect("the sign-in is audited");
    assert_eq!(
        success.details["amr"],
        json!(["hwk", "user", "mfa"]),
        "{:?}",
        success.details
    );
    let used = app.state.store.passkeys(&alice.id).await.unwrap();
    assert!(used[0].last_used_at.is_some());

    // The same answer again: its ceremony was taken (and the cookie is gone).
    let third = browser();
    let (csrf, _) = start_sign_in(&app, &third).await;
    let replay = finish_sign_in(&app, &third, &csrf, &credential).await;
    assert_eq!(replay.status(), 401, "an answer to another challenge");
    assert!(!signed_in(&app, &third).await);
    let replay = finish_sign_in(&app, &other, &csrf, &credential).await;
    assert!(matches!(replay.status().as_u16(), 401 | 403));
}

#[tokio::test]
async fn answers_from_another_origin_unknown_passkeys_junk_and_forged_forms_are_refused() {
    let app = localhost_app().await;
    let mut laptop = user_with_passkey(&app, "alice").await;
    let http = browser();

    // A look-alike site relaying the challenge: the origin in the signed client data is its own.
    let (csrf, options) = start_sign_in(&app, &http).await;
    laptop.set_origin("http://localhost.evil.example:8080");
    let phished = finish_sign_in(&app, &http, &csrf, &laptop.get(&options)).await;
    assert_eq!(phished.status(), 401);
    let body: Value = phished.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
    laptop.set_origin(&app.issuer);

    // The right origin but the wrong RP ID hash.
    let (csrf, options) = start_sign_in(&app, &http).await;
    let challenge = options["challenge"].as_str().unwrap();
    let wrong_rp = laptop.get_for("evil.example", challenge);
    assert_eq!(
        finish_sign_in(&app, &http, &csrf, &wrong_rp).await.status(),
        401
    );

    // A passkey this server never saw.
    let (csrf, options) = start_sign_in(&app, &http).await;
    let mut stranger = SoftAuthenticator::new(&app.issuer);
    stranger.create(&json!({"rp": {"id": "localhost"}, "challenge": "AAAA", "user": {"id": "AAAAAAAAAAAAAAAAAAAAAA"}}));
    let unknown = finish_sign_in(&app, &http, &csrf, &stranger.get(&options)).await;
    assert_eq!(unknown.status(), 401);

    // Junk where the credential goes, a body that is not JSON, no CSRF token.
    let (csrf, _) = start_sign_in(&app, &http).await;
    let junk = finish_sign_in(&app, &http, &csrf, &json!({"id": 5, "response": "x"})).await;
    assert_eq!(junk.status(), 400);
    let not_json = http
        .post(app.url("/login/passkey"))
        .header("content-type", "application/json")
        .body("{{{{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let (_, options) = start_sign_in(&app, &http).await;
    let forged = finish_sign_in(&app, &http, "made-up", &laptop.get(&options)).await;
    assert_eq!(forged.status(), 403);
    let huge = http
        .post(app.url("/login/passkey/options"))
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert!(
        matches!(huge.status().as_u16(), 400 | 413),
        "{}",
        huge.status()
    );
    assert!(
        !signed_in(&app, &http).await,
        "nothing above signed anyone in"
    );

    // After all that, the real passkey still works.
    let (csrf, options) = start_sign_in(&app, &http).await;
    let good = finish_sign_in(&app, &http, &csrf, &laptop.get(&options)).await;
    assert_eq!(good.status(), 200);
    assert!(signed_in(&app, &http).await);
}

/// What a page's passkey script does: reads the hidden fields of the form posting to `action`,
/// fetches the options from `{action}/options`, lets `answer` play the authenticator, and posts
/// the answer (with `name`, for a registration) to `action`.
async fn run_ceremony(
    app: &TestApp,
    http: &reqwest::Client,
    page: &str,
    action: &str,
    name: Option<&str>,
    answer: impl FnOnce(&Value) -> Value,
) -> Response {
    let fields = form_fields(page, action);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let csrf = field("csrf_token");
    let options_path = format!("{action}/options");
    let started = post_json(app, http, &options_path, &json!({ "csrf_token": csrf })).await;
    assert_eq!(started.status(), 200);
    let options: Value = started.json().await.unwrap();
    let body = json!({
        "csrf_token": csrf,
        "return_to": field("return_to"),
        "name": name,
        "credential": answer(&options["options"]),
    });
    post_json(app, http, action, &body).await
}

/// The second step with a passkey: the page, the options, the answer; where it sends the
/// browser.
async fn passkey_second_step(
    app: &TestApp,
    http: &reqwest::Client,
    next: &str,
    authenticator: &mut SoftAuthenticator,
) -> Response {
    let page = get(app, http, next).await.text().await.unwrap();
    assert!(page.contains("id=\"use-passkey\""), "{page}");
    assert!(
        !page.contains("id=\"verify\""),
        "no code form for a user without an app"
    );
    let action = "/login/second-factor/passkey";
    run_ceremony(app, http, &page, action, None, |o| authenticator.get(o)).await
}

#[tokio::test]
async fn a_passkey_is_the_second_step_after_the_password_and_only_the_users_own() {
    let app = localhost_app().await;
    let mut alices = user_with_passkey(&app, "alice").await;
    let mut bobs = user_with_passkey(&app, "bob").await;
    let (client, secret) = app.with_client("rp", &[REDIRECT]).await;
    let client = (client.client_id.to_string(), secret.expose().to_owned());

    // Bob's passkey as alice's second step: refused, alice not signed in, the step still open.
    let http = browser();
    let signed = sign_in_as(&app, &http, "/login", "alice", PASSWORD).await;
    let next = location(&signed);
    assert!(next.starts_with("/login/second-factor"), "{next}");
    let wrong = passkey_second_step(&app, &http, &next, &mut bobs).await;
    assert_eq!(wrong.status(), 401);
    assert!(!signed_in(&app, &http).await);

    // Through a relying party: password, then alice's passkey; the ID token says so.
    let (app_ref, http_ref) = (&app, &http);
    let alices_ref = &mut alices;
    let (acr, amr) = rp_sign_in(&app, &http, &client, None, async |login: &str| {
        let signed = sign_in_as(app_ref, http_ref, login, "alice", PASSWORD).await;
        let next = location(&signed);
        assert!(next.starts_with("/login/second-factor"), "{next}");
        let done = passkey_second_step(app_ref, http_ref, &next, alices_ref).await;
        assert_eq!(done.status(), 200);
        let answer: Value = done.json().await.unwrap();
        let target = answer["redirect"].as_str().unwrap().to_owned();
        assert!(target.starts_with("/authorize/resume"), "{target}");
        target
    })
    .await;
    assert_eq!(acr, "mfa");
    assert_eq!(amr, ["pwd", "hwk", "user", "mfa"]);

    // And with no password at all through the same relying party.
    let fresh = browser();
    let fresh_ref = &fresh;
    let (acr, amr) = rp_sign_in(&app, &fresh, &client, None, async |login: &str| {
        let html = get(app_ref, fresh_ref, login).await.text().await.unwrap();
        let action = "/login/passkey";
        let done = run_ceremony(app_ref, fresh_ref, &html, action, None, |o| bobs.get(o)).await;
        assert_eq!(done.status(), 200);
        let answer: Value = done.json().await.unwrap();
        answer["redirect"].as_str().unwrap().to_owned()
    })
    .await;
    assert_eq!(
        (acr.as_str(), amr),
        ("mfa", vec!["hwk".to_owned(), "user".into(), "mfa".into()])
    );
}

#[tokio::test]
async fn a_passkey_satisfies_a_required_second_factor_at_once() {
    let app = TestApp::builder()
        .on_localhost()
        .with_config(|raw| raw.mfa = "required".into())
        .spawn()
        .await;
    app.with_user("carol", PASSWORD, false).await;
    let (client, secret) = app.with_client("rp", &[REDIRECT]).await;
    let client = (client.client_id.to_string(), secret.expose().to_owned());
    let http = browser();
    let mut key = SoftAuthenticator::new(&app.issuer);
    key.synced = true;
    let (app_ref, http_ref) = (&app, &http);
    let key_ref = &mut key;
    let (acr, amr) = rp_sign_in(&app, &http, &client, None, async |login: &str| {
        // The password signs carol in and sends her to add a factor before going on.
        let signed = sign_in_as(app_ref, http_ref, login, "carol", PASSWORD).await;
        let enrol = location(&signed);
        assert!(enrol.starts_with("/account/two-step?required=1"), "{enrol}");
        let page = get(app_ref, http_ref, &enrol).await.text().await.unwrap();
        assert!(
            page.contains("href=\"/account/passkeys?return_to="),
            "{page}"
        );
        let return_to = enrol.split("return_to=").nth(1).unwrap();
        let passkeys = format!("/account/passkeys?return_to={return_to}");
        let html = get(app_ref, http_ref, &passkeys)
            .await
            .text()
            .await
            .unwrap();
        let create = |o: &Value| key_ref.create(o);
        let action = "/account/passkeys";
        let added = run_ceremony(app_ref, http_ref, &html, action, Some("Phone"), create).await;
        assert_eq!(added.status(), 200);
        let answer: Value = added.json().await.unwrap();
        answer["redirect"].as_str().unwrap().to_owned()
    })
    .await;
    assert_eq!(
        acr, "mfa",
        "adding the passkey counted as the second factor"
    );
    assert_eq!(
        amr,
        ["pwd", "swk", "user", "mfa"],
        "a synced passkey is swk"
    );
}

#[tokio::test]
async fn passkeys_are_renamed_removed_with_the_password_and_removed_by_an_admin() {
    let app = localhost_app().await;
    app.with_user("alice", PASSWORD, false).await;
    let http = browser();
    sign_in_as(&app, &http, "/login", "alice", PASSWORD).await;
    let mut one = SoftAuthenticator::new(&app.issuer);
    let mut two = SoftAuthenticator::new(&app.issuer);
    assert_eq!(
        add_passkey(&app, &http, &mut one, "One").await.status(),
        200
    );
    // The second registration excludes the first credential.
    let csrf = passkey_csrf(&app, &http, "/account/passkeys", "/account/passkeys").await;
    let options: Value = post_json(
        &app,
        &http,
        "/account/passkeys/options",
        &json!({ "csrf_token": csrf }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(options["options"]["excludeCredentials"][0]["id"], one.id());
    assert_eq!(add_passkey(&app, &http, &mut two, "").await.status(), 200);
    // The same authenticator registered twice is one passkey, not two.
    let again = add_passkey(&app, &http, &mut one, "Again").await;
    assert_eq!(again.status(), 409);

    let page = get(&app, &http, "/account/passkeys")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("value=\"Passkey added "),
        "a default name: {page}"
    );
    let mut rename = form_fields(&page, "/account/passkeys/rename");
    rename.push(("name".into(), "Desk key".into()));
    let renamed = http
        .post(app.url("/account/passkeys/rename"))
        .form(&rename)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&renamed), "/account/passkeys?notice=renamed");
    let alice = app.stored_user("alice").await;
    let names: Vec<String> = app
        .state
        .store
        .passkeys(&alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(names.contains(&"Desk key".to_owned()), "{names:?}");

    // Removing needs the password.
    let mut remove = form_fields(&page, "/account/passkeys/remove");
    remove.push(("current_password".into(), "wrong".into()));
    let refused = http
        .post(app.url("/account/passkeys/remove"))
        .form(&remove)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&refused), "/account/passkeys?error=password");
    remove.pop();
    remove.push(("current_password".into(), PASSWORD.into()));
    let removed = http
        .post(app.url("/account/passkeys/remove"))
        .form(&remove)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&removed), "/account/passkeys?notice=removed");
    assert_eq!(app.state.store.passkeys(&alice.id).await.unwrap().len(), 1);
    let events = app.state.store.recent_events(None, None, 50).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "passkey.removed"));
    assert!(events.iter().any(|e| e.kind == "passkey.added"));

    // The admin's removal with the CLI (a lost device) takes the rest: no passkey signs in.
    let left = app.state.store.passkeys(&alice.id).await.unwrap();
    let remaining = if left[0].credential_id == one.id() {
        &mut one
    } else {
        &mut two
    };
    let output = crate::cli::tessera(
        &std::env::temp_dir(),
        &["user", "second-factor", "alice", "--remove"],
        &[("TESSERA_DATABASE_URL", &app.database_url)],
    );
    assert!(output.status.success(), "{output:?}");
    assert!(
        app.state
            .store
            .passkeys(&alice.id)
            .await
            .unwrap()
            .is_empty()
    );
    let fresh = browser();
    let (csrf, options) = start_sign_in(&app, &fresh).await;
    let gone = finish_sign_in(&app, &fresh, &csrf, &remaining.get(&options)).await;
    assert_eq!(gone.status(), 401);
    assert!(!signed_in(&app, &fresh).await);
}

#[tokio::test]
async fn one_answer_given_to_two_instances_at_once_signs_in_once() {
    let first = localhost_app().await;
    let issuer = first.issuer.clone();
    // A second instance behind the same name (as behind a load balancer).
    let second = TestApp::builder()
        .sharing_with(&first)
        .with_config(move |raw| raw.issuer = issuer)
        .spawn()
        .await;
    let mut key = user_with_passkey(&first, "alice").await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (csrf, options) = start_sign_in(&first, &http).await;
    let credential = key.get(&options);
    // Both requests carry the same cookies, as two retries of one browser's post would.
    let url = reqwest::Url::parse(&first.issuer).unwrap();
    let cookies = reqwest::cookie::CookieStore::cookies(jar.as_ref(), &url).unwrap();
    let body = json!({ "csrf_token": csrf, "return_to": "/account", "credential": credential });
    let send = |app: &TestApp| {
        reqwest::Client::new()
            .post(app.url("/login/passkey"))
            .header("cookie", cookies.clone())
            .json(&body)
            .send()
    };
    let (a, b) = tokio::join!(send(&first), send(&second));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "one instance takes the ceremony");
}

#[tokio::test]
async fn a_server_named_by_address_offers_no_passkeys() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let http = browser();
    let login = get(&app, &http, "/login").await;
    let policy = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !policy.contains("script-src"),
        "no script on this page: {policy}"
    );
    let html = login.text().await.unwrap();
    assert!(!html.contains("passkey"), "{html}");
    sign_in_as(&app, &http, "/login", "alice", PASSWORD).await;
    let page = get(&app, &http, "/account/passkeys")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"not-offered\""), "{page}");
    let csrf = tessera_testkit::html::hidden(&page, "csrf_token");
    let refused = post_json(
        &app,
        &http,
        "/login/passkey/options",
        &json!({ "csrf_token": csrf }),
    )
    .await;
    assert!(matches!(refused.status().as_u16(), 403 | 404));
}

#[tokio::test]
async fn sign_in_ceremonies_anyone_can_start_are_bounded_per_address() {
    use tessera_core::pending_limit::MAX_PER_ADDRESS;
    let app = localhost_app().await;
    let http = browser();
    let csrf = passkey_csrf(&app, &http, "/login", "/login/passkey").await;
    let body = json!({ "csrf_token": csrf });
    let mut admitted = 0;
    let mut refused = None;
    for _ in 0..=MAX_PER_ADDRESS {
        let response = post_json(&app, &http, "/login/passkey/options", &body).await;
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => {
                assert!(response.headers().contains_key("retry-after"));
                refused = Some(response.json::<Value>().await.unwrap());
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(admitted, MAX_PER_ADDRESS, "then refused");
    assert_eq!(refused.unwrap()["error"], "slow_down");
}
