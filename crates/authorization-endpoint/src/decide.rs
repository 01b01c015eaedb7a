//! The authorization endpoint's decisions as plain functions over what was asked and who is
//! signed in — no HTTP, no store. [`crate::authorize`] gathers the inputs, calls these, and acts
//! on the answer.

use chrono::{DateTime, Duration, Utc};

use crate::request::AuthorizeRequest;

/// Who is signed in, as far as a decision needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Their subject.
    pub sub: &'a str,
    /// When they entered their password.
    pub auth_time: DateTime<Utc>,
    /// Whether the factors they signed in with will do for this request
    /// (`tessera_core::amr::session_will_do`: a second factor the policy, an admin or the
    /// request's `acr_values` asks for).
    pub will_do: bool,
}

/// Whether a sign-in at `auth_time` satisfies `request`, which arrived at `arrived`: with
/// `prompt=login` the sign-in must be after the request arrived; with `max_age`, no older than
/// `max_age` seconds before it (OIDC Core §3.1.2.1, compared exactly: `max_age=0` asks again).
pub fn sign_in_satisfies(
    request: &AuthorizeRequest,
    auth_time: DateTime<Utc>,
    arrived: DateTime<Utc>,
) -> bool {
    if request.prompt_login && auth_time < arrived {
        return false;
    }
    request
        .max_age
        .is_none_or(|max| arrived - auth_time <= Duration::seconds(max) || auth_time >= arrived)
}

/// What a fresh authorization request needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInStep {
    /// The signed-in user will do: on to consent.
    Proceed,
    /// Nobody suitable is signed in and `prompt=none` forbids asking: `login_required`.
    LoginRequired,
    /// Ask for a sign-in.
    SignIn,
}

/// The step for a request arriving `now`: a signed-in user proceeds unless `prompt=login`
/// (which always asks again), `max_age` finds the sign-in too old, an `id_token_hint` names
/// someone else (`hinted`, OIDC Core §3.1.2.1), or the sign-in lacks a second factor that is
/// asked for (step-up).
pub fn sign_in_step(
    request: &AuthorizeRequest,
    signed: Option<Signed<'_>>,
    hinted: Option<&str>,
    now: DateTime<Utc>,
) -> SignInStep {
    match signed {
        Some(user)
            if !request.prompt_login
                && user.will_do
                && sign_in_satisfies(request, user.auth_time, now)
                && hinted.is_none_or(|sub| sub == user.sub) =>
        {
            SignInStep::Proceed
        }
        _ if request.prompt_none => SignInStep::LoginRequired,
        _ => SignInStep::SignIn,
    }
}

/// What consent a request needs, given the scopes the user allowed the client before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStep {
    /// Every scope was allowed before (and `prompt=consent` was not asked): issue a code.
    Remembered,
    /// The user must be asked, but `prompt=none` forbids it: `consent_required`.
    Required,
    /// Show the consent page.
    Ask,
}

/// The consent step for `request` when the user allowed `granted` before.
pub fn consent_step(request: &AuthorizeRequest, granted: &[String]) -> ConsentStep {
    let covered = request.scopes.iter().all(|scope| granted.contains(scope));
    match (covered && !request.prompt_consent, request.prompt_none) {
        (true, _) => ConsentStep::Remembered,
        (false, true) => ConsentStep::Required,
        (false, false) => ConsentStep::Ask,
    }
}

/// The scopes remembered after the user approves `requested`: what was allowed before, then the
/// new ones in request order.
pub fn remembered_after_approval(mut granted: Vec<String>, requested: &[String]) -> Vec<String> {
    for scope in requested {
        if !granted.contains(scope) {
            granted.push(scope.clone());
        }
    }
    granted
}

/// The consent form's buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Allow.
    Approve,
    /// Deny.
    Deny,
}

/// `POST /authorize/decision`: the pending request's handle and the button pressed (each once;
/// the CSRF token is checked by `tessera_web::form::CsrfForm`).
#[derive(Debug, serde::Deserialize)]
pub struct DecisionForm {
    /// The pending request's handle.
    pub request: String,
    /// The button.
    pub decision: Decision,
}

