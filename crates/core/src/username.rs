//! Usernames: the one rule the console, the CLI and self-registration share.

/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 200;

/// A username that is 1 to [`MAX_USERNAME_CHARS`] characters, without control characters, with
/// no space at either end (it is trimmed when parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

/// A username that breaks the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the username must be 1 to {MAX_USERNAME_CHARS} characters without control characters")]
pub struct InvalidUsername;

impl Username {
    /// Trims `raw` and checks it.
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        let name = raw.trim();
        if name.is_empty()
            || name.chars().count() > MAX_USERNAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(InvalidUsername);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_two_hundred_characters_without_control_characters() {
        assert_eq!(
            Username::parse("  alice ").map(Username::into_string),
            Ok("alice".into())
        );
        assert!(
            Username::parse(&"é".repeat(200)).is_ok(),
            "characters, not bytes"
        );
        for bad in ["", "   ", "a\u{0}b", "tab\there", "new\nline"] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername), "{bad:?}");
        }
        assert_eq!(Username::parse(&"a".repeat(201)), Err(InvalidUsername));
    }
}
