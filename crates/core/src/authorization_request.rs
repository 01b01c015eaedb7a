//! Validating an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1): a
//! plain function from the parameters and the registered client to a typed request or a
//! rejection. `/authorize` validates with it, and so does `/par` (RFC 9126 §2.1: a pushed request
//! is checked as the authorization endpoint would check it). Client and redirect URI are checked first; until both are trusted, a rejection is a
//! page, never a redirect (RFC 6749 §4.1.2.1).

use crate::{
    error::{AuthorizeError, AuthorizeErrorCode},
    grant_type::ResponseType,
    pkce,
    scope::Scopes,
    store::ClientRecord,
};

/// What a `request_uri` of a pushed authorization request starts with (RFC 9126 §2.2), before
/// its handle.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request waits for `/authorize`, in seconds (RFC 9126 §2.2 suggests 5 to
/// 600; a minute covers a redirect).
pub const PUSHED_TTL_SECS: i64 = 60;

/// The most characters accepted in `state` and `nonce` (they travel back in URLs and tokens).
pub const MAX_STATE_LEN: usize = 2048;

/// A request that may proceed to sign-in and consent.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizeRequest {
    /// The client.
    pub client: ClientRecord,
    /// Its exactly matching registered redirect URI.
    pub redirect_uri: String,
    /// Echoed exactly.
    pub state: Option<String>,
    /// Requested scopes, all allowed for the client, in request order without repeats.
    pub scopes: Vec<String>,
    /// OIDC nonce, carried into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt=none`.
    pub prompt_none: bool,
    /// `prompt=login` (or `select_account`, which falls back to it).
    pub prompt_login: bool,
    /// `prompt=consent`.
    pub prompt_consent: bool,
    /// `max_age`, seconds.
    pub max_age: Option<i64>,
    /// Pre-fills the username.
    pub login_hint: Option<String>,
    /// An ID token naming who the client thinks is signed in (checked by the caller, which has
    /// the keys).
    pub id_token_hint: Option<String>,
    /// How the answer travels to the redirect URI.
    pub response_mode: ResponseMode,
    /// The resource (RFC 8707) the tokens are for; registered or not is the caller's check.
    pub resource: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code's redemption must prove.
    pub dpop_jkt: Option<String>,
    /// Whether `acr_values` asks for a second factor (`mfa`, `crate::amr`).
    pub acr_mfa: bool,
}

/// How the answer reaches the client (OAuth 2.0 Multiple Response Types §2.1, Form Post
/// Response Mode §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// In the redirect URI's query (the code flow's default).
    #[default]
    Query,
    /// POSTed by the browser to the redirect URI, from a page that submits itself.
    FormPost,
}

impl ResponseMode {
    /// Every mode, in the order discovery lists them.
    pub const ALL: [ResponseMode; 2] = [Self::Query, Self::FormPost];

    /// The `response_mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }

    /// Parses a `response_mode` value (exact).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }
}

/// Why a request can not proceed.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// Client or redirect URI untrusted: show this message, redirect nowhere.
    Page(String),
    /// Tell the client through its verified redirect URI.
    Redirect {
        /// Where.
        redirect_uri: String,
        /// `state` to echo, if it could be read.
        state: Option<String>,
        /// What.
        error: AuthorizeError,
        /// How (the request's `response_mode` when it could be read, else the query).
        mode: ResponseMode,
    },
}

/// The single value of `name`; `Err` when repeated (RFC 6749 §3.1: parameters must not repeat).
pub fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut values = params
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("The {name} parameter is repeated."));
    }
    Ok(first.filter(|value| !value.is_empty()))
}

/// The parameters Tessera reads; each may appear at most once (`resource` too: one resource per
/// request, `tessera_core::resource`).
pub const KNOWN: [&str; 19] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
    "id_token_hint",
    "ui_locales",
    "claims_locales",
    "acr_values",
    "display",
    "resource",
    "dpop_jkt",
];

/// Whether `value` is a valid PKCE code challenge (RFC 7636 §4.2: 43 to 128 unreserved characters).
pub use crate::redirect::matches as redirect_matches;

