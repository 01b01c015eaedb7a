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
async fn a_verified_client_without_a_session_is_sent_to_sign_in_and_errors_carry_state_and_iss() {
    let app = TestApp::spawn().await;
    app.with_client("web", &[REGISTERED]).await;
    let query = "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback\
                 &scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let response = app
        .get(&format!("/authorize?{query}&state=a%20b%26c"))
        .await;
    assert_eq!(response.status(), 302);
    let login = response.headers()["location"].to_str().unwrap().to_owned();
    // The request waits on the server; the sign-in page carries only its handle.
    assert!(
        login.starts_with("/login?return_to=%2Fauthorize%2Fresume%3Frequest%3Dtsq_"),
        "{login}"
    );
    assert!(
        !login.contains("client_id") && !login.contains("state"),
        "{login}"
    );

    // POST (form-encoded) behaves the same.
    let posted = app
        .http
        .post(app.url("/authorize"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(query.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 302);
    assert!(
        posted.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?")
    );

    // Once client and redirect URI are trusted, errors go back to the client with state and iss.
    let response = app
        .get(&format!(
            "/authorize?{query}&state=a%20b%26c&response_type=code"
        ))
        .await;
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.as_str().split('?').next(), Some(REGISTERED));
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params["error"], "invalid_request", "a repeated parameter");
    assert_eq!(params["state"], "a b&c", "state echoed exactly");
    assert_eq!(params["iss"], app.issuer);
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
