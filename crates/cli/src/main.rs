//! The `actlog` command: a thin shell over the engine's public API.
//!
//! Every subcommand opens the engine directory (`--data`, `ACTLOG_DATA`, or
//! `./actlog-data`), does one job, and closes it cleanly. Output meant for scripts goes to
//! stdout (JSON lines, one id a line); progress and summaries go to stderr.

mod bench;
mod demo;
mod duration;
mod ingest;
mod output;
mod progress;
mod query_cmd;
mod types_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use actlog::{ActivityId, Engine, Options};

/// An embeddable, append-only activity log: record, query, replay, serve.
#[derive(Debug, Parser)]
#[command(name = "actlog", version, about)]
struct Cli {
    /// The engine directory.
    #[arg(
        long,
        global = true,
        env = "ACTLOG_DATA",
        default_value = "./actlog-data"
    )]
    data: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Define and inspect activity types.
    #[command(subcommand)]
    Types(types_cmd::TypesCommand),
    /// Record activities from JSON lines in Marketo's input shape (a file or `-` for stdin).
    Ingest(ingest::IngestArgs),
    /// Print one activity as JSON.
    Get {
        /// The activity id.
        id: u64,
    },
    /// Print activities in id order as JSON lines.
    Replay {
        /// First id.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// At most this many.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Print activities from an id on, then follow new ones until interrupted.
    Tail {
        /// First id (default: the end, so only new activities).
        #[arg(long)]
        from: Option<u64>,
    },
    /// Stream the activities that match a filter (see docs/QUERY.md).
    Query(query_cmd::QueryArgs),
    /// Print the people a smart list matches, one id a line.
    People(query_cmd::PeopleArgs),
    /// Counts, sizes and the index's progress.
    Stats {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check every record, every index block, and that the index agrees with the log.
    Verify,
    /// Cut a log at its first damaged record, dropping everything after it.
    Repair {
        /// Really cut (without it, only say what would be cut).
        #[arg(long)]
        yes: bool,
    },
    /// Remove whole segments older than a duration (e.g. `90d`, `12h`).
    Retain {
        /// Age past which segments go.
        #[arg(long)]
        older_than: String,
    },
    /// Drop the index and rebuild it from the log.
    Reindex,
    /// Record realistic sample activities and show what the engine can do.
    Demo(demo::DemoArgs),
    /// Measure ingest or query speed on generated activities.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Serve Marketo's activity REST API over HTTP.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// OAuth client id clients authenticate with.
    #[arg(long, env = "ACTLOG_CLIENT_ID")]
    client_id: Option<String>,
    /// OAuth client secret clients authenticate with.
    #[arg(long, env = "ACTLOG_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// A TOML file with the same settings.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// mimalloc instead of the system allocator: the write path and the HTTP server allocate
/// per activity (JSON values, names), and mimalloc does that work in fewer instructions
/// (docs/BENCHMARKS.md, section "HTTP").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Turns transparent huge pages off for this process, as `MIMALLOC_ALLOW_THP=0` would
/// (and as Redis and MongoDB advise): mimalloc asks for huge pages for its arenas, and
/// the kernel then zeroes a 2 MiB page at the first touch of any byte in it, again
/// after each time the allocator gives memory back. That zeroing was about a fifth of
/// ingest's samples, and the huge pages held more memory (docs/BENCHMARKS.md, "Ingest
/// without transparent huge pages").
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process's
    // huge page policy; a kernel that refuses it leaves the default, which is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn open(data: &std::path::Path) -> Result<Engine> {
    open_with(data, Options::default())
}

/// Opens the engine with `options`, showing the progress of any index rebuild.
fn open_with(data: &std::path::Path, options: Options) -> Result<Engine> {
    let options = Options {
        rebuild_progress: Some(progress::rebuild_reporter()),
        ..options
    };
    Engine::open(data, options).with_context(|| format!("cannot open {}", data.display()))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let data = cli.data;
    match cli.command {
        Command::Types(cmd) => types_cmd::run(&open(&data)?, cmd),
        Command::Ingest(args) => ingest::run(&open(&data)?, args),
        Command::Get { id } => {
            let engine = open(&data)?;
            match engine.get(ActivityId(id))? {
                Some(activity) => {
                    output::print_activity(&engine.catalog(), &activity)?;
                    finish(engine, ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("no activity with id {id}");
                    finish(engine, ExitCode::from(1))
                }
            }
        }
        Command::Replay { from, limit } => {
            let engine = open(&data)?;
            let catalog = engine.catalog();
            let mut out = output::Printer::stdout();
            for activity in engine
                .replay(ActivityId(from))?
                .take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)))
            {
                if !out.activity(&catalog, &activity?)? {
                    break;
                }
            }
            out.flush()?;
            finish(engine, ExitCode::SUCCESS)
        }
        Command::Tail { from } => tail(&open(&data)?, from),
        Command::Query(args) => query_cmd::query(&open(&data)?, args),
        Command::People(args) => query_cmd::people(&open(&data)?, args),
        Command::Stats { json } => {
            let engine = open(&data)?;
            output::print_stats(&engine.stats()?, json)?;
            finish(engine, ExitCode::SUCCESS)
        }
        Command::Verify => {
            let engine = match open(&data) {
                Ok(engine) => engine,
                Err(open_err) => {
                    // Damage can stop the engine from opening; still say where it is.
                    let report = match actlog::verify_logs(&data) {
                        Ok(report) if !report.is_clean() => report,
                        _ => return Err(open_err),
                    };
                    eprintln!("{open_err:#}");
                    output::print_verify(&report);
                    return Ok(ExitCode::from(1));
                }
            };
            let report = engine.verify()?;
            let clean = output::print_verify(&report);
            finish(
                engine,
                if clean {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                },
            )
        }
        Command::Repair { yes } => repair(&data, yes),
        Command::Retain { older_than } => {
            let age_ms = duration::parse_ms(&older_than)?;
            let engine = open(&data)?;
            let cutoff = actlog::now_ms().saturating_sub(age_ms);
            let report = engine.retain(cutoff)?;
            eprintln!(
                "removed {} segments ({} activities, {} bytes); the first id is now {}",
                report.segments_removed,
                report.records_removed,
                report.bytes_removed,
                report.first_offset
            );
            finish(engine, ExitCode::SUCCESS)
        }
        Command::Reindex => {
            // Into a fresh index directory: emptying sled in place leaves the old
            // index's bytes in its files (docs/OPERATIONS.md).
            let started = std::time::Instant::now();
            let engine = open_with(
                &data,
                Options {
                    rebuild_index: true,
                    ..Options::default()
                },
            )?;
            let secs = started.elapsed().as_secs_f64();
            let stats = engine.stats()?;
            eprintln!(
                "reindexed {} activities in {secs:.2} s ({:.0} activities/s)",
                stats.activities,
                stats.activities as f64 / secs.max(1e-9)
            );
            finish(engine, ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(&data, args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Serve(args) => serve(&data, args),
    }
}

fn finish(engine: Engine, code: ExitCode) -> Result<ExitCode> {
    engine.close().context("closing the engine")?;
    Ok(code)
}

fn tail(engine: &Engine, from: Option<u64>) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let from = from.map_or(engine.next_id(), ActivityId);
    runtime.block_on(async {
        use futures_util::StreamExt;
        let mut stream = engine.subscribe(from)?;
        let mut out = output::Printer::stdout();
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(activity) => {
                        if !out.activity(&engine.catalog(), &activity?)? {
                            break;
                        }
                        out.flush()?;
                    }
                    None => break,
                },
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn repair(data: &std::path::Path, yes: bool) -> Result<ExitCode> {
    if !yes {
        return match Engine::open(data, Options::default()) {
            Ok(engine) => {
                println!("the directory opens: no damage stops it (run `actlog verify` for a full check)");
                finish(engine, ExitCode::SUCCESS)
            }
            Err(err) => {
                println!("the directory does not open: {err}");
                println!("`actlog repair --yes` cuts the damaged log at its first damaged record, dropping every record after it");
                Ok(ExitCode::from(1))
            }
        };
    }
    let report = actlog::repair(data)?;
    output::print_repair(&report);
    Ok(ExitCode::SUCCESS)
}

fn serve(data: &std::path::Path, args: ServeArgs) -> Result<ExitCode> {
    let engine = open(data)?;
    let mut options = match &args.config {
        Some(path) => actlog_server::ServerOptions::from_toml_file(path)?,
        None => actlog_server::ServerOptions::default(),
    };
    options.addr = args.addr;
    if let Some(id) = args.client_id {
        options.client_id = id;
    }
    if let Some(secret) = args.client_secret {
        options.client_secret = secret;
    }
    if args.config.is_none() {
        options.exports_dir = data.join("exports");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(actlog_server::serve(
        engine.clone(),
        options,
        actlog_server::shutdown_signal(),
    ))?;
    finish(engine, ExitCode::SUCCESS)
}
