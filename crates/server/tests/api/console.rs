//! The console and the pages as people see them (issue 16): in a real headless Chromium at a
//! desktop width (1280 px) and a phone's (390 px), every page styled by the one stylesheet, with
//! no horizontal scrolling and nothing the page policy refuses; the dashboard's charts drawn from
//! seeded counts and from real sign-ins and token requests; the branding an operator sets,
//! through the real binary.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use tessera_core::store::ActivityRepo;
use tessera_testkit::{TestApp, browser::Browser, fantoccini::Locator};

use crate::{
    admin::{arrive, click, element, fill, text},
    code_flow::PASSWORD,
    token_support::{client_with, token},
};

/// The widths every page is looked at: a laptop, a phone.
const WIDTHS: [(u32, u32, bool); 2] = [(1280, 900, false), (390, 844, true)];

/// Whether the page is wider than the viewport (the page would scroll sideways).
async fn scrolls_sideways(browser: &Browser) -> (bool, String) {
    let answer = browser
        .client
        .execute(
            "const d = document.documentElement; \
             const wide = [...document.querySelectorAll('body *')] \
               .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1) \
               .slice(0, 3).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className); \
             return [d.scrollWidth > d.clientWidth, d.clientWidth + ' < ' + d.scrollWidth + ' ' + wide.join(' ')];",
            vec![],
        )
        .await
        .unwrap();
    (
        answer[0].as_bool().unwrap(),
        answer[1].as_str().unwrap_or_default().to_owned(),
    )
}

/// Whether the stylesheet applies: the header's accent rule is drawn.
async fn styled(browser: &Browser) -> bool {
    let answer = browser
        .client
        .execute(
            "const h = document.querySelector('.site-header'); \
             return !!h && getComputedStyle(h).borderBottomWidth === '3px';",
            vec![],
        )
        .await
        .unwrap();
    answer.as_bool().unwrap_or(false)
}

