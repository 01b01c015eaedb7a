//! What resource servers meet: `/userinfo` under JWT attacks (RFC 8725), `/revoke` (RFC 7009)
//! and `/introspect` (RFC 7662).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use rsa::{BigUint, RsaPublicKey, pkcs8::EncodePublicKey};
use serde_json::{Value, json};
use tempfile::TempDir;
use tessera_core::{SigningAlg, SystemClock};
use tessera_keys::{KeyFolder, Keys};
use tessera_testkit::TestApp;

use crate::{
    code_flow::PASSWORD,
    token_support::{
        Answer, answer, b64url, client_with, code_tokens, header, introspect, payload, post_form,
        token, userinfo,
    },
};

fn assert_invalid_token(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {:?}", answer.body);
    assert_eq!(
        answer.headers["www-authenticate"], r#"Bearer error="invalid_token""#,
        "{what}"
    );
}

/// Our RSA public key as PEM, the secret of the HS256 confusion attack.
async fn our_rsa_public_pem(app: &TestApp) -> (String, String) {
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap()
        .clone();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let key = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e)).unwrap();
    let pem = key.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    (pem, jwk["kid"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn userinfo_refuses_every_forged_or_misused_token() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let tokens = code_tokens(&app, &rp, &alice, &["openid", "email"]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let good = userinfo(&app, access).await;
    assert_eq!(good.status, 200, "{:?}", good.body);
    assert_eq!(good.body["email"], "alice@example.com");
    assert!(good.body.get("name").is_none(), "profile not granted");
    assert_eq!(good.headers["cache-control"], "no-store");

    let parts: Vec<&str> = access.split('.').collect();
    let claims = payload(access);
    let head = header(access);

    // Tampered payload, original signature.
    let mut widened = claims.clone();
    widened["scope"] = json!("openid email profile admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(&serde_json::to_vec(&widened).unwrap()),
        parts[2]
    );
    assert_invalid_token(&userinfo(&app, &tampered).await, "tampered payload");

    // alg none, in any spelling, with and without a signature part.
    for none in ["none", "None", "NONE", "nOnE"] {
        let mut h = head.clone();
        h["alg"] = json!(none);
        let unsigned = format!("{}.{}.", b64url(&serde_json::to_vec(&h).unwrap()), parts[1]);
        assert_invalid_token(&userinfo(&app, &unsigned).await, none);
        assert_invalid_token(
            &userinfo(&app, unsigned.trim_end_matches('.')).await,
            &format!("{none} without signature part"),
        );
    }

    // HS256 "signed" with our RSA public key (algorithm confusion).
    let (pem, rsa_kid) = our_rsa_public_pem(&app).await;
    let mut confused = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    confused.kid = Some(rsa_kid);
    confused.typ = Some("at+jwt".into());
    let hs = jsonwebtoken::encode(
        &confused,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(pem.as_bytes()),
    )
    .unwrap();
    assert_invalid_token(&userinfo(&app, &hs).await, "HS256 with our public key");

    // A key we never published (same claims, someone else's key and kid).
    let dir = TempDir::new().unwrap();
    let stranger = Keys::open(
        KeyFolder::new(dir.path(), None),
        std::sync::Arc::new(SystemClock),
    )
    .unwrap();
    let foreign = stranger.sign(SigningAlg::RS256, "at+jwt", &claims).unwrap();
    assert_invalid_token(&userinfo(&app, &foreign).await, "unknown kid");

    // Our key, but another issuer / another audience / expired.
    for (what, change) in [
        ("another issuer", ("iss", json!("https://evil.example"))),
        (
            "another audience",
            ("aud", json!("https://api.elsewhere.example")),
        ),
        (
            "expired",
            ("exp", json!(claims["iat"].as_i64().unwrap() - 1)),
        ),
    ] {
        let mut changed = claims.clone();
        changed[change.0] = change.1;
        let signed = app
            .state
            .keys
            .sign(SigningAlg::RS256, "at+jwt", &changed)
            .unwrap();
        assert_invalid_token(&userinfo(&app, &signed).await, what);
    }
    // A correctly signed token of the wrong type: the ID token.
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_invalid_token(&userinfo(&app, id_token).await, "ID token as access token");
    let wrong_typ = app
        .state
        .keys
        .sign(SigningAlg::RS256, "JWT", &claims)
        .unwrap();
    assert_invalid_token(&userinfo(&app, &wrong_typ).await, "typ JWT");
    assert_invalid_token(&userinfo(&app, "garbage").await, "garbage");

    // How the token may travel.
    let none = answer(app.http.get(app.url("/userinfo")).send().await.unwrap()).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    let query = answer(
        app.http
            .get(app.url(&format!("/userinfo?access_token={access}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(query.status, 400, "never in the query");
    let posted = post_form(&app, "/userinfo", None, &[("access_token", access)]).await;
    assert_eq!(posted.status, 200, "form body (RFC 6750 §2.2)");
    let both = answer(
        app.http
            .post(app.url("/userinfo"))
            .bearer_auth(access)
            .form(&[("access_token", access)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(both.status, 400, "two ways at once");
    let basic = answer(
        app.http
            .get(app.url("/userinfo"))
            .basic_auth("rp", Some("x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(basic.status, 400, "not a bearer header");
}

#[tokio::test]
async fn revocation_ends_families_and_denies_access_tokens_of_the_client_only() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let other = client_with(&app, "other", |_| {}).await;
    let revoke = |client: &(
        tessera_core::store::ClientRecord,
        tessera_core::secret::PlainToken,
    ),
                  form: Vec<(&'static str, String)>| {
        let (id, secret) = (
            client.0.client_id.as_str().to_owned(),
            client.1.expose().to_owned(),
        );
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(app, "/revoke", Some((&id, &secret)), &form).await
        }
    };

    // An access token: denied until it expires; its refresh family lives on.
    let tokens = code_tokens(&app, &rp, &alice, &["openid", "offline_access"]).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let foreign = revoke(&other, vec![("token", access.clone())]).await;
    foreign.assert_error(400, "invalid_request", "another client's token");
    assert_eq!(userinfo(&app, &access).await.status, 200, "still active");
    let done = revoke(
        &rp,
        vec![
            ("token", access.clone()),
            ("token_type_hint", "access_token".into()),
        ],
    )
    .await;
    assert_eq!(done.status, 200);
    assert_eq!(userinfo(&app, &access).await.status, 401);
    assert_eq!(
        introspect(&app, &rp, &access).await,
        json!({"active": false})
    );
    assert_eq!(introspect(&app, &rp, &refresh).await["active"], true);

    // A refresh token (with a misleading hint): the family goes, access tokens with it.
    let refreshed = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    let new_access = refreshed.body["access_token"].as_str().unwrap().to_owned();
    let new_refresh = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        revoke(&other, vec![("token", new_refresh.clone())])
            .await
            .status,
        400,
        "another client's refresh token"
    );
    let done = revoke(
        &rp,
        vec![
            ("token", new_refresh.clone()),
            ("token_type_hint", "access_token".into()),
        ],
    )
    .await;
    assert_eq!(done.status, 200);
    assert_eq!(userinfo(&app, &new_access).await.status, 401);
    token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &new_refresh),
        ],
    )
    .await
    .assert_error(400, "invalid_grant", "revoked family");

    // Unknown, garbage, already revoked: 200 (RFC 7009 §2.2).
    for token in [
        "tsr_unknown",
        "garbage",
        new_refresh.as_str(),
        access.as_str(),
    ] {
        assert_eq!(
            revoke(&rp, vec![("token", token.to_owned())]).await.status,
            200,
            "{token}"
        );
    }
    revoke(&rp, vec![])
        .await
        .assert_error(400, "invalid_request", "no token");
    post_form(&app, "/revoke", None, &[("token", "x")])
        .await
        .assert_error(401, "invalid_client", "no client authentication");
    let events = tessera_core::store::AuditRepo::recent_events(
        app.state.store.as_ref(),
        Some("rp"),
        None,
        50,
    )
    .await
    .unwrap();
    assert!(events.iter().filter(|e| e.kind == "token.revoked").count() >= 2);
}

#[tokio::test]
async fn introspection_answers_clients_only_and_says_little_about_dead_tokens() {
    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let resource = client_with(&app, "resource-server", |_| {}).await;
    let tokens = code_tokens(&app, &rp, &alice, &["openid", "email", "offline_access"]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let seen = introspect(&app, &resource, access).await;
    for field in [
        "active",
        "client_id",
        "scope",
        "sub",
        "aud",
        "exp",
        "iat",
        "token_type",
        "username",
    ] {
        assert!(seen.get(field).is_some(), "{field} in {seen}");
    }
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], "rp");
    assert_eq!(seen["scope"], "openid email offline_access");
    assert_eq!(seen["sub"], alice.id.as_str());
    assert_eq!(seen["username"], "alice");
    assert_eq!(seen["token_type"], "Bearer");
    assert_eq!(seen["aud"], app.issuer);

    let own_refresh = introspect(&app, &rp, refresh).await;
    assert_eq!(own_refresh["active"], true);
    assert_eq!(own_refresh["token_type"], "refresh_token");
    assert_eq!(own_refresh["username"], "alice");
    assert_eq!(
        introspect(&app, &resource, refresh).await,
        json!({"active": false}),
        "another client's refresh token"
    );
    for dead in ["garbage", "tsr_unknown", "a.b.c"] {
        assert_eq!(
            introspect(&app, &resource, dead).await,
            json!({"active": false}),
            "{dead}"
        );
    }
    // Another issuer's token.
    let mut forged = payload(access);
    forged["iss"] = json!("https://evil.example");
    let forged = app
        .state
        .keys
        .sign(SigningAlg::RS256, "at+jwt", &forged)
        .unwrap();
    assert_eq!(
        introspect(&app, &resource, &forged).await,
        json!({"active": false})
    );

    // Unauthenticated, wrong secret, no token.
    post_form(&app, "/introspect", None, &[("token", access)])
        .await
        .assert_error(401, "invalid_client", "no client authentication");
    post_form(
        &app,
        "/introspect",
        Some(("rp", "tss_nope")),
        &[("token", access)],
    )
    .await
    .assert_error(401, "invalid_client", "wrong secret");
    post_form(&app, "/introspect", Some(("rp", rp.1.expose())), &[])
        .await
        .assert_error(400, "invalid_request", "no token");

    // Expiry on the fake clock.
    clock.advance(Duration::seconds(901));
    assert_eq!(
        introspect(&app, &resource, access).await,
        json!({"active": false})
    );
}

/// Alice's tokens from a code flow of client `rp`, on an app that remembers a token's state
/// for a minute.
async fn alice_tokens_remembered_for_a_minute(
    builder: tessera_testkit::TestAppBuilder,
) -> (
    TestApp,
    tessera_core::store::UserRecord,
    (
        tessera_core::store::ClientRecord,
        tessera_core::secret::PlainToken,
    ),
    Value,
) {
    let app = builder
        .with_config(|c| c.token_state_cache_ttl = 60)
        .spawn()
        .await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let body = code_tokens(&app, &rp, &alice, &["openid"]).await;
    (app, alice, rp, body)
}

#[tokio::test]
async fn a_remembered_token_still_expires_on_time() {
    use tessera_core::FakeClock;
    let clock = FakeClock::new();
    let (app, _, rp, body) =
        alice_tokens_remembered_for_a_minute(TestApp::builder().with_clock(clock.clone())).await;
    let at = body["access_token"].as_str().unwrap();
    let ttl = body["expires_in"].as_i64().unwrap();
    // Checked once (and remembered), then asked again just before and just after `exp`.
    assert_eq!(introspect(&app, &rp, at).await["active"], true);
    clock.advance(Duration::seconds(ttl - 1));
    assert_eq!(introspect(&app, &rp, at).await["active"], true);
    assert_eq!(userinfo(&app, at).await.status, 200);
    clock.advance(Duration::seconds(1));
    assert_eq!(introspect(&app, &rp, at).await["active"], false);
    assert_invalid_token(&userinfo(&app, at).await, "expired, though remembered");
}

#[tokio::test]
async fn many_requests_with_one_token_at_once_get_the_same_answer_and_a_revocation_at_once() {
    // Nobody has checked the token yet: the requests miss the instance's memory of live tokens
    // together (`tessera_token_endpoint::live`) and must all get the same answer.
    let (app, alice, rp, body) = alice_tokens_remembered_for_a_minute(TestApp::builder()).await;
    let at = body["access_token"].as_str().unwrap();
    let answers = futures_util::future::join_all((0..24).map(|_| introspect(&app, &rp, at))).await;
    for answer in &answers {
        assert_eq!(answer["active"], true, "{answer}");
        assert_eq!(answer["sub"], alice.id.as_str());
    }
    let infos = futures_util::future::join_all((0..24).map(|_| userinfo(&app, at))).await;
    assert!(infos.iter().all(|info| info.status == 200));

    // Revoked: the memory is emptied, and every request after it, at once, is refused.
    let (id, secret) = (rp.0.client_id.as_str(), rp.1.expose());
    let done = post_form(&app, "/revoke", Some((id, secret)), &[("token", at)]).await;
    assert_eq!(done.status, 200);
    let answers = futures_util::future::join_all((0..24).map(|_| introspect(&app, &rp, at))).await;
    assert!(
        answers
            .iter()
            .all(|answer| *answer == json!({"active": false}))
    );
    let infos = futures_util::future::join_all((0..24).map(|_| userinfo(&app, at))).await;
    for info in &infos {
        assert_invalid_token(info, "revoked");
    }
}
