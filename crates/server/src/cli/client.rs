//! `tessera client …`: register, list, show, update, enable, disable, delete clients, rotate
//! their secrets, list and revoke their grants, through the operations layer the console uses
//! (`tessera_admin::ops::clients`).

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
    /// Change a client's registration: what is given replaces what it has (a repeated flag
    /// replaces the whole list); what is not given is kept, as on the console's client page.
    Update(Box<UpdateClient>),
    /// List a client's grants, newest first (revoked ones included).
    Grants {
        /// The client_id.
        client_id: String,
        /// Only this user's (username or subject id).
        #[arg(long)]
        user: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one grant of a client: its refresh tokens stop working and its access tokens are
    /// inactive at introspection and /userinfo.
    RevokeGrant {
        /// The client_id.
        client_id: String,
        /// The grant's id, as `client grants` lists it.
        grant_id: String,
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
    /// A grant type (repeat; default authorization_code and refresh_token, as the console's
    /// form): authorization_code, refresh_token, client_credentials, device_code (RFC 8628),
    /// jwt-bearer (RFC 7523), or a wire value.
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
    #[command(flatten)]
    settings: TokenSettingArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A client's own token settings, for `client create` and `client update` (unset: the
/// server-wide setting named).
#[derive(Debug, Args)]
pub struct TokenSettingArgs {
    /// This client's access token lifetime in seconds (unset: TESSERA_ACCESS_TOKEN_TTL).
    #[arg(long)]
    access_token_ttl: Option<i64>,
    /// This client's refresh token lifetime in seconds (unset: TESSERA_REFRESH_TOKEN_TTL).
    #[arg(long)]
    refresh_token_ttl: Option<i64>,
    /// Seconds from sign-in after which this client's refresh-token families end (unset:
    /// TESSERA_REFRESH_TOKEN_ABSOLUTE_TTL).
    #[arg(long)]
    refresh_token_absolute_ttl: Option<i64>,
    /// Rotations of one refresh-token family before a new sign-in (unset:
    /// TESSERA_REFRESH_TOKEN_MAX_ROTATIONS).
    #[arg(long)]
    refresh_token_max_rotations: Option<i64>,
    /// This client's access token algorithm, RS256 or ES256 (unset: TESSERA_ACCESS_TOKEN_ALG).
    #[arg(long)]
    access_token_alg: Option<tessera_core::SigningAlg>,
}

impl TokenSettingArgs {
    /// `settings` with what was given put in.
    fn applied_to(self, mut settings: TokenSettings) -> TokenSettings {
        let given = [
            (&mut settings.access_token_ttl, self.access_token_ttl),
            (&mut settings.refresh_token_ttl, self.refresh_token_ttl),
            (
                &mut settings.refresh_token_absolute_ttl,
                self.refresh_token_absolute_ttl,
            ),
            (
                &mut settings.refresh_token_max_rotations,
                self.refresh_token_max_rotations,
            ),
        ];
        for (setting, value) in given {
            if value.is_some() {
                *setting = value;
            }
        }
        if self.access_token_alg.is_some() {
            settings.access_token_alg = self.access_token_alg;
        }
        settings
    }
}

/// `tessera client update` options (each replaces the client's value when given).
#[derive(Debug, Args)]
pub struct UpdateClient {
    /// The client_id.
    client_id: String,
    /// Display name (empty clears it).
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI (repeat for several; replaces the list).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeat for several; replaces the list).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Remove every post-logout redirect URI.
    #[arg(long, conflicts_with = "post_logout_redirect_uris")]
    no_post_logout_redirect_uris: bool,
    /// A grant type (repeat; replaces the list), as for `client create`.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none (a move to a secret
    /// method prints the new secret; a move away drops it).
    #[arg(long)]
    auth_method: Option<String>,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    scope: Option<String>,
    /// A file holding the client's JWK Set (replaces its keys).
    #[arg(long, conflicts_with = "jwks_uri")]
    jwks_file: Option<PathBuf>,
    /// Where the client publishes its JWK Set (replaces its keys).
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Alg of the client's assertions (RS256 or ES256).
    #[arg(long)]
    token_endpoint_auth_signing_alg: Option<String>,
    /// Alg of its ID tokens (RS256 or ES256).
    #[arg(long)]
    id_token_alg: Option<String>,
    /// Whether PKCE is required (false: confidential clients only).
    #[arg(long)]
    require_pkce: Option<bool>,
    /// Whether its authorization requests must be pushed (RFC 9126).
    #[arg(long)]
    require_par: Option<bool>,
    /// Whether every token request must carry a DPoP proof (RFC 9449).
    #[arg(long)]
    dpop_bound_access_tokens: Option<bool>,
    #[command(flatten)]
    settings: TokenSettingArgs,
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
        ClientCommand::Update(args) => update(&store, now, *args).await?,
        ClientCommand::Grants {
            client_id,
            user,
            json,
        } => grants(&store, &client_id, user.as_deref(), json).await?,
        ClientCommand::RevokeGrant {
            client_id,
            grant_id,
        } => {
            use tessera_core::store::GrantRepo;
            let grant = tessera_core::GrantId::new(grant_id.as_str());
            match store.find_grant(&grant).await? {
                Some(found) if found.client_id.as_str() == client_id => {}
                _ => bail!("client {client_id} has no grant {grant_id}"),
            }
            if !store
                .revoke_grant(&grant, "revoked by an admin", now)
                .await?
            {
                println!("grant {grant_id} was revoked already");
                return Ok(());
            }
            audit(&store, now, AuditKind::GrantRevoked, Some(&client_id), None).await;
            println!("revoked grant {grant_id} of client {client_id}");
        }
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
        // The console's form ticks these two; RFC 7591's own default (authorization_code alone)
        // stays for apps that register themselves.
        grant_types: Some(if args.grant_types.is_empty() {
            vec!["authorization_code".into(), "refresh_token".into()]
        } else {
            args.grant_types
        }),
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
    let settings = args.settings.applied_to(TokenSettings::default());
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

async fn update(store: &SeaStore, now: DateTime<Utc>, args: UpdateClient) -> anyhow::Result<()> {
    let client = clients::find(store, &args.client_id).await?;
    let mut metadata = tessera_client_registry::registry::metadata_of(&client);
    if let Some(name) = args.name {
        metadata.client_name = Some(name).filter(|n| !n.trim().is_empty());
    }
    if !args.redirect_uris.is_empty() {
        metadata.redirect_uris = args.redirect_uris;
    }
    if !args.post_logout_redirect_uris.is_empty() || args.no_post_logout_redirect_uris {
        metadata.post_logout_redirect_uris = Some(args.post_logout_redirect_uris);
    }
    if !args.grant_types.is_empty() {
        metadata.grant_types = Some(args.grant_types);
        metadata.response_types = None;
    }
    if args.auth_method.is_some() {
        metadata.token_endpoint_auth_method = args.auth_method;
    }
    if args.scope.is_some() {
        metadata.scope = args.scope;
    }
    if let Some(path) = &args.jwks_file {
        (metadata.jwks, metadata.jwks_uri) = (Some(read_jwks(path)?), None);
    }
    if args.jwks_uri.is_some() {
        (metadata.jwks, metadata.jwks_uri) = (None, args.jwks_uri);
    }
    if args.token_endpoint_auth_signing_alg.is_some() {
        metadata.token_endpoint_auth_signing_alg = args.token_endpoint_auth_signing_alg;
    }
    if args.id_token_alg.is_some() {
        metadata.id_token_signed_response_alg = args.id_token_alg;
    }
    if args.require_pkce.is_some() {
        metadata.require_pkce = args.require_pkce;
    }
    if args.require_par.is_some() {
        metadata.require_pushed_authorization_requests = args.require_par;
    }
    if args.dpop_bound_access_tokens.is_some() {
        metadata.dpop_bound_access_tokens = args.dpop_bound_access_tokens;
    }
    let settings = args.settings.applied_to(TokenSettings::of(&client));
    let edit = clients::ClientEdit {
        metadata,
        settings,
        enabled: client.enabled,
    };
    let updated = match clients::edit(store, &client, edit, now).await {
        Err(ClientOpError::Metadata(err)) => bail!("{}: {}", err.code(), err.description()),
        other => other?,
    };
    let id = updated.client_id.as_str();
    audit(store, now, AuditKind::ClientUpdated, Some(id), None).await;
    // A move to a secret-based method made a secret: it is shown now, once.
    let secret = if client.secret_hash.is_none() && updated.secret_hash.is_some() {
        Some(clients::new_secret(store, id, now).await?)
    } else {
        None
    };
    let info = ClientInformation::new(&updated, secret.as_ref(), None, None);
    if args.json {
        print_json(&info)?;
    } else {
        println!("updated client {id}");
        if let Some(secret) = &info.client_secret {
            println!("client_secret: {secret}");
            println!("(the secret is shown once; it is stored only as a hash)");
        }
    }
    Ok(())
}

async fn grants(
    store: &SeaStore,
    client_id: &str,
    user: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    use tessera_core::store::{GrantAdminRepo, GrantRecord, TimeCursor};
    let client = clients::find(store, client_id).await?;
    let user = match user {
        Some(user) => Some(tessera_admin::ops::users::find(store, user).await?.id),
        None => None,
    };
    // Every grant, a thousand at a time.
    let mut all: Vec<GrantRecord> = Vec::new();
    loop {
        let after = all.last().map(|g| TimeCursor {
            at: g.created_at,
            id: g.id.to_string(),
        });
        let page = store
            .list_client_grants(&client.client_id, user.as_ref(), after.as_ref(), 1000)
            .await?;
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            break;
        }
    }
    let ids = all
        .iter()
        .filter_map(|g| g.user_id.as_ref().map(|u| u.as_str()));
    let names = tessera_admin::usernames(store, ids).await?;
    let name_of = |g: &GrantRecord| {
        g.user_id
            .as_ref()
            .and_then(|u| names.get(u.as_str()).cloned())
    };
    if json {
        let rows: Vec<_> = all
            .iter()
            .map(|g| {
                json!({
                    "id": g.id, "sub": g.user_id, "username": name_of(g), "scope": g.scopes.join(" "),
                    "offline": g.offline, "created_at": g.created_at, "revoked_at": g.revoked_at,
                })
            })
            .collect();
        return print_json(&rows);
    }
    println!(
        "{:<34} {:<24} {:<17} {:<8} SCOPE",
        "GRANT", "USER", "CREATED (UTC)", "STATE"
    );
    for g in &all {
        println!(
            "{:<34} {:<24} {:<17} {:<8} {}",
            g.id,
            name_of(g).unwrap_or_else(|| "(the client itself)".into()),
            g.created_at.format("%Y-%m-%d %H:%M"),
            if g.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            },
            g.scopes.join(" "),
        );
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
    // Every match, a thousand at a time (keyset on creation time and id).
    let mut clients: Vec<tessera_core::store::ClientRecord> = Vec::new();
    loop {
        let after = clients.last().map(tessera_core::store::ClientCursor::after);
        let page = store
            .page_clients(search.as_deref(), after.as_ref(), 1000)
            .await?;
        let done = page.len() < 1000;
        clients.extend(page);
        if done {
            break;
        }
    }
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
