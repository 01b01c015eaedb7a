//! `/signup`: optional self-registration (name, email, password), off unless
//! `TESSERA_SELF_REGISTRATION=true`. The email is the username. A new account is signed in at
//! once and sent on to its local `return_to` (typically the authorization request it came from).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use tessera_core::{
    Subject,
    password::hash_password,
    secret::random_id,
    store::{StoreError, UserRecord},
};
use tessera_web::{
    audit::Audit,
    csrf::{CsrfToken, csrf_valid},
};

use crate::{
    authorize::continuation_target,
    login::{LoginState, continuing, encode, safe_return, start_sessions},
};

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    csrf_token: &'a str,
    return_to: &'a str,
    return_to_encoded: String,
    name: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

/// `GET /signup` parameters.
#[derive(Debug, Deserialize)]
pub struct SignupQuery {
    return_to: Option<String>,
}

/// `POST /signup` form.
#[derive(Debug, Deserialize)]
pub struct SignupForm {
    csrf_token: Option<String>,
    return_to: Option<String>,
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

fn disabled() -> HttpResponse {
    tessera_web::html_error(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address.",
        None,
    )
}

/// `GET /signup`.
pub async fn get_signup(
    query: web::Query<SignupQuery>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
) -> HttpResponse {
    if !state.self_registration {
        return disabled();
    }
    let return_to = safe_return(query.return_to.as_deref());
    let page = SignupPage {
        csrf_token: &csrf.0,
        return_to,
        return_to_encoded: encode(return_to),
        name: "",
        email: "",
        error: None,
    };
    let response = tessera_web::html_page(StatusCode::OK, page.render());
    continuing(
        state.requests.as_ref(),
        state.clock.as_ref(),
        return_to,
        response,
    )
    .await
}

/// A plausible email address: one `@`, something on both sides, a dot in the domain, no spaces.
fn plausible_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `POST /signup`.
pub async fn post_signup(
    req: HttpRequest,
    form: web::Form<SignupForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
) -> HttpResponse {
    if !state.self_registration {
        return disabled();
    }
    let return_to = safe_return(form.return_to.as_deref()).to_owned();
    let name = form.name.as_deref().unwrap_or_default().trim().to_owned();
    let email = form
        .email
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let target = continuation_target(state.requests.as_ref(), &return_to, state.clock.now()).await;
    let page = |error: &str, status| {
        let page = SignupPage {
            csrf_token: &csrf.0,
            return_to: &return_to,
            return_to_encoded: encode(&return_to),
            name: &name,
            email: &email,
            error: Some(error),
        };
        let response = tessera_web::html_page(status, page.render());
        match &target {
            Some(target) => tessera_web::allow_form_target(response, target),
            None => response,
        }
    };
    if !csrf_valid(&req, form.csrf_token.as_deref()) {
        return page(
            "Your session expired; please try again.",
            StatusCode::FORBIDDEN,
        );
    }
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return page(
            "Please give your name (up to 200 characters).",
            StatusCode::BAD_REQUEST,
        );
    }
    if !plausible_email(&email) {
        return page(
            "Please give a valid email address.",
            StatusCode::BAD_REQUEST,
        );
    }
    let password = form.password.clone().unwrap_or_default();
    let Some(slot) = state.hashes.enter() else {
        return page(
            "Sign-up is busy right now; please try again in a moment.",
            StatusCode::SERVICE_UNAVAILABLE,
        );
    };
    let hash = match state
        .hashes
        .run(slot, move || hash_password(&password))
        .await
    {
        Some(Ok(hash)) => hash,
        Some(Err(err)) => return page(&err.to_string(), StatusCode::BAD_REQUEST),
        None => return page("Please try again.", StatusCode::SERVICE_UNAVAILABLE),
    };
    let user = UserRecord {
        id: Subject::new(random_id()),
        username: email.clone(),
        password_hash: hash,
        email: Some(email.clone()),
        email_verified: false,
        name: Some(name.clone()),
        is_admin: false,
        enabled: true,
        created_at: state.clock.now(),
    };
    match state.users.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return page(
                "An account with this email exists already; sign in instead.",
                StatusCode::CONFLICT,
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "signup: user could not be stored");
            return page("Please try again shortly.", StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let audit = Audit {
        actor: Some(user.id.to_string()),
        user_id: Some(user.id.as_str()),
        details: Some(json!({ "email": email })),
        ..Audit::new(tessera_core::AuditKind::UserRegistered)
    };
    tessera_web::audit::record(state.audit.as_ref(), &req, state.clock.now(), audit).await;
    match start_sessions(&state, &req, &user, &return_to).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "signup: session could not be stored");
            page(
                "Your account exists; please sign in.",
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plausible_emails() {
        for ok in ["a@example.com", "first.last+tag@sub.example.org"] {
            assert!(super::plausible_email(ok), "{ok}");
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
        ] {
            assert!(!super::plausible_email(bad), "{bad}");
        }
    }
}