/// Step one: the client_id and redirect_uri, before anything may be redirected.
pub fn client_and_redirect(params: &[(String, String)]) -> Result<(&str, Option<&str>), Rejection> {
    let client_id = single(params, "client_id").map_err(Rejection::Page)?;
    let redirect_uri = single(params, "redirect_uri").map_err(Rejection::Page)?;
    let client_id =
        client_id.ok_or_else(|| Rejection::Page("The request has no client_id.".into()))?;
    Ok((client_id, redirect_uri))
}

/// Validates a request for `client` (looked up by the caller from [`client_and_redirect`]).
pub fn validate(
    params: &[(String, String)],
    client: Option<ClientRecord>,
) -> Result<AuthorizeRequest, Rejection> {
    let (_, redirect_uri) = client_and_redirect(params)?;
    let client = client
        .filter(|c| c.enabled)
        .ok_or_else(|| Rejection::Page("The client is unknown or disabled.".into()))?;
    let redirect_uri =
        redirect_uri.ok_or_else(|| Rejection::Page("The request has no redirect_uri.".into()))?;
    // RFC 9700 §4.1.3: exact string comparison, no normalisation of any kind — except the port
    // of a loopback IP redirect URI registered without one (RFC 8252 §7.3).
    if !client
        .redirect_uris
        .iter()
        .any(|registered| redirect_matches(registered, redirect_uri))
    {
        return Err(Rejection::Page(
            "The redirect_uri is not registered for this client.".into(),
        ));
    }
    let redirect_uri = redirect_uri.to_owned();
    let state_value = single(params, "state");
    let state = state_value.clone().ok().flatten().map(str::to_owned);
    let response_mode = match single(params, "response_mode") {
        Ok(Some(mode)) => ResponseMode::parse(mode),
        Ok(None) => Some(ResponseMode::Query),
        Err(_) => None,
    };
    let mode = response_mode.unwrap_or_default();
    let reject = |code: AuthorizeErrorCode, text: &str| Rejection::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: AuthorizeError::new(code, text),
        mode,
    };
    use AuthorizeErrorCode::*;

    let mut values = std::collections::HashMap::new();
    for name in KNOWN {
        let code = match name {
            "resource" => InvalidTarget,
            _ => InvalidRequest,
        };
        let value = single(params, name).map_err(|message| reject(code, &message))?;
        values.insert(name, value);
    }
    let get = |name: &str| values.get(name).copied().flatten();
    if state.as_deref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(reject(InvalidRequest, "state is too long."));
    }
    match get("response_type") {
        None => return Err(reject(InvalidRequest, "response_type is missing.")),
        Some(value) if ResponseType::Code.is(value) => {}
        Some(_) => {
            return Err(reject(
                UnsupportedResponseType,
                "Only response_type=code is supported.",
            ));
        }
    }
    if !client.response_types.contains(&ResponseType::Code) {
        return Err(reject(
            UnauthorizedClient,
            "The client is not registered for the code flow.",
        ));
    }
    let Some(response_mode) = response_mode else {
        return Err(reject(
            InvalidRequest,
            "response_mode must be query or form_post.",
        ));
    };
    if params.iter().any(|(k, _)| k == "request") {
        return Err(reject(
            RequestNotSupported,
            "Request objects (request) are not supported.",
        ));
    }
    if params.iter().any(|(k, _)| k == "request_uri") {
        return Err(reject(
            RequestUriNotSupported,
            "Request objects by reference (request_uri) are not supported.",
        ));
    }

    // PKCE (RFC 7636, RFC 9700 §2.1.1): S256 only; a challenge without a method is `plain` by
    // default, and plain is refused.
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) if client.require_pkce => {
            return Err(reject(
                InvalidRequest,
                "This client must use PKCE (code_challenge with S256).",
            ));
        }
        (None, None) => None,
        (Some(challenge), Some(pkce::S256)) if pkce::is_well_formed(challenge) => {
            Some(challenge.to_owned())
        }
        (Some(_), Some(pkce::S256)) => {
            return Err(reject(InvalidRequest, "code_challenge is malformed."));
        }
        (Some(_), None) => {
            return Err(reject(
                InvalidRequest,
                "code_challenge_method is required and must be S256.",
            ));
        }
        (_, Some(_)) => {
            return Err(reject(
                InvalidRequest,
                "Only code_challenge_method=S256 is supported.",
            ));
        }
    };

    let scope = get("scope").ok_or_else(|| reject(InvalidScope, "scope is missing."))?;
    let scopes =
        Scopes::parse_lenient(scope).map_err(|_| reject(InvalidScope, "scope is malformed."))?;
    if let Some(token) = scopes.first_outside(&client.scopes) {
        return Err(reject(
            InvalidScope,
            &format!("The client may not request the scope {token}."),
        ));
    }
    if scopes.is_empty() {
        return Err(reject(InvalidScope, "scope is empty."));
    }
    let scopes = scopes.into_vec();

    let nonce = get("nonce").map(str::to_owned);
    if nonce.as_deref().is_some_and(|n| n.len() > MAX_STATE_LEN) {
        return Err(reject(InvalidRequest, "nonce is too long."));
    }
    let (mut prompt_none, mut prompt_login, mut prompt_consent) = (false, false, false);
    for value in get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => prompt_none = true,
            "login" | "select_account" => prompt_login = true,
            "consent" => prompt_consent = true,
            other => {
                return Err(reject(
                    InvalidRequest,
                    &format!("prompt value {other} is not supported."),
                ));
            }
        }
    }
    if prompt_none && (prompt_login || prompt_consent) {
        return Err(reject(
            InvalidRequest,
            "prompt=none can not be combined with other values.",
        ));
    }
    let resource = get("resource").map(str::to_owned);
    if resource
        .as_deref()
        .is_some_and(|uri| crate::resource::check_identifier(uri).is_err())
    {
        return Err(reject(
            InvalidTarget,
            "The resource is not a valid resource URI.",
        ));
    }
    // A SHA-256 thumbprint is 43 base64url characters.
    let dpop_jkt = get("dpop_jkt").map(str::to_owned);
    let well_formed = |jkt: &str| {
        jkt.len() == 43
            && jkt
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if dpop_jkt.as_deref().is_some_and(|jkt| !well_formed(jkt)) {
        return Err(reject(
            InvalidRequest,
            "dpop_jkt is not a JWK SHA-256 thumbprint.",
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| reject(InvalidRequest, "max_age must be a non-negative integer."))?,
        ),
    };
    Ok(AuthorizeRequest {
        client,
        redirect_uri,
        state,
        scopes,
        nonce,
        code_challenge,
        prompt_none,
        prompt_login,
        prompt_consent,
        max_age,
        login_hint: get("login_hint").map(|h| h.chars().take(200).collect()),
        id_token_hint: get("id_token_hint").map(str::to_owned),
        response_mode,
        resource,
        dpop_jkt,
        acr_mfa: get("acr_values").is_some_and(crate::amr::asks_for_mfa),
    })
}

