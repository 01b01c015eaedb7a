//! Newtype identifiers, so a client id can not be passed where a subject is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value taken from storage or the wire.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The inner string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An OAuth `client_id` (RFC 6749 §2.2), chosen by the server.
    ClientId
);
string_id!(
    /// The `sub` of an end user: stable, never reassigned, not the username.
    Subject
);
string_id!(
    /// A JWK key id (`kid`): the RFC 7638 thumbprint of the public key.
    Kid
);
string_id!(
    /// The id of a grant: one authorization that refresh and access tokens hang from.
    GrantId
);

/// The issuer identifier, byte for byte as configured (no trailing slash is ever added).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    /// Wraps a validated issuer (config validation guarantees https or loopback http, no path
    /// ending in `/`, no query, no fragment).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The issuer string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An endpoint URL under the issuer: `issuer` + `path` (path starts with `/`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
