//! `tessera audit list|export`: the audit log, newest first, filtered as in the console
//! (`tessera_admin::ops::audit`: kind, user by name or id, client, date range). `list` prints a
//! page (and the cursor of the next with `--after`); `export` writes every matching event as CSV
//! or JSON lines to standard output, read from the store in batches.

use std::io::Write;

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_admin::ops::audit::{self, AuditFilters, ExportFormat, FilterNote};
use tessera_core::store::{AuditRepo, FoundEvent};

use super::shared::{open_store, print_json};
use crate::config::Config;

/// Events per store read while exporting.
const EXPORT_BATCH: u64 = 500;

/// `tessera audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the latest matching events, newest first.
    List {
        #[command(flatten)]
        filters: FilterArgs,
        /// How many events (at most 1000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
        limit: u64,
        /// Only events older than this cursor (printed after a full page).
        #[arg(long)]
        after: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every matching event to standard output, newest first.
    Export {
        #[command(flatten)]
        filters: FilterArgs,
        /// `csv` (formula cells defused) or `jsonl` (one JSON object a line).
        #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
        format: String,
    },
}

/// What to list or export (the console's audit filters).
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only events of this kind, e.g. login.failed (`tessera audit list --kind help` lists them).
    #[arg(long)]
    kind: Option<String>,
    /// Only events about this user (username or subject id).
    #[arg(long)]
    user: Option<String>,
    /// Only events about this client (client id).
    #[arg(long)]
    client: Option<String>,
    /// From this day on, YYYY-MM-DD (UTC).
    #[arg(long)]
    from: Option<String>,
    /// Up to and including this day, YYYY-MM-DD (UTC).
    #[arg(long)]
    to: Option<String>,
}

/// Runs `tessera audit …`.
pub async fn audit(config: &Config, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::List {
            filters,
            limit,
            after,
            json,
        } => list(config, filters, after, limit, json).await,
        AuditCommand::Export { filters, format } => export(config, filters, &format).await,
    }
}

/// The search, refusing what the console would only note (a command line can be corrected).
async fn search_of(
    store: &tessera_storage::SeaStore,
    args: FilterArgs,
    after: Option<String>,
) -> anyhow::Result<tessera_core::store::AuditSearch> {
    if args.kind.as_deref() == Some("help") {
        let kinds: Vec<&str> = tessera_core::AuditKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        bail!("event kinds: {}", kinds.join(", "));
    }
    let filters = AuditFilters {
        kind: args.kind,
        user: args.user,
        client: args.client,
        from: args.from,
        to: args.to,
        after,
    };
    let (search, notes) = audit::search(&filters, store).await?;
    for note in notes {
        match note {
            FilterNote::UnknownUser(_) => eprintln!("note: {note}"),
            FilterNote::Kind => bail!(
                "no event kind is named {:?} (`--kind help` lists them)",
                filters.kind.unwrap_or_default()
            ),
            FilterNote::Date(what) => bail!("the --{what} date is not written YYYY-MM-DD"),
            FilterNote::Cursor => bail!("--after takes a cursor that `tessera audit list` printed"),
        }
    }
    Ok(search)
}

async fn list(
    config: &Config,
    args: FilterArgs,
    after: Option<String>,
    limit: u64,
    json: bool,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let search = search_of(&store, args, after).await?;
    let mut found = store.search_events(&search, limit + 1).await?;
    let more = found.len() as u64 > limit;
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more
        .then(|| found.last().map(|e| e.cursor().encode()))
        .flatten();
    let ids = found.iter().filter_map(|e| e.event.user_id.as_deref());
    let names = tessera_admin::usernames(&store, ids).await?;
    if json {
        let events: Vec<_> = found
            .iter()
            .map(|f| {
                let e = &f.event;
                let username = e.user_id.as_ref().and_then(|id| names.get(id));
                json!({
                    "id": f.id, "occurred_at": e.occurred_at, "kind": e.kind, "actor": e.actor,
                    "client_id": e.client_id, "user_id": e.user_id, "username": username,
                    "ip": e.ip, "details": e.details,
                })
            })
            .collect();
        return print_json(&json!({ "events": events, "next": next }));
    }
    println!(
        "{:<19} {:<28} {:<20} {:<20} {:<24} IP",
        "WHEN (UTC)", "KIND", "ACTOR", "USER", "CLIENT"
    );
    for FoundEvent { event: e, .. } in &found {
        let user = e
            .user_id
            .as_ref()
            .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()))
            .unwrap_or_default();
        println!(
            "{:<19} {:<28} {:<20} {:<20} {:<24} {}",
            e.occurred_at.format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.actor.as_deref().unwrap_or(""),
            user,
            e.client_id.as_deref().unwrap_or(""),
            e.ip.as_deref().unwrap_or(""),
        );
    }
    if let Some(next) = next {
        println!("older events: tessera audit list --after {next} (with the same filters)");
    }
    Ok(())
}

async fn export(config: &Config, args: FilterArgs, format: &str) -> anyhow::Result<()> {
    let Some(format) = ExportFormat::parse(format) else {
        bail!("export as csv or jsonl");
    };
    let store = open_store(config).await?;
    let mut search = search_of(&store, args, None).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(format.header().as_bytes())?;
    loop {
        let batch = store.search_events(&search, EXPORT_BATCH).await?;
        let mut text = String::new();
        for found in &batch {
            audit::write_event(format, found, &mut text);
        }
        out.write_all(text.as_bytes())?;
        if (batch.len() as u64) < EXPORT_BATCH {
            break;
        }
        search.after = batch.last().map(FoundEvent::cursor);
    }
    out.flush()?;
    Ok(())
}
