//! The authorization code flow's browser half for tests: a relying party's authorization URL
//! (the openidconnect crate, PKCE S256 and a nonce), a cookie-keeping HTTP client as the browser,
//! sign-in, the consent decision and the callback's parameters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failed unwrap is a failed test"
)]

use std::collections::HashMap;

use crate::{
    TestApp,
    html::hidden_fields,
    openidconnect::{
        self, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl,
        Scope,
        core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata},
    },
    reqwest::{self, Response, Url},
};

/// The redirect URI test clients register.
pub const REDIRECT: &str = "http://127.0.0.1:51004/callback";
/// The password test users get.
pub const PASSWORD: &str = "correct horse battery";

/// A relying party's authorization request: the URL to open, and what it must check later.
#[derive(Debug)]
pub struct Rp {
    /// The authorization URL.
    pub url: Url,
    /// The `state` it sent.
    pub state: CsrfToken,
    /// The `nonce` it sent.
    pub nonce: Nonce,
    /// The PKCE challenge it sent.
    pub challenge: PkceCodeChallenge,
}

/// The HTTP client a relying party library uses: follows no redirect (the RP reads them).
pub fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The app's OpenID provider metadata, discovered as a real RP does (openidconnect crate).
pub async fn rp_discover(app: &TestApp) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &rp_http())
        .await
        .unwrap()
}

/// Discovery and an authorization URL with PKCE (S256) and a nonce, as a real RP builds them.
pub async fn rp_authorize_url(app: &TestApp, client_id: &str, secret: &str, scopes: &[&str]) -> Rp {
    let metadata = rp_discover(app).await;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        Some(ClientSecret::new(secret.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge.clone());
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, state, nonce) = request.url();
    Rp {
        url,
        state,
        nonce,
        challenge,
    }
}

/// The `Location` header of a redirect.
pub fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The browser: follows one hop.
pub async fn get(app: &TestApp, http: &reqwest::Client, target: &str) -> Response {
    let url = if target.starts_with('/') {
        app.url(target)
    } else {
        target.to_owned()
    };
    http.get(url).send().await.unwrap()
}

/// Posts the sign-in form of the page at `login` as `username` with `password`; the answer.
pub async fn sign_in_as(
    app: &TestApp,
    http: &reqwest::Client,
    login: &str,
    username: &str,
    password: &str,
) -> Response {
    let page = get(app, http, login).await.text().await.unwrap();
    let mut form = crate::html::form_fields(&page, "/login");
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    http.post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Signs in with [`PASSWORD`] on the page `login_location` points to; returns where sign-in
/// sends the browser.
pub async fn sign_in(
    app: &TestApp,
    http: &reqwest::Client,
    login_location: &str,
    username: &str,
) -> String {
    assert!(login_location.starts_with("/login?"), "{login_location}");
    let response = sign_in_as(app, http, login_location, username, PASSWORD).await;
    assert_eq!(response.status(), 303);
    location(&response)
}

/// Submits the consent page's form with `decision`.
pub async fn decide(
    app: &TestApp,
    http: &reqwest::Client,
    consent_page: &str,
    decision: &str,
) -> Response {
    let mut form = hidden_fields(consent_page);
    form.push(("decision".into(), decision.into()));
    http.post(app.url("/authorize/decision"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The query of a redirect back to [`REDIRECT`] (asserting it is that URI).
pub fn callback_params(location: &str) -> HashMap<String, String> {
    let url = Url::parse(location).unwrap();
    assert_eq!(
        &url.as_str()[..REDIRECT.len()],
        REDIRECT,
        "back at the registered redirect URI"
    );
    url.query_pairs().into_owned().collect()
}

/// A browser: keeps cookies, follows no redirect.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        // Below the server's 5 s keep-alive: a pooled connection is never reused just as
        // the server closes it (hyper's IncompleteMessage race).
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
