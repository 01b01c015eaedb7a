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
                ("username", random_id(300).as_str()),
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
