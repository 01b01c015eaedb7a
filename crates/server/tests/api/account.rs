//! Logout (RP-initiated) and the account page, over HTTP with cookie-keeping clients.

use serde_json::json;
use tessera_core::{
    ClientId,
    store::{ClientRepo, ConsentRepo},
};
use tessera_testkit::{TestApp, html::hidden_fields, reqwest::Client};

use crate::code_flow::{
    PASSWORD, REDIRECT, browser, callback_params, decide, get, location, rp_authorize_url, sign_in,
};

const AFTER_LOGOUT: &str = "https://rp.example.com/signed-out";

/// A browser signed in as `username` that has consented to `rp` once; returns it.
async fn signed_in_with_consent(app: &TestApp, secret: &str, username: &str) -> Client {
    let http = browser();
    let rp = rp_authorize_url(app, "rp", secret, &["openid"]).await;
    let response = get(app, &http, rp.url.as_str()).await;
    let back = sign_in(app, &http, &location(&response), username).await;
    let consent = get(app, &http, &back).await.text().await.unwrap();
    if consent.contains("Allow") {
        let approved = decide(app, &http, &consent, "approve").await;
        assert!(callback_params(&location(&approved)).contains_key("code"));
    }
    http
}

async fn app_with_rp() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let (mut client, secret) = app.with_client("rp", &[REDIRECT]).await;
    client.post_logout_redirect_uris = vec![AFTER_LOGOUT.into()];
    app.state.store.update_client(&client).await.unwrap();
    (app, secret.expose().to_owned())
}

#[tokio::test]
async fn rp_initiated_logout_confirms_then_returns_with_state() {
    let (app, secret) = app_with_rp().await;
    let http = signed_in_with_consent(&app, &secret, "alice").await;
    let query =
        "client_id=rp&post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fsigned-out&state=xyz";

    // A link alone signs nobody out: GET shows a confirmation form.
    let confirm = get(&app, &http, &format!("/logout?{query}")).await;
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    assert!(page.contains("Sign out?"), "{page}");
    assert_eq!(
        get(&app, &http, "/account").await.status(),
        200,
        "still signed in"
    );

    // Without the CSRF token the POST is refused.
    let forged: Vec<(String, String)> = hidden_fields(&page)
        .into_iter()
        .filter(|(n, _)| n != "csrf_token")
        .collect();
    assert_eq!(
        http.post(app.url("/logout"))
            .form(&forged)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    let done = http
        .post(app.url("/logout"))
        .form(&hidden_fields(&page))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), format!("{AFTER_LOGOUT}?state=xyz"));
    let account = get(&app, &http, "/account").await;
    assert_eq!(account.status(), 303, "signed out");
    assert!(location(&account).starts_with("/login"));

    // Signed out already: straight back to the client.
    let again = get(&app, &http, &format!("/logout?{query}")).await;
    assert_eq!(again.status(), 302);
    assert_eq!(location(&again), format!("{AFTER_LOGOUT}?state=xyz"));
}

