//! One rule for every way of managing Tessera: what the console refuses, the CLI refuses, and
//! what one accepts the other accepts — the rules live once (`tessera_core::username`,
//! `tessera_client_registry::model::limits`), and these tests hold both doors to them.

use std::process::{Command, Stdio};

use tessera_core::store::UserRepo;
use tessera_testkit::{TestApp, html::hidden};

use crate::{
    code_flow::{PASSWORD, browser, get, location},
    sign_in_safety::sign_in_as,
};

/// `tessera user add NAME` against the app's own database; whether it succeeded, and stderr.
fn cli_user_add(app: &TestApp, name: &str) -> (bool, String) {
    let dir = tempfile::TempDir::new().unwrap();
    let password = dir.path().join("pw");
    std::fs::write(&password, "a long enough password 1\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TESSERA_")) {
        command.env_remove(key);
    }
    let output = command
        .args(["user", "add", name, "--password-file"])
        .arg(&password)
        .env("TESSERA_DATABASE_URL", &app.state.config.database_url)
        .env("TESSERA_KEYS_DIR", dir.path().join("keys"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_console_and_the_cli_accept_and_refuse_the_same_usernames() {
    let app = TestApp::spawn().await;
    app.with_user("root", PASSWORD, true).await;
    let admin = browser();
    sign_in_as(
        &app,
        &admin,
        "/login?return_to=%2Fadmin%2Fusers",
        "root",
        PASSWORD,
    )
    .await;
    let console_add = |name: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let page = get(app, admin, "/admin/users").await.text().await.unwrap();
            let answer = admin
                .post(app.url("/admin/users"))
                .form(&[
                    ("csrf_token", hidden(&page, "csrf_token").unwrap().as_str()),
                    ("username", name.as_str()),
                    ("password", "a long enough password 1"),
                ])
                .send()
                .await
                .unwrap();
            location(&answer) == "/admin/users?notice=created"
        }
    };
    // (console's name, CLI's name, accepted): 200 characters (two bytes each) are a name,
    // spaces around one are trimmed; 201 characters, blanks and control characters are not.
    let cases = [
        (
            format!("{}a", "ë".repeat(199)),
            format!("{}b", "ë".repeat(199)),
            true,
        ),
        (" padded-a ".to_owned(), " padded-b ".to_owned(), true),
        ("a".repeat(201), "b".repeat(201), false),
        ("   ".to_owned(), "    ".to_owned(), false),
        ("bell\u{7}a".to_owned(), "bell\u{7}b".to_owned(), false),
    ];
    for (for_console, for_cli, accepted) in cases {
        let shown = for_console.escape_debug().to_string();
        assert_eq!(
            console_add(for_console.clone()).await,
            accepted,
            "console: {shown}"
        );
        let (cli_ok, stderr) = cli_user_add(&app, &for_cli);
        assert_eq!(cli_ok, accepted, "cli: {shown}: {stderr}");
        if !accepted {
            assert!(stderr.contains("1 to 200 characters"), "{stderr}");
        }
        // Stored trimmed by both, or not at all.
        for name in [&for_console, &for_cli] {
            let found = app
                .state
                .store
                .find_user_by_username(name.trim())
                .await
                .unwrap();
            assert_eq!(found.is_some(), accepted, "{shown}");
        }
    }
}
