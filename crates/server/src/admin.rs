//! The management commands: `tessera client …`, `tessera registration-token …`,
//! `tessera user add …`, `tessera scope …`, `tessera sign-in-locks …`. They work on the configured database directly (migrating it first), go
//! through the same validation as dynamic registration, write audit events with actor `cli`, and
//! print text or, with `--json`, JSON.

use std::{io::Read, path::PathBuf, sync::Arc};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_admin::ops::registration_tokens;
use tessera_client_registry::{
    model::{ClientMetadata, limits, validate},
    registry::{ClientInformation, new_client, rotate_secret},
};
use tessera_core::{
    ClientId, Clock, Subject,
    password::hash_password,
    secret::random_id,
    store::{
        AuditEvent, AuditRepo, ClientRepo, InitialAccessTokenRepo, StoreError, UserRecord, UserRepo,
    },
};
use tessera_storage::SeaStore;

use crate::config::Config;

/// `tessera client …`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and, for secret-based clients, the secret (shown once).
    Create(Box<CreateClient>),
    /// List clients.
    List {
        /// Only clients whose id or name contains this (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one client's registration.
    Show {
        /// The client_id.
        client_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a client and everything issued to it.
    Delete {
        /// The client_id.
        client_id: String,
    },
    /// Issue a new client secret; the old one stops working at once.
    RotateSecret {
        /// The client_id.
        client_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `tessera client create` options: RFC 7591 metadata as flags.
#[derive(Debug, Args)]
pub struct CreateClient {
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI (repeat for several).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A grant type (repeat; default authorization_code).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt or none (public).
    #[arg(long)]
    auth_method: Option<String>,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    scope: Option<String>,
    /// A file holding the client's JWK Set (private_key_jwt, jwt-bearer).
    #[arg(long)]
    jwks_file: Option<PathBuf>,
    /// Where the client publishes its JWK Set.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Alg of the client's assertions (RS256 or ES256).
    #[arg(long)]
    token_endpoint_auth_signing_alg: Option<String>,
    /// Alg of its ID tokens (RS256 or ES256).
    #[arg(long)]
    id_token_alg: Option<String>,
    /// A post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Do not require PKCE (confidential clients only).
    #[arg(long)]
    no_pkce: bool,
    /// This client's access token lifetime in seconds (default: TESSERA_ACCESS_TOKEN_TTL).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=limits::MAX_ACCESS_TOKEN_TTL))]
    access_token_ttl: Option<i64>,
    /// This client's refresh token lifetime in seconds (default: TESSERA_REFRESH_TOKEN_TTL).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=limits::MAX_REFRESH_TOKEN_TTL))]
    refresh_token_ttl: Option<i64>,
    /// Seconds from sign-in after which this client's refresh-token families end (default:
    /// TESSERA_REFRESH_TOKEN_ABSOLUTE_TTL).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=limits::MAX_REFRESH_TOKEN_ABSOLUTE_TTL))]
    refresh_token_absolute_ttl: Option<i64>,
    /// Rotations of one refresh-token family before a new sign-in (default:
    /// TESSERA_REFRESH_TOKEN_MAX_ROTATIONS).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=limits::MAX_REFRESH_TOKEN_ROTATIONS))]
    refresh_token_max_rotations: Option<i32>,
    /// This client's access token algorithm, RS256 or ES256 (default: TESSERA_ACCESS_TOKEN_ALG).
    #[arg(long)]
    access_token_alg: Option<tessera_core::SigningAlg>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `tessera registration-token …`
#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Create an initial access token for RFC 7591 registration; printed once.
    Create {
        /// How many registrations it allows (default: unlimited until it expires).
        #[arg(long)]
        uses: Option<u32>,
        /// Seconds until it expires (default: never).
        #[arg(long)]
        expires: Option<u64>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List initial access tokens (by id: the start of their hash).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an initial access token, given its id from `list` or the token itself.
    Revoke {
        /// Id (at least 12 characters of the hash) or token.
        token: String,
    },
}

/// `tessera scope …`
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Add a scope to the registry (or change its description and flag).
    Add {
        /// The scope token, e.g. api.read.
        name: String,
        /// What the consent page says it lets an app do.
        #[arg(long, default_value = "")]
        description: String,
        /// A client may get it for itself (client_credentials, self-issued JWT bearer).
        #[arg(long)]
        client_credentials: bool,
    },
    /// List the registry.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a scope from the registry (clients that have it keep it).
    Remove {
        /// The scope token.
        name: String,
    },
}

/// `tessera scope …`.
pub async fn scope(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: ScopeCommand,
) -> anyhow::Result<()> {
    use tessera_core::store::{ScopeRecord, ScopeRepo};
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        ScopeCommand::Add {
            name,
            description,
            client_credentials,
        } => {
            if !tessera_admin::valid_scope_name(&name) {
                bail!(
                    "{name:?} is not a scope that can be registered (1 to 64 scope characters, not openid, profile, email or offline_access)"
                );
            }
            if description.chars().count() > 200 || description.chars().any(char::is_control) {
                bail!("the description must be at most 200 printable characters");
            }
            store
                .save_scope(&ScopeRecord {
                    name: name.clone(),
                    description,
                    client_credentials,
                    created_at: now,
                })
                .await?;
            audit(&store, now, tessera_core::AuditKind::ScopeSaved, None, None).await;
            println!("saved scope {name}");
        }
        ScopeCommand::List { json } => {
            let scopes = store.list_scopes().await?;
            if json {
                let rows: Vec<_> = scopes
                    .iter()
                    .map(|s| {
                        json!({"name": s.name, "description": s.description,
                               "client_credentials": s.client_credentials})
                    })
                    .collect();
                print_json(&rows)?;
            } else {
                for s in &scopes {
                    let own = if s.client_credentials {
                        "for the client itself"
                    } else {
                        "users only"
                    };
                    println!("{:<24} {:<22} {}", s.name, own, s.description);
                }
            }
        }
        ScopeCommand::Remove { name } => {
            if !store.delete_scope(&name).await? {
                bail!("no scope {name}");
            }
            audit(
                &store,
                now,
                tessera_core::AuditKind::ScopeDeleted,
                None,
                None,
            )
            .await;
            println!("removed scope {name}");
        }
    }
    Ok(())
}

/// `tessera sign-in-locks …`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// List the sign-in throttle counters whose window has not ended (refused ones first).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Clear counters: one by its id from `list` (at least 12 characters), or all of them.
    Clear {
        /// Id from `list`.
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Clear every counter.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

/// `tessera sign-in-locks …`.
pub async fn sign_in_locks(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: LockCommand,
) -> anyhow::Result<()> {
    use tessera_core::store::ThrottleRepo;
    let store = open_store(config).await?;
    let now = clock.now();
    let counters = store.list_counters(now, 10_000).await?;
    match command {
        LockCommand::List { json } => {
            if json {
                let rows: Vec<_> = counters
                    .iter()
                    .map(|c| {
                        json!({
                            "id": &c.key_hash.as_str()[..16], "kind": c.kind, "label": c.label,
                            "attempts": c.failures,
                            "refused_until": c.blocked_until.filter(|u| *u > now),
                            "window_ends_at": c.window_ends_at,
                        })
                    })
                    .collect();
                print_json(&rows)?;
            } else if counters.is_empty() {
                println!("no sign-in attempts are being counted");
            } else {
                for c in &counters {
                    let refused = c
                        .blocked_until
                        .filter(|u| *u > now)
                        .map_or_else(|| "-".to_owned(), |u| u.to_rfc3339());
                    println!(
                        "{}  {:<15} attempts: {:<5} refused until: {:<25} {}",
                        &c.key_hash.as_str()[..16],
                        c.kind,
                        c.failures,
                        refused,
                        c.label
                    );
                }
            }
        }
        LockCommand::Clear { id, all } => {
            let chosen: Vec<_> = match (&id, all) {
                (_, true) => counters.iter().collect(),
                (Some(id), false) if id.len() >= 12 => counters
                    .iter()
                    .filter(|c| c.key_hash.as_str().starts_with(id.as_str()))
                    .collect(),
                _ => bail!("give an id of at least 12 characters from `list`, or --all"),
            };
            if chosen.is_empty() {
                bail!("no counter matches");
            }
            if chosen.len() > 1 && !all {
                bail!("the id matches {} counters; give more of it", chosen.len());
            }
            for counter in &chosen {
                store.delete_counter(&counter.key_hash).await?;
            }
            audit(
                &store,
                now,
                tessera_core::AuditKind::LoginLockCleared,
                None,
                None,
            )
            .await;
            println!("cleared {} counter(s)", chosen.len());
        }
    }
    Ok(())
}

/// `tessera user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, non-interactively.
    Add(AddUser),
}

/// `tessera user add` options.
#[derive(Debug, Args)]
pub struct AddUser {
    /// Login name.
    username: String,
    /// Read the password from this file (first line).
    #[arg(long, conflicts_with = "password_stdin")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (first line).
    #[arg(long)]
    password_stdin: bool,
    /// Email address.
    #[arg(long)]
    email: Option<String>,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// May use the admin console.
    #[arg(long)]
    admin: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn open_store(config: &Config) -> anyhow::Result<SeaStore> {
    tessera_storage::migrate(&config.database_url).await?;
    Ok(SeaStore::new(
        tessera_storage::connect(&config.database_url).await?,
    ))
}

async fn audit(
    store: &SeaStore,
    now: DateTime<Utc>,
    kind: tessera_core::AuditKind,
    client_id: Option<&str>,
    user_id: Option<&str>,
) {
    let event = AuditEvent {
        occurred_at: now,
        kind: kind.as_str().to_owned(),
        actor: Some("cli".into()),
        client_id: client_id.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
        ip: None,
        user_agent: None,
        details: json!({}),
    };
    if let Err(err) = store.record_event(&event).await {
        tracing::error!(error = %err, "audit event lost");
    }
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn find(store: &SeaStore, id: &str) -> anyhow::Result<tessera_core::store::ClientRecord> {
    store
        .find_client(&ClientId::new(id))
        .await?
        .with_context(|| format!("no client {id}"))
}

/// Runs `tessera client …`.
pub async fn client(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: ClientCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        ClientCommand::Create(args) => {
            let jwks = match &args.jwks_file {
                Some(path) => Some(
                    serde_json::from_str(
                        &std::fs::read_to_string(path)
                            .with_context(|| format!("cannot read {}", path.display()))?,
                    )
                    .with_context(|| format!("{} is not JSON", path.display()))?,
                ),
                None => None,
            };
            let metadata = ClientMetadata {
                redirect_uris: args.redirect_uris,
                token_endpoint_auth_method: args.auth_method,
                grant_types: (!args.grant_types.is_empty()).then_some(args.grant_types),
                response_types: None,
                client_name: args.name,
                scope: args.scope,
                jwks,
                jwks_uri: args.jwks_uri,
                token_endpoint_auth_signing_alg: args.token_endpoint_auth_signing_alg,
                id_token_signed_response_alg: args.id_token_alg,
                post_logout_redirect_uris: Some(args.post_logout_redirect_uris),
                require_pkce: args.no_pkce.then_some(false),
            };
            let valid = validate(&metadata)
                .map_err(|err| anyhow::anyhow!("{}: {}", err.code(), err.description()))?;
            let mut created = new_client(valid, now, false);
            created.client.access_token_ttl = args.access_token_ttl;
            created.client.refresh_token_ttl = args.refresh_token_ttl;
            created.client.refresh_token_absolute_ttl = args.refresh_token_absolute_ttl;
            created.client.refresh_token_max_rotations = args.refresh_token_max_rotations;
            created.client.access_token_signed_alg = args.access_token_alg;
            store.create_client(&created.client).await?;
            audit(
                &store,
                now,
                tessera_core::AuditKind::ClientCreated,
                Some(created.client.client_id.as_str()),
                None,
            )
            .await;
            let info = ClientInformation::new(&created.client, created.secret.as_ref(), None, None);
            if args.json {
                print_json(&info)?;
            } else {
                println!("client_id: {}", info.client_id);
                if let Some(secret) = &info.client_secret {
                    println!("client_secret: {secret}");
                    println!("(the secret is shown once; it is stored only as a hash)");
                }
            }
        }
        ClientCommand::List { search, json } => {
            let clients = store.list_clients(search.as_deref(), 1000).await?;
            if json {
                let infos: Vec<_> = clients
                    .iter()
                    .map(|c| ClientInformation::new(c, None, None, None))
                    .collect();
                print_json(&infos)?;
            } else {
                println!("{:<34} {:<20} {:<8} NAME", "CLIENT_ID", "AUTH", "ENABLED");
                for c in &clients {
                    println!(
                        "{:<34} {:<20} {:<8} {}",
                        c.client_id,
                        c.token_endpoint_auth_method.as_str(),
                        c.enabled,
                        c.client_name.as_deref().unwrap_or("")
                    );
                }
            }
        }
        ClientCommand::Show { client_id, json } => {
            let client = find(&store, &client_id).await?;
            let info = ClientInformation::new(&client, None, None, None);
            if json {
                print_json(&info)?;
            } else {
                println!("{}", serde_json::to_string_pretty(&info)?);
            }
        }
        ClientCommand::Delete { client_id } => {
            if !store.delete_client(&ClientId::new(&client_id)).await? {
                bail!("no client {client_id}");
            }
            audit(
                &store,
                now,
                tessera_core::AuditKind::ClientDeleted,
                Some(&client_id),
                None,
            )
            .await;
            println!("deleted client {client_id} and everything issued to it");
        }
        ClientCommand::RotateSecret { client_id, json } => {
            let mut client = find(&store, &client_id).await?;
            let secret = rotate_secret(&mut client, now).with_context(|| {
                format!("client {client_id} does not authenticate with a secret")
            })?;
            let hash = client
                .secret_hash
                .clone()
                .context("a rotated secret has a hash")?;
            if !store
                .set_client_secret_hash(&client.client_id, Some(&hash), now)
                .await?
            {
                bail!("no client {client_id}");
            }
            audit(
                &store,
                now,
                tessera_core::AuditKind::ClientSecretRotated,
                Some(&client_id),
                None,
            )
            .await;
            if json {
                print_json(&json!({"client_id": client_id, "client_secret": secret.expose()}))?;
            } else {
                println!("client_secret: {}", secret.expose());
                println!("(the previous secret no longer works)");
            }
        }
    }
    Ok(())
}

/// Runs `tessera registration-token …`.
pub async fn registration_token(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: RegistrationTokenCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        RegistrationTokenCommand::Create {
            uses,
            expires,
            description,
            json,
        } => {
            let new = registration_tokens::NewToken {
                uses: uses.map(i64::from),
                expires_in: expires.map(|secs| i64::try_from(secs).unwrap_or(i64::MAX)),
                description,
                created_by: "cli".into(),
            };
            let (token, record) = registration_tokens::create(&store, new, now).await?;
            let (uses, expires_at) = (record.uses_remaining, record.expires_at);
            audit(
                &store,
                now,
                tessera_core::AuditKind::RegistrationTokenCreated,
                None,
                None,
            )
            .await;
            let endpoint = config
                .issuer
                .endpoint(tessera_client_registry::REGISTRATION_PATH);
            if json {
                print_json(&json!({
                    "initial_access_token": token.expose(), "id": registration_tokens::id_of(&record.token_hash),
                    "uses": uses, "expires_at": expires_at, "registration_endpoint": endpoint,
                }))?;
            } else {
                println!("{}", token.expose());
                eprintln!(
                    "register with: POST {endpoint} and Authorization: Bearer <the token above>"
                );
            }
        }
        RegistrationTokenCommand::List { json } => {
            let tokens = store.list_initial_access_tokens().await?;
            let rows: Vec<_> = tokens
                .iter()
                .map(|t| {
                    json!({
                        "id": registration_tokens::id_of(&t.token_hash), "description": t.description,
                        "uses_remaining": t.uses_remaining, "expires_at": t.expires_at,
                        "created_at": t.created_at, "revoked_at": t.revoked_at,
                    })
                })
                .collect();
            if json {
                print_json(&rows)?;
            } else {
                for t in &tokens {
                    let state = t.state(now);
                    println!(
                        "{}  {:<8} uses left: {:<9} {}",
                        registration_tokens::id_of(&t.token_hash),
                        state,
                        t.uses_remaining
                            .map_or("unlimited".into(), |u| u.to_string()),
                        t.description.as_deref().unwrap_or("")
                    );
                }
            }
        }
        RegistrationTokenCommand::Revoke { token } => {
            if !registration_tokens::revoke(&store, &token, now).await? {
                bail!("no active initial access token matches");
            }
            audit(
                &store,
                now,
                tessera_core::AuditKind::RegistrationTokenRevoked,
                None,
                None,
            )
            .await;
            println!("revoked");
        }
    }
    Ok(())
}

fn read_password(args: &AddUser) -> anyhow::Result<String> {
    let text = match (&args.password_file, args.password_stdin) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, true) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            text
        }
        (None, false) => bail!("give the password with --password-file FILE or --password-stdin"),
    };
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Runs `tessera user …`.
pub async fn user(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: UserCommand,
) -> anyhow::Result<()> {
    let UserCommand::Add(args) = command;
    let username = tessera_core::username::Username::parse(&args.username)?.into_string();
    let password = read_password(&args)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let store = open_store(config).await?;
    let now = clock.now();
    let user = UserRecord {
        id: Subject::new(random_id()),
        username: username.clone(),
        password_hash: hash,
        email: args.email.clone(),
        email_verified: false,
        name: args.name.clone(),
        is_admin: args.admin,
        enabled: true,
        created_at: now,
    };
    match store.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => bail!("a user named {username} exists already"),
        Err(err) => return Err(err.into()),
    }
    audit(
        &store,
        now,
        tessera_core::AuditKind::UserCreated,
        None,
        Some(user.id.as_str()),
    )
    .await;
    if args.json {
        print_json(&json!({"sub": user.id, "username": username, "admin": args.admin}))?;
    } else {
        println!(
            "created user {username} (sub {}){}",
            user.id,
            if args.admin { ", admin" } else { "" }
        );
    }
    Ok(())
}

