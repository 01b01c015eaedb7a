//! The database failing mid-request: an outage is a 503 with `Retry-After`, never a 401 that
//! blames the client, never audited or counted against it, and once the database is back the
//! client is not slowed down. The fault is injected by moving the `clients` table away on the
//! app's own database (SQLite or PostgreSQL) and back.

use sea_orm::ConnectionTrait;
use tessera_core::store::AuditRepo;
use tessera_testkit::TestApp;

use crate::token_support::{client_with, post_form};

async fn move_table(app: &TestApp, from: &str, to: &str) {
    app.state
        .store
        .connection()
        .execute_unprepared(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_client_lookup_that_fails_is_a_503_to_retry_not_invalid_client() {
    let app = TestApp::spawn().await;
    let service = client_with(&app, "service", |c| {
        c.grant_types = vec!["client_credentials".into()];
    })
    .await;
    let audit_before = app
        .state
        .store
        .recent_events(None, None, 1000)
        .await
        .unwrap()
        .len();
    move_table(&app, "clients", "clients_away").await;
    // Several attempts, as a client retrying through an outage would make.
    for _ in 0..8 {
        let answer = post_form(
            &app,
            "/token",
            Some(("service", service.1.expose())),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        assert_eq!(answer.body["error"], "temporarily_unavailable");
        assert_eq!(answer.headers["retry-after"], "1");
        assert!(answer.headers.get("www-authenticate").is_none());
    }
    move_table(&app, "clients_away", "clients").await;
    let audit_after = app
        .state
        .store
        .recent_events(None, None, 1000)
        .await
        .unwrap();
    assert!(
        audit_after
            .iter()
            .take(audit_after.len() - audit_before)
            .all(|e| e.kind != "client.auth_failed"),
        "an outage is not a failed authentication"
    );
    // Back: the client is served.
    let answer = post_form(
        &app,
        "/token",
        Some(("service", service.1.expose())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}
