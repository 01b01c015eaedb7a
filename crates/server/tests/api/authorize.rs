//! The first step of /authorize: the client and its redirect URI are checked before anything is
//! redirected anywhere (RFC 6749 §4.1.2.1), and answers carry `iss` (RFC 9207).

use tessera_testkit::{TestApp, reqwest::Url};

const REGISTERED: &str = "https://app.example.com/callback";

#[tokio::test]
async fn unknown_client_or_unregistered_redirect_gets_a_page_and_no_redirect() {
    let app = TestApp::spawn().await;
    app.with_client("web", &[REGISTERED, "http://127.0.0.1:8400/cb"])
        .await;
    let cases = [
        (
            "client_id=nope&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback",
            "unknown client",
        ),
        (
            "redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback",
            "no client_id",
        ),
        ("client_id=web", "no redirect_uri"),
        (
            "client_id=web&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback",
            "repeated client_id",
        ),
        (
            "client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback%2F",
            "trailing slash",
        ),
        (
            "client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback%2Fmore",
            "extra path",
        ),
        (
            "client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback%3Fx%3D1",
            "added query",
        ),
        (
            "client_id=web&redirect_uri=https%3A%2F%2FAPP.example.com%2Fcallback",
            "host case",
        ),
        (
            "client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%3A443%2Fcallback",
            "explicit port",
        ),
        (
            "client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%40evil.example%2Fcallback",
            "userinfo",
        ),
        (
            "client_id=web&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb",
            "other loopback port",
        ),
        (
            "client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback",
            "foreign host",
        ),
    ];
    for (query, why) in cases {
        let response = app.get(&format!("/authorize?{query}")).await;
        assert_eq!(response.status(), 400, "{why}");
        assert!(
            response.headers().get("location").is_none(),
            "{why}: must not redirect"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("invalid_request"), "{why}");
    }
}

#[tokio::test]
async fn a_verified_client_is_answered_through_its_redirect_uri_with_state_and_iss() {
    let app = TestApp::spawn().await;
    app.with_client("web", &[REGISTERED]).await;
    let response = app
        .get("/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&state=a%20b%26c")
        .await;
    assert_eq!(response.status(), 302);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.as_str().split('?').next(), Some(REGISTERED));
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params["error"], "temporarily_unavailable");
    assert_eq!(params["state"], "a b&c", "state echoed exactly");
    assert_eq!(params["iss"], app.issuer);

    // POST (form-encoded) behaves the same.
    let posted = app
        .http
        .post(app.url("/authorize"))
        .form(&[
            ("client_id", "web"),
            ("redirect_uri", REGISTERED),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 302);
}

#[tokio::test]
async fn a_disabled_client_is_refused_without_redirect() {
    let app = TestApp::spawn().await;
    let (mut client, _) = app.with_client("web", &[REGISTERED]).await;
    use tessera_core::store::ClientRepo;
    app.state
        .store
        .delete_client(&client.client_id)
        .await
        .unwrap();
    client.enabled = false;
    app.state.store.create_client(&client).await.unwrap();
    let response = app
        .get("/authorize?client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback")
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}
