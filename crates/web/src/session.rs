//! Browser sessions: the cookie holds a random 256-bit id and the database row is keyed by its
//! SHA-256. Two cookies exist: `tessera_session` (SameSite=Lax, so it survives the redirect back
//! from a relying party) for the sign-in and authorization flow, and `tessera_admin`
//! (SameSite=Strict, Path=/admin) for the admin console, issued only to admins at sign-in.

use std::sync::Arc;

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::header,
};
use chrono::Duration;
use tessera_core::{
    Clock,
    secret::{PlainToken, SecretKind, TokenHash},
    store::{BrowserSessionRecord, SessionRepo, StoreError, UserRecord, UserRepo},
};

/// The end-user session cookie.
pub const SESSION_COOKIE: &str = "tessera_session";
/// The admin console session cookie.
pub const ADMIN_COOKIE: &str = "tessera_admin";
/// Path of the admin cookie.
pub const ADMIN_PATH: &str = "/admin";

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
    // The peer address: forwarded headers are not trusted (they are set by anyone).
    req.peer_addr().map(|addr| addr.ip().to_string())
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(400).collect())
}

impl Sessions {
    /// Starts a new session for `user` (a fresh id: sign-in always rotates the session id) and
    /// returns the cookie to set.
    pub async fn start(
        &self,
        req: &HttpRequest,
        user: &UserRecord,
        policy: SessionPolicy,
        cookie_name: &'static str,
    ) -> Result<Cookie<'static>, StoreError> {
        let now = self.clock.now();
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
            })
            .await?;
        let (path, same_site) = if cookie_name == ADMIN_COOKIE {
            (ADMIN_PATH, SameSite::Strict)
        } else {
            ("/", SameSite::Lax)
        };
        Ok(Cookie::build(cookie_name, id.expose().to_owned())
            .path(path)
            .http_only(true)
            .same_site(same_site)
            .secure(self.secure_cookies)
            .max_age(CookieDuration::seconds(policy.absolute.num_seconds()))
            .finish())
    }

    /// The signed-in user behind `cookie_name`, if the session is active and the user enabled.
    pub async fn current(
        &self,
        req: &HttpRequest,
        cookie_name: &str,
        policy: SessionPolicy,
    ) -> Result<Option<SignedIn>, StoreError> {
        let Some(cookie) = req.cookie(cookie_name) else {
            return Ok(None);
        };
        let hash = TokenHash::of(cookie.value());
        let Some(session) = self.sessions.find_session(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if !session.is_active(now) {
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
            let idle = (now + policy.idle).min(session.absolute_expires_at);
            self.sessions.touch_session(&hash, now, idle).await?;
        }
        Ok(Some(SignedIn { session, user }))
    }

    /// Ends the session behind `cookie_name` (if any) and returns a cookie that removes it.
    pub async fn end(
        &self,
        req: &HttpRequest,
        cookie_name: &'static str,
    ) -> Result<Cookie<'static>, StoreError> {
        if let Some(cookie) = req.cookie(cookie_name) {
            self.sessions
                .end_session(&TokenHash::of(cookie.value()), self.clock.now())
                .await?;
        }
        let path = if cookie_name == ADMIN_COOKIE {
            ADMIN_PATH
        } else {
            "/"
        };
        let mut removal = Cookie::build(cookie_name, "")
            .path(path)
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
