//! Application assembly: open the database (migrating it), open the key store (folder or database), build the
//! actix `App` from every endpoint crate's `configure`, and serve on a listener the caller bound.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{
    App, Error, HttpServer,
    body::MessageBody,
    dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::from_fn,
    web,
};
use anyhow::Context;
use tessera_admin::AdminState;
use tessera_authorization_endpoint::{
    AuthorizeState, account::AccountState, login::LoginState, logout::LogoutState,
    webauthn::RelyingParty,
};
use tessera_client_registry::{
    RegistrationState, authn::ClientAuthenticator, cache::CachedClients, jwks_fetch::JwksFetcher,
};
use tessera_core::sign_in::SignInThrottle;
use tessera_core::{
    Clock, Issuer, SystemClock,
    store::{ClientRepo, HealthRepo},
};
use tessera_discovery::{Discovery, ProviderMetadata};
use tessera_keys::{DatabaseKeyStore, KeyFolder, KeyStore, Keys};
use tessera_storage::{SeaStore, changes::Topic};
use tessera_token_endpoint::{TokenMetrics, TokenState, live::LiveTokens, mint::Minter};
use tessera_web::{Metrics, csrf::CookieSettings, hash_gate::HashGate, session::Sessions};

use crate::{
    config::{Config, KeyStoreKind},
    health,
};

/// How often the key store is checked for changes made by another instance or the CLI (the database
/// store is also looked at as soon as a change is announced).
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// How often each instance adds what it counted to the dashboard's hourly rows.
const ACTIVITY_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
/// How long the dashboard's hourly counts are kept (its longest chart is seven days).
const ACTIVITY_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(8);
/// How often expired rows are swept (every instance sweeps; the deletes are idempotent).
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);
/// How long expired codes, refresh tokens and sessions are kept before they are swept, so that a
/// late replay is still recognised as one.
const KEEP_AFTER_EXPIRY: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The stores.
    pub store: Arc<SeaStore>,
    /// The signing keys.
    pub keys: Arc<Keys>,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The discovery document.
    pub discovery: Discovery,
    /// Bounds concurrent password hashing (shared by every worker of this instance).
    pub hashes: Arc<HashGate>,
    /// Aggregates the audit events anyone can cause at volume (shared by every worker).
    pub audit_sampler: Arc<tessera_web::audit::AuditSampler>,
    /// Mints tokens.
    pub minter: Minter,
    /// Token success counters (registered in `metrics`).
    pub token_metrics: TokenMetrics,
    /// What the dashboard charts, counted on this instance since the last flush (the token
    /// counters and the sign-in audit events count into it).
    pub activity: Arc<tessera_web::activity::Activity>,
    /// The instance's client cache: every worker reads through it, and the change watcher
    /// empties it when another instance or the CLI changed a client.
    pub clients: Arc<CachedClients>,
    /// Client authentication, with its throttle memory and JWKS fetcher (one per instance).
    pub authenticator: ClientAuthenticator,
    /// What the instance found about its access tokens' state (introspection, userinfo),
    /// forgotten on every revocation here or announced from elsewhere.
    pub live_tokens: Arc<LiveTokens>,
    /// The registered resource servers (RFC 8707), forgotten with the client cache.
    pub resources: Arc<tessera_token_endpoint::resources::ResourceDirectory>,
    /// Refreshes per token family on this instance (the refresh-burst signal).
    pub bursts: Arc<tessera_core::signals::BurstWatch>,
    /// Email (`TESSERA_SMTP_URL`), if set up.
    pub mailer: Option<Arc<tessera_authorization_endpoint::mail::Mailer>>,
}