/// `tessera trusted-issuer …`: external issuers whose assertions the jwt-bearer grant accepts.
#[derive(Debug, Subcommand)]
pub enum TrustedIssuerCommand {
    /// Trust an issuer.
    Add(Box<AddTrustedIssuer>),
    /// List trusted issuers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting an issuer (by its `iss`).
    Remove {
        /// The issuer.
        issuer: String,
    },
}

/// `tessera trusted-issuer add` options.
#[derive(Debug, Args)]
pub struct AddTrustedIssuer {
    /// The exact `iss` of its assertions.
    #[arg(long)]
    issuer: String,
    /// A file holding its JWK Set (JSON).
    #[arg(long, conflicts_with = "jwks_uri")]
    jwks_file: Option<PathBuf>,
    /// Its https jwks_uri.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// An algorithm it signs with (repeatable; default RS256).
    #[arg(long = "alg")]
    algs: Vec<String>,
    /// A subject it may assert: a username or subject id, or `*` (repeatable).
    #[arg(long = "subject", required = true)]
    subjects: Vec<String>,
    /// A scope its tokens may carry (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A client that may present its assertions (repeatable).
    #[arg(long = "client", required = true)]
    clients: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `trusted-issuer` command.
pub async fn trusted_issuer(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: TrustedIssuerCommand,
) -> anyhow::Result<()> {
    use tessera_client_registry::trusted_issuer::{TrustedIssuerInput, validate_trusted_issuer};
    use tessera_core::store::TrustedIssuerRepo;

    let store = open_store(config).await?;
    let now = clock.now();
    match command {
        TrustedIssuerCommand::Add(add) => {
            let jwks = add
                .jwks_file
                .as_ref()
                .map(|path| {
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))
                })
                .transpose()?;
            let algs = if add.algs.is_empty() {
                vec!["RS256".to_owned()]
            } else {
                add.algs
            };
            let record = validate_trusted_issuer(
                TrustedIssuerInput {
                    issuer: add.issuer,
                    jwks,
                    jwks_uri: add.jwks_uri,
                    algs,
                    subjects: add.subjects,
                    scopes: add.scopes,
                    clients: add.clients,
                },
                &store,
                now,
            )
            .await
            .map_err(|err| anyhow::anyhow!("trusted issuer refused: {err}"))?;
            match store.create_trusted_issuer(&record).await {
                Err(StoreError::Conflict { .. }) => bail!("{} is trusted already", record.issuer),
                other => other?,
            }
            audit(
                &store,
                now,
                tessera_core::AuditKind::TrustedIssuerCreated,
                None,
                None,
            )
            .await;
            if add.json {
                print_json(&json!({"id": record.id, "issuer": record.issuer}))?;
            } else {
                println!("trusted {} (id {})", record.issuer, record.id);
            }
        }
        TrustedIssuerCommand::List { json } => {
            let issuers = store.list_trusted_issuers().await?;
            let rows: Vec<_> = issuers
                .iter()
                .map(|t| {
                    json!({
                        "id": t.id, "issuer": t.issuer, "jwks_uri": t.jwks_uri,
                        "jwks_by_value": t.jwks.is_some(),
                        "algs": t.allowed_algs.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                        "subjects": t.allowed_subjects, "scopes": t.allowed_scopes,
                        "clients": t.allowed_clients.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                        "enabled": t.enabled,
                    })
                })
                .collect();
            if json {
                print_json(&rows)?;
            } else if issuers.is_empty() {
                println!("no trusted issuers");
            } else {
                for t in &issuers {
                    println!(
                        "{}  {}  subjects: {}  clients: {}",
                        t.issuer,
                        if t.enabled { "enabled" } else { "disabled" },
                        t.allowed_subjects.join(" "),
                        t.allowed_clients
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
        }
        TrustedIssuerCommand::Remove { issuer } => {
            let Some(record) = store.find_trusted_issuer(&issuer).await? else {
                bail!("{issuer} is not a trusted issuer");
            };
            store.delete_trusted_issuer(&record.id).await?;
            audit(
                &store,
                now,
                tessera_core::AuditKind::TrustedIssuerDeleted,
                None,
                None,
            )
            .await;
            println!("no longer trusted: {issuer}");
        }
    }
    Ok(())
}
