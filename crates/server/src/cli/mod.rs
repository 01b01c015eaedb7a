//! The command line: `tessera serve | migrate | config check | completions`, and the management
//! commands, one module each: `keys`, `client`, `registration-token`, `trusted-issuer`, `user`,
//! `scope`, `resource-server`, `sign-in-locks`, `session`, `audit`. The management commands work
//! on the configured database directly (migrating it first), go through the operations layer
//! the admin console uses (`tessera_admin::ops`), write audit events with actor `cli`, and print
//! text or, with `--json`, JSON.

mod audit;
mod client;
mod keys;
mod locks;
mod registration_token;
mod resource_server;
mod scope;
mod session;
mod shared;
mod trusted_issuer;
mod user;

pub use audit::AuditCommand;
pub use client::{ClientCommand, CreateClient};
pub use keys::KeysCommand;
pub use locks::LockCommand;
pub use registration_token::RegistrationTokenCommand;
pub use resource_server::ResourceServerCommand;
pub use scope::ScopeCommand;
pub use session::SessionCommand;
pub use trusted_issuer::{AddTrustedIssuer, TrustedIssuerCommand};
pub use user::{AddUser, PasswordArgs, PasswordSource, UserCommand};

use std::{path::PathBuf, sync::Arc};

use clap::{Parser, Subcommand};
use tessera_core::SystemClock;

use crate::{
    app::Application,
    config::{Config, Sources},
    telemetry,
};

/// Tessera, an OAuth 2.0 / OpenID Connect authorization server.
#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera, an OAuth 2.0 / OpenID Connect authorization server.",
    long_about = "Tessera, an OAuth 2.0 / OpenID Connect authorization server. `tessera serve` \
                  runs it; the other commands manage the configured database and keys directly."
)]
pub struct Cli {
    /// Configuration file (default: ./tessera.toml when present). Also TESSERA_CONFIG.
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, open the keys and serve until SIGTERM/SIGINT.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration without serving.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Signing keys: list them, rotate, copy between the key folder and the database.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Clients (apps): register, change, enable or disable, delete, rotate secrets, see and
    /// revoke their grants.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Initial access tokens for RFC 7591 dynamic registration.
    #[command(subcommand)]
    RegistrationToken(RegistrationTokenCommand),
    /// External issuers trusted for the JWT bearer grant (RFC 7523).
    #[command(subcommand)]
    TrustedIssuer(TrustedIssuerCommand),
    /// Users: create, change, disable, delete, reset passwords, second factors, the apps they
    /// allowed.
    #[command(subcommand)]
    User(UserCommand),
    /// The scope registry: the scopes apps may register for.
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Resource servers (RFC 8707): the APIs access tokens can be narrowed to.
    #[command(subcommand)]
    ResourceServer(ResourceServerCommand),
    /// The sign-in throttle's counters: see who is slowed down or refused, and clear them.
    #[command(subcommand)]
    SignInLocks(LockCommand),
    /// Who is signed in: the browser sessions in force, most recently seen first.
    #[command(subcommand)]
    Session(SessionCommand),
    /// The audit log: list or export events, filtered as in the console.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print a shell completion script, e.g. `tessera completions bash >
    /// /etc/bash_completion.d/tessera` (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `tessera config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it with secrets hidden, without serving.
    Check,
}

/// Parses the command line and runs it.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Completions need no configuration (a broken one must not stop them).
    if let Command::Completions { shell } = &cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(*shell, &mut command, "tessera", &mut std::io::stdout());
        return Ok(());
    }
    let config = Config::load(&Sources {
        file: cli.config.clone(),
    })?;
    // Management commands print their own answers; their logs are warnings and errors unless
    // a level is asked for (`TESSERA_LOG_LEVEL`, `RUST_LOG`). `serve` logs at the configured level.
    let level = match &cli.command {
        Command::Serve => config.log_level.as_str(),
        _ if std::env::var_os("TESSERA_LOG_LEVEL").is_some() => config.log_level.as_str(),
        _ => "warn",
    };
    let _log_writer = telemetry::init(config.log_format, level);
    if !config.ignored_env.is_empty() {
        tracing::warn!(
            variables = %config.ignored_env.join(", "),
            "ignoring TESSERA_* environment variables that name no setting (an orchestrator's, or a typo?)"
        );
    }
    match cli.command {
        Command::Serve => {
            // Branding is process-wide (tessera_web::brand): set once, before any page renders.
            tessera_web::brand::install(config.brand.clone());
            actix_web::rt::System::new().block_on(async move {
                Application::build(config).await?.run_until_stopped().await
            })
        }
        Command::Migrate => actix_web::rt::System::new().block_on(async move {
            let applied = tessera_storage::migrate(&config.database_url).await?;
            println!("applied {applied} migration(s); the schema is up to date");
            Ok(())
        }),
        Command::Config(ConfigCommand::Check) => {
            println!("{}", config.redacted());
            println!("configuration OK");
            Ok(())
        }
        Command::Keys(command) => actix_web::rt::System::new()
            .block_on(async move { keys::keys(&config, command, &SystemClock).await }),
        Command::Client(command) => actix_web::rt::System::new()
            .block_on(async move { client::client(&config, Arc::new(SystemClock), command).await }),
        Command::RegistrationToken(command) => actix_web::rt::System::new().block_on(async move {
            registration_token::registration_token(&config, Arc::new(SystemClock), command).await
        }),
        Command::TrustedIssuer(command) => actix_web::rt::System::new().block_on(async move {
            trusted_issuer::trusted_issuer(&config, Arc::new(SystemClock), command).await
        }),
        Command::User(command) => actix_web::rt::System::new()
            .block_on(async move { user::user(&config, Arc::new(SystemClock), command).await }),
        Command::Scope(command) => actix_web::rt::System::new()
            .block_on(async move { scope::scope(&config, Arc::new(SystemClock), command).await }),
        Command::ResourceServer(command) => actix_web::rt::System::new().block_on(async move {
            resource_server::resource_server(&config, Arc::new(SystemClock), command).await
        }),
        Command::SignInLocks(command) => actix_web::rt::System::new().block_on(async move {
            locks::sign_in_locks(&config, Arc::new(SystemClock), command).await
        }),
        Command::Session(command) => actix_web::rt::System::new().block_on(async move {
            session::session(&config, Arc::new(SystemClock), command).await
        }),
        Command::Audit(command) => actix_web::rt::System::new()
            .block_on(async move { audit::audit(&config, command).await }),
        Command::Completions { .. } => Ok(()),
    }
}
