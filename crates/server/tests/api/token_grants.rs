//! `client_credentials` and the JWT bearer grant (RFC 7523 §2.1): the client asserting itself,
//! and an admin-trusted external issuer asserting a user; every refusal of §3.

use std::sync::Arc;

use serde_json::{Value, json};
use tempfile::TempDir;
use tessera_core::{
    ClientId, SigningAlg, SystemClock,
    secret::random_id,
    store::{AuditRepo, ClientRecord, TrustedIssuerRecord, TrustedIssuerRepo},
};
use tessera_keys::{KeyFolder, Keys};
use tessera_testkit::TestApp;

use crate::{
    code_flow::PASSWORD,
    token_support::{b64url, client_with, header, introspect, payload, token, userinfo},
};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Someone else's signing keys (a client's, an external issuer's).
fn foreign_keys() -> (Keys, TempDir) {
    let dir = TempDir::new().unwrap();
    let keys = Keys::open(KeyFolder::new(dir.path(), None), Arc::new(SystemClock)).unwrap();
    (keys, dir)
}

fn jwks_value(keys: &Keys) -> Value {
    serde_json::to_value(keys.jwks()).unwrap()
}

fn assertion_claims(app: &TestApp, iss: &str, sub: &str) -> Value {
    let now = app.state.clock.now().timestamp();
    json!({
        "iss": iss,
        "sub": sub,
        "aud": app.url("/token"),
        "iat": now,
        "exp": now + 120,
        "jti": random_id(),
    })
}

async fn bearer(
    app: &TestApp,
    client: &(ClientRecord, tessera_core::secret::PlainToken),
    assertion: &str,
    scope: Option<&str>,
) -> crate::token_support::Answer {
    let mut form = vec![("grant_type", JWT_BEARER), ("assertion", assertion)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token(app, client, &form).await
}

#[tokio::test]
async fn client_credentials_issue_a_stateless_token_about_the_client() {
    let app = TestApp::spawn().await;
    let service = client_with(&app, "service", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
        c.response_types = vec![];
        c.redirect_uris = vec![];
        c.scopes = ["openid", "api.read", "api.write"]
            .map(String::from)
            .to_vec();
        c.access_token_signed_alg = Some(SigningAlg::ES256);
        c.access_token_ttl = Some(300);
    })
    .await;
    let grants_before = grant_count(&app, "service").await;
    let events_before = app
        .state
        .store
        .recent_events(None, None, 1000)
        .await
        .unwrap()
        .len();

    let all = token(&app, &service, &[("grant_type", "client_credentials")]).await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(
        all.body["scope"], "api.read api.write",
        "user scopes never apply"
    );
    assert!(all.body.get("refresh_token").is_none() && all.body.get("id_token").is_none());
    assert_eq!(all.body["expires_in"], 300, "per-client lifetime");
    let access = all.body["access_token"].as_str().unwrap();
    assert_eq!(header(access)["alg"], "ES256", "per-client algorithm");
    assert_eq!(header(access)["typ"], "at+jwt");
    let claims = payload(access);
    assert_eq!(claims["sub"], "service");
    assert_eq!(claims["client_id"], "service");
    assert!(claims.get("auth_time").is_none() && claims.get("grant_id").is_none());

    let read = token(
        &app,
        &service,
        &[("grant_type", "client_credentials"), ("scope", "api.read")],
    )
    .await;
    assert_eq!(read.body["scope"], "api.read");
    for refused in ["api.admin", "openid", "api.read  api.write"] {
        token(
            &app,
            &service,
            &[("grant_type", "client_credentials"), ("scope", refused)],
        )
        .await
        .assert_error(400, "invalid_scope", refused);
    }
    // No database write on success: no grant, no audit event.
    assert_eq!(grant_count(&app, "service").await, grants_before);
    let events_after = app
        .state
        .store
        .recent_events(None, None, 1000)
        .await
        .unwrap()
        .len();
    assert_eq!(
        events_after, events_before,
        "successes are counted in metrics only"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"tessera_tokens_issued_total{grant_type="client_credentials"} 2"#),
        "{metrics}"
    );
    // A client-credentials token is about no user: introspection says so, userinfo refuses.
    let seen = introspect(&app, &service, access).await;
    assert_eq!(
        (seen["active"].clone(), seen["sub"].clone()),
        (json!(true), json!("service"))
    );
    assert!(seen.get("username").is_none());
    assert_eq!(userinfo(&app, access).await.status, 403);
}

