//! A forgotten password, reset by email as a user meets it: an SMTP server started here on
//! loopback receives the message, the link in it is followed, and the reset ends what the old
//! password signed in (sessions, refresh tokens). The same answer for unknown accounts, one
//! message per minute per account, a link that works once, a weak password refused without
//! using the link up, and without SMTP the pages say resets are not set up.

use tessera_core::store::UserRepo;
use tessera_testkit::{
    TestApp,
    html::hidden_fields,
    mail::{SmtpSink, decoded},
};

use crate::{
    code_flow::{PASSWORD, browser, get, location, sign_in_as},
    token_support::{client_with, code_tokens, token},
};

/// The link to `path` in a message, as a mail client shows it.
fn link_to(message: &str, path: &str) -> String {
    let message = decoded(message);
    let at = message.find(path).expect("a link in the message");
    let start = message[..at].rfind("http://").unwrap();
    message[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn link_in(message: &str) -> String {
    link_to(message, "/password/reset?token=")
}

async fn ask_for_link(app: &TestApp, http: &tessera_testkit::reqwest::Client, account: &str) {
    let page = get(app, http, "/password/forgot")
        .await
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&page);
    form.push(("account".into(), account.into()));
    let asked = http
        .post(app.url("/password/forgot"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 303);
    assert_eq!(location(&asked), "/password/forgot?sent=1");
    let sent = get(app, http, "/password/forgot?sent=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(sent.contains("id=\"sent\""), "{sent}");
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_the_emailed_link_and_the_old_sign_ins_end() {
    let sink = SmtpSink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let app = TestApp::builder()
        .with_config(move |c| {
            c.smtp_url = Some(smtp);
            c.smtp_from = Some("Tessera <noreply@example.com>".into());
        })
        .spawn()
        .await;
    let mut alice = app.with_user("alice", PASSWORD, false).await;
    alice.email = Some("Alice@Example.com".into());
    app.state
        .store
        .update_user(&alice, app.state.clock.now())
        .await
        .unwrap();
    // Signed in on a laptop, and an app holding a refresh token.
    let laptop = browser();
    assert_eq!(
        sign_in_as(&app, &laptop, "/login", "alice", PASSWORD)
            .await
            .status(),
        303
    );
    let client = client_with(&app, "rp", |_| {}).await;
    let tokens = code_tokens(&app, &client, &alice, &["openid", "offline_access"]).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The sign-in page offers the reset; the address is matched whatever its case.
    let phone = browser();
    let login = get(&app, &phone, "/login").await.text().await.unwrap();
    assert!(login.contains("id=\"forgot\""));
    ask_for_link(&app, &phone, "alice@example.com").await;
    let message = sink.message(0).await;
    assert!(
        message.contains("To: Alice@Example.com") || message.contains("To: <Alice@Example.com>"),
        "{message}"
    );
    assert!(
        message.contains("Subject: Reset your password"),
        "{message}"
    );
    let link = link_in(&message);
    assert!(
        link.starts_with(&format!("{}/password/reset?token=tsw_", app.issuer)),
        "{link}"
    );

    // Unknown accounts get the same answer and no message; asking again at once sends nothing.
    ask_for_link(&app, &phone, "nobody@example.com").await;
    ask_for_link(&app, &phone, "alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 1);

    // The link: a weak password is refused and the link still works; a good one is set.
    let page = phone.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    let post = |password: &'static str, page: String| {
        let phone = phone.clone();
        let url = app.url("/password/reset");
        async move {
            let mut form = hidden_fields(&page);
            form.push(("password".into(), password.into()));
            phone.post(url).form(&form).send().await.unwrap()
        }
    };
    assert_eq!(post("short", page.clone()).await.status(), 400);
    let done = post("a brand new passphrase", page.clone()).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/login?reason=reset");
    let notice = get(&app, &phone, "/login?reason=reset")
        .await
        .text()
        .await
        .unwrap();
    assert!(notice.contains("Your password was changed"));

    // Once only.
    assert_eq!(phone.get(&link).send().await.unwrap().status(), 410);
    assert_eq!(post("another new passphrase", page).await.status(), 410);
    // Everything the old password signed in is over.
    let account = get(&app, &laptop, "/account").await;
    assert_eq!(account.status(), 303, "the laptop is signed out");
    let refreshed = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    refreshed.assert_error(
        400,
        "invalid_grant",
        "the app's refresh token died with the reset",
    );
    let old = sign_in_as(&app, &browser(), "/login", "alice", PASSWORD).await;
    assert_eq!(old.status(), 200, "the old password is wrong now");
    let new = sign_in_as(
        &app,
        &browser(),
        "/login",
        "alice",
        "a brand new passphrase",
    )
    .await;
    assert_eq!(new.status(), 303);
    let user = app.state.store.find_user(&alice.id).await.unwrap().unwrap();
    assert_ne!(user.password_hash, alice.password_hash);
}

#[tokio::test]
async fn without_smtp_the_pages_say_resets_are_not_set_up() {
    let app = TestApp::spawn().await;
    let http = browser();
    let login = get(&app, &http, "/login").await.text().await.unwrap();
    assert!(!login.contains("id=\"forgot\""));
    let page = get(&app, &http, "/password/forgot")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"not-offered\""), "{page}");
    let gone = get(&app, &http, "/password/reset?token=tsw_made_up").await;
    assert_eq!(gone.status(), 410);
}

