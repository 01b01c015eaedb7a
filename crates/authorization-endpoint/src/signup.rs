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
    login::{LoginState, continuing, encode, safe_return},
    second_factor::after_password,
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

/// Why a sign-up created no account (or could not sign the new one in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupRefusal {
    /// The form's CSRF token is missing or wrong.
    Expired,
    /// No name, or one too long or with control characters.
    Name,
    /// Not a plausible email address.
    Email,
    /// Every password-hash slot is taken.
    Busy,
    /// The password breaks the rule (its words).
    Password(String),
    /// An account with this email exists.
    Taken,
    /// The store failed before the account was made.
    Unavailable,
    /// The account was made, but the session could not be stored.
    NotSignedIn,
}

impl SignupRefusal {
    /// What the sign-up page says.
    pub fn message(&self) -> &str {
        match self {
            Self::Expired => "Your session expired; please try again.",
            Self::Name => "Please give your name (up to 200 characters).",
            Self::Email => "Please give a valid email address.",
            Self::Busy => "Sign-up is busy right now; please try again in a moment.",
            Self::Password(words) => words,
            Self::Taken => "An account with this email exists already; sign in instead.",
            Self::Unavailable => "Please try again shortly.",
            Self::NotSignedIn => "Your account exists; please sign in.",
        }
    }

    /// The page's status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Expired => StatusCode::FORBIDDEN,
            Self::Name | Self::Email | Self::Password(_) => StatusCode::BAD_REQUEST,
            Self::Taken => StatusCode::CONFLICT,
            Self::Busy | Self::Unavailable | Self::NotSignedIn => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The name and email as kept (trimmed; the email lower-cased), or why they are refused.
pub fn check_details(name: &str, email: &str) -> Result<(String, String), SignupRefusal> {
    let name = name.trim();
    let email = email.trim().to_lowercase();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(SignupRefusal::Name);
    }
    if !tessera_core::email_address::plausible(&email) {
        return Err(SignupRefusal::Email);
    }
    Ok((name.to_owned(), email))
}

/// Creates the account (the email is the username); audits it.
async fn register(
    state: &LoginState,
    req: &HttpRequest,
    name: String,
    email: String,
    password: String,
) -> Result<UserRecord, SignupRefusal> {
    let slot = state.hashes.enter().ok_or(SignupRefusal::Busy)?;
    let hash = match state
        .hashes
        .run(slot, move || hash_password(&password))
        .await
    {
        Some(Ok(hash)) => hash,
        Some(Err(err)) => return Err(SignupRefusal::Password(err.to_string())),
        None => return Err(SignupRefusal::Unavailable),
    };
    let user = UserRecord {
        id: Subject::new(random_id()),
        username: email.clone(),
        password_hash: hash,
        email: Some(email.clone()),
        email_verified: false,
        name: Some(name),
        is_admin: false,
        enabled: true,
        mfa_required: false,
        created_at: state.clock.now(),
    };
    match state.users.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Err(SignupRefusal::Taken),
        Err(err) => {
            tracing::error!(error = %err, "signup: user could not be stored");
            return Err(SignupRefusal::Unavailable);
        }
    }
    let audit = Audit {
        actor: Some(user.id.to_string()),
        user_id: Some(user.id.as_str()),
        details: Some(json!({ "email": email })),
        ..Audit::new(tessera_core::AuditKind::UserRegistered)
    };
    tessera_web::audit::record(state.audit.as_ref(), req, state.clock.now(), audit).await;
    Ok(user)
}

/// `POST /signup`.
pub async fn post_signup(
    req: HttpRequest,
    form: web::Form<SignupForm>,
    csrf: CsrfToken,
    state: web::Data<LoginState>,
    mail: web::Data<crate::mail::EmailState>,
) -> HttpResponse {
    if !state.self_registration {
        return disabled();
    }
    let return_to = safe_return(form.return_to.as_deref());
    let name = form.name.as_deref().unwrap_or_default();
    let email = form.email.as_deref().unwrap_or_default();
    let checked = match csrf_valid(&req, form.csrf_token.as_deref()) {
        true => check_details(name, email),
        false => Err(SignupRefusal::Expired),
    };
    let registered = match checked {
        Ok((name, email)) => {
            let password = form.password.clone().unwrap_or_default();
            register(&state, &req, name, email, password).await
        }
        Err(refusal) => Err(refusal),
    };
    let refusal = match registered {
        // A new account has no second factor: where the policy requires one, it is added next.
        // Its address is unconfirmed until the mailed link is used.
        Ok(user) => match after_password(&state, &req, &user, return_to).await {
            Ok((response, _)) => {
                let clock = state.clock.as_ref();
                let sent = crate::email_verification::send_verification(&mail, clock, &user);
                if let Err(err) = sent.await {
                    tracing::warn!(error = %err, "signup: confirmation link not sent");
                }
                return response;
            }
            Err(err) => {
                tracing::error!(error = %err, "signup: session could not be stored");
                SignupRefusal::NotSignedIn
            }
        },
        Err(refusal) => refusal,
    };
    let shown = (name.trim(), email.trim().to_lowercase());
    refused(&state, &csrf, return_to, (shown.0, &shown.1), &refusal).await
}

/// The sign-up page again, with what was typed and why it was refused.
async fn refused(
    state: &LoginState,
    csrf: &CsrfToken,
    return_to: &str,
    (name, email): (&str, &str),
    refusal: &SignupRefusal,
) -> HttpResponse {
    let page = SignupPage {
        csrf_token: &csrf.0,
        return_to,
        return_to_encoded: encode(return_to),
        name,
        email,
        error: Some(refusal.message()),
    };
    let response = tessera_web::html_page(refusal.status(), page.render());
    continuing(
        state.requests.as_ref(),
        state.clock.as_ref(),
        return_to,
        response,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::{SignupRefusal, check_details};

    #[test]
    fn details_are_trimmed_lower_cased_and_checked() {
        assert_eq!(
            check_details("  Ada  ", " Ada@Example.COM "),
            Ok(("Ada".into(), "ada@example.com".into()))
        );
        assert_eq!(
            check_details("   ", "a@example.com"),
            Err(SignupRefusal::Name)
        );
        assert_eq!(
            check_details(&"n".repeat(201), "a@example.com"),
            Err(SignupRefusal::Name)
        );
        assert_eq!(
            check_details("bell\u{7}", "a@example.com"),
            Err(SignupRefusal::Name)
        );
        assert_eq!(
            check_details("Ada", "ada@localhost"),
            Err(SignupRefusal::Email)
        );
        let taken = SignupRefusal::Taken;
        assert_eq!(
            (taken.status().as_u16(), taken.message().contains("sign in")),
            (409, true)
        );
    }
}
