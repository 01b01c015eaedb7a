//! `/token` with the authorization code: the whole flow driven by the openidconnect crate as
//! the relying party (RS256 and ES256 clients), the refusals of §4.1.3 / RFC 7636, code replay
//! revoking what the code issued, 20 concurrent redemptions, and malformed requests.

use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use tessera_core::{
    SigningAlg,
    store::{AuditRepo, UserRepo},
};
use tessera_testkit::{
    TestApp,
    openidconnect::{
        self, AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
        core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm},
    },
};

use crate::{
    code_flow::{PASSWORD, REDIRECT, browser, callback_params, decide, get, location, sign_in},
    token_support::{
        client_with, header, introspect, issue_code, issue_code_with, post_form, token, userinfo,
    },
};

/// A resource server's offline check: jsonwebtoken with nothing but the published JWKS.
async fn resource_server_verifies(app: &TestApp, access_token: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = app.get("/jwks.json").await.json().await.unwrap();
    let head = jsonwebtoken::decode_header(access_token).unwrap();
    assert_eq!(head.typ.as_deref(), Some("at+jwt"), "RFC 9068 §2.1");
    let jwk = jwks
        .find(head.kid.as_deref().unwrap())
        .expect("kid published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(head.alg);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_audience(&[app.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(access_token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn openidconnect_rp_runs_the_whole_flow_for_rs256_and_es256_clients() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let mut named = alice.clone();
    named.name = Some("Alice Liddell".into());
    app.state
        .store
        .update_user(&named, app.state.clock.now())
        .await
        .unwrap();
    let http = crate::code_flow::rp_http();
    let metadata = crate::code_flow::rp_discover(&app).await;

    for (alg, jws_alg) in [
        (
            SigningAlg::RS256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
        (SigningAlg::ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
    ] {
        let id = format!("rp-{alg}");
        let registered = client_with(&app, &id, |c| {
            c.id_token_signed_response_alg = Some(alg);
            c.access_token_signed_alg = Some(alg);
        })
        .await;
        let rp = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(id.clone()),
            Some(ClientSecret::new(registered.1.expose().to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .url();

        // The browser half: sign in, consent, back at the redirect URI with a code.
        let browser = browser();
        let response = get(&app, &browser, url.as_str()).await;
        let back = sign_in(&app, &browser, &location(&response), "alice").await;
        let consent = get(&app, &browser, &back).await.text().await.unwrap();
        let params = callback_params(&location(
            &decide(&app, &browser, &consent, "approve").await,
        ));
        assert_eq!(params["state"], *state.secret());

        // The RP redeems the code with its verifier and verifies the ID token.
        let tokens = rp
            .exchange_code(AuthorizationCode::new(params["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap_or_else(|err| panic!("{alg}: {err:?}"));
        let id_token = tokens.id_token().expect("an ID token for scope openid");
        let id_verifier = rp
            .id_token_verifier()
            .set_allowed_algs(vec![jws_alg.clone()]);
        let claims = id_token
            .claims(&id_verifier, &nonce)
            .unwrap_or_else(|err| panic!("{alg}: {err}"));
        assert_eq!(claims.subject().as_str(), alice.id.as_str());
        assert_eq!(claims.issuer().as_str(), app.issuer);
        assert!(claims.auth_time().is_some(), "auth_time");
        assert_eq!(
            claims.authorized_party().map(|a| a.as_str()),
            Some(id.as_str())
        );
        assert_eq!(
            claims.preferred_username().map(|u| u.as_str()),
            Some("alice"),
            "profile scope"
        );
        assert_eq!(
            claims.email().map(|e| e.as_str()),
            Some("alice@example.com")
        );
        let expected_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash");
        assert_eq!(header(&id_token.to_string())["alg"], alg.as_str());
        assert!(
            header(&id_token.to_string())["kid"].is_string(),
            "kid always set"
        );

        // The access token: RFC 9068, verifiable offline with the JWKS alone.
        let access = tokens.access_token().secret().clone();
        assert_eq!(header(&access)["alg"], alg.as_str());
        let at = resource_server_verifies(&app, &access).await;
        assert_eq!(at["sub"], alice.id.as_str());
        assert_eq!(at["client_id"], id);
        assert_eq!(at["scope"], "openid profile email offline_access");
        assert!(at["jti"].is_string() && at["auth_time"].is_i64());
        assert_eq!(
            at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
            900,
            "15 minutes by default"
        );

        // userinfo through the RP.
        let info: openidconnect::core::CoreUserInfoClaims = rp
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&http)
            .await
            .unwrap_or_else(|err| panic!("{alg}: {err:?}"));
        assert_eq!(info.subject().as_str(), alice.id.as_str());
        assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
        assert_eq!(info.email_verified(), Some(true));
        let name = info.name().and_then(|n| n.get(None)).map(|n| n.as_str());
        assert_eq!(name, Some("Alice Liddell"));

        // refresh through the RP: a new pair, a fresh ID token, the old refresh token spent.
        let refresh = tokens
            .refresh_token()
            .expect("offline_access consented")
            .clone();
        let refreshed = rp
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&http)
            .await
            .unwrap_or_else(|err| panic!("{alg}: {err:?}"));
        let new_refresh = refreshed.refresh_token().expect("rotated").clone();
        assert_ne!(new_refresh.secret(), refresh.secret());
        assert_ne!(refreshed.access_token().secret(), &access);
        assert!(refreshed.id_token().is_some());

        // Revocation (RFC 7009). openidconnect refuses a revocation URL that is not https, and
        // the test server speaks plain HTTP on loopback, so this one request is made by hand.
        let revoked = post_form(
            &app,
            "/revoke",
            Some((id.as_str(), registered.1.expose())),
            &[
                ("token", new_refresh.secret()),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
        assert_eq!(revoked.status, 200, "{:?}", revoked.body);
        let again = token(
            &app,
            &registered,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", new_refresh.secret()),
            ],
        )
        .await;
        again.assert_error(400, "invalid_grant", "revoked family");
        let info = userinfo(&app, refreshed.access_token().secret()).await;
        assert_eq!(info.status, 401, "access token of a revoked family");
        assert_eq!(
            info.headers["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
    }
}

#[tokio::test]
async fn code_refusals_are_invalid_grant_and_leave_nothing_usable() {
    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let other = client_with(&app, "other", |_| {}).await;
    let redeem = |code: String, redirect: &'static str, verifier: Option<String>| {
        let app = &app;
        let rp = &rp;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", redirect.to_owned()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(app, rp, &form).await
        }
    };

    let (code, verifier) = issue_code(&app, &rp.0, &alice, &["openid"]).await;
    redeem(code, "http://127.0.0.1:51004/other", Some(verifier))
        .await
        .assert_error(400, "invalid_grant", "another redirect_uri");
    let (code, _) = issue_code(&app, &rp.0, &alice, &["openid"]).await;
    redeem(code, REDIRECT, Some("a".repeat(43)))
        .await
        .assert_error(400, "invalid_grant", "wrong verifier");
    let (code, _) = issue_code(&app, &rp.0, &alice, &["openid"]).await;
    redeem(code, REDIRECT, None)
        .await
        .assert_error(400, "invalid_grant", "missing verifier");
    let (code, verifier) = issue_code(&app, &rp.0, &alice, &["openid"]).await;
    let answer = token(
        &app,
        &other,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    answer.assert_error(400, "invalid_grant", "code of another client");
    // Twice, even: the code is not consumed by someone else's attempt, so its owner redeems it
    // and gets working tokens (no replay, no revoked grant).
    let again = token(
        &app,
        &other,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    again.assert_error(400, "invalid_grant", "code of another client, again");
    let owner = redeem(code, REDIRECT, Some(verifier.clone())).await;
    assert_eq!(
        owner.status, 200,
        "the owner still redeems it: {:?}",
        owner.body
    );
    let access = owner.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        crate::token_support::introspect(&app, &rp, &access).await["active"],
        true,
        "and its grant is not revoked"
    );
    redeem("tsc_unknown".into(), REDIRECT, Some(verifier))
        .await
        .assert_error(400, "invalid_grant", "unknown code");
    redeem(String::new(), REDIRECT, None).await.assert_error(
        400,
        "invalid_request",
        "missing code",
    );

    // A code issued without a challenge refuses a verifier (PKCE cannot be added later).
    let (code, verifier) = issue_code_with(&app, &rp.0, &alice, &["openid"], false).await;
    redeem(code, REDIRECT, Some(verifier)).await.assert_error(
        400,
        "invalid_grant",
        "verifier without challenge",
    );

    // Expiry on the fake clock.
    let (code, verifier) = issue_code(&app, &rp.0, &alice, &["openid"]).await;
    clock.advance(Duration::seconds(61));
    redeem(code, REDIRECT, Some(verifier))
        .await
        .assert_error(400, "invalid_grant", "expired code");
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let (code, verifier) = issue_code(&app, &rp.0, &alice, &["openid", "offline_access"]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let first = token(&app, &rp, &form).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.headers["cache-control"], "no-store");
    assert_eq!(first.body["token_type"], "Bearer");
    let access = first.body["access_token"].as_str().unwrap();
    let refresh = first.body["refresh_token"].as_str().unwrap();
    assert!(
        refresh.starts_with("tsr_") && refresh.len() >= 47,
        "256-bit, prefixed"
    );
    assert_eq!(userinfo(&app, access).await.status, 200);
    assert_eq!(introspect(&app, &rp, access).await["active"], true);

    token(&app, &rp, &form)
        .await
        .assert_error(400, "invalid_grant", "replayed code");
    assert_eq!(
        userinfo(&app, access).await.status,
        401,
        "access token revoked"
    );
    assert_eq!(
        introspect(&app, &rp, access).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &rp, refresh).await,
        json!({"active": false})
    );
    token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
    .assert_error(400, "invalid_grant", "refresh token of a replayed code");
    let events = app
        .state
        .store
        .recent_events(Some("rp"), None, 20)
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.kind == "code.replayed"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| !e.details.to_string().contains(&code)),
        "no code in the audit log"
    );
}

#[tokio::test]
async fn twenty_concurrent_redemptions_of_one_code_have_exactly_one_success() {
    let app = Arc::new(TestApp::spawn().await);
    let alice = app.with_user("alice", PASSWORD, false).await;
    let rp = Arc::new(client_with(&app, "rp", |_| {}).await);
    let (code, verifier) = issue_code(&app, &rp.0, &alice, &["openid", "offline_access"]).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, rp, code, verifier) = (
                Arc::clone(&app),
                Arc::clone(&rp),
                code.clone(),
                verifier.clone(),
            );
            tokio::spawn(async move {
                token(
                    &app,
                    &rp,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", &verifier),
                    ],
                )
                .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let winners: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 200)
            .all(|a| a.error() == "invalid_grant")
    );
    // The replays revoked the winner's grant: its tokens are dead.
    let access = winners[0].body["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status, 401);
}

#[tokio::test]
async fn malformed_token_requests_get_400_never_415_or_5xx() {
    let app = TestApp::spawn().await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let url = app.url("/token");
    let get = app.http.get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");

    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (
            Some("application/json"),
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        (None, b"grant_type=client_credentials".to_vec()),
        (
            Some("text/plain"),
            b"grant_type=client_credentials".to_vec(),
        ),
        (Some("application/x-www-form-urlencoded"), Vec::new()),
        (
            Some("application/x-www-form-urlencoded"),
            vec![0xff, 0xfe, 0x00, 0x80],
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"grant_type=%zz".to_vec(),
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"grant_type=client_credentials&scope=a&scope=b".to_vec(),
        ),
        (Some("multipart/form-data; boundary=x"), b"--x--".to_vec()),
    ];
    for (content_type, body) in bodies {
        let mut request = app
            .http
            .post(&url)
            .basic_auth("rp", Some(rp.1.expose()))
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let answer = crate::token_support::answer(request.send().await.unwrap()).await;
        answer.assert_error(
            400,
            "invalid_request",
            &format!("{content_type:?} {body:?}"),
        );
    }
    let oversized = "a".repeat(70 * 1024);
    let response = app
        .http
        .post(&url)
        .form(&[("grant_type", "client_credentials"), ("scope", &oversized)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413, "oversized body");

    token(&app, &rp, &[("grant_type", "password"), ("username", "a")])
        .await
        .assert_error(400, "unsupported_grant_type", "unknown grant");
    token(&app, &rp, &[("scope", "openid")]).await.assert_error(
        400,
        "invalid_request",
        "no grant_type",
    );
    token(&app, &rp, &[("grant_type", "client_credentials")])
        .await
        .assert_error(400, "unauthorized_client", "grant not registered");

    // Client authentication failures: 401 with WWW-Authenticate, audited.
    let none = post_form(
        &app,
        "/token",
        None,
        &[("grant_type", "authorization_code")],
    )
    .await;
    none.assert_error(401, "invalid_client", "no authentication");
    assert!(
        none.headers.get("www-authenticate").is_none(),
        "no Bearer challenge for a token-endpoint client error"
    );
    let posted = post_form(
        &app,
        "/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "rp"),
            ("client_secret", "tss_wrong"),
        ],
    )
    .await;
    posted.assert_error(401, "invalid_client", "wrong secret in the body");
    assert!(posted.headers.get("www-authenticate").is_none());
    let wrong = post_form(
        &app,
        "/token",
        Some(("rp", "tss_wrong")),
        &[("grant_type", "authorization_code")],
    )
    .await;
    wrong.assert_error(401, "invalid_client", "wrong secret");
    assert_eq!(
        wrong.headers["www-authenticate"],
        r#"Basic realm="tessera", error="invalid_client""#
    );
    let events = app
        .state
        .store
        .recent_events(Some("rp"), None, 10)
        .await
        .unwrap();
    let failed = events
        .iter()
        .find(|e| e.kind == "client.auth_failed")
        .expect("audited");
    assert!(
        !failed.details.to_string().contains("tss_wrong"),
        "no secret in the audit log"
    );
}

#[tokio::test]
async fn pages_with_forms_set_the_csrf_cookie_and_api_endpoints_set_none() {
    let app = TestApp::spawn().await;
    let fresh = tessera_testkit::reqwest::Client::new();
    let login = fresh.get(app.url("/login")).send().await.unwrap();
    let cookies: Vec<_> = login.headers().get_all("set-cookie").iter().collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("tessera_csrf=")),
        "{cookies:?}"
    );
    for (method, path) in [
        ("POST", "/token"),
        ("GET", "/userinfo"),
        ("GET", "/jwks.json"),
        ("GET", "/.well-known/openid-configuration"),
    ] {
        let request = match method {
            "POST" => fresh
                .post(app.url(path))
                .form(&[("grant_type", "client_credentials")]),
            _ => fresh.get(app.url(path)),
        };
        let response = request.send().await.unwrap();
        assert!(
            response.headers().get("set-cookie").is_none(),
            "{method} {path} sets a cookie"
        );
    }
}