/// The verification link in a message, as a mail client shows it.
fn verify_link_in(message: &str) -> String {
    link_to(message, "/email/verify?token=")
}

/// Opens a verification link and presses the button; the answer.
async fn confirm(
    app: &TestApp,
    http: &tessera_testkit::reqwest::Client,
    link: &str,
) -> tessera_testkit::reqwest::Response {
    let page = http.get(link).send().await.unwrap();
    if page.status() != 200 {
        return page;
    }
    let form = hidden_fields(&page.text().await.unwrap());
    http.post(app.url("/email/verify"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_address_is_confirmed_only_by_its_own_link_at_sign_up_and_after_a_change() {
    let sink = SmtpSink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(move |c| {
            c.smtp_url = Some(smtp);
            c.self_registration = true;
        })
        .spawn()
        .await;
    // Sign-up: signed in at once, the address unconfirmed until its link is used.
    let http = browser();
    let page = get(&app, &http, "/signup").await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    for (name, value) in [
        ("name", "Bea Example"),
        ("email", "bea@example.com"),
        ("password", "a long enough passphrase"),
    ] {
        form.push((name.into(), value.into()));
    }
    let signed_up = http
        .post(app.url("/signup"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 303);
    let bea = app.stored_user("bea@example.com").await;
    assert!(!bea.email_verified);
    let account = get(&app, &http, "/account").await.text().await.unwrap();
    assert!(account.contains("not confirmed"), "{account}");
    let link = verify_link_in(&sink.message(0).await);
    // Opening the link alone (as a mail scanner does) confirms nothing; the button does.
    let opened = http.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    let reread = app.state.store.find_user(&bea.id).await.unwrap().unwrap();
    assert!(!reread.email_verified);
    let confirmed = confirm(&app, &http, &link).await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(location(&confirmed), "/account?notice=email-verified");
    let reread = app.state.store.find_user(&bea.id).await.unwrap().unwrap();
    assert!(reread.email_verified);
    assert_eq!(confirm(&app, &http, &link).await.status(), 410, "once");
    let events = tessera_core::store::AuditRepo::recent_events(
        app.state.store.as_ref(),
        None,
        Some(bea.id.as_str()),
        20,
    )
    .await
    .unwrap();
    assert!(events.iter().any(|e| e.kind == "user.email_verified"));

    // A new address is unconfirmed; its link comes (at most one a minute per account).
    let account = get(&app, &http, "/account").await.text().await.unwrap();
    let change = |address: &'static str, page: String| {
        let http = http.clone();
        let url = app.url("/account/email");
        async move {
            let start = page.find("action=\"/account/email\"").unwrap();
            let form_html = &page[start..start + page[start..].find("</form>").unwrap()];
            let mut form = hidden_fields(&format!("<form {form_html}</form>"));
            form.push(("email".into(), address.into()));
            http.post(url).form(&form).send().await.unwrap()
        }
    };
    let changed = change("bea@new.example", account.clone()).await;
    assert_eq!(location(&changed), "/account?notice=email-sent");
    let reread = app.state.store.find_user(&bea.id).await.unwrap().unwrap();
    assert_eq!(reread.email.as_deref(), Some("bea@new.example"));
    assert!(!reread.email_verified);
    let new_link = verify_link_in(&sink.message(1).await);
    // Changed again at once: no second message within the minute, and the link sent to the
    // previous address confirms nothing now.
    let again = change("bea@third.example", account.clone()).await;
    assert_eq!(location(&again), "/account?notice=email-changed");
    assert_eq!(confirm(&app, &http, &new_link).await.status(), 410);
    let reread = app.state.store.find_user(&bea.id).await.unwrap().unwrap();
    assert!(
        !reread.email_verified,
        "an old link does not confirm a new address"
    );
    // A minute on, "send again" mails the current address, whose link confirms it.
    clock.advance(chrono::Duration::seconds(61));
    let account = get(&app, &http, "/account").await.text().await.unwrap();
    let start = account.find("action=\"/account/email/verify\"").unwrap();
    let form_html = &account[start..start + account[start..].find("</form>").unwrap()];
    let form = hidden_fields(&format!("<form {form_html}</form>"));
    let resent = http
        .post(app.url("/account/email/verify"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resent), "/account?notice=email-sent");
    let message = sink.message(2).await;
    assert!(message.contains("bea@third.example"), "{message}");
    let third = confirm(&app, &http, &verify_link_in(&message)).await;
    assert_eq!(third.status(), 303);
    assert!(
        app.state
            .store
            .find_user(&bea.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
}

#[tokio::test]
async fn a_throttled_account_gets_an_unlock_link_that_lets_it_sign_in_at_once() {
    let sink = SmtpSink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let clock = tessera_core::FakeClock::new();
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(move |c| c.smtp_url = Some(smtp))
        .spawn()
        .await;
    let mut dan = app.with_user("dan", PASSWORD, false).await;
    dan.email = Some("dan@example.com".into());
    dan.email_verified = true;
    app.state
        .store
        .update_user(&dan, app.state.clock.now())
        .await
        .unwrap();
    let mut nomail = app.with_user("nomail", PASSWORD, false).await;
    nomail.email = None;
    app.state
        .store
        .update_user(&nomail, app.state.clock.now())
        .await
        .unwrap();
    // Wrong passwords until the throttle makes the account wait; the right one waits too.
    let http = browser();
    let mut last = 0;
    for _ in 0..8 {
        last = sign_in_as(&app, &http, "/login", "dan", "not the password")
            .await
            .status()
            .as_u16();
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429);
    let waits = sign_in_as(&app, &http, "/login", "dan", PASSWORD).await;
    assert_eq!(waits.status(), 429);
    // The user was mailed a link — once, though the refusals go on.
    let message = sink.message(0).await;
    assert!(message.contains("To: dan@example.com"), "{message}");
    let link = link_to(&message, "/login/unlock?token=");
    // Opening it unlocks nothing; the button does.
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        sign_in_as(&app, &http, "/login", "dan", PASSWORD)
            .await
            .status(),
        429
    );
    // (Each refusal decides in a task of its own whether to mail: let this one finish — it finds
    // the unused link and mails nothing — before the link is used.)
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let form = hidden_fields(&page.text().await.unwrap());
    let unlocked = http
        .post(app.url("/login/unlock"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&unlocked), "/login?reason=unlocked");
    let signed = sign_in_as(&app, &http, "/login", "dan", PASSWORD).await;
    assert_eq!(signed.status(), 303, "signed in at once");
    assert_eq!(http.get(&link).send().await.unwrap().status(), 410, "once");
    // An account without a confirmed address, or none at all, is mailed nothing.
    for username in ["nomail", "nobody"] {
        for _ in 0..8 {
            sign_in_as(&app, &browser(), "/login", username, "wrong").await;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.count(), 1);
    let events = tessera_core::store::AuditRepo::recent_events(
        app.state.store.as_ref(),
        None,
        Some(dan.id.as_str()),
        50,
    )
    .await
    .unwrap();
    assert!(events.iter().any(|e| e.kind == "login.lock_cleared"));
}
