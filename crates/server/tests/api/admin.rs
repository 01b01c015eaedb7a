//! The admin console: in a real headless Chromium (sign in, register a client and see its secret
//! once, edit redirect URIs, rotate the secret, delete), and its refusals (no CSRF token,
//! non-admins, signed-out POSTs).

use tessera_core::{
    secret::TokenHash,
    store::{AuditRepo, ClientRepo},
};
use tessera_testkit::fantoccini::Locator;
use tessera_testkit::{TestApp, browser::Browser};

const PASSWORD: &str = "correct horse battery";

pub(crate) const PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

pub(crate) async fn element(
    browser: &Browser,
    css: &str,
) -> tessera_testkit::fantoccini::elements::Element {
    browser
        .client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap()
}

pub(crate) async fn text(browser: &Browser, css: &str) -> String {
    element(browser, css).await.text().await.unwrap()
}

/// Waits until the element's text is `expected` (the page may still be navigating).
pub(crate) async fn text_becomes(browser: &Browser, css: &str, expected: &str) -> String {
    for _ in 0..150 {
        if let Ok(found) = browser.client.find(Locator::Css(css)).await
            && let Ok(text) = found.text().await
            && text == expected
        {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    text(browser, css).await
}

pub(crate) async fn fill(browser: &Browser, css: &str, value: &str) {
    let element = element(browser, css).await;
    element.clear().await.unwrap();
    element.send_keys(value).await.unwrap();
}

pub(crate) async fn click(browser: &Browser, css: &str) {
    element(browser, css).await.click().await.unwrap();
}

/// Waits (up to 15 s) until the browser is at `expected`, then returns it; otherwise returns
/// wherever it is, for the assertion to show.
pub(crate) async fn arrive(browser: &Browser, expected: &str) -> String {
    for _ in 0..150 {
        let current = path(browser).await;
        if current == expected {
            return current;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    path(browser).await
}

pub(crate) async fn path(browser: &Browser) -> String {
    let url = browser.client.current_url().await.unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

#[tokio::test]
async fn an_admin_manages_a_client_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;

    // Signed out, the console sends the browser to the sign-in page.
    browser.client.goto(&app.url("/admin")).await.unwrap();
    assert!(
        path(&browser).await.starts_with("/login?return_to="),
        "{}",
        path(&browser).await
    );
    browser.screenshot("login").await;
    fill(&browser, "#username", "root").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#sign-in").await;
    // The console opens on its dashboard; its navigation leads to the clients.
    assert_eq!(arrive(&browser, "/admin").await, "/admin");
    assert_eq!(text(&browser, "h1").await, "Dashboard");
    click(&browser, "nav a[href=\"/admin/clients\"]").await;
    assert_eq!(arrive(&browser, "/admin/clients").await, "/admin/clients");
    let current = element(&browser, "nav a[aria-current=page]").await;
    assert_eq!(current.text().await.unwrap(), "Clients");

    // Register a client: its secret is shown once and only its hash is stored.
    fill(&browser, "#client_name", "Browser <App>").await;
    fill(
        &browser,
        "#redirect_uris",
        "https://browser.example.com/cb\nhttp://127.0.0.1:7000/cb",
    )
    .await;
    click(&browser, "#create").await;
    let secret = text(&browser, "#shown-once").await;
    assert!(secret.starts_with("tss_"), "{secret}");
    browser.screenshot("client-secret-shown-once").await;
    // A reload shows the secret no more and registers nothing (post/redirect/get).
    browser.client.refresh().await.unwrap();
    assert_eq!(
        text(&browser, "#shown-before").await,
        "To get a new one, rotate the client secret or create another token."
    );
    let clients = app.state.store.list_clients(None, 10).await.unwrap();
    assert_eq!(clients.len(), 1);
    let client = &clients[0];
    assert_eq!(client.client_name.as_deref(), Some("Browser <App>"));
    assert_eq!(client.secret_hash, Some(TokenHash::of(&secret)));
    let id = client.client_id.clone();

    // The client page shows the name as text, never as markup.
    browser
        .client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::LinkText("Continue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        text_becomes(&browser, "h1", "Browser <App>").await,
        "Browser <App>"
    );
    assert!(
        !text(&browser, "main").await.contains(&secret),
        "the secret is not shown again"
    );

    // Edit the redirect URIs, and give the client a shorter access token lifetime.
    fill(
        &browser,
        "#redirect_uris",
        "https://browser.example.com/new-cb",
    )
    .await;
    fill(&browser, "#access_token_ttl", "300").await;
    click(&browser, "#save").await;
    let saved = format!("/admin/clients/{id}?notice=saved");
    assert_eq!(arrive(&browser, &saved).await, saved);
    let stored = app.state.store.find_client(&id).await.unwrap().unwrap();
    assert_eq!(stored.redirect_uris, ["https://browser.example.com/new-cb"]);
    assert_eq!(stored.access_token_ttl, Some(300));
    assert_eq!(stored.refresh_token_ttl, None);

    // Rotate the secret: a new one, shown once; the old one no longer matches.
    click(&browser, "#rotate-secret").await;
    let rotated = text(&browser, "#shown-once").await;
    assert_ne!(rotated, secret);
    let stored = app.state.store.find_client(&id).await.unwrap().unwrap();
    assert!(stored.secret_hash.as_ref().unwrap().verify(&rotated));
    assert!(!stored.secret_hash.as_ref().unwrap().verify(&secret));

    // The other pages render for an admin.
    for page in [
        "/admin/registration-tokens",
        "/admin/users",
        "/admin/keys",
        "/admin/audit",
    ] {
        browser.client.goto(&app.url(page)).await.unwrap();
        assert_eq!(arrive(&browser, page).await, page);
        if page == "/admin/keys" {
            let store = text(&browser, "#key-store").await;
            assert!(
                store.starts_with("Kept in the key folder "),
                "the keys page names the store: {store}"
            );
            browser.screenshot("keys").await;
        }
    }
    browser.screenshot("audit-log").await;

    // Delete.
    browser
        .client
        .goto(&app.url(&format!("/admin/clients/{id}")))
        .await
        .unwrap();
    browser.screenshot("client-page").await;
    click(&browser, "#delete").await;
    assert_eq!(
        arrive(&browser, "/admin/clients?notice=deleted").await,
        "/admin/clients?notice=deleted"
    );
    assert!(app.state.store.find_client(&id).await.unwrap().is_none());

    let kinds: Vec<String> = app
        .state
        .store
        .recent_events(Some(id.as_str()), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "client.deleted",
            "client.secret_rotated",
            "client.updated",
            "client.created"
        ]
    );
    browser.close().await;
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    browser
        .client
        .goto(&app.url("/login?return_to=%2Fadmin%2Fclients"))
        .await
        .unwrap();
    fill(&browser, "#username", "root").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#sign-in").await;
    assert_eq!(arrive(&browser, "/admin/clients").await, "/admin/clients");

    // Strip the hidden field, then submit the real form.
    browser
        .client
        .execute(
            "document.querySelector('#create-client input[name=csrf_token]').remove();",
            vec![],
        )
        .await
        .unwrap();
    fill(&browser, "#client_name", "Forged").await;
    fill(&browser, "#redirect_uris", "https://forged.example.com/cb").await;
    click(&browser, "#create").await;
    assert_eq!(
        text_becomes(&browser, "h1", "Request refused").await,
        "Request refused"
    );
    // The one shared refused page says nothing was changed, and the page breaks no policy.
    let says = browser
        .client
        .find(Locator::Css("p"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(says.contains("nothing was changed"), "{says}");
    browser.screenshot("csrf-refused").await;
    let console = browser.console().await;
    assert!(
        !console
            .iter()
            .any(|line| line.contains("Content Security Policy")),
        "{console:?}"
    );
    assert!(
        app.state
            .store
            .list_clients(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    browser.close().await;
}

#[tokio::test]
async fn a_non_admin_is_refused_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    browser.client.goto(&app.url("/admin/users")).await.unwrap();
    fill(&browser, "#username", "alice").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#sign-in").await;
    assert_eq!(
        text_becomes(&browser, "h1", "Not allowed").await,
        "Not allowed"
    );
    browser.close().await;
}

/// Form bodies and sign-in over plain HTTP (a cookie-keeping client), for the refusals.
async fn signed_in(app: &TestApp, username: &str, return_to: &str) -> String {
    let page = app
        .get(&format!("/login?return_to={}", urlencode(return_to)))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let response = app
        .http
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("return_to", return_to),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    // Signing in rotated the CSRF secret: the token for the next form comes from the page
    // the admin lands on.
    let landed = app.get(return_to).await.text().await.unwrap();
    hidden(&landed, "csrf_token")
}

fn urlencode(text: &str) -> String {
    url_encode(text)
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap() + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn signed_out_the_console_sends_pages_to_sign_in_and_refuses_posts() {
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    app.with_user("alice", PASSWORD, false).await;

    // Signed out: pages redirect to sign-in, POSTs are refused and change nothing.
    let page = app.get("/admin/clients").await;
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"],
        "/login?return_to=%2Fadmin%2Fclients"
    );
    let csrf = hidden(&app.get("/login").await.text().await.unwrap(), "csrf_token");
    let post = app
        .http
        .post(app.url("/admin/clients"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("client_name", "x"),
            ("redirect_uris", "https://x.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403);
}

#[tokio::test]
async fn an_admin_creates_only_with_the_right_csrf_token() {
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    app.with_user("alice", PASSWORD, false).await;

    // An admin with the right token creates; without it, or with a wrong one, nothing happens.
    let csrf = signed_in(&app, "root", "/admin/clients").await;
    for token in [None, Some("tsb_wrong")] {
        let mut form = vec![
            ("client_name", "x"),
            ("redirect_uris", "https://x.example/cb"),
        ];
        if let Some(token) = token {
            form.push(("csrf_token", token));
        }
        let refused = app
            .http
            .post(app.url("/admin/clients"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{token:?}");
    }
    assert!(
        app.state
            .store
            .list_clients(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let created = app
        .http
        .post(app.url("/admin/clients"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("client_name", "ok"),
            ("redirect_uris", "https://x.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    // Post/redirect/get: the secret is shown once on a page of its own, and reloading that
    // page neither shows it again nor registers another client.
    assert_eq!(created.status(), 303);
    let shown = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        shown.starts_with("/admin/shown-once?made=client-created&id="),
        "{shown}"
    );
    let cookie = created
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_shown_once="))
        .unwrap();
    for attribute in [
        "Path=/admin/shown-once",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=300",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let page = app.get(&shown).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let secret = page
        .split("<code id=\"shown-once\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap();
    assert!(secret.starts_with("tss_"), "{page}");
    let reloaded = app.get(&shown).await;
    assert_eq!(reloaded.status(), 410);
    assert!(
        !reloaded.text().await.unwrap().contains(secret),
        "shown once"
    );
    assert_eq!(
        app.state.store.list_clients(None, 10).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn the_admin_cookie_is_strict_and_the_sign_in_cookie_lax() {
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    app.with_user("alice", PASSWORD, false).await;

    // The admin cookie is Strict; the sign-in cookie is Lax (both Path=/, as `__Host-` needs
    // with an https issuer).
    let fresh = TestApp::builder().sharing_with(&app).spawn().await;
    let page = fresh
        .get("/login?return_to=%2Fadmin")
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let response = fresh
        .http
        .post(fresh.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("return_to", "/admin"),
            ("username", "root"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let admin = cookies
        .iter()
        .find(|c| c.starts_with("tessera_admin="))
        .expect("admin cookie");
    assert!(
        admin.contains("HttpOnly")
            && admin.contains("SameSite=Strict")
            && admin.split(';').any(|part| part.trim() == "Path=/"),
        "{admin}"
    );
    let session = cookies
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
}

#[tokio::test]
async fn sign_in_only_ever_redirects_to_a_local_path() {
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    app.with_user("alice", PASSWORD, false).await;

    // Sign-in only ever redirects to a local path.
    for evil in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let other = TestApp::builder().sharing_with(&app).spawn().await;
        let page = other.get("/login").await.text().await.unwrap();
        let csrf = hidden(&page, "csrf_token");
        let response = other
            .http
            .post(other.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("return_to", evil),
                ("username", "alice"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["location"], "/", "{evil}");
    }
}

#[tokio::test]
async fn a_wrong_password_says_nothing_about_whether_the_user_exists() {
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    app.with_user("alice", PASSWORD, false).await;

    // A wrong password says nothing about whether the user exists.
    let page = app.get("/login").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf_token");
    let mut bodies = Vec::new();
    for username in ["alice", "nobody-by-this-name"] {
        let body = app
            .http
            .post(app.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("return_to", "/"),
                ("username", username),
                ("password", "wrong password"),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        bodies.push(body.replace(username, "USER"));
    }
    assert_eq!(bodies[0], bodies[1]);
    assert!(bodies[0].contains("Wrong username or password."));
}
