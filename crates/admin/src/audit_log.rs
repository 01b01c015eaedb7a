//! `/admin/audit`: the audit log, newest first, filtered by event kind, user (by name, or by
//! id), client and date range, a hundred events a page with keyset paging (`after=` the last
//! event's time and id, so a page never shifts as events arrive), users shown by name with the
//! id beside it; and `/admin/audit/export`, every matching event as CSV or JSON lines, streamed
//! page by page from the store (nothing held whole in memory).

use actix_web::{HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use futures_util::stream;
use serde::Deserialize;
use tessera_core::{AuditKind, store::FoundEvent};
use tessera_web::PageError;

use super::{AdminPage, AdminState, html};
use crate::ops::audit::{AuditFilters, ExportFormat, given, search, write_event};

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

impl AuditQuery {
    fn filters(&self) -> AuditFilters {
        AuditFilters {
            kind: self.kind.clone(),
            user: self.user.clone(),
            client: self.client.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            after: self.after.clone(),
        }
    }
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
    let (search, notes) = search(&query.filters(), state.users.as_ref()).await?;
    let notes: Vec<String> = notes.iter().map(ToString::to_string).collect();
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

/// `GET /admin/audit/export?format=csv|jsonl&…filters`: every matching event, newest first.
pub(crate) async fn get_export(
    query: web::Query<AuditQuery>,
    AdminPage(_admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let format = match ExportFormat::parse(query.format.as_deref().unwrap_or("csv")) {
        Some(format) => format,
        None => {
            return Ok(tessera_web::html_error(
                StatusCode::BAD_REQUEST,
                "Unknown export format",
                "Export as csv or jsonl.",
                None,
            ));
        }
    };
    let (mut search, _) = search(&query.filters(), state.users.as_ref()).await?;
    // The first batch is read before answering: a store failure is a 503, not a cut file.
    let first = state.audit.search_events(&search, EXPORT_BATCH).await?;
    search.after = first.last().map(FoundEvent::cursor);
    let audit = state.audit.clone();
    let header_line = Some(format.header());
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
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::JsonLines => ("application/jsonl; charset=utf-8", "jsonl"),
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
