//! The provider metadata document.

use actix_web::{HttpResponse, http::header, web};
use serde::Serialize;
use tessera_core::authorization_request::ResponseMode;
use tessera_core::{
    SigningAlg,
    grant_type::{GrantType, ResponseType},
};

use crate::Discovery;

/// Authorization server metadata (RFC 8414 §2) with the OpenID Provider fields of OIDC
/// Discovery 1.0 §3. Absent optional fields are omitted, never sent as `null`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// The issuer, byte for byte as configured.
    pub issuer: String,
    /// OIDC Discovery REQUIRED; see docs/decisions/0003 for what it answers before the
    /// authorization endpoint lands in full.
    pub authorization_endpoint: String,
    /// The JWKS.
    pub jwks_uri: String,
    /// OIDC Discovery REQUIRED: `["code"]`, the only response type Tessera will issue.
    pub response_types_supported: Vec<String>,
    /// OIDC Discovery REQUIRED: `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// OIDC Discovery REQUIRED: the algorithms of the keys in the JWKS.
    pub id_token_signing_alg_values_supported: Vec<SigningAlg>,
    /// RFC 9207 §3: whether `iss` is in every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 7591 §3: the dynamic client registration endpoint (needs an initial access token).
    pub registration_endpoint: String,
    /// RFC 7636: `["S256"]`; `plain` is refused.
    pub code_challenge_methods_supported: Vec<String>,
    /// `["query"]`.
    pub response_modes_supported: Vec<String>,
    /// Scopes every client may be allowed.
    pub scopes_supported: Vec<String>,
    /// OIDC Prompt Create / Core §3.1.2.1 values understood.
    pub prompt_values_supported: Vec<String>,
    /// OpenID RP-Initiated Logout 1.0.
    pub end_session_endpoint: String,
    /// OIDC Discovery §3: request objects by value are not accepted (the default is true).
    pub request_parameter_supported: bool,
    /// OIDC Discovery §3: request objects by reference are not accepted (the default is true,
    /// so it must be said).
    pub request_uri_parameter_supported: bool,
    /// RFC 9126 §5: where pushed authorization requests are sent.
    pub pushed_authorization_request_endpoint: String,
    /// RFC 9126 §5: whether `/authorize` takes only pushed requests (`TESSERA_REQUIRE_PAR`).
    pub require_pushed_authorization_requests: bool,
    /// OIDC Discovery §3: the claims Tessera may supply about a user (subject and token
    /// bookkeeping, and what the `profile` and `email` scopes select).
    pub claims_supported: Vec<String>,
    /// OIDC Discovery §3: the authentication context classes (`acr`) Tessera signs users in
    /// with: `pwd` (a password) and, unless second factors are off, `mfa` (a password and a
    /// second factor; asked for with `acr_values=mfa`).
    pub acr_values_supported: Vec<String>,
    /// RFC 6749 §3.2: where codes, refresh tokens, client credentials and assertions are
    /// exchanged for tokens.
    pub token_endpoint: String,
    /// The grants `/token` accepts (RFC 8414 §2).
    pub grant_types_supported: Vec<String>,
    /// RFC 8628 §4: where devices ask for a device code and a user code.
    pub device_authorization_endpoint: String,
    /// RFC 9449 §5.1: the algorithms of the DPoP proofs accepted.
    pub dpop_signing_alg_values_supported: Vec<SigningAlg>,
    /// How clients authenticate at `/token`, `/revoke` and `/introspect`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Algorithms of `private_key_jwt` client assertions.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<SigningAlg>,
    /// OIDC Core §5.3: claims about the signed-in user.
    pub userinfo_endpoint: String,
    /// RFC 7009: token revocation.
    pub revocation_endpoint: String,
    /// RFC 8414 §2: how clients authenticate at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7662: token introspection.
    pub introspection_endpoint: String,
    /// RFC 8414 §2: how clients authenticate at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
}

impl ProviderMetadata {
    /// The document for `issuer` (which has no trailing slash: config validation ensures it).
    pub fn for_issuer(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{issuer}/authorize"),
            jwks_uri: format!("{issuer}/jwks.json"),
            response_types_supported: ResponseType::ALL
                .map(|response| response.as_str().to_owned())
                .to_vec(),
            subject_types_supported: vec!["public".into()],
            id_token_signing_alg_values_supported: SigningAlg::ALL.to_vec(),
            authorization_response_iss_parameter_supported: true,
            registration_endpoint: format!("{issuer}/register"),
            code_challenge_methods_supported: vec!["S256".into()],
            response_modes_supported: ResponseMode::ALL
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            scopes_supported: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            prompt_values_supported: ["none", "login", "consent", "select_account"]
                .map(String::from)
                .to_vec(),
            end_session_endpoint: format!("{issuer}/logout"),
            pushed_authorization_request_endpoint: format!("{issuer}/par"),
            require_pushed_authorization_requests: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            claims_supported: [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "amr",
                "nonce",
                "azp",
                "at_hash",
                "name",
                "preferred_username",
                "email",
                "email_verified",
            ]
            .map(String::from)
            .to_vec(),
            acr_values_supported: tessera_core::amr::ACR_VALUES_SUPPORTED
                .map(String::from)
                .to_vec(),
            token_endpoint: format!("{issuer}/token"),
            grant_types_supported: GrantType::ALL
                .map(|grant| grant.as_str().to_owned())
                .to_vec(),
            device_authorization_endpoint: format!("{issuer}/device_authorization"),
            dpop_signing_alg_values_supported: SigningAlg::ALL.to_vec(),
            token_endpoint_auth_methods_supported: auth_methods(true),
            token_endpoint_auth_signing_alg_values_supported: SigningAlg::ALL.to_vec(),
            userinfo_endpoint: format!("{issuer}/userinfo"),
            revocation_endpoint: format!("{issuer}/revoke"),
            revocation_endpoint_auth_methods_supported: auth_methods(true),
            introspection_endpoint: format!("{issuer}/introspect"),
            // Introspection answers resource servers about other clients' tokens: a public
            // client (no authentication) may not ask.
            introspection_endpoint_auth_methods_supported: auth_methods(false),
        }
    }

    /// The same, with the `acr` values a server whose second factors are off (`offered` false)
    /// can give: `pwd` only.
    pub fn offering_mfa(mut self, offered: bool) -> Self {
        if !offered {
            self.acr_values_supported
                .retain(|v| v != tessera_core::amr::ACR_MFA);
        }
        self
    }

    /// The same, saying whether only pushed authorization requests are accepted.
    pub fn requiring_par(mut self, required: bool) -> Self {
        self.require_pushed_authorization_requests = required;
        self
    }
}

fn auth_methods(with_public: bool) -> Vec<String> {
    let mut methods: Vec<String> = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    .map(String::from)
    .to_vec();
    if with_public {
        methods.push("none".into());
    }
    methods
}

fn respond(discovery: &Discovery) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(discovery.body.to_vec())
}

/// `GET /.well-known/openid-configuration`.
pub async fn get_openid_configuration(discovery: web::Data<Discovery>) -> HttpResponse {
    respond(&discovery)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3; same document).
pub async fn get_oauth_metadata(discovery: web::Data<Discovery>) -> HttpResponse {
    respond(&discovery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_document_snapshot() {
        insta::assert_json_snapshot!(ProviderMetadata::for_issuer("https://id.example.com"));
    }
}
