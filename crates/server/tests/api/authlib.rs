//! A second client library for the JWT paths: authlib (Python) signs the assertions — with an
//! EC and an RSA key registered *without* `alg` and without `token_endpoint_auth_signing_alg` —
//! for `private_key_jwt` client authentication and for the RFC 7523 grant. The script is
//! `tests/interop/authlib_client.py`; `scripts/test` installs authlib under `CI=true`, elsewhere a
//! missing authlib is reported as SKIPPED.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use serde_json::{Value, json};
use tessera_testkit::TestApp;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/authlib_client.py"
);

fn authlib_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but authlib is not installed (scripts/test installs it)"
        );
        eprintln!("SKIPPED: authlib interop (pip install authlib requests)");
    }
    ok
}

/// Runs the script off the async runtime (the server under test shares it: blocking it would
/// stall the database pool's tasks).
async fn run(args: &[&str], stdin: Option<&Value>) -> Value {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.cloned();
    tokio::task::spawn_blocking(move || run_blocking(&args, stdin.as_ref()))
        .await
        .unwrap()
}

fn run_blocking(args: &[String], stdin: Option<&Value>) -> Value {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(job) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(job.to_string().as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "{err}: {} / {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn authlib_authenticates_with_private_key_jwt_and_uses_the_jwt_bearer_grant() {
    if !authlib_available() {
        return;
    }
    let app = TestApp::spawn().await;
    let token_endpoint = app.url("/token");
    for (kty, alg) in [("EC", "ES256"), ("RSA", "RS256")] {
        let key = run(&["keygen", kty], None).await;
        let jwks = json!({ "keys": [key["public"]] });

        // private_key_jwt, client_credentials.
        let client = crate::registration::registered(
            &app,
            &json!({
                "client_name": format!("authlib {kty}"),
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": jwks,
                "scope": "openid",
            }),
        )
        .await;
        let answer = run(
            &["private-key-jwt"],
            Some(&json!({
                "token_endpoint": token_endpoint,
                "client_id": client["client_id"],
                "private": key["private"],
                "alg": alg,
            })),
        )
        .await;
        if answer["token_type"] != "Bearer" {
            use tessera_core::store::AuditRepo;
            let why = app.state.store.recent_events(None, None, 3).await.unwrap();
            let why: Vec<String> = why
                .iter()
                .map(|e| format!("{} {}", e.kind, e.details))
                .collect();
            panic!("{kty} private_key_jwt: {answer}; audit: {why:?}");
        }

        // The RFC 7523 grant, as the issue reports it: client_secret_basic, jwt-bearer, a key set
        // by value, nothing pinned.
        let client = crate::registration::registered(
            &app,
            &json!({
                "client_name": format!("authlib bearer {kty}"),
                "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
                "token_endpoint_auth_method": "client_secret_basic",
                "jwks": jwks,
                "scope": "openid",
            }),
        )
        .await;
        let job = json!({
            "token_endpoint": token_endpoint,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "private": key["private"],
            "alg": alg,
        });
        let answer = run(&["jwt-bearer"], Some(&job)).await;
        assert_eq!(answer["token_type"], "Bearer", "{kty} jwt-bearer: {answer}");
        // A header alg the key is not (ES256 on an RSA key, RS256 on an EC one): refused.
        let wrong = if alg == "ES256" { "RS256" } else { "ES256" };
        let mut bad_job = job.clone();
        bad_job["alg"] = json!(wrong);
        let refused = run(&["jwt-bearer"], Some(&bad_job)).await;
        assert!(
            refused.get("access_token").is_none(),
            "{kty} with {wrong}: {refused}"
        );
    }
}
