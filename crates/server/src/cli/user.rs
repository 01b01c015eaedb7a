//! `tessera user …`: create, list, show, update, enable, disable, unlock and delete users, reset
//! their passwords, manage their second factor and the apps they allowed, through the
//! operations layer the console uses (`tessera_admin::ops::users`): the same username and
//! password rules, and the same consequences (a disable or a reset ends the user's sessions and
//! revokes their grants).

use std::{io::Read, path::PathBuf, sync::Arc};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_admin::ops::users::{self, NewUser, UserChange, UserStores};
use tessera_core::{AuditKind, Clock, store::UserRepo};

use super::shared::{audit, open_store, print_json};
use crate::config::Config;

/// `tessera user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (the password from a file or standard input, never an argument).
    Add(AddUser),
    /// List users.
    List {
        /// Only users whose name or email contains this (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one user: profile, rights, second factors and passkeys.
    Show {
        /// Username or subject id.
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let a user sign in again.
    Enable {
        /// Username or subject id.
        user: String,
    },
    /// Stop a user from signing in; ends their sessions and revokes their grants.
    Disable {
        /// Username or subject id.
        user: String,
    },
    /// Set a new password; ends the user's sessions and revokes their grants.
    ResetPassword(PasswordArgs),
    /// List the apps a user allowed (the consent remembered for each, and since when).
    Apps {
        /// Username or subject id.
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a user's grants in force, every app's, newest first (`client revoke-grant` revokes
    /// one).
    Grants {
        /// Username or subject id.
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take an app's access away from a user: the consent is forgotten (the app asks again)
    /// and the grants the user gave it are revoked.
    RemoveApp {
        /// Username or subject id.
        user: String,
        /// The app's client_id.
        client_id: String,
    },
    /// Delete a user and everything of theirs: sessions, grants and refresh tokens, apps
    /// allowed, second factors, passkeys (their audit events stay). Not the last enabled admin.
    Delete {
        /// Username or subject id.
        user: String,
    },
    /// Change a user's name or email (a changed address is unconfirmed unless
    /// --email-verified says an admin confirmed it).
    Update(UpdateArgs),
    /// Clear the sign-in counters of a user's account (the account's own and those per
    /// address), so their next attempt is not slowed down or refused.
    Unlock {
        /// Username or subject id.
        user: String,
    },
    /// Require a second factor of a user, stop requiring it, or remove their authenticator app
    /// and passkeys (a lost phone or key: the next sign-in is with the password, or adds a new
    /// factor where one is required).
    SecondFactor(SecondFactorArgs),
}

/// `tessera user update` options (a field not given is kept).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Username or subject id.
    user: String,
    /// Display name (empty clears it).
    #[arg(long)]
    name: Option<String>,
    /// Email address (empty clears it).
    #[arg(long)]
    email: Option<String>,
    /// The address is confirmed (an admin vouches for it).
    #[arg(long)]
    email_verified: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `tessera user second-factor` options.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("what")
        .required(true)
        .args(["require", "no_require", "remove"])
))]
pub struct SecondFactorArgs {
    /// Username or subject id.
    user: String,
    /// The user must sign in with a second factor (adding one at their next sign-in).
    #[arg(long)]
    require: bool,
    /// Stop requiring it (the server's `TESSERA_MFA` policy still applies).
    #[arg(long)]
    no_require: bool,
    /// Remove the user's authenticator app, recovery codes and passkeys.
    #[arg(long)]
    remove: bool,
}

/// Where a password comes from.
#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from this file (first line).
    #[arg(long, conflicts_with = "password_stdin")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (first line).
    #[arg(long)]
    password_stdin: bool,
}

/// `tessera user add` options.
#[derive(Debug, Args)]
pub struct AddUser {
    /// Login name.
    username: String,
    #[command(flatten)]
    password: PasswordSource,
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

/// `tessera user reset-password` options.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Username or subject id.
    user: String,
    #[command(flatten)]
    password: PasswordSource,
}

