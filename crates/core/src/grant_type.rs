//! The OAuth protocol's grant types and response types, one enum each for every crate: the
//! endpoints dispatch on them, the client model checks registrations against them, discovery
//! lists them.

/// The grant types of RFC 6749 §4, RFC 7523 §2.1 and RFC 8628 §3.4 that Tessera implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// RFC 6749 §4.1.3 (with RFC 7636 PKCE).
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 7523 §2.1.
    JwtBearer,
    /// RFC 8628 §3.4: a device polls for the tokens a user allowed on another screen.
    DeviceCode,
}

impl GrantType {
    /// Every grant type, in the order discovery lists them.
    pub const ALL: [GrantType; 5] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::JwtBearer,
        Self::DeviceCode,
    ];

    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// Parses a `grant_type` value (exact, case-sensitive).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == value)
    }

    /// Whether `value` names this grant type (for values as sent, before they are parsed).
    pub fn is(self, value: &str) -> bool {
        self.as_str() == value
    }
}

/// The response types of RFC 6749 §3.1.1 that Tessera issues: the code flow only (no implicit
/// or hybrid flows, RFC 9700 §2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseType {
    /// `code` (RFC 6749 §4.1.1).
    Code,
}

impl ResponseType {
    /// Every response type.
    pub const ALL: [ResponseType; 1] = [Self::Code];

    /// The `response_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
        }
    }

    /// Parses a `response_type` value (exact, case-sensitive).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// Whether `value` names this response type.
    pub fn is(self, value: &str) -> bool {
        self.as_str() == value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_type_parses_back_and_nothing_else_does() {
        for grant in GrantType::ALL {
            assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
            assert!(grant.is(grant.as_str()));
        }
        for other in [
            "",
            "password",
            "implicit",
            "Authorization_Code",
            "refresh_token ",
        ] {
            assert_eq!(GrantType::parse(other), None, "{other:?}");
        }
    }
}
