//! openid-client (Node, with jose) — the library certified relying parties use, and the one that
//! lost `invalid_client` behind a `Bearer` challenge — against the real server: client
//! credentials with Basic and with the secret in the body (right and wrong), and the JWT bearer
//! grant with an EC key registered without `alg`. The script is `tests/interop/openid_client.mjs`;
//! `scripts/test` runs `npm ci` there, and outside CI a missing Node setup is SKIPPED.

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Stdio},
};

use serde_json::{Value, json};
use tessera_testkit::TestApp;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

fn available() -> bool {
    let ok = Path::new(DIR).join("node_modules/openid-client").is_dir()
        && Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the Node interop setup is missing (scripts/test runs npm ci)"
        );
        eprintln!("SKIPPED: openid-client interop (npm ci in crates/server/tests/interop)");
    }
    ok
}

/// Runs the script off the async runtime the server under test shares.
async fn run(command: &'static str, job: Option<Value>) -> Value {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("node")
            .arg("openid_client.mjs")
            .arg(command)
            .current_dir(DIR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = job.map(|j| j.to_string()).unwrap_or_default();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "{err}: {} / {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        })
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn openid_client_reads_invalid_client_and_uses_an_ec_key_without_alg() {
    if !available() {
        return;
    }
    let app = TestApp::spawn().await;
    for (auth, method) in [
        ("basic", "client_secret_basic"),
        ("post", "client_secret_post"),
    ] {
        let registered = crate::registration::registered(
            &app,
            &json!({
                "client_name": format!("node {auth}"),
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": method,
                "scope": "openid",
            }),
        )
        .await;
        let job = |secret: &Value| {
            json!({
                "issuer": app.issuer,
                "client_id": registered["client_id"],
                "client_secret": secret,
                "auth": auth,
            })
        };
        let ok = run(
            "client-credentials",
            Some(job(&registered["client_secret"])),
        )
        .await;
        assert_eq!(ok["token_type"], "bearer", "{auth}: {ok}");
        let wrong = run("client-credentials", Some(job(&json!("tss_wrong")))).await;
        assert_eq!(
            wrong["error"], "invalid_client",
            "{auth}: the library read the error: {wrong}"
        );
    }

    // The JWT bearer grant, as issue 10 reports it: client_secret_basic, an EC key set by value
    // with no alg, nothing pinned.
    let key = run("keygen", None).await;
    let registered = crate::registration::registered(
        &app,
        &json!({
            "client_name": "node robot",
            "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "token_endpoint_auth_method": "client_secret_basic",
            "jwks": {"keys": [key["public"]]},
            "scope": "openid",
        }),
    )
    .await;
    let granted = run(
        "jwt-bearer",
        Some(json!({
            "issuer": app.issuer,
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
            "private": key["private"],
        })),
    )
    .await;
    assert_eq!(granted["token_type"], "bearer", "{granted}");
}

#[tokio::test]
async fn openid_client_pushes_its_request_and_completes_the_code_flow() {
    use tessera_testkit::flow::{
        PASSWORD, REDIRECT, browser, callback_params, decide, get, location, sign_in,
    };
    if !available() {
        return;
    }
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let registered = crate::registration::registered(
        &app,
        &json!({
            "client_name": "node web app",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "openid",
        }),
    )
    .await;
    let job = json!({
        "issuer": app.issuer,
        "client_id": registered["client_id"],
        "client_secret": registered["client_secret"],
        "redirect_uri": REDIRECT,
        "verifier": "node-pkce-verifier-0123456789-0123456789-0123456789",
        "state": "node-state",
        "nonce": "node-nonce",
    });
    let pushed = run("par-url", Some(job.clone())).await;
    let url = pushed["url"].as_str().unwrap_or_else(|| panic!("{pushed}"));
    // The library sent everything to /par: the URL names only the client and the request_uri.
    let query: Vec<(String, String)> = url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let mut names: Vec<&str> = query.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["client_id", "request_uri"], "{url}");

    let alice = browser();
    let answer = get(&app, &alice, url).await;
    let back = sign_in(&app, &alice, &location(&answer), "alice").await;
    let consent = get(&app, &alice, &back).await.text().await.unwrap();
    let callback = location(&decide(&app, &alice, &consent, "approve").await);
    assert_eq!(callback_params(&callback)["state"], "node-state");
    let mut grant = job;
    grant["callback"] = json!(callback);
    let tokens = run("code-grant", Some(grant)).await;
    assert_eq!(tokens["token_type"], "bearer", "{tokens}");
    assert_eq!(tokens["claims"]["nonce"], "node-nonce", "{tokens}");
}

#[tokio::test]
async fn openid_client_polls_while_the_user_allows_the_device() {
    use crate::device::{DEVICE_GRANT, allow_or_deny, signed_in_browser};
    use tessera_testkit::flow::PASSWORD;
    if !available() {
        return;
    }
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    // Registered as an app registers itself (RFC 7591): public, device grant and refresh.
    let registered = crate::registration::registered(
        &app,
        &json!({
            "client_name": "Node TV",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
            "token_endpoint_auth_method": "none",
            "scope": "openid offline_access",
        }),
    )
    .await;
    let job = json!({
        "issuer": app.issuer,
        "client_id": registered["client_id"],
        "auth": "none",
        "scope": "openid offline_access",
    });
    // The script prints the user code, then polls (it waits the interval, 5 s, before its first
    // poll) until the user has decided.
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let node = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("node")
            .args(["openid_client.mjs", "device"])
            .current_dir(DIR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(job.to_string().as_bytes()).unwrap();
        drop(stdin);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = first_tx.send(first);
        let last = lines.next().and_then(Result::ok).unwrap_or_default();
        child.wait().unwrap();
        last
    });
    let first: Value = serde_json::from_str(&first_rx.await.unwrap()).unwrap();
    let user_code = first["user_code"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"));
    let alice = signed_in_browser(&app, "alice").await;
    let approved = allow_or_deny(&app, &alice, user_code, "approve").await;
    assert_eq!(approved.status(), 303);
    let tokens: Value = serde_json::from_str(&node.await.unwrap()).unwrap();
    assert_eq!(tokens["token_type"], "bearer", "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    assert_eq!(
        tokens["claims"]["aud"][0], registered["client_id"],
        "{tokens}"
    );
}

#[tokio::test]
async fn openid_client_binds_its_tokens_with_dpop() {
    if !available() {
        return;
    }
    let app = TestApp::spawn().await;
    let service = crate::token_support::client_with(&app, "node-dpop", |c| {
        c.grant_types = vec![tessera_core::grant_type::GrantType::ClientCredentials];
        c.scopes = vec!["api.read".into()];
        c.dpop_bound_access_tokens = true;
    })
    .await;
    let job = json!({
        "issuer": app.issuer,
        "client_id": "node-dpop",
        "client_secret": service.1.expose(),
    });
    let tokens = run("dpop-client-credentials", Some(job)).await;
    assert_eq!(tokens["token_type"], "dpop", "{tokens}");
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    assert_eq!(
        tessera_testkit::tokens::payload(access)["cnf"]["jkt"],
        tokens["jkt"],
        "bound to the library's own key"
    );
}