impl PasswordSource {
    fn read(&self) -> anyhow::Result<String> {
        let text = match (&self.password_file, self.password_stdin) {
            (Some(path), _) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            (None, true) => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read standard input")?;
                text
            }
            (None, false) => {
                bail!("give the password with --password-file FILE or --password-stdin")
            }
        };
        Ok(text.lines().next().unwrap_or_default().to_owned())
    }
}

/// Runs `tessera user …`.
pub async fn user(
    config: &Config,
    clock: Arc<dyn Clock>,
    command: UserCommand,
) -> anyhow::Result<()> {
    let (id, change) = match command {
        UserCommand::Add(args) => return add(config, clock, args).await,
        UserCommand::List { search, json } => return list(config, search, json).await,
        UserCommand::Show { user, json } => return show(config, &user, json).await,
        UserCommand::Update(args) => return update(config, clock, args).await,
        UserCommand::Unlock { user } => return unlock(config, clock, &user).await,
        UserCommand::Delete { user } => return delete(config, clock, &user).await,
        UserCommand::Apps { user, json } => return apps(config, &user, json).await,
        UserCommand::Grants { user, json } => return grants(config, &user, json).await,
        UserCommand::RemoveApp { user, client_id } => {
            return remove_app(config, clock, &user, &client_id).await;
        }
        UserCommand::Enable { user } => (user, UserChange::Enabled(true)),
        UserCommand::Disable { user } => (user, UserChange::Enabled(false)),
        UserCommand::ResetPassword(args) => {
            (args.user, UserChange::Password(args.password.read()?))
        }
        UserCommand::SecondFactor(args) => {
            let change = match (args.require, args.no_require) {
                (true, _) => UserChange::MfaRequired(true),
                (_, true) => UserChange::MfaRequired(false),
                _ => UserChange::RemoveSecondFactor,
            };
            (args.user, change)
        }
    };
    let store = open_store(config).await?;
    let now = clock.now();
    let user = users::find(&store, &id).await?;
    let kind = change.audit_kind();
    let stores = UserStores {
        users: &store,
        sessions: &store,
        grants: &store,
        factors: &store,
    };
    if users::change(stores, None, &user, change, now).await? {
        audit(&store, now, kind, None, Some(user.id.as_str())).await;
        println!("updated user {} (sub {})", user.username, user.id);
    } else {
        println!("user {} was like that already", user.username);
    }
    Ok(())
}

async fn update(config: &Config, clock: Arc<dyn Clock>, args: UpdateArgs) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = clock.now();
    let user = users::find(&store, &args.user).await?;
    let email_changed = args
        .email
        .as_deref()
        .is_some_and(|e| Some(e.trim()) != user.email.as_deref());
    let edit = users::ProfileEdit {
        name: args.name.or_else(|| user.name.clone()),
        email: args.email.or_else(|| user.email.clone()),
        email_verified: args.email_verified || (user.email_verified && !email_changed),
    };
    // A new address vouched for at once: the rule keeps a changed address unconfirmed, so it
    // is written first and confirmed by a second write.
    let mut updated = users::update_profile(&store, &user, edit.clone(), now).await?;
    if args.email_verified && !updated.email_verified && updated.email.is_some() {
        updated = users::update_profile(&store, &updated, edit, now).await?;
    }
    audit(
        &store,
        now,
        AuditKind::UserUpdated,
        None,
        Some(user.id.as_str()),
    )
    .await;
    if args.json {
        return print_json(&json!({
            "sub": updated.id, "username": updated.username, "name": updated.name,
            "email": updated.email, "email_verified": updated.email_verified,
        }));
    }
    println!("updated user {} (sub {})", updated.username, updated.id);
    Ok(())
}

async fn apps(config: &Config, id: &str, json: bool) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let user = users::find(&store, id).await?;
    let apps = tessera_core::store::allowed_apps(&store, &store, &user.id).await?;
    if json {
        let rows: Vec<_> = apps
            .iter()
            .map(|a| json!({"client_id": a.client_id, "name": a.name, "scope": a.scopes.join(" "), "since": a.since}))
            .collect();
        return print_json(&rows);
    }
    println!("{:<34} {:<24} {:<11} SCOPE", "CLIENT_ID", "NAME", "SINCE");
    for a in &apps {
        println!(
            "{:<34} {:<24} {:<11} {}",
            a.client_id,
            a.name,
            a.since.format("%Y-%m-%d"),
            a.scopes.join(" ")
        );
    }
    Ok(())
}

