//! Scopes (RFC 6749 §3.3): `scope = scope-token *( SP scope-token )`, `scope-token = 1*NQCHAR`
//! (`%x21 / %x23-5B / %x5D-7E`), case-sensitive. The one parser every endpoint, the console and
//! the registry use.
//!
//! The character rule and the subset test are oxide-auth's `primitives::scope::Scope` (its
//! `FromStr` and its partial order, ADR 0018); [`Scopes`] wraps it to keep the request's order
//! (oxide-auth keeps a set) and to name the first token that is not allowed.

use oxide_auth::primitives::scope::Scope;

/// Whether `token` is one scope token (`1*NQCHAR`).
pub fn is_token(token: &str) -> bool {
    !token.is_empty() && !token.contains(' ') && token.parse::<Scope>().is_ok()
}

/// A `scope` parameter that is not `1*NQCHAR` tokens separated by spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the scope parameter is malformed")]
pub struct MalformedScope;

/// Scope tokens in the order first given, without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// The grammar exactly: single spaces between tokens, none empty (the token endpoint).
    pub fn parse(value: &str) -> Result<Self, MalformedScope> {
        Self::collect(value.split(' '))
    }

    /// Runs of spaces taken as one, leading and trailing ones ignored (the authorization
    /// endpoint, reached by links people write by hand); an empty value is no tokens.
    pub fn parse_lenient(value: &str) -> Result<Self, MalformedScope> {
        Self::collect(value.split(' ').filter(|token| !token.is_empty()))
    }

    fn collect<'a>(tokens: impl Iterator<Item = &'a str>) -> Result<Self, MalformedScope> {
        let mut scopes: Vec<String> = Vec::new();
        for token in tokens {
            if !is_token(token) {
                return Err(MalformedScope);
            }
            if !scopes.iter().any(|s| s == token) {
                scopes.push(token.to_owned());
            }
        }
        Ok(Self(scopes))
    }

    /// The first token not among `allowed`, if any: `None` means these scopes are a subset.
    pub fn first_outside<'a>(&'a self, allowed: &[String]) -> Option<&'a str> {
        let (Ok(requested), Ok(granted)) = (
            self.0.join(" ").parse::<Scope>(),
            allowed.join(" ").parse::<Scope>(),
        ) else {
            // An allowed list that is not made of tokens: compare token by token instead.
            return self
                .0
                .iter()
                .find(|s| !allowed.contains(s))
                .map(String::as_str);
        };
        if requested.allow_access(&granted) {
            return None;
        }
        self.0
            .iter()
            .find(|s| !allowed.contains(s))
            .map(String::as_str)
    }

    /// No tokens.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens, in order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The tokens, in order.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn tokens_are_nqchar() {
        for good in ["openid", "api.read", "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~Z9"] {
            assert!(is_token(good), "{good}");
        }
        for bad in ["", "a b", "quote\"", "back\\slash", "tab\t", "é", "\u{7f}"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn strict_and_lenient_parsing() {
        assert_eq!(
            Scopes::parse("openid profile openid").map(Scopes::into_vec),
            Ok(strings(&["openid", "profile"]))
        );
        for bad in ["", "openid  profile", " openid", "openid ", "open\"id"] {
            assert_eq!(Scopes::parse(bad), Err(MalformedScope), "{bad:?}");
        }
        assert_eq!(
            Scopes::parse_lenient("  openid   profile ").map(Scopes::into_vec),
            Ok(strings(&["openid", "profile"]))
        );
        assert!(Scopes::parse_lenient("").is_ok_and(|s| s.is_empty()));
        assert_eq!(Scopes::parse_lenient("open\"id"), Err(MalformedScope));
    }

    #[test]
    fn the_first_token_outside_is_named() {
        let allowed = strings(&["openid", "profile", "email"]);
        let within = Scopes::parse("profile openid").unwrap_or_default();
        assert_eq!(within.first_outside(&allowed), None);
        let beyond = Scopes::parse("openid admin email").unwrap_or_default();
        assert_eq!(beyond.first_outside(&allowed), Some("admin"));
        assert_eq!(Scopes::default().first_outside(&[]), None);
    }

    proptest! {
        /// What parses renders back to tokens that parse again, in the same order, and a
        /// subset of the allowed list is never refused while anything else names a token.
        #[test]
        fn parsing_and_the_subset_test_agree(
            tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,6}", 0..6),
            allowed in proptest::collection::vec("[a-c]{1,2}", 0..6),
        ) {
            let value = tokens.join(" ");
            let parsed = Scopes::parse_lenient(&value);
            prop_assert!(parsed.is_ok());
            let parsed = parsed.unwrap_or_default();
            let again = Scopes::parse_lenient(&parsed.as_slice().join(" "));
            prop_assert_eq!(again.as_ref().ok(), Some(&parsed));
            let outside = parsed.first_outside(&allowed);
            prop_assert_eq!(outside.is_none(), parsed.as_slice().iter().all(|t| allowed.contains(t)));
        }
    }
}