#[tokio::test]
async fn logout_only_returns_to_registered_uris_and_reads_id_token_hints() {
    let (app, secret) = app_with_rp().await;
    let http = signed_in_with_consent(&app, &secret, "alice").await;
    for query in [
        "client_id=rp&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        "client_id=rp&post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fsigned-out%2F",
        "post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fsigned-out",
        "id_token_hint=not-a-token&post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fsigned-out",
    ] {
        let response = get(&app, &http, &format!("/logout?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.headers().get("location").is_none());
    }
    // An ID token we issued to rp (expired an hour ago) names the client.
    let now = app.state.clock.now().timestamp();
    let hint = app
        .state
        .keys
        .sign(
            tessera_core::SigningAlg::ES256,
            "JWT",
            &json!({"iss": app.issuer, "sub": "x", "aud": "rp", "exp": now - 3600, "iat": now - 7200}),
        )
        .unwrap();
    let response = get(
        &app,
        &http,
        &format!("/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fsigned-out"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("rp app asks you to sign out")
    );
}

fn session_rows(page: &str) -> Vec<(String, bool)> {
    page.split("<tr>")
        .filter_map(|row| {
            let id = row
                .split("/account/sessions/")
                .nth(1)?
                .split('/')
                .next()?
                .to_owned();
            Some((id, row.contains("(this device)")))
        })
        .collect()
}

#[tokio::test]
async fn the_account_page_lists_devices_and_apps_and_revokes_them() {
    let (app, secret) = app_with_rp().await;
    let laptop = signed_in_with_consent(&app, &secret, "alice").await;
    let phone = signed_in_with_consent(&app, &secret, "alice").await;

    let page = get(&app, &laptop, "/account").await.text().await.unwrap();
    let rows = session_rows(&page);
    assert_eq!(rows.len(), 2, "{page}");
    assert!(page.contains("rp app") && page.contains("openid"));
    let csrf = hidden_fields(&page)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .unwrap()
        .1;

    // Sign the phone out from the laptop.
    let (phone_id, _) = rows.iter().find(|(_, current)| !current).unwrap().clone();
    let revoked = laptop
        .post(app.url(&format!("/account/sessions/{phone_id}/revoke")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&revoked), "/account?notice=signed-out");
    assert_eq!(
        get(&app, &phone, "/account").await.status(),
        303,
        "the phone is signed out"
    );
    assert_eq!(
        get(&app, &laptop, "/account").await.status(),
        200,
        "the laptop is not"
    );

    // Remove the app: consent is forgotten.
    let alice = app.stored_user("alice").await;
    let removed = laptop
        .post(app.url("/account/apps/rp/revoke"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&removed), "/account?notice=removed");
    assert!(
        app.state
            .store
            .find_consent(&alice.id, &ClientId::new("rp"))
            .await
            .unwrap()
            .is_none()
    );

    // Change the password: the current one is required; other sessions end.
    let other = signed_in_with_consent(&app, &secret, "alice").await;
    let wrong = laptop
        .post(app.url("/account/password"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("current_password", "nope"),
            ("new_password", "a new long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&wrong), "/account?notice=wrong-password");
    let changed = laptop
        .post(app.url("/account/password"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "a new long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&changed), "/account?notice=password");
    assert_eq!(
        get(&app, &other, "/account").await.status(),
        303,
        "other devices signed out"
    );
    assert_eq!(
        get(&app, &laptop, "/account").await.status(),
        200,
        "this one stays"
    );
    let updated = app.stored_user("alice").await;
    assert!(tessera_core::password::verify_password(
        "a new long password",
        &updated.password_hash
    ));

    // Without the CSRF token nothing happens.
    let forged = laptop
        .post(app.url("/account/apps/rp/revoke"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
async fn sign_in_refuses_a_wrong_csrf_token_and_rotates_it_at_sign_in() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let http = browser();
    let page = get(&app, &http, "/login").await.text().await.unwrap();
    let csrf = hidden_fields(&page)
        .into_iter()
        .find(|(n, _)| n == "csrf_token")
        .unwrap()
        .1;
    let attempt = |token: String, username: &'static str, password: &'static str| {
        let http = http.clone();
        let url = app.url("/login");
        async move {
            http.post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("return_to", "/account"),
                    ("username", username),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // A wrong token: refused before the password is even looked at.
    assert_eq!(
        attempt("tsb_wrong".into(), "alice", PASSWORD)
            .await
            .status(),
        403
    );

    // The right token and password sign in (throttling is tested in sign_in_throttle.rs).
    let signed_in = attempt(csrf.clone(), "alice", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    // The token was rotated with the new session: the old one no longer works.
    assert_eq!(attempt(csrf, "alice", PASSWORD).await.status(), 403);
}

#[tokio::test]
async fn self_registration_is_off_by_default() {
    let closed = TestApp::spawn().await;
    assert_eq!(closed.get("/signup").await.status(), 404);
    assert!(
        !closed
            .get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("/signup")
    );
}

#[tokio::test]
async fn self_registration_when_on_signs_new_people_in_and_refuses_duplicates() {
    let app = TestApp::builder()
        .with_config(|c| c.self_registration = true)
        .spawn()
        .await;
    assert!(
        app.get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("Create an account")
    );
    let http = browser();
    let page = get(&app, &http, "/signup?return_to=%2Faccount")
        .await
        .text()
        .await
        .unwrap();
    let fields = hidden_fields(&page);
    let post = |extra: [(&'static str, &'static str); 3], csrf: bool| {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .filter(|(n, _)| csrf || n != "csrf_token")
            .cloned()
            .collect();
        form.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let http = http.clone();
        let url = app.url("/signup");
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    let good = [
        ("name", "Bob Example"),
        ("email", "Bob@Example.com"),
        ("password", "a long enough password"),
    ];
    assert_eq!(post(good, false).await.status(), 403, "no CSRF token");
    assert_eq!(
        post(
            [
                ("name", "Bob"),
                ("email", "not-an-email"),
                ("password", "a long enough password")
            ],
            true
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        post(
            [
                ("name", "Bob"),
                ("email", "bob@example.com"),
                ("password", "short")
            ],
            true
        )
        .await
        .status(),
        400
    );
    let created = post(good, true).await;
    assert_eq!(created.status(), 303);
    assert_eq!(location(&created), "/account");
    let account = get(&app, &http, "/account").await;
    assert_eq!(account.status(), 200, "signed in straight away");
    assert!(account.text().await.unwrap().contains("bob@example.com"));
    let user = app.stored_user("bob@example.com").await;
    assert_eq!(user.name.as_deref(), Some("Bob Example"));
    assert!(!user.is_admin && !user.email_verified);
    // Signing up signed Bob in, which rotated the CSRF secret: the old form is refused.
    assert_eq!(
        post(good, true).await.status(),
        403,
        "token rotated at sign-in"
    );
    // From another browser, the same email again is a conflict.
    let other = browser();
    let page = get(&app, &other, "/signup").await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.extend(good.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let again = other
        .post(app.url("/signup"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "one account per email");
}