async fn grant_count(app: &TestApp, client: &str) -> usize {
    use tessera_core::store::GrantAdminRepo;
    app.state
        .store
        .list_client_grants(&ClientId::new(client), None, None, 1000)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_client_asserts_itself_with_its_registered_keys() {
    let app = TestApp::spawn().await;
    let (keys, _dir) = foreign_keys();
    let client = client_with(&app, "robot", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::JwtBearer];
        c.scopes = ["api.read", "api.write"].map(String::from).to_vec();
        c.jwks = Some(jwks_value(&keys));
        c.token_endpoint_auth_signing_alg = Some(SigningAlg::ES256);
    })
    .await;
    let claims = assertion_claims(&app, "robot", "robot");
    let assertion = keys.sign(SigningAlg::ES256, "JWT", &claims).unwrap();
    let ok = bearer(&app, &client, &assertion, Some("api.read")).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(
        payload(ok.body["access_token"].as_str().unwrap())["sub"],
        "robot"
    );
    assert!(ok.body.get("refresh_token").is_none(), "no refresh token");
    bearer(&app, &client, &assertion, None).await.assert_error(
        400,
        "invalid_grant",
        "jti replayed",
    );
    // Pinned alg: an RS256 assertion from the same key set is refused.
    let rs = keys
        .sign(
            SigningAlg::RS256,
            "JWT",
            &assertion_claims(&app, "robot", "robot"),
        )
        .unwrap();
    bearer(&app, &client, &rs, None)
        .await
        .assert_error(400, "invalid_grant", "alg not pinned");
    // sub must be the client.
    let other_sub = keys
        .sign(
            SigningAlg::ES256,
            "JWT",
            &assertion_claims(&app, "robot", "someone"),
        )
        .unwrap();
    bearer(&app, &client, &other_sub, None).await.assert_error(
        400,
        "invalid_grant",
        "sub is not the client",
    );
}

