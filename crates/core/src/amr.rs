//! How a user signed in: the authentication methods (RFC 8176) a session, a code and a grant
//! record, and the authentication context class (`acr`, OIDC Core §2) they amount to.
//!
//! Two classes are offered (`acr_values_supported`): `pwd`, a password alone, and `mfa`, two
//! factors: a password and a one-time code, a password and a passkey, or a passkey alone — a
//! passkey is only accepted with user verification (the authenticator's PIN or biometric), so it
//! is something held and something known or been (ADR 0029). A request with `acr_values` naming
//! `mfa` makes a password-only sign-in of a user who has a second factor sign in again with it
//! (step-up).

/// The `acr` of a sign-in with a password alone.
pub const ACR_PASSWORD: &str = "pwd";
/// The `acr` of a sign-in with two factors.
pub const ACR_MFA: &str = "mfa";
/// The classes discovery lists, weakest first.
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// What kind of key a passkey is (RFC 8176 `hwk` / `swk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Bound to one device (the authenticator says it can not be backed up): `hwk`.
    Hardware,
    /// Synced between devices by a passkey provider: `swk`.
    Software,
}

/// The methods of one sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amr {
    /// A password was given.
    pub pwd: bool,
    /// A one-time code from an authenticator app (or a recovery code) was given.
    pub otp: bool,
    /// A passkey was used, with user verification.
    pub key: Option<KeyKind>,
}

impl Default for Amr {
    fn default() -> Self {
        Self::password()
    }
}

impl Amr {
    /// A password alone.
    pub fn password() -> Self {
        Self {
            pwd: true,
            otp: false,
            key: None,
        }
    }

    /// A password and a one-time code.
    pub fn password_and_otp() -> Self {
        Self {
            otp: true,
            ..Self::password()
        }
    }

    /// A password and a passkey.
    pub fn password_and_key(kind: KeyKind) -> Self {
        Self {
            key: Some(kind),
            ..Self::password()
        }
    }

    /// A passkey instead of a password.
    pub fn key(kind: KeyKind) -> Self {
        Self {
            pwd: false,
            otp: false,
            key: Some(kind),
        }
    }

    /// Whether two factors were given (a passkey counts as two: see the module docs).
    pub fn is_mfa(&self) -> bool {
        self.otp || self.key.is_some()
    }

    /// The `amr` claim (RFC 8176 values): `pwd`, `otp`, `hwk` or `swk` with `user` (the
    /// authenticator verified the user), and `mfa` when two factors were given.
    pub fn values(&self) -> Vec<&'static str> {
        let mut values = Vec::with_capacity(4);
        if self.pwd {
            values.push("pwd");
        }
        if self.otp {
            values.push("otp");
        }
        match self.key {
            Some(KeyKind::Hardware) => values.extend(["hwk", "user"]),
            Some(KeyKind::Software) => values.extend(["swk", "user"]),
            None => {}
        }
        if self.is_mfa() {
            values.push("mfa");
        }
        values
    }

    /// How the user signed in, in words for people (the console's lists): "password",
    /// "password + app code", "security key", "password + passkey", ….
    pub fn describe(&self) -> String {
        let mut parts = Vec::with_capacity(2);
        if self.pwd {
            parts.push("password");
        }
        if self.otp {
            parts.push("app code");
        }
        match self.key {
            Some(KeyKind::Hardware) => parts.push("security key"),
            Some(KeyKind::Software) => parts.push("passkey"),
            None => {}
        }
        if parts.is_empty() {
            return "unknown".into();
        }
        parts.join(" + ")
    }

    /// The `acr` claim.
    pub fn acr(&self) -> &'static str {
        if self.is_mfa() { ACR_MFA } else { ACR_PASSWORD }
    }

    /// The stored form (space-separated `amr` values).
    pub fn to_stored(&self) -> String {
        self.values().join(" ")
    }

    /// From the stored form; a row from before second factors existed (none) is a password.
    pub fn from_stored(stored: Option<&str>) -> Self {
        let Some(stored) = stored else {
            return Self::password();
        };
        let has = |value: &str| stored.split(' ').any(|v| v == value);
        Self {
            pwd: has("pwd"),
            otp: has("otp"),
            key: if has("hwk") {
                Some(KeyKind::Hardware)
            } else if has("swk") {
                Some(KeyKind::Software)
            } else {
                None
            },
        }
    }
}

/// Whether `acr_values` (space-separated, OIDC Core §3.1.2.1) asks for a second factor.
pub fn asks_for_mfa(acr_values: &str) -> bool {
    acr_values.split(' ').any(|v| v == ACR_MFA)
}

/// The server's second-factor policy (`TESSERA_MFA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MfaPolicy {
    /// Second factors are neither offered nor asked for.
    Off,
    /// Users may add one; whoever has one is asked for it at every sign-in.
    #[default]
    Optional,
    /// Every user must sign in with one; a user without one adds it at sign-in.
    Required,
}

