//! The database failing mid-request: an outage is a 503 with `Retry-After`, never a 401 that
//! blames the client, never audited or counted against it, and once the database is back the
//! client is not slowed down. The fault is injected by moving the `clients` table away on the
//! app's own database (SQLite or PostgreSQL) and back.

use sea_orm::ConnectionTrait;
use tessera_core::store::AuditRepo;
use tessera_testkit::TestApp;

use crate::token_support::{client_with, post_form};

/// A client_credentials request of the test's `service` client.
async fn service_token(
    app: &TestApp,
    service: &(
        tessera_core::store::ClientRecord,
        tessera_core::secret::PlainToken,
    ),
) -> crate::token_support::Answer {
    post_form(
        app,
        "/token",
        Some(("service", service.1.expose())),
        &[("grant_type", "client_credentials")],
    )
    .await
}

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
        let answer = service_token(&app, &service).await;
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
    let answer = service_token(&app, &service).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[tokio::test]
async fn a_stalled_database_is_a_prompt_503_and_unready_then_recovers_by_itself() {
    use sea_orm::TransactionTrait;
    let app = TestApp::builder()
        .with_config(|c| c.database_timeout = 1)
        .spawn()
        .await;
    if !app.state.config.database_url.starts_with("postgres") {
        // SQLite in WAL mode never blocks readers; a stall is a PostgreSQL matter.
        eprintln!("SKIPPED on SQLite: the stalled-database test needs PostgreSQL");
        return;
    }
    let service = client_with(&app, "service", |c| {
        c.grant_types = vec!["client_credentials".into()];
    })
    .await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
    // Another session holds the clients table (a migration, a runaway admin query).
    let other = sea_orm::Database::connect(app.state.config.database_url.as_str())
        .await
        .unwrap();
    let stall = other.begin().await.unwrap();
    stall
        .execute_unprepared("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let answer = service_token(&app, &service).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.headers["retry-after"], "1");
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503, "unready while the database stalls");
    // The stall ends: ready again, and the client is served.
    stall.rollback().await.unwrap();
    assert_eq!(app.get("/health/ready").await.status(), 200);
    let answer = service_token(&app, &service).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[tokio::test]
async fn a_refresh_that_fails_to_store_its_successor_leaves_the_token_usable() {
    let app = TestApp::spawn().await;
    let alice = app
        .with_user("alice", crate::code_flow::PASSWORD, false)
        .await;
    let rp = client_with(&app, "rp", |_| {}).await;
    let tokens = crate::token_support::code_tokens(&app, &rp, &alice, &["offline_access"]).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let postgres = app.state.config.database_url.starts_with("postgres");
    // The database fails between consuming the token and storing its successor.
    let db = app.state.store.connection();
    if postgres {
        db.execute_unprepared(
            "CREATE FUNCTION tessera_fault() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql",
        )
        .await
        .unwrap();
        db.execute_unprepared(
            "CREATE TRIGGER tessera_fault BEFORE INSERT ON refresh_tokens \
             FOR EACH ROW EXECUTE FUNCTION tessera_fault()",
        )
        .await
        .unwrap();
    } else {
        db.execute_unprepared(
            "CREATE TRIGGER tessera_fault BEFORE INSERT ON refresh_tokens \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        )
        .await
        .unwrap();
    }
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let failed = crate::token_support::token(&app, &rp, &form).await;
    assert_eq!(failed.status, 503, "{:?}", failed.body);
    assert_eq!(failed.headers["retry-after"], "1");
    // The blip ends; the client retries the same token: a fresh pair, not "reuse".
    db.execute_unprepared(if postgres {
        "DROP TRIGGER tessera_fault ON refresh_tokens"
    } else {
        "DROP TRIGGER tessera_fault"
    })
    .await
    .unwrap();
    let retried = crate::token_support::token(&app, &rp, &form).await;
    assert_eq!(
        retried.status, 200,
        "the session survives: {:?}",
        retried.body
    );
    let next = retried.body["refresh_token"].as_str().unwrap();
    let again = crate::token_support::token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", next)],
    )
    .await;
    assert_eq!(again.status, 200, "the family is intact: {:?}", again.body);
}
