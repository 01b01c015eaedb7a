//! The product's main journeys in a real headless Chromium, with the app on **another origin**:
//! a stand-in relying party on its own loopback port (`tessera_testkit::relying_party`) links to
//! Tessera, and every test waits for what actually reaches that app — the redirect back with a
//! code, an `access_denied`, the post-logout redirect — by redirect, by form post
//! (`response_mode=form_post`, with JavaScript and without), and for a pushed request (RFC
//! 9126) — and the device flow's `/device` page (RFC 8628), reached from a link on that app,
//! allowing, denying, and refusing an expired code on the fake clock — and two-step sign-in with
//! an authenticator app (set up on the account page, then asked for when the app sends the user
//! back), a forgotten password reset by the emailed link (an SMTP server on loopback receives
//! it; the browser follows it) before the app's sign-in goes on, and a changed address confirmed
//! and a slowed-down account unlocked by their emailed links. Chromium applies the
//! consent, sign-in and sign-out pages' `form-action` to the
//! redirects after their forms, so a policy that is too
//! narrow shows up here as an arrival that never comes; each failure message carries the
//! browser console (CSP violations included).
//!
//! The code is redeemed with the openidconnect crate, as a real relying party does. Screenshots of
//! the walkthrough in the README come from these runs (`target/screenshots/journey-*.png`).

use std::time::Duration;

use tessera_core::store::{CodeRepo, ConsentRepo, UserRecord};
use tessera_testkit::{
    TestApp,
    browser::Browser,
    openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge,
        PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
        core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata},
    },
    relying_party::RelyingParty,
    reqwest::Url,
};

use crate::{
    admin::{click, fill, path, text_becomes},
    code_flow::PASSWORD,
};

/// How long a journey step may take before the test gives up on it.
const STEP: Duration = Duration::from_secs(15);

/// Tessera, a user, the stand-in app registered as a client, and a browser.
struct Journey {
    app: TestApp,
    rp: RelyingParty,
    browser: Browser,
    secret: String,
    alice: UserRecord,
}

/// One authorization request as the openidconnect crate builds it.
struct Request {
    url: Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

impl Journey {
    async fn start() -> Option<Self> {
        Self::start_in(Browser::start().await?).await
    }

    async fn start_in(browser: Browser) -> Option<Self> {
        Self::start_on(browser, TestApp::spawn().await).await
    }

    async fn start_on(browser: Browser, app: TestApp) -> Option<Self> {
        let alice = app.with_user("alice", PASSWORD, false).await;
        let rp = RelyingParty::start().await;
        let (mut client, secret) = app.with_client("webapp", &[&rp.url("/cb")]).await;
        client.client_name = Some("Example app".into());
        client.post_logout_redirect_uris = vec![rp.url("/signed-out")];
        use tessera_core::store::ClientRepo;
        app.state.store.update_client(&client).await.unwrap();
        Some(Self {
            app,
            rp,
            browser,
            secret: secret.expose().to_owned(),
            alice,
        })
    }

    async fn metadata(&self) -> CoreProviderMetadata {
        crate::code_flow::rp_discover(&self.app).await
    }