#[cfg(test)]
mod loopback_tests {
    use super::redirect_matches;

    proptest::proptest! {
        /// Only byte-equal URIs, or loopback ones differing in the port alone, ever match.
        #[test]
        fn a_match_is_equal_or_a_loopback_port(registered in "(http://(127\\.0\\.0\\.1|\\[::1\\]|localhost)(:[0-9]{0,6})?)?[/a-z?=:@.]{0,12}", requested in "(http://(127\\.0\\.0\\.1|\\[::1\\]|localhost)(:[0-9]{0,6})?)?[/a-z?=:@.]{0,12}") {
            if redirect_matches(&registered, &requested) && registered != requested {
                let strip_port = |uri: &str| -> String {
                    for prefix in ["http://127.0.0.1", "http://[::1]"] {
                        if let Some(rest) = uri.strip_prefix(prefix) {
                            let rest = rest.strip_prefix(':').map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
                            return format!("{prefix}{rest}");
                        }
                    }
                    uri.to_owned()
                };
                proptest::prop_assert!(registered.starts_with("http://127.0.0.1") || registered.starts_with("http://[::1]"));
                proptest::prop_assert_eq!(strip_port(&registered), strip_port(&requested));
                proptest::prop_assert!(!registered.contains("127.0.0.1:") && !registered.contains("]:"));
            }
        }
    }