async fn sign_in(browser: &Browser, app: &TestApp, return_to: &str, username: &str) {
    let url = format!("{}?return_to={}", app.url("/login"), urlencode(return_to));
    browser.client.goto(&url).await.unwrap();
    fill(browser, "#username", username).await;
    fill(browser, "#password", PASSWORD).await;
    click(browser, "#sign-in").await;
    assert_eq!(arrive(browser, return_to).await, return_to);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn every_page_is_styled_and_fits_a_laptop_and_a_phone_without_scrolling_sideways() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    // Content as an operator has it: a client with long URIs, a registration token, a lock.
    let (client, _) = client_with(
        &app,
        "a-client-with-a-rather-long-identifier-0123456789",
        |c| {
            c.redirect_uris = vec![
            "https://app.example.com/oauth2/callback/with/a/long/path?and=query&more=parameters"
                .into(),
        ];
        },
    )
    .await;
    app.registration_token(Some(3), Some(chrono::Duration::days(30)))
        .await;
    // A wrong password: the audit log and the locks page have rows.
    let http = tessera_testkit::flow::browser();
    crate::code_flow::sign_in_as(&app, &http, "/login", "alice", "wrong password").await;

    let signed_out = ["/", "/login", "/no-such-page"];
    let end_user = ["/account", "/account/passkeys", "/account/two-step"];
    let client_page = format!("/admin/clients/{}", client.client_id.as_str());
    let user_page = format!("/admin/users/{}", alice.id);
    let console = [
        "/admin",
        "/admin/clients",
        client_page.as_str(),
        "/admin/registration-tokens",
        "/admin/users",
        user_page.as_str(),
        "/admin/sessions",
        "/admin/scopes",
        "/admin/resources",
        "/admin/trusted-issuers",
        "/admin/keys",
        "/admin/sign-in-locks",
        "/admin/audit",
    ];
    let mut problems = Vec::new();
    let mut look = async |browser: &Browser, page: &str, width: u32| {
        browser.client.goto(&app.url(page)).await.unwrap();
        let name = match page.trim_matches('/').replace('/', "-") {
            name if name.is_empty() => "home".to_owned(),
            name if name.starts_with("admin-clients-") => "admin-client".to_owned(),
            name if name.starts_with("admin-users-") => "admin-user".to_owned(),
            name => name,
        };
        browser.screenshot(&format!("page-{name}-{width}")).await;
        if !styled(browser).await {
            problems.push(format!("{page} at {width} px is not styled"));
        }
        let (wide, how) = scrolls_sideways(browser).await;
        if wide {
            problems.push(format!("{page} at {width} px scrolls sideways: {how}"));
        }
        for line in browser.console().await {
            if line.contains("Content Security Policy") {
                problems.push(format!("{page} at {width} px: {line}"));
            }
        }
    };
    for (width, height, mobile) in WIDTHS {
        browser.set_viewport(width, height, mobile).await;
        for page in signed_out {
            look(&browser, page, width).await;
        }
    }
    sign_in(&browser, &app, "/admin", "root").await;
    for (width, height, mobile) in WIDTHS {
        browser.set_viewport(width, height, mobile).await;
        for page in end_user.iter().chain(console.iter()) {
            look(&browser, page, width).await;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The console's header names the admin and marks where they are; lists say when empty.
    assert_eq!(text(&browser, "#admin-name").await, "root");
    browser
        .client
        .goto(&app.url("/admin/trusted-issuers"))
        .await
        .unwrap();
    let current = element(&browser, "nav a[aria-current=page]").await;
    assert_eq!(current.text().await.unwrap(), "Trusted issuers");
    assert!(
        text(&browser, "p.empty")
            .await
            .contains("No issuer is trusted"),
        "the empty list says what to do"
    );
    browser.close().await;
}

#[tokio::test]
async fn the_dashboard_charts_seeded_counts_and_real_sign_ins_and_tokens() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    let now = app.state.clock.now();
    let hour = tessera_web::activity::hour_of(now);
    // Seeded: this hour, three hours ago, and five days ago (outside the 24-hour charts).
    let store = &app.state.store;
    store
        .add_activity(hour, &[("sign_in", 4), ("sign_in.failed", 2)])
        .await
        .unwrap();
    store
        .add_activity(
            hour - chrono::TimeDelta::hours(3),
            &[("sign_in", 1), ("token.client_credentials", 10)],
        )
        .await
        .unwrap();
    store
        .add_activity(
            hour - chrono::TimeDelta::days(5),
            &[("token.refresh_token", 7)],
        )
        .await
        .unwrap();
    // A second instance's flush of the same hour adds to the row.
    store.add_activity(hour, &[("sign_in", 1)]).await.unwrap();

    // Real traffic: two client_credentials tokens and a failed sign-in, counted in memory…
    let service = client_with(&app, "service", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
    })
    .await;
    for _ in 0..2 {
        let answer = token(&app, &service, &[("grant_type", "client_credentials")]).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let http = tessera_testkit::flow::browser();
    crate::code_flow::sign_in_as(&app, &http, "/login", "root", "not the password").await;
    // … and added by the instance's flush (every minute; here at once).
    tessera_server::app::flush_activity(&app.state).await;

    sign_in(&browser, &app, "/admin", "root").await;
    browser.screenshot("console-dashboard").await;
    // Seeded 4 + 1 + 1 sign-ins, plus this one (counted, not flushed yet: not shown).
    assert_eq!(text(&browser, "#figure-sign-ins").await, "6");
    assert_eq!(text(&browser, "#figure-failed").await, "3");
    assert_eq!(text(&browser, "#figure-tokens").await, "12");
    assert_eq!(text(&browser, "#figure-users").await, "1");
    assert_eq!(text(&browser, "#figure-sessions").await, "1");
    // The charts are SVG drawn on the server: bars for the non-zero parts, a legend with
    // totals, and a description for screen readers.
    let bars = |id: &str| format!("#{id} svg rect");
    let count = async |css: String| {
        browser
            .client
            .find_all(Locator::Css(&css))
            .await
            .unwrap()
            .len()
    };
    assert_eq!(
        count(bars("sign-ins-24h")).await,
        3,
        "this hour: 2 parts; 3 h ago: 1"
    );
    assert_eq!(
        count(bars("tokens-24h")).await,
        2,
        "this hour and three hours ago"
    );
    // Per day: today (and three hours ago, unless that was yesterday) and five days ago.
    let day = tessera_web::activity::day_of;
    let days = if day(hour - chrono::TimeDelta::hours(3)) == day(hour) {
        2
    } else {
        3
    };
    assert_eq!(count(bars("tokens-7d")).await, days);
    let label = element(&browser, "#tokens-7d svg")
        .await
        .attr("aria-label")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        label.contains("client_credentials 12") && label.contains("refresh_token 7"),
        "{label}"
    );
    let legend = text(&browser, "#sign-ins-24h .legend").await;
    assert!(
        legend.contains("Signed in 6") && legend.contains("Failed 3"),
        "{legend}"
    );
    // The bar heights follow the counts: the 24-hour sign-in chart's tallest bar (this hour,
    // 5 + 3) fills the plot; the one three hours ago is an eighth of it.
    let heights: Vec<f64> = {
        let mut heights = Vec::new();
        for rect in browser
            .client
            .find_all(Locator::Css("#sign-ins-24h svg rect"))
            .await
            .unwrap()
        {
            let h = rect.attr("height").await.unwrap().unwrap_or_default();
            heights.push(h.parse().unwrap());
        }
        heights
    };
    let total: f64 = heights.iter().sum();
    assert!(
        (total - 144.0 - 18.0).abs() < 0.5,
        "{heights:?}: 144 for this hour, 18 for three hours ago"
    );
    browser.set_viewport(390, 844, true).await;
    browser.client.refresh().await.unwrap();
    browser.screenshot("console-dashboard-390").await;
    let (wide, how) = scrolls_sideways(&browser).await;
    assert!(!wide, "{how}");
    browser.close().await;
}

#[tokio::test]
async fn a_flush_that_fails_keeps_its_counts_for_the_next() {
    let app = TestApp::spawn().await;
    let activity = &app.state.activity;
    activity.count(tessera_web::activity::Series::SignIn);
    activity.count(tessera_web::activity::Series::SignIn);
    // The table is gone from under the store: the flush fails…
    let db = app.state.store.connection();
    db.execute_unprepared("ALTER TABLE activity_counts RENAME TO activity_counts_away")
        .await
        .unwrap();
    let now = app.state.clock.now();
    assert!(activity.flush(app.state.store.as_ref(), now).await.is_err());
    assert_eq!(
        activity.pending(tessera_web::activity::Series::SignIn),
        2,
        "kept for the next flush"
    );
    // … and the next one, with the table back, adds both.
    db.execute_unprepared("ALTER TABLE activity_counts_away RENAME TO activity_counts")
        .await
        .unwrap();
    activity.flush(app.state.store.as_ref(), now).await.unwrap();
    let rows = app
        .state
        .store
        .activity_since(tessera_web::activity::hour_of(now))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].series.as_str(), rows[0].count), ("sign_in", 2));
    assert_eq!(activity.pending(tessera_web::activity::Series::SignIn), 0);
}

