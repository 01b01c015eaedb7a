//! `/admin/sign-in-locks`: the sign-in throttle's counters (see `tessera_core::sign_in`), so an
//! admin can see who is being slowed down or refused, and clear a counter (a user locked out by
//! their own typos, a NAT address that hit the hard limit).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::AuditKind;
use tessera_web::PageError;

use super::{AdminForm, AdminPage, AdminState, PageQuery, html, notice, see_other};
use crate::ops::locks::{self as ops, LockOpError};

/// The most counters the page lists.
const LISTED: u64 = 200;

pub(crate) struct LockRow {
    key: String,
    kind: &'static str,
    label: String,
    failures: u32,
    blocked_until: String,
    window_ends: String,
}

#[derive(Template)]
#[template(path = "admin/locks.html")]
struct LocksPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    locks: Vec<LockRow>,
}

fn kind_name(kind: &str) -> &'static str {
    match kind {
        "account_address" => "Account from one address",
        "account" => "Account",
        "address" => "Address",
        "pending_address" => "Waiting sign-in requests from an address",
        "client_address" => "Client authentications from an address",
        "user_code_address" => "Device codes entered from an address",
        "user_code_account" => "Device codes entered by an account",
        _ => "Other",
    }
}

/// `GET /admin/sign-in-locks`.
pub(crate) async fn get_locks(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let counters = state.throttle.list_counters(now, LISTED).await?;
    let locks = counters
        .into_iter()
        .map(|c| LockRow {
            key: c.key_hash.as_str().to_owned(),
            kind: kind_name(&c.kind),
            label: c.label,
            failures: c.failures,
            blocked_until: c.blocked_until.filter(|until| *until > now).map_or_else(
                || "-".into(),
                |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ),
            window_ends: c.window_ends_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let page = LocksPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        locks,
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// `POST /admin/sign-in-locks/{key}/clear`.
pub(crate) async fn post_clear_lock(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let which = ops::Which::Id(path.as_str());
    match ops::clear(state.throttle.as_ref(), which, state.clock.now()).await {
        Ok(_) => {}
        Err(LockOpError::Store(err)) => return Err(err.into()),
        Err(LockOpError::NotFound) => return Ok(see_other("/admin/sign-in-locks")),
        Err(_) => return Ok(see_other("/admin/sign-in-locks?notice=invalid")),
    }
    let kind = AuditKind::LoginLockCleared;
    super::audit(&state, &req, &admin, kind, None, None).await;
    Ok(see_other("/admin/sign-in-locks?notice=cleared"))
}
