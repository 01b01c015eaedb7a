//! `grant_type=client_credentials` (RFC 6749 §4.4): a token about the client itself, within
//! the client's registered scopes (user scopes such as `openid` never apply), no refresh token
//! (§4.4.3). Nothing is written to the database: the access token is a self-contained JWT, and
//! revocation is the denylist checked where tokens are verified.

use tessera_core::{
    error::{TokenError, TokenErrorCode},
    store::ClientAuthMethod,
};

use super::{GrantRequest, access_token_only};
use crate::{
    TokenState,
    mint::{AccessTokenSubject, TokenResponse},
    scope,
};

/// Issues a token to the client on its own behalf.
pub fn exchange(
    state: &TokenState,
    request: &GrantRequest<'_>,
) -> Result<TokenResponse, TokenError> {
    let GrantRequest { client, form, now } = *request;
    if client.token_endpoint_auth_method == ClientAuthMethod::None {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            "A public client cannot use client_credentials.",
        ));
    }
    let allowed = scope::client_scopes(client);
    let scopes = scope::within(form.get("scope"), &allowed, &allowed)?;
    access_token_only(
        state,
        client,
        &AccessTokenSubject {
            subject: client.client_id.as_str(),
            scopes: &scopes,
            auth_time: None,
            grant: None,
        },
        now,
    )
}
