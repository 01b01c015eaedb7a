//! Storage against a real database: SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::Arc;

use chrono::Duration;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use tempfile::TempDir;
use tessera_core::{
    ClientId, Clock, FakeClock, GrantId, Subject,
    amr::Amr,
    grant_type::{GrantType, ResponseType},
    secret::{PlainToken, SecretKind, random_id},
    store::{
        AssertionReplayRepo, AuditEvent, AuditRepo, AuthorizationCodeRecord, ClientAuthMethod,
        ClientRecord, ClientRepo, CodeRepo, Consumption, GrantRecord, GrantRepo, HealthRepo,
        RefreshTokenRecord, RefreshTokenRepo, StoreError, UserRecord, UserRepo,
    },
};
use tessera_storage::{SeaStore, connect, migrate, testing::fresh_database_url};

struct Db {
    store: Arc<SeaStore>,
    url: String,
    clock: FakeClock,
    _dir: TempDir,
}

async fn db() -> Db {
    let dir = TempDir::new().unwrap();
    let url = fresh_database_url(dir.path()).await;
    migrate(&url).await.unwrap();
    let store = Arc::new(SeaStore::new(connect(&url).await.unwrap()));
    Db {
        store,
        url,
        clock: FakeClock::new(),
        _dir: dir,
    }
}

fn client(id: &str, clock: &FakeClock) -> ClientRecord {
    ClientRecord {
        client_name: Some("Example <App>".into()),
        secret_hash: Some(PlainToken::generate(SecretKind::ClientSecret).hash()),
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        scopes: vec!["openid".into(), "profile".into()],
        token_endpoint_auth_method: ClientAuthMethod::ClientSecretBasic,
        id_token_signed_response_alg: Some(tessera_core::SigningAlg::ES256),
        access_token_ttl: Some(600),
        ..ClientRecord::empty(ClientId::new(id), clock.now())
    }
}

fn user(name: &str, clock: &FakeClock) -> UserRecord {
    UserRecord {
        id: Subject::new(random_id()),
        username: name.into(),
        password_hash: "$argon2id$v=19$placeholder".into(),
        email: Some(format!("{name}@example.com")),
        email_verified: false,
        name: None,
        is_admin: false,
        enabled: true,
        mfa_required: false,
        created_at: clock.now(),
    }
}

/// A client, a user and a grant, as the token endpoint would leave them.
async fn family(db: &Db) -> (ClientRecord, UserRecord, GrantRecord) {
    let c = client(&format!("c-{}", random_id()), &db.clock);
    db.store.create_client(&c).await.unwrap();
    let u = user(&format!("u-{}", random_id()), &db.clock);
    db.store.create_user(&u).await.unwrap();
    let g = GrantRecord {
        id: GrantId::new(random_id()),
        client_id: c.client_id.clone(),
        user_id: Some(u.id.clone()),
        scopes: vec!["openid".into()],
        offline: true,
        session_id: None,
        auth_time: Some(db.clock.now()),
        created_at: db.clock.now(),
        revoked_at: None,
        resource: None,
        dpop_jkt: None,
        amr: Amr::password(),
    };
    db.store.create_grant(&g).await.unwrap();
    (c, u, g)
}

/// An unused refresh token of `grant`'s family (its client), valid for 30 days.
fn refresh_for(
    token: &PlainToken,
    grant: &GrantRecord,
    generation: i32,
    clock: &FakeClock,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: token.hash(),
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        scopes: vec!["openid".into()],
        generation,
        created_at: clock.now(),
        expires_at: clock.now() + Duration::days(30),
        consumed_at: None,
        parent_hash: None,
    }
}

fn code_for(
    c: &ClientRecord,
    u: &UserRecord,
    clock: &FakeClock,
) -> (PlainToken, AuthorizationCodeRecord) {
    let code = PlainToken::generate(SecretKind::AuthorizationCode);
    let record = AuthorizationCodeRecord {
        code_hash: code.hash(),
        client_id: c.client_id.clone(),
        user_id: u.id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        scopes: vec!["openid".into(), "profile".into()],
        nonce: Some("n-0S6_WzA2Mj".into()),
        session_id: None,
        auth_time: clock.now(),
        created_at: clock.now(),
        expires_at: clock.now() + Duration::seconds(60),
        grant_id: None,
        resource: None,
        dpop_jkt: None,
        amr: Amr::password(),
    };
    (code, record)
}

#[tokio::test]
async fn migrations_are_idempotent_and_the_database_answers() {
    let db = db().await;
    assert_eq!(migrate(&db.url).await.unwrap(), 0, "nothing left to apply");
    db.store.ping().await.unwrap();
}

#[tokio::test]
async fn concurrent_migrations_apply_each_migration_once() {
    if !tessera_storage::testing::using_postgres() {
        // One SQLite file serves one instance; concurrent start-up is a PostgreSQL concern.
        return;
    }
    let dir = TempDir::new().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let runs = futures_util::future::join_all((0..6).map(|_| migrate(&url))).await;
    let applied: usize = runs
        .into_iter()
        .map(|r| r.expect("every instance starts"))
        .sum();
    assert_eq!(
        applied,
        tessera_migration_count(),
        "each migration applied exactly once"
    );
    let store = SeaStore::new(connect(&url).await.unwrap());
    let rows = store
        .connection()
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT version FROM seaql_migrations",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), tessera_migration_count());
}

fn tessera_migration_count() -> usize {
    use tessera_migration::MigratorTrait;
    tessera_migration::Migrator::migrations().len()
}

#[tokio::test]
async fn sqlite_runs_in_wal_with_full_sync_and_foreign_keys() {
    let db = db().await;
    let conn = db.store.connection();
    if conn.get_database_backend() != DatabaseBackend::Sqlite {
        return;
    }
    let pragma = |name: &'static str| async move {
        let row = conn
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("PRAGMA {name}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<String>(0)
            .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
            .unwrap()
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("synchronous").await, "2", "2 = FULL");
    assert_eq!(pragma("foreign_keys").await, "1");
    // One connection: SQLite serialises writers, and more connections only wait on the lock.
    assert_eq!(
        conn.get_sqlite_connection_pool()
            .options()
            .get_max_connections(),
        1
    );
}

