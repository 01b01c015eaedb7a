//! `/admin/sessions`: who is signed in — the end-user sessions in force, most recently seen
//! first, a hundred a page (keyset on last-seen time and id), each with the user (by name,
//! linking to their page), the device, the address, when and how they signed in, and *Sign out*
//! (the same action as on the user page: the session ends and what it issued is revoked); then
//! the console sessions. `?q=` narrows the list to one user (name or id).

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use tessera_core::{
    Subject,
    store::{BrowserSessionRecord, SessionKind, TimeCursor},
};
use tessera_web::PageError;

use super::{AdminPage, AdminState, LIST_PAGE, PageQuery, html, next_page, notice};

/// A session in force.
pub(crate) struct SessionRow {
    id: String,
    user_id: String,
    username: String,
    device: String,
    ip: String,
    signed_in: String,
    last_seen: String,
    how: String,
}

#[derive(Template)]
#[template(path = "admin/sessions.html")]
struct SessionsPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    query: &'a str,
    sessions: Vec<SessionRow>,
    console: Vec<SessionRow>,
    next: Option<String>,
    paged: bool,
}

fn cursor_of(session: &BrowserSessionRecord) -> TimeCursor {
    TimeCursor {
        at: session.last_seen_at,
        id: session.id_hash.as_str().to_owned(),
    }
}

async fn rows(
    state: &AdminState,
    sessions: Vec<BrowserSessionRecord>,
) -> Result<Vec<SessionRow>, PageError> {
    let ids = sessions.iter().map(|s| s.user_id.as_str());
    let names = super::usernames(state.users.as_ref(), ids).await?;
    Ok(sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id_hash.as_str().to_owned(),
            username: names.get(s.user_id.as_str()).cloned().unwrap_or_default(),
            user_id: s.user_id.to_string(),
            device: s.user_agent.unwrap_or_else(|| "unknown device".into()),
            ip: s.ip.unwrap_or_default(),
            signed_in: s.auth_time.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_seen: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            how: s.amr.describe(),
        })
        .collect())
}

/// `GET /admin/sessions`.
pub(crate) async fn get_sessions(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let store = state.sessions.sessions.as_ref();
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let cursor = query.after.as_deref().and_then(TimeCursor::decode);
    let (sessions, console, next) = match search {
        // One user's sessions: few, on one page.
        Some(name) => {
            let user = match state.users.find_user_by_username(name).await? {
                Some(user) => user.id,
                None => Subject::new(name),
            };
            let (users, admins): (Vec<_>, Vec<_>) = store
                .list_user_sessions(&user, now)
                .await?
                .into_iter()
                .partition(|s| s.kind == SessionKind::User);
            (users, admins, None)
        }
        None => {
            let mut users = store
                .list_sessions(SessionKind::User, now, cursor.as_ref(), LIST_PAGE + 1)
                .await?;
            let more = users.len() as u64 > LIST_PAGE;
            users.truncate(usize::try_from(LIST_PAGE).unwrap_or(100));
            let next = users
                .last()
                .filter(|_| more)
                .map(|s| next_page(None, &cursor_of(s).encode()));
            let admins = match cursor {
                Some(_) => Vec::new(),
                None => {
                    store
                        .list_sessions(SessionKind::Admin, now, None, LIST_PAGE)
                        .await?
                }
            };
            (users, admins, next)
        }
    };
    let page = SessionsPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        query: search.unwrap_or_default(),
        sessions: rows(&state, sessions).await?,
        console: rows(&state, console).await?,
        next,
        paged: cursor.is_some() && search.is_none(),
    };
    Ok(html(StatusCode::OK, page.render()))
}
