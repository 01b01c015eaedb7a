//! Users as an admin manages them: create (the one username rule, `tessera_core::username`, and
//! the one password rule, `tessera_core::password`), enable or disable, grant or take admin
//! rights, reset the password, require a second factor or remove one, delete. Taking away
//! standing ends what was signed in with it.

use chrono::{DateTime, Utc};
use tessera_core::{
    AuditKind, Subject,
    password::{PasswordError, hash_password},
    secret::random_id,
    store::{GrantAdminRepo, SecondFactorRepo, SessionRepo, StoreError, UserRecord, UserRepo},
    username::{InvalidUsername, Username},
};

/// Why an operation on a user was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserOpError {
    /// The username breaks the rule.
    #[error(transparent)]
    Username(#[from] InvalidUsername),
    /// The password breaks the rule.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Another user has this name.
    #[error("a user named {0} exists already")]
    Taken(String),
    /// No user has this id or name.
    #[error("no user {0}")]
    NotFound(String),
    /// An admin tried to disable themselves or take their own admin rights.
    #[error("an admin can not do that to their own account")]
    OwnAccount,
    /// The email address is not one (`tessera_core::email_address`).
    #[error("that does not look like an email address")]
    Email,
    /// The display name is longer than 200 characters or has control characters.
    #[error("a name has at most 200 characters and no control characters")]
    Name,
    /// Deleting this user would leave no enabled admin.
    #[error("this is the last enabled admin; make someone else admin first")]
    LastAdmin,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Login name (trimmed; the username rule decides).
    pub username: String,
    /// The password, in plain text (hashed off the async executor).
    pub password: String,
    /// Email address (blank: none).
    pub email: Option<String>,
    /// Display name (blank: none).
    pub name: Option<String>,
    /// May use the admin console.
    pub is_admin: bool,
}

fn present(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Hashes a password on the blocking pool (argon2 takes tens of milliseconds).
async fn hash(password: String) -> Result<String, UserOpError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|err| StoreError::Backend(Box::new(err)))?
        .map_err(UserOpError::from)
}

/// Creates a user.
pub async fn create(
    repo: &dyn UserRepo,
    new: NewUser,
    now: DateTime<Utc>,
) -> Result<UserRecord, UserOpError> {
    let username = Username::parse(&new.username)?.into_string();
    let email = present(new.email);
    if email
        .as_deref()
        .is_some_and(|e| !tessera_core::email_address::plausible(e))
    {
        return Err(UserOpError::Email);
    }
    let password_hash = hash(new.password).await?;
    let user = UserRecord {
        id: Subject::new(random_id()),
        username,
        password_hash,
        email,
        email_verified: false,
        name: present(new.name),
        is_admin: new.is_admin,
        enabled: true,
        mfa_required: false,
        created_at: now,
    };
    match repo.create_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict { .. }) => Err(UserOpError::Taken(user.username)),
        Err(err) => Err(err.into()),
    }
}

/// The user with this subject id or, failing that, this username.
pub async fn find(repo: &dyn UserRepo, id_or_name: &str) -> Result<UserRecord, UserOpError> {
    if let Some(user) = repo.find_user(&Subject::new(id_or_name)).await? {
        return Ok(user);
    }
    repo.find_user_by_username(id_or_name.trim())
        .await?
        .ok_or_else(|| UserOpError::NotFound(id_or_name.to_owned()))
}

/// A change an admin makes to a user.
#[derive(Debug, Clone)]
pub enum UserChange {
    /// May sign in, or not.
    Enabled(bool),
    /// May use the admin console, or not.
    Admin(bool),
    /// A new password (plain text; the password rule decides).
    Password(String),
    /// Must sign in with a second factor (adding one at their next sign-in), or need not
    /// beyond the server's policy.
    MfaRequired(bool),
    /// Their authenticator app, recovery codes and passkeys removed (a lost phone or security
    /// key): their next sign-in is with the password alone, or adds a new factor where one is
    /// required.
    RemoveSecondFactor,
}

impl UserChange {
    /// The audit event the change is recorded as.
    pub fn audit_kind(&self) -> AuditKind {
        match self {
            Self::Enabled(_) => AuditKind::UserEnabledChanged,
            Self::Admin(_) => AuditKind::UserAdminChanged,
            Self::Password(_) => AuditKind::UserPasswordReset,
            Self::MfaRequired(_) => AuditKind::UserMfaRequiredChanged,
            Self::RemoveSecondFactor => AuditKind::SecondFactorRemoved,
        }
    }
}

