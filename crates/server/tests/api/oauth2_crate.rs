//! The token-type endpoints driven by a second client library — the `oauth2` crate — so their
//! behaviour is not tuned to openidconnect: client credentials with HTTP Basic and with the
//! secret in the body, refresh-token rotation and reuse, RFC 7662 introspection (before and after
//! an RFC 7009 revocation), and `invalid_client` read from the body for either authentication
//! method.

use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, IntrospectionUrl, RefreshToken, Scope,
    TokenIntrospectionResponse, TokenResponse, TokenUrl,
    basic::{BasicClient, BasicErrorResponseType},
};
use tessera_core::store::ClientAuthMethod;
use tessera_testkit::TestApp;

use crate::token_support::client_with;

fn http() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn client_credentials_revocation_and_introspection_with_the_oauth2_crate() {
    let app = TestApp::spawn().await;
    for (auth, id, method) in [
        (
            AuthType::BasicAuth,
            "service",
            ClientAuthMethod::ClientSecretBasic,
        ),
        (
            AuthType::RequestBody,
            "poster",
            ClientAuthMethod::ClientSecretPost,
        ),
    ] {
        let service = client_with(&app, id, |c| {
            c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
            c.scopes = vec!["api.read".into()];
            c.token_endpoint_auth_method = method;
        })
        .await;
        let client = BasicClient::new(ClientId::new(id.into()))
            .set_client_secret(ClientSecret::new(service.1.expose().to_owned()))
            .set_auth_uri(AuthUrl::new(app.url("/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
            .set_introspection_url(IntrospectionUrl::new(app.url("/introspect")).unwrap())
            .set_auth_type(auth.clone());
        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("api.read".into()))
            .request_async(&http())
            .await
            .unwrap_or_else(|err| panic!("{auth:?}: {err:?}"));
        assert_eq!(token.scopes().unwrap()[0].as_str(), "api.read");
        let introspected = client
            .introspect(token.access_token())
            .request_async(&http())
            .await
            .unwrap();
        assert!(introspected.active(), "{auth:?}");
        assert_eq!(introspected.client_id().unwrap().as_str(), id);
        // (The crate refuses to send a revocation to a plain-http URL, which the test server
        // is, so the RFC 7009 request itself goes over plain HTTP with the same credentials.)
        let secret = service.1.expose();
        let access = token.access_token().secret();
        let revoked = match method {
            ClientAuthMethod::ClientSecretBasic => {
                crate::token_support::post_form(
                    &app,
                    "/revoke",
                    Some((id, secret)),
                    &[("token", access)],
                )
                .await
            }
            _ => {
                crate::token_support::post_form(
                    &app,
                    "/revoke",
                    None,
                    &[
                        ("token", access),
                        ("client_id", id),
                        ("client_secret", secret),
                    ],
                )
                .await
            }
        };
        assert_eq!(revoked.status, 200);
        let after = client
            .introspect(token.access_token())
            .request_async(&http())
            .await
            .unwrap();
        assert!(!after.active(), "revoked ({auth:?})");
    }
}

#[tokio::test]
async fn the_oauth2_crate_reads_invalid_client_for_basic_and_for_the_body() {
    let app = TestApp::spawn().await;
    for (auth, id, method) in [
        (
            AuthType::BasicAuth,
            "service",
            ClientAuthMethod::ClientSecretBasic,
        ),
        (
            AuthType::RequestBody,
            "poster",
            ClientAuthMethod::ClientSecretPost,
        ),
    ] {
        client_with(&app, id, |c| {
            c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
            c.token_endpoint_auth_method = method;
        })
        .await;
        let client = BasicClient::new(ClientId::new(id.into()))
            .set_client_secret(ClientSecret::new("tss_wrong".into()))
            .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
            .set_auth_type(auth.clone());
        let err = client
            .exchange_client_credentials()
            .request_async(&http())
            .await
            .unwrap_err();
        match err {
            oauth2::RequestTokenError::ServerResponse(response) => {
                assert_eq!(
                    *response.error(),
                    BasicErrorResponseType::InvalidClient,
                    "{auth:?}"
                );
            }
            other => panic!("{auth:?}: the error body was not read: {other:?}"),
        }
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_is_refused_with_the_oauth2_crate() {
    let app = TestApp::spawn().await;
    let alice = app
        .with_user("alice", crate::code_flow::PASSWORD, false)
        .await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let first = crate::token_support::code_tokens(&app, &rp, &alice, &["offline_access"]).await;
    let refresh = RefreshToken::new(first["refresh_token"].as_str().unwrap().to_owned());
    let client = BasicClient::new(ClientId::new("rp".into()))
        .set_client_secret(ClientSecret::new(rp.1.expose().to_owned()))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap());
    let rotated = client
        .exchange_refresh_token(&refresh)
        .request_async(&http())
        .await
        .unwrap();
    let next = rotated.refresh_token().expect("a rotated refresh token");
    assert_ne!(next.secret(), refresh.secret());
    // The client moves on with its new token…
    let moved_on = client
        .exchange_refresh_token(next)
        .request_async(&http())
        .await
        .unwrap();
    let latest = moved_on.refresh_token().expect("rotated again").clone();
    // …so the first one, presented again, is a copy in someone else's hands.
    let reused = client
        .exchange_refresh_token(&refresh)
        .request_async(&http())
        .await
        .unwrap_err();
    match reused {
        oauth2::RequestTokenError::ServerResponse(response) => {
            assert_eq!(*response.error(), BasicErrorResponseType::InvalidGrant);
        }
        other => panic!("{other:?}"),
    }
    // Reuse revoked the family: the latest token is dead too.
    assert!(
        client
            .exchange_refresh_token(&latest)
            .request_async(&http())
            .await
            .is_err()
    );
}
