//! Health, metrics, routing errors, security headers and request ids.

use serde_json::Value;
use tessera_testkit::TestApp;

#[tokio::test]
async fn live_and_ready_report_ok() {
    let app = TestApp::spawn().await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), 200);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["keys"], "ok");
}

#[tokio::test]
async fn ready_reports_unavailable_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.store.connection().clone().close().await.unwrap();
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "unavailable");
    assert_eq!(body["checks"]["keys"], "ok");
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

/// Polls `/health/ready` (at most 15 s: the key store is looked at every 5 s) until its `keys`
/// check says `expected`; the last answer's status.
async fn until_keys_check(app: &TestApp, expected: &str) -> u16 {
    let start = std::time::Instant::now();
    loop {
        let ready = app.get("/health/ready").await;
        let status = ready.status().as_u16();
        let body: Value = ready.json().await.unwrap();
        if body["checks"]["keys"] == expected {
            return status;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(15),
            "keys check still {body} after 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ready_reports_unavailable_while_the_key_folder_is_unreadable_and_recovers() {
    let app = TestApp::spawn().await;
    let manifest = app.keys_dir.join("manifest.json");
    let good = std::fs::read(&manifest).unwrap();
    // A damaged manifest (a half-synced volume, a bad hand edit): the instance keeps signing
    // with the keys it has but tells the load balancer it is not well.
    std::fs::write(&manifest, b"{ not json").unwrap();
    assert_eq!(until_keys_check(&app, "unavailable").await, 503);
    let jwks = app.get("/jwks.json").await;
    assert_eq!(jwks.status(), 200, "the loaded keys stay in use");
    // Put right, ready again without a restart.
    std::fs::write(&manifest, good).unwrap();
    assert_eq!(until_keys_check(&app, "ok").await, 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_not_raw_path() {
    let app = TestApp::spawn().await;
    app.get("/jwks.json").await;
    app.get("/jwks.json").await;
    app.get("/no/such/path?code=secret").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"tessera_http_requests_total{method="GET",route="/jwks.json",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(!text.contains("/no/such/path") && !text.contains("secret"));
    assert!(text.contains("tessera_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_never_500() {
    let app = TestApp::spawn().await;
    let missing = app.get("/does-not-exist").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");

    let page = app
        .http
        .get(app.url("/does-not-exist"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("<h1>Not found</h1>"));

    for (method, path, allow) in [
        ("POST", "/jwks.json", "GET, HEAD"),
        ("DELETE", "/.well-known/openid-configuration", "GET, HEAD"),
        ("PUT", "/authorize", "GET, POST"),
    ] {
        let response = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow);
    }
    let head = app.http.head(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(head.status(), 200, "HEAD answers like GET");
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    for path in ["/jwks.json", "/does-not-exist", "/authorize"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(!headers["x-request-id"].is_empty());
    }
    let echoed = app
        .http
        .get(app.url("/health/live"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let refused = app
        .http
        .get(app.url("/health/live"))
        .header("X-Request-Id", "has spaces and is\tnot safe")
        .send()
        .await
        .unwrap();
    assert_ne!(
        refused.headers()["x-request-id"],
        "has spaces and is\tnot safe"
    );
}
