//! The audit log as an admin reads it, in the console (`/admin/audit`) and with `tessera audit`:
//! filters by event kind, user (by name, or by id), client and date range turned into one store
//! search, and the two export formats (CSV with formula cells defused, JSON lines).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tessera_core::{
    AuditKind, Subject,
    store::{AuditCursor, AuditSearch, FoundEvent, StoreError, UserRepo},
};

/// The filters as typed (blank is no filter).
#[derive(Debug, Clone, Default)]
pub struct AuditFilters {
    /// An event kind (`login.failed`).
    pub kind: Option<String>,
    /// A username, or a user id.
    pub user: Option<String>,
    /// A client id.
    pub client: Option<String>,
    /// The first day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// The last day, `YYYY-MM-DD` (UTC), included.
    pub to: Option<String>,
    /// Older than this event (a cursor from `FoundEvent::cursor`).
    pub after: Option<String>,
}

/// Something in the filters that was not understood, and was left out of the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterNote {
    /// No event kind has this name.
    Kind,
    /// The `from` or `to` date is not `YYYY-MM-DD`.
    Date(&'static str),
    /// No user has this name or id now (events recorded under it as an id are searched).
    UnknownUser(String),
    /// The cursor is not one a page made.
    Cursor,
}

impl std::fmt::Display for FilterNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Kind => f.write_str("That event kind does not exist; all kinds are shown."),
            Self::Date(what) => write!(
                f,
                "The {what} date is not a date written YYYY-MM-DD; it was ignored."
            ),
            Self::UnknownUser(user) => write!(
                f,
                "No user is named {user:?} now; events recorded under that id are shown."
            ),
            Self::Cursor => {
                f.write_str("That page link is not one this page made; the first page is shown.")
            }
        }
    }
}

/// `value` trimmed, or `None` when blank.
pub fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn date(
    value: Option<&String>,
    notes: &mut Vec<FilterNote>,
    what: &'static str,
) -> Option<NaiveDate> {
    let text = given(value)?;
    let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    if parsed.is_none() {
        notes.push(FilterNote::Date(what));
    }
    parsed
}

fn start_of(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The store search `filters` mean, and what in them was not understood (left out).
pub async fn search(
    filters: &AuditFilters,
    users: &dyn UserRepo,
) -> Result<(AuditSearch, Vec<FilterNote>), StoreError> {
    let mut notes = Vec::new();
    let kind = given(filters.kind.as_ref()).and_then(|kind| {
        let known = AuditKind::parse(kind).map(|k| k.as_str().to_owned());
        if known.is_none() {
            notes.push(FilterNote::Kind);
        }
        known
    });
    // A user by name first (what an admin knows), else by id.
    let user_id = match given(filters.user.as_ref()) {
        None => None,
        Some(user) => match users.find_user_by_username(user).await? {
            Some(found) => Some(found.id.to_string()),
            None => {
                if users.find_user(&Subject::new(user)).await?.is_none() {
                    notes.push(FilterNote::UnknownUser(user.to_owned()));
                }
                Some(user.to_owned())
            }
        },
    };
    let since = date(filters.from.as_ref(), &mut notes, "from").map(start_of);
    let until =
        date(filters.to.as_ref(), &mut notes, "to").map(|d| start_of(d) + TimeDelta::days(1));
    let after = given(filters.after.as_ref()).and_then(|cursor| {
        let decoded = AuditCursor::decode(cursor);
        if decoded.is_none() {
            notes.push(FilterNote::Cursor);
        }
        decoded
    });
    Ok((
        AuditSearch {
            kind,
            client_id: given(filters.client.as_ref()).map(str::to_owned),
            user_id,
            since,
            until,
            after,
        },
        notes,
    ))
}

/// How an export writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header line.
    Csv,
    /// One JSON object a line.
    JsonLines,
}

impl ExportFormat {
    /// `csv` or `jsonl`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(Self::Csv),
            "jsonl" => Some(Self::JsonLines),
            _ => None,
        }
    }

    /// What an export in this format starts with.
    pub fn header(self) -> &'static str {
        match self {
            Self::Csv => "occurred_at,kind,actor,client_id,user_id,ip,user_agent,details\n",
            Self::JsonLines => "",
        }
    }
}

/// A CSV field: quoted when it must be, and a leading `=`, `+`, `-`, `@`, tab or carriage
/// return defused so a spreadsheet does not run it as a formula (values here come from
/// clients and browsers).
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

/// Appends `found` to `out` as one line of `format`.
pub fn write_event(format: ExportFormat, found: &FoundEvent, out: &mut String) {
    let e = &found.event;
    let at = e
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    match format {
        ExportFormat::Csv => {
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
        }
        ExportFormat::JsonLines => {
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
        }
    }
    out.push('\n');
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
}
