//! `actlog query` and `actlog people`.

use std::process::ExitCode;

use anyhow::Result;

use actlog::model::time::format_datetime_utc;
use actlog::{Direction, Engine, QueryOptions};

use crate::output::Printer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object a line, the shape `actlog replay` prints.
    Jsonl,
    /// Aligned columns for reading.
    Table,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The filter, e.g. `type = webinarAttended and occurred in last 30d`.
    filter: String,
    /// At most this many activities.
    #[arg(long)]
    limit: Option<usize>,
    /// Resume after the last activity of an earlier page.
    #[arg(long)]
    cursor: Option<String>,
    /// Newest first.
    #[arg(long)]
    desc: bool,
    /// Print the chosen plan with estimated and actual counts (to stderr).
    #[arg(long)]
    explain: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
}

#[derive(Debug, clap::Args)]
pub struct PeopleArgs {
    /// The smart list, e.g. `did webinarAttended at least 2 times in last 30d`.
    list: String,
    /// Print only how many people match.
    #[arg(long)]
    count: bool,
}

pub fn query(engine: &Engine, args: QueryArgs) -> Result<ExitCode> {
    let options = QueryOptions {
        limit: args.limit,
        cursor: args.cursor,
        direction: if args.desc {
            Direction::Descending
        } else {
            Direction::Ascending
        },
        ..QueryOptions::default()
    };
    let mut results = engine.query_text(&args.filter, options)?;
    let catalog = engine.catalog();
    let mut out = Printer::stdout();
    if args.format == Format::Table {
        out.text(&format!(
            "{:>12}  {:<20}  {:>12}  {:<24}  {}",
            "id", "occurred", "person", "type", "primary"
        ))?;
    }
    for activity in results.by_ref() {
        let activity = activity?;
        let open = match args.format {
            Format::Jsonl => out.activity(&catalog, &activity)?,
            Format::Table => {
                let type_name = catalog
                    .get(activity.type_id)
                    .map_or_else(|| activity.type_id.to_string(), |t| t.api_name().to_owned());
                out.text(&format!(
                    "{:>12}  {:<20}  {:>12}  {:<24}  {}",
                    activity.id,
                    format_datetime_utc(activity.occurred_at_ms),
                    activity.person,
                    type_name,
                    activity.primary
                ))?
            }
        };
        if !open {
            break;
        }
    }
    out.flush()?;
    if let Some(cursor) = results.cursor() {
        eprintln!("cursor: {cursor}");
    }
    if args.explain {
        eprintln!("{}", results.explain());
    }
    engine.clone().close()?;
    Ok(ExitCode::SUCCESS)
}

pub fn people(engine: &Engine, args: PeopleArgs) -> Result<ExitCode> {
    let people = engine.people_text(&args.list)?;
    if args.count {
        println!("{}", people.count());
    } else {
        let mut out = Printer::stdout();
        for person in people.iter() {
            if !out.text(&person.to_string())? {
                break;
            }
        }
        out.flush()?;
    }
    engine.clone().close()?;
    Ok(ExitCode::SUCCESS)
}