impl AppState {
    /// Connects and migrates the database and opens the key store.
    pub async fn init(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let applied = tessera_storage::migrate(&config.database_url).await?;
        if applied > 0 {
            tracing::info!(migrations = applied, "database migrated");
        }
        let db = tessera_storage::connect_with_settings(
            &config.database_url,
            tessera_storage::PoolSettings {
                acquire: config.database_timeout,
                statement: config.database_timeout,
                pool_size: config.database_pool_size,
            },
        )
        .await?;
        let store = Arc::new(SeaStore::new(db));
        let keys = open_keys(&config, &store, Arc::clone(&clock)).await?;
        let discovery = Discovery::new(
            ProviderMetadata::for_issuer(config.issuer.as_str())
                .requiring_par(config.require_par)
                .offering_mfa(config.mfa != tessera_core::amr::MfaPolicy::Off),
        );
        let keys = Arc::new(keys);
        let minter = Minter::new(
            Arc::clone(&keys),
            config.issuer.clone(),
            config.token_policy(),
        )
        .map_err(|err| anyhow::anyhow!("issuer: {err}"))?;
        let mut metrics = Metrics::new();
        let activity = Arc::new(tessera_web::activity::Activity::default());
        let token_metrics = TokenMetrics::counting_into(Arc::clone(&activity));
        let audit_sampler = Arc::new(tessera_web::audit::AuditSampler::default());
        if let Some(registry) = Metrics::registry_mut(&mut metrics) {
            token_metrics.register(registry);
            audit_sampler.register(registry);
        }
        let hashes = HashGate::new(config.password_hash_concurrency, config.password_hash_queue);
        let clients = Arc::new(CachedClients::new(
            store.clone(),
            Arc::clone(&clock),
            chrono::Duration::from_std(config.client_cache_ttl).unwrap_or_default(),
        ));
        let authenticator = ClientAuthenticator::new(
            clients.clone(),
            store.clone(),
            store.clone(),
            Arc::new(JwksFetcher::new(false).with_clock(Arc::clone(&clock))),
            Arc::clone(&clock),
            &config.issuer,
            config.issuer.endpoint("/token"),
        );
        let live_tokens = Arc::new(LiveTokens::new(config.token_state_cache_ttl));
        let resources = Arc::new(tessera_token_endpoint::resources::ResourceDirectory::new(
            store.clone(),
        ));
        // Changes this instance writes apply to its own memories at once.
        store.on_change(forget_on_change(&clients, &live_tokens, &resources, None));
        Ok(Self {
            live_tokens,
            resources,
            bursts: Arc::default(),
            mailer: match &config.smtp {
                Some(smtp) => Some(Arc::new(tessera_authorization_endpoint::mail::Mailer::new(
                    &smtp.url, &smtp.from,
                )?)),
                None => None,
            },
            clients,
            authenticator,
            hashes,
            audit_sampler,
            config: Arc::new(config),
            store,
            keys,
            metrics,
            minter,
            token_metrics,
            activity,
            clock,
            discovery,
        })
    }
}

/// The key store the configuration names: the key folder, or the database behind `database`
/// (which the database store needs; the folder does not).
pub fn key_store(
    config: &Config,
    database: Option<&Arc<SeaStore>>,
) -> anyhow::Result<Arc<dyn KeyStore>> {
    Ok(match (config.keys_store, database) {
        (KeyStoreKind::Folder, _) => Arc::new(KeyFolder::new(
            &config.keys_dir,
            config.keys_passphrase.clone(),
        )),
        (KeyStoreKind::Database, Some(store)) => Arc::new(DatabaseKeyStore::new(
            store.clone(),
            config.keys_passphrase.clone(),
        )?),
        (KeyStoreKind::Database, None) => {
            anyhow::bail!("the database key store needs a database connection")
        }
    })
}

/// Opens (and on first start, populates) the configured key store. RSA key generation and
/// passphrase decryption (scrypt) run off the async executor.
pub async fn open_keys(
    config: &Config,
    store: &Arc<SeaStore>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Keys> {
    let keys = key_store(config, Some(store))?;
    let described = keys.describe();
    Keys::open_store(keys, clock)
        .await
        .with_context(|| format!("cannot open {described}"))
}

/// The name authenticator apps show beside an account: the issuer's host (and port).
fn issuer_label(issuer: &str) -> String {
    url::Url::parse(issuer)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "Tessera".to_owned())
}

