//! tessera-testkit: test-only helpers. [`TestApp`] runs the real application on 127.0.0.1:0 with
//! its own database (SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set)
//! and its own key folder; the builder adds a fake clock, config changes, or a second instance
//! sharing the first one's database and keys. [`flow`] drives the code flow's browser half
//! (a real relying party's authorization URL, a cookie-keeping browser, sign-in, consent),
//! [`tokens`] the token endpoint (form posts with client authentication, codes, redemption,
//! userinfo, introspection); [`browser`] is headless Chromium, [`html`] reads pages' forms.

use std::{net::TcpListener, path::PathBuf, sync::Arc};

use tempfile::TempDir;
use tessera_core::{
    Clock, FakeClock, SystemClock,
    secret::{PlainToken, SecretKind},
    store::{ClientRecord, InitialAccessTokenRecord, InitialAccessTokenRepo, UserRecord},
};
use tessera_server::{AppState, Application, Config, config::RawConfig};

pub mod browser;
pub mod fixtures;
pub mod flow;
pub mod html;
pub mod in_process;
pub mod mail;
pub mod passkey;
pub mod relying_party;
pub mod tokens;

pub use fantoccini;
pub use openidconnect;
pub use reqwest;

type ConfigChange = Box<dyn FnOnce(&mut RawConfig) + Send>;

/// Builds a [`TestApp`].
#[derive(Default)]
pub struct TestAppBuilder {
    clock: Option<FakeClock>,
    changes: Vec<ConfigChange>,
    database_url: Option<String>,
    keys_dir: Option<PathBuf>,
    localhost: bool,
}

impl std::fmt::Debug for TestAppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// A running application and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestApp {
    /// The issuer, `http://127.0.0.1:<port>` (or `http://localhost:<port>`).
    pub issuer: String,
    /// The bound port.
    pub port: u16,
    /// An HTTP client that does not follow redirects and keeps cookies.
    pub http: reqwest::Client,
    /// The application's shared state (store, keys, config).
    pub state: AppState,
    /// The fake clock, when one was given.
    pub clock: Option<FakeClock>,
    /// The database URL.
    pub database_url: String,
    /// The key folder.
    pub keys_dir: PathBuf,
    _dir: Arc<TempDir>,
}

impl TestAppBuilder {
    /// Runs the application on this clock instead of the system clock.
    pub fn with_clock(mut self, clock: FakeClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Changes the configuration before it is validated.
    pub fn with_config(mut self, change: impl FnOnce(&mut RawConfig) + Send + 'static) -> Self {
        self.changes.push(Box::new(change));
        self
    }

    /// Names the issuer `http://localhost:<port>` instead of `http://127.0.0.1:<port>`: WebAuthn
    /// takes no IP address as RP ID, so passkeys need a name.
    pub fn on_localhost(mut self) -> Self {
        self.localhost = true;
        self
    }

    /// A second instance on the same database and key folder as `other`.
    pub fn sharing_with(mut self, other: &TestApp) -> Self {
        self.database_url = Some(other.database_url.clone());
        self.keys_dir = Some(other.keys_dir.clone());
        self
    }

    /// An instance on the database at `url` (e.g. from
    /// [`tessera_storage::testing::fresh_database_url`], to start several at once), with a key
    /// folder of its own.
    pub fn on_database(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// Starts the application.
    ///
    /// # Panics
    /// When it can not start: tests want the reason on the spot.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn spawn(self) -> TestApp {
        let dir = Arc::new(TempDir::new().expect("temp dir"));
        let database_url = match self.database_url {
            Some(url) => url,
            None => tessera_storage::testing::fresh_database_url(dir.path()).await,
        };
        let keys_dir = self.keys_dir.unwrap_or_else(|| dir.path().join("keys"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let host = if self.localhost {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let issuer = format!("http://{host}:{}", address.port());
        let mut raw = RawConfig {
            issuer: issuer.clone(),
            listen: address.to_string(),
            database_url: database_url.clone(),
            keys_dir: keys_dir.clone(),
            ..RawConfig::default()
        };
        for change in self.changes {
            change(&mut raw);
        }
        let config = Config::validate(raw).expect("valid test configuration");
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(fake) => Arc::new(fake.clone()),
            None => Arc::new(SystemClock),
        };
        let app = Application::build_with_listener(config, listener, clock)
            .await
            .expect("application builds");
        let state = app.state().clone();
        let server = app.into_server().expect("server starts");
        tokio::spawn(server);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            // Below the server's 5 s keep-alive: a pooled connection is never reused just as
            // the server closes it (hyper's IncompleteMessage race).
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("http client");
        TestApp {
            issuer,
            port: address.port(),
            http,
            state,
            clock: self.clock,
            database_url,
            keys_dir,
            _dir: dir,
        }
    }
}

impl TestApp {
    /// A builder.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// A default application.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// `GET path`.
    ///
    /// # Panics
    /// When the request can not be sent.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Registers a confidential client directly in the store; returns it and its secret.
    pub async fn with_client(
        &self,
        client_id: &str,
        redirect_uris: &[&str],
    ) -> (ClientRecord, PlainToken) {
        fixtures::client(&self.state, client_id, redirect_uris).await
    }

    /// Creates an initial access token for dynamic registration.
    ///
    /// # Panics
    /// When the store refuses it.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn registration_token(
        &self,
        uses: Option<i32>,
        expires_in: Option<chrono::Duration>,
    ) -> PlainToken {
        let token = PlainToken::generate(SecretKind::InitialAccessToken);
        let now = self.state.clock.now();
        self.state
            .store
            .create_initial_access_token(&InitialAccessTokenRecord {
                token_hash: token.hash(),
                description: Some("test".into()),
                uses_remaining: uses,
                expires_at: expires_in.map(|d| now + d),
                created_at: now,
                revoked_at: None,
                created_by: Some("test".into()),
            })
            .await
            .expect("initial access token stored");
        token
    }

    /// Creates a user with this password (argon2id-hashed like any other).
    pub async fn with_user(&self, username: &str, password: &str, admin: bool) -> UserRecord {
        fixtures::user_with(&self.state, username, password, admin).await
    }

    /// The stored user with this username, as it is now.
    ///
    /// # Panics
    /// When there is none, or the store fails.
    #[expect(clippy::expect_used, clippy::panic, reason = "test support")]
    pub async fn stored_user(&self, username: &str) -> UserRecord {
        use tessera_core::store::UserRepo;
        self.state
            .store
            .find_user_by_username(username)
            .await
            .expect("user lookup")
            .unwrap_or_else(|| panic!("no user {username}"))
    }
}
