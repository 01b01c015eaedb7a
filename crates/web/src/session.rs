//! Browser sessions: the cookie holds a random 256-bit id and the database row is keyed by its
//! SHA-256. Two kinds exist, each with its own cookie and recorded on the row: the user session
//! (SameSite=Lax, so it survives the redirect back from a relying party) for sign-in, the
//! authorization flow and the account pages, and the admin session (SameSite=Strict, shorter
//! lifetimes) for the console, issued only to admins at sign-in. A cookie accepts only a session
//! of its own kind. With an https issuer the cookies carry the `__Host-` prefix (Secure, Path=/,
//! no Domain), so no sibling subdomain can set or shadow them.

use std::sync::Arc;

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::header,
};
use chrono::Duration;
use tessera_core::{
    Clock,
    amr::Amr,
    secret::{PlainToken, SecretKind, TokenHash},
    store::{BrowserSessionRecord, SessionKind, SessionRepo, StoreError, UserRecord, UserRepo},
};

use crate::client_address::ClientAddress;

/// The end-user session cookie (over http).
pub const SESSION_COOKIE: &str = "tessera_session";
/// The admin console session cookie (over http).
pub const ADMIN_COOKIE: &str = "tessera_admin";
/// The end-user session cookie with an https issuer.
pub const SECURE_SESSION_COOKIE: &str = "__Host-tessera_session";
/// The admin console session cookie with an https issuer.
pub const SECURE_ADMIN_COOKIE: &str = "__Host-tessera_admin";
/// The console's path prefix.
pub const ADMIN_PATH: &str = "/admin";
/// How recent a sign-in must be for sensitive admin actions.
pub const RECENT_SIGN_IN: Duration = Duration::minutes(5);

/// Lifetimes of one kind of session.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Ends after this much inactivity.
    pub idle: Duration,
    /// Ends this long after sign-in regardless.
    pub absolute: Duration,
}

/// End-user sessions: 12 h idle, 7 days absolute.
pub const USER_SESSIONS: SessionPolicy = SessionPolicy {
    idle: Duration::hours(12),
    absolute: Duration::days(7),
};
/// Admin sessions: 30 min idle, 8 h absolute.
pub const ADMIN_SESSIONS: SessionPolicy = SessionPolicy {
    idle: Duration::minutes(30),
    absolute: Duration::hours(8),
};
/// The session cookie's name for `kind`.
pub fn cookie_name(kind: SessionKind, secure: bool) -> &'static str {
    match (kind, secure) {
        (SessionKind::User, false) => SESSION_COOKIE,
        (SessionKind::User, true) => SECURE_SESSION_COOKIE,
        (SessionKind::Admin, false) => ADMIN_COOKIE,
        (SessionKind::Admin, true) => SECURE_ADMIN_COOKIE,
    }
}

/// The lifetimes of `kind`.
pub fn policy(kind: SessionKind) -> SessionPolicy {
    match kind {
        SessionKind::User => USER_SESSIONS,
        SessionKind::Admin => ADMIN_SESSIONS,
    }
}

/// Activity is written back at most this often per session (not on every request).
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// What the session layer needs.
#[derive(Clone)]
pub struct Sessions {
    /// Session rows.
    pub sessions: Arc<dyn SessionRepo>,
    /// Users.
    pub users: Arc<dyn UserRepo>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Mark cookies `Secure` (https issuer).
    pub secure_cookies: bool,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: BrowserSessionRecord,
    /// The user.
    pub user: UserRecord,
}

fn client_ip(req: &HttpRequest) -> Option<String> {
    // The peer, or the address a listed proxy forwarded (see crate::client_address).
    Some(ClientAddress::of(req).to_string()).filter(|ip| !ip.is_empty())
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(400).collect())
}

impl Sessions {
    /// The name of `kind`'s cookie here.
    pub fn cookie_name(&self, kind: SessionKind) -> &'static str {
        cookie_name(kind, self.secure_cookies)
    }

    /// The value of `kind`'s cookie in `req`, if it has one.
    pub fn cookie_value(&self, req: &HttpRequest, kind: SessionKind) -> Option<String> {
        req.cookie(self.cookie_name(kind))
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Starts a new `kind` session for `user`, who signed in with `amr` (a fresh id: sign-in
    /// always rotates the session id), and returns the cookie to set.
    pub async fn start(
        &self,
        req: &HttpRequest,
        user: &UserRecord,
        kind: SessionKind,
        amr: &Amr,
    ) -> Result<Cookie<'static>, StoreError> {
        let now = self.clock.now();
        let policy = policy(kind);
        let id = PlainToken::generate(SecretKind::Session);
        self.sessions
            .create_session(&BrowserSessionRecord {
                id_hash: id.hash(),
                user_id: user.id.clone(),
                auth_time: now,
                created_at: now,
                last_seen_at: now,
                idle_expires_at: now + policy.idle,
                absolute_expires_at: now + policy.absolute,
                user_agent: user_agent(req),
                ip: client_ip(req),
                ended_at: None,
                kind,
                amr: amr.clone(),
            })
            .await?;
        let same_site = match kind {
            SessionKind::User => SameSite::Lax,
            SessionKind::Admin => SameSite::Strict,
        };
        Ok(
            Cookie::build(self.cookie_name(kind), id.expose().to_owned())
                .path("/")
                .http_only(true)
                .same_site(same_site)
                .secure(self.secure_cookies)
                .max_age(CookieDuration::seconds(policy.absolute.num_seconds()))
                .finish(),
        )
    }

    /// The signed-in user behind `kind`'s cookie, if the session is active, of that kind, and
    /// the user enabled.
    pub async fn current(
        &self,
        req: &HttpRequest,
        kind: SessionKind,
    ) -> Result<Option<SignedIn>, StoreError> {
        let Some(value) = self.cookie_value(req, kind) else {
            return Ok(None);
        };
        let hash = TokenHash::of(&value);
        let Some(session) = self.sessions.find_session(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if !session.is_active(now) || session.kind != kind {
            return Ok(None);
        }
        let Some(user) = self
            .users
            .find_user(&session.user_id)
            .await?
            .filter(|u| u.enabled)
        else {
            return Ok(None);
        };
        if now - session.last_seen_at >= TOUCH_EVERY {
            let idle = (now + policy(kind).idle).min(session.absolute_expires_at);
            self.sessions.touch_session(&hash, now, idle).await?;
        }
        Ok(Some(SignedIn { session, user }))
    }

    /// Ends the session behind `kind`'s cookie (if any) and returns a cookie that removes it.
    pub async fn end(
        &self,
        req: &HttpRequest,
        kind: SessionKind,
    ) -> Result<Cookie<'static>, StoreError> {
        if let Some(value) = self.cookie_value(req, kind) {
            self.sessions
                .end_session(&TokenHash::of(&value), self.clock.now())
                .await?;
        }
        let mut removal = Cookie::build(self.cookie_name(kind), "")
            .path("/")
            .http_only(true)
            .secure(self.secure_cookies)
            .finish();
        removal.make_removal();
        Ok(removal)
    }
}

/// Whether `target` is a local path safe to redirect to after sign-in: starts with one `/`, no
/// scheme or authority (`//host`, `/\host`), no control characters.
pub fn is_local_path(target: &str) -> bool {
    target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/\\")
        && !target.chars().any(|c| c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_return_targets() {
        for ok in ["/", "/admin", "/admin/clients?q=x", "/account#top"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "admin",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/x\r\nSet-Cookie: a",
            "/a\\b",
            "javascript:alert(1)",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