/// The actix application for `state`: every endpoint crate mounted, with telemetry and
/// security headers around it.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    // Every client lookup of this instance goes through one short-lived cache, shared by all
    // workers (see tessera_client_registry::cache): changes made here apply at once.
    let clients: Arc<dyn ClientRepo> = state.clients.clone();
    let health_repo: Arc<dyn HealthRepo> = state.store.clone();
    let cookies = CookieSettings::for_issuer(state.config.issuer.as_str());
    let secure_cookies = cookies.secure;
    let relying_party = RelyingParty::for_issuer(state.config.issuer.as_str());
    let sessions = Sessions {
        sessions: state.store.clone(),
        users: state.store.clone(),
        clock: Arc::clone(&state.clock),
        secure_cookies,
    };
    let login = LoginState {
        sessions: sessions.clone(),
        users: state.store.clone(),
        audit: state.store.clone(),
        audit_sampler: Arc::clone(&state.audit_sampler),
        clock: Arc::clone(&state.clock),
        throttle: SignInThrottle::new(state.store.clone(), state.config.sign_in_policy),
        hashes: Arc::clone(&state.hashes),
        requests: state.store.clone(),
        cookies: cookies.clone(),
        self_registration: state.config.self_registration,
        factors: state.store.clone(),
        mfa: state.config.mfa,
        devices: state.store.clone(),
        signals: state.config.signals,
        mailer: state.mailer.clone(),
        issuer: state.config.issuer.as_str().to_owned(),
        relying_party: relying_party.clone(),
    };
    let email = tessera_authorization_endpoint::mail::EmailState {
        mailer: state.mailer.clone(),
        links: state.store.clone(),
        grants: state.store.clone(),
        issuer: state.config.issuer.as_str().to_owned(),
    };
    let authorize = AuthorizeState {
        clients: Arc::clone(&clients),
        consents: state.store.clone(),
        codes: state.store.clone(),
        requests: state.store.clone(),
        audit: state.store.clone(),
        sessions: sessions.clone(),
        clock: Arc::clone(&state.clock),
        issuer: state.config.issuer.clone(),
        code_ttl: chrono::Duration::from_std(state.config.code_ttl)
            .unwrap_or(chrono::Duration::seconds(60)),
        keys: Arc::clone(&state.keys),
        scopes: state.store.clone(),
        require_par: state.config.require_par,
        throttle: state.store.clone(),
        devices: state.store.clone(),
        resources: state.store.clone(),
        factors: state.store.clone(),
        mfa: state.config.mfa,
    };
    let account = AccountState {
        sessions: sessions.clone(),
        session_rows: state.store.clone(),
        users: state.store.clone(),
        consents: state.store.clone(),
        clients: Arc::clone(&clients),
        grants: state.store.clone(),
        audit: state.store.clone(),
        clock: Arc::clone(&state.clock),
        factors: state.store.clone(),
        mfa: state.config.mfa,
        issuer_label: issuer_label(state.config.issuer.as_str()),
        cookies: cookies.clone(),
        relying_party,
    };
    let logout = LogoutState {
        sessions: sessions.clone(),
        clients: Arc::clone(&clients),
        grants: state.store.clone(),
        keys: Arc::clone(&state.keys),
        audit: state.store.clone(),
        clock: Arc::clone(&state.clock),
        issuer: state.config.issuer.clone(),
    };
    let admin = AdminState {
        sessions,
        clients: Arc::clone(&clients),
        users: state.store.clone(),
        grants: state.store.clone(),
        grant_list: state.store.clone(),
        tokens: state.store.clone(),
        audit: state.store.clone(),
        activity: state.store.clone(),
        consents: state.store.clone(),
        trusted_issuers: state.store.clone(),
        throttle: state.store.clone(),
        scopes: state.store.clone(),
        resources: state.store.clone(),
        keys: Arc::clone(&state.keys),
        key_policy: state.config.rotation_policy(None),
        clock: Arc::clone(&state.clock),
        issuer: state.config.issuer.clone(),
        factors: state.store.clone(),
        mfa: state.config.mfa,
    };
    let tokens = TokenState {
        clients: Arc::clone(&clients),
        users: state.store.clone(),
        grants: state.store.clone(),
        codes: state.store.clone(),
        refresh_tokens: state.store.clone(),
        denylist: state.store.clone(),
        trusted_issuers: state.store.clone(),
        audit: state.store.clone(),
        audit_sampler: Arc::clone(&state.audit_sampler),
        requests: state.store.clone(),
        devices: state.store.clone(),
        throttle: state.store.clone(),
        authenticator: state.authenticator.clone(),
        minter: state.minter.clone(),
        clock: Arc::clone(&state.clock),
        metrics: state.token_metrics.clone(),
        live_tokens: Arc::clone(&state.live_tokens),
        resources: Arc::clone(&state.resources),
        replay: state.store.clone(),
        dpop_nonce_required: state.config.dpop_nonce,
        bursts: Arc::clone(&state.bursts),
        signals: state.config.signals,
    };
    let registration = RegistrationState {
        clients: Arc::clone(&clients),
        tokens: state.store.clone(),
        audit: state.store.clone(),
        clock: Arc::clone(&state.clock),
        issuer: state.config.issuer.clone(),
        scopes: state.store.clone(),
    };
    App::new()
        .app_data(web::Data::from(Arc::clone(&state.metrics)))
        .app_data(web::Data::from(Arc::clone(&state.activity)))
        .app_data(web::Data::from(Arc::clone(&state.keys)))
        .app_data(web::Data::new(state.discovery.clone()))
        .app_data(web::Data::new(Issuer::new(state.config.issuer.as_str())))
        .app_data(web::Data::from(clients))
        .app_data(web::Data::from(health_repo))
        .app_data(web::Data::new(registration))
        .app_data(web::Data::new(login))
        .app_data(web::Data::new(email))
        .app_data(web::Data::new(authorize))
        .app_data(web::Data::new(account))
        .app_data(web::Data::new(logout))
        .app_data(web::Data::new(admin))
        .app_data(web::Data::new(tokens))
        .app_data(web::Data::new(cookies))
        .app_data(web::Data::new(state.config.trusted_proxies.clone()))
        .app_data(web::Data::new(tessera_web::body_deadline::BodyDeadline {
            timeout: state.config.request_timeout,
        }))
        .wrap(from_fn(tessera_web::body_deadline::body_deadline))
        .wrap(from_fn(tessera_web::csrf::csrf_cookie))
        .wrap(tessera_web::security_headers(secure_cookies))
        .wrap(from_fn(tessera_web::telemetry))
        // Routes are tried in this order (and again for the metrics label), and patterned ones
        // cost a regex match each: the machine-facing endpoints, all fixed paths, come first.
        .configure(tessera_token_endpoint::configure)
        .configure(tessera_discovery::configure)
        .route("/health/live", web::get().to(health::get_live))
        .route("/health/ready", web::get().to(health::get_ready))
        .route("/metrics", web::get().to(health::get_metrics))
        .configure(tessera_authorization_endpoint::configure)
        .configure(tessera_client_registry::configure)
        .configure(tessera_admin::configure)
        .default_service(web::to(tessera_web::error::not_found))
}

