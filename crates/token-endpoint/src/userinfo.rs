//! `/userinfo` (OIDC Core §5.3): the claims about the signed-in user that the token's scopes
//! release. The access token comes in the `Authorization: Bearer` header or, for POST, the
//! `access_token` form field (RFC 6750 §2.1, §2.2) — never in the query (§2.3 is refused: URLs
//! end up in logs and Referer headers). A DPoP-bound token (RFC 9449 §7) comes only as
//! `Authorization: DPoP` with a proof of its key that carries its hash (`ath`); a bound token
//! presented as a bearer token is refused. Any failure is 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` (or `DPoP error="invalid_dpop_proof"`); a
//! token without `openid`, or about a client rather than a user, is 403 `insufficient_scope`.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use tessera_core::error::{TokenError, TokenErrorCode};

use crate::{
    TokenState, access,
    form::{Form, is_form_content_type},
    grants::unavailable,
    mint::userinfo_claims,
    token::{json_no_store, refuse},
};

fn bearer_challenge(status: actix_web::http::StatusCode, challenge: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, challenge.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn invalid_request(description: &str) -> HttpResponse {
    let mut response = refuse(
        "userinfo",
        None,
        &TokenError::new(TokenErrorCode::InvalidRequest, description),
        false,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(r#"Bearer error="invalid_request""#),
    );
    response
}

/// How the access token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `Authorization: Bearer`, or the form field.
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1).
    Dpop,
}

/// The token from the header, if any, and its scheme: `Some(Err)` for a malformed header.
fn header_token(req: &HttpRequest) -> Option<Result<(Scheme, String), ()>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let value = match value.to_str() {
        Ok(v) => v.trim(),
        Err(_) => return Some(Err(())),
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = match scheme {
        s if s.eq_ignore_ascii_case("bearer") => Scheme::Bearer,
        s if s.eq_ignore_ascii_case("dpop") => Scheme::Dpop,
        _ => return Some(Err(())),
    };
    if token.trim().is_empty() {
        return Some(Err(()));
    }
    Some(Ok((scheme, token.trim().to_owned())))
}

