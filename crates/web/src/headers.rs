//! Security headers on every response (set only where a handler did not set its own), and the
//! per-page policy of pages whose form ends in a redirect to a client.
//!
//! Chromium and WebKit apply `form-action` to every redirect that follows a form submission, so
//! a consent, sign-in or sign-out page whose POST answers with a redirect to the client must
//! allow that client's origin — and only it (docs/decisions/0008).

use actix_web::{HttpResponse, http::header, middleware::DefaultHeaders};
use url::Url;

/// `Content-Security-Policy` for everything Tessera serves: its own resources only (styles too:
/// one stylesheet, nothing inline), no framing (clickjacking on login/consent, RFC 6819
/// §4.4.1.9), forms only to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `Strict-Transport-Security` with an https issuer: two years, subdomains included.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// The middleware that adds the headers; `https` adds HSTS.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"));
    if https {
        headers.add(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    } else {
        headers
    }
}

/// The CSP source that matches redirects to `target`: its origin for http(s) URLs
/// (`https://app.example:8443`), the scheme for a private-use URI (`com.example.app:`).
/// An IPv6 literal can not be written as a CSP host, so it falls back to its scheme.
pub fn form_target_source(target: &str) -> Option<String> {
    let url = Url::parse(target).ok()?;
    match url.scheme() {
        "http" | "https" => match url.host()? {
            url::Host::Ipv6(_) => Some(format!("{}:", url.scheme())),
            host => Some(match url.port() {
                Some(port) => format!("{}://{host}:{port}", url.scheme()),
                None => format!("{}://{host}", url.scheme()),
            }),
        },
        // A private-use scheme (RFC 8252 §7.1); never `javascript:` or `data:`, which the
        // registry refuses as redirect URIs anyway.
        scheme if !matches!(scheme, "javascript" | "data" | "blob" | "file") => {
            Some(format!("{scheme}:"))
        }
        _ => None,
    }
}

/// The page policy for a form whose submission may redirect to `target`.
pub fn policy_allowing_form_target(target: &str) -> String {
    match form_target_source(target) {
        Some(source) => CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'",
            &format!("form-action 'self' {source}"),
        ),
        None => CONTENT_SECURITY_POLICY.to_owned(),
    }
}

/// The policy of a form-post response page (OAuth 2.0 Form Post Response Mode): its one form
/// may post to `target`'s origin, and its one inline script — the one whose SHA-256 is
/// `script_sha256` (base64) — may run; nothing else.
pub fn policy_for_form_post(target: &str, script_sha256: &str) -> String {
    policy_allowing_form_target(target).replace(
        "default-src 'none';",
        &format!("default-src 'none'; script-src 'sha256-{script_sha256}';"),
    )
}

/// Sets `response`'s policy so that its form may redirect to `target` (see the module docs).
pub fn allow_form_target(mut response: HttpResponse, target: &str) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(&policy_allowing_form_target(target)) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// What a page that runs Tessera's own script (`/passkey.js`) adds to its policy: scripts and
/// `fetch` from this origin only — never inline script, never another origin.
pub const OWN_SCRIPT_SOURCES: &str = "script-src 'self'; connect-src 'self';";

/// Lets `response`'s page run Tessera's own scripts ([`OWN_SCRIPT_SOURCES`]), on top of whatever
/// policy it has (the default one when it has none yet).
pub fn allow_own_script(mut response: HttpResponse) -> HttpResponse {
    let current = response
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(CONTENT_SECURITY_POLICY)
        .to_owned();
    if current.contains(OWN_SCRIPT_SOURCES) {
        return response;
    }
    let policy = current.replacen(
        "default-src 'none';",
        &format!("default-src 'none'; {OWN_SCRIPT_SOURCES}"),
        1,
    );
    if let Ok(value) = header::HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_script_is_added_to_whatever_policy_a_page_has() {
        let plain = allow_own_script(HttpResponse::Ok().finish());
        let policy = plain
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(policy.starts_with("default-src 'none'; script-src 'self'; connect-src 'self';"));
        assert!(policy.contains("form-action 'self';"));
        let continuing = allow_form_target(HttpResponse::Ok().finish(), "https://app.example/cb");
        let both = allow_own_script(continuing);
        let policy = both
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(
            policy.contains("form-action 'self' https://app.example"),
            "{policy}"
        );
        let twice = allow_own_script(both);
        let again = twice
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(again.matches("script-src").count(), 1);
    }

    #[test]
    fn the_form_target_is_the_redirect_origin_and_nothing_wider() {
        let cases = [
            (
                "http://127.0.0.1:9000/cb?x=1",
                Some("http://127.0.0.1:9000"),
            ),
            ("https://app.example/callback", Some("https://app.example")),
            (
                "https://app.example:8443/cb",
                Some("https://app.example:8443"),
            ),
            ("http://[::1]:8400/cb", Some("http:")),
            ("com.example.app:/oauth2redirect", Some("com.example.app:")),
            ("javascript:alert(1)", None),
            ("not a url", None),
        ];
        for (target, source) in cases {
            assert_eq!(form_target_source(target).as_deref(), source, "{target}");
        }
        let policy = policy_allowing_form_target("https://app.example/cb");
        assert!(
            policy.contains("form-action 'self' https://app.example;"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"));
        assert_eq!(
            policy_allowing_form_target("nonsense"),
            CONTENT_SECURITY_POLICY
        );
        let post = policy_for_form_post("https://app.example/cb", "abc=");
        assert!(
            post.starts_with("default-src 'none'; script-src 'sha256-abc=';"),
            "{post}"
        );
        assert!(
            post.contains("form-action 'self' https://app.example;"),
            "{post}"
        );
    }
}