    /// The authorization URL for `scopes`, with `extra` query parameters appended verbatim.
    async fn request(&self, scopes: &[&str], extra: &[(&str, &str)]) -> Request {
        let client = CoreClient::from_provider_metadata(
            self.metadata().await,
            ClientId::new("webapp".into()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(self.rp.url("/cb")).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let (mut url, state, nonce) = request.url();
        url.query_pairs_mut().extend_pairs(extra);
        Request {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// The user opens the app and clicks its "Sign in" link.
    async fn begin(&self, request: &Request) {
        self.rp.link_to(request.url.as_str());
        self.browser.client.goto(&self.rp.url("/")).await.unwrap();
        click(&self.browser, "#sign-in").await;
    }

    /// Fails with where the browser is, what its console said, and any error the page shows.
    async fn fail(&self, what: &str) -> ! {
        let mut shown = String::new();
        for css in ["#passkey-error", "p.error"] {
            if let Ok(found) = self
                .browser
                .client
                .find(tessera_testkit::fantoccini::Locator::Css(css))
                .await
                && let Ok(text) = found.text().await
            {
                shown.push_str(&text);
                shown.push(' ');
            }
        }
        let at = self
            .browser
            .client
            .current_url()
            .await
            .map_or_else(|e| e.to_string(), |u| u.to_string());
        let console = self.browser.console().await.join("\n  ");
        panic!(
            "{what}\n  the browser is at {at}\n  the page says: {shown}\n  browser console:\n  {console}"
        );
    }

    /// Waits for the browser to show Tessera's page `prefix` (a path).
    async fn on_page(&self, prefix: &str) {
        let deadline = tokio::time::Instant::now() + STEP;
        while !path(&self.browser).await.starts_with(prefix) {
            if tokio::time::Instant::now() >= deadline {
                self.fail(&format!("never reached {prefix}")).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn sign_in(&self) {
        self.on_page("/login").await;
        fill(&self.browser, "#username", "alice").await;
        fill(&self.browser, "#password", PASSWORD).await;
        click(&self.browser, "#sign-in").await;
    }

    async fn consent_page(&self) {
        self.on_page("/authorize").await;
        let heading = text_becomes(
            &self.browser,
            "h1",
            "Allow Example app to access your account?",
        )
        .await;
        if heading != "Allow Example app to access your account?" {
            self.fail(&format!("no consent page (heading {heading:?})"))
                .await;
        }
    }

    /// What reached the app at `path`, or a failure naming the console's complaints.
    async fn arrival(&self, path: &str) -> Vec<(String, String)> {
        match self.rp.arrival(path, STEP).await {
            Some(url) => {
                // The browser shows the app's page, not an error.
                let back = text_becomes(&self.browser, "#back", "Back at the app").await;
                if back != "Back at the app" {
                    self.fail("the app's page is not showing").await;
                }
                url.query_pairs().into_owned().collect()
            }
            None => {
                self.fail(&format!("nothing reached the app at {path}"))
                    .await
            }
        }
    }

    /// Signed out for real: the account page asks to sign in.
    async fn assert_signed_out(&self) {
        self.browser
            .client
            .goto(&self.app.url("/account"))
            .await
            .unwrap();
        self.on_page("/login").await;
    }

    /// A first visit: open the app, sign in, Allow; the code that reaches the app.
    async fn first_visit(&self, request: &Request) -> String {
        self.begin(request).await;
        self.sign_in().await;
        self.consent_page().await;
        click(&self.browser, "#approve").await;
        let params = self.arrival("/cb").await;
        let code = param(&params, "code").unwrap_or_default().to_owned();
        assert!(code.starts_with("tsc_"), "{params:?}");
        code
    }

    /// The app redeems `code` with the openidconnect crate; the ID token's subject and itself.
    async fn redeem(&self, request: Request, code: &str) -> (String, String) {
        let client = CoreClient::from_provider_metadata(
            self.metadata().await,
            ClientId::new("webapp".into()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(self.rp.url("/cb")).unwrap());
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .unwrap()
            .set_pkce_verifier(request.verifier)
            .request_async(&crate::code_flow::rp_http())
            .await
            .unwrap_or_else(|err| panic!("code exchange: {err:?}"));
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token
            .claims(&client.id_token_verifier(), &request.nonce)
            .unwrap();
        (claims.subject().to_string(), id_token.to_string())
    }
}

/// The method of the latest request that reached the app at `path`.
fn last_method(rp: &RelyingParty, path: &str) -> Option<String> {
    rp.arrivals()
        .iter()
        .zip(rp.methods())
        .rfind(|(url, _)| url.path() == path)
        .map(|(_, method)| method)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn allow_brings_the_user_back_to_the_app_with_a_code_the_app_redeems() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    let request = journey.request(&["openid", "profile"], &[]).await;
    journey.begin(&request).await;
    journey.on_page("/login").await;
    journey.browser.screenshot("journey-sign-in").await;
    journey.sign_in().await;
    journey.consent_page().await;
    journey.browser.screenshot("journey-consent").await;
    click(&journey.browser, "#approve").await;

    let params = journey.arrival("/cb").await;
    let code = param(&params, "code").unwrap_or_default().to_owned();
    assert!(code.starts_with("tsc_"), "{params:?}");
    assert_eq!(
        param(&params, "state"),
        Some(request.state.secret().as_str())
    );
    assert_eq!(param(&params, "iss"), Some(journey.app.issuer.as_str()));
    journey.browser.screenshot("journey-back-at-the-app").await;
    let (subject, _) = journey.redeem(request, &code).await;
    assert_eq!(subject, journey.alice.id.as_str());

    // The account page lists this device; signing it out ends the session.
    let browser = &journey.browser;
    browser
        .client
        .goto(&journey.app.url("/account"))
        .await
        .unwrap();
    journey.on_page("/account").await;
    assert_eq!(
        text_becomes(browser, "#sessions tr:nth-child(2) strong", "(this device)").await,
        "(this device)"
    );
    browser.screenshot("journey-account").await;
    click(browser, "#sessions button").await;
    journey.on_page("/login?return_to=%2Faccount").await;
    journey.assert_signed_out().await;
    journey.browser.close().await;
}

#[tokio::test]
async fn deny_arrives_as_access_denied_even_when_the_url_says_approve() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    // A plain Deny.
    let request = journey.request(&["openid", "profile"], &[]).await;
    journey.begin(&request).await;
    journey.sign_in().await;
    journey.consent_page().await;
    click(&journey.browser, "#deny").await;
    let params = journey.arrival("/cb").await;
    assert_eq!(param(&params, "error"), Some("access_denied"), "{params:?}");
    assert_eq!(
        param(&params, "state"),
        Some(request.state.secret().as_str())
    );
    assert_eq!(param(&params, "iss"), Some(journey.app.issuer.as_str()));
    assert_eq!(param(&params, "code"), None);

    // A crafted authorization URL that tries to pre-fill the decision and the form's token
    // (`request=` would be a request object, which is refused before any page):
    // the click on Deny is still a Deny.
    let crafted = journey
        .request(
            &["openid", "profile"],
            &[
                ("decision", "approve"),
                ("csrf_token", "forged"),
                ("unknown", "x"),
            ],
        )
        .await;
    journey.begin(&crafted).await;
    journey.consent_page().await;
    click(&journey.browser, "#deny").await;
    let params = journey.arrival("/cb").await;
    assert_eq!(param(&params, "error"), Some("access_denied"), "{params:?}");
    assert_eq!(
        param(&params, "state"),
        Some(crafted.state.secret().as_str())
    );
    assert_eq!(param(&params, "code"), None, "no code was issued");
    // Nothing was remembered: the next request asks again.
    let remembered = journey
        .app
        .state
        .store
        .find_consent(&journey.alice.id, &tessera_core::ClientId::new("webapp"))
        .await
        .unwrap();
    assert_eq!(remembered, None, "denied consent is not remembered");
    journey.browser.close().await;
}

#[tokio::test]
async fn a_returning_user_who_must_sign_in_again_arrives_with_a_code() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    let first = journey.request(&["openid"], &[]).await;
    journey.first_visit(&first).await;

    // Next day: the browser's session is gone, consent is remembered. Signing in goes straight
    // back to the app — the redirect chain after the sign-in form ends at the app's origin.
    journey.browser.client.delete_all_cookies().await.unwrap();
    let again = journey.request(&["openid"], &[]).await;
    journey.begin(&again).await;
    journey.sign_in().await;
    let params = journey.arrival("/cb").await;
    assert_eq!(param(&params, "state"), Some(again.state.secret().as_str()));
    let code = param(&params, "code").unwrap_or_default().to_owned();
    assert!(code.starts_with("tsc_"), "{params:?}");

    // Signed in already, prompt=login asks for the password again, then goes back to the app.
    let fresh = journey.request(&["openid"], &[("prompt", "login")]).await;
    journey.begin(&fresh).await;
    journey.sign_in().await;
    let params = journey.arrival("/cb").await;
    assert_eq!(param(&params, "state"), Some(fresh.state.secret().as_str()));
    let code = param(&params, "code").unwrap_or_default().to_owned();
    let stored = journey
        .app
        .state
        .store
        .consume_code(
            &tessera_core::secret::TokenHash::of(&code),
            tessera_core::Clock::now(journey.app.state.clock.as_ref()),
        )
        .await
        .unwrap();
    assert!(
        matches!(stored, tessera_core::store::Consumption::Consumed(_)),
        "a real, unused code"
    );
    journey.browser.close().await;
}

#[tokio::test]
async fn rp_initiated_logout_arrives_at_the_post_logout_uri_with_state() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    let request = journey.request(&["openid"], &[]).await;
    let code = journey.first_visit(&request).await;
    let (_, id_token) = journey.redeem(request, &code).await;

    // The app's "Sign out" sends the browser to Tessera's end_session_endpoint.
    let mut logout = Url::parse(&journey.app.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", &journey.rp.url("/signed-out"))
        .append_pair("state", "bye 1");
    journey.rp.link_to(logout.as_str());
    journey
        .browser
        .client
        .goto(&journey.rp.url("/"))
        .await
        .unwrap();
    click(&journey.browser, "#sign-in").await;
    journey.on_page("/logout").await;
    if text_becomes(&journey.browser, "h1", "Sign out?").await != "Sign out?" {
        journey.fail("no sign-out confirmation").await;
    }
    journey.browser.screenshot("journey-sign-out").await;
    click(&journey.browser, "#sign-out").await;
    let params = journey.arrival("/signed-out").await;
    assert_eq!(param(&params, "state"), Some("bye 1"), "{params:?}");

    journey.assert_signed_out().await;
    journey.browser.close().await;
}

#[tokio::test]
async fn pages_that_end_in_a_redirect_allow_exactly_the_client_origin() {
    // Over HTTP (no browser needed): the consent page's policy names the app's origin and
    // nothing wider; an unrelated page keeps form-action 'self'.
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_client("webapp", &["http://127.0.0.1:9000/cb"])
        .await;
    let http = crate::code_flow::browser();
    let mut url = Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "webapp")
        .append_pair("redirect_uri", "http://127.0.0.1:9000/cb")
        .append_pair("scope", "openid")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256");
    let to_login = http.get(url.as_str()).send().await.unwrap();
    let login = to_login.headers()["location"].to_str().unwrap().to_owned();
    let page = http.get(app.url(&login)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9000;"),
        "the sign-in page continuing to the app: {csp}"
    );
    assert!(!csp.contains('*'), "{csp}");
    let plain = http.get(app.url("/login")).send().await.unwrap();
    let csp = plain.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self';"), "{csp}");
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
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "no HSTS over plain http"
        );
    }
}

#[tokio::test]
async fn form_post_delivers_the_code_and_the_denial_to_the_app_by_post() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    // Allow: the page Tessera answers submits itself to the app's origin (the policy allows that
    // one script and that one form target), and the app receives the code in a POST.
    let request = journey
        .request(&["openid"], &[("response_mode", "form_post")])
        .await;
    journey.begin(&request).await;
    journey.sign_in().await;
    journey.consent_page().await;
    click(&journey.browser, "#approve").await;
    let params = journey.arrival("/cb").await;
    assert_eq!(last_method(&journey.rp, "/cb").as_deref(), Some("POST"));
    let code = param(&params, "code").unwrap_or_default().to_owned();
    assert!(code.starts_with("tsc_"), "{params:?}");
    assert_eq!(
        param(&params, "state"),
        Some(request.state.secret().as_str())
    );
    assert_eq!(param(&params, "iss"), Some(journey.app.issuer.as_str()));
    let console = journey.browser.console().await;
    assert!(
        !console
            .iter()
            .any(|line| line.contains("Content Security Policy")),
        "no CSP violation: {console:?}"
    );
    let (subject, _) = journey.redeem(request, &code).await;
    assert_eq!(subject, journey.alice.id.as_str());

    // Deny travels the same way.
    let request = journey
        .request(&["openid", "profile"], &[("response_mode", "form_post")])
        .await;
    journey.begin(&request).await;
    journey.consent_page().await;
    click(&journey.browser, "#deny").await;
    let params = journey.arrival("/cb").await;
    assert_eq!(last_method(&journey.rp, "/cb").as_deref(), Some("POST"));
    assert_eq!(param(&params, "error"), Some("access_denied"), "{params:?}");
    journey.browser.close().await;
}

#[tokio::test]
async fn form_post_works_without_javascript_by_its_button() {
    let Some(browser) = Browser::start_without_javascript().await else {
        return;
    };
    let Some(journey) = Journey::start_in(browser).await else {
        return;
    };
    let request = journey
        .request(&["openid"], &[("response_mode", "form_post")])
        .await;
    journey.begin(&request).await;
    journey.sign_in().await;
    journey.consent_page().await;
    click(&journey.browser, "#approve").await;
    // Nothing submits the page by itself: it waits, with its button.
    journey.on_page("/authorize/decision").await;
    assert_eq!(
        text_becomes(&journey.browser, "h1", "Returning to the app").await,
        "Returning to the app"
    );
    assert_eq!(
        last_method(&journey.rp, "/cb"),
        None,
        "nothing reached the app by itself"
    );
    journey
        .browser
        .screenshot("journey-form-post-no-javascript")
        .await;
    click(&journey.browser, "#continue").await;
    let params = journey.arrival("/cb").await;
    assert_eq!(last_method(&journey.rp, "/cb").as_deref(), Some("POST"));
    assert!(
        param(&params, "code").is_some_and(|c| c.starts_with("tsc_")),
        "{params:?}"
    );
    journey.browser.close().await;
}

#[tokio::test]
async fn a_pushed_request_runs_in_the_browser_with_only_a_request_uri_in_the_url() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    // The app pushes its request (openidconnect builds it; the app posts its query to /par).
    let built = journey.request(&["openid", "profile"], &[]).await;
    let mut form: Vec<(String, String)> = built.url.query_pairs().into_owned().collect();
    form.retain(|(name, _)| name != "client_id");
    let pushed: serde_json::Value = journey
        .app
        .http
        .post(journey.app.url("/par"))
        .basic_auth("webapp", Some(&journey.secret))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap_or_default();
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{pushed}"
    );
    let mut url = Url::parse(&journey.app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "webapp")
        .append_pair("request_uri", request_uri);
    let request = Request { url, ..built };
    let code = journey.first_visit(&request).await;
    let (subject, _) = journey.redeem(request, &code).await;
    assert_eq!(subject, journey.alice.id.as_str());
    journey.browser.close().await;
}

/// The device flow's page in the browser: a TV shows its code and a link, the user follows the
/// link from a page on another origin, signs in, checks the code, and allows (or denies) — with
/// or without JavaScript; the TV's polls tell the outcome.
async fn device_journey(browser: Browser, decision: &str) {
    let Some(journey) = Journey::start_in(browser).await else {
        return;
    };
    let app = &journey.app;
    crate::device::tv_client(app, "tv").await;
    let asked = tessera_testkit::tokens::post_form(
        app,
        "/device_authorization",
        None,
        &[("client_id", "tv"), ("scope", "openid profile")],
    )
    .await;
    let complete = asked.body["verification_uri_complete"].as_str().unwrap();
    let user_code = asked.body["user_code"].as_str().unwrap().to_owned();
    let device_code = asked.body["device_code"].as_str().unwrap().to_owned();

    journey.rp.link_to(complete);
    journey
        .browser
        .client
        .goto(&journey.rp.url("/"))
        .await
        .unwrap();
    click(&journey.browser, "#sign-in").await;
    journey.sign_in().await;
    journey.on_page("/device").await;
    // The code came with the link; the user still confirms it.
    let field = journey
        .browser
        .client
        .find(tessera_testkit::fantoccini::Locator::Css("#user_code"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(field.as_deref(), Some(user_code.as_str()));
    click(&journey.browser, "#continue").await;
    let heading = text_becomes(
        &journey.browser,
        "h1",
        "Allow Living-room TV on your device?",
    )
    .await;
    if heading != "Allow Living-room TV on your device?" {
        journey
            .fail(&format!("no confirmation page (heading {heading:?})"))
            .await;
    }
    journey
        .browser
        .screenshot(&format!("journey-device-{decision}"))
        .await;
    click(&journey.browser, &format!("#{decision}")).await;
    let expected = match decision {
        "approve" => "Done: your device is connected. You can close this page.",
        _ => "Denied: the device was not connected.",
    };
    if text_becomes(&journey.browser, "#notice", expected).await != expected {
        journey.fail("no outcome on the device page").await;
    }
    let polled = tessera_testkit::tokens::post_form(
        app,
        "/token",
        None,
        &[
            ("grant_type", crate::device::DEVICE_GRANT),
            ("device_code", device_code.as_str()),
            ("client_id", "tv"),
        ],
    )
    .await;
    match decision {
        "approve" => assert_eq!(polled.status, 200, "{:?}", polled.body),
        _ => polled.assert_error(400, "access_denied", "denied in the browser"),
    }
    let console = journey.browser.console().await;
    assert!(
        console
            .iter()
            .all(|line| !line.contains("Content Security Policy")),
        "{console:?}"
    );
    journey.browser.close().await;
}

#[tokio::test]
async fn a_device_is_allowed_in_the_browser_from_a_link_on_another_origin() {
    if let Some(browser) = Browser::start().await {
        device_journey(browser, "approve").await;
    }
}

#[tokio::test]
async fn a_device_is_denied_in_a_browser_without_javascript() {
    if let Some(browser) = Browser::start_without_javascript().await {
        device_journey(browser, "deny").await;
    }
}

#[tokio::test]
async fn an_expired_device_code_is_refused_on_the_page_and_to_the_polling_device() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    crate::device::tv_client(&app, "tv").await;
    let asked = tessera_testkit::tokens::post_form(
        &app,
        "/device_authorization",
        None,
        &[("client_id", "tv"), ("scope", "openid")],
    )
    .await;
    let user_code = asked.body["user_code"].as_str().unwrap().to_owned();
    let device_code = asked.body["device_code"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", crate::device::DEVICE_GRANT),
        ("device_code", device_code.as_str()),
        ("client_id", "tv"),
    ];
    let poll = || tessera_testkit::tokens::post_form(&app, "/token", None, &form);
    // The polling device: pending, then told to slow down when it polls at once.
    poll()
        .await
        .assert_error(400, "authorization_pending", "first poll");
    poll()
        .await
        .assert_error(400, "slow_down", "polled at once");

    // The user signs in on the device page; meanwhile the code's ten minutes pass.
    browser.client.goto(&app.url("/device")).await.unwrap();
    fill(&browser, "#username", "alice").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#sign-in").await;
    let heading = text_becomes(&browser, "h1", "Connect a device").await;
    assert_eq!(heading, "Connect a device");
    clock.advance(chrono::Duration::seconds(601));
    fill(&browser, "#user_code", &user_code).await;
    click(&browser, "#continue").await;
    let expected =
        "That code is not valid, or it expired or was already used. Check the code on your device.";
    assert_eq!(text_becomes(&browser, "#error", expected).await, expected);
    browser.screenshot("journey-device-expired").await;
    poll()
        .await
        .assert_error(400, "expired_token", "the device hears it expired");
    browser.close().await;
}

#[tokio::test]
async fn the_landing_page_leads_to_sign_in_and_nothing_the_browser_asks_for_is_missing() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    browser.client.goto(&app.url("/")).await.unwrap();
    assert_eq!(text_becomes(&browser, "h1", "Tessera").await, "Tessera");
    click(&browser, "#account").await;
    let deadline = tokio::time::Instant::now() + STEP;
    while !path(&browser).await.starts_with("/login") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached /login"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The icon the pages name is there (no "Failed to load resource" in the console).
    let console = browser.console().await;
    assert!(
        console.iter().all(|line| !line.contains("404")),
        "{console:?}"
    );
    let icon = app.http.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    browser.close().await;
}

#[tokio::test]
async fn two_step_sign_in_with_an_authenticator_app_from_the_apps_link() {
    use tessera_core::totp::{TotpSecret, step_of};
    let Some(journey) = Journey::start().await else {
        return;
    };
    let browser = &journey.browser;
    // Alice adds an app on her account page: the QR code and the key, then the first code.
    browser
        .client
        .goto(&journey.app.url("/account"))
        .await
        .unwrap();
    journey.sign_in().await;
    journey.on_page("/account").await;
    click(browser, "a[href=\"/account/two-step\"]").await;
    journey.on_page("/account/two-step").await;
    click(browser, "#start").await;
    let key = crate::admin::text(browser, "#secret").await;
    let key = TotpSecret::from_base32(&key).expect("the page shows the key");
    assert!(
        crate::admin::element(browser, "figure.qr svg")
            .await
            .is_displayed()
            .await
            .unwrap(),
        "the QR code is drawn"
    );
    browser.screenshot("journey-two-step-setup").await;
    fill(
        browser,
        "#code",
        &key.code_at(tessera_core::Clock::now(&tessera_core::SystemClock)),
    )
    .await;
    click(browser, "#confirm").await;
    let codes = text_becomes(browser, "h1", "Your recovery codes").await;
    if codes != "Your recovery codes" {
        journey.fail("no recovery codes after the first code").await;
    }
    browser.screenshot("journey-two-step-recovery-codes").await;

    // Later the app sends her back with prompt=login: password, then a code, then consent.
    let request = journey
        .request(&["openid", "profile"], &[("prompt", "login")])
        .await;
    journey.begin(&request).await;
    journey.sign_in().await;
    journey.on_page("/login/second-factor").await;
    browser.screenshot("journey-two-step-code").await;
    // The step the enrolment used is spent: the next one's code (within ±1 step of now).
    let code = format!(
        "{:06}",
        key.code_at_step(step_of(tessera_core::Clock::now(&tessera_core::SystemClock)) + 1)
    );
    fill(browser, "#code", &code).await;
    click(browser, "#verify").await;
    journey.consent_page().await;
    click(browser, "#approve").await;
    let params = journey.arrival("/cb").await;
    let code = param(&params, "code").unwrap_or_default().to_owned();
    let (subject, id_token) = journey.redeem(request, &code).await;
    assert_eq!(subject, journey.alice.id.as_str());
    let claims = crate::token_support::payload(&id_token);
    assert_eq!(claims["acr"], "mfa", "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    journey.browser.close().await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_from_the_apps_sign_in_by_the_emailed_link() {
    use tessera_testkit::mail::{SmtpSink, decoded};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let app = TestApp::builder()
        .with_config(move |c| c.smtp_url = Some(smtp))
        .spawn()
        .await;
    let Some(journey) = Journey::start_on(browser, app).await else {
        return;
    };
    let browser = &journey.browser;
    // From the app's link to the sign-in page, and on to "Forgot your password?".
    let request = journey.request(&["openid", "profile"], &[]).await;
    journey.begin(&request).await;
    journey.on_page("/login").await;
    click(browser, "#forgot").await;
    journey.on_page("/password/forgot").await;
    fill(browser, "#account", "alice@example.com").await;
    click(browser, "#send").await;
    journey.on_page("/password/forgot?sent=1").await;
    browser.screenshot("journey-password-forgot").await;
    // The link in the message, followed in the browser.
    let message = decoded(&sink.message(0).await);
    let at = message.find("/password/reset?token=").expect("a link");
    let start = message[..at].rfind("http://").unwrap();
    let link = message[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    browser.client.goto(&link).await.unwrap();
    journey.on_page("/password/reset").await;
    fill(browser, "#password", "a brand new passphrase").await;
    browser.screenshot("journey-password-reset").await;
    click(browser, "#save").await;
    journey.on_page("/login?reason=reset").await;
    // Signed in with the new password, the app's request goes on to consent and back.
    let new_request = journey.request(&["openid", "profile"], &[]).await;
    journey.begin(&new_request).await;
    journey.on_page("/login").await;
    fill(browser, "#username", "alice").await;
    fill(browser, "#password", "a brand new passphrase").await;
    click(browser, "#sign-in").await;
    journey.consent_page().await;
    click(browser, "#approve").await;
    let params = journey.arrival("/cb").await;
    let code = param(&params, "code").unwrap_or_default().to_owned();
    let (subject, _) = journey.redeem(new_request, &code).await;
    assert_eq!(subject, journey.alice.id.as_str());
    journey.browser.close().await;
}

#[tokio::test]
async fn an_address_is_confirmed_and_a_slowed_account_unlocked_by_emailed_links() {
    use tessera_testkit::mail::{SmtpSink, decoded};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    // The server's clock stands still (at the real time, for the browser's cookies): the
    // throttle's first waits (1 s, 2 s, …) do not run out between attempts however slowly a
    // loaded machine drives the browser.
    let clock = tessera_core::FakeClock::at(tessera_core::Clock::now(&tessera_core::SystemClock));
    let app = TestApp::builder()
        .with_clock(clock)
        .with_config(move |c| c.smtp_url = Some(smtp))
        .spawn()
        .await;
    let Some(journey) = Journey::start_on(browser, app).await else {
        return;
    };
    let browser = &journey.browser;
    let link_in = |message: &str, path: &str| {
        let message = decoded(message);
        let at = message.find(path).expect("a link");
        let start = message[..at].rfind("http://").unwrap();
        message[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    // A new address on the account page, confirmed by the button of its emailed link.
    browser
        .client
        .goto(&journey.app.url("/account"))
        .await
        .unwrap();
    journey.sign_in().await;
    journey.on_page("/account").await;
    fill(browser, "#new-email", "alice@new.example").await;
    click(browser, "#change-email").await;
    journey.on_page("/account?notice=email-sent").await;
    let confirm = link_in(&sink.message(0).await, "/email/verify?token=");
    browser.client.goto(&confirm).await.unwrap();
    journey.on_page("/email/verify").await;
    browser.screenshot("journey-email-confirm").await;
    click(browser, "#confirm").await;
    journey.on_page("/account?notice=email-verified").await;
    let status = text_becomes(browser, "#email-status", "alice@new.example — confirmed").await;
    if status != "alice@new.example — confirmed" {
        journey
            .fail(&format!("the address is shown as {status:?}"))
            .await;
    }

    // Later the app asks again (prompt=login); wrong passwords make the account wait.
    let request = journey.request(&["openid"], &[("prompt", "login")]).await;
    journey.begin(&request).await;
    journey.on_page("/login").await;
    let mut slowed = false;
    for _ in 0..8 {
        fill(browser, "#username", "alice").await;
        fill(browser, "#password", "not the password").await;
        click(browser, "#sign-in").await;
        // The answer is the page again, its password field empty: wait for that page.
        for _ in 0..150 {
            let field = browser
                .client
                .find(tessera_testkit::fantoccini::Locator::Css("#password"))
                .await;
            if let Ok(field) = field
                && field.prop("value").await.ok().flatten().as_deref() == Some("")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let error = crate::admin::text(browser, "p.error").await;
        if error.starts_with("Too many failed attempts") {
            slowed = true;
            break;
        }
    }
    if !slowed {
        journey
            .fail("the throttle never made the account wait")
            .await;
    }
    // The unlock link was mailed to the confirmed address; its button lets her in at once.
    let message = sink.message(1).await;
    assert!(message.contains("alice@new.example"), "{message}");
    let unlock = link_in(&message, "/login/unlock?token=");
    browser.client.goto(&unlock).await.unwrap();
    journey.on_page("/login/unlock").await;
    browser.screenshot("journey-unlock").await;
    click(browser, "#unlock").await;
    journey.on_page("/login?reason=unlocked").await;
    let request = journey.request(&["openid"], &[("prompt", "login")]).await;
    journey.begin(&request).await;
    journey.sign_in().await;
    journey.consent_page().await;
    click(browser, "#approve").await;
    let params = journey.arrival("/cb").await;
    let code = param(&params, "code").unwrap_or_default().to_owned();
    let (subject, _) = journey.redeem(request, &code).await;
    assert_eq!(subject, journey.alice.id.as_str());
    journey.browser.close().await;
}

#[tokio::test]
async fn passkeys_added_on_the_account_page_sign_in_from_the_apps_link_alone_and_as_second_step() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    // WebAuthn takes no IP address as RP ID: Tessera is reached as `localhost`, the app stays on
    // 127.0.0.1 — another origin still.
    let app = TestApp::builder().on_localhost().spawn().await;
    let journey = Journey::start_on(browser, app).await.unwrap();
    let browser = &journey.browser;
    let authenticator = browser.add_virtual_authenticator().await;

    // Alice signs in with her password on her account page and adds a passkey.
    browser
        .client
        .goto(&journey.app.url("/account"))
        .await
        .unwrap();
    journey.sign_in().await;
    journey.on_page("/account").await;
    click(browser, "a[href=\"/account/passkeys\"]").await;
    journey.on_page("/account/passkeys").await;
    fill(browser, "#name", "Laptop").await;
    browser.screenshot("journey-passkey-add").await;
    click(browser, "#add-passkey").await;
    journey.on_page("/account/passkeys?notice=added").await;
    let name = crate::admin::element(browser, "#passkeys input[name=name]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("Laptop"));
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1);
    browser.screenshot("journey-passkey-list").await;

    // She signs out; the app sends her to sign in: the passkey alone, no username, then consent.
    let sign_out = journey.app.url("/logout");
    browser.client.goto(&sign_out).await.unwrap();
    if text_becomes(browser, "h1", "Sign out?").await != "Sign out?" {
        journey.fail("no sign-out confirmation").await;
    }
    click(browser, "#sign-out").await;
    // The confirmation and its answer are both at /logout: wait for the answer's heading, or
    // the next navigation races the form's and the browser may end on the answer instead.
    if text_becomes(browser, "h1", "You are signed out").await != "You are signed out" {
        journey.fail("no signed-out page").await;
    }
    journey.assert_signed_out().await;
    let request = journey.request(&["openid", "profile"], &[]).await;
    journey.begin(&request).await;
    journey.on_page("/login").await;
    browser.screenshot("journey-passkey-sign-in").await;
    click(browser, "#passkey-sign-in").await;
    journey.consent_page().await;
    click(browser, "#approve").await;
    let params = journey.arrival("/cb").await;
    let code = param(&params, "code").unwrap_or_default().to_owned();
    let (subject, id_token) = journey.redeem(request, &code).await;
    assert_eq!(subject, journey.alice.id.as_str());
    let claims = crate::token_support::payload(&id_token);
    assert_eq!(claims["acr"], "mfa", "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["hwk", "user", "mfa"]));

    // With prompt=login she types her password: the passkey is asked for as the second step.
    let request = journey
        .request(&["openid", "profile"], &[("prompt", "login")])
        .await;
    journey.begin(&request).await;
    journey.sign_in().await;
    journey.on_page("/login/second-factor").await;
    browser.screenshot("journey-passkey-second-step").await;
    click(browser, "#use-passkey").await;
    let params = journey.arrival("/cb").await;
    let code = param(&params, "code").unwrap_or_default().to_owned();
    let (_, id_token) = journey.redeem(request, &code).await;
    let claims = crate::token_support::payload(&id_token);
    assert_eq!(
        claims["amr"],
        serde_json::json!(["pwd", "hwk", "user", "mfa"])
    );
    journey.browser.close().await;
}

#[tokio::test]
async fn without_javascript_the_sign_in_page_offers_no_passkey_and_passwords_still_work() {
    let Some(browser) = Browser::start_without_javascript().await else {
        return;
    };
    let app = TestApp::builder().on_localhost().spawn().await;
    let journey = Journey::start_on(browser, app).await.unwrap();
    let request = journey.request(&["openid"], &[]).await;
    journey.begin(&request).await;
    journey.on_page("/login").await;
    let button = crate::admin::element(&journey.browser, "#passkey-sign-in").await;
    assert!(
        !button.is_displayed().await.unwrap(),
        "the passkey form stays hidden without its script"
    );
    journey.sign_in().await;
    journey.consent_page().await;
    click(&journey.browser, "#approve").await;
    let params = journey.arrival("/cb").await;
    assert!(param(&params, "code").is_some_and(|c| c.starts_with("tsc_")));
    journey.browser.close().await;
}