/// A built, bound application that has not started serving yet.
#[derive(Debug)]
pub struct Application {
    port: u16,
    state: AppState,
    listener: TcpListener,
}

impl Application {
    /// Builds the state and binds the configured listen address.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        Self::build_with_listener(config, listener, Arc::new(SystemClock)).await
    }

    /// Builds on a listener the caller bound (port 0 works) with the given clock.
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let state = AppState::init(config, clock).await?;
        Ok(Self {
            port,
            state,
            listener,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Starts serving; the returned server future completes after a graceful shutdown
    /// (SIGTERM/SIGINT: stop accepting, let in-flight requests finish).
    pub fn into_server(self) -> anyhow::Result<Server> {
        let state = self.state.clone();
        let server = HttpServer::new(move || build_app(state.clone()))
            .workers(self.state.config.workers)
            .client_request_timeout(self.state.config.request_timeout)
            .listen(self.listener)?
            .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
            // Signals are handled in run_until_stopped, registered before "listening" is logged.
            .disable_signals()
            .run();
        let keys_changed = Arc::new(tokio::sync::Notify::new());
        spawn_key_reloader(Arc::clone(&self.state.keys), Arc::clone(&keys_changed));
        tessera_storage::changes::spawn_change_watcher(
            Arc::clone(&self.state.store),
            forget_on_change(
                &self.state.clients,
                &self.state.live_tokens,
                &self.state.resources,
                Some(keys_changed),
            ),
        );
        spawn_sweeper(
            Arc::clone(&self.state.store),
            Arc::clone(&self.state.clock),
            self.state.config.audit_retention,
        );
        spawn_activity_flusher(self.state.clone());
        Ok(server)
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully: no new connections, in-flight
    /// requests finish (up to 30 s). The handlers are registered before "tessera listening" is
    /// logged, so that line means the process is ready for both traffic and signals.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let address = self.listener.local_addr()?;
        let issuer = self.state.config.issuer.clone();
        bootstrap_admin(&self.state).await;
        let self_state = self.state.clone();
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let server = self.into_server()?;
        let handle = server.handle();
        let mut running = tokio::spawn(server);
        tracing::info!(%address, %issuer, "tessera listening");
        let finished = tokio::select! {
            _ = terminate.recv() => None,
            _ = interrupt.recv() => None,
            result = &mut running => Some(result),
        };
        let result = match finished {
            Some(result) => result,
            None => {
                tracing::info!("shutting down: finishing in-flight requests");
                handle.stop(true).await;
                running.await
            }
        };
        result.context("server task failed")??;
        flush_activity(&self_state).await;
        tracing::info!("tessera stopped");
        Ok(())
    }
}

/// First start: with no enabled admin, creates the user `admin` with a generated password and
/// prints the credentials once, on stderr and outside the structured log stream. Once an admin
/// exists nothing is printed again; if a user named `admin` exists but is not an admin, only the
/// command that makes one is printed.
async fn bootstrap_admin(state: &AppState) {
    use tessera_core::{
        Subject,
        password::{generate_password, hash_password},
        secret::random_id,
        store::{StoreError, UserRecord, UserRepo},
    };
    match state.store.count_admins().await {
        Ok(0) => {}
        Ok(_) => return,
        Err(err) => {
            tracing::warn!(error = %err, "could not check for an admin user");
            return;
        }
    }
    let password = generate_password();
    let hash = {
        let password = password.clone();
        match tokio::task::spawn_blocking(move || hash_password(&password)).await {
            Ok(Ok(hash)) => hash,
            _ => return,
        }
    };
    let user = UserRecord {
        id: Subject::new(random_id()),
        username: "admin".into(),
        password_hash: hash,
        email: None,
        email_verified: false,
        name: Some("Administrator".into()),
        is_admin: true,
        enabled: true,
        mfa_required: false,
        created_at: state.clock.now(),
    };
    let console = state.config.issuer.endpoint("/admin");
    match state.store.create_user(&user).await {
        Ok(()) => eprintln!(
            "\n  First start: created the admin user.\n    username: admin\n    password: {password}\n  \
             Sign in at {console} and change the password (Users → Reset password).\n  \
             This is printed once.\n"
        ),
        // Another instance won the race, or someone has the name: say how to make an admin.
        Err(StoreError::Conflict { .. }) => eprintln!(
            "\n  No admin user was created (another instance may have just created one). If there is\n  \
             none, create one with: tessera user add NAME --admin --password-stdin\n"
        ),
        Err(err) => tracing::warn!(error = %err, "could not create the first admin"),
    }
}

/// Adds what this instance counted for the dashboard to the database (a failed flush keeps its
/// counts for the next).
pub async fn flush_activity(state: &AppState) {
    if let Err(err) = state
        .activity
        .flush(state.store.as_ref(), state.clock.now())
        .await
    {
        tracing::warn!(error = %err, "adding the dashboard's counts failed; kept for the next try");
    }
}

fn spawn_activity_flusher(state: AppState) {
    tokio::spawn(async move {
        // The first flush a minute after start (there is nothing to add before).
        let first = tokio::time::Instant::now() + ACTIVITY_FLUSH_INTERVAL;
        let mut interval = tokio::time::interval_at(first, ACTIVITY_FLUSH_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            flush_activity(&state).await;
        }
    });
}

fn spawn_sweeper(
    store: Arc<SeaStore>,
    clock: Arc<dyn Clock>,
    audit_retention: Option<chrono::Duration>,
) {
    use tessera_core::store::{ActivityRepo, AuditRepo, SweepRepo};
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            interval.tick().await;
            if let Err(err) = store
                .delete_activity_before(clock.now() - ACTIVITY_KEPT)
                .await
            {
                tracing::warn!(error = %err, "sweeping old dashboard counts failed");
            }
            if let Some(retention) = audit_retention {
                match store.delete_events_before(clock.now() - retention).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(audit_events = deleted, "old audit events swept"),
                    Err(err) => tracing::warn!(error = %err, "sweeping old audit events failed"),
                }
            }
            match store.sweep_expired(clock.now(), KEEP_AFTER_EXPIRY).await {
                Ok(swept) if swept.total() > 0 => tracing::info!(
                    codes = swept.codes,
                    refresh_tokens = swept.refresh_tokens,
                    sessions = swept.sessions,
                    revoked_access_tokens = swept.revoked_access_tokens,
                    assertion_jtis = swept.assertion_jtis,
                    authorization_requests = swept.authorization_requests,
                    throttle_counters = swept.throttle_counters,
                    device_authorizations = swept.device_authorizations,
                    "expired rows swept"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "sweeping expired rows failed"),
            }
        }
    });
}

