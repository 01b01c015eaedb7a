//! The real `tessera` binary's resident memory across sign-ins. Each sign-in hashes the password
//! with argon2id over 19 MiB on a blocking thread; with glibc's default (dynamic) mmap threshold
//! every such block stayed resident in the arena of the thread that hashed it — one sign-in took
//! the idle process from 19 to 39 MB, six to 134 MB. `tessera_server::memory` fixes that; this
//! test is how it would show again.

use futures_util::future::join_all;
use tessera_testkit::{TestApp, html::hidden_fields, reqwest};

use crate::{cli::serve_with, code_flow::PASSWORD};

/// Resident set of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

/// A browser signs in on the sign-in page and lands on its account page.
async fn sign_in(base: &str) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{base}/login?return_to=/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&page);
    form.push(("username".into(), "alice".into()));
    form.push(("password".into(), PASSWORD.into()));
    let response = http
        .post(format!("{base}/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "signed in");
    assert_eq!(response.headers()["location"], "/account");
}

#[tokio::test]
async fn sign_ins_do_not_leave_their_password_hashing_memory_resident() {
    let app = TestApp::spawn().await;
    app.with_user("alice", PASSWORD, false).await;
    let dir = tempfile::TempDir::new().unwrap();
    let keys = app.keys_dir.display().to_string();
    let served = serve_with(
        dir.path(),
        &[
            ("TESSERA_DATABASE_URL", &app.database_url),
            ("TESSERA_KEYS_DIR", &keys),
        ],
    );
    let base = format!("http://{}", served.address);
    let pid = served.child.id();
    // One sign-in first, so that what is measured is growth, not the first use of each pool.
    sign_in(&base).await;
    let before = rss_kib(pid);
    // Twelve more, four at a time: they land on several blocking threads (several arenas).
    for _ in 0..3 {
        join_all((0..4).map(|_| sign_in(&base))).await;
    }
    let after = rss_kib(pid);
    served.kill();
    eprintln!("RSS {before} KiB after one sign-in, {after} KiB after thirteen");
    // One 19 MiB argon2 block left resident would be 19,456 KiB; four (one per arena) 77,824.
    assert!(
        after < before + 12 * 1024,
        "twelve sign-ins grew the process from {before} to {after} KiB"
    );
}
