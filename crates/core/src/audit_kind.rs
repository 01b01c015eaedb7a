//! What the audit log records: one enum of event kinds, so each is findable with one grep and
//! the console can offer them as a filter. Stored as the dotted string ([`AuditKind::as_str`]).

/// The kind of an audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// `client.auth_failed`.
    ClientAuthFailed,
    /// `client.created`.
    ClientCreated,
    /// `client.deleted`.
    ClientDeleted,
    /// `client.registered`.
    ClientRegistered,
    /// `client.secret_rotated`.
    ClientSecretRotated,
    /// `client.updated`.
    ClientUpdated,
    /// `code.replayed`.
    CodeReplayed,
    /// `code.wrong_client`.
    CodeWrongClient,
    /// `consent.denied`.
    ConsentDenied,
    /// `consent.given`.
    ConsentGiven,
    /// `consent.revoked`.
    ConsentRevoked,
    /// `grant.revoked`.
    GrantRevoked,
    /// `jwt_bearer.refused`.
    JwtBearerRefused,
    /// `key.rotated`.
    KeyRotated,
    /// `login.failed`.
    LoginFailed,
    /// `login.lock_cleared`.
    LoginLockCleared,
    /// `login.network_changed`.
    LoginNetworkChanged,
    /// `login.new_device`.
    LoginNewDevice,
    /// `login.succeeded`.
    LoginSucceeded,
    /// `login.throttled`.
    LoginThrottled,
    /// `logout`.
    Logout,
    /// `refresh_token.burst`.
    RefreshTokenBurst,
    /// `refresh_token.grace_retry`.
    RefreshTokenGraceRetry,
    /// `refresh_token.reused`.
    RefreshTokenReused,
    /// `registration_token.created`.
    RegistrationTokenCreated,
    /// `registration_token.revoked`.
    RegistrationTokenRevoked,
    /// `resource_server.deleted`.
    ResourceServerDeleted,
    /// `passkey.added`.
    PasskeyAdded,
    /// `passkey.removed`.
    PasskeyRemoved,
    /// `resource_server.saved`.
    ResourceServerSaved,
    /// `scope.deleted`.
    ScopeDeleted,
    /// `scope.saved`.
    ScopeSaved,
    /// `second_factor.added`.
    SecondFactorAdded,
    /// `second_factor.recovery_renewed`.
    SecondFactorRecoveryRenewed,
    /// `second_factor.recovery_used`.
    SecondFactorRecoveryUsed,
    /// `second_factor.removed`.
    SecondFactorRemoved,
    /// `session.revoked`.
    SessionRevoked,
    /// `token.revocation_refused`.
    TokenRevocationRefused,
    /// `token.revoked`.
    TokenRevoked,
    /// `trusted_issuer.created`.
    TrustedIssuerCreated,
    /// `trusted_issuer.deleted`.
    TrustedIssuerDeleted,
    /// `trusted_issuer.disabled`.
    TrustedIssuerDisabled,
    /// `trusted_issuer.enabled`.
    TrustedIssuerEnabled,
    /// `user.admin_changed`.
    UserAdminChanged,
    /// `user.created`.
    UserCreated,
    /// `user.deleted`.
    UserDeleted,
    /// `user.email_verified`.
    UserEmailVerified,
    /// `user.enabled_changed`.
    UserEnabledChanged,
    /// `user.mfa_required_changed`.
    UserMfaRequiredChanged,
    /// `user.password_changed`.
    UserPasswordChanged,
    /// `user.password_reset`.
    UserPasswordReset,
    /// `user.registered`.
    UserRegistered,
    /// `user.updated` (name or email changed by an admin).
    UserUpdated,
}

