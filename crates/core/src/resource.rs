//! Resource indicators (RFC 8707): the APIs (resource servers) an admin registers, each named by
//! an absolute URI and owning some scopes, and the rules that narrow an access token to one of
//! them — its `aud` the resource's URI, its scopes those the resource owns.
//!
//! One resource per request: `resource` at `/authorize` binds the grant to it, and at `/token` it
//! picks the audience of that one access token (RFC 8707 §2 lets a server refuse more with
//! `invalid_target`). Tokens without a resource keep the issuer as their audience.

use chrono::{DateTime, Utc};

use crate::{
    ClientId,
    error::{TokenError, TokenErrorCode},
};

/// The longest resource identifier accepted.
pub const MAX_IDENTIFIER_LEN: usize = 512;

/// A registered resource server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServerRecord {
    /// Its identifier: an absolute `https` (or loopback `http`) URI without a fragment, the
    /// `aud` of its tokens.
    pub identifier: String,
    /// A name for people.
    pub name: String,
    /// The scopes it owns: a token for it carries only these of the granted ones (all of them
    /// when it owns none).
    pub scopes: Vec<String>,
    /// The client it authenticates as at `/introspect`, which is then told only about tokens
    /// meant for it.
    pub client_id: Option<ClientId>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl ResourceServerRecord {
    /// The scopes of `granted` that a token for this resource carries.
    pub fn narrow(&self, granted: &[String]) -> Vec<String> {
        if self.scopes.is_empty() {
            return granted.to_vec();
        }
        granted
            .iter()
            .filter(|scope| self.scopes.contains(scope))
            .cloned()
            .collect()
    }
}

/// Whether `uri` can name a resource (RFC 8707 §2: an absolute URI, no fragment; here also
/// `https`, or `http` on a loopback host, and no userinfo).
pub fn check_identifier(uri: &str) -> Result<(), &'static str> {
    if uri.is_empty() || uri.len() > MAX_IDENTIFIER_LEN {
        return Err("a resource is an absolute URI of at most 512 characters");
    }
    if uri.contains('#') {
        return Err("a resource URI has no fragment");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a resource URI has no spaces");
    }
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or("a resource is an absolute URI (https://…)")?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("a resource URI names a host and no user");
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("a resource URI is https (http only on a loopback host)"),
    }
}

/// `invalid_target` (RFC 8707 §2) with a description.
pub fn invalid_target(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidTarget, description)
}

/// The resource an access token is for: the one asked for now (`requested`), which must be the
/// grant's when the grant is bound to one; else the grant's; else none (the issuer's audience).
/// Returns the identifier to look up; whether it is registered is the caller's lookup.
pub fn target<'a>(
    requested: Option<&'a str>,
    bound: Option<&'a str>,
) -> Result<Option<&'a str>, TokenError> {
    match (requested, bound) {
        (Some(asked), Some(bound)) if asked != bound => {
            Err(invalid_target("The grant was given for another resource."))
        }
        (Some(asked), _) => check_identifier(asked)
            .map(|()| Some(asked))
            .map_err(|_| invalid_target("The resource is not a valid resource URI.")),
        (None, bound) => Ok(bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_identifiers_are_absolute_https_uris_without_fragments() {
        for ok in [
            "https://api.example.com",
            "https://api.example.com/v1?x=1",
            "https://api.example.com:8443/",
            "http://127.0.0.1:9000/api",
            "http://localhost/api",
        ] {
            assert_eq!(check_identifier(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "api.example.com",
            "/api",
            "https://api.example.com/#frag",
            "http://api.example.com",
            "https://user@api.example.com",
            "https://",
            "urn:example:api",
            "https://api.example.com/a b",
            &format!("https://api.example.com/{}", "a".repeat(600)),
        ] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_token_is_for_the_resource_asked_within_the_grants() {
        let a = "https://a.example";
        assert_eq!(target(None, None).unwrap(), None);
        assert_eq!(target(Some(a), None).unwrap(), Some(a));
        assert_eq!(target(None, Some(a)).unwrap(), Some(a));
        assert_eq!(target(Some(a), Some(a)).unwrap(), Some(a));
        let other = target(Some("https://b.example"), Some(a)).unwrap_err();
        assert_eq!(other.code, TokenErrorCode::InvalidTarget);
        let malformed = target(Some("https://b.example#x"), None).unwrap_err();
        assert_eq!(malformed.code, TokenErrorCode::InvalidTarget);
    }

    #[test]
    fn a_resource_narrows_the_granted_scopes_to_its_own() {
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let mut api = ResourceServerRecord {
            identifier: "https://a.example".into(),
            name: "A".into(),
            scopes: vec!["a.read".into(), "a.write".into()],
            client_id: None,
            created_at: t,
        };
        let granted = ["openid".into(), "a.read".into(), "b.read".into()];
        assert_eq!(api.narrow(&granted), ["a.read"]);
        api.scopes.clear();
        assert_eq!(api.narrow(&granted), granted);
    }
}