#[cfg(test)]
mod tests {
    use tessera_core::{ClientId, store::ClientRecord};

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + seconds, 0).unwrap()
    }

    fn request(scopes: &[&str]) -> AuthorizeRequest {
        AuthorizeRequest {
            client: ClientRecord::empty(ClientId::new("web"), at(0)),
            redirect_uri: "https://app.example/cb".into(),
            state: None,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            nonce: None,
            code_challenge: None,
            prompt_none: false,
            prompt_login: false,
            prompt_consent: false,
            max_age: None,
            login_hint: None,
            id_token_hint: None,
            response_mode: Default::default(),
            resource: None,
            dpop_jkt: None,
            acr_mfa: false,
        }
    }

    fn alice(auth_time: DateTime<Utc>) -> Option<Signed<'static>> {
        Some(Signed {
            sub: "alice",
            auth_time,
            will_do: true,
        })
    }

    #[test]
    fn a_signed_in_user_proceeds_unless_the_request_asks_for_more() {
        let plain = request(&["openid"]);
        let now = at(1000);
        assert_eq!(
            sign_in_step(&plain, alice(at(0)), None, now),
            SignInStep::Proceed
        );
        assert_eq!(sign_in_step(&plain, None, None, now), SignInStep::SignIn);
        // Someone else named by the hint: sign in again.
        let hinted = sign_in_step(&plain, alice(at(0)), Some("bob"), now);
        assert_eq!(hinted, SignInStep::SignIn);
        let same = sign_in_step(&plain, alice(at(0)), Some("alice"), now);
        assert_eq!(same, SignInStep::Proceed);
        // prompt=login on a fresh request: always ask.
        let login = AuthorizeRequest {
            prompt_login: true,
            ..request(&["openid"])
        };
        assert_eq!(
            sign_in_step(&login, alice(now), None, now),
            SignInStep::SignIn
        );
        // prompt=none: never ask; say so.
        let none = AuthorizeRequest {
            prompt_none: true,
            ..request(&["openid"])
        };
        assert_eq!(
            sign_in_step(&none, None, None, now),
            SignInStep::LoginRequired
        );
        assert_eq!(
            sign_in_step(&none, alice(at(0)), None, now),
            SignInStep::Proceed
        );
        // A sign-in without the second factor asked for: sign in again, or say so.
        let password_only = Some(Signed {
            will_do: false,
            ..alice(at(0)).unwrap()
        });
        assert_eq!(
            sign_in_step(&plain, password_only, None, now),
            SignInStep::SignIn
        );
        assert_eq!(
            sign_in_step(&none, password_only, None, now),
            SignInStep::LoginRequired
        );
    }

    #[test]
    fn max_age_is_compared_exactly() {
        let aged = |max| AuthorizeRequest {
            max_age: Some(max),
            ..request(&["openid"])
        };
        let arrived = at(1000);
        assert!(sign_in_satisfies(&aged(100), at(900), arrived));
        assert!(!sign_in_satisfies(&aged(100), at(899), arrived));
        // max_age=0: only a sign-in after the request arrived.
        assert!(!sign_in_satisfies(&aged(0), at(999), arrived));
        assert!(sign_in_satisfies(&aged(0), at(1000), arrived));
        // prompt=login when resuming: the sign-in must come after the request.
        let login = AuthorizeRequest {
            prompt_login: true,
            ..request(&["openid"])
        };
        assert!(!sign_in_satisfies(&login, at(999), arrived));
        assert!(sign_in_satisfies(&login, at(1001), arrived));
    }

    #[test]
    fn consent_is_remembered_only_for_scopes_allowed_before() {
        let granted = vec!["openid".to_owned(), "profile".to_owned()];
        let asked = request(&["openid", "profile"]);
        assert_eq!(consent_step(&asked, &granted), ConsentStep::Remembered);
        let more = request(&["openid", "email"]);
        assert_eq!(consent_step(&more, &granted), ConsentStep::Ask);
        let again = AuthorizeRequest {
            prompt_consent: true,
            ..request(&["openid"])
        };
        assert_eq!(consent_step(&again, &granted), ConsentStep::Ask);
        let silent = AuthorizeRequest {
            prompt_none: true,
            ..request(&["email"])
        };
        assert_eq!(consent_step(&silent, &granted), ConsentStep::Required);
        assert_eq!(
            remembered_after_approval(granted, &more.scopes),
            ["openid", "profile", "email"]
        );
    }

    #[test]
    fn the_decision_form_is_one_handle_and_one_known_button() {
        let read = |body: &str| serde_urlencoded::from_str::<DecisionForm>(body);
        let form = read("request=tsq_1&decision=deny&csrf_token=t").unwrap();
        assert_eq!(
            (form.request.as_str(), form.decision),
            ("tsq_1", Decision::Deny)
        );
        assert!(read("request=tsq_1&decision=maybe").is_err());
        assert!(read("request=tsq_1&decision=deny&decision=approve").is_err());
        assert!(read("request=tsq_1&request=tsq_2&decision=deny").is_err());
        assert!(read("decision=approve").is_err());
    }
}
