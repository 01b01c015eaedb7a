//! Resource indicators (RFC 8707): two registered resource servers, each with the client it
//! introspects as; tokens asked for one carry its identifier as `aud` and only its scopes, and
//! each resource server is told nothing about the other's tokens — through every grant, the code
//! flow binding its grant to a resource, refresh keeping it, and every refusal (`invalid_target`).

use serde_json::Value;
use tessera_admin::ops::resources::{ResourceInput, ResourceStores, save};
use tessera_core::{
    grant_type::GrantType,
    secret::PlainToken,
    store::{ClientRecord, ScopeRecord, ScopeRepo},
};
use tessera_testkit::{
    TestApp,
    flow::{PASSWORD, REDIRECT, browser, callback_params, decide, get, location, sign_in},
    tokens::{Answer, client_with, payload, token, userinfo},
};

pub(crate) const API_A: &str = "https://a.example/api";
pub(crate) const API_B: &str = "https://b.example/api";

/// The fixture: scopes `a.read` and `b.read`, resource servers A and B owning one each and
/// introspecting as `rs-a` and `rs-b`, and a client `app` that may have both scopes.
struct Apis {
    app: TestApp,
    rs_a: (ClientRecord, PlainToken),
    rs_b: (ClientRecord, PlainToken),
    other: (ClientRecord, PlainToken),
    client: (ClientRecord, PlainToken),
}

async fn apis() -> Apis {
    let app = TestApp::spawn().await;
    let now = app.state.clock.now();
    for name in ["a.read", "b.read"] {
        let scope = ScopeRecord {
            name: name.into(),
            description: String::new(),
            client_credentials: true,
            created_at: now,
        };
        app.state.store.save_scope(&scope).await.unwrap();
    }
    let rs_a = client_with(&app, "rs-a", |_| {}).await;
    let rs_b = client_with(&app, "rs-b", |_| {}).await;
    let other = client_with(&app, "not-a-resource", |_| {}).await;
    let client = client_with(&app, "app", |c| {
        c.grant_types = vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ];
        c.scopes.extend(["a.read".to_owned(), "b.read".to_owned()]);
    })
    .await;
    let stores = ResourceStores {
        resources: app.state.store.as_ref(),
        scopes: app.state.store.as_ref(),
        clients: app.state.store.as_ref(),
    };
    for (identifier, scope, rs) in [(API_A, "a.read", "rs-a"), (API_B, "b.read", "rs-b")] {
        let input = ResourceInput {
            identifier,
            name: rs,
            scopes: scope,
            client_id: Some(rs),
        };
        save(stores, &input, now).await.unwrap();
    }
    Apis {
        app,
        rs_a,
        rs_b,
        other,
        client,
    }
}

async fn introspect(app: &TestApp, by: &(ClientRecord, PlainToken), access: &str) -> Value {
    tessera_testkit::tokens::introspect(app, by, access).await
}

async fn service_token(apis: &Apis, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("scope", "a.read b.read"),
    ];
    form.extend_from_slice(extra);
    token(&apis.app, &apis.client, &form).await
}

#[tokio::test]
async fn two_resource_servers_each_refuse_the_others_tokens() {
    let apis = apis().await;
    let app = &apis.app;

    let for_a = service_token(&apis, &[("resource", API_A)]).await;
    assert_eq!(for_a.status, 200, "{:?}", for_a.body);
    assert_eq!(for_a.body["scope"], "a.read", "narrowed to A's scopes");
    let a_token = for_a.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&a_token)["aud"], API_A);
    let for_b = service_token(&apis, &[("resource", API_B)]).await;
    let b_token = for_b.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&b_token)["aud"], API_B);
    assert_eq!(for_b.body["scope"], "b.read");

    // Each resource server hears only about its own tokens.
    let seen = introspect(app, &apis.rs_a, &a_token).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], API_A);
    assert_eq!(seen["scope"], "a.read");
    assert_eq!(
        introspect(app, &apis.rs_b, &a_token).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(introspect(app, &apis.rs_b, &b_token).await["active"], true);
    assert_eq!(
        introspect(app, &apis.rs_a, &b_token).await,
        serde_json::json!({"active": false})
    );
    // A client that is no resource server is answered as before (RFC 7662 for any client).
    assert_eq!(introspect(app, &apis.other, &a_token).await["active"], true);

    // A token without a resource keeps the issuer's audience: not one for A or B.
    let plain = service_token(&apis, &[]).await;
    let plain_token = plain.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&plain_token)["aud"], app.issuer);
    assert_eq!(plain.body["scope"], "a.read b.read");
    assert_eq!(
        introspect(app, &apis.rs_a, &plain_token).await["active"],
        false
    );
    assert_eq!(
        introspect(app, &apis.other, &plain_token).await["active"],
        true
    );

    // A resource's token is not this server's: /userinfo refuses it.
    let refused = userinfo(app, &a_token).await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);

    // Removing a resource server ends its tokens.
    tessera_admin::ops::resources::delete(app.state.store.as_ref(), API_A)
        .await
        .unwrap();
    assert_eq!(
        introspect(app, &apis.other, &a_token).await["active"],
        false
    );
    service_token(&apis, &[("resource", API_A)])
        .await
        .assert_error(400, "invalid_target", "a removed resource");
}

