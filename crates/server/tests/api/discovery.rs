//! Discovery and JWKS, driven by the openidconnect crate as a real relying party.

use std::str::FromStr;

use serde_json::{Value, json};
use tessera_core::SigningAlg;
use tessera_testkit::{
    TestApp,
    openidconnect::{
        ClientId, IssuerUrl, Nonce,
        core::{CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata},
    },
};

/// ID-token-shaped claims, as the token endpoint will mint them.
fn id_token_claims(app: &TestApp) -> Value {
    let now = app.state.clock.now().timestamp();
    json!({
        "iss": app.issuer, "sub": "248289761001", "aud": ["rp"], "azp": "rp",
        "iat": now, "exp": now + 300, "nonce": "n-0S6_WzA2Mj",
    })
}

#[tokio::test]
async fn openidconnect_discovers_the_provider_and_verifies_rs256_and_es256_signatures() {
    let app = TestApp::spawn().await;
    let issuer = IssuerUrl::new(app.issuer.clone()).unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(issuer.clone(), &crate::code_flow::rp_http())
            .await
            .expect("discovery");
    assert_eq!(metadata.issuer().as_str(), app.issuer);
    assert_eq!(metadata.jwks().keys().len(), 2, "the JWKS was fetched too");

    for (alg, rp_alg) in [
        (
            SigningAlg::RS256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
        (SigningAlg::ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
    ] {
        let jws = app
            .state
            .keys
            .sign(alg, "JWT", &id_token_claims(&app))
            .unwrap();
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new("rp".into()),
            issuer.clone(),
            metadata.jwks().clone(),
        )
        .set_allowed_algs(vec![rp_alg.clone()]);
        let token = CoreIdToken::from_str(&jws).unwrap();
        let nonce = Nonce::new("n-0S6_WzA2Mj".into());
        let claims = token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|err| panic!("{alg}: {err}"));
        assert_eq!(claims.subject().as_str(), "248289761001");

        // The same verifier refuses a token whose payload was changed after signing.
        let mut parts: Vec<&str> = jws.split('.').collect();
        let mut forged = id_token_claims(&app);
        forged["sub"] = json!("someone-else");
        let forged_payload = crate::token_support::b64url(&serde_json::to_vec(&forged).unwrap());
        parts[1] = &forged_payload;
        let forged = CoreIdToken::from_str(&parts.join(".")).unwrap();
        assert!(
            forged.claims(&verifier, &nonce).is_err(),
            "{alg}: forged payload accepted"
        );
    }
}

