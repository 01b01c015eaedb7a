//! Email over SMTP (`TESSERA_SMTP_URL`), for the messages a user must receive (the password-reset
//! link). Sent off the request (a task of its own), so an answer takes as long whether or not a
//! message went out; a failure is logged with the recipient's domain only.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

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
