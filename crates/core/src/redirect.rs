//! Redirect URI matching (RFC 6749 §3.1.2, RFC 9700 §2.1: exact string comparison), with the one
//! exception RFC 8252 §7.3 makes for native apps: a loopback IP redirect URI registered without a
//! port matches any port. The exact comparison is oxide-auth's `primitives::registrar::ExactUrl`
//! (ADR 0018); the loopback rule is ours, because oxide-auth's `IgnoreLocalPortUrl` relaxes the
//! port for `localhost` — which RFC 8252 §8.3 says not to rely on — and not for `127.0.0.1` or
//! `[::1]`.

use oxide_auth::primitives::registrar::ExactUrl;

/// The loopback IP origins whose port is chosen by the native app at request time.
const LOOPBACK_PREFIXES: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// Whether `requested` may be used for the registered redirect URI `registered`: byte-exact,
/// or (RFC 8252 §7.3) a loopback IP URI registered without a port, requested with any port and
/// otherwise byte-exact. `localhost` is not a loopback IP (RFC 8252 §8.3) and stays exact, as
/// does a loopback URI registered with a port.
pub fn matches(registered: &str, requested: &str) -> bool {
    // Exact: oxide-auth's `ExactUrl` compares the strings as given (both must be URLs), never a
    // normalised form, so `https://app/cb`, `https://app/cb/` and `https://app:443/cb` differ.
    if let (Ok(registered), Ok(requested)) = (
        registered.parse::<ExactUrl>(),
        requested.parse::<ExactUrl>(),
    ) && registered == requested
    {
        return true;
    }
    LOOPBACK_PREFIXES.iter().any(|prefix| {
        let (Some(registered_rest), Some(requested_rest)) = (
            registered.strip_prefix(prefix),
            requested.strip_prefix(prefix),
        ) else {
            return false;
        };
        if registered_rest.starts_with(':') {
            return false;
        }
        let Some(after_colon) = requested_rest.strip_prefix(':') else {
            return false;
        };
        let digits = after_colon.bytes().take_while(u8::is_ascii_digit).count();
        let port_ok = after_colon[..digits]
            .parse::<u16>()
            .is_ok_and(|port| port > 0 && !after_colon.starts_with('0'));
        let rest = &after_colon[digits..];
        port_ok && (rest.is_empty() || rest.starts_with(['/', '?'])) && rest == registered_rest
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_means_the_same_string() {
        let registered = "https://app.example/cb?x=1";
        assert!(matches(registered, registered));
        for other in [
            "https://app.example/cb?x=1&y=2",
            "https://app.example/cb/?x=1",
            "https://app.example:443/cb?x=1",
            "https://APP.example/cb?x=1",
            "https://app.example/./cb?x=1",
            "https://app.example/cb?x=1#f",
        ] {
            assert!(!matches(registered, other), "{other}");
        }
        // A private-use scheme (RFC 8252 §7.1) is a URL too.
        assert!(matches("com.example.app:/cb", "com.example.app:/cb"));
        // Not a URL: never a match, even with itself.
        assert!(!matches("not a url", "not a url"));
    }

    #[test]
    fn loopback_ips_registered_without_a_port_take_any_port() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:53211/cb"));
        assert!(matches("http://[::1]/cb", "http://[::1]:8080/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8080/cb/x"
        ));
        assert!(!matches(
            "http://127.0.0.1:9000/cb",
            "http://127.0.0.1:9001/cb"
        ));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"));
        assert!(!matches("http://localhost/cb", "http://localhost:8080/cb"));
    }

    proptest::proptest! {
        /// Any two strings: a match is the same string, or the loopback rule's port (and
        /// nothing else) apart; never a panic.
        #[test]
        fn a_match_is_the_same_uri_or_a_loopback_port_apart(
            registered in "(https://app\\.example|http://127\\.0\\.0\\.1|http://\\[::1\\]|http://localhost)(:[0-9]{1,5})?(/[a-z/.]{0,6})?(\\?[a-z=&]{0,4})?",
            requested in "(https://app\\.example|http://127\\.0\\.0\\.1|http://\\[::1\\]|http://localhost)(:[0-9]{1,5})?(/[a-z/.]{0,6})?(\\?[a-z=&]{0,4})?",
        ) {
            if matches(&registered, &requested) && registered != requested {
                let prefix = LOOPBACK_PREFIXES
                    .iter()
                    .find(|p| registered.starts_with(**p))
                    .expect("only loopback IPs match inexactly");
                let rest = &registered[prefix.len()..];
                proptest::prop_assert!(!rest.starts_with(':'), "registered with a port");
                let after = &requested[prefix.len() + 1..];
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                proptest::prop_assert_eq!(&after[digits..], rest);
            }
        }

        /// Whatever is requested, garbage included, matching never panics, and a URI always
        /// matches itself exactly when it is a URL.
        #[test]
        fn any_input_is_answered(registered in "\\PC{0,40}", requested in "\\PC{0,40}") {
            let _ = matches(&registered, &requested);
            if registered.parse::<ExactUrl>().is_ok() {
                proptest::prop_assert!(matches(&registered, &registered));
            }
        }
    }
}
