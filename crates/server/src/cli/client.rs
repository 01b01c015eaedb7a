//! `tessera client …`: register, list, show, enable, disable, delete clients and rotate their
//! secrets, through the operations layer the console uses (`tessera_admin::ops::clients`).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_admin::ops::clients::{self, ClientOpError, TokenSettings};
use tessera_client_registry::{model::ClientMetadata, registry::ClientInformation};
use tessera_core::{AuditKind, Clock, store::ClientRepo};
use tessera_storage::SeaStore;

use super::shared::{audit, open_store, print_json};
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
    /// Let a client get tokens again.
    Enable {
        /// The client_id.
        client_id: String,
    },
    /// Stop a client from getting tokens (its registration is kept; `enable` undoes it).
    Disable {
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
    /// A grant type (repeat; default authorization_code): authorization_code, refresh_token,
    /// client_credentials, device_code (RFC 8628), jwt-bearer (RFC 7523), or a wire value.
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
    /// Accept this client's authorization requests only when pushed (RFC 9126 `/par`).
    #[arg(long)]
    require_par: bool,
    /// Every token request of this client must carry a DPoP proof (RFC 9449): its access tokens
    /// are always bound to its key.
    #[arg(long)]
    dpop_bound_access_tokens: bool,
    /// This client's access token lifetime in seconds (default: TESSERA_ACCESS_TOKEN_TTL).
    #[arg(long)]
    access_token_ttl: Option<i64>,
    /// This client's refresh token lifetime in seconds (default: TESSERA_REFRESH_TOKEN_TTL).
    #[arg(long)]
    refresh_token_ttl: Option<i64>,
    /// Seconds from sign-in after which this client's refresh-token families end (default:
    /// TESSERA_REFRESH_TOKEN_ABSOLUTE_TTL).
    #[arg(long)]
    refresh_token_absolute_ttl: Option<i64>,
    /// Rotations of one refresh-token family before a new sign-in (default:
    /// TESSERA_REFRESH_TOKEN_MAX_ROTATIONS).
    #[arg(long)]
    refresh_token_max_rotations: Option<i64>,
    /// This client's access token algorithm, RS256 or ES256 (default: TESSERA_ACCESS_TOKEN_ALG).
    #[arg(long)]
    access_token_alg: Option<tessera_core::SigningAlg>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Reads a JWK Set file.
fn read_jwks(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
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
        ClientCommand::Create(args) => create(&store, now, *args).await?,
        ClientCommand::List { search, json } => list(&store, search, json).await?,
        ClientCommand::Show { client_id, json } => {
            let client = clients::find(&store, &client_id).await?;
            let info = ClientInformation::new(&client, None, None, None);
            if json {
                print_json(&info)?;
            } else {
                println!("{}", serde_json::to_string_pretty(&info)?);
            }
        }
        ClientCommand::Delete { client_id } => {
            clients::delete(&store, &client_id).await?;
            let kind = AuditKind::ClientDeleted;
            audit(&store, now, kind, Some(&client_id), None).await;
            println!("deleted client {client_id} and everything issued to it");
        }
        ClientCommand::Enable { client_id } => set_enabled(&store, now, &client_id, true).await?,
        ClientCommand::Disable { client_id } => {
            set_enabled(&store, now, &client_id, false).await?;
        }
        ClientCommand::RotateSecret { client_id, json } => {
            let secret = clients::new_secret(&store, &client_id, now).await?;
            let kind = AuditKind::ClientSecretRotated;
            audit(&store, now, kind, Some(&client_id), None).await;
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

async fn create(store: &SeaStore, now: DateTime<Utc>, args: CreateClient) -> anyhow::Result<()> {
    let metadata = ClientMetadata {
        redirect_uris: args.redirect_uris,
        token_endpoint_auth_method: args.auth_method,
        grant_types: (!args.grant_types.is_empty()).then_some(args.grant_types),
        response_types: None,
        client_name: args.name,
        scope: args.scope,
        jwks: args.jwks_file.as_deref().map(read_jwks).transpose()?,
        jwks_uri: args.jwks_uri,
        token_endpoint_auth_signing_alg: args.token_endpoint_auth_signing_alg,
        id_token_signed_response_alg: args.id_token_alg,
        post_logout_redirect_uris: Some(args.post_logout_redirect_uris),
        require_pkce: args.no_pkce.then_some(false),
        require_pushed_authorization_requests: args.require_par.then_some(true),
        dpop_bound_access_tokens: args.dpop_bound_access_tokens.then_some(true),
    };
    let settings = TokenSettings {
        access_token_ttl: args.access_token_ttl,
        refresh_token_ttl: args.refresh_token_ttl,
        refresh_token_absolute_ttl: args.refresh_token_absolute_ttl,
        refresh_token_max_rotations: args.refresh_token_max_rotations,
        access_token_alg: args.access_token_alg,
    };
    let created = match clients::create(store, &metadata, settings, now).await {
        Err(ClientOpError::Metadata(err)) => bail!("{}: {}", err.code(), err.description()),
        other => other?,
    };
    let id = created.client.client_id.as_str();
    audit(store, now, AuditKind::ClientCreated, Some(id), None).await;
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
    Ok(())
}

async fn set_enabled(
    store: &SeaStore,
    now: DateTime<Utc>,
    id: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    let state = if enabled { "enabled" } else { "disabled" };
    if !clients::set_enabled(store, id, enabled).await? {
        println!("client {id} was {state} already");
        return Ok(());
    }
    audit(store, now, AuditKind::ClientUpdated, Some(id), None).await;
    println!("client {id} is {state}");
    Ok(())
}

async fn list(store: &SeaStore, search: Option<String>, json: bool) -> anyhow::Result<()> {
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
    Ok(())
}