async fn grants(config: &Config, id: &str, json: bool) -> anyhow::Result<()> {
    use tessera_core::store::GrantAdminRepo;
    /// More than anyone holds; the console shows the newest hundred.
    const ALL: u64 = 100_000;
    let store = open_store(config).await?;
    let user = users::find(&store, id).await?;
    let grants = store.list_user_grants(&user.id, ALL).await?;
    if json {
        let rows: Vec<_> = grants
            .iter()
            .map(|g| {
                json!({"id": g.id, "client_id": g.client_id, "scope": g.scopes.join(" "),
                       "offline": g.offline, "resource": g.resource, "created_at": g.created_at})
            })
            .collect();
        return print_json(&rows);
    }
    println!(
        "{:<34} {:<34} {:<17} {:<8} SCOPE",
        "GRANT", "CLIENT_ID", "GIVEN (UTC)", "OFFLINE"
    );
    for g in &grants {
        println!(
            "{:<34} {:<34} {:<17} {:<8} {}",
            g.id,
            g.client_id,
            g.created_at.format("%Y-%m-%d %H:%M"),
            g.offline,
            g.scopes.join(" ")
        );
    }
    Ok(())
}

async fn remove_app(
    config: &Config,
    clock: Arc<dyn Clock>,
    id: &str,
    client_id: &str,
) -> anyhow::Result<()> {
    use tessera_core::store::{ConsentRepo, GrantAdminRepo};
    let store = open_store(config).await?;
    let now = clock.now();
    let user = users::find(&store, id).await?;
    let client = tessera_core::ClientId::new(client_id);
    let forgotten = store.delete_consent(&user.id, &client).await?;
    let reason = "access removed by an admin";
    let revoked = store
        .revoke_user_client_grants(&user.id, &client, reason, now)
        .await?;
    if !forgotten && revoked == 0 {
        println!("{} has not allowed {client_id}", user.username);
        return Ok(());
    }
    let kind = AuditKind::ConsentRevoked;
    audit(&store, now, kind, Some(client_id), Some(user.id.as_str())).await;
    println!(
        "{client_id} no longer has access for {}; {revoked} grant(s) revoked",
        user.username
    );
    Ok(())
}

async fn delete(config: &Config, clock: Arc<dyn Clock>, id: &str) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let user = users::find(&store, id).await?;
    users::delete(&store, None, &user).await?;
    let details = json!({ "username": user.username });
    let now = clock.now();
    super::shared::audit_with(
        &store,
        now,
        AuditKind::UserDeleted,
        Some(user.id.as_str()),
        details,
    )
    .await;
    println!(
        "deleted user {} (sub {}) and everything of theirs",
        user.username, user.id
    );
    Ok(())
}

async fn unlock(config: &Config, clock: Arc<dyn Clock>, id: &str) -> anyhow::Result<()> {
    use tessera_admin::ops::locks::{self, Which};
    let store = open_store(config).await?;
    let now = clock.now();
    let user = users::find(&store, id).await?;
    let cleared = locks::clear(&store, Which::Account(&user.username), now).await?;
    if cleared == 0 {
        println!("no sign-in counter is kept for {}", user.username);
        return Ok(());
    }
    audit(
        &store,
        now,
        AuditKind::LoginLockCleared,
        None,
        Some(user.id.as_str()),
    )
    .await;
    println!("cleared {cleared} sign-in counter(s) of {}", user.username);
    Ok(())
}

