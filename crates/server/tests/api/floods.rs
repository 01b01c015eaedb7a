//! Hostile input at volume, bounded in size: what an unauthenticated caller sends must not grow
//! storage or memory without bound, and every answer is a spec-shaped 4xx, never a 5xx.

use tessera_core::store::AuditRepo;
use tessera_testkit::{TestApp, reqwest};

use crate::code_flow::PASSWORD;

fn random_id(len: usize) -> String {
    let mut id = String::with_capacity(len);
    while id.len() < len {
        id.push_str(&tessera_core::secret::random_id());
    }
    id.truncate(len);
    id
}

async fn audit_rows(app: &TestApp) -> usize {
    app.state
        .store
        .recent_events(None, None, 100_000)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn invented_client_ids_at_volume_cost_one_audit_row_per_source_and_minute() {
    let app = TestApp::spawn().await;
    let before = audit_rows(&app).await;
    let http = reqwest::Client::new();
    let mut statuses = std::collections::BTreeMap::new();
    // 300 requests of 60 KB client_ids, in the body and in Basic, in parallel batches.
    for batch in 0..10 {
        let requests = (0..30).map(|i| {
            let http = http.clone();
            let url = app.url("/token");
            async move {
                let id = random_id(60 * 1024);
                let request = if (batch + i) % 2 == 0 {
                    http.post(url)
                        .form(&[("grant_type", "client_credentials"), ("client_id", &id)])
                } else {
                    http.post(url)
                        .basic_auth(&id[..8 * 1024], Some("x"))
                        .form(&[("grant_type", "client_credentials")])
                };
                request.send().await.unwrap().status().as_u16()
            }
        });
        for status in futures_util::future::join_all(requests).await {
            *statuses.entry(status).or_insert(0) += 1;
        }
    }
    assert!(
        statuses.keys().all(|s| (400..500).contains(s)),
        "only 4xx: {statuses:?}"
    );
    let written = audit_rows(&app).await - before;
    // One source; at most two kinds of rows per minute boundary crossed during the run.
    assert!(
        written <= 4,
        "{written} audit rows for 300 invented clients"
    );
    let events = app.state.store.recent_events(None, None, 10).await.unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.details.to_string().len() < 1024 && e.client_id.is_none()),
        "no attacker-sized values are stored"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("tessera_audit_events_suppressed_total{kind=\"client.auth_failed\"}"),
        "suppressed events are counted"
    );
}

#[tokio::test]
async fn invented_usernames_at_volume_are_audited_in_aggregate_and_hit_the_address_limit() {
    let app = TestApp::builder()
        .with_config(|c| c.sign_in_address_limit = 40)
        .spawn()
        .await;
    app.with_user("alice", PASSWORD, false).await;
    let before = audit_rows(&app).await;
    let http = crate::code_flow::browser();
    let page = http
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = tessera_testkit::html::hidden(&page, "csrf_token").unwrap();
    let mut refused = 0;
    for _ in 0..60 {
        let response = http
            .post(app.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("username", random_id(150).as_str()),
                ("password", "guess"),
            ])
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {}
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        refused, 20,
        "the address limit (40) holds whatever the usernames"
    );
    let written = audit_rows(&app).await - before;
    assert!(
        written <= 4,
        "{written} audit rows for 60 invented usernames"
    );
    // Counters: at most two per admitted attempt plus the address, never per refused one.
    use tessera_core::store::ThrottleRepo;
    let counters = app
        .state
        .store
        .list_counters(app.state.clock.now(), 1000)
        .await
        .unwrap();
    assert!(counters.len() <= 2 * 40 + 1, "{} counters", counters.len());
    assert!(counters.iter().all(|c| c.label.len() <= 200));
}

/// One request of the corpus: method, path and query, headers, body.
type Malformed = (reqwest::Method, String, Vec<(String, String)>, Vec<u8>);