impl MfaPolicy {
    /// From `off`, `optional` or `required`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Self::Off),
            "optional" => Some(Self::Optional),
            "required" => Some(Self::Required),
            _ => None,
        }
    }

    /// The configured name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

/// What a sign-in needs after the right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStep {
    /// Nothing: signed in with the password.
    None,
    /// The user's second factor: a code from their authenticator app (or a recovery code), or
    /// one of their passkeys.
    Code,
    /// A second factor is required and the user has none: they add one before going on.
    Enrol,
}

/// The step after the password for a user who has (`has_factor`) or has not a confirmed second
/// factor and whom an admin may have required to use one (`user_required`).
pub fn second_step(policy: MfaPolicy, user_required: bool, has_factor: bool) -> SecondStep {
    match policy {
        MfaPolicy::Off => SecondStep::None,
        _ if has_factor => SecondStep::Code,
        MfaPolicy::Required => SecondStep::Enrol,
        MfaPolicy::Optional if user_required => SecondStep::Enrol,
        MfaPolicy::Optional => SecondStep::None,
    }
}

/// Whether a session signed in with `amr` will do for a request that asks (`asks_mfa`, from
/// `acr_values`) or does not ask for a second factor: a session without one will not when the
/// policy or an admin requires one, nor when the request asks and the user has one to give
/// (step-up). A request asking for `mfa` of a user without a factor goes on with `acr=pwd`: the
/// ID token says what happened and the client decides.
pub fn session_will_do(
    policy: MfaPolicy,
    user_required: bool,
    has_factor: bool,
    asks_mfa: bool,
    amr: &Amr,
) -> bool {
    match policy {
        MfaPolicy::Off => true,
        _ if amr.is_mfa() => true,
        MfaPolicy::Required => false,
        MfaPolicy::Optional => !(user_required || (asks_mfa && has_factor)),
    }
}

/// Whether a session signed in with `amr` has the second factor the policy or an admin requires
/// ([`session_will_do`] for a request that asks for nothing more): what the console and the
/// device page check.
pub fn required_factor_given(policy: MfaPolicy, user_required: bool, amr: &Amr) -> bool {
    session_will_do(policy, user_required, false, false, amr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips_and_old_rows_are_passwords() {
        for amr in [
            Amr::password(),
            Amr::password_and_otp(),
            Amr::password_and_key(KeyKind::Hardware),
            Amr::key(KeyKind::Software),
            Amr::key(KeyKind::Hardware),
        ] {
            assert_eq!(Amr::from_stored(Some(&amr.to_stored())), amr);
        }
        assert_eq!(Amr::key(KeyKind::Software).values(), ["swk", "user", "mfa"]);
        assert_eq!(
            Amr::password_and_key(KeyKind::Hardware).values(),
            ["pwd", "hwk", "user", "mfa"]
        );
        assert_eq!(Amr::key(KeyKind::Hardware).acr(), "mfa");
        assert_eq!(Amr::from_stored(None), Amr::password());
        assert_eq!(Amr::password_and_otp().values(), ["pwd", "otp", "mfa"]);
        assert_eq!(Amr::password().acr(), "pwd");
        assert_eq!(Amr::password_and_otp().acr(), "mfa");
        assert!(asks_for_mfa("pwd mfa"));
        assert!(!asks_for_mfa("pwd urn:other"));
        assert_eq!(Amr::password().describe(), "password");
        assert_eq!(Amr::password_and_otp().describe(), "password + app code");
        assert_eq!(Amr::key(KeyKind::Software).describe(), "passkey");
        assert_eq!(
            Amr::password_and_key(KeyKind::Hardware).describe(),
            "password + security key"
        );
    }

    #[test]
    fn the_step_after_the_password() {
        use MfaPolicy::*;
        assert_eq!(second_step(Off, true, true), SecondStep::None);
        assert_eq!(second_step(Optional, false, false), SecondStep::None);
        assert_eq!(second_step(Optional, false, true), SecondStep::Code);
        assert_eq!(second_step(Optional, true, false), SecondStep::Enrol);
        assert_eq!(second_step(Required, false, false), SecondStep::Enrol);
        assert_eq!(second_step(Required, false, true), SecondStep::Code);
        assert_eq!(MfaPolicy::parse(" Required "), Some(Required));
        assert_eq!(MfaPolicy::parse("sometimes"), None);
    }

    #[test]
    fn which_sessions_will_do() {
        use MfaPolicy::*;
        let (pwd, mfa) = (Amr::password(), Amr::password_and_otp());
        assert!(session_will_do(Off, true, true, true, &pwd));
        assert!(
            session_will_do(Optional, false, false, true, &pwd),
            "nothing to step up with"
        );
        assert!(
            !session_will_do(Optional, false, true, true, &pwd),
            "step-up"
        );
        assert!(session_will_do(Optional, false, true, false, &pwd));
        assert!(!session_will_do(Optional, true, false, false, &pwd));
        assert!(!session_will_do(Required, false, false, false, &pwd));
        assert!(session_will_do(Required, true, true, true, &mfa));
    }
}
