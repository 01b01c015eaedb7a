//! The two RFC error channels. [`AuthorizeError`] travels back to the client in the redirect
//! (RFC 6749 §4.1.2.1); [`TokenError`] is the JSON body of token-type endpoints (RFC 6749 §5.2).
//! Each carries a human `description` (sent as `error_description`, never internals) and a
//! `reason` that only goes to logs.

use std::fmt;

/// Error codes of the authorization endpoint (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeErrorCode {
    /// "The request is missing a required parameter, includes an invalid parameter value,
    /// includes a parameter more than once, or is otherwise malformed."
    InvalidRequest,
    /// "The client is not authorized to request an authorization code using this method."
    UnauthorizedClient,
    /// "The resource owner or authorization server denied the request."
    AccessDenied,
    /// "The authorization server does not support obtaining an authorization code using this method."
    UnsupportedResponseType,
    /// "The requested scope is invalid, unknown, or malformed."
    InvalidScope,
    /// "The authorization server encountered an unexpected condition that prevented it from
    /// fulfilling the request."
    ServerError,
    /// "The authorization server is currently unable to handle the request due to a temporary
    /// overloading or maintenance of the server."
    TemporarilyUnavailable,
    /// OIDC: "The Authorization Server requires End-User interaction of some form to proceed."
    InteractionRequired,
    /// OIDC: "The Authorization Server requires End-User authentication."
    LoginRequired,
    /// OIDC: "The Authorization Server requires End-User consent."
    ConsentRequired,
    /// OIDC Core §3.1.2.6: "The OP does not support use of the request parameter."
    RequestNotSupported,
    /// OIDC Core §3.1.2.6: "The OP does not support use of the request_uri parameter."
    RequestUriNotSupported,
    /// RFC 8707 §2: "The requested resource is invalid, missing, unknown, or malformed."
    InvalidTarget,
}

impl AuthorizeErrorCode {
    /// The wire value of `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InteractionRequired => "interaction_required",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidTarget => "invalid_target",
        }
    }
}

/// An error answered through the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeError {
    /// The RFC code.
    pub code: AuthorizeErrorCode,
    /// Sent as `error_description`: for the client developer, no internals.
    pub description: String,
    /// For logs only.
    pub reason: String,
}

impl AuthorizeError {
    /// An error with a public description; the reason defaults to it.
    pub fn new(code: AuthorizeErrorCode, description: impl Into<String>) -> Self {
        let description = sanitize_description(&description.into());
        Self {
            code,
            reason: description.clone(),
            description,
        }
    }

    /// Adds a reason for the logs.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }
}

impl fmt::Display for AuthorizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.reason)
    }
}

impl std::error::Error for AuthorizeError {}

/// Error codes of token-type endpoints (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorCode {
    /// "The request is missing a required parameter, includes an unsupported parameter value
    /// (other than grant type), repeats a parameter, includes multiple credentials, utilizes more
    /// than one mechanism for authenticating the client, or is otherwise malformed."
    InvalidRequest,
    /// "Client authentication failed (e.g., unknown client, no client authentication included,
    /// or unsupported authentication method)." Answered with 401.
    InvalidClient,
    /// "The provided authorization grant or refresh token is invalid, expired, revoked, does not
    /// match the redirection URI used in the authorization request, or was issued to another client."
    InvalidGrant,
    /// "The authenticated client is not authorized to use this authorization grant type."
    UnauthorizedClient,
    /// "The authorization grant type is not supported by the authorization server."
    UnsupportedGrantType,
    /// "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the
    /// resource owner."
    InvalidScope,
    /// RFC 6750 §3.1: "The access token provided is expired, revoked, malformed, or invalid for
    /// other reasons." Answered with 401.
    InvalidToken,
    /// RFC 7009 §2.2.1: "The authorization server does not support the revocation of the
    /// presented token type."
    UnsupportedTokenType,
    /// An unexpected failure; answered with 500 and a generic description.
    ServerError,
    /// The server can not answer now (e.g. the database is down); answered with 503.
    TemporarilyUnavailable,
    /// RFC 8628 §3.5: "The authorization request is still pending as the end user hasn't yet
    /// completed the user-interaction steps."
    AuthorizationPending,
    /// RFC 8628 §3.5: still pending, and the client polled too fast: "the interval MUST be
    /// increased by 5 seconds for this and all subsequent requests."
    SlowDown,
    /// RFC 8628 §3.5: "The authorization request was denied."
    AccessDenied,
    /// RFC 8628 §3.5: "The \"device_code\" has expired."
    ExpiredToken,
    /// RFC 8707 §2: "The requested resource is invalid, missing, unknown, or malformed."
    InvalidTarget,
    /// RFC 9449 §5: "The DPoP proof JWT is invalid."
    InvalidDpopProof,
    /// RFC 9449 §8: the proof must carry the server's nonce (sent in `DPoP-Nonce`).
    UseDpopNonce,
}

impl TokenErrorCode {
    /// The wire value of `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidToken => "invalid_token",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status RFC 6749 §5.2 / RFC 6750 §3.1 prescribe.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An error answered as a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// The RFC code.
    pub code: TokenErrorCode,
    /// Sent as `error_description`: for the client developer, no internals.
    pub description: String,
    /// For logs only.
    pub reason: String,
}

impl TokenError {
    /// An error with a public description; the reason defaults to it.
    pub fn new(code: TokenErrorCode, description: impl Into<String>) -> Self {
        let description = sanitize_description(&description.into());
        Self {
            code,
            reason: description.clone(),
            description,
        }
    }

    /// Adds a reason for the logs.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.reason)
    }
}

impl std::error::Error for TokenError {}

/// `error_description` may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2): anything else
/// (CR/LF, quotes, backslashes, non-ASCII) is replaced so it can not split headers or JSON.
pub fn sanitize_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            _ => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_can_not_carry_control_or_quote_characters() {
        let error = TokenError::new(
            TokenErrorCode::InvalidRequest,
            "bad\r\nSet-Cookie: \"x\"\\é",
        );
        assert_eq!(error.description, "bad  Set-Cookie:  x   ");
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(TokenErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(TokenErrorCode::InvalidGrant.http_status(), 400);
        assert_eq!(TokenErrorCode::InvalidToken.http_status(), 401);
    }
}
