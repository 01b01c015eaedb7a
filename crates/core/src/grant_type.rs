//! The OAuth protocol's grant types, one enum for every crate: the token endpoint dispatches on
//! it, the client model checks registrations against it, discovery lists it.

/// The grant types of RFC 6749 §4 and RFC 7523 §2.1 that Tessera implements.
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
}

impl GrantType {
    /// Every grant type, in the order discovery lists them.
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::JwtBearer,
    ];

    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
        }
    }

    /// Parses a `grant_type` value (exact, case-sensitive).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == value)
    }

    /// Whether `value` names this grant type (for the string lists clients are stored with).
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