#[tokio::test]
async fn unknown_malformed_repeated_and_scope_less_resources_are_invalid_target() {
    let apis = apis().await;
    let form = |resource: &'static str| [("resource", resource)];
    for (resource, what) in [
        ("https://unknown.example/api", "an unregistered resource"),
        ("https://a.example/api#frag", "a fragment"),
        ("a.example/api", "not an absolute URI"),
    ] {
        service_token(&apis, &form(resource))
            .await
            .assert_error(400, "invalid_target", what);
    }
    // Two resources in one request.
    let body = format!(
        "grant_type=client_credentials&resource={}&resource={}",
        urlencode(API_A),
        urlencode(API_B)
    );
    let twice = apis
        .app
        .http
        .post(apis.app.url("/token"))
        .basic_auth("app", Some(apis.client.1.expose()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let twice = tessera_testkit::tokens::answer(twice).await;
    twice.assert_error(400, "invalid_target", "two resources");
    // A pushed request (RFC 9126) is checked the same way.
    let challenge = challenge();
    let pushed = tessera_testkit::tokens::post_form(
        &apis.app,
        "/par",
        Some(("app", apis.client.1.expose())),
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid a.read"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", "https://unknown.example/api"),
        ],
    )
    .await;
    pushed.assert_error(400, "invalid_target", "an unregistered resource pushed");
    // B owns b.read only: a token asked with a.read alone has nothing for it.
    token(
        &apis.app,
        &apis.client,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "a.read"),
            ("resource", API_B),
        ],
    )
    .await
    .assert_error(400, "invalid_target", "no granted scope is B's");
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Runs the code flow for `app` with `extra` authorization parameters; the redirect back.
async fn authorize(apis: &Apis, extra: &[(&str, &str)]) -> String {
    let app = &apis.app;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", "app")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid a.read b.read offline_access")
        .append_pair("state", "st")
        .append_pair("code_challenge", &challenge())
        .append_pair("code_challenge_method", "S256");
    for (name, value) in extra {
        query.append_pair(name, value);
    }
    let alice = browser();
    let first = get(app, &alice, &format!("/authorize?{}", query.finish())).await;
    let to = location(&first);
    if !to.starts_with("/login") {
        return to;
    }
    let back = sign_in(app, &alice, &to, "alice").await;
    let resumed = get(app, &alice, &back).await;
    if resumed.status().is_redirection() {
        // Consent remembered from an earlier round: straight back to the app.
        return location(&resumed);
    }
    let consent = resumed.text().await.unwrap();
    location(&decide(app, &alice, &consent, "approve").await)
}

/// Redeems `code` for `app`, naming `resource` when given.
async fn redeem(apis: &Apis, code: &str, resource: Option<&str>) -> Answer {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    if let Some(resource) = resource {
        form.push(("resource", resource));
    }
    token(&apis.app, &apis.client, &form).await
}

const VERIFIER: &str = "resource-indicators-verifier-0123456789-0123456789";

fn challenge() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

