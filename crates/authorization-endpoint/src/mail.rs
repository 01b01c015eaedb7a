//! Email over SMTP (`TESSERA_SMTP_URL`), for the messages a user must receive — the links of a
//! password reset and of an address's verification ([`EmailState::send_link`]: hashed, single-use,
//! 30 minutes, at most one a minute per user and purpose) and the sign-in signals. Sent off the request (a task of its own), so an answer takes as long whether or not a
//! message went out; a failure is logged with the recipient's domain only.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use tessera_core::{
    secret::{PlainToken, SecretKind},
    store::{EmailLinkPurpose, EmailLinkRecord, EmailLinkRepo, GrantAdminRepo, StoreError},
};

/// How long an emailed link works.
pub const LINK_TTL: Duration = Duration::minutes(30);
/// A link asked for this recently is not sent again (no mailbox can be flooded): a minute, and an
/// hour for unlock links (which anyone guessing at an account causes).
pub fn resend_after(purpose: EmailLinkPurpose) -> Duration {
    match purpose {
        EmailLinkPurpose::Unlock => Duration::hours(1),
        _ => Duration::seconds(60),
    }
}

/// What the pages that send and take emailed links need.
#[derive(Clone)]
pub struct EmailState {
    /// The mailer (`None`: email is off).
    pub mailer: Option<Arc<Mailer>>,
    /// The links.
    pub links: Arc<dyn EmailLinkRepo>,
    /// Grants (revoked by a password reset).
    pub grants: Arc<dyn GrantAdminRepo>,
    /// The issuer, for the links.
    pub issuer: String,
}

impl std::fmt::Debug for EmailState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailState")
            .field("email", &self.mailer.is_some())
            .finish_non_exhaustive()
    }
}

/// A link to send: whose, what for, to which address, and how the message reads (given the
/// link's URL).
#[derive(Debug)]
pub struct Link<'a> {
    /// Whose.
    pub user: &'a tessera_core::Subject,
    /// What for.
    pub purpose: EmailLinkPurpose,
    /// The address it goes to (and, for a verification, the one it verifies).
    pub to: &'a str,
    /// The page it opens (`/password/reset`, `/email/verify`).
    pub path: &'a str,
    /// The subject line.
    pub subject: &'a str,
}

impl EmailState {
    /// Stores a fresh link for `link` and mails it, with the body `body` makes from the URL —
    /// unless one of the same purpose went out less than [`resend_after`] ago. Whether one went.
    pub async fn send_link(
        &self,
        link: &Link<'_>,
        now: DateTime<Utc>,
        body: impl FnOnce(&str) -> Option<String>,
    ) -> Result<bool, StoreError> {
        let Some(mailer) = self.mailer.as_ref() else {
            return Ok(false);
        };
        let window = resend_after(link.purpose);
        let recent = self
            .links
            .latest_email_link(link.user, link.purpose)
            .await?;
        if recent.is_some_and(|asked| now - asked < window) {
            return Ok(false);
        }
        let token = PlainToken::generate(SecretKind::EmailLink);
        let verifies = link.purpose == EmailLinkPurpose::VerifyEmail;
        let record = EmailLinkRecord {
            token_hash: token.hash(),
            user_id: link.user.clone(),
            purpose: link.purpose,
            email: verifies.then(|| link.to.to_owned()),
            created_at: now,
            expires_at: now + LINK_TTL,
        };
        // Of two requests racing past the check above, one stores its link and mails it.
        if !self.links.create_email_link(&record, now - window).await? {
            return Ok(false);
        }
        let url = format!("{}{}?token={}", self.issuer, link.path, token.expose());
        let Some(body) = body(&url) else {
            return Ok(false);
        };
        mailer.send(link.to, link.subject, body);
        Ok(true)
    }
}

/// After `user` used an emailed link: the account's sign-in throttle counters cleared (the
/// per-address one stays) and the use audited as `kind`, `by: email link`.
pub(crate) async fn link_used(
    state: &crate::login::LoginState,
    req: &actix_web::HttpRequest,
    user: &tessera_core::store::UserRecord,
    kind: tessera_core::AuditKind,
) -> Result<(), StoreError> {
    let address = tessera_web::client_address::ClientAddress::of(req).to_string();
    state.throttle.succeeded(&user.username, &address).await?;
    let audit = tessera_web::audit::Audit {
        actor: Some(user.id.to_string()),
        user_id: Some(user.id.as_str()),
        details: Some(serde_json::json!({ "by": "email link" })),
        ..tessera_web::audit::Audit::new(kind)
    };
    let now = state.clock.now();
    tessera_web::audit::record(state.audit.as_ref(), req, now, audit).await;
    Ok(())
}

/// `?token=` of a page a link opens.
#[derive(Debug, serde::Deserialize)]
pub struct TokenQuery {
    /// The link's token.
    pub token: Option<String>,
}

/// The form of a page a link opens: its button posts the token back.
#[derive(Debug, serde::Deserialize)]
pub struct TokenForm {
    /// The CSRF token.
    pub csrf_token: Option<String>,
    /// The link's token.
    #[serde(default)]
    pub token: String,
}

/// The token of a link as it arrives in `?token=` (bounded: a token is 48 characters).
pub(crate) fn token_of(query: Option<&str>) -> String {
    query.unwrap_or_default().chars().take(100).collect()
}

impl EmailState {
    /// Whether the link with `token` is live and unused for `purpose` at `now`.
    pub(crate) async fn is_live(
        &self,
        token: &str,
        purpose: EmailLinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let hash = tessera_core::secret::TokenHash::of(token);
        self.links.email_link_is_live(&hash, purpose, now).await
    }
}

/// A page a link opens: `410 Gone` when the link is not live, `status` otherwise; never cached
/// (it holds the token).
pub(crate) fn link_page(
    live: bool,
    status: actix_web::http::StatusCode,
    rendered: askama::Result<String>,
) -> actix_web::HttpResponse {
    use actix_web::http::{StatusCode, header};
    let status = if live { status } else { StatusCode::GONE };
    let mut response = tessera_web::html_page(status, rendered);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// A configured SMTP transport and sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Why a mailer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The URL is not an SMTP URL lettre understands.
    #[error("TESSERA_SMTP_URL: {0}")]
    Url(String),
    /// The sender is not an address.
    #[error("TESSERA_SMTP_FROM: {0}")]
    From(String),
}

impl Mailer {
    /// A mailer for `url` (`smtp://`, `smtps://`, with `?tls=required` for STARTTLS) sending as
    /// `from`.
    pub fn new(url: &str, from: &str) -> Result<Self, MailerError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|err| MailerError::Url(err.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from = from
            .parse()
            .map_err(|err: lettre::address::AddressError| MailerError::From(err.to_string()))?;
        Ok(Self { transport, from })
    }

    /// Sends a plain-text message to `to` in the background.
    pub fn send(self: &std::sync::Arc<Self>, to: &str, subject: &str, body: String) {
        let domain = to.rsplit('@').next().unwrap_or_default().to_owned();
        let message = to.parse::<Mailbox>().ok().and_then(|to| {
            Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(subject)
                .header(ContentType::TEXT_PLAIN)
                .body(body)
                .ok()
        });
        let Some(message) = message else {
            tracing::warn!(domain, "mail: not a deliverable address");
            return;
        };
        let mailer = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            if let Err(err) = mailer.transport.send(message).await {
                tracing::warn!(domain, error = %err, "mail: not sent");
            }
        });
    }
}