impl AuditKind {
    /// Every kind, sorted by name.
    pub const ALL: [AuditKind; 53] = [
        Self::ClientAuthFailed,
        Self::ClientCreated,
        Self::ClientDeleted,
        Self::ClientRegistered,
        Self::ClientSecretRotated,
        Self::ClientUpdated,
        Self::CodeReplayed,
        Self::CodeWrongClient,
        Self::ConsentDenied,
        Self::ConsentGiven,
        Self::ConsentRevoked,
        Self::GrantRevoked,
        Self::JwtBearerRefused,
        Self::KeyRotated,
        Self::LoginFailed,
        Self::LoginLockCleared,
        Self::LoginNetworkChanged,
        Self::LoginNewDevice,
        Self::LoginSucceeded,
        Self::LoginThrottled,
        Self::Logout,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::RefreshTokenBurst,
        Self::RefreshTokenGraceRetry,
        Self::RefreshTokenReused,
        Self::RegistrationTokenCreated,
        Self::RegistrationTokenRevoked,
        Self::ResourceServerDeleted,
        Self::ResourceServerSaved,
        Self::ScopeDeleted,
        Self::ScopeSaved,
        Self::SecondFactorAdded,
        Self::SecondFactorRecoveryRenewed,
        Self::SecondFactorRecoveryUsed,
        Self::SecondFactorRemoved,
        Self::SessionRevoked,
        Self::TokenRevocationRefused,
        Self::TokenRevoked,
        Self::TrustedIssuerCreated,
        Self::TrustedIssuerDeleted,
        Self::TrustedIssuerDisabled,
        Self::TrustedIssuerEnabled,
        Self::UserAdminChanged,
        Self::UserCreated,
        Self::UserDeleted,
        Self::UserEmailVerified,
        Self::UserEnabledChanged,
        Self::UserMfaRequiredChanged,
        Self::UserPasswordChanged,
        Self::UserPasswordReset,
        Self::UserRegistered,
        Self::UserUpdated,
    ];

    /// The stored, dotted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientAuthFailed => "client.auth_failed",
            Self::ClientCreated => "client.created",
            Self::ClientDeleted => "client.deleted",
            Self::ClientRegistered => "client.registered",
            Self::ClientSecretRotated => "client.secret_rotated",
            Self::ClientUpdated => "client.updated",
            Self::CodeReplayed => "code.replayed",
            Self::CodeWrongClient => "code.wrong_client",
            Self::ConsentDenied => "consent.denied",
            Self::ConsentGiven => "consent.given",
            Self::ConsentRevoked => "consent.revoked",
            Self::GrantRevoked => "grant.revoked",
            Self::JwtBearerRefused => "jwt_bearer.refused",
            Self::KeyRotated => "key.rotated",
            Self::LoginFailed => "login.failed",
            Self::LoginLockCleared => "login.lock_cleared",
            Self::LoginNetworkChanged => "login.network_changed",
            Self::LoginNewDevice => "login.new_device",
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginThrottled => "login.throttled",
            Self::Logout => "logout",
            Self::RefreshTokenBurst => "refresh_token.burst",
            Self::RefreshTokenGraceRetry => "refresh_token.grace_retry",
            Self::RefreshTokenReused => "refresh_token.reused",
            Self::RegistrationTokenCreated => "registration_token.created",
            Self::RegistrationTokenRevoked => "registration_token.revoked",
            Self::ResourceServerDeleted => "resource_server.deleted",
            Self::ResourceServerSaved => "resource_server.saved",
            Self::ScopeDeleted => "scope.deleted",
            Self::ScopeSaved => "scope.saved",
            Self::PasskeyAdded => "passkey.added",
            Self::PasskeyRemoved => "passkey.removed",
            Self::SecondFactorAdded => "second_factor.added",
            Self::SecondFactorRecoveryRenewed => "second_factor.recovery_renewed",
            Self::SecondFactorRecoveryUsed => "second_factor.recovery_used",
            Self::SecondFactorRemoved => "second_factor.removed",
            Self::SessionRevoked => "session.revoked",
            Self::TokenRevocationRefused => "token.revocation_refused",
            Self::TokenRevoked => "token.revoked",
            Self::TrustedIssuerCreated => "trusted_issuer.created",
            Self::TrustedIssuerDeleted => "trusted_issuer.deleted",
            Self::TrustedIssuerDisabled => "trusted_issuer.disabled",
            Self::TrustedIssuerEnabled => "trusted_issuer.enabled",
            Self::UserAdminChanged => "user.admin_changed",
            Self::UserCreated => "user.created",
            Self::UserDeleted => "user.deleted",
            Self::UserEmailVerified => "user.email_verified",
            Self::UserEnabledChanged => "user.enabled_changed",
            Self::UserMfaRequiredChanged => "user.mfa_required_changed",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserPasswordReset => "user.password_reset",
            Self::UserRegistered => "user.registered",
            Self::UserUpdated => "user.updated",
        }
    }

    /// The kind a stored name stands for (`None` for a name this build does not write).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_sorted_and_parse_back() {
        let names: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AuditKind::parse("client.exploded"), None);
    }
}