#[tokio::test]
async fn a_trusted_issuer_asserts_a_user_within_what_the_admin_allowed() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    app.with_user("bob", PASSWORD, false).await;
    let (idp, _dir) = foreign_keys();
    let (stranger, _dir2) = foreign_keys();
    let client = client_with(&app, "gateway", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::JwtBearer];
        c.scopes = ["openid", "profile", "api.read"].map(String::from).to_vec();
    })
    .await;
    let outsider = client_with(&app, "outsider", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::JwtBearer];
        c.scopes = ["openid", "api.read"].map(String::from).to_vec();
    })
    .await;
    let now = app.state.clock.now();
    let mut trusted = TrustedIssuerRecord {
        id: random_id(),
        issuer: "https://idp.example".into(),
        jwks: Some(jwks_value(&idp)),
        jwks_uri: None,
        allowed_algs: vec![SigningAlg::RS256],
        allowed_subjects: vec!["alice".into()],
        allowed_scopes: ["openid", "api.read"].map(String::from).to_vec(),
        allowed_clients: vec![ClientId::new("gateway")],
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    app.state
        .store
        .create_trusted_issuer(&trusted)
        .await
        .unwrap();
    let sign = |claims: &Value| idp.sign(SigningAlg::RS256, "JWT", claims).unwrap();
    let base = || assertion_claims(&app, "https://idp.example", "alice");

    let ok = bearer(&app, &client, &sign(&base()), None).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(
        ok.body["scope"], "openid api.read",
        "issuer's scopes ∩ client's"
    );
    let access = ok.body["access_token"].as_str().unwrap();
    assert_eq!(
        payload(access)["sub"],
        alice.id.as_str(),
        "mapped to the local user"
    );
    assert_eq!(userinfo(&app, access).await.body["sub"], alice.id.as_str());

    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = base();
        change(&mut claims);
        sign(&claims)
    };
    let now_s = now.timestamp();
    let refusals: Vec<(&str, String)> = vec![
        (
            "wrong aud",
            with(&|c| c["aud"] = json!("https://elsewhere.example/token")),
        ),
        ("expired", with(&|c| c["exp"] = json!(now_s - 120))),
        (
            "exp too far ahead",
            with(&|c| c["exp"] = json!(now_s + 7200)),
        ),
        (
            "no exp",
            with(&|c| drop(c.as_object_mut().unwrap().remove("exp"))),
        ),
        (
            "nbf in the future",
            with(&|c| c["nbf"] = json!(now_s + 300)),
        ),
        (
            "iat in the future",
            with(&|c| c["iat"] = json!(now_s + 300)),
        ),
        (
            "no jti",
            with(&|c| drop(c.as_object_mut().unwrap().remove("jti"))),
        ),
        ("subject not allowed", with(&|c| c["sub"] = json!("bob"))),
        (
            "unknown issuer",
            with(&|c| c["iss"] = json!("https://other.example")),
        ),
        (
            "alg not allowed (ES256)",
            idp.sign(SigningAlg::ES256, "JWT", &base()).unwrap(),
        ),
        (
            "unknown key",
            stranger.sign(SigningAlg::RS256, "JWT", &base()).unwrap(),
        ),
        ("tampered", {
            let jws = sign(&base());
            let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
            let mut claims = base();
            claims["sub"] = json!("alice");
            claims["scope"] = json!("admin");
            parts[1] = b64url(&serde_json::to_vec(&claims).unwrap());
            parts.join(".")
        }),
        ("garbage", "not.a.jwt".into()),
    ];
    for (what, assertion) in &refusals {
        bearer(&app, &client, assertion, None)
            .await
            .assert_error(400, "invalid_grant", what);
    }
    bearer(&app, &outsider, &sign(&base()), None)
        .await
        .assert_error(400, "invalid_grant", "client not allowed for this issuer");
    bearer(&app, &client, &sign(&base()), Some("profile"))
        .await
        .assert_error(400, "invalid_scope", "scope beyond the issuer's");
    trusted.enabled = false;
    app.state
        .store
        .update_trusted_issuer(&trusted)
        .await
        .unwrap();
    bearer(&app, &client, &sign(&base()), None)
        .await
        .assert_error(400, "invalid_grant", "disabled issuer");
    let events = app
        .state
        .store
        .recent_events(Some("gateway"), None, 50)
        .await
        .unwrap();
    let refused = events
        .iter()
        .filter(|e| e.kind == "jwt_bearer.refused")
        .count();
    assert!(refused >= refusals.len(), "{refused} audited");
}