/// A deterministic corpus of malformed requests across every endpoint.
fn malformed_requests(count: usize) -> Vec<Malformed> {
    use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
    let mut rng = StdRng::seed_from_u64(0x7e55e7a);
    let paths = [
        "/authorize",
        "/authorize/resume",
        "/authorize/decision",
        "/login",
        "/logout",
        "/signup",
        "/account",
        "/account/password",
        "/account/sessions/x/revoke",
        "/token",
        "/revoke",
        "/introspect",
        "/userinfo",
        "/register",
        "/register/abc",
        "/jwks.json",
        "/.well-known/openid-configuration",
        "/admin",
        "/admin/clients",
        "/admin/clients/x",
        "/admin/users/x/password",
        "/admin/sign-in-locks/zz/clear",
        "/health/ready",
        "/metrics",
        "/%00",
        "/..%2f..%2fetc/passwd",
        "/authorize/../token",
    ];
    let methods = [
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::from_bytes(b"BREW").unwrap(),
    ];
    let junk_values = [
        String::new(),
        "%".into(),
        "%zz".into(),
        "%00".into(),
        "%ff%fe".into(),
        "\u{202e}".into(),
        "a".repeat(9000),
        "{\"a\":".into(),
        "tsc_".into(),
        "tsq_x".into(),
        "eyJhbGciOiJub25lIn0.eyJ9.".into(),
        "http://127.0.0.1:1/cb".into(),
        "openid openid".into(),
        "S256".into(),
        "-1".into(),
        "99999999999999999999".into(),
    ];
    let names = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
        "id_token_hint",
        "request",
        "request_uri",
        "grant_type",
        "code",
        "code_verifier",
        "refresh_token",
        "assertion",
        "client_assertion",
        "client_assertion_type",
        "token",
        "token_type_hint",
        "csrf_token",
        "decision",
        "username",
        "password",
        "return_to",
        "post_logout_redirect_uri",
        "client_secret",
        "x",
    ];
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded; charset=ebcdic",
        "",
    ];
    let authorizations = [
        "",
        "Basic",
        "Basic !!!",
        "Basic Og==",
        "Bearer",
        "Bearer x.y.z",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Negotiate abc",
    ];
    (0..count)
        .map(|_| {
            let method = methods.choose(&mut rng).unwrap().clone();
            let mut path = (*paths.choose(&mut rng).unwrap()).to_owned();
            let pairs: Vec<String> = (0..rng.gen_range(0..8))
                .map(|_| {
                    format!(
                        "{}={}",
                        names.choose(&mut rng).unwrap(),
                        junk_values.choose(&mut rng).unwrap()
                    )
                })
                .collect();
            if rng.gen_bool(0.5) {
                path = format!("{path}?{}", pairs.join("&"));
            }
            let body: Vec<u8> = match rng.gen_range(0..4) {
                0 => Vec::new(),
                1 => pairs.join("&").into_bytes(),
                2 => (0..rng.gen_range(0..2048))
                    .map(|_| rng.r#gen::<u8>())
                    .collect(),
                _ => b"{\"redirect_uris\":[1,2],\"jwks\":{\"keys\":\"x\"}}".to_vec(),
            };
            let mut headers = vec![(
                "content-type".to_owned(),
                (*content_types.choose(&mut rng).unwrap()).to_owned(),
            )];
            let authorization = *authorizations.choose(&mut rng).unwrap();
            if !authorization.is_empty() {
                headers.push(("authorization".into(), authorization.into()));
            }
            if rng.gen_bool(0.3) {
                headers.push((
                    "cookie".into(),
                    "tessera_session=tsb_x; tessera_csrf=a; tessera_csrf=b; tessera_admin=".into(),
                ));
            }
            (method, path, headers, body)
        })
        .collect()
}

#[tokio::test]
async fn two_thousand_malformed_requests_get_no_5xx() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    app.with_client("rp", &["http://127.0.0.1:1/cb"]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let corpus = malformed_requests(2000);
    let mut server_errors = Vec::new();
    let mut answered = std::collections::BTreeMap::new();
    for chunk in corpus.chunks(50) {
        let answers = chunk.iter().map(|(method, path, headers, body)| {
            let http = http.clone();
            let url = format!("{}{}", app.url(""), path);
            async move {
                let mut request = http.request(method.clone(), &url).body(body.clone());
                for (name, value) in headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                match request.send().await {
                    Ok(response) => (response.status().as_u16(), format!("{method} {path}")),
                    // The client refusing to send an odd request is not the server's fault.
                    Err(err) if err.is_builder() => (0, String::new()),
                    Err(err) => (599, format!("{method} {path}: {err}")),
                }
            }
        });
        for (status, what) in futures_util::future::join_all(answers).await {
            *answered.entry(status).or_insert(0) += 1;
            if status >= 500 {
                server_errors.push((status, what));
            }
        }
    }
    assert!(server_errors.is_empty(), "{server_errors:?}");
    assert_eq!(
        app.get("/health/ready").await.status(),
        200,
        "still serving"
    );
}

