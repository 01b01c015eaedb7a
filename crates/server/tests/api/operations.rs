//! One rule for every way of managing Tessera: what the console refuses, the CLI refuses, and
//! what one accepts the other accepts — the rules live once (`tessera_core::username`,
//! `tessera_client_registry::model::limits`), and these tests hold both doors to them.

use std::process::{Command, Stdio};

use tessera_core::store::UserRepo;
use tessera_testkit::{TestApp, html::hidden};

use crate::code_flow::{PASSWORD, browser, get, location, sign_in_as};

/// `tessera ARGS…` against the app's own database; whether it succeeded, stdout and stderr.
pub(crate) fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::TempDir::new().unwrap();
    let password = dir.path().join("pw");
    std::fs::write(&password, "a long enough password 1\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TESSERA_")) {
        command.env_remove(key);
    }
    let output = command
        .args(args.iter().map(|a| {
            if *a == "PASSWORD_FILE" {
                password.to_str().unwrap()
            } else {
                a
            }
        }))
        .env("TESSERA_DATABASE_URL", &app.state.config.database_url)
        .env("TESSERA_KEYS_DIR", dir.path().join("keys"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `tessera user add NAME`; whether it succeeded, and stderr.
fn cli_user_add(app: &TestApp, name: &str) -> (bool, String) {
    let (ok, _, stderr) = cli(
        app,
        &["user", "add", name, "--password-file", "PASSWORD_FILE"],
    );
    (ok, stderr)
}

/// A signed-in admin's browser.
pub(crate) async fn admin_browser(app: &TestApp) -> tessera_testkit::reqwest::Client {
    app.with_user("root", PASSWORD, true).await;
    let admin = browser();
    sign_in_as(
        app,
        &admin,
        "/login?return_to=%2Fadmin%2Fusers",
        "root",
        PASSWORD,
    )
    .await;
    admin
}

/// Posts `form` (and the page's CSRF token) to `path` as the admin; the redirect's target, or
/// the status when there was none.
async fn console_post(
    app: &TestApp,
    admin: &tessera_testkit::reqwest::Client,
    page: &str,
    path: &str,
    form: &[(&str, &str)],
) -> String {
    let shown = get(app, admin, page).await.text().await.unwrap();
    let csrf = hidden(&shown, "csrf_token").unwrap();
    let mut fields = vec![("csrf_token", csrf.as_str())];
    fields.extend_from_slice(form);
    let answer = admin
        .post(app.url(path))
        .form(&fields)
        .send()
        .await
        .unwrap();
    if answer.status().is_redirection() {
        location(&answer).to_owned()
    } else {
        answer.status().to_string()
    }
}

#[tokio::test]
async fn the_console_and_the_cli_accept_and_refuse_the_same_usernames() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
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
            // Refused: the form again, 400, the field marked.
            answer.status().is_redirection() && location(&answer) == "/admin/users?notice=created"
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

#[tokio::test]
async fn the_console_and_the_cli_bound_registration_tokens_alike_and_revoke_by_the_same_ids() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    let page = "/admin/registration-tokens";
    for (uses, accepted) in [("0", false), ("100000001", false), ("100000000", true)] {
        let (cli_ok, _, stderr) = cli(&app, &["registration-token", "create", "--uses", uses]);
        assert_eq!(cli_ok, accepted, "cli --uses {uses}: {stderr}");
        if !accepted {
            assert!(stderr.contains("uses must be 1 to 100000000"), "{stderr}");
        }
        let console = console_post(&app, &admin, page, page, &[("uses", uses)]).await;
        // Created: to the page that shows the token once; refused: the form again (400).
        let expected = if accepted {
            "/admin/shown-once?made=registration-token"
        } else {
            "400 Bad Request"
        };
        assert!(
            console.starts_with(expected),
            "console uses={uses}: {console}"
        );
    }
    let (ok, _, stderr) = cli(
        &app,
        &["registration-token", "create", "--expires", "100000001"],
    );
    assert!(!ok && stderr.contains("lifetime must be 1 to"), "{stderr}");
    let console = console_post(&app, &admin, page, page, &[("expires_in", "100000001")]).await;
    assert_eq!(console, "400 Bad Request");

    // A token made by the CLI is revoked in the console by 12 characters of its id, after
    // which the CLI finds nothing active to revoke; 11 characters name nothing on either side.
    let (ok, stdout, _) = cli(
        &app,
        &["registration-token", "create", "--uses", "3", "--json"],
    );
    assert!(ok);
    let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let short = &id[..11];
    let (ok, _, stderr) = cli(&app, &["registration-token", "revoke", short]);
    assert!(!ok && stderr.contains("at least 12 characters"), "{stderr}");
    let revoke = |prefix: &str| format!("{page}/{prefix}/revoke");
    assert_eq!(
        console_post(&app, &admin, page, &revoke(short), &[]).await,
        "/admin/registration-tokens?notice=invalid"
    );
    assert_eq!(
        console_post(&app, &admin, page, &revoke(&id[..12]), &[]).await,
        "/admin/registration-tokens?notice=revoked"
    );
    let (ok, _, stderr) = cli(&app, &["registration-token", "revoke", &id[..12]]);
    assert!(
        !ok && stderr.contains("no active initial access token"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_console_and_the_cli_bound_a_clients_token_settings_by_the_one_rule() {
    use tessera_admin::ops::clients::SETTINGS;
    use tessera_core::store::ClientRepo;

    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    let page = "/admin/clients";
    // Every setting, at its bound and just past it, on either side of zero: the bounds are read
    // from the operations layer, so a changed bound is tested here as it is.
    for (setting, max) in SETTINGS {
        for (value, accepted) in [(max, true), (max + 1, false), (0, false)] {
            let value = value.to_string();
            let flag = format!("--{}", setting.replace('_', "-"));
            let (cli_ok, stdout, stderr) = cli(
                &app,
                &[
                    "client",
                    "create",
                    "--redirect-uri",
                    "https://app.example/cb",
                    &flag,
                    &value,
                    "--json",
                ],
            );
            assert_eq!(cli_ok, accepted, "cli {flag} {value}: {stderr}");
            if accepted {
                let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                let id = created["client_id"].as_str().unwrap();
                let stored = app
                    .state
                    .store
                    .find_client(&tessera_core::ClientId::new(id))
                    .await
                    .unwrap()
                    .unwrap();
                let stored = match setting {
                    "access_token_ttl" => stored.access_token_ttl,
                    "refresh_token_ttl" => stored.refresh_token_ttl,
                    "refresh_token_absolute_ttl" => stored.refresh_token_absolute_ttl,
                    _ => stored.refresh_token_max_rotations.map(i64::from),
                };
                assert_eq!(stored, Some(max), "{setting} stored as given");
            } else {
                assert!(
                    stderr.contains(&format!("{setting} must be 1 to {max}")),
                    "{stderr}"
                );
            }
            let console = console_post(
                &app,
                &admin,
                page,
                page,
                &[
                    ("client_name", "bounded"),
                    ("redirect_uris", "https://app.example/cb"),
                    (setting, &value),
                ],
            )
            .await;
            // Registered: to the page that shows the secret once; refused: 400, the rule.
            if accepted {
                assert!(
                    console.starts_with("/admin/shown-once?made=client-created&id="),
                    "console {setting}={value}: {console}"
                );
            } else {
                assert_eq!(console, "400 Bad Request", "console {setting}={value}");
            }
        }
    }
}

#[tokio::test]
async fn the_console_and_the_cli_refuse_the_same_scope_descriptions() {
    use tessera_admin::ops::scopes::MAX_DESCRIPTION_CHARS;
    use tessera_core::store::ScopeRepo;

    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    let page = "/admin/scopes";
    let longest = "d".repeat(MAX_DESCRIPTION_CHARS);
    let too_long = "d".repeat(MAX_DESCRIPTION_CHARS + 1);
    for (description, accepted) in [(longest.as_str(), true), (too_long.as_str(), false)] {
        let (cli_ok, _, stderr) = cli(
            &app,
            &["scope", "add", "api.cli", "--description", description],
        );
        assert_eq!(cli_ok, accepted, "cli: {stderr}");
        let console = console_post(
            &app,
            &admin,
            page,
            page,
            &[("name", "api.console"), ("description", description)],
        )
        .await;
        let expected = if accepted {
            "/admin/scopes?notice=saved"
        } else {
            "400 Bad Request"
        };
        assert_eq!(console, expected);
        for name in ["api.cli", "api.console"] {
            let stored = app.state.store.find_scope(name).await.unwrap();
            assert_eq!(
                stored.map(|s| s.description.chars().count()),
                Some(MAX_DESCRIPTION_CHARS),
                "{name}: only the accepted description is stored"
            );
        }
    }
}

#[tokio::test]
async fn a_user_disabled_with_the_cli_is_signed_out_as_by_the_console() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let alice = browser();
    sign_in_as(
        &app,
        &alice,
        "/login?return_to=%2Faccount",
        "alice",
        PASSWORD,
    )
    .await;
    assert_eq!(get(&app, &alice, "/account").await.status(), 200);

    let (ok, stdout, stderr) = cli(&app, &["user", "disable", "alice"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("updated user alice"), "{stdout}");
    // The session ended with the disable: the account page sends the browser to sign in.
    let answer = get(&app, &alice, "/account").await;
    assert!(answer.status().is_redirection(), "{}", answer.status());
    assert!(
        location(&answer).starts_with("/login"),
        "{}",
        location(&answer)
    );
    let (ok, stdout, _) = cli(&app, &["user", "disable", "alice"]);
    assert!(ok && stdout.contains("like that already"), "{stdout}");

    // And the console's reset and the CLI's refuse the same short password.
    let dir = tempfile::TempDir::new().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "short\n").unwrap();
    let (ok, _, stderr) = cli(
        &app,
        &[
            "user",
            "reset-password",
            "alice",
            "--password-file",
            short.to_str().unwrap(),
        ],
    );
    assert!(!ok && stderr.contains("at least 8 characters"), "{stderr}");
    let (ok, _, stderr) = cli(&app, &["user", "enable", "alice"]);
    assert!(ok, "{stderr}");
}

#[tokio::test]
async fn the_console_and_the_cli_register_a_device_client_by_the_short_grant_name() {
    use tessera_core::store::ClientRepo;

    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    let (ok, stdout, stderr) = cli(
        &app,
        &[
            "client",
            "create",
            "--name",
            "cli tv",
            "--grant-type",
            "device_code",
            "--grant-type",
            "refresh_token",
            "--auth-method",
            "none",
            "--scope",
            "openid offline_access",
            "--json",
        ],
    );
    assert!(ok, "{stderr}");
    let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let cli_id = created["client_id"].as_str().unwrap().to_owned();
    let console = console_post(
        &app,
        &admin,
        "/admin/clients",
        "/admin/clients",
        &[
            ("client_name", "console tv"),
            ("token_endpoint_auth_method", "none"),
            // As the page's checkboxes send them.
            ("grants_listed", "1"),
            ("grant_device_code", "on"),
            ("grant_refresh_token", "on"),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    // A public client has no secret to show once: the console goes to its page.
    let console_id = console
        .strip_prefix("/admin/clients/")
        .and_then(|rest| rest.strip_suffix("?notice=created"))
        .unwrap_or_else(|| panic!("{console}"))
        .to_owned();
    for id in [cli_id, console_id] {
        let stored = app
            .state
            .store
            .find_client(&tessera_core::ClientId::new(id.clone()))
            .await
            .unwrap()
            .unwrap();
        assert!(
            stored
                .grant_types
                .contains(&tessera_core::grant_type::GrantType::DeviceCode),
            "{id}"
        );
        let asked = tessera_testkit::tokens::post_form(
            &app,
            "/device_authorization",
            None,
            &[
                ("client_id", id.as_str()),
                ("scope", "openid offline_access"),
            ],
        )
        .await;
        assert_eq!(asked.status, 200, "{id}: {:?}", asked.body);
    }
    // The wire value is taken too; an unknown word is refused by both doors alike.
    let (ok, _, stderr) = cli(
        &app,
        &[
            "client",
            "create",
            "--grant-type",
            "device",
            "--auth-method",
            "none",
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("grant type device is not supported"),
        "{stderr}"
    );
    let console = console_post(
        &app,
        &admin,
        "/admin/clients",
        "/admin/clients",
        &[
            ("client_name", "typo"),
            ("token_endpoint_auth_method", "none"),
            ("grant_types", "device"),
        ],
    )
    .await;
    assert_eq!(console, "400 Bad Request");
}
