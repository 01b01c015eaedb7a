//! The account signals of a sign-in (`tessera_core::signals`): the device it came from is
//! compared with the user's known devices, remembered, and a new device or a quick change of
//! network becomes an audit event — shown to the user on `/account` and to admins in the audit
//! log — and, when email is set up, a message to the user. Best effort: a store failure here is
//! logged and never stops the sign-in.

use actix_web::{HttpRequest, http::header};
use serde_json::json;
use tessera_core::{
    AuditKind,
    signals::{KnownDevice, sign_in_signals},
    store::UserRecord,
};
use tessera_web::{audit::Audit, client_address::ClientAddress};

use crate::login::LoginState;

/// The audit kinds the account page lists as security events.
pub const SIGNAL_KINDS: [&str; 3] = [
    "login.new_device",
    "login.network_changed",
    "refresh_token.burst",
];

#[derive(askama::Template)]
#[template(path = "email/sign_in_signal.txt")]
struct SignalEmail<'a> {
    username: &'a str,
    issuer: &'a str,
    lines: Vec<String>,
}

/// Mails `user` about `events`, when email is set up and they have an address.
fn notify(state: &LoginState, user: &UserRecord, events: &[(AuditKind, serde_json::Value)]) {
    let (Some(mailer), Some(to)) = (state.mailer.as_ref(), user.email.as_deref()) else {
        return;
    };
    let text = |d: &serde_json::Value, key: &str| d[key].as_str().unwrap_or("?").to_owned();
    let lines = events
        .iter()
        .map(|(kind, d)| match kind {
            AuditKind::LoginNewDevice => format!(
                "a sign-in from a device not seen before: {}, network {}",
                text(d, "device"),
                text(d, "network")
            ),
            _ => format!(
                "a sign-in from network {} shortly after one from {}",
                text(d, "network"),
                text(d, "from")
            ),
        })
        .collect();
    let email = SignalEmail {
        username: &user.username,
        issuer: &state.issuer,
        lines,
    };
    if let Ok(body) = askama::Template::render(&email) {
        mailer.send(to, "New sign-in to your account", body);
    }
}

/// Watches a completed sign-in of `user` through `req`.
pub(crate) async fn watch_sign_in(state: &LoginState, req: &HttpRequest, user: &UserRecord) {
    let now = state.clock.now();
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let device = KnownDevice::of(agent, &ClientAddress::of(req).to_string(), now);
    let known = match state.devices.known_devices(&user.id).await {
        Ok(known) => known,
        Err(err) => {
            tracing::warn!(error = %err, "sign-in signals: devices unavailable");
            return;
        }
    };
    let found = sign_in_signals(&known, &device, now, &state.signals);
    if let Err(err) = state.devices.remember_device(&user.id, &device).await {
        tracing::warn!(error = %err, "sign-in signals: device not remembered");
    }
    let mut events = Vec::new();
    if found.new_device {
        let details = json!({ "device": device.label, "network": device.network });
        events.push((AuditKind::LoginNewDevice, details));
    }
    if let Some(from) = found.network_changed_from {
        let details = json!({ "device": device.label, "from": from, "network": device.network });
        events.push((AuditKind::LoginNetworkChanged, details));
    }
    if !events.is_empty() {
        notify(state, user, &events);
    }
    for (kind, details) in events {
        let audit = Audit {
            actor: Some(user.id.to_string()),
            user_id: Some(user.id.as_str()),
            details: Some(details),
            ..Audit::new(kind)
        };
        tessera_web::audit::record(state.audit.as_ref(), req, now, audit).await;
    }
}
