//! `/admin/audit`: the audit log, newest first, filtered by event kind, user (by name, or by
//! id), client and date range, a hundred events a page with keyset paging (`after=` the last
//! event's time and id, so a page never shifts as events arrive), users shown by name with the
//! id beside it; and `/admin/audit/export`, every matching event as CSV or JSON lines, streamed
//! page by page from the store (nothing held whole in memory).

use actix_web::{HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use futures_util::stream;
use serde::Deserialize;
use tessera_core::{
    AuditKind, Subject,
    store::{AuditCursor, AuditSearch, FoundEvent, UserRepo},
};
use tessera_web::PageError;

use super::{AdminPage, AdminState, html};

/// Events per page.
const PAGE: u64 = 100;
/// Events per store read while exporting.
const EXPORT_BATCH: u64 = 500;

/// The filters, as the page's form and links send them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditQuery {
    kind: Option<String>,
    user: Option<String>,
    client: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
    format: Option<String>,
}

fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A date field (`YYYY-MM-DD`, UTC); anything else is no filter and a note on the page.
fn date(value: Option<&String>, notes: &mut Vec<String>, what: &str) -> Option<NaiveDate> {
    let text = given(value)?;
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(_) => {
            notes.push(format!(
                "The {what} date is not a date written YYYY-MM-DD; it was ignored."
            ));
            None
        }
    }
}

fn start_of(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The store search the query means, and notes on what in it was not understood.
async fn search_of(
    query: &AuditQuery,
    users: &dyn UserRepo,
) -> Result<(AuditSearch, Vec<String>), PageError> {
    let mut notes = Vec::new();
    let kind = match given(query.kind.as_ref()) {
        None => None,
        Some(kind) => match AuditKind::parse(kind) {
            Some(kind) => Some(kind.as_str().to_owned()),
            None => {
                notes.push("That event kind does not exist; all kinds are shown.".into());
                None
            }
        },
    };
    // A user by name first (what an admin knows), else by id.
    let user_id = match given(query.user.as_ref()) {
        None => None,
        Some(user) => match users.find_user_by_username(user).await? {
            Some(found) => Some(found.id.to_string()),
            None => {
                if users.find_user(&Subject::new(user)).await?.is_none() {
                    notes.push(format!(
                        "No user is named {user:?} now; events recorded under that id are shown."
                    ));
                }
                Some(user.to_owned())
            }
        },
    };
    let since = date(query.from.as_ref(), &mut notes, "from").map(start_of);
    let until = date(query.to.as_ref(), &mut notes, "to").map(|d| start_of(d) + TimeDelta::days(1));
    let after = match given(query.after.as_ref()) {
        None => None,
        Some(cursor) => {
            let decoded = AuditCursor::decode(cursor);
            if decoded.is_none() {
                notes.push(
                    "That page link is not one this page made; the first page is shown.".into(),
                );
            }
            decoded
        }
    };
    Ok((
        AuditSearch {
            kind,
            client_id: given(query.client.as_ref()).map(str::to_owned),
            user_id,
            since,
            until,
            after,
        },
        notes,
    ))
}

pub(crate) struct EventRow {
    at: String,
    kind: String,
    actor: String,
    client: String,
    username: String,
    user_id: String,
    ip: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    kinds: Vec<&'static str>,
    kind: &'a str,
    user: &'a str,
    client: &'a str,
    from: &'a str,
    to: &'a str,
    notes: Vec<String>,
    events: Vec<EventRow>,
    /// The query of the next (older) page, if there may be one.
    older: Option<String>,
    /// Whether this is a later page (a link back to the first).
    paged: bool,
    /// The query of the filters alone (for the export links and the first page).
    filters: String,
}

/// The filters as a query string, optionally with a cursor.
fn filter_query(query: &AuditQuery, after: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("kind", &query.kind),
        ("user", &query.user),
        ("client", &query.client),
        ("from", &query.from),
        ("to", &query.to),
    ] {
        if let Some(value) = given(value.as_ref()) {
            out.append_pair(name, value);
        }
    }
    if let Some(after) = after {
        out.append_pair("after", after);
    }
    out.finish()
}

