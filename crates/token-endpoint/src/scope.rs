//! Scope parameters at the token endpoint (RFC 6749 §3.3), parsed by `tessera_core::scope`.

use tessera_core::{
    error::{TokenError, TokenErrorCode},
    scope::Scopes,
    store::ClientRecord,
};

/// Scopes that only make sense with a signed-in user; a token about a client (client
/// credentials, a self-asserted JWT bearer) never carries them.
pub const USER_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The scopes a token about the client itself may carry: its registered scopes without the
/// user scopes.
pub fn client_scopes(client: &ClientRecord) -> Vec<String> {
    client
        .scopes
        .iter()
        .filter(|s| !USER_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect()
}

fn invalid_scope(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidScope, description)
}

/// Parses a `scope` parameter strictly (single spaces between `1*NQCHAR` tokens, duplicates
/// dropped, order kept: `tessera_core::scope`), or `invalid_scope`.
pub fn parse(value: &str) -> Result<Scopes, TokenError> {
    Scopes::parse(value).map_err(|_| invalid_scope("The scope parameter is malformed."))
}

/// The scopes of a request: what it asked for when that is within `allowed` (else
/// `invalid_scope`), or `default` when it asked for nothing.
pub fn within(
    requested: Option<&str>,
    allowed: &[String],
    default: &[String],
) -> Result<Vec<String>, TokenError> {
    let Some(requested) = requested else {
        return Ok(default.to_vec());
    };
    let scopes = parse(requested)?;
    if let Some(extra) = scopes.first_outside(allowed) {
        return Err(invalid_scope(&format!(
            "The scope {extra} is not available to this request."
        )));
    }
    Ok(scopes.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn narrows_but_never_widens() {
        let allowed = strings(&["openid", "profile", "email"]);
        assert_eq!(
            within(Some("openid email"), &allowed, &[]).unwrap(),
            strings(&["openid", "email"])
        );
        assert_eq!(within(None, &allowed, &allowed).unwrap(), allowed);
        let err = within(Some("openid admin"), &allowed, &[]).unwrap_err();
        assert_eq!(err.code, TokenErrorCode::InvalidScope);
    }

    #[test]
    fn refuses_malformed_scope_strings() {
        for bad in [" openid", "openid  email", "openid ", "a\"b", "a\\b", "é"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse("a a b").unwrap().into_vec(), strings(&["a", "b"]));
    }

    proptest::proptest! {
        /// Any scope string: scope tokens (non-empty, no spaces, no repeats) or `invalid_scope`;
        /// `within` never widens what is allowed.
        #[test]
        fn any_scope_string_parses_or_is_invalid_scope(value in ".{0,80}") {
            match parse(&value) {
                Ok(scopes) => {
                    let scopes = scopes.into_vec();
                    for scope in &scopes {
                        proptest::prop_assert!(!scope.is_empty() && !scope.contains(' '));
                    }
                    let unique: std::collections::HashSet<&String> = scopes.iter().collect();
                    proptest::prop_assert_eq!(unique.len(), scopes.len());
                }
                Err(err) => proptest::prop_assert_eq!(err.code.as_str(), "invalid_scope"),
            }
            let allowed = vec!["a".to_owned(), "b".to_owned()];
            if let Ok(granted) = within(Some(&value), &allowed, &allowed) {
                proptest::prop_assert!(granted.iter().all(|s| allowed.contains(s)));
            }
        }
    }
}
