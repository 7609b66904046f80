//! `actlog demo`: record realistic activities in a directory and show what the engine does.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use actlog::model::marketo;
use actlog::{
    Direction, Engine, NewActivity, Options, Outcome, PersonId, QueryOptions, SyncPolicy,
};

use actlog_workload::workload::WorkloadRng;

use crate::output::{human_bytes, Printer};
use crate::progress;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many activities to record.
    #[arg(long, default_value_t = 1_000_000)]
    activities: u64,
    /// Persons the activities are spread over.
    #[arg(long, default_value_t = 100_000)]
    persons: u64,
    /// Seed of the generator, so runs are reproducible.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

const WEBINAR_TYPE: &str = r#"{
  "apiName": "webinarAttended",
  "name": "Attended Webinar",
  "description": "A person attended a live webinar",
  "triggerName": "Attends Webinar",
  "filterName": "Attended Webinar",
  "primaryAttribute": {"apiName": "webinarName", "name": "Webinar Name", "dataType": "string"},
  "attributes": [
    {"apiName": "durationMinutes", "name": "Duration Minutes", "dataType": "integer"},
    {"apiName": "askedQuestion", "name": "Asked a Question", "dataType": "boolean"},
    {"apiName": "channel", "name": "Channel", "dataType": "string"}
  ]
}"#;

const DEPOSIT_TYPE: &str = r#"{
  "apiName": "checkDeposited",
  "name": "Deposited Check",
  "description": "A person deposited a check at a branch or in the app",
  "triggerName": "Deposits Check",
  "filterName": "Deposited Check",
  "primaryAttribute": {"apiName": "branch", "name": "Branch", "dataType": "string"},
  "attributes": [
    {"apiName": "amount", "name": "Amount", "dataType": "currency"},
    {"apiName": "checkNumber", "name": "Check Number", "dataType": "integer"},
    {"apiName": "depositDate", "name": "Deposit Date", "dataType": "date"}
  ]
}"#;

const WEBINARS: [&str; 8] = [
    "Rust 101",
    "Async Rust in Production",
    "Storage Engines Explained",
    "Event Sourcing Patterns",
    "Marketing Automation Basics",
    "Smart Lists Deep Dive",
    "Scaling Activity Data",
    "Quarterly Product Update",
];
const CHANNELS: [&str; 3] = ["zoom", "youtube", "in-person"];
const BRANCHES: [&str; 6] = [
    "Downtown",
    "Airport",
    "Harbor",
    "Uptown",
    "Mobile App",
    "Riverside",
];
const PAGES: [&str; 6] = [
    "https://example.com/",
    "https://example.com/pricing",
    "https://example.com/docs",
    "https://example.com/blog/rust-101",
    "https://example.com/webinars",
    "https://example.com/contact",
];

const DAY_MS: i64 = 86_400_000;
const BATCH: usize = 10_000;

/// The shared workload's generator, with the two draws the demo needs.
struct Rng(WorkloadRng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n.max(1))
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Persons with a skew: a few are far more active than most.
    fn person(&mut self, persons: u64) -> PersonId {
        let u = self.0.unit_f64();
        PersonId(1 + ((u * u * u) * persons as f64) as u64 % persons.max(1))
    }
}

fn ensure_type(engine: &Engine, json: &str) -> Result<()> {
    let definition: marketo::TypeDefinitionJson = serde_json::from_str(json)?;
    if engine.activity_type(definition.api_name.as_str()).is_none() {
        let created = engine.create_type(definition.into_definition()?)?;
        engine.approve_type(created.id())?;
    }
    Ok(())
}

