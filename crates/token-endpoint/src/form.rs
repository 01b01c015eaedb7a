//! Strict `application/x-www-form-urlencoded` bodies for the token-type endpoints.
//!
//! RFC 6749 §3.2 wants form-encoded requests, and "request and response parameters MUST NOT be
//! included more than once"; §3.1: "parameters sent without a value MUST be treated as if they
//! were omitted". Anything else — another content type, invalid percent-encoding, bytes that
//! are not UTF-8, a repeated parameter — is `invalid_request` (400), never 415 or 5xx.

use tessera_core::error::{TokenError, TokenErrorCode};

/// The largest body accepted by the token-type endpoints. Real requests are well under 8 KiB;
/// a client assertion or a refresh token never approaches this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A parsed form: every parameter once, empty values dropped.
#[derive(Debug, Default, Clone)]
pub struct Form {
    params: Vec<(String, String)>,
}

fn invalid(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidRequest, description)
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one name or value: `+` is a space, `%XX` a byte; a `%` not followed by two hex
/// digits, or a result that is not UTF-8, is refused.
fn decode(part: &[u8]) -> Result<String, TokenError> {
    let mut out = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        match part[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = part.get(i + 1).copied().and_then(hex);
                let low = part.get(i + 2).copied().and_then(hex);
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(invalid("The body has invalid percent-encoding."));
                };
                out.push(high << 4 | low);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| invalid("The body is not UTF-8."))
}

/// Whether the request's content type is the form media type (parameters such as
/// `charset=UTF-8` allowed, case-insensitive).
pub fn is_form_content_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        value.split(';').next().is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

impl Form {
    /// Parses a body sent with `content_type`.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, TokenError> {
        if !is_form_content_type(content_type) {
            return Err(invalid(
                "The body must be application/x-www-form-urlencoded.",
            ));
        }
        Self::parse_body(body)
    }

    /// Parses form-encoded bytes (content type already checked). At most [`MAX_PARAMETERS`]
    /// parameters; each value within [`max_value_bytes`] of its name.
    pub fn parse_body(body: &[u8]) -> Result<Self, TokenError> {
        let mut params: Vec<(String, String)> = Vec::new();
        // Linear in the body: names seen so far in a set, not compared with all before them.
        let mut seen = std::collections::HashSet::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            if params.len() >= MAX_PARAMETERS {
                return Err(invalid("The request has too many parameters."));
            }
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            if name.len() > MAX_NAME_BYTES {
                return Err(invalid("A parameter name is too long."));
            }
            let name = decode(name)?;
            if name.chars().any(char::is_control) {
                return Err(invalid("A parameter name holds control characters."));
            }
            // Identifiers are capped before anything looks them up, logs or stores them.
            if value.len() > max_value_bytes(&name) * 3 {
                return Err(invalid(&format!("The parameter {name} is too long.")));
            }
            let value = decode(value)?;
            if value.len() > max_value_bytes(&name) {
                return Err(invalid(&format!("The parameter {name} is too long.")));
            }
            if !seen.insert(name.clone()) {
                // RFC 8707 §2: several resources in one request are refused as invalid_target
                // (one audience per token here).
                if name == "resource" {
                    return Err(TokenError::new(
                        TokenErrorCode::InvalidTarget,
                        "One resource per request.",
                    ));
                }
                return Err(invalid(&format!("The parameter {name} is repeated.")));
            }
            params.push((name, value));
        }
        params.retain(|(_, value)| !value.is_empty());
        Ok(Self { params })
    }

    /// A parameter's value, if present (and not empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, TokenError> {
        self.get(name)
            .ok_or_else(|| invalid(&format!("The parameter {name} is missing.")))
    }

    /// Every parameter, for client authentication.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.params
    }
}

/// The most parameters a token-type request may carry.
pub const MAX_PARAMETERS: usize = 64;
/// The longest parameter name.
const MAX_NAME_BYTES: usize = 128;

/// The longest value (decoded, in bytes) accepted for the parameter `name`: identifiers are
/// short, assertions a few kilobytes, anything else at most 8 KiB.
pub fn max_value_bytes(name: &str) -> usize {
    match name {
        "client_id" => 255,
        "grant_type" | "client_assertion_type" | "token_type_hint" => 255,
        "code" | "refresh_token" | "code_verifier" | "redirect_uri" | "scope" | "client_secret" => {
            2048
        }
        "assertion" | "client_assertion" | "token" => 16 * 1024,
        _ => 8 * 1024,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn long_identifiers_and_too_many_parameters_are_invalid_requests() {
        let long_id = format!("client_id={}", "x".repeat(60 * 1024));
        let err = Form::parse(FORM, long_id.as_bytes()).unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_request");
        assert!(err.description.contains("client_id"), "{}", err.description);
        let ok_id = format!("client_id={}", "x".repeat(255));
        assert!(Form::parse(FORM, ok_id.as_bytes()).is_ok());
        let many: Vec<String> = (0..=MAX_PARAMETERS).map(|i| format!("p{i}=v")).collect();
        assert!(Form::parse(FORM, many.join("&").as_bytes()).is_err());
        // Linear: 60 distinct names parse; a repeat is still caught.
        let distinct: Vec<String> = (0..60).map(|i| format!("p{i}=v")).collect();
        assert!(Form::parse(FORM, distinct.join("&").as_bytes()).is_ok());
        assert!(Form::parse(FORM, b"a=1&b=2&a=3").is_err());
    }

    #[test]
    fn decodes_plus_and_percent_and_drops_empty_values() {
        let form = Form::parse(FORM, b"a=x+y%2Bz&b=&c=%C3%A9").unwrap();
        assert_eq!(form.get("a"), Some("x y+z"));
        assert_eq!(form.get("b"), None);
        assert_eq!(form.get("c"), Some("é"));
    }

    #[test]
    fn refuses_what_is_not_a_clean_form() {
        for (content_type, body) in [
            (Some("application/json"), &b"{\"grant_type\":\"x\"}"[..]),
            (None, b"grant_type=x"),
            (FORM, b"a=%zz"),
            (FORM, b"a=%4"),
            (FORM, b"a=%ff%fe"),
            (FORM, b"a=1&a=2"),
            (FORM, b"a=1&a="),
        ] {
            let err = Form::parse(content_type, body).unwrap_err();
            assert_eq!(err.code, TokenErrorCode::InvalidRequest, "{body:?}");
        }
    }

    #[test]
    fn accepts_charset_parameter_and_case() {
        assert!(is_form_content_type(Some(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        )));
        assert!(!is_form_content_type(Some("multipart/form-data")));
    }

    proptest::proptest! {
        /// Any body: a form or a spec-shaped `invalid_request`, never a panic.
        #[test]
        fn any_body_parses_or_is_an_invalid_request(body in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            match Form::parse(FORM, &body) {
                Ok(form) => proptest::prop_assert!(form.pairs().len() <= MAX_PARAMETERS),
                Err(err) => proptest::prop_assert_eq!(err.code.as_str(), "invalid_request"),
            }
        }

        /// Form-shaped input built from the characters that matter to the parser.
        #[test]
        fn form_shaped_input_never_panics(body in "[a-z_=&%+0-9A-F]{0,512}") {
            let _ = Form::parse(FORM, body.as_bytes());
        }
    }
}
