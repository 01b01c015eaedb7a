//! A real headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`).
//!
//! [`Browser::start`] returns `None` when chromedriver is not installed — unless `CI=true`, where
//! a missing browser is a failure, not a skip. Screenshots go to `target/screenshots/` (or
//! `$TESSERA_SCREENSHOTS`) for CI to keep as artefacts. [`Browser::console`] returns what the
//! page logged to the browser console — Content-Security-Policy violations included — so a test
//! can say *why* a navigation did not happen.

use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder};
use tempfile::TempDir;

/// A running chromedriver with one browser session.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
    _profile: TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or `None` (outside CI) if they are missing.
    ///
    /// # Panics
    /// When the browser is missing under `CI=true`, or fails to start.
    pub async fn start() -> Option<Self> {
        Self::launch(true).await
    }

    /// [`Browser::start`] with JavaScript switched off (Chromium's content setting), for pages
    /// that must work without it.
    pub async fn start_without_javascript() -> Option<Self> {
        Self::launch(false).await
    }

    #[expect(clippy::expect_used, clippy::panic, reason = "test support")]
    async fn launch(javascript: bool) -> Option<Self> {
        let (Some(driver), Some(chromium)) = (
            find(&["chromedriver"]),
            find(&["chromium", "chromium-browser"]),
        ) else {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!(
                    "CI=true but chromium/chromedriver are not installed (scripts/test installs them)"
                );
            }
            eprintln!(
                "SKIPPED: browser test (install the Debian packages chromium and chromium-driver)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = TempDir::new().expect("profile dir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:loggingPrefs".into(),
            serde_json::json!({ "browser": "ALL" }),
        );
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "profile.managed_default_content_settings.javascript":
                        if javascript { 1 } else { 2 },
                },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session");
        Some(Self {
            client,
            driver: child,
            _profile: profile,
        })
    }

    /// Saves a screenshot as `<name>.png` in the screenshot folder; returns its path.
    ///
    /// # Panics
    /// When the screenshot can not be taken or written.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os("TESSERA_SCREENSHOTS").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let png = self.client.screenshot().await.expect("screenshot");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// The console messages logged since the last call (chromedriver's log endpoint), e.g.
    /// `Sending form data to '…' violates the following Content Security Policy directive`.
    pub async fn console(&self) -> Vec<String> {
        let Ok(answer) = self
            .client
            .issue_cmd(SessionCommand::post(
                "se/log",
                r#"{"type":"browser"}"#.into(),
            ))
            .await
        else {
            return vec!["(the browser console could not be read)".into()];
        };
        answer
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|entry| {
                        format!(
                            "[{}] {}",
                            entry["level"].as_str().unwrap_or("?"),
                            entry["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds a virtual platform authenticator (WebDriver's WebAuthn extension, which chromedriver
    /// implements over DevTools' `WebAuthn.addVirtualAuthenticator`): CTAP2, resident keys, user
    /// verification that always succeeds. Pages then create and use passkeys with it as with a
    /// laptop's built-in one. Returns its id.
    ///
    /// # Panics
    /// When the driver refuses.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(SessionCommand::post(
                "webauthn/authenticator",
                serde_json::json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                })
                .to_string(),
            ))
            .await
            .expect("a virtual authenticator");
        answer.as_str().unwrap_or_default().to_owned()
    }

    /// The passkeys the virtual authenticator `id` holds (WebDriver's credential list).
    ///
    /// # Panics
    /// When the driver refuses.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn virtual_credentials(&self, id: &str) -> Vec<serde_json::Value> {
        let answer = self
            .client
            .issue_cmd(SessionCommand {
                path: format!("webauthn/authenticator/{id}/credentials"),
                body: None,
            })
            .await
            .expect("the authenticator's credentials");
        answer.as_array().cloned().unwrap_or_default()
    }

    /// Makes the page `width` × `height` CSS pixels, as a phone (`mobile`: a touch viewport
    /// honouring `<meta name=viewport>`) or a desktop window shows it — DevTools'
    /// `Emulation.setDeviceMetricsOverride` through chromedriver, since a headless window has a
    /// minimum width larger than a phone's.
    ///
    /// # Panics
    /// When the driver refuses.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        self.client
            .issue_cmd(SessionCommand::post(
                "goog/cdp/execute",
                serde_json::json!({
                    "cmd": "Emulation.setDeviceMetricsOverride",
                    "params": {
                        "width": width, "height": height,
                        "deviceScaleFactor": 1, "mobile": mobile,
                    },
                })
                .to_string(),
            ))
            .await
            .expect("the viewport is set");
    }

    /// Ends the browser session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A chromedriver command of the browser session: `GET` (no body) or `POST` (a JSON body) to
/// `/session/{id}/{path}` — the console log (`se/log`), WebDriver's WebAuthn extension and
/// DevTools commands (`goog/cdp/execute`).
#[derive(Debug)]
struct SessionCommand {
    path: String,
    body: Option<String>,
}

impl SessionCommand {
    fn post(path: &str, body: String) -> Self {
        Self {
            path: path.to_owned(),
            body: Some(body),
        }
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        match &self.body {
            Some(body) => (http::Method::POST, Some(body.clone())),
            None => (http::Method::GET, None),
        }
    }
}