#[tokio::test]
async fn an_admin_trusts_an_issuer_in_the_console_and_its_assertions_work() {
    use tessera_testkit::browser::Browser;

    use crate::admin::{arrive, click, element, fill, path, text};

    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let gateway = client_with(&app, "gateway", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::JwtBearer];
        c.scopes = ["openid", "api.read"].map(String::from).to_vec();
    })
    .await;
    let (idp, _dir) = foreign_keys();

    browser
        .client
        .goto(&app.url("/admin/trusted-issuers"))
        .await
        .unwrap();
    assert!(path(&browser).await.starts_with("/login?return_to="));
    fill(&browser, "#username", "root").await;
    fill(&browser, "#password", PASSWORD).await;
    click(&browser, "#sign-in").await;
    assert_eq!(
        arrive(&browser, "/admin/trusted-issuers").await,
        "/admin/trusted-issuers"
    );
    // A refusal first: a client that is not registered for the grant.
    fill(&browser, "#issuer", "https://idp.example").await;
    fill(&browser, "#jwks", &jwks_value(&idp).to_string()).await;
    fill(&browser, "#subjects", "alice").await;
    fill(&browser, "#scopes", "openid api.read").await;
    fill(&browser, "#clients", "nobody").await;
    click(&browser, "#create-issuer").await;
    assert!(text(&browser, "#error").await.contains("no client nobody"));
    assert!(
        text(&browser, "p.error#notice")
            .await
            .contains("not accepted")
    );
    assert!(
        app.state
            .store
            .list_trusted_issuers()
            .await
            .unwrap()
            .is_empty()
    );
    // What was typed is still there: only the wrong client needs changing.
    for (field, typed) in [
        ("#issuer", "https://idp.example"),
        ("#subjects", "alice"),
        ("#scopes", "openid api.read"),
        ("#clients", "nobody"),
    ] {
        let value = element(&browser, field).await.prop("value").await.unwrap();
        assert_eq!(value.as_deref(), Some(typed), "{field}");
    }
    let jwks = element(&browser, "#jwks")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(jwks, Some(jwks_value(&idp).to_string()));
    fill(&browser, "#clients", "gateway").await;
    click(&browser, "#create-issuer").await;
    assert_eq!(
        arrive(&browser, "/admin/trusted-issuers?notice=created").await,
        "/admin/trusted-issuers?notice=created"
    );
    assert!(
        text(&browser, "#issuers")
            .await
            .contains("https://idp.example")
    );
    browser.screenshot("trusted-issuers").await;

    let assertion = || {
        idp.sign(
            SigningAlg::RS256,
            "JWT",
            &assertion_claims(&app, "https://idp.example", "alice"),
        )
        .unwrap()
    };
    let ok = bearer(&app, &gateway, &assertion(), None).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(
        payload(ok.body["access_token"].as_str().unwrap())["sub"],
        alice.id.as_str()
    );

    // Disable it in the console: its assertions are refused.
    click(&browser, "#issuers form[action$='/toggle'] button").await;
    assert_eq!(
        arrive(&browser, "/admin/trusted-issuers?notice=updated").await,
        "/admin/trusted-issuers?notice=updated"
    );
    bearer(&app, &gateway, &assertion(), None)
        .await
        .assert_error(400, "invalid_grant", "disabled in the console");
    let events = app.state.store.recent_events(None, None, 50).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "trusted_issuer.created"
        && e.actor.as_deref() == Some("admin:root")));
}

#[tokio::test]
async fn a_client_disabled_elsewhere_is_refused_once_the_client_cache_expires() {
    use tessera_core::store::ClientRepo;

    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let service = client_with(&app, "service", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
        c.scopes = vec!["api".into()];
    })
    .await;
    let form = [("grant_type", "client_credentials")];
    assert_eq!(token(&app, &service, &form).await.status, 200);
    // Another instance (or the CLI) disables it: this instance sees it within the cache
    // lifetime (TESSERA_CLIENT_CACHE_TTL, 2 s by default).
    app.state
        .store
        .set_client_enabled(&service.0.client_id, false)
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(3));
    token(&app, &service, &form)
        .await
        .assert_error(401, "invalid_client", "disabled client");
}

/// `keys`' public JWK Set narrowed to one key type, optionally without `alg` on the keys.
fn jwks_of(keys: &Keys, kty: &str, with_alg: bool) -> Value {
    let mut set = jwks_value(keys);
    let chosen: Vec<Value> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == kty)
        .cloned()
        .map(|mut k| {
            if !with_alg {
                k.as_object_mut().unwrap().remove("alg");
            }
            k
        })
        .collect();
    set["keys"] = Value::Array(chosen);
    set
}