/// A DPoP refusal at this resource endpoint (RFC 9449 §7.1): 401 with a `DPoP` challenge, and a
/// fresh nonce when the server wants nonces.
fn dpop_refusal(state: &TokenState, error: &str, reason: &str) -> HttpResponse {
    tracing::info!(endpoint = "userinfo", error, reason, "request refused");
    let challenge = format!(r#"DPoP error="{error}", algs="ES256 RS256""#);
    let response = bearer_challenge(actix_web::http::StatusCode::UNAUTHORIZED, &challenge);
    crate::dpop::with_nonce(state, response, state.clock.now())
}

/// Whether the token's binding is honoured: an unbound token presented as a bearer token, or a
/// bound one as `DPoP` with a valid proof of its key carrying its hash.
async fn binding_holds(
    state: &TokenState,
    req: &HttpRequest,
    token: &str,
    scheme: Scheme,
    cnf: Option<&crate::mint::Confirmation>,
) -> Result<(), HttpResponse> {
    let Some(cnf) = cnf else {
        return match scheme {
            Scheme::Bearer => Ok(()),
            Scheme::Dpop => Err(dpop_refusal(
                state,
                "invalid_token",
                "unbound token as DPoP",
            )),
        };
    };
    if scheme == Scheme::Bearer {
        return Err(dpop_refusal(
            state,
            "invalid_token",
            "DPoP-bound token as bearer",
        ));
    }
    let url = state.minter.issuer().endpoint("/userinfo");
    let expected = crate::dpop::Expected {
        method: req.method().as_str(),
        url: &url,
        access_token: Some(token),
    };
    match crate::dpop::check(state, req, expected, state.clock.now()).await {
        Ok(Some(proof)) if proof.jkt == cnf.jkt => Ok(()),
        Ok(Some(_)) => Err(dpop_refusal(state, "invalid_dpop_proof", "another key")),
        Ok(None) => Err(dpop_refusal(state, "invalid_dpop_proof", "no proof")),
        Err(crate::dpop::ProofError::UseNonce) => {
            Err(dpop_refusal(state, "use_dpop_nonce", "nonce required"))
        }
        Err(crate::dpop::ProofError::Store(err)) => {
            Err(refuse("userinfo", None, &unavailable(&err), false))
        }
        Err(err) => Err(dpop_refusal(state, "invalid_dpop_proof", &err.to_string())),
    }
}

/// Whether the query names an `access_token` (RFC 6750 §2.3, refused here).
fn query_has_token(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"))
}

async fn answer(
    state: &TokenState,
    req: &HttpRequest,
    scheme: Scheme,
    token: &str,
) -> HttpResponse {
    let now = state.clock.now();
    let (claims, user) = match access::inspect(state, token, now).await {
        Err(err) => {
            let err = unavailable(&err);
            return refuse("userinfo", None, &err, false);
        }
        Ok(Err(reason)) => {
            let err = TokenError::new(TokenErrorCode::InvalidToken, "The access token is invalid.")
                .with_reason(reason.to_string());
            return refuse("userinfo", None, &err, false);
        }
        // A token for a resource server (RFC 8707) is not for this endpoint.
        Ok(Ok(live)) if live.claims.aud != state.minter.issuer().as_str() => {
            let err = TokenError::new(
                TokenErrorCode::InvalidToken,
                "The access token is for another resource.",
            )
            .with_reason(format!("audience {}", live.claims.aud));
            return refuse("userinfo", None, &err, false);
        }
        Ok(Ok(access::Live { claims, user })) => (claims, user),
    };
    if let Err(response) = binding_holds(state, req, token, scheme, claims.cnf.as_ref()).await {
        return response;
    }
    let scopes = claims.scopes();
    match user {
        // The checks found the user there and enabled.
        Some(user) if scopes.iter().any(|s| s == "openid") => {
            json_no_store(&userinfo_claims(&user, &scopes))
        }
        // No openid scope, or a client's own token: no user to describe.
        _ => bearer_challenge(
            actix_web::http::StatusCode::FORBIDDEN,
            r#"Bearer error="insufficient_scope", scope="openid""#,
        ),
    }
}

/// `GET /userinfo`.
pub async fn get_userinfo(state: web::Data<TokenState>, req: HttpRequest) -> HttpResponse {
    if query_has_token(&req) {
        return invalid_request("Send the access token in the Authorization header.");
    }
    match header_token(&req) {
        None => bearer_challenge(actix_web::http::StatusCode::UNAUTHORIZED, "Bearer"),
        Some(Err(())) => invalid_request("The Authorization header is not a bearer token."),
        Some(Ok((scheme, token))) => answer(&state, &req, scheme, &token).await,
    }
}

/// `POST /userinfo`.
pub async fn post_userinfo(
    state: web::Data<TokenState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if query_has_token(&req) {
        return invalid_request("Send the access token in the Authorization header.");
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body_token = if is_form_content_type(content_type) {
        match Form::parse_body(&body) {
            Ok(form) => form.get("access_token").map(str::to_owned),
            Err(err) => return refuse("userinfo", None, &err, false),
        }
    } else {
        None
    };
    match (header_token(&req), body_token) {
        (Some(_), Some(_)) => invalid_request("Send the access token one way only."),
        (Some(Err(())), None) => invalid_request("The Authorization header is not a bearer token."),
        (Some(Ok((scheme, token))), None) => answer(&state, &req, scheme, &token).await,
        (None, Some(token)) => answer(&state, &req, Scheme::Bearer, &token).await,
        (None, None) => bearer_challenge(actix_web::http::StatusCode::UNAUTHORIZED, "Bearer"),
    }
}