#[tokio::test]
async fn the_code_flow_binds_its_grant_to_the_resource_and_refresh_keeps_it() {
    let apis = apis().await;
    let app = &apis.app;
    app.with_user("alice", PASSWORD, false).await;

    // An unregistered resource is refused at /authorize, back at the client.
    let refused = authorize(&apis, &[("resource", "https://unknown.example/api")]).await;
    let params = callback_params(&refused);
    assert_eq!(params["error"], "invalid_target", "{params:?}");
    assert_eq!(params["state"], "st");

    let back = authorize(&apis, &[("resource", API_A)]).await;
    let code = callback_params(&back)["code"].clone();
    // Another resource than the authorized one: refused, and the code is still good.
    redeem(&apis, &code, Some(API_B)).await.assert_error(
        400,
        "invalid_target",
        "not the grant's resource",
    );
    let tokens = redeem(&apis, &code, None).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    let access = tokens.body["access_token"].as_str().unwrap();
    assert_eq!(payload(access)["aud"], API_A);
    assert_eq!(tokens.body["scope"], "a.read");
    assert_eq!(introspect(app, &apis.rs_a, access).await["active"], true);
    assert_eq!(introspect(app, &apis.rs_b, access).await["active"], false);
    // The ID token is the client's, as ever.
    let id_token = tokens.body["id_token"].as_str().unwrap();
    assert_eq!(payload(id_token)["aud"], serde_json::json!(["app"]));

    // Refresh: the grant stays A's.
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    token(
        app,
        &apis.client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("resource", API_B),
        ],
    )
    .await
    .assert_error(400, "invalid_target", "refresh for another resource");
    let refreshed = token(
        app,
        &apis.client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ],
    )
    .await;
    assert_eq!(
        refreshed.status, 200,
        "the refused refresh did not use it up: {:?}",
        refreshed.body
    );
    assert_eq!(
        payload(refreshed.body["access_token"].as_str().unwrap())["aud"],
        API_A
    );

    // A grant without a resource: each refresh may ask for one, or keep the issuer's audience.
    let back = authorize(&apis, &[]).await;
    let code = callback_params(&back)["code"].clone();
    let tokens = redeem(&apis, &code, None).await;
    assert_eq!(
        payload(tokens.body["access_token"].as_str().unwrap())["aud"],
        app.issuer
    );
    let refresh = tokens.body["refresh_token"].as_str().unwrap();
    let for_b = token(
        app,
        &apis.client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("resource", API_B),
        ],
    )
    .await;
    assert_eq!(for_b.status, 200, "{:?}", for_b.body);
    assert_eq!(for_b.body["scope"], "b.read");
    let b_access = for_b.body["access_token"].as_str().unwrap();
    assert_eq!(introspect(app, &apis.rs_b, b_access).await["active"], true);
}

#[tokio::test]
async fn the_console_and_the_cli_register_resource_servers_by_one_rule() {
    let apis = apis().await;
    let app = &apis.app;
    let admin = crate::operations::admin_browser(app).await;
    // Refused with the reason, the input kept.
    let page = get(app, &admin, "/admin/resources")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(API_A) && page.contains(API_B), "{page}");
    let csrf = tessera_testkit::html::hidden(&page, "csrf_token").unwrap();
    let refused = admin
        .post(app.url("/admin/resources"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("identifier", "https://c.example/api"),
            ("name", "C"),
            ("scopes", "c.write"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("the scope c.write is not registered"),
        "{refused}"
    );
    assert!(
        refused.contains("value=\"https://c.example/api\""),
        "input kept"
    );
    let saved = admin
        .post(app.url("/admin/resources"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("identifier", "https://c.example/api"),
            ("name", "C"),
            ("scopes", "a.read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&saved), "/admin/resources?notice=saved");

    // The CLI refuses what the console refuses and lists what the console saved.
    let (ok, _, stderr) = crate::operations::cli(
        app,
        &[
            "resource-server",
            "add",
            "http://d.example/api",
            "--name",
            "D",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("a resource URI is https"), "{stderr}");
    let (ok, _, stderr) = crate::operations::cli(
        app,
        &[
            "resource-server",
            "add",
            "https://d.example/api",
            "--name",
            "D",
            "--introspect-as",
            "rs-a",
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("another resource server introspects as this client"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = crate::operations::cli(app, &["resource-server", "list", "--json"]);
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let identifiers: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(identifiers, [API_A, API_B, "https://c.example/api"]);
    let (ok, _, stderr) =
        crate::operations::cli(app, &["resource-server", "remove", "https://c.example/api"]);
    assert!(ok, "{stderr}");
    // The running server hears of the CLI's change (on SQLite within a poll of 250 ms).
    let mut status = 0;
    for _ in 0..50 {
        let answer = service_token(&apis, &[("resource", "https://c.example/api")]).await;
        status = answer.status;
        if answer.status == 400 {
            answer.assert_error(400, "invalid_target", "removed by the CLI");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 400, "the CLI's removal reached the server");
}