#[tokio::test]
async fn a_registered_client_asserts_itself_with_an_ec_or_rsa_key_whatever_its_jwk_says() {
    let app = TestApp::spawn().await;
    let (keys, _dir) = foreign_keys();
    let iat = app.registration_token(None, None).await;
    for (kty, with_alg, alg) in [
        ("EC", true, SigningAlg::ES256),
        ("EC", false, SigningAlg::ES256),
        ("RSA", true, SigningAlg::RS256),
        ("RSA", false, SigningAlg::RS256),
    ] {
        // RFC 7591 registration as the issue reports it: jwt-bearer, client_secret_basic, a
        // key set by value, no token_endpoint_auth_signing_alg.
        let registered = app
            .http
            .post(app.url("/register"))
            .bearer_auth(iat.expose())
            .json(&json!({
                "client_name": format!("{kty} robot"),
                "grant_types": [JWT_BEARER],
                "token_endpoint_auth_method": "client_secret_basic",
                "jwks": jwks_of(&keys, kty, with_alg),
                "scope": "openid",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201, "{kty} {with_alg}");
        let body: Value = registered.json().await.unwrap();
        let id = body["client_id"].as_str().unwrap().to_owned();
        let secret = body["client_secret"].as_str().unwrap().to_owned();
        let present = |assertion: String| {
            let (app, id, secret) = (&app, id.clone(), secret.clone());
            async move {
                crate::token_support::post_form(
                    app,
                    "/token",
                    Some((&id, &secret)),
                    &[("grant_type", JWT_BEARER), ("assertion", &assertion)],
                )
                .await
            }
        };
        let claims = assertion_claims(&app, &id, &id);
        let ok = present(keys.sign(alg, "JWT", &claims).unwrap()).await;
        assert_eq!(
            ok.status, 200,
            "{kty} alg on JWK: {with_alg}: {:?}",
            ok.body
        );
        // The other algorithm (signed with our other key, which is not registered) is refused:
        // the header's alg never picks a key by itself.
        let other = match alg {
            SigningAlg::ES256 => SigningAlg::RS256,
            SigningAlg::RS256 => SigningAlg::ES256,
        };
        let refused = present(
            keys.sign(other, "JWT", &assertion_claims(&app, &id, &id))
                .unwrap(),
        )
        .await;
        refused.assert_error(400, "invalid_grant", "an alg the registered key is not");
    }
}

#[tokio::test]
async fn a_header_alg_that_disagrees_with_the_key_is_refused() {
    let app = TestApp::spawn().await;
    let (keys, _dir) = foreign_keys();
    let ec = jwks_of(&keys, "EC", false);
    let ec_kid = ec["keys"][0]["kid"].as_str().unwrap().to_owned();
    let client = client_with(&app, "robot", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::JwtBearer];
        c.scopes = vec!["api.read".into()];
        c.jwks = Some(ec);
    })
    .await;
    // An RS256 signature presented under the EC key's kid: no EC key verifies RS256.
    let rsa_signed = keys
        .sign(
            SigningAlg::RS256,
            "JWT",
            &assertion_claims(&app, "robot", "robot"),
        )
        .unwrap();
    let mut parts: Vec<String> = rsa_signed.split('.').map(str::to_owned).collect();
    let mut head = header(&rsa_signed);
    head["kid"] = Value::String(ec_kid);
    parts[0] = b64url(head.to_string().as_bytes());
    bearer(&app, &client, &parts.join("."), None)
        .await
        .assert_error(400, "invalid_grant", "header alg against an EC key");
    // An `alg: none` header is refused too.
    let mut none = header(&rsa_signed);
    none["alg"] = Value::String("none".into());
    parts[0] = b64url(none.to_string().as_bytes());
    bearer(&app, &client, &format!("{}.{}.", parts[0], parts[1]), None)
        .await
        .assert_error(400, "invalid_grant", "alg none");
}

#[tokio::test]
async fn one_assertion_can_not_be_both_the_client_authentication_and_the_grant() {
    let app = TestApp::spawn().await;
    let (keys, _dir) = foreign_keys();
    client_with(&app, "robot", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::JwtBearer];
        c.scopes = vec!["api.read".into()];
        c.jwks = Some(jwks_of(&keys, "EC", true));
        c.secret_hash = None;
        c.token_endpoint_auth_method = tessera_core::store::ClientAuthMethod::PrivateKeyJwt;
    })
    .await;
    let assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let post = |client_assertion: String, grant: String| {
        let app = &app;
        async move {
            crate::token_support::post_form(
                app,
                "/token",
                None,
                &[
                    ("grant_type", JWT_BEARER),
                    ("assertion", &grant),
                    ("client_assertion_type", assertion_type),
                    ("client_assertion", &client_assertion),
                ],
            )
            .await
        }
    };
    let sign = || {
        keys.sign(
            SigningAlg::ES256,
            "JWT",
            &assertion_claims(&app, "robot", "robot"),
        )
        .unwrap()
    };
    // Two assertions: fine.
    let ok = post(sign(), sign()).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    // One assertion for both: the grant sees its jti already used.
    let once = sign();
    post(once.clone(), once)
        .await
        .assert_error(400, "invalid_grant", "the same assertion twice");
}
