//! `/device`: where a user allows a device (RFC 8628 §3.3). Signed in, they type the user code
//! the device shows (or arrive with it from `verification_uri_complete`, which only fills the
//! field: the code is still confirmed), see which app asks for what, and allow or deny. Plain
//! forms, no JavaScript.
//!
//! The code is short, so every entry is counted before it is looked up
//! (`tessera_core::device::admit_user_code`: a hard limit per address, growing waits per
//! account); a malformed entry is refused without counting, and a found code clears the
//! account's count. A decision is recorded once (the row's state changes from pending in one
//! statement), then the page redirects (a reload repeats nothing).

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;
use tessera_core::{
    AuditKind,
    device::{
        DeviceAuthorizationRecord, DeviceDecision, UserCode, admit_user_code, user_code_found,
    },
    sign_in::Admission,
    store::SessionKind,
};
use tessera_web::{
    PageError, audit::Audit, client_address::ClientAddress, csrf::CsrfToken, form::CsrfForm,
    session::SignedIn,
};

use crate::{
    authorize::{AuthorizeState, describe},
    decide::remembered_after_approval,
};

/// The path of the page (the `verification_uri`).
pub const PATH: &str = "/device";

struct Confirm {
    client_name: String,
    code: String,
    scopes: Vec<String>,
    unverified: bool,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    csrf_token: &'a str,
    username: &'a str,
    code: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    confirm: Option<Confirm>,
}

/// `GET /device` query.
#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
    notice: Option<String>,
}

/// `POST /device` form: a code to check, or a decision on it.
#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    #[serde(default)]
    user_code: String,
    decision: Option<String>,
}

/// What a decision field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// Only look the code up and ask.
    Check,
    /// Allow.
    Approve,
    /// Deny.
    Deny,
}