#[tokio::test]
async fn the_operator_brands_the_end_user_pages() {
    let dir = tempfile::TempDir::new().unwrap();
    let logo = dir.path().join("logo.svg");
    std::fs::write(
        &logo,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#0a7"/></svg>"##,
    )
    .unwrap();
    let logo_path = logo.display().to_string();
    let served = crate::cli::serve_with(
        dir.path(),
        &[
            ("TESSERA_BRAND_NAME", "Example Identity"),
            ("TESSERA_BRAND_ACCENT", "#0a7f5a"),
            ("TESSERA_BRAND_LOGO", &logo_path),
        ],
    );
    let base = format!("http://{}", served.address);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let home = http.get(format!("{base}/")).send().await.unwrap();
    let policy = home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("style-src 'self';") && !policy.contains("unsafe-inline"),
        "styles come from the stylesheet only: {policy}"
    );
    let home = home.text().await.unwrap();
    assert!(home.contains("<title>Example Identity</title>"), "{home}");
    assert!(home.contains(r#"<img src="/brand/logo" alt="">"#), "{home}");
    assert!(home.contains("<span>Example Identity</span>"), "{home}");
    let login = http.get(format!("{base}/login")).send().await.unwrap();
    assert!(
        login
            .text()
            .await
            .unwrap()
            .contains("<title>Sign in — Example Identity</title>")
    );
    let css = http
        .get(format!("{base}/tessera.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.text()
            .await
            .unwrap()
            .starts_with(":root { --accent: #0a7f5a; }")
    );
    let logo = http.get(format!("{base}/brand/logo")).send().await.unwrap();
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert!(
        logo.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox"),
        "an SVG opened on its own runs nothing"
    );
    assert!(logo.text().await.unwrap().contains("#0a7"));
    served.stop().await;

    // A colour that is not one is refused at start, naming the variable.
    let refused = crate::cli::command(
        dir.path(),
        &["serve"],
        &[
            ("TESSERA_LISTEN", "127.0.0.1:0"),
            ("TESSERA_BRAND_ACCENT", "red;}body{display:none"),
        ],
    )
    .output()
    .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("TESSERA_BRAND_ACCENT"), "{stderr}");
}

#[tokio::test]
async fn an_unbranded_server_has_no_logo_and_tessera_colours() {
    let app = TestApp::spawn().await;
    let logo = app.get("/brand/logo").await;
    assert_eq!(logo.status(), 404);
    let css = app.get("/tessera.css").await.text().await.unwrap();
    assert!(css.starts_with(":root { --accent: #3056d3; }"));
    // The landing page links the stylesheet and has no inline style.
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains(r#"<link rel="stylesheet" href="/tessera.css">"#));
    assert!(!home.contains("<style") && !home.contains("style="));
}

/// The rows of the audit table on the page the browser shows (header row left out).
async fn audit_rows(browser: &Browser) -> Vec<String> {
    let mut rows = Vec::new();
    for row in browser
        .client
        .find_all(Locator::Css("#audit tr"))
        .await
        .unwrap()
        .into_iter()
        .skip(1)
    {
        rows.push(row.text().await.unwrap());
    }
    rows
}

#[tokio::test]
async fn the_audit_log_filters_by_kind_user_and_date_and_pages_through_a_thousand_events() {
    use tessera_core::store::{AuditEvent, AuditRepo};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let bob = app.with_user("bob", PASSWORD, false).await;
    let now = app.state.clock.now();
    let event = |i: i64, at: chrono::DateTime<chrono::Utc>, user: &str| AuditEvent {
        occurred_at: at,
        kind: match i % 4 {
            0 => "login.failed",
            1 => "login.succeeded",
            2 => "consent.given",
            _ => "token.revoked",
        }
        .into(),
        actor: Some(user.to_owned()),
        client_id: Some("webapp".into()),
        user_id: Some(user.to_owned()),
        ip: Some("192.0.2.7".into()),
        user_agent: Some(
            if i == 0 {
                "=HYPERLINK(\"x\")"
            } else {
                "Firefox"
            }
            .into(),
        ),
        details: serde_json::json!({}),
    };
    // 1,000 events over the last ~8 hours, two at each minute (the page order breaks ties by
    // id); a third are alice's. And 50 of alice's from ten days ago.
    for i in 0..1000_i64 {
        let user = if i % 3 == 0 { &alice.id } else { &bob.id };
        let at = now - chrono::TimeDelta::minutes(i / 2);
        app.state
            .store
            .record_event(&event(i, at, user.as_str()))
            .await
            .unwrap();
    }
    let old = now - chrono::TimeDelta::days(10);
    for i in 0..50_i64 {
        let at = old - chrono::TimeDelta::seconds(i);
        app.state
            .store
            .record_event(&event(2, at, alice.id.as_str()))
            .await
            .unwrap();
    }
    let alices_recent = (0..1000).filter(|i| i % 3 == 0).count(); // 334
    let alices_failed = (0..1000).filter(|i| i % 3 == 0 && i % 4 == 0).count(); // 84

    sign_in(&browser, &app, "/admin/audit", "root").await;
    // By user name and kind: one page, every row alice's failed sign-in, her name shown.
    element(&browser, "#filter-kind")
        .await
        .select_by_value("login.failed")
        .await
        .unwrap();
    fill(&browser, "#filter-user", "alice").await;
    click(&browser, "#filter").await;
    assert_eq!(
        arrive(
            &browser,
            "/admin/audit?kind=login.failed&user=alice&client=&from=&to="
        )
        .await,
        "/admin/audit?kind=login.failed&user=alice&client=&from=&to="
    );
    let rows = audit_rows(&browser).await;
    assert_eq!(rows.len(), alices_failed);
    assert!(
        rows.iter()
            .all(|r| r.contains("login.failed") && r.contains(&format!("alice {}", alice.id))),
        "{:?}",
        rows.first()
    );
    assert!(
        browser.client.find(Locator::Css("#older")).await.is_err(),
        "one page"
    );
    browser.screenshot("console-audit-filtered").await;

    // Alice's recent events page by page: 100, 100, 100, 34 — none twice, newest first.
    let today = now.date_naive();
    let from = (today - chrono::TimeDelta::days(1))
        .format("%Y-%m-%d")
        .to_string();
    browser
        .client
        .goto(&app.url(&format!("/admin/audit?user=alice&from={from}")))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let rows = audit_rows(&browser).await;
        assert!(!rows.is_empty() && rows.len() <= 100, "{}", rows.len());
        pages += 1;
        seen.extend(rows);
        match browser.client.find(Locator::Css("#older")).await {
            Ok(older) => {
                let before = crate::admin::path(&browser).await;
                older.click().await.unwrap();
                // The next page is there when the address has changed and the page is loaded.
                for _ in 0..150 {
                    if crate::admin::path(&browser).await != before {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                element(&browser, "#first-page").await;
            }
            Err(_) => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen.len(), alices_recent, "every event once");
    assert_eq!(pages, 4);
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no event on two pages");
    let times: Vec<&str> = seen.iter().map(|r| &r[..19]).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // Up to a date: only the old ones.
    let to = old.date_naive().format("%Y-%m-%d").to_string();
    browser
        .client
        .goto(&app.url(&format!("/admin/audit?user=alice&to={to}")))
        .await
        .unwrap();
    assert_eq!(audit_rows(&browser).await.len(), 50);
    // Nonsense in the filters is said, not a 500.
    browser
        .client
        .goto(&app.url("/admin/audit?kind=nope&from=yesterday&after=garbage"))
        .await
        .unwrap();
    let notes = text(&browser, "p.error").await;
    assert!(notes.contains("event kind does not exist"), "{notes}");

    // The export: every matching event, not only a page; CSV with formulas defused.
    let http = tessera_testkit::flow::browser();
    crate::code_flow::sign_in_as(&app, &http, "/login?return_to=%2Fadmin", "root", PASSWORD).await;
    let csv = http
        .get(app.url("/admin/audit/export?format=csv&user=alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"tessera-audit-")
    );
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "occurred_at,kind,actor,client_id,user_id,ip,user_agent,details"
    );
    assert_eq!(lines.len(), 1 + alices_recent + 50);
    assert!(
        csv.contains(r#""'=HYPERLINK(""x"")""#),
        "a formula is defused"
    );
    let jsonl = http
        .get(app.url("/admin/audit/export?format=jsonl&kind=login.failed&user=alice"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), alices_failed);
    assert!(
        events
            .iter()
            .all(|e| e["kind"] == "login.failed" && e["user_id"] == alice.id.as_str())
    );
    // Signed out: no export.
    let anonymous = app.get("/admin/audit/export?format=csv").await;
    assert_eq!(anonymous.status(), 303);
    browser.close().await;
}

#[tokio::test]
async fn the_user_page_signs_a_device_out_removes_an_app_and_keeps_a_refused_input() {
    use tessera_core::store::{AuditRepo, ConsentRepo, GrantRepo, UserRepo};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    // Alice is signed in on her phone, and allowed an app.
    let phone = tessera_testkit::flow::browser();
    crate::code_flow::sign_in_as(
        &app,
        &phone,
        "/login?return_to=%2Faccount",
        "alice",
        PASSWORD,
    )
    .await;
    assert_eq!(
        phone
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (webapp, _) = client_with(&app, "webapp", |_| {}).await;
    let now = app.state.clock.now();
    let scopes = vec!["openid".to_owned(), "profile".to_owned()];
    app.state
        .store
        .save_consent(&alice.id, &webapp.client_id, &scopes, now)
        .await
        .unwrap();

    // A gateway holds a grant of hers from a trusted issuer's assertion: no consent behind it.
    let (gateway, _) = client_with(&app, "gateway", |_| {}).await;
    app.state
        .store
        .create_grant(&tessera_testkit::fixtures::grant_record(
            "asserted-grant",
            &gateway.client_id,
            &alice.id,
            now,
        ))
        .await
        .unwrap();

    // The admin finds her in the list by name and opens her page.
    sign_in(&browser, &app, "/admin/users", "root").await;
    let page = format!("/admin/users/{}", alice.id);
    click(&browser, &format!("#users a[href=\"{page}\"]")).await;
    assert_eq!(arrive(&browser, &page).await, page);
    assert_eq!(text(&browser, "#user-heading").await, "alice");
    browser.screenshot("console-user").await;

    // Signing her phone out ends its session: the phone is asked to sign in again.
    assert_eq!(
        browser
            .client
            .find_all(Locator::Css("#user-sessions tr"))
            .await
            .unwrap()
            .len(),
        2
    );
    click(&browser, ".revoke-session").await;
    let signed_out = format!("{page}?notice=signed-out");
    assert_eq!(arrive(&browser, &signed_out).await, signed_out);
    let answer = phone.get(app.url("/account")).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    assert!(
        answer.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    assert!(
        text(&browser, "#user-sessions + p.empty, p.empty")
            .await
            .contains("Not signed in")
    );

    // Removing the app forgets her consent.
    click(&browser, ".revoke-app").await;
    let removed = format!("{page}?notice=removed");
    assert_eq!(arrive(&browser, &removed).await, removed);
    assert!(
        app.state
            .store
            .list_user_consents(&alice.id)
            .await
            .unwrap()
            .is_empty()
    );

    // The gateway's grant is listed among those in force, and revoked from here.
    assert!(
        text(&browser, "#user-grants")
            .await
            .contains("asserted-grant")
    );
    click(&browser, ".revoke-grant").await;
    let revoked = format!("{page}?notice=revoked");
    assert_eq!(arrive(&browser, &revoked).await, revoked);
    let grant = app
        .state
        .store
        .find_grant(&tessera_core::GrantId::new("asserted-grant"))
        .await
        .unwrap()
        .unwrap();
    assert!(grant.revoked_at.is_some());
    assert!(
        text(&browser, "#user-grants + p.empty")
            .await
            .contains("No grant")
    );

    // A wrong email is named beside its field, with what was typed kept; nothing is saved.
    // (The browser itself refuses text without an @; this one it lets through.)
    fill(&browser, "#profile-name", "Alice Liddell").await;
    fill(&browser, "#profile-email", "alice@localhost").await;
    click(&browser, "#save-profile").await;
    let posted = format!("{page}/profile");
    assert_eq!(arrive(&browser, &posted).await, posted);
    assert!(
        text(&browser, "#email-error")
            .await
            .contains("email address")
    );
    // Said as an error, not in a confirmation's colours.
    assert!(text(&browser, "p.error#notice").await.contains("not saved"));
    let email = element(&browser, "#profile-email").await;
    assert_eq!(
        email.prop("value").await.unwrap().as_deref(),
        Some("alice@localhost")
    );
    assert_eq!(
        email.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    let name = element(&browser, "#profile-name").await;
    assert_eq!(
        name.prop("value").await.unwrap().as_deref(),
        Some("Alice Liddell")
    );
    browser.screenshot("console-user-refused-email").await;
    let stored = app.state.store.find_user(&alice.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.name, stored.email.as_deref()),
        (None, Some("alice@example.com"))
    );

    // A good one is saved, and the page it lands on can be reloaded without saving again.
    fill(&browser, "#profile-email", "alice@wonderland.example").await;
    click(&browser, "#save-profile").await;
    let saved = format!("{page}?notice=saved");
    assert_eq!(arrive(&browser, &saved).await, saved);
    browser.client.refresh().await.unwrap();
    let stored = app.state.store.find_user(&alice.id).await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(stored.email.as_deref(), Some("alice@wonderland.example"));
    assert!(!stored.email_verified, "a changed address is unconfirmed");
    let search = tessera_core::store::AuditSearch {
        kind: Some("user.updated".into()),
        ..Default::default()
    };
    assert_eq!(
        app.state
            .store
            .search_events(&search, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Disabling her from her page comes back to it.
    click(&browser, "#toggle-enabled").await;
    let updated = format!("{page}?notice=updated");
    assert_eq!(arrive(&browser, &updated).await, updated);
    assert!(text(&browser, "span.badge.off").await.contains("disabled"));
    browser.close().await;
}

#[tokio::test]
async fn a_refused_create_form_marks_the_wrong_field_and_keeps_what_was_typed() {
    use tessera_core::store::ClientRepo;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    app.with_user("taken", PASSWORD, false).await;
    sign_in(&browser, &app, "/admin/clients", "root").await;
    let value = async |css: &str| {
        element(&browser, css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    };

    // A redirect URI with a fragment: the field is marked with the rule's words, and
    // everything typed is still there; nothing is registered.
    fill(&browser, "#client_name", "Shop").await;
    fill(&browser, "#redirect_uris", "https://shop.example/cb#frag").await;
    fill(&browser, "#access_token_ttl", "600").await;
    click(
        &browser,
        "#grant-types input[name=grant_client_credentials]",
    )
    .await;
    click(&browser, "#create").await;
    assert!(
        text(&browser, "#error-redirect_uris")
            .await
            .contains("fragment")
    );
    assert_eq!(
        element(&browser, "#redirect_uris")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert_eq!(value("#client_name").await, "Shop");
    assert_eq!(
        value("#redirect_uris").await,
        "https://shop.example/cb#frag"
    );
    assert_eq!(value("#access_token_ttl").await, "600");
    let checked = element(
        &browser,
        "#grant-types input[name=grant_client_credentials]",
    )
    .await
    .prop("checked")
    .await
    .unwrap();
    assert_eq!(checked.as_deref(), Some("true"));
    assert!(text(&browser, "p.error#notice").await.contains("not saved"));
    browser.screenshot("console-client-refused").await;
    assert!(
        app.state
            .store
            .list_clients(None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A lifetime that is not a number is named too.
    fill(&browser, "#redirect_uris", "https://shop.example/cb").await;
    fill(&browser, "#access_token_ttl", "abc").await;
    click(&browser, "#create").await;
    assert!(
        text(&browser, "#error-access_token_ttl")
            .await
            .contains("whole number")
    );
    assert_eq!(value("#access_token_ttl").await, "abc");

    // Corrected: a private_key_jwt client with its jwks_uri and ES256 ID tokens — what the
    // CLI can set, the form can.
    fill(&browser, "#access_token_ttl", "600").await;
    element(&browser, "#auth_method")
        .await
        .select_by_value("private_key_jwt")
        .await
        .unwrap();
    fill(&browser, "#jwks_uri", "https://shop.example/jwks.json").await;
    element(&browser, "#id_token_alg")
        .await
        .select_by_value("ES256")
        .await
        .unwrap();
    click(&browser, "#create").await;
    element(&browser, "#client-id").await;
    let clients = app.state.store.list_clients(None, 10).await.unwrap();
    assert_eq!(clients.len(), 1);
    let client = &clients[0];
    assert_eq!(client.client_name.as_deref(), Some("Shop"));
    assert_eq!(
        client.token_endpoint_auth_method.as_str(),
        "private_key_jwt"
    );
    assert_eq!(
        client.jwks_uri.as_deref(),
        Some("https://shop.example/jwks.json")
    );
    assert_eq!(
        client.id_token_signed_response_alg.map(|a| a.as_str()),
        Some("ES256")
    );
    assert_eq!(client.access_token_ttl, Some(600));
    assert!(
        client
            .grant_types
            .contains(&tessera_core::grant_type::GrantType::ClientCredentials)
    );

    // The same on the client's own page: a refused change is shown again as typed.
    fill(&browser, "#client_name", "Shop, renamed").await;
    fill(&browser, "#redirect_uris", "https://shop.example/cb#again").await;
    click(&browser, "#save").await;
    assert!(
        text(&browser, "#error-redirect_uris")
            .await
            .contains("fragment")
    );
    assert_eq!(value("#client_name").await, "Shop, renamed");
    assert_eq!(value("#jwks_uri").await, "https://shop.example/jwks.json");
    let stored = app.state.store.list_clients(None, 10).await.unwrap();
    assert_eq!(
        stored[0].client_name.as_deref(),
        Some("Shop"),
        "nothing saved"
    );

    // The user form: a short password keeps the username (never the password), a taken
    // name is named.
    browser.client.goto(&app.url("/admin/users")).await.unwrap();
    fill(&browser, "#new-username", "newcomer").await;
    fill(&browser, "#new-email", "new@example.com").await;
    fill(&browser, "#new-password", "short").await;
    click(&browser, "#create-user-button").await;
    assert!(!text(&browser, "#error-password").await.is_empty());
    assert_eq!(value("#new-username").await, "newcomer");
    assert_eq!(value("#new-email").await, "new@example.com");
    assert_eq!(value("#new-password").await, "");
    fill(&browser, "#new-username", "taken").await;
    fill(&browser, "#new-password", PASSWORD).await;
    click(&browser, "#create-user-button").await;
    assert!(text(&browser, "#error-username").await.contains("exists"));
    browser.screenshot("console-user-refused").await;

    // A registration token with a lifetime of "a week": the field is named, the rest kept.
    browser
        .client
        .goto(&app.url("/admin/registration-tokens"))
        .await
        .unwrap();
    fill(&browser, "#description", "for the partner portal").await;
    fill(&browser, "#uses", "5").await;
    fill(&browser, "#expires_in", "a week").await;
    click(&browser, "#create-token").await;
    assert!(
        text(&browser, "#error-expires_in")
            .await
            .contains("whole number")
    );
    assert_eq!(value("#description").await, "for the partner portal");
    assert_eq!(value("#uses").await, "5");
    assert_eq!(value("#expires_in").await, "a week");
    fill(&browser, "#expires_in", "86400").await;
    click(&browser, "#create-token").await;
    let mut at = String::new();
    for _ in 0..150 {
        at = crate::admin::path(&browser).await;
        if at.starts_with("/admin/shown-once") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(at.starts_with("/admin/shown-once"), "{at}");

    // A scope named like OpenID Connect's own: named, the description kept.
    browser
        .client
        .goto(&app.url("/admin/scopes"))
        .await
        .unwrap();
    fill(&browser, "#scope-name", "profile").await;
    fill(&browser, "#scope-description", "See your photos").await;
    click(&browser, "#save-scope").await;
    assert!(
        text(&browser, "#error-name")
            .await
            .contains("not a scope that can be registered")
    );
    assert_eq!(value("#scope-description").await, "See your photos");
    // A resource server whose scope is not registered: the scopes field is named.
    browser
        .client
        .goto(&app.url("/admin/resources"))
        .await
        .unwrap();
    fill(
        &browser,
        "#resource-identifier",
        "https://api.example/photos",
    )
    .await;
    fill(&browser, "#resource-name", "Photos").await;
    fill(&browser, "#resource-scopes", "photos.read").await;
    click(&browser, "#save-resource").await;
    assert!(
        text(&browser, "#error-scopes")
            .await
            .contains("not registered")
    );
    assert_eq!(
        value("#resource-identifier").await,
        "https://api.example/photos"
    );
    browser.screenshot("console-resource-refused").await;
    browser.close().await;
}

/// The first cell of every row of the table `css` on the browser's page.
async fn first_cells(browser: &Browser, css: &str) -> Vec<String> {
    let mut cells = Vec::new();
    for cell in browser
        .client
        .find_all(Locator::Css(&format!("{css} tr td:first-child")))
        .await
        .unwrap()
    {
        cells.push(cell.text().await.unwrap());
    }
    cells
}

/// Follows `#next-page` from the page the browser shows until there is none; every page's
/// first cells, in order.
async fn every_page(browser: &Browser, css: &str) -> Vec<Vec<String>> {
    let mut pages = vec![first_cells(browser, css).await];
    while let Ok(next) = browser.client.find(Locator::Css("#next-page")).await {
        let before = crate::admin::path(browser).await;
        next.click().await.unwrap();
        for _ in 0..150 {
            if crate::admin::path(browser).await != before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        element(browser, "#first-page").await;
        pages.push(first_cells(browser, css).await);
        assert!(pages.len() < 10, "paging does not end");
    }
    pages
}

#[tokio::test]
async fn every_list_pages_by_a_hundred_and_keeps_the_search() {
    use tessera_core::store::{
        GrantRepo, InitialAccessTokenRepo, TrustedIssuerRepo, UserRecord, UserRepo,
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let root = app.with_user("root", PASSWORD, true).await;
    // 240 more users (one password hash for all: hashing each would only cost time), 130 of
    // them matching "team".
    for i in 0..240 {
        let name = if i < 130 {
            format!("team-{i:03}")
        } else {
            format!("user-{i:03}")
        };
        let user = UserRecord {
            id: tessera_core::Subject::new(format!("sub-{i:03}")),
            username: name.clone(),
            email: Some(format!("{name}@example.com")),
            ..root.clone()
        };
        app.state.store.create_user(&user).await.unwrap();
    }
    // 150 clients, some created in the same second (the order breaks ties by id).
    for i in 0..150 {
        app.with_client(&format!("client-{i:03}"), &["https://app.example/cb"])
            .await;
    }
    sign_in(&browser, &app, "/admin/users", "root").await;
    let pages = every_page(&browser, "#users").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 41]);
    let all: Vec<&String> = pages.iter().flatten().collect();
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "every user once, in name order");

    browser
        .client
        .goto(&app.url("/admin/users?q=team"))
        .await
        .unwrap();
    let pages = every_page(&browser, "#users").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 30], "the search is kept on the next page");
    assert!(pages.iter().flatten().all(|name| name.starts_with("team-")));
    browser.screenshot("console-users-page-2").await;

    browser
        .client
        .goto(&app.url("/admin/clients"))
        .await
        .unwrap();
    let pages = every_page(&browser, "#clients").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 50]);
    let mut ids: Vec<&String> = pages.iter().flatten().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 150, "every client once");
    // A cursor that is not one this page made is the first page, not an error.
    browser
        .client
        .goto(&app.url("/admin/clients?after=nonsense"))
        .await
        .unwrap();
    assert_eq!(first_cells(&browser, "#clients").await.len(), 100);

    // A popular client's grants: 150, all given in the same second (the order breaks ties by
    // id), three of them by team-005; listed a hundred a page and narrowed to one user by name.
    let now = app.state.clock.now();
    for i in 0..150 {
        let user = if i < 3 { 5 } else { i % 120 + 10 };
        app.state
            .store
            .create_grant(&tessera_testkit::fixtures::grant_record(
                &format!("grant-{i:03}"),
                &tessera_core::ClientId::new("client-000"),
                &tessera_core::Subject::new(format!("sub-{user:03}")),
                now,
            ))
            .await
            .unwrap();
    }
    browser
        .client
        .goto(&app.url("/admin/clients/client-000"))
        .await
        .unwrap();
    let pages = every_page(&browser, "#grants").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 50]);
    let mut ids: Vec<&String> = pages.iter().flatten().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 150, "every grant once");
    fill(
        &browser,
        "input[name=q][aria-label=\"Grants of a user\"]",
        "team-005",
    )
    .await;
    click(&browser, "form.search button").await;
    let narrowed = "/admin/clients/client-000?q=team-005";
    assert_eq!(arrive(&browser, narrowed).await, narrowed);
    let mut found = first_cells(&browser, "#grants").await;
    found.sort();
    assert_eq!(found, ["grant-000", "grant-001", "grant-002"]);
    assert!(text(&browser, "#grants").await.contains("team-005"));
    browser.screenshot("console-client-grants-of-a-user").await;

    // 120 registration tokens made in the same second, 30 of them for partners; 105 trusted
    // issuers. Both page by a hundred and search.
    for i in 0..120 {
        app.state
            .store
            .create_initial_access_token(&tessera_core::store::InitialAccessTokenRecord {
                token_hash: tessera_core::secret::TokenHash::of(&format!("token-{i}")),
                description: Some(if i < 30 {
                    format!("Partner {i:03}")
                } else {
                    format!("Internal {i:03}")
                }),
                uses_remaining: Some(1),
                expires_at: None,
                created_at: now,
                revoked_at: None,
                created_by: Some("test".into()),
            })
            .await
            .unwrap();
    }
    for i in 0..105 {
        app.state
            .store
            .create_trusted_issuer(&tessera_core::store::TrustedIssuerRecord {
                id: format!("issuer-{i:03}"),
                issuer: format!("https://idp-{i:03}.example"),
                jwks: None,
                jwks_uri: Some(format!("https://idp-{i:03}.example/jwks.json")),
                allowed_algs: vec![tessera_core::SigningAlg::RS256],
                allowed_subjects: vec!["*".into()],
                allowed_scopes: vec![],
                allowed_clients: vec![tessera_core::ClientId::new("client-000")],
                enabled: true,
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();
    }
    browser
        .client
        .goto(&app.url("/admin/registration-tokens"))
        .await
        .unwrap();
    let pages = every_page(&browser, "#tokens").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 20]);
    let mut ids: Vec<&String> = pages.iter().flatten().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 120, "every token once");
    browser
        .client
        .goto(&app.url("/admin/registration-tokens?q=partner"))
        .await
        .unwrap();
    assert_eq!(first_cells(&browser, "#tokens").await.len(), 30);
    assert!(text(&browser, "#tokens").await.contains("Partner 007"));
    assert!(!text(&browser, "#tokens").await.contains("Internal"));

    browser
        .client
        .goto(&app.url("/admin/trusted-issuers"))
        .await
        .unwrap();
    let pages = every_page(&browser, "#issuers").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 5]);
    let all: Vec<&String> = pages.iter().flatten().collect();
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "every issuer once, by iss");
    browser
        .client
        .goto(&app.url("/admin/trusted-issuers?q=idp-04"))
        .await
        .unwrap();
    assert_eq!(first_cells(&browser, "#issuers").await.len(), 10);
    browser.close().await;
}

#[tokio::test]
async fn who_is_signed_in_is_listed_paged_and_each_device_can_be_signed_out() {
    use tessera_core::store::{BrowserSessionRecord, SessionRepo, UserRecord, UserRepo};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let root = app.with_user("root", PASSWORD, true).await;
    app.with_user("alice", PASSWORD, false).await;
    // Alice on her phone and her laptop, through the real sign-in.
    let phone = tessera_testkit::flow::browser();
    let laptop = tessera_testkit::flow::browser();
    for device in [&phone, &laptop] {
        crate::code_flow::sign_in_as(
            &app,
            device,
            "/login?return_to=%2Faccount",
            "alice",
            PASSWORD,
        )
        .await;
    }
    // 130 more people signed in a while ago (one session each, a second apart), and one
    // whose session ended.
    let now = app.state.clock.now();
    for i in 0..131 {
        let user = UserRecord {
            id: tessera_core::Subject::new(format!("sub-{i:03}")),
            username: format!("person-{i:03}"),
            email: None,
            ..root.clone()
        };
        app.state.store.create_user(&user).await.unwrap();
        let seen = now - chrono::Duration::seconds(60 + i);
        app.state
            .store
            .create_session(&BrowserSessionRecord {
                user_agent: Some(format!("Device {i}")),
                ip: Some("192.0.2.1".into()),
                ended_at: (i == 130).then_some(now),
                ..tessera_testkit::fixtures::session_record(&format!("cookie-{i}"), &user.id, seen)
            })
            .await
            .unwrap();
    }

    sign_in(&browser, &app, "/admin", "root").await;
    click(&browser, "a.card[href=\"/admin/sessions\"]").await;
    assert_eq!(arrive(&browser, "/admin/sessions").await, "/admin/sessions");
    browser.screenshot("console-sessions").await;
    // The admin's console session is listed apart.
    assert!(text(&browser, "#console-sessions").await.contains("root"));
    let pages = every_page(&browser, "#sessions").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [100, 33],
        "alice twice, root (signed in to reach the console) and 130 others; not the ended one"
    );
    let first: Vec<&String> = pages[0].iter().take(3).collect();
    assert_eq!(
        first,
        ["root", "alice", "alice"],
        "most recently seen first"
    );
    let names: Vec<&String> = pages.iter().flatten().collect();
    assert!(!names.iter().any(|n| n.as_str() == "person-130"));
    let people: Vec<&&String> = names.iter().filter(|n| n.starts_with("person-")).collect();
    let mut distinct = people.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((people.len(), distinct.len()), (130, 130), "everyone, once");

    // Narrowed to alice; signing out one device ends that session only.
    browser
        .client
        .goto(&app.url("/admin/sessions?q=alice"))
        .await
        .unwrap();
    assert_eq!(first_cells(&browser, "#sessions").await.len(), 2);
    click(&browser, "#sessions .revoke-session").await;
    let back = "/admin/sessions?notice=signed-out";
    assert_eq!(arrive(&browser, back).await, back);
    assert!(text(&browser, "#notice").await.contains("signed out"));
    let mut statuses = Vec::new();
    for device in [&phone, &laptop] {
        statuses.push(
            device
                .get(app.url("/account"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 303],
        "one device is asked to sign in again, the other is not"
    );
    let alice = app.stored_user("alice").await;
    assert_eq!(
        app.state
            .store
            .list_user_sessions(&alice.id, app.state.clock.now())
            .await
            .unwrap()
            .len(),
        1
    );
    browser.close().await;
}

#[tokio::test]
async fn deleting_a_user_signs_them_out_and_kills_their_tokens_but_never_the_admin_themself() {
    use tessera_core::store::{AuditRepo, ConsentRepo, GrantAdminRepo, SessionRepo, UserRepo};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let root = app.with_user("root", PASSWORD, true).await;
    let bob = app.with_user("bob", PASSWORD, false).await;
    // Bob is signed in in his browser and an app holds his tokens (a refresh token too).
    let device = tessera_testkit::flow::browser();
    crate::code_flow::sign_in_as(
        &app,
        &device,
        "/login?return_to=%2Faccount",
        "bob",
        PASSWORD,
    )
    .await;
    let webapp = client_with(&app, "webapp", |_| {}).await;
    let tokens = crate::token_support::code_tokens(
        &app,
        &webapp,
        &bob,
        &["openid", "profile", "offline_access"],
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let now = app.state.clock.now();
    app.state
        .store
        .save_consent(&bob.id, &webapp.0.client_id, &["openid".to_owned()], now)
        .await
        .unwrap();
    assert_eq!(
        crate::token_support::userinfo(&app, &access).await.status,
        200
    );

    // The admin can not delete themself.
    sign_in(&browser, &app, &format!("/admin/users/{}", root.id), "root").await;
    click(&browser, "#delete-user").await;
    let refused = format!("/admin/users/{}?notice=self", root.id);
    assert_eq!(arrive(&browser, &refused).await, refused);
    assert!(
        text(&browser, "p.error#notice")
            .await
            .contains("your own account")
    );

    // Bob's page: delete.
    let page = format!("/admin/users/{}", bob.id);
    browser.client.goto(&app.url(&page)).await.unwrap();
    click(&browser, "#delete-user").await;
    let deleted = "/admin/users?notice=deleted";
    assert_eq!(arrive(&browser, deleted).await, deleted);
    assert!(
        !first_cells(&browser, "#users")
            .await
            .contains(&"bob".to_owned())
    );
    browser.client.goto(&app.url(&page)).await.unwrap();
    assert!(text(&browser, "h1").await.contains("No such user"));

    // Everything of his is gone or dead: his browser is asked to sign in, the app's access
    // token is inactive and refused at /userinfo, its refresh token refused.
    let answer = device.get(app.url("/account")).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let introspected = crate::token_support::introspect(&app, &webapp, &access).await;
    assert_eq!(introspected["active"], false);
    assert_eq!(
        crate::token_support::userinfo(&app, &access).await.status,
        401
    );
    let refreshed = token(
        &app,
        &webapp,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    refreshed.assert_error(400, "invalid_grant", "a deleted user's refresh token");
    let store = &app.state.store;
    assert!(
        store
            .list_user_sessions(&bob.id, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_user_consents(&bob.id).await.unwrap().is_empty());
    let grants = store
        .list_client_grants(&webapp.0.client_id, Some(&bob.id), None, 10)
        .await
        .unwrap();
    assert!(grants.is_empty());
    // The audit log keeps his name with the deletion.
    let search = tessera_core::store::AuditSearch {
        kind: Some("user.deleted".into()),
        ..Default::default()
    };
    let events = store.search_events(&search, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.details["username"], "bob");
    assert_eq!(events[0].event.actor.as_deref(), Some("admin:root"));
    assert!(store.find_user_by_username("root").await.unwrap().is_some());
    browser.close().await;
}