async fn add(config: &Config, clock: Arc<dyn Clock>, args: AddUser) -> anyhow::Result<()> {
    let new = NewUser {
        username: args.username,
        password: args.password.read()?,
        email: args.email,
        name: args.name,
        is_admin: args.admin,
    };
    // The rules first, so a refused name never needs the database.
    tessera_core::username::Username::parse(&new.username)?;
    let store = open_store(config).await?;
    let now = clock.now();
    let user = users::create(&store, new, now).await?;
    audit(
        &store,
        now,
        AuditKind::UserCreated,
        None,
        Some(user.id.as_str()),
    )
    .await;
    if args.json {
        print_json(&json!({"sub": user.id, "username": user.username, "admin": user.is_admin}))?;
    } else {
        println!(
            "created user {} (sub {}){}",
            user.username,
            user.id,
            if user.is_admin { ", admin" } else { "" }
        );
    }
    Ok(())
}

async fn show(config: &Config, id: &str, json: bool) -> anyhow::Result<()> {
    use tessera_core::store::{PasskeyRepo, SecondFactorRepo};
    let store = open_store(config).await?;
    let user = users::find(&store, id).await?;
    let app = store
        .find_totp(&user.id)
        .await?
        .filter(|f| f.confirmed_at.is_some());
    let recovery_left = match app {
        Some(_) => store.unused_recovery_codes(&user.id).await?,
        None => 0,
    };
    let passkeys = store.passkeys(&user.id).await?;
    if json {
        let keys: Vec<_> = passkeys
            .iter()
            .map(|p| {
                json!({"name": p.name, "synced": p.synced, "created_at": p.created_at,
                       "last_used_at": p.last_used_at})
            })
            .collect();
        return print_json(&json!({
            "sub": user.id, "username": user.username, "name": user.name, "email": user.email,
            "email_verified": user.email_verified, "admin": user.is_admin,
            "enabled": user.enabled, "second_factor_required": user.mfa_required,
            "created_at": user.created_at,
            "authenticator_app": app.is_some(), "recovery_codes_left": recovery_left,
            "passkeys": keys,
        }));
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let row = |label: &str, value: &str| println!("{label:<18} {value}");
    let verified = if user.email_verified {
        " (verified)"
    } else {
        ""
    };
    let email = format!("{}{verified}", user.email.as_deref().unwrap_or(""));
    let app_text = match app {
        Some(_) => format!("yes ({recovery_left} recovery codes left)"),
        None => "no".to_owned(),
    };
    row("sub:", user.id.as_str());
    row("username:", &user.username);
    row("name:", user.name.as_deref().unwrap_or(""));
    row("email:", &email);
    row("admin:", yes_no(user.is_admin));
    row("enabled:", yes_no(user.enabled));
    row("two-step required:", yes_no(user.mfa_required));
    row(
        "created:",
        &user.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    row("authenticator app:", &app_text);
    row("passkeys:", &passkeys.len().to_string());
    for p in &passkeys {
        let kind = if p.synced {
            "synced"
        } else {
            "this device only"
        };
        println!(
            "  {} ({kind}, added {})",
            p.name,
            p.created_at.format("%Y-%m-%d")
        );
    }
    Ok(())
}

async fn list(config: &Config, search: Option<String>, json: bool) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    // Every match, a thousand at a time (keyset on the username).
    let mut users: Vec<tessera_core::store::UserRecord> = Vec::new();
    loop {
        let after = users.last().map(|u| u.username.clone());
        let page = store
            .list_users(search.as_deref(), after.as_deref(), 1000)
            .await?;
        let done = page.len() < 1000;
        users.extend(page);
        if done {
            break;
        }
    }
    if json {
        let rows: Vec<_> = users
            .iter()
            .map(|u| {
                json!({"sub": u.id, "username": u.username, "email": u.email,
                       "admin": u.is_admin, "enabled": u.enabled})
            })
            .collect();
        return print_json(&rows);
    }
    println!(
        "{:<34} {:<24} {:<6} {:<8} EMAIL",
        "SUB", "USERNAME", "ADMIN", "ENABLED"
    );
    for u in &users {
        println!(
            "{:<34} {:<24} {:<6} {:<8} {}",
            u.id,
            u.username,
            u.is_admin,
            u.enabled,
            u.email.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