pub fn run(data: &Path, args: DemoArgs) -> Result<ExitCode> {
    let fresh = !data.exists();
    let engine = Engine::open(
        data,
        Options {
            sync: SyncPolicy::Always,
            ..Options::default()
        },
    )?;
    ensure_type(&engine, WEBINAR_TYPE)?;
    ensure_type(&engine, DEPOSIT_TYPE)?;
    eprintln!(
        "actlog demo: recording {} activities for {} persons over 90 days in {}{}",
        args.activities,
        args.persons,
        data.display(),
        if fresh {
            ""
        } else {
            " (existing directory: adding to it)"
        }
    );

    let mut rng = Rng(WorkloadRng::new(args.seed));
    let end_ms = actlog::now_ms();
    let span_ms = 90 * DAY_MS;
    let start_ms = end_ms - span_ms;
    let bar = progress::bar("recording", args.activities);
    let started = Instant::now();
    let mut added = 0u64;
    let mut made = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    while made < args.activities {
        let occurred = start_ms + (span_ms as f64 * made as f64 / args.activities as f64) as i64
            - rng.below(60_000) as i64;
        let person = rng.person(args.persons);
        let item = match rng.below(10) {
            0..=5 => {
                let page = rng.below(PAGES.len() as u64);
                NewActivity::new(person, "visitWebpage", occurred)
                    .primary(1000 + page as i64)
                    .attr("webpageURL", PAGES[page as usize])
                    .attr(
                        "clientIPAddress",
                        format!("10.0.{}.{}", rng.below(256), rng.below(256)),
                    )
                    .attr("userAgent", "Mozilla/5.0")
            }
            6..=8 => NewActivity::new(person, "webinarAttended", occurred)
                .primary(rng.pick(&WEBINARS))
                .attr("durationMinutes", 5 + rng.below(85) as i64)
                .attr("askedQuestion", rng.below(4) == 0)
                .attr("channel", rng.pick(&CHANNELS)),
            _ => NewActivity::new(person, "checkDeposited", occurred)
                .primary(rng.pick(&BRANCHES))
                .attr("amount", (rng.below(500_000) as f64) / 100.0)
                .attr("checkNumber", 1000 + rng.below(9000) as i64)
                .attr(
                    "depositDate",
                    actlog::model::time::format_date(occurred.div_euclid(DAY_MS) as i32),
                ),
        };
        batch.push(item);
        made += 1;
        if batch.len() == BATCH || made == args.activities {
            for outcome in engine.append_batch(std::mem::take(&mut batch))? {
                match outcome {
                    Outcome::Added { .. } | Outcome::Duplicate { .. } => added += 1,
                    Outcome::Skipped { reasons } => {
                        anyhow::bail!("the demo generated an invalid activity: {reasons:?}")
                    }
                }
            }
            bar.set_position(made);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    engine.wait_indexed()?;
    let indexed = started.elapsed().as_secs_f64();
    let stats = engine.stats()?;
    println!(
        "recorded {added} activities in {elapsed:.2} s: {:.0} activities/s, each durable (fdatasync) before its batch returned",
        added as f64 / elapsed.max(1e-9)
    );
    println!(
        "indexed by person, type and primary value within {indexed:.2} s; the log holds {} activities in {} ({:.0} bytes each)",
        stats.activities,
        human_bytes(stats.log_bytes),
        stats.log_bytes as f64 / stats.activities.max(1) as f64,
    );

    let catalog = engine.catalog();
    let mut out = Printer::stdout();
    let busiest = PersonId(1);
    println!("\nThe latest 3 activities of person {busiest}:");
    let started = Instant::now();
    let results = engine.query_text(
        &format!("person = {busiest}"),
        QueryOptions {
            limit: Some(3),
            direction: Direction::Descending,
            ..QueryOptions::default()
        },
    )?;
    for activity in results {
        out.activity(&catalog, &activity?)?;
    }
    out.flush()?;
    println!("({:.0} µs)", started.elapsed().as_secs_f64() * 1e6);

    let filter = r#"type = webinarAttended and primary = "Rust 101" and attr.durationMinutes > 60"#;
    println!("\nThe first 2 of `{filter}`:");
    for activity in engine.query_text(
        filter,
        QueryOptions {
            limit: Some(2),
            ..QueryOptions::default()
        },
    )? {
        out.activity(&catalog, &activity?)?;
    }
    out.flush()?;

    let list = r#"did webinarAttended where primary = "Rust 101" at least 2 times in last 30d and not did checkDeposited in last 30d"#;
    let started = Instant::now();
    let count = engine.people_text(list)?.count();
    println!(
        "\nPeople who {list}: {count} ({:.1} ms)",
        started.elapsed().as_secs_f64() * 1e3
    );

    let data = data.display();
    println!(
        "\nTry next:\n  actlog --data {data} stats\n  actlog --data {data} query 'person = 1' --limit 5 --desc\n  actlog --data {data} query 'type = checkDeposited and attr.amount > 4000 and occurred in last 7d' --limit 5 --format table\n  actlog --data {data} people 'did webinarAttended at least 3 times' --count\n  actlog --data {data} replay --from 0 --limit 3\n  actlog --data {data} verify\n  actlog --data {data} serve   # Marketo's REST API on http://127.0.0.1:8080"
    );
    engine.close()?;
    Ok(ExitCode::SUCCESS)
}