/// `GET /admin/audit`.
pub(crate) async fn get_audit(
    query: web::Query<AuditQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let (search, notes) = search_of(&query, state.users.as_ref()).await?;
    // One more than a page tells whether there is an older page.
    let mut found = state.audit.search_events(&search, PAGE + 1).await?;
    let more = found.len() as u64 > PAGE;
    found.truncate(usize::try_from(PAGE).unwrap_or(100));
    let ids = found.iter().filter_map(|e| e.event.user_id.as_deref());
    let names = super::usernames(state.users.as_ref(), ids).await?;
    let older = more
        .then(|| {
            found
                .last()
                .map(|e| filter_query(&query, Some(&e.cursor().encode())))
        })
        .flatten();
    let events = found
        .into_iter()
        .map(|found| {
            let e = found.event;
            let user_id = e.user_id.unwrap_or_default();
            EventRow {
                at: e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                kind: e.kind,
                actor: e.actor.unwrap_or_default(),
                client: e.client_id.unwrap_or_default(),
                username: names.get(&user_id).cloned().unwrap_or_default(),
                user_id,
                ip: e.ip.unwrap_or_default(),
                details: match &e.details {
                    serde_json::Value::Object(map) if map.is_empty() => String::new(),
                    other => other.to_string(),
                },
            }
        })
        .collect();
    let page = AuditPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: None,
        kinds: AuditKind::ALL.iter().map(|k| k.as_str()).collect(),
        kind: given(query.kind.as_ref()).unwrap_or_default(),
        user: given(query.user.as_ref()).unwrap_or_default(),
        client: given(query.client.as_ref()).unwrap_or_default(),
        from: given(query.from.as_ref()).unwrap_or_default(),
        to: given(query.to.as_ref()).unwrap_or_default(),
        notes,
        events,
        older,
        paged: search.after.is_some(),
        filters: filter_query(&query, None),
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// How the export writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

/// A CSV field: quoted when it must be, and a leading `=`, `+`, `-` or `@` defused so a
/// spreadsheet does not run it as a formula (values here come from clients and browsers).
fn csv_field(value: &str) -> String {
    let defused = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

const CSV_HEADER: &str = "occurred_at,kind,actor,client_id,user_id,ip,user_agent,details\n";

fn write_event(format: Format, found: &FoundEvent, out: &mut String) {
    let e = &found.event;
    let at = e
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    match format {
        Format::Csv => {
            let fields = [
                at.as_str(),
                e.kind.as_str(),
                e.actor.as_deref().unwrap_or_default(),
                e.client_id.as_deref().unwrap_or_default(),
                e.user_id.as_deref().unwrap_or_default(),
                e.ip.as_deref().unwrap_or_default(),
                e.user_agent.as_deref().unwrap_or_default(),
            ];
            let row: Vec<String> = fields
                .iter()
                .map(|f| csv_field(f))
                .chain(std::iter::once(csv_field(&e.details.to_string())))
                .collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        Format::JsonLines => {
            let line = serde_json::json!({
                "id": found.id,
                "occurred_at": at,
                "kind": e.kind,
                "actor": e.actor,
                "client_id": e.client_id,
                "user_id": e.user_id,
                "ip": e.ip,
                "user_agent": e.user_agent,
                "details": e.details,
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
}

/// `GET /admin/audit/export?format=csv|jsonl&…filters`: every matching event, newest first.
pub(crate) async fn get_export(
    query: web::Query<AuditQuery>,
    AdminPage(_admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let format = match query.format.as_deref() {
        Some("jsonl") => Format::JsonLines,
        Some("csv") | None => Format::Csv,
        Some(_) => {
            return Ok(tessera_web::html_error(
                StatusCode::BAD_REQUEST,
                "Unknown export format",
                "Export as csv or jsonl.",
                None,
            ));
        }
    };
    let (mut search, _) = search_of(&query, state.users.as_ref()).await?;
    // The first batch is read before answering: a store failure is a 503, not a cut file.
    let first = state.audit.search_events(&search, EXPORT_BATCH).await?;
    search.after = first.last().map(FoundEvent::cursor);
    let audit = state.audit.clone();
    let header_line = (format == Format::Csv).then_some(CSV_HEADER);
    let batches = stream::unfold(
        (Some(first), search, audit, header_line),
        move |(batch, mut search, audit, header_line)| async move {
            let batch = batch?;
            let mut out = header_line.unwrap_or_default().to_owned();
            for found in &batch {
                write_event(format, found, &mut out);
            }
            let next = if (batch.len() as u64) < EXPORT_BATCH {
                None
            } else {
                match audit.search_events(&search, EXPORT_BATCH).await {
                    Ok(next) if !next.is_empty() => {
                        search.after = next.last().map(FoundEvent::cursor);
                        Some(next)
                    }
                    Ok(_) => None,
                    Err(err) => {
                        // The status is sent already: end the file early and say why in the log.
                        tracing::error!(error = %err, "audit export cut short by a store failure");
                        None
                    }
                }
            };
            Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(out)),
                (next, search, audit, None),
            ))
        },
    );
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::JsonLines => ("application/jsonl; charset=utf-8", "jsonl"),
    };
    let name = format!(
        "tessera-audit-{}.{extension}",
        state.clock.now().format("%Y%m%dT%H%M%SZ")
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn the_filters_carry_into_the_next_page_without_the_old_cursor() {
        let query = AuditQuery {
            kind: Some("login.failed".into()),
            user: Some(" alice ".into()),
            after: Some("old".into()),
            ..AuditQuery::default()
        };
        assert_eq!(
            filter_query(&query, Some("2026-12-07T10:00:00.000000Z_abc")),
            "kind=login.failed&user=alice&after=2026-12-07T10%3A00%3A00.000000Z_abc"
        );
        assert_eq!(filter_query(&query, None), "kind=login.failed&user=alice");
    }
}