#[tokio::test]
async fn clients_round_trip_and_duplicates_are_conflicts() {
    let db = db().await;
    let c = client("round-trip", &db.clock);
    db.store.create_client(&c).await.unwrap();
    assert_eq!(
        db.store.find_client(&c.client_id).await.unwrap(),
        Some(c.clone())
    );
    assert!(matches!(
        db.store.create_client(&c).await,
        Err(StoreError::Conflict { what: "client" })
    ));
    assert_eq!(
        db.store.find_client(&ClientId::new("nope")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_stored_grant_type_this_version_does_not_know_is_a_corrupt_row_not_dropped() {
    let db = db().await;
    let c = client("from-the-future", &db.clock);
    db.store.create_client(&c).await.unwrap();
    let conn = db.store.connection();
    conn.execute_unprepared(
        "UPDATE clients SET grant_types = '[\"authorization_code\",\"password\"]' \
         WHERE client_id = 'from-the-future'",
    )
    .await
    .unwrap();
    match db.store.find_client(&c.client_id).await {
        Err(StoreError::Corrupt { what, detail }) => {
            assert_eq!((what, detail.as_str()), ("grant_types", "password"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn users_are_unique_by_username() {
    let db = db().await;
    let u = user("alice", &db.clock);
    db.store.create_user(&u).await.unwrap();
    assert_eq!(
        db.store.find_user_by_username("alice").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(db.store.find_user(&u.id).await.unwrap(), Some(u.clone()));
    let mut twin = user("alice", &db.clock);
    twin.email = None;
    assert!(matches!(
        db.store.create_user(&twin).await,
        Err(StoreError::Conflict { .. })
    ));
    // The first row is untouched by the refused insert.
    assert_eq!(
        db.store.find_user_by_username("alice").await.unwrap(),
        Some(u)
    );
}

#[tokio::test]
async fn a_code_is_consumed_once_then_reported_as_replayed() {
    let db = db().await;
    let (c, u, _) = family(&db).await;
    let (code, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();

    assert_eq!(
        db.store
            .consume_code(&code.hash(), db.clock.now())
            .await
            .unwrap(),
        Consumption::Consumed(record.clone())
    );
    assert_eq!(
        db.store
            .consume_code(&code.hash(), db.clock.now())
            .await
            .unwrap(),
        Consumption::AlreadyConsumed(record)
    );
    let unknown = PlainToken::generate(SecretKind::AuthorizationCode);
    assert_eq!(
        db.store
            .consume_code(&unknown.hash(), db.clock.now())
            .await
            .unwrap(),
        Consumption::NotFound
    );
}

/// The one read a rotation and a redemption start with brings the family and the user along,
/// as they are now (a revoked family shows revoked, a grant without a user has none).
#[tokio::test]
async fn a_refresh_token_is_read_with_its_family_and_user_and_a_code_with_its_user() {
    let db = db().await;
    let (c, u, g) = family(&db).await;
    let token = PlainToken::generate(SecretKind::RefreshToken);
    let record = refresh_for(&token, &g, 3, &db.clock);
    db.store.insert_refresh_token(&record).await.unwrap();
    let found = db
        .store
        .find_refresh_token_in_family(&token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.token, record);
    assert_eq!(found.grant.as_ref(), Some(&g));
    assert_eq!(found.user.as_ref(), Some(&u));

    db.store
        .revoke_grant(&g.id, "test", db.clock.now())
        .await
        .unwrap();
    let found = db
        .store
        .find_refresh_token_in_family(&token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.grant.unwrap().revoked_at, Some(db.clock.now()));
    assert_eq!(found.user.as_ref(), Some(&u));

    // A family without a user (no user row joins).
    let lone = GrantRecord {
        id: GrantId::new(random_id()),
        user_id: None,
        ..g.clone()
    };
    db.store.create_grant(&lone).await.unwrap();
    let other = PlainToken::generate(SecretKind::RefreshToken);
    db.store
        .insert_refresh_token(&RefreshTokenRecord {
            token_hash: other.hash(),
            grant_id: lone.id.clone(),
            ..record.clone()
        })
        .await
        .unwrap();
    let found = db
        .store
        .find_refresh_token_in_family(&other.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.grant, Some(lone));
    assert_eq!(found.user, None);
    let unknown = PlainToken::generate(SecretKind::RefreshToken);
    assert_eq!(
        db.store
            .find_refresh_token_in_family(&unknown.hash())
            .await
            .unwrap(),
        None
    );

    let (code, code_record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&code_record).await.unwrap();
    assert_eq!(
        db.store.find_code_with_user(&code.hash()).await.unwrap(),
        Some((code_record, Some(u)))
    );
    assert_eq!(
        db.store.find_code_with_user(&unknown.hash()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn an_expired_code_can_not_be_consumed() {
    let db = db().await;
    let (c, u, _) = family(&db).await;
    let (code, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();
    db.clock.advance(Duration::seconds(59));
    let just_in_time = db.clock.now();
    db.clock.advance(Duration::seconds(1));
    assert_eq!(
        db.store
            .consume_code(&code.hash(), db.clock.now())
            .await
            .unwrap(),
        Consumption::Expired
    );
    // Still redeemable a second earlier: expiry, not the failed attempt, decided.
    assert!(matches!(
        db.store
            .consume_code(&code.hash(), just_in_time)
            .await
            .unwrap(),
        Consumption::Consumed(_)
    ));
}

#[tokio::test]
async fn twenty_concurrent_redemptions_of_one_code_have_exactly_one_winner() {
    let db = db().await;
    let (c, u, _) = family(&db).await;
    let (code, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();
    let now = db.clock.now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&db.store);
            let hash = code.hash();
            tokio::spawn(async move { store.consume_code(&hash, now).await })
        })
        .collect();
    let outcomes: Vec<_> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let winners = outcomes
        .iter()
        .filter(|o| matches!(o, Consumption::Consumed(_)))
        .count();
    let replays = outcomes
        .iter()
        .filter(|o| matches!(o, Consumption::AlreadyConsumed(_)))
        .count();
    assert_eq!((winners, replays), (1, 19), "{outcomes:?}");
}

#[tokio::test]
async fn twenty_concurrent_rotations_of_one_refresh_token_have_exactly_one_winner() {
    let db = db().await;
    let (_, _, g) = family(&db).await;
    let token = PlainToken::generate(SecretKind::RefreshToken);
    let record = refresh_for(&token, &g, 0, &db.clock);
    db.store.insert_refresh_token(&record).await.unwrap();
    let now = db.clock.now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&db.store);
            let hash = token.hash();
            tokio::spawn(async move { store.consume_refresh_token(&hash, now).await })
        })
        .collect();
    let outcomes: Vec<_> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, Consumption::Consumed(_)))
        .collect();
    // The record read back carries the consumption time.
    let used = RefreshTokenRecord {
        consumed_at: Some(now),
        ..record.clone()
    };
    assert_eq!(winners, [&Consumption::Consumed(used.clone())]);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Consumption::AlreadyConsumed(used.clone()))
            .count(),
        19
    );
}

/// A grant the redemption of a code by `c` for `u` creates.
fn grant_for(c: &ClientRecord, u: &UserRecord, clock: &FakeClock) -> GrantRecord {
    GrantRecord {
        id: GrantId::new(random_id()),
        client_id: c.client_id.clone(),
        user_id: Some(u.id.clone()),
        scopes: vec!["openid".into()],
        offline: true,
        session_id: None,
        auth_time: Some(clock.now()),
        created_at: clock.now(),
        revoked_at: None,
        resource: None,
        dpop_jkt: None,
        amr: Amr::password(),
    }
}

/// The rotation as the token endpoint calls it (on PostgreSQL one statement, on SQLite a
/// transaction): twenty at once on one token, exactly one wins, and only its successor exists.
#[tokio::test]
async fn twenty_concurrent_rotations_store_only_the_winners_successor() {
    let db = db().await;
    let (_, _, g) = family(&db).await;
    let token = PlainToken::generate(SecretKind::RefreshToken);
    db.store
        .insert_refresh_token(&refresh_for(&token, &g, 0, &db.clock))
        .await
        .unwrap();
    let now = db.clock.now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&db.store);
            let hash = token.hash();
            let successor = PlainToken::generate(SecretKind::RefreshToken);
            let record = RefreshTokenRecord {
                parent_hash: Some(hash.clone()),
                ..refresh_for(&successor, &g, 1, &db.clock)
            };
            tokio::spawn(async move {
                let outcome = store.rotate_refresh_token(&hash, &record, now).await;
                (outcome.unwrap(), successor)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (Consumption::Consumed(used), successor) => {
                assert_eq!(used.consumed_at, Some(now));
                winners.push(successor);
            }
            (Consumption::AlreadyConsumed(_), successor) => losers.push(successor),
            (other, _) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((winners.len(), losers.len()), (1, 19));
    let stored = db
        .store
        .find_refresh_token(&winners[0].hash())
        .await
        .unwrap();
    assert_eq!(
        stored.map(|r| (r.generation, r.parent_hash, r.consumed_at)),
        Some((1, Some(token.hash()), None))
    );
    for loser in &losers {
        assert_eq!(
            db.store.find_refresh_token(&loser.hash()).await.unwrap(),
            None
        );
    }
}

/// The redemption likewise: one winner, and only its grant and refresh token exist; the code
/// names the winner's grant (what a replay of the code revokes).
#[tokio::test]
async fn twenty_concurrent_redemptions_store_only_the_winners_grant_and_refresh_token() {
    let db = db().await;
    let (c, u, _) = family(&db).await;
    let (code, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();
    let now = db.clock.now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&db.store);
            let hash = code.hash();
            let grant = grant_for(&c, &u, &db.clock);
            let refresh = PlainToken::generate(SecretKind::RefreshToken);
            let refresh_record = refresh_for(&refresh, &grant, 0, &db.clock);
            tokio::spawn(async move {
                let outcome = store
                    .redeem_code(&hash, &grant, Some(&refresh_record), now)
                    .await;
                (outcome.unwrap(), grant, refresh)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (Consumption::Consumed(_), grant, refresh) => winners.push((grant, refresh)),
            (Consumption::AlreadyConsumed(_), grant, refresh) => losers.push((grant, refresh)),
            (other, _, _) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((winners.len(), losers.len()), (1, 19));
    let (grant, refresh) = &winners[0];
    assert_eq!(
        db.store.find_grant(&grant.id).await.unwrap().as_ref(),
        Some(grant)
    );
    assert!(
        db.store
            .find_refresh_token(&refresh.hash())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        db.store
            .find_code(&code.hash())
            .await
            .unwrap()
            .unwrap()
            .grant_id
            .as_ref(),
        Some(&grant.id)
    );
    for (grant, refresh) in &losers {
        assert_eq!(db.store.find_grant(&grant.id).await.unwrap(), None);
        assert_eq!(
            db.store.find_refresh_token(&refresh.hash()).await.unwrap(),
            None
        );
    }
    // Without a refresh token (no offline access) the grant alone is written.
    let (bare, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();
    let grant = grant_for(&c, &u, &db.clock);
    assert!(matches!(
        db.store
            .redeem_code(&bare.hash(), &grant, None, now)
            .await
            .unwrap(),
        Consumption::Consumed(_)
    ));
    assert_eq!(db.store.find_grant(&grant.id).await.unwrap(), Some(grant));
}

/// A rotation or redemption whose write fails half-way (here: a successor or grant whose key
/// exists) leaves nothing behind: the presented token and the code are still usable.
#[tokio::test]
async fn a_failed_rotation_or_redemption_consumes_nothing() {
    let db = db().await;
    let (c, u, g) = family(&db).await;
    let now = db.clock.now();
    let token = PlainToken::generate(SecretKind::RefreshToken);
    let taken = PlainToken::generate(SecretKind::RefreshToken);
    for t in [&token, &taken] {
        db.store
            .insert_refresh_token(&refresh_for(t, &g, 0, &db.clock))
            .await
            .unwrap();
    }
    let clash = RefreshTokenRecord {
        parent_hash: Some(token.hash()),
        ..refresh_for(&taken, &g, 1, &db.clock)
    };
    assert!(matches!(
        db.store
            .rotate_refresh_token(&token.hash(), &clash, now)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let unconsumed = db.store.find_refresh_token(&token.hash()).await.unwrap();
    assert_eq!(unconsumed.unwrap().consumed_at, None);
    let fresh = PlainToken::generate(SecretKind::RefreshToken);
    assert!(matches!(
        db.store
            .rotate_refresh_token(&token.hash(), &refresh_for(&fresh, &g, 1, &db.clock), now)
            .await
            .unwrap(),
        Consumption::Consumed(_)
    ));

    let (code, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();
    // The family's grant id is taken: the grant insert fails.
    assert!(matches!(
        db.store.redeem_code(&code.hash(), &g, None, now).await,
        Err(StoreError::Conflict { .. })
    ));
    let grant = grant_for(&c, &u, &db.clock);
    assert!(matches!(
        db.store
            .redeem_code(&code.hash(), &grant, None, now)
            .await
            .unwrap(),
        Consumption::Consumed(_)
    ));

    // Unknown and idle-expired tokens and codes consume nothing either, and say which.
    let unknown = PlainToken::generate(SecretKind::RefreshToken);
    let spare = refresh_for(
        &PlainToken::generate(SecretKind::RefreshToken),
        &g,
        1,
        &db.clock,
    );
    assert_eq!(
        db.store
            .rotate_refresh_token(&unknown.hash(), &spare, now)
            .await
            .unwrap(),
        Consumption::NotFound
    );
    let idle = PlainToken::generate(SecretKind::RefreshToken);
    db.store
        .insert_refresh_token(&RefreshTokenRecord {
            expires_at: now + Duration::seconds(1),
            ..refresh_for(&idle, &g, 0, &db.clock)
        })
        .await
        .unwrap();
    let (late_code, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();
    let later = now + Duration::seconds(61);
    assert_eq!(
        db.store
            .rotate_refresh_token(&idle.hash(), &spare, later)
            .await
            .unwrap(),
        Consumption::Expired
    );
    assert_eq!(
        db.store
            .redeem_code(
                &late_code.hash(),
                &grant_for(&c, &u, &db.clock),
                None,
                later
            )
            .await
            .unwrap(),
        Consumption::Expired
    );
    assert_eq!(
        db.store
            .find_refresh_token(&spare.token_hash)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn twenty_concurrent_sightings_of_one_assertion_jti_record_it_once() {
    let db = db().await;
    let now = db.clock.now();
    let expires = now + Duration::minutes(5);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&db.store);
            tokio::spawn(async move {
                store
                    .record_once("https://issuer.example", "jti-1", expires, now)
                    .await
            })
        })
        .collect();
    let firsts = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap().as_ref().unwrap())
        .count();
    assert_eq!(firsts, 1);
    // Another issuer's identical jti is a different assertion.
    assert!(
        db.store
            .record_once("https://other.example", "jti-1", expires, now)
            .await
            .unwrap()
    );
    // Once expired, the jti is forgotten (the assertion itself would now fail its exp check).
    let later = expires + Duration::seconds(1);
    assert!(
        db.store
            .record_once(
                "https://issuer.example",
                "jti-1",
                later + Duration::minutes(5),
                later
            )
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn revoking_a_grant_is_idempotent_and_deleting_a_client_cascades() {
    let db = db().await;
    let (c, u, g) = family(&db).await;
    assert!(
        db.store
            .revoke_grant(&g.id, "test", db.clock.now())
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .revoke_grant(&g.id, "again", db.clock.now())
            .await
            .unwrap()
    );
    assert_eq!(
        db.store
            .find_grant(&g.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(db.clock.now())
    );

    let (code, record) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&record).await.unwrap();
    assert!(db.store.delete_client(&c.client_id).await.unwrap());
    assert!(!db.store.delete_client(&c.client_id).await.unwrap());
    assert_eq!(
        db.store.find_grant(&g.id).await.unwrap(),
        None,
        "grant removed with its client"
    );
    assert_eq!(
        db.store
            .consume_code(&code.hash(), db.clock.now())
            .await
            .unwrap(),
        Consumption::NotFound
    );
}

#[tokio::test]
async fn a_code_for_an_unknown_client_is_refused_by_foreign_keys() {
    let db = db().await;
    let (_, u, _) = family(&db).await;
    let ghost = client("ghost", &db.clock);
    let (_, record) = code_for(&ghost, &u, &db.clock);
    assert!(db.store.insert_code(&record).await.is_err());
}

#[tokio::test]
async fn audit_events_come_back_newest_first_and_filter() {
    let db = db().await;
    for (i, client_id) in ["a", "b", "a"].iter().enumerate() {
        db.clock.advance(Duration::seconds(1));
        db.store
            .record_event(&AuditEvent {
                occurred_at: db.clock.now(),
                kind: format!("test.{i}"),
                actor: Some("cli".into()),
                client_id: Some((*client_id).into()),
                user_id: None,
                ip: None,
                user_agent: None,
                details: serde_json::json!({"n": i}),
            })
            .await
            .unwrap();
    }
    let all: Vec<_> = db
        .store
        .recent_events(None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(all, ["test.2", "test.1", "test.0"]);
    let only_a: Vec<_> = db
        .store
        .recent_events(Some("a"), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(only_a, ["test.2", "test.0"]);
    assert_eq!(
        db.store.recent_events(None, None, 1).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_retry_of_a_rotated_refresh_token_stores_siblings_and_the_first_used_deletes_the_rest() {
    use tessera_core::store::{RefreshRetry, RefreshTokenRepo};

    let db = db().await;
    let (c, _, g) = family(&db).await;
    let now = db.clock.now();
    let record = |token: &PlainToken, parent: Option<&PlainToken>| RefreshTokenRecord {
        token_hash: token.hash(),
        grant_id: g.id.clone(),
        client_id: c.client_id.clone(),
        scopes: vec!["openid".into()],
        generation: i32::from(parent.is_some()),
        created_at: now,
        expires_at: now + Duration::days(30),
        consumed_at: None,
        parent_hash: parent.map(PlainToken::hash),
    };
    let parent = PlainToken::generate(SecretKind::RefreshToken);
    let child = PlainToken::generate(SecretKind::RefreshToken);
    db.store
        .insert_refresh_token(&record(&parent, None))
        .await
        .unwrap();
    let since = now - Duration::seconds(10);
    let spare = PlainToken::generate(SecretKind::RefreshToken);
    assert_eq!(
        db.store
            .retry_rotated_refresh_token(&parent.hash(), since, &record(&spare, Some(&parent)), now)
            .await
            .unwrap(),
        RefreshRetry::OutsideWindow,
        "an unused token has nothing to retry"
    );
    assert!(matches!(
        db.store
            .rotate_refresh_token(&parent.hash(), &record(&child, Some(&parent)), now)
            .await
            .unwrap(),
        Consumption::Consumed(_)
    ));

    // 8 concurrent retries: every one stores a sibling (serialised on the parent row).
    let later = now + Duration::seconds(5);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&db.store);
            let hash = parent.hash();
            let sibling = PlainToken::generate(SecretKind::RefreshToken);
            let row = record(&sibling, Some(&parent));
            tokio::spawn(async move {
                let outcome = store
                    .retry_rotated_refresh_token(&hash, later - Duration::seconds(10), &row, later)
                    .await
                    .unwrap();
                (outcome, sibling)
            })
        })
        .collect();
    let mut siblings = Vec::new();
    for task in tasks {
        let (outcome, sibling) = task.await.unwrap();
        assert_eq!(outcome, RefreshRetry::Stored);
        siblings.push(sibling);
    }
    // The first used (one of the retries' siblings) deletes the others, the first child too.
    let grandchild = PlainToken::generate(SecretKind::RefreshToken);
    assert!(matches!(
        db.store
            .rotate_refresh_token(
                &siblings[4].hash(),
                &record(&grandchild, Some(&siblings[4])),
                later
            )
            .await
            .unwrap(),
        Consumption::Consumed(_)
    ));
    for gone in siblings
        .iter()
        .take(4)
        .chain(siblings.iter().skip(5))
        .chain([&child])
    {
        assert_eq!(
            db.store.find_refresh_token(&gone.hash()).await.unwrap(),
            None
        );
    }
    assert!(
        db.store
            .find_refresh_token(&grandchild.hash())
            .await
            .unwrap()
            .is_some()
    );
    // Now a successor was used: a retry of the parent is reuse, and stores nothing.
    let late = PlainToken::generate(SecretKind::RefreshToken);
    assert_eq!(
        db.store
            .retry_rotated_refresh_token(
                &parent.hash(),
                since,
                &record(&late, Some(&parent)),
                later
            )
            .await
            .unwrap(),
        RefreshRetry::SuccessorUsed
    );
    assert_eq!(
        db.store.find_refresh_token(&late.hash()).await.unwrap(),
        None
    );
    // Outside the window likewise.
    assert_eq!(
        db.store
            .retry_rotated_refresh_token(
                &parent.hash(),
                later + Duration::seconds(1),
                &record(&late, Some(&parent)),
                later
            )
            .await
            .unwrap(),
        RefreshRetry::OutsideWindow
    );
}

#[tokio::test]
async fn trusted_issuers_are_unique_and_the_denylist_is_idempotent() {
    use tessera_core::{
        SigningAlg,
        store::{AccessTokenDenylist, TrustedIssuerRecord, TrustedIssuerRepo},
    };

    let db = db().await;
    let now = db.clock.now();
    let issuer = TrustedIssuerRecord {
        id: random_id(),
        issuer: "https://idp.example".into(),
        jwks: Some(serde_json::json!({"keys": []})),
        jwks_uri: None,
        allowed_algs: vec![SigningAlg::ES256],
        allowed_subjects: vec!["*".into()],
        allowed_scopes: vec!["api".into()],
        allowed_clients: vec![ClientId::new("c1")],
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    db.store.create_trusted_issuer(&issuer).await.unwrap();
    let again = TrustedIssuerRecord {
        id: random_id(),
        ..issuer.clone()
    };
    assert!(matches!(
        db.store.create_trusted_issuer(&again).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        db.store
            .find_trusted_issuer("https://idp.example")
            .await
            .unwrap(),
        Some(issuer.clone())
    );
    let mut disabled = issuer.clone();
    disabled.enabled = false;
    db.store.update_trusted_issuer(&disabled).await.unwrap();
    assert!(!db.store.list_trusted_issuers().await.unwrap()[0].enabled);
    assert!(db.store.delete_trusted_issuer(&issuer.id).await.unwrap());
    assert!(!db.store.delete_trusted_issuer(&issuer.id).await.unwrap());

    assert!(!db.store.access_token_denied("jti-1").await.unwrap());
    for _ in 0..2 {
        db.store
            .deny_access_token("jti-1", None, now + Duration::minutes(15), now)
            .await
            .unwrap();
    }
    assert!(db.store.access_token_denied("jti-1").await.unwrap());
}

#[tokio::test]
async fn sweeping_removes_only_what_expired_long_enough_ago() {
    use tessera_core::store::{
        AccessTokenDenylist, BrowserSessionRecord, SessionKind, SessionRepo, SweepRepo, Swept,
    };

    let db = db().await;
    let (c, u, g) = family(&db).await;
    let t0 = db.clock.now();
    let keep = Duration::days(1);
    // Issued at t0: one code, one refresh token, one session, one denylist entry, one jti.
    let (_, code) = code_for(&c, &u, &db.clock);
    db.store.insert_code(&code).await.unwrap();
    let refresh = PlainToken::generate(SecretKind::RefreshToken);
    db.store
        .insert_refresh_token(&RefreshTokenRecord {
            token_hash: refresh.hash(),
            grant_id: g.id.clone(),
            client_id: c.client_id.clone(),
            scopes: vec!["openid".into()],
            generation: 0,
            created_at: t0,
            expires_at: t0 + Duration::hours(1),
            consumed_at: None,
            parent_hash: None,
        })
        .await
        .unwrap();
    let session = PlainToken::generate(SecretKind::Session);
    db.store
        .create_session(&BrowserSessionRecord {
            id_hash: session.hash(),
            user_id: u.id.clone(),
            auth_time: t0,
            created_at: t0,
            last_seen_at: t0,
            idle_expires_at: t0 + Duration::hours(12),
            absolute_expires_at: t0 + Duration::days(7),
            user_agent: None,
            ip: None,
            ended_at: None,
            kind: SessionKind::User,
            amr: Amr::password(),
        })
        .await
        .unwrap();
    db.store
        .deny_access_token("jti-a", Some(&g.id), t0 + Duration::minutes(15), t0)
        .await
        .unwrap();
    db.store
        .record_once("client:c", "jti-b", t0 + Duration::minutes(5), t0)
        .await
        .unwrap();

    // An hour and a bit later: the denylist entry and the jti are dead weight; the code and the
    // refresh token expired but are kept a day for replay detection; the session lives.
    let later = t0 + Duration::minutes(70);
    let swept = db.store.sweep_expired(later, keep).await.unwrap();
    assert_eq!(
        swept,
        Swept {
            revoked_access_tokens: 1,
            assertion_jtis: 1,
            ..Swept::default()
        }
    );
    assert!(matches!(
        db.store.consume_code(&code.code_hash, later).await.unwrap(),
        Consumption::Expired
    ));
    // Two days on, the code and the refresh token go; the session's idle expiry (12 h) passed
    // more than a day ago too.
    let much_later = t0 + Duration::days(2);
    let swept = db.store.sweep_expired(much_later, keep).await.unwrap();
    assert_eq!(
        (swept.codes, swept.refresh_tokens, swept.sessions),
        (1, 1, 1)
    );
    assert!(
        db.store
            .find_session(&session.hash())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.store
            .find_refresh_token(&refresh.hash())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.store.sweep_expired(much_later, keep).await.unwrap(),
        Swept::default(),
        "idempotent"
    );
    // The grant itself is history, not swept.
    assert!(db.store.find_grant(&g.id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_pending_authorization_request_is_decided_exactly_once_and_swept_when_expired() {
    use tessera_core::store::{AuthorizationRequestRecord, AuthorizationRequestRepo, SweepRepo};
    let db = db().await;
    let now = db.clock.now();
    let handle = PlainToken::generate(SecretKind::AuthorizationRequest);
    let record = AuthorizationRequestRecord {
        id_hash: handle.hash(),
        client_id: ClientId::new("c"),
        params: vec![
            ("client_id".into(), "c".into()),
            ("state".into(), "a b&c=\"d\"".into()),
        ],
        created_at: now,
        expires_at: now + Duration::minutes(10),
    };
    db.store
        .insert_authorization_request(&record)
        .await
        .unwrap();
    assert_eq!(
        db.store
            .find_authorization_request(&handle.hash(), now)
            .await
            .unwrap(),
        Some(record.clone()),
        "parameters come back exactly"
    );
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&db.store);
            let hash = handle.hash();
            tokio::spawn(async move { store.consume_authorization_request(&hash, now).await })
        })
        .collect();
    let outcomes: Vec<_> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let decided = outcomes
        .iter()
        .filter(|o| matches!(o, Consumption::Consumed(_)))
        .count();
    assert_eq!(decided, 1, "one decision per request");
    assert!(
        db.store
            .find_authorization_request(&handle.hash(), now)
            .await
            .unwrap()
            .is_none(),
        "a decided request can not be continued"
    );
    // An undecided one expires and is swept at once (nothing to recognise a replay by).
    let other = PlainToken::generate(SecretKind::AuthorizationRequest);
    db.store
        .insert_authorization_request(&AuthorizationRequestRecord {
            id_hash: other.hash(),
            ..record
        })
        .await
        .unwrap();
    let later = now + Duration::minutes(11);
    assert!(matches!(
        db.store
            .consume_authorization_request(&other.hash(), later)
            .await
            .unwrap(),
        Consumption::Expired
    ));
    let swept = db
        .store
        .sweep_expired(later, Duration::days(1))
        .await
        .unwrap();
    assert_eq!(swept.authorization_requests, 2);
}

#[tokio::test]
async fn twenty_concurrent_attempts_on_one_throttle_counter_are_counted_once_each_and_stop_at_the_block()
 {
    use tessera_core::store::{AttemptWaits, SweepRepo, ThrottleCounterRecord, ThrottleRepo};
    let db = db().await;
    let now = db.clock.now();
    let key = tessera_core::secret::TokenHash::of("account:alice");
    db.store
        .insert_counter(&ThrottleCounterRecord {
            key_hash: key.clone(),
            kind: "account".into(),
            label: "alice".into(),
            failures: 0,
            window_started_at: now,
            window_ends_at: now + Duration::minutes(15),
            blocked_until: None,
        })
        .await
        .unwrap();
    let waits = AttemptWaits {
        free: 5,
        blocked_until: vec![now + Duration::seconds(1), now + Duration::seconds(2)],
        max_failures: None,
    };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, key, waits) = (Arc::clone(&db.store), key.clone(), waits.clone());
            tokio::spawn(async move { store.count_attempt(&key, now, &waits).await })
        })
        .collect();
    let counted = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap().as_ref().unwrap())
        .count();
    assert_eq!(counted, 6, "five free, the sixth starts the first wait");
    let row = db.store.find_counter(&key).await.unwrap().unwrap();
    assert_eq!(row.failures, 6);
    assert_eq!(row.blocked_until, Some(now + Duration::seconds(1)));
    // After the wait, one more is counted and the next wait is the second step.
    let after = now + Duration::seconds(1);
    assert!(db.store.count_attempt(&key, after, &waits).await.unwrap());
    assert_eq!(
        db.store
            .find_counter(&key)
            .await
            .unwrap()
            .unwrap()
            .blocked_until,
        Some(now + Duration::seconds(2))
    );
    // A hard limit counts up to it and no further.
    let limited = AttemptWaits {
        free: 8,
        blocked_until: vec![],
        max_failures: Some(8),
    };
    let later = now + Duration::seconds(5);
    assert!(db.store.count_attempt(&key, later, &limited).await.unwrap());
    assert!(!db.store.count_attempt(&key, later, &limited).await.unwrap());
    // Once the window ended (and no block remains) the sweep removes the counter.
    let swept = db
        .store
        .sweep_expired(now + Duration::minutes(16), Duration::days(1))
        .await
        .unwrap();
    assert_eq!(swept.throttle_counters, 1);
    assert!(db.store.find_counter(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn client_flags_and_secrets_are_written_alone_so_stale_writes_do_not_undo_them() {
    let db = db().await;
    let c = client("c-flags", &db.clock);
    db.store.create_client(&c).await.unwrap();
    let now = db.clock.now();
    // An edit read the client before an admin disabled it and another rotated its secret.
    let mut stale = db.store.find_client(&c.client_id).await.unwrap().unwrap();
    assert!(
        db.store
            .set_client_enabled(&c.client_id, false)
            .await
            .unwrap()
    );
    let new_secret = PlainToken::generate(SecretKind::ClientSecret).hash();
    assert!(
        db.store
            .set_client_secret_hash(&c.client_id, Some(&new_secret), now)
            .await
            .unwrap()
    );
    stale.client_name = Some("Renamed".into());
    db.store.update_client(&stale).await.unwrap();
    let after = db.store.find_client(&c.client_id).await.unwrap().unwrap();
    assert!(!after.enabled, "the disable stands");
    assert_eq!(after.secret_hash, Some(new_secret), "the rotation stands");
    assert_eq!(after.client_name.as_deref(), Some("Renamed"));
    assert!(
        !db.store
            .set_client_enabled(&ClientId::new("nobody"), true)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn audit_events_past_their_retention_are_deleted_and_newer_ones_kept() {
    let db = db().await;
    let now = db.clock.now();
    for days_ago in [100, 91, 89, 1] {
        db.store
            .record_event(&AuditEvent {
                occurred_at: now - Duration::days(days_ago),
                kind: format!("test.{days_ago}"),
                actor: None,
                client_id: None,
                user_id: None,
                ip: None,
                user_agent: None,
                details: serde_json::json!({}),
            })
            .await
            .unwrap();
    }
    let deleted = db
        .store
        .delete_events_before(now - Duration::days(90))
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let kinds: Vec<String> = db
        .store
        .recent_events(None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["test.1", "test.89"]);
}

#[tokio::test]
async fn second_factors_confirm_once_and_each_step_and_recovery_code_is_used_once() {
    use tessera_core::{
        store::{SecondFactorChallenge, SecondFactorRepo, SweepRepo},
        totp::{TotpSecret, recovery_hash},
    };
    let db = db().await;
    let u = user("alice", &db.clock);
    db.store.create_user(&u).await.unwrap();
    let now = db.clock.now();
    let first = TotpSecret::generate();
    db.store.begin_totp(&u.id, &first, now).await.unwrap();
    // Starting over replaces the unconfirmed secret.
    let second = TotpSecret::generate();
    db.store.begin_totp(&u.id, &second, now).await.unwrap();
    let stored = db.store.find_totp(&u.id).await.unwrap().unwrap();
    assert_eq!((stored.secret, stored.confirmed_at), (second.clone(), None));
    // Nothing confirmed: a step is not recorded.
    assert!(!db.store.use_totp_step(&u.id, 10).await.unwrap());
    let codes = [recovery_hash("aaaaa-bbbbb"), recovery_hash("ccccc-ddddd")];
    assert!(db.store.confirm_totp(&u.id, 10, &codes, now).await.unwrap());
    assert!(
        !db.store.confirm_totp(&u.id, 11, &codes, now).await.unwrap(),
        "once"
    );
    // A confirmed app is not replaced by starting again.
    assert!(matches!(
        db.store.begin_totp(&u.id, &first, now).await,
        Err(StoreError::Conflict { .. })
    ));
    // Steps only move forward: the confirming step and earlier ones are spent.
    assert!(!db.store.use_totp_step(&u.id, 10).await.unwrap());
    assert!(!db.store.use_totp_step(&u.id, 9).await.unwrap());
    assert!(db.store.use_totp_step(&u.id, 12).await.unwrap());
    assert!(!db.store.use_totp_step(&u.id, 11).await.unwrap());
    // Recovery codes: each once, typed any way.
    assert_eq!(db.store.unused_recovery_codes(&u.id).await.unwrap(), 2);
    let typed = recovery_hash("AAAAA BBBBB");
    assert!(
        db.store
            .use_recovery_code(&u.id, &typed, now)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .use_recovery_code(&u.id, &typed, now)
            .await
            .unwrap()
    );
    assert_eq!(db.store.unused_recovery_codes(&u.id).await.unwrap(), 1);
    assert_eq!(
        db.store
            .users_with_totp(std::slice::from_ref(&u.id))
            .await
            .unwrap(),
        std::slice::from_ref(&u.id)
    );
    // Challenges: found while live, deleted once, swept when lapsed.
    let challenge = |id: &str, minutes: i64| SecondFactorChallenge {
        id_hash: tessera_core::secret::TokenHash::of(id),
        user_id: u.id.clone(),
        auth_time: now,
        expires_at: now + Duration::minutes(minutes),
    };
    db.store.create_challenge(&challenge("a", 5)).await.unwrap();
    db.store.create_challenge(&challenge("b", 5)).await.unwrap();
    let a = challenge("a", 5).id_hash;
    assert!(db.store.find_challenge(&a, now).await.unwrap().is_some());
    assert!(db.store.delete_challenge(&a).await.unwrap());
    assert!(!db.store.delete_challenge(&a).await.unwrap());
    let later = now + Duration::minutes(6);
    let b = challenge("b", 5).id_hash;
    assert!(
        db.store.find_challenge(&b, later).await.unwrap().is_none(),
        "lapsed"
    );
    let swept = db
        .store
        .sweep_expired(later, Duration::days(1))
        .await
        .unwrap();
    assert_eq!(swept.second_factor_challenges, 1);
    // Removed: the app and the codes.
    assert!(db.store.remove_totp(&u.id).await.unwrap());
    assert!(db.store.find_totp(&u.id).await.unwrap().is_none());
    assert_eq!(db.store.unused_recovery_codes(&u.id).await.unwrap(), 0);
    assert!(!db.store.remove_totp(&u.id).await.unwrap());
}

#[tokio::test]
async fn one_unused_email_link_per_user_and_purpose_and_each_is_used_once() {
    use tessera_core::store::{EmailLinkPurpose, EmailLinkRecord, EmailLinkRepo};
    let db = db().await;
    let u = user("alice", &db.clock);
    db.store.create_user(&u).await.unwrap();
    let t0 = db.clock.now();
    let link = |token: &str, purpose, at: chrono::DateTime<chrono::Utc>| EmailLinkRecord {
        token_hash: tessera_core::secret::TokenHash::of(token),
        user_id: u.id.clone(),
        purpose,
        email: Some("alice@example.com".into()),
        created_at: at,
        expires_at: at + Duration::minutes(30),
    };
    let reset = EmailLinkPurpose::PasswordReset;
    assert!(
        db.store
            .create_email_link(&link("a", reset, t0), t0 - Duration::seconds(60))
            .await
            .unwrap()
    );
    // A second request at the same moment (a race): refused, the first stays.
    assert!(
        !db.store
            .create_email_link(&link("b", reset, t0), t0 - Duration::seconds(60))
            .await
            .unwrap()
    );
    // Another purpose is its own.
    let verify = EmailLinkPurpose::VerifyEmail;
    assert!(
        db.store
            .create_email_link(&link("v", verify, t0), t0)
            .await
            .unwrap()
    );
    // After the window a new one replaces the old unused one.
    let t1 = t0 + Duration::minutes(2);
    assert!(
        db.store
            .create_email_link(&link("c", reset, t1), t1 - Duration::seconds(60))
            .await
            .unwrap()
    );
    let hash = |t: &str| tessera_core::secret::TokenHash::of(t);
    assert!(
        !db.store
            .email_link_is_live(&hash("a"), reset, t1)
            .await
            .unwrap(),
        "replaced"
    );
    assert_eq!(
        db.store.latest_email_link(&u.id, reset).await.unwrap(),
        Some(t1)
    );
    // Used once, for its purpose only, while live.
    assert!(
        db.store
            .use_email_link(&hash("c"), verify, t1)
            .await
            .unwrap()
            .is_none()
    );
    let used = db
        .store
        .use_email_link(&hash("c"), reset, t1)
        .await
        .unwrap();
    assert_eq!(used, Some((u.id.clone(), Some("alice@example.com".into()))));
    assert!(
        db.store
            .use_email_link(&hash("c"), reset, t1)
            .await
            .unwrap()
            .is_none()
    );
    let late = t0 + Duration::hours(1);
    assert!(
        db.store
            .use_email_link(&hash("v"), verify, late)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
}

#[tokio::test]
async fn passkeys_are_unique_each_use_recorded_once_and_each_ceremony_taken_once() {
    use tessera_core::{
        secret::TokenHash,
        store::{PasskeyCeremony, PasskeyPurpose, PasskeyRecord, PasskeyRepo, SweepRepo},
    };
    let db = db().await;
    let (alice, bob) = (user("alice", &db.clock), user("bob", &db.clock));
    db.store.create_user(&alice).await.unwrap();
    db.store.create_user(&bob).await.unwrap();
    let now = db.clock.now();
    let key = |id: &str, owner: &tessera_core::store::UserRecord| PasskeyRecord {
        credential_id: id.into(),
        user_id: owner.id.clone(),
        user_handle: "aGFuZGxl".into(),
        name: format!("key {id}"),
        public_key: "cGs".into(),
        counters: "AAAAAAAAAA".into(),
        synced: false,
        created_at: now,
        last_used_at: None,
    };
    db.store.add_passkey(&key("k1", &alice)).await.unwrap();
    db.store.add_passkey(&key("k2", &alice)).await.unwrap();
    // One credential id is one passkey, whoever registers it again.
    assert!(matches!(
        db.store.add_passkey(&key("k1", &bob)).await,
        Err(tessera_core::store::StoreError::Conflict { .. })
    ));
    assert_eq!(db.store.passkeys(&alice.id).await.unwrap().len(), 2);
    assert_eq!(
        db.store
            .users_with_passkeys(&[alice.id.clone(), bob.id.clone()])
            .await
            .unwrap(),
        std::slice::from_ref(&alice.id)
    );
    // A use is recorded only over the counters it read: two racing answers record once.
    let (a, b) = tokio::join!(
        db.store
            .record_passkey_use("k1", "AAAAAAAAAA", "AQAAAAAAAA", now),
        db.store
            .record_passkey_use("k1", "AAAAAAAAAA", "AgAAAAAAAA", now),
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(),
        1,
        "one of two writes over the same counters"
    );
    let used = db.store.find_passkey("k1").await.unwrap().unwrap();
    assert!(used.last_used_at.is_some());
    // Only the owner renames or removes.
    assert!(
        !db.store
            .rename_passkey(&bob.id, "k1", "mine")
            .await
            .unwrap()
    );
    assert!(
        db.store
            .rename_passkey(&alice.id, "k1", "Laptop")
            .await
            .unwrap()
    );
    assert!(!db.store.remove_passkey(&bob.id, "k2").await.unwrap());
    assert!(db.store.remove_passkey(&alice.id, "k2").await.unwrap());
    assert_eq!(db.store.remove_all_passkeys(&alice.id).await.unwrap(), 1);

    // Ceremonies: taken once (also by two takers at once), never after they lapse, swept.
    let ceremony = |id: &str, minutes: i64| PasskeyCeremony {
        id_hash: TokenHash::of(id),
        purpose: PasskeyPurpose::SignIn,
        user_id: None,
        state: "c3RhdGU".into(),
        expires_at: now + Duration::minutes(minutes),
    };
    db.store
        .create_passkey_ceremony(&ceremony("c1", 5))
        .await
        .unwrap();
    db.store
        .create_passkey_ceremony(&ceremony("c2", 5))
        .await
        .unwrap();
    let c1 = TokenHash::of("c1");
    let (x, y) = tokio::join!(
        db.store.take_passkey_ceremony(&c1, now),
        db.store.take_passkey_ceremony(&c1, now),
    );
    let taken: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].purpose, PasskeyPurpose::SignIn);
    assert_eq!(taken[0].state, "c3RhdGU");
    let later = now + Duration::minutes(6);
    let c2 = TokenHash::of("c2");
    assert!(
        db.store
            .take_passkey_ceremony(&c2, later)
            .await
            .unwrap()
            .is_none()
    );
    let swept = db
        .store
        .sweep_expired(later, Duration::days(1))
        .await
        .unwrap();
    assert_eq!(swept.passkey_ceremonies, 1);
    // A user's new ceremony replaces their waiting one of the same purpose: one row each.
    let mine = |id: &str, purpose| PasskeyCeremony {
        user_id: Some(bob.id.clone()),
        purpose,
        ..ceremony(id, 5)
    };
    for id in ["r1", "r2", "r3"] {
        db.store
            .create_passkey_ceremony(&mine(id, PasskeyPurpose::Register))
            .await
            .unwrap();
    }
    db.store
        .create_passkey_ceremony(&mine("s1", PasskeyPurpose::SecondFactor))
        .await
        .unwrap();
    for (id, live) in [("r1", false), ("r2", false), ("r3", true), ("s1", true)] {
        let taken = db
            .store
            .take_passkey_ceremony(&TokenHash::of(id), now)
            .await
            .unwrap();
        assert_eq!(taken.is_some(), live, "{id}");
    }
}

#[tokio::test]
async fn an_accounts_counters_are_found_by_its_label_with_like_wildcards_taken_literally() {
    use tessera_core::store::{ThrottleCounterRecord, ThrottleRepo};
    let db = db().await;
    let now = db.clock.now();
    let counter = |kind: &str, label: &str, blocked: bool, ended: bool| ThrottleCounterRecord {
        key_hash: tessera_core::secret::TokenHash::of(&format!("{kind}:{label}")),
        kind: kind.into(),
        label: label.into(),
        failures: 3,
        window_started_at: now - Duration::minutes(1),
        window_ends_at: if ended {
            now - Duration::seconds(1)
        } else {
            now + Duration::minutes(14)
        },
        blocked_until: blocked.then(|| now + Duration::seconds(30)),
    };
    for record in [
        counter("account", "a_b", true, false),
        counter("account_address", "a_b from 192.0.2.1", false, false),
        counter("account_address", "a_b from 192.0.2.2", true, true),
        // Not a_b's: `_` and `%` are not wildcards, a prefix is not the account.
        counter("account", "axb", true, false),
        counter("account_address", "axb from 192.0.2.1", false, false),
        counter("account_address", "a_bc from 192.0.2.1", false, false),
        counter("address", "a_b from 192.0.2.1", false, false),
    ] {
        db.store.insert_counter(&record).await.unwrap();
    }
    let mut found: Vec<String> = db
        .store
        .account_counters("a_b", now)
        .await
        .unwrap()
        .into_iter()
        .map(|c| format!("{} {}", c.kind, c.label))
        .collect();
    found.sort();
    assert_eq!(
        found,
        ["account a_b", "account_address a_b from 192.0.2.1"],
        "the window that ended is not listed"
    );
    assert_eq!(db.store.account_counters("a%", now).await.unwrap().len(), 0);
    assert_eq!(
        db.store.count_blocked(now).await.unwrap(),
        2,
        "a_b's and axb's own; the ended window's block is not in force"
    );
}
