//! The browser half of the code flow in a real headless Chromium: the RP's authorization URL,
//! sign-in, consent, the redirect back with code, state and iss; then the account page lists the
//! device and signs it out.

use std::collections::HashMap;

use tessera_testkit::{TestApp, browser::Browser, reqwest::Url};

use crate::{
    admin::{arrive, click, fill, path, text_becomes},
    code_flow::{PASSWORD, rp_authorize_url},
};

#[tokio::test]
async fn sign_in_and_consent_in_a_real_browser_then_sign_the_device_out() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    // A redirect URI the browser can load: the app's own liveness endpoint.
    let callback = app.url("/health/live");
    let (_, secret) = app.with_client("rp", &[callback.as_str()]).await;
    let mut rp = rp_authorize_url(&app, "rp", secret.expose(), &["profile"]).await;
    let pairs: Vec<(String, String)> = rp
        .url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k, callback.clone())
            } else {
                (k, v)
            }
        })
        .collect();
    rp.url.query_pairs_mut().clear().extend_pairs(&pairs);

    browser.client.goto(rp.url.as_str()).await.unwrap();
    assert!(path(&browser).await.starts_with("/login?"));
    fill(&browser, "#username", "alice").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#sign-in").await;
    assert_eq!(
        text_becomes(&browser, "h1", "Allow rp app to access your account?").await,
        "Allow rp app to access your account?"
    );
    browser.screenshot("consent").await;
    click(&browser, "#approve").await;

    let mut landed = String::new();
    for _ in 0..150 {
        landed = browser.client.current_url().await.unwrap().to_string();
        if landed.starts_with(&callback) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let params: HashMap<String, String> = Url::parse(&landed)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(
        params.get("code").is_some_and(|c| c.starts_with("tsc_")),
        "{landed}"
    );
    assert_eq!(params["state"], *rp.state.secret());
    assert_eq!(params["iss"], app.issuer);

    // The account page lists this device; signing it out ends the session.
    browser.client.goto(&app.url("/account")).await.unwrap();
    assert_eq!(arrive(&browser, "/account").await, "/account");
    assert!(
        text_becomes(
            &browser,
            "#sessions tr:nth-child(2) strong",
            "(this device)"
        )
        .await
            == "(this device)"
    );
    browser.screenshot("account").await;
    click(&browser, "#sessions button").await;
    assert_eq!(
        arrive(&browser, "/login?return_to=%2Faccount").await,
        "/login?return_to=%2Faccount"
    );
    browser.client.goto(&app.url("/account")).await.unwrap();
    assert!(
        path(&browser).await.starts_with("/login?"),
        "signed out for real"
    );
    browser.close().await;
}

#[tokio::test]
async fn sign_in_consent_and_account_pages_refuse_to_be_framed() {
    let app = TestApp::spawn().await;
    for page in ["/login", "/account", "/logout", "/admin/clients"] {
        let response = app.get(page).await;
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{page}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    }
}