/// A user's profile as an admin edits it (blank fields are cleared).
#[derive(Debug, Clone, Default)]
pub struct ProfileEdit {
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Whether the admin vouches for the address (for the address as it was: a changed
    /// address is unconfirmed until its owner confirms it, or an admin ticks it afterwards).
    pub email_verified: bool,
}

/// Changes `user`'s name and email. A changed address is unconfirmed; an unchanged one is as
/// `email_verified` says. The user as stored now.
pub async fn update_profile(
    repo: &dyn UserRepo,
    user: &UserRecord,
    edit: ProfileEdit,
    now: DateTime<Utc>,
) -> Result<UserRecord, UserOpError> {
    let name = present(edit.name);
    if name
        .as_deref()
        .is_some_and(|n| n.chars().count() > 200 || n.chars().any(char::is_control))
    {
        return Err(UserOpError::Name);
    }
    let email = present(edit.email);
    if email
        .as_deref()
        .is_some_and(|e| !tessera_core::email_address::plausible(e))
    {
        return Err(UserOpError::Email);
    }
    let mut updated = user.clone();
    updated.email_verified = email.is_some() && email == user.email && edit.email_verified;
    updated.email = email;
    updated.name = name;
    repo.update_user(&updated, now).await?;
    Ok(updated)
}

/// The stores a change to a user touches.
#[derive(Clone, Copy)]
pub struct UserStores<'a> {
    /// Users.
    pub users: &'a dyn UserRepo,
    /// Browser sessions (ended when standing is taken away).
    pub sessions: &'a dyn SessionRepo,
    /// Grants (revoked on a disable or a password reset, and their refresh tokens with them).
    pub grants: &'a dyn GrantAdminRepo,
    /// Second factors.
    pub factors: &'a dyn SecondFactorRepo,
}

impl std::fmt::Debug for UserStores<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStores").finish_non_exhaustive()
    }
}

/// Applies `change` to `user`. `actor` is the admin making it (`None` for the CLI): admins can
/// not disable themselves or take their own admin rights. A disable or a password reset ends
/// every session of the user and revokes their grants; taking admin rights away ends the
/// sessions (console sessions included). Whether anything changed.
pub async fn change(
    stores: UserStores<'_>,
    actor: Option<&Subject>,
    user: &UserRecord,
    change: UserChange,
    now: DateTime<Utc>,
) -> Result<bool, UserOpError> {
    let own = actor == Some(&user.id);
    let (written, ends_sessions, revokes_grants) = match &change {
        UserChange::Enabled(_) | UserChange::Admin(_) if own => {
            return Err(UserOpError::OwnAccount);
        }
        UserChange::Enabled(enabled) if *enabled == user.enabled => return Ok(false),
        UserChange::Admin(admin) if *admin == user.is_admin => return Ok(false),
        UserChange::MfaRequired(required) if *required == user.mfa_required => return Ok(false),
        UserChange::MfaRequired(required) => (
            stores
                .users
                .set_user_mfa_required(&user.id, *required, now)
                .await?,
            false,
            false,
        ),
        UserChange::RemoveSecondFactor => {
            let app = stores.factors.remove_totp(&user.id).await?;
            let passkeys = stores.factors.remove_all_passkeys(&user.id).await?;
            return Ok(app || passkeys > 0);
        }
        UserChange::Enabled(enabled) => (
            stores
                .users
                .set_user_enabled(&user.id, *enabled, now)
                .await?,
            !enabled,
            !enabled,
        ),
        UserChange::Admin(admin) => (
            stores.users.set_user_admin(&user.id, *admin, now).await?,
            !admin,
            false,
        ),
        UserChange::Password(password) => {
            let password_hash = hash(password.clone()).await?;
            (
                stores
                    .users
                    .set_password_hash(&user.id, &password_hash, now)
                    .await?,
                true,
                true,
            )
        }
    };
    if !written {
        return Err(UserOpError::NotFound(user.id.to_string()));
    }
    if ends_sessions {
        stores
            .sessions
            .end_user_sessions(&user.id, None, now)
            .await?;
    }
    if revokes_grants {
        let reason = change.audit_kind();
        stores
            .grants
            .revoke_user_grants(&user.id, None, reason.as_str(), now)
            .await?;
    }
    Ok(true)
}

/// Deletes `user` and everything of theirs (`UserRepo::delete_user`): their sessions end, their
/// grants and refresh tokens go, and their access tokens are inactive at introspection and
/// `/userinfo` from now on. `actor` is the admin doing it (`None` for the CLI): an admin can not
/// delete themselves, and nobody can delete the last enabled admin.
pub async fn delete(
    repo: &dyn UserRepo,
    actor: Option<&Subject>,
    user: &UserRecord,
) -> Result<(), UserOpError> {
    if actor == Some(&user.id) {
        return Err(UserOpError::OwnAccount);
    }
    if user.is_admin && user.enabled && repo.count_admins().await? <= 1 {
        return Err(UserOpError::LastAdmin);
    }
    if !repo.delete_user(&user.id).await? {
        return Err(UserOpError::NotFound(user.id.to_string()));
    }
    Ok(())
}