#[tokio::test]
async fn half_sent_bodies_are_answered_408_and_their_connections_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::builder()
        .with_config(|c| c.request_timeout = 1)
        .spawn()
        .await;
    // 300 connections each send a request head promising 1000 bytes and then only 10.
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .unwrap();
        stream
            .write_all(
                b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                  Content-Type: application/x-www-form-urlencoded\r\n\
                  Content-Length: 1000\r\n\r\ngrant_type",
            )
            .await
            .unwrap();
        held.push(stream);
    }
    // Meanwhile the server serves everyone else.
    assert_eq!(app.get("/health/live").await.status(), 200);
    // Each is answered 408 and closed, within the request timeout (bounded here by 20 s).
    let mut timed_out = 0;
    for mut stream in held {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut answer),
        )
        .await;
        assert!(read.is_ok(), "the connection was closed by the server");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        timed_out += 1;
    }
    assert_eq!(timed_out, 300);
    // A body that arrives in time is read as before.
    let rp = crate::token_support::client_with(&app, "svc", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
    })
    .await;
    let answer =
        crate::token_support::token(&app, &rp, &[("grant_type", "client_credentials")]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

/// Sends `count` requests; how many were refused with 429 and `Retry-After` (any answer but that
/// and `accepted` fails the test).
async fn refusals<F, Fut>(count: u32, accepted: u16, send: F) -> u32
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let mut refused = 0;
    for _ in 0..count {
        let answer = send().await;
        match answer.status().as_u16() {
            status if status == accepted => {}
            429 => {
                assert!(answer.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("{other}"),
        }
    }
    refused
}

/// Rows in `authorization_requests` (waiting and pushed requests).
async fn waiting_requests(app: &TestApp) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = app.state.store.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM authorization_requests",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn authorization_requests_at_volume_wait_on_the_server_only_up_to_a_bound_per_address() {
    use tessera_core::pending_limit::MAX_PER_ADDRESS;
    use tessera_testkit::flow::REDIRECT;

    let app = TestApp::builder()
        .with_config(|c| c.trusted_proxies = "127.0.0.1/32".into())
        .spawn()
        .await;
    app.with_client("rp", &[REDIRECT]).await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let url = app.url(&format!(
        "/authorize?response_type=code&client_id=rp&redirect_uri={}&scope=openid\
         &code_challenge={challenge}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    ));
    // Anyone can start sign-ins; from one address, the server keeps at most the bound waiting.
    let from = |address: &'static str| {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = url.clone();
        async move {
            http.get(url)
                .header("X-Forwarded-For", address)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = refusals(MAX_PER_ADDRESS + 50, 302, || from("203.0.113.7")).await;
    assert_eq!(
        refused, 50,
        "the flood past the bound is refused, and only it"
    );
    assert_eq!(waiting_requests(&app).await, i64::from(MAX_PER_ADDRESS));
    // Another address is not affected.
    assert_eq!(from("198.51.100.9").await.status(), 302);
    assert_eq!(waiting_requests(&app).await, i64::from(MAX_PER_ADDRESS) + 1);
}

#[tokio::test]
async fn device_authorizations_at_volume_are_kept_only_up_to_a_bound_per_address() {
    use sea_orm::{ConnectionTrait, Statement};
    use tessera_core::pending_limit::MAX_PER_ADDRESS;

    let app = TestApp::builder()
        .with_config(|c| c.trusted_proxies = "127.0.0.1/32".into())
        .spawn()
        .await;
    crate::device::tv_client(&app, "tv").await;
    let rows = || async {
        let conn = app.state.store.connection();
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT COUNT(*) AS n FROM device_authorizations",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    // A public client's device requests are anyone's: one address gets the bound, no more.
    let ask = |address: &'static str| {
        let request = app
            .http
            .post(app.url("/device_authorization"))
            .header("X-Forwarded-For", address)
            .form(&[("client_id", "tv"), ("scope", "openid")]);
        async move { request.send().await.unwrap() }
    };
    let refused = refusals(MAX_PER_ADDRESS + 50, 200, || ask("203.0.113.7")).await;
    assert_eq!(
        refused, 50,
        "the flood past the bound is refused, and only it"
    );
    assert_eq!(rows().await, i64::from(MAX_PER_ADDRESS));
    assert_eq!(ask("198.51.100.9").await.status(), 200, "another address");
}