#[tokio::test]
async fn both_metadata_documents_are_truthful_and_identical() {
    let app = TestApp::spawn().await;
    let openid: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    let oauth: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(openid, oauth);
    assert_eq!(
        openid["issuer"], app.issuer,
        "byte for byte, no trailing slash"
    );
    assert_eq!(openid["jwks_uri"], app.url("/jwks.json"));
    assert_eq!(openid["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(openid["response_types_supported"], json!(["code"]));
    assert_eq!(
        openid["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert_eq!(openid["registration_endpoint"], app.url("/register"));
    assert_eq!(openid["end_session_endpoint"], app.url("/logout"));
    assert_eq!(openid["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        openid["response_modes_supported"],
        json!(["query", "form_post"])
    );
    assert_eq!(
        openid["prompt_values_supported"],
        json!(["none", "login", "consent", "select_account"])
    );
    assert_eq!(
        openid["scopes_supported"],
        json!(["openid", "profile", "email", "offline_access"])
    );
    assert!(
        openid["claims_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "sub")
    );
    assert_eq!(
        openid["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(openid["token_endpoint"], app.url("/token"));
    assert_eq!(openid["userinfo_endpoint"], app.url("/userinfo"));
    assert_eq!(openid["revocation_endpoint"], app.url("/revoke"));
    assert_eq!(openid["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(
        openid["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        openid["device_authorization_endpoint"],
        app.url("/device_authorization")
    );
    let methods = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none"
    ]);
    assert_eq!(openid["token_endpoint_auth_methods_supported"], methods);
    assert_eq!(
        openid["revocation_endpoint_auth_methods_supported"],
        methods
    );
    assert_eq!(
        openid["introspection_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        openid["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    // Pushed authorization requests (RFC 9126) are taken, and not required by default.
    assert_eq!(openid["require_pushed_authorization_requests"], false);
    // Request objects are refused, and said so explicitly (Discovery's defaults are true).
    assert_eq!(openid["request_parameter_supported"], false);
    assert_eq!(openid["request_uri_parameter_supported"], false);
    // Nothing Tessera does not do is advertised.
    assert_eq!(
        openid["dpop_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert!(
        openid
            .get("userinfo_signing_alg_values_supported")
            .is_none(),
        "signed userinfo advertised"
    );
    // Every advertised endpoint answers (not 404).
    for key in [
        "jwks_uri",
        "authorization_endpoint",
        "registration_endpoint",
        "end_session_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "pushed_authorization_request_endpoint",
        "device_authorization_endpoint",
    ] {
        let url = openid[key].as_str().unwrap();
        let status = app.http.get(url).send().await.unwrap().status();
        assert_ne!(status, 404, "{key}");
    }
}

#[tokio::test]
async fn jwks_is_cacheable_revalidates_with_etag_and_holds_no_private_members() {
    let app = TestApp::spawn().await;
    let response = app.get("/jwks.json").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/jwk-set+json");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let kids: std::collections::HashSet<_> =
        keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), keys.len(), "unique kids");
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none());
        }
    }

    for if_none_match in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let revalidated = app
            .http
            .get(app.url("/jwks.json"))
            .header("If-None-Match", &if_none_match)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), 304, "{if_none_match}");
        assert_eq!(revalidated.headers()["etag"], etag.as_str());
        assert!(revalidated.bytes().await.unwrap().is_empty());
    }
    let changed = app
        .http
        .get(app.url("/jwks.json"))
        .header("If-None-Match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
}

/// The JWKS body is rendered once per key set (tessera_discovery::jwks::JwksCache): a rotation
/// (a new ring) and a retired key reaching its unpublish time (same ring, later clock) must
/// both change what is served and its ETag.
#[tokio::test]
async fn jwks_follows_rotation_and_unpublication_and_its_etag_with_it() {
    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder().with_clock(clock.clone()).spawn().await;
    let served = || async {
        let response = app.get("/jwks.json").await;
        assert_eq!(response.status(), 200);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let jwks: Value = response.json().await.unwrap();
        let mut kids: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        (etag, kids)
    };
    let (etag_before, kids_before) = served().await;
    assert_eq!(served().await, (etag_before.clone(), kids_before.clone()));

    let old_es256 = app
        .state
        .keys
        .ring()
        .signing_key(SigningAlg::ES256, app.state.clock.now())
        .unwrap()
        .entry()
        .kid
        .as_str()
        .to_owned();
    let grace = chrono::Duration::seconds(60);
    let new = app
        .state
        .keys
        .rotate(
            SigningAlg::ES256,
            tessera_keys::RotationPolicy {
                activation_delay: chrono::Duration::zero(),
                publish_grace: grace,
            },
        )
        .await
        .unwrap();
    let (etag_rotated, kids_rotated) = served().await;
    assert_ne!(etag_rotated, etag_before, "a new key set, a new ETag");
    assert_eq!(
        kids_rotated.len(),
        kids_before.len() + 1,
        "{kids_rotated:?}"
    );
    assert!(kids_rotated.contains(&new.kid.as_str().to_owned()));
    assert!(
        kids_rotated.contains(&old_es256),
        "retired, still published"
    );

    clock.advance(grace + chrono::Duration::seconds(1));
    let (etag_later, kids_later) = served().await;
    assert!(
        !kids_later.contains(&old_es256),
        "unpublished: {kids_later:?}"
    );
    assert_eq!(kids_later.len(), kids_before.len());
    assert_ne!(etag_later, etag_rotated);
    let revalidated = app
        .http
        .get(app.url("/jwks.json"))
        .header("If-None-Match", &etag_rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 200, "the old ETag no longer matches");
}