    #[test]
    fn loopback_ip_uris_registered_without_a_port_match_any_port() {
        for (registered, requested) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:53412/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1/cb"),
            ("http://[::1]/cb", "http://[::1]:8400/cb"),
            ("http://127.0.0.1/", "http://127.0.0.1:1/"),
            ("http://127.0.0.1", "http://127.0.0.1:65535"),
        ] {
            assert!(redirect_matches(registered, requested), "{requested}");
        }
        for (registered, requested) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:53412/cb/"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:53412/CB"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:080/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:/cb"),
            (
                "http://127.0.0.1/cb",
                "http://127.0.0.1:8080@evil.example/cb",
            ),
            ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example:80/cb"),
            ("http://127.0.0.1:8400/cb", "http://127.0.0.1:9999/cb"),
            ("http://localhost/cb", "http://localhost:8400/cb"),
            ("https://127.0.0.1/cb", "https://127.0.0.1:8400/cb"),
            ("http://[::1]/cb", "http://127.0.0.1:8400/cb"),
        ] {
            assert!(!redirect_matches(registered, requested), "{requested}");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ClientId;
    use chrono::DateTime;

    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> ClientRecord {
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        ClientRecord {
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![crate::grant_type::GrantType::AuthorizationCode],
            response_types: vec![crate::grant_type::ResponseType::Code],
            scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
            ..ClientRecord::empty(ClientId::new("web"), t)
        }
    }

    fn params(extra: &[(&str, &str)], without: &[&str]) -> Vec<(String, String)> {
        let mut base = vec![
            ("response_type", "code"),
            ("client_id", "web"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid profile"),
            ("state", "s t&a=te"),
            ("nonce", "n-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        base.retain(|(k, _)| !without.contains(k));
        base.extend_from_slice(extra);
        base.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn a_resource_and_a_dpop_key_are_read_once_and_checked_for_form() {
        let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        let request = validate(
            &params(
                &[("resource", "https://api.example"), ("dpop_jkt", jkt)],
                &[],
            ),
            Some(client()),
        )
        .unwrap();
        assert_eq!(request.resource.as_deref(), Some("https://api.example"));
        assert_eq!(request.dpop_jkt.as_deref(), Some(jkt));
        for (extra, expected) in [
            (
                vec![("resource", "https://api.example#x")],
                "invalid_target",
            ),
            (
                vec![
                    ("resource", "https://a.example"),
                    ("resource", "https://b.example"),
                ],
                "invalid_target",
            ),
            (vec![("dpop_jkt", "short")], "invalid_request"),
            (vec![("dpop_jkt", &"a".repeat(42)[..])], "invalid_request"),
        ] {
            let result = validate(&params(&extra, &[]), Some(client()));
            assert_eq!(error_code(result), expected, "{extra:?}");
        }
    }

    fn error_code(result: Result<AuthorizeRequest, Rejection>) -> String {
        match result {
            Err(Rejection::Redirect { error, state, .. }) => {
                assert_eq!(state.as_deref(), Some("s t&a=te"), "state echoed on errors");
                error.code.as_str().to_owned()
            }
            Err(Rejection::Page(message)) => format!("page: {message}"),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn a_good_request_is_typed() {
        let request = validate(
            &params(&[("prompt", "consent"), ("max_age", "60")], &[]),
            Some(client()),
        )
        .unwrap();
        assert_eq!(request.scopes, ["openid", "profile"]);
        assert_eq!(request.code_challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(request.state.as_deref(), Some("s t&a=te"));
        assert!(request.prompt_consent && !request.prompt_none);
        assert_eq!(request.max_age, Some(60));
    }

    #[test]
    fn pkce_rules() {
        assert_eq!(
            error_code(validate(
                &params(&[], &["code_challenge", "code_challenge_method"]),
                Some(client())
            )),
            "invalid_request"
        );
        assert_eq!(
            error_code(validate(
                &params(&[], &["code_challenge_method"]),
                Some(client())
            )),
            "invalid_request"
        );
        assert_eq!(
            error_code(validate(
                &params(
                    &[("code_challenge_method", "plain")],
                    &["code_challenge_method"]
                ),
                Some(client())
            )),
            "invalid_request"
        );
        assert_eq!(
            error_code(validate(
                &params(&[("code_challenge", "short")], &["code_challenge"]),
                Some(client())
            )),
            "invalid_request"
        );
        let mut optional = client();
        optional.require_pkce = false;
        assert_eq!(
            error_code(validate(
                &params(&[], &["code_challenge", "code_challenge_method"]),
                Some(optional)
            )),
            "ok"
        );
    }

    #[test]
    fn form_post_is_a_response_mode_and_errors_after_it_travel_that_way() {
        let posted = validate(
            &params(&[("response_mode", "form_post")], &[]),
            Some(client()),
        );
        assert_eq!(posted.unwrap().response_mode, ResponseMode::FormPost);
        let plain = validate(&params(&[], &[]), Some(client())).unwrap();
        assert_eq!(plain.response_mode, ResponseMode::Query);
        let refused = validate(
            &params(
                &[("response_mode", "form_post"), ("scope", "openid admin")],
                &["scope"],
            ),
            Some(client()),
        );
        match refused {
            Err(Rejection::Redirect { error, mode, .. }) => {
                assert_eq!(error.code.as_str(), "invalid_scope");
                assert_eq!(mode, ResponseMode::FormPost);
            }
            other => panic!("{other:?}"),
        }
        // An unknown mode is refused the default way.
        match validate(
            &params(&[("response_mode", "fragment")], &[]),
            Some(client()),
        ) {
            Err(Rejection::Redirect { mode, .. }) => assert_eq!(mode, ResponseMode::Query),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_other_refusal() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
        let cases: [Case<'_>; 12] = [
            (
                &[("response_type", "token")],
                &["response_type"],
                "unsupported_response_type",
            ),
            (&[], &["response_type"], "invalid_request"),
            (&[("scope", "openid admin")], &["scope"], "invalid_scope"),
            (&[], &["scope"], "invalid_scope"),
            (&[("prompt", "none login")], &[], "invalid_request"),
            (&[("prompt", "bogus")], &[], "invalid_request"),
            (&[("max_age", "-1")], &[], "invalid_request"),
            (&[("response_mode", "fragment")], &[], "invalid_request"),
            (&[("request", "eyJ...")], &[], "request_not_supported"),
            (
                &[("request_uri", "https://app.example/r/1")],
                &[],
                "request_uri_not_supported",
            ),
            (&[("nonce", "again")], &[], "invalid_request"),
            (
                &[("unknown_extension", "x"), ("ui_locales", "fr")],
                &[],
                "ok",
            ),
        ];
        for (extra, without, expected) in cases {
            assert_eq!(
                error_code(validate(&params(extra, without), Some(client()))),
                expected,
                "{extra:?} {without:?}"
            );
        }
    }

    proptest::proptest! {
        /// Any parameters: a typed request or a rejection, never a panic; a redirect only ever
        /// goes to the registered URI.
        #[test]
        fn any_parameters_validate_or_are_rejected(pairs in proptest::collection::vec(("(response_type|client_id|redirect_uri|scope|state|nonce|code_challenge|code_challenge_method|prompt|max_age|login_hint|response_mode|request|request_uri|[a-z_]{1,8})", ".{0,40}"), 0..12)) {
            let params: Vec<(String, String)> = pairs;
            match validate(&params, Some(client())) {
                Ok(request) => proptest::prop_assert_eq!(request.redirect_uri, "https://app.example/cb"),
                Err(Rejection::Redirect { redirect_uri, .. }) => proptest::prop_assert_eq!(redirect_uri, "https://app.example/cb"),
                Err(Rejection::Page(_)) => {}
            }
        }
    }

    #[test]
    fn untrusted_client_or_redirect_gets_a_page() {
        assert!(error_code(validate(&params(&[], &[]), None)).starts_with("page:"));
        let mut disabled = client();
        disabled.enabled = false;
        assert!(error_code(validate(&params(&[], &[]), Some(disabled))).starts_with("page:"));
        for uri in [
            "https://app.example/cb/",
            "https://APP.example/cb",
            "https://app.example/cb?x",
            "https://app.example:443/cb",
        ] {
            let got = error_code(validate(
                &params(&[("redirect_uri", uri)], &["redirect_uri"]),
                Some(client()),
            ));
            assert!(got.starts_with("page:"), "{uri}: {got}");
        }
        let doubled = params(&[("redirect_uri", "https://app.example/cb")], &[]);
        assert!(error_code(validate(&doubled, Some(client()))).starts_with("page:"));
    }
}