/// What a change of `topic` makes this instance forget: its client records and resource servers,
/// what it found about its access tokens (a client, resource or key change can end them too),
/// and — given the key reloader's bell — its keys.
fn forget_on_change(
    clients: &Arc<CachedClients>,
    live_tokens: &Arc<LiveTokens>,
    resources: &Arc<tessera_token_endpoint::resources::ResourceDirectory>,
    keys_changed: Option<Arc<tokio::sync::Notify>>,
) -> Arc<dyn Fn(Topic) + Send + Sync> {
    let (clients, live_tokens) = (Arc::clone(clients), Arc::clone(live_tokens));
    let resources = Arc::clone(resources);
    Arc::new(move |topic| match topic {
        Topic::Clients => {
            clients.clear();
            resources.invalidate();
            live_tokens.invalidate();
        }
        Topic::Tokens => live_tokens.invalidate(),
        Topic::Keys => {
            // A remembered token skips its signature check: forget them with the old keys.
            live_tokens.invalidate();
            if let Some(bell) = &keys_changed {
                bell.notify_one();
            }
        }
    })
}

/// Looks at the key store every [`KEY_RELOAD_INTERVAL`], and at once when the change watcher
/// says the database key set changed; reloads it when it changed.
fn spawn_key_reloader(keys: Arc<Keys>, changed: Arc<tokio::sync::Notify>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(KEY_RELOAD_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                () = changed.notified() => {}
            }
            if let Err(err) = keys.reload_if_changed().await {
                tracing::error!(
                    error = %err,
                    store = %keys.store().describe(),
                    "reloading the signing keys failed; keeping the keys loaded before"
                );
            }
        }
    });
}
