//! `grant_type=client_credentials` (RFC 6749 §4.4): a token about the client itself, within
//! the client's registered scopes (user scopes such as `openid` never apply), no refresh token
//! (§4.4.3), for the `resource` it names (RFC 8707). Nothing is written to the database, and
//! nothing read from it on the common path: the access token is a self-contained JWT,
//! revocation is the denylist checked where tokens are verified, and the resource servers are
//! kept in memory (`crate::resources`).

use tessera_core::{
    error::{TokenError, TokenErrorCode},
    store::ClientAuthMethod,
};

use super::{GrantRequest, access_token_only};
use crate::{TokenState, mint::TokenResponse, scope};

/// Issues a token to the client on its own behalf.
pub async fn exchange(
    state: &TokenState,
    request: &GrantRequest<'_>,
) -> Result<TokenResponse, TokenError> {
    let GrantRequest { client, form, .. } = *request;
    if client.token_endpoint_auth_method == ClientAuthMethod::None {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            "A public client cannot use client_credentials.",
        ));
    }
    let allowed = scope::client_scopes(client);
    let scopes = scope::within(form.get("scope"), &allowed, &allowed)?;
    access_token_only(state, request, client.client_id.as_str(), &scopes, None).await
}