impl DeviceChoice {
    /// Reads the `decision` field; anything but `approve` or `deny` is refused.
    pub fn of(decision: Option<&str>) -> Option<Self> {
        match decision {
            None => Some(Self::Check),
            Some("approve") => Some(Self::Approve),
            Some("deny") => Some(Self::Deny),
            Some(_) => None,
        }
    }
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "approved" => Some("Done: your device is connected. You can close this page."),
        "denied" => Some("Denied: the device was not connected."),
        _ => None,
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The signed-in user, if their sign-in will do for allowing a device: where a second factor is
/// required (the policy, or an admin for this user), a session without one counts as none.
async fn signed_in(
    state: &AuthorizeState,
    req: &HttpRequest,
) -> Result<Option<SignedIn>, PageError> {
    let user = state.sessions.current(req, SessionKind::User).await?;
    Ok(user.filter(|u| {
        tessera_core::amr::required_factor_given(state.mfa, u.user.mfa_required, &u.session.amr)
    }))
}

fn render(status: StatusCode, page: &DevicePage<'_>) -> HttpResponse {
    tessera_web::html_page(status, page.render())
}

/// `GET /device[?user_code=…]`.
pub async fn get_device(
    req: HttpRequest,
    query: web::Query<DeviceQuery>,
    csrf: CsrfToken,
    state: web::Data<AuthorizeState>,
) -> Result<HttpResponse, PageError> {
    // Only a well-formed code is carried into the field (and through the sign-in's return_to).
    let code = query
        .user_code
        .as_deref()
        .and_then(UserCode::parse)
        .map(|code| code.display())
        .unwrap_or_default();
    let Some(user) = signed_in(&state, &req).await? else {
        let return_to = match code.is_empty() {
            true => PATH.to_owned(),
            false => format!("{PATH}?user_code={code}"),
        };
        return Err(PageError::SignIn { return_to });
    };
    let page = DevicePage {
        csrf_token: &csrf.0,
        username: &user.user.username,
        code: &code,
        notice: notice(query.notice.as_deref()),
        error: None,
        confirm: None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /device`.
pub async fn post_device(
    req: HttpRequest,
    csrf: CsrfToken,
    CsrfForm { form, .. }: CsrfForm<DeviceForm>,
    state: web::Data<AuthorizeState>,
) -> Result<HttpResponse, PageError> {
    let user = signed_in(&state, &req).await?.ok_or(PageError::SignedOut)?;
    let choice = DeviceChoice::of(form.decision.as_deref())
        .ok_or_else(|| PageError::BadForm("decision must be approve or deny".into()))?;
    let refused = |status, error: &str| {
        let page = DevicePage {
            csrf_token: &csrf.0,
            username: &user.user.username,
            code: &form.user_code,
            notice: None,
            error: Some(error),
            confirm: None,
        };
        render(status, &page)
    };
    let Some(code) = UserCode::parse(&form.user_code) else {
        let message = "A code is eight letters, like BCDF-GHJK. Check it and try again.";
        return Ok(refused(StatusCode::BAD_REQUEST, message));
    };
    let record = match find(&state, &req, &user, &code).await? {
        Found::Record(record) => record,
        Found::Nothing => {
            let message = "That code is not valid, or it expired or was already used. Check the code on your device.";
            return Ok(refused(StatusCode::BAD_REQUEST, message));
        }
        Found::Throttled(seconds) => {
            let message = "Too many codes were tried. Wait a moment, then try again.";
            let mut response = refused(StatusCode::TOO_MANY_REQUESTS, message);
            if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(response);
        }
    };
    let Some(client) = state
        .clients
        .find_client(&record.client_id)
        .await?
        .filter(|client| client.enabled)
    else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "That app is no longer allowed here.",
        ));
    };
    match choice {
        DeviceChoice::Check => {
            let mut scopes = Vec::with_capacity(record.scopes.len());
            for scope in &record.scopes {
                scopes.push(describe(state.scopes.as_ref(), scope).await);
            }
            let page = DevicePage {
                csrf_token: &csrf.0,
                username: &user.user.username,
                code: &form.user_code,
                notice: None,
                error: None,
                confirm: Some(Confirm {
                    client_name: client
                        .client_name
                        .clone()
                        .unwrap_or_else(|| client.client_id.to_string()),
                    code: code.display(),
                    scopes,
                    unverified: client.registration_token_hash.is_some(),
                }),
            };
            Ok(render(StatusCode::OK, &page))
        }
        DeviceChoice::Approve | DeviceChoice::Deny => {
            decide(&state, &req, &user, &code, &record, choice).await
        }
    }
}

enum Found {
    Record(DeviceAuthorizationRecord),
    Nothing,
    Throttled(i64),
}

/// Counts the entry, then looks the code up.
async fn find(
    state: &AuthorizeState,
    req: &HttpRequest,
    user: &SignedIn,
    code: &UserCode,
) -> Result<Found, PageError> {
    let now = state.clock.now();
    let address = ClientAddress::of(req).to_string();
    let user_id = &user.user.id;
    if let Admission::Refused(wait) =
        admit_user_code(state.throttle.as_ref(), &address, user_id, now).await?
    {
        tracing::info!(user.id = user_id.as_str(), "device user code throttled");
        return Ok(Found::Throttled(wait.num_seconds().max(0) + 1));
    }
    match state
        .devices
        .find_pending_device_authorization(&code.hash(), now)
        .await?
    {
        Some(record) => {
            user_code_found(state.throttle.as_ref(), user_id).await?;
            Ok(Found::Record(record))
        }
        None => {
            tracing::info!(user.id = user_id.as_str(), "device user code not found");
            Ok(Found::Nothing)
        }
    }
}

/// Records the decision once, remembers an approval as consent (the app then shows on
/// `/account`, revocable), audits, and redirects.
async fn decide(
    state: &AuthorizeState,
    req: &HttpRequest,
    user: &SignedIn,
    code: &UserCode,
    record: &DeviceAuthorizationRecord,
    choice: DeviceChoice,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let decision = match choice {
        DeviceChoice::Approve => DeviceDecision::Approve {
            user_id: user.user.id.clone(),
            auth_time: user.session.auth_time,
        },
        _ => DeviceDecision::Deny,
    };
    if !state
        .devices
        .decide_device_authorization(&code.hash(), &decision, now)
        .await?
    {
        // Decided meanwhile (another tab) or expired: the code page says so.
        return Ok(see_other(PATH));
    }
    let kind = match decision {
        DeviceDecision::Approve { .. } => {
            let (sub, client) = (&user.user.id, &record.client_id);
            let granted = state.consents.find_consent(sub, client).await?;
            let scopes = remembered_after_approval(granted.unwrap_or_default(), &record.scopes);
            state
                .consents
                .save_consent(sub, client, &scopes, now)
                .await?;
            AuditKind::ConsentGiven
        }
        DeviceDecision::Deny => AuditKind::ConsentDenied,
    };
    let audit = Audit {
        kind,
        actor: Some(user.user.id.to_string()),
        client_id: Some(record.client_id.as_str()),
        user_id: Some(user.user.id.as_str()),
        details: Some(serde_json::json!({ "flow": "device", "scopes": record.scopes })),
    };
    tessera_web::audit::record(state.audit.as_ref(), req, now, audit).await;
    let outcome = match choice {
        DeviceChoice::Approve => "approved",
        _ => "denied",
    };
    Ok(see_other(&format!("{PATH}?notice={outcome}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_approve_deny_or_absent() {
        assert_eq!(DeviceChoice::of(None), Some(DeviceChoice::Check));
        assert_eq!(
            DeviceChoice::of(Some("approve")),
            Some(DeviceChoice::Approve)
        );
        assert_eq!(DeviceChoice::of(Some("deny")), Some(DeviceChoice::Deny));
        assert_eq!(DeviceChoice::of(Some("Approve")), None);
        assert_eq!(DeviceChoice::of(Some("")), None);
    }

    #[test]
    fn device_pages_snapshot() {
        let enter = DevicePage {
            csrf_token: "csrf",
            username: "alice",
            code: "BCDF-GHJK",
            notice: None,
            error: Some("That code is not valid."),
            confirm: None,
        };
        insta::assert_snapshot!("device_enter", enter.render().unwrap());
        let confirm = DevicePage {
            confirm: Some(Confirm {
                client_name: "Living-room TV".into(),
                code: "BCDF-GHJK".into(),
                scopes: vec!["Confirm who you are".into()],
                unverified: false,
            }),
            error: None,
            ..enter
        };
        insta::assert_snapshot!("device_confirm", confirm.render().unwrap());
    }
}
