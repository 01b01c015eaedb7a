//! `/admin/sign-in-locks`: the sign-in throttle's counters (see `tessera_core::sign_in`), so an
//! admin can see who is being slowed down or refused, and clear a counter (a user locked out by
//! their own typos, a NAT address that hit the hard limit).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::secret::TokenHash;

use super::{AdminForm, AdminPage, AdminState, PageQuery, html, notice, see_other, unavailable};

/// The most counters listed.
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
        _ => "Other",
    }
}

/// `GET /admin/sign-in-locks`.
pub(crate) async fn get_locks(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let now = state.clock.now();
    let counters = match state.throttle.list_counters(now, LISTED).await {
        Ok(counters) => counters,
        Err(err) => return unavailable(&err),
    };
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
    html(StatusCode::OK, page.render())
}

/// `POST /admin/sign-in-locks/{key}/clear`.
pub(crate) async fn post_clear_lock(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let key = path.into_inner();
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return see_other("/admin/sign-in-locks?notice=invalid");
    }
    match state
        .throttle
        .delete_counter(&TokenHash::from_stored(key))
        .await
    {
        Ok(true) => {
            super::audit(
                &state,
                &req,
                &admin,
                tessera_core::AuditKind::LoginLockCleared,
                None,
                None,
            )
            .await;
            see_other("/admin/sign-in-locks?notice=cleared")
        }
        Ok(false) => see_other("/admin/sign-in-locks"),
        Err(err) => unavailable(&err),
    }
}
