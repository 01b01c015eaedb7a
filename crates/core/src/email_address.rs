//! The one rule for an email address typed by a person (sign-up, the account page, the console,
//! the CLI): plausible, not proven — only a confirmation link proves an address.

/// A plausible email address: one `@`, something on both sides, a dot inside the domain, no
/// spaces or control characters, at most 254 bytes.
pub fn plausible(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    #[test]
    fn plausible_addresses() {
        for ok in ["a@example.com", "first.last+tag@sub.example.org"] {
            assert!(super::plausible(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@example.com.",
            "a@.example.com",
            "a@exa\u{7}mple.com",
        ] {
            assert!(!super::plausible(bad), "{bad}");
        }
    }
}
