//! `actlog bench`: ingest and query speed on the shared generated workload.
//!
//! Both commands draw from `actlog-workload`, the generator the criterion benches use,
//! so their figures describe the same data (docs/BENCHMARKS.md). Progress goes to
//! stderr (hidden when it is not a terminal); the report goes to stdout, as text or as
//! one JSON object (`--json`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use actlog::{ActivityId, Direction, Engine, Options, Outcome, QueryOptions, SyncPolicy};
use actlog_workload::workload::{
    GenActivity, Workload, WorkloadOptions, WorkloadRng, ACTIVITY_TYPES, DEFAULT_SEED,
};

use crate::progress;

/// Most activities one writer takes from the shared generator at a time.
const BATCH_MAX: usize = 1_000_000;
/// Batch size used to load a data set for `bench query` (not measured).
const LOAD_BATCH: usize = 10_000;
/// How many activities a person timeline returns.
const TIMELINE_LIMIT: usize = 100;

/// The two benches.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Record generated activities into a fresh directory and report the rate.
    Ingest(IngestArgs),
    /// Query a generated data set and report latencies.
    Query(QueryArgs),
}

/// When appends are durable, as `Options::sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncArg {
    /// An fdatasync covers every batch before it is acknowledged.
    Always,
    /// An fdatasync every `--interval-ms`.
    Interval,
    /// No fdatasync; the OS decides.
    Never,
}

impl SyncArg {
    fn policy(self, interval_ms: u32) -> SyncPolicy {
        match self {
            SyncArg::Always => SyncPolicy::Always,
            SyncArg::Interval => SyncPolicy::IntervalMs(interval_ms),
            SyncArg::Never => SyncPolicy::Never,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SyncArg::Always => "always",
            SyncArg::Interval => "interval",
            SyncArg::Never => "never",
        }
    }
}

/// `actlog bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Activities to record in all.
    #[arg(long, default_value_t = 1_000_000)]
    activities: u64,
    /// Activities per `append_batch` call.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Durability of each batch.
    #[arg(long, value_enum, default_value_t = SyncArg::Always)]
    sync: SyncArg,
    /// The fdatasync interval under `--sync interval`.
    #[arg(long, default_value_t = 100)]
    interval_ms: u32,
    /// Threads appending at once, sharing one generator.
    #[arg(long, default_value_t = 1)]
    writers: usize,
    /// Directory to record into; must be empty or absent, and is kept. Default: a fresh
    /// temporary directory, removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seed of the workload.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `actlog bench query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Activities to load when the directory holds none.
    #[arg(long, default_value_t = 1_000_000)]
    activities: u64,
    /// Directory of the data set: reused when it holds activities, loaded otherwise and
    /// kept. Default: a fresh temporary directory, removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Person timelines to time.
    #[arg(long, default_value_t = 2_000)]
    lookups: usize,
    /// Seed of the workload (when loading) and of the drawn queries.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs one bench and prints its report.
pub fn run(command: BenchCommand) -> Result<ExitCode> {
    let report = match command {
        BenchCommand::Ingest(args) => {
            let json = args.json;
            (bench_ingest(args)?, json)
        }
        BenchCommand::Query(args) => {
            let json = args.json;
            (bench_query(args)?, json)
        }
    };
    print_report(&report.0, report.1)?;
    Ok(ExitCode::SUCCESS)
}

// ----- ingest -------------------------------------------------------------------------

fn bench_ingest(args: IngestArgs) -> Result<serde_json::Value> {
    if args.activities == 0 {
        bail!("--activities must be at least 1");
    }
    if args.batch == 0 || args.batch > BATCH_MAX {
        bail!("--batch must be between 1 and {BATCH_MAX}");
    }
    if args.writers == 0 || args.writers > 256 {
        bail!("--writers must be between 1 and 256");
    }
    let place = BenchDir::new(args.dir.as_deref(), Fresh::Required)?;
    let options = Options {
        sync: args.sync.policy(args.interval_ms),
        batch_items_max: args.batch.max(Options::default().batch_items_max),
        ..Options::default()
    };
    let engine = Engine::open(place.path(), options)
        .with_context(|| format!("opening {}", place.path().display()))?;
    let type_ids = actlog_workload::define_types(&engine)?;
    let workload = Workload::new(WorkloadOptions {
        seed: args.seed,
        ..WorkloadOptions::default()
    })?;

    let bar = progress::bar("ingesting", args.activities);
    // One stream shared by every writer: each takes the next batch under the lock, so
    // W writers record the same activities as one, interleaved by batch.
    let generator = Mutex::new((workload.generator(), args.activities));
    let recorded = AtomicU64::new(0);
    let start = Instant::now();
    let latencies = std::thread::scope(|scope| -> Result<Vec<u32>> {
        let writers: Vec<_> = (0..args.writers)
            .map(|_| {
                scope.spawn(|| {
                    write_batches(&engine, &type_ids, &generator, args.batch, &recorded, &bar)
                })
            })
            .collect();
        let mut all = Vec::new();
        for writer in writers {
            match writer.join() {
                Ok(latencies) => all.extend(latencies?),
                Err(_) => bail!("a writer thread panicked"),
            }
        }
        Ok(all)
    })?;
    let append_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let at_end = engine.stats()?;
    let catch_up_start = Instant::now();
    engine.wait_indexed()?;
    let catch_up_ms = catch_up_start.elapsed().as_secs_f64() * 1e3;
    let indexed_s = start.elapsed().as_secs_f64();
    let log_bytes = at_end.log_bytes;
    let activities = recorded.load(Ordering::Relaxed);
    debug_assert_eq!(activities, args.activities);
    // Closing flushes the index, so the sizes below are what stays on disk.
    engine.close()?;
    let sizes = DirSizes::measure(place.path())?;
    let peak_rss_bytes = peak_rss_bytes()?;

    let mut latencies = latencies;
    latencies.sort_unstable();
    Ok(json!({
        "bench": "ingest",
        "activities": activities,
        "batch": args.batch,
        "writers": args.writers,
        "sync": args.sync.as_str(),
        "seconds": round(append_s, 3),
        "activities_per_sec": round(activities as f64 / append_s, 0),
        "activities_per_sec_indexed": round(activities as f64 / indexed_s, 0),
        "mb_per_sec": round(log_bytes as f64 / append_s / 1e6, 2),
        "latency_us_p50": percentile(&latencies, 0.50),
        "latency_us_p99": percentile(&latencies, 0.99),
        "latency_us_p999": percentile(&latencies, 0.999),
        "latency_us_max": latencies.last().copied().unwrap_or(0),
        "index_lag": at_end.index_lag,
        "index_catch_up_ms": round(catch_up_ms, 1),
        "log_bytes": sizes.log_bytes,
        "index_bytes": sizes.index_bytes,
        "disk_bytes": sizes.total_bytes,
        "bytes_per_activity": round(sizes.total_bytes as f64 / activities as f64, 1),
        "log_bytes_per_activity": round(sizes.log_bytes as f64 / activities as f64, 1),
        "index_bytes_per_activity": round(sizes.index_bytes as f64 / activities as f64, 1),
        "peak_rss_bytes": peak_rss_bytes,
        "dir": place.kept().map(|p| p.display().to_string()),
    }))
}

/// One writer: takes batches from the shared generator until it runs dry, appends
/// each, and returns the latency of every `append_batch` call in µs.
fn write_batches(
    engine: &Engine,
    type_ids: &[actlog::TypeId],
    generator: &Mutex<(actlog_workload::workload::Generator<'_>, u64)>,
    batch_len: usize,
    recorded: &AtomicU64,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<u32>> {
    let mut latencies = Vec::new();
    let mut generated: Vec<GenActivity<'_>> = Vec::with_capacity(batch_len);
    loop {
        generated.clear();
        {
            let mut guard = generator
                .lock()
                .map_err(|_| anyhow::anyhow!("a writer panicked while generating"))?;
            let (g, left) = &mut *guard;
            let take = (*left).min(batch_len as u64);
            if take == 0 {
                return Ok(latencies);
            }
            *left -= take;
            g.fill(&mut generated, take as usize);
        }
        let items = generated
            .iter()
            .map(|a| actlog_workload::to_new_activity(a, type_ids))
            .collect();
        let start = Instant::now();
        let outcomes = engine.append_batch(items)?;
        let elapsed = start.elapsed();
        latencies.push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        if let Some(bad) = outcomes
            .iter()
            .find(|o| !matches!(o, Outcome::Added { .. }))
        {
            bail!("a generated activity was not recorded: {bad:?}");
        }
        recorded.fetch_add(outcomes.len() as u64, Ordering::Relaxed);
        bar.inc(outcomes.len() as u64);
    }
}

// ----- query --------------------------------------------------------------------------

fn bench_query(args: QueryArgs) -> Result<serde_json::Value> {
    if args.lookups == 0 {
        bail!("--lookups must be at least 1");
    }
    let place = BenchDir::new(args.dir.as_deref(), Fresh::Optional)?;
    let engine = Engine::open(
        place.path(),
        Options {
            sync: SyncPolicy::Never,
            ..Options::default()
        },
    )
    .with_context(|| format!("opening {}", place.path().display()))?;
    let type_ids = actlog_workload::define_types(&engine)?;

    let mut loaded = false;
    let mut load_s = 0.0;
    if engine.stats()?.activities == 0 {
        if args.activities == 0 {
            bail!("--activities must be at least 1 to load an empty directory");
        }
        let start = Instant::now();
        load(&engine, &type_ids, args.activities, args.seed)?;
        load_s = start.elapsed().as_secs_f64();
        loaded = true;
    }
    let indexing = progress::bar("indexing", 0);
    engine.wait_indexed()?;
    indexing.finish_and_clear();
    let stats = engine.stats()?;
    let (first, next) = (stats.first_id.get(), stats.next_id.get());
    // The earliest and latest occurrence, not those of the first and last id: writers
    // append batches in the order they win the log, not the order they were made in.
    let span = stats
        .occurred_range_ms
        .map(|(min, max)| (min, max + 1))
        .context("the directory holds no activities")?;

    // Persons drawn as they act (the person of a random activity): active persons, with
    // long timelines, come up as often as they appear in the data.
    let mut rng = WorkloadRng::new(args.seed ^ 0x00C0_FFEE);
    let mut persons = Vec::with_capacity(args.lookups);
    for _ in 0..args.lookups {
        let id = first + rng.below(next - first);
        if let Some(a) = engine.get(ActivityId(id))? {
            persons.push(a.person);
        }
    }
    let bar = progress::bar("timelines", persons.len() as u64);
    let mut latencies = Vec::with_capacity(persons.len());
    let mut timeline_rows = 0u64;
    for person in &persons {
        let start = Instant::now();
        let options = QueryOptions {
            limit: Some(TIMELINE_LIMIT),
            direction: Direction::Descending,
            ..QueryOptions::default()
        };
        let mut rows = 0u64;
        for activity in engine.query_text(&format!("person = {}", person.0), options)? {
            activity?;
            rows += 1;
        }
        latencies.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
        timeline_rows += rows;
        bar.inc(1);
    }
    bar.finish_and_clear();
    latencies.sort_unstable();

    // Each type over the middle half of the time span.
    let (from, to) = (
        span.0 + (span.1 - span.0) / 4,
        span.1 - (span.1 - span.0) / 4,
    );
    let bar = progress::bar("type ranges", ACTIVITY_TYPES.len() as u64);
    let start = Instant::now();
    let mut range_matches = 0u64;
    for spec in &ACTIVITY_TYPES {
        let filter = format!(
            "type = {} and occurred >= {} and occurred < {}",
            spec.api_name,
            datetime_ms(from),
            datetime_ms(to)
        );
        for activity in engine.query_text(&filter, QueryOptions::default())? {
            activity?;
            range_matches += 1;
        }
        bar.inc(1);
    }
    let range_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let bar = progress::bar("replay", next - first);
    let start = Instant::now();
    let mut replayed = 0u64;
    for activity in engine.replay(ActivityId(first))? {
        activity?;
        replayed += 1;
        if replayed.is_multiple_of(65_536) {
            bar.set_position(replayed);
        }
    }
    let replay_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let smart_list = format!(
        "did {} at least 2 times and not did {}",
        ACTIVITY_TYPES[0].api_name, ACTIVITY_TYPES[1].api_name
    );
    let start = Instant::now();
    let people = engine.people_text(&smart_list)?;
    let smart_list_ms = start.elapsed().as_secs_f64() * 1e3;
    let smart_list_persons = people.count();

    engine.close()?;
    let peak_rss_bytes = peak_rss_bytes()?;
    Ok(json!({
        "bench": "query",
        "activities": next - first,
        "loaded": loaded,
        "load_seconds": round(load_s, 3),
        "person_latest_lookups": latencies.len(),
        "person_latest_rows_mean": round(timeline_rows as f64 / latencies.len().max(1) as f64, 1),
        "person_latest_us_p50": percentile(&latencies, 0.50),
        "person_latest_us_p99": percentile(&latencies, 0.99),
        "type_range_matches": range_matches,
        "type_range_seconds": round(range_s, 3),
        "type_range_matches_per_sec": round(range_matches as f64 / range_s, 0),
        "replay_activities": replayed,
        "replay_seconds": round(replay_s, 3),
        "replay_activities_per_sec": round(replayed as f64 / replay_s, 0),
        "smart_list": smart_list,
        "smart_list_persons": smart_list_persons,
        "smart_list_ms": round(smart_list_ms, 1),
        "peak_rss_bytes": peak_rss_bytes,
        "dir": place.kept().map(|p| p.display().to_string()),
    }))
}

/// Records `count` generated activities with no fdatasync (loading is not measured).
fn load(engine: &Engine, type_ids: &[actlog::TypeId], count: u64, seed: u64) -> Result<()> {
    let workload = Workload::new(WorkloadOptions {
        seed,
        ..WorkloadOptions::default()
    })?;
    let mut generator = workload.generator();
    let bar = progress::bar("loading", count);
    let mut left = count;
    let mut generated = Vec::with_capacity(LOAD_BATCH);
    while left > 0 {
        let take = left.min(LOAD_BATCH as u64) as usize;
        generated.clear();
        generator.fill(&mut generated, take);
        let items = generated
            .iter()
            .map(|a| actlog_workload::to_new_activity(a, type_ids))
            .collect();
        let outcomes = engine.append_batch(items)?;
        if let Some(bad) = outcomes
            .iter()
            .find(|o| !matches!(o, Outcome::Added { .. }))
        {
            bail!("a generated activity was not recorded: {bad:?}");
        }
        left -= take as u64;
        bar.inc(take as u64);
    }
    engine.sync()?;
    bar.finish_and_clear();
    Ok(())
}

// ----- shared -------------------------------------------------------------------------

/// Whether a `--dir` must be empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// Ingest measures a fresh directory only.
    Required,
    /// Query reuses a loaded directory.
    Optional,
}

/// The directory a bench works in: the one given (kept), or a temporary one removed
/// when this is dropped.
#[derive(Debug)]
struct BenchDir {
    path: PathBuf,
    temporary: bool,
}

impl BenchDir {
    fn new(given: Option<&Path>, fresh: Fresh) -> Result<Self> {
        if let Some(path) = given {
            if fresh == Fresh::Required && path.exists() {
                let mut entries = std::fs::read_dir(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                if entries.next().is_some() {
                    bail!(
                        "{} is not empty; the ingest bench needs a fresh directory",
                        path.display()
                    );
                }
            }
            return Ok(Self {
                path: path.to_path_buf(),
                temporary: false,
            });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("actlog-bench-{}-{nanos:x}", std::process::id()));
        std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self {
            path,
            temporary: true,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// The directory, if it outlives the bench.
    fn kept(&self) -> Option<&Path> {
        (!self.temporary).then_some(self.path.as_path())
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        if self.temporary {
            // Best effort: a leftover temporary directory is not worth failing over.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Bytes of the files under an engine directory: the activities log, the index, and
/// everything (catalog, lock) together.
#[derive(Debug, Default)]
struct DirSizes {
    log_bytes: u64,
    index_bytes: u64,
    total_bytes: u64,
}

impl DirSizes {
    fn measure(dir: &Path) -> Result<Self> {
        Ok(Self {
            log_bytes: tree_bytes(&dir.join("activities"))?,
            index_bytes: tree_bytes(&dir.join("index"))?,
            total_bytes: tree_bytes(dir)?,
        })
    }
}

fn tree_bytes(path: &Path) -> Result<u64> {
    if !path.exists() {
        return Ok(0);
    }
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        total += tree_bytes(&entry?.path())?;
    }
    Ok(total)
}

/// The process's peak resident set (`VmHWM`), in bytes.
fn peak_rss_bytes() -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .context("no VmHWM line in /proc/self/status")?;
    Ok(kib * 1024)
}

/// The value at quantile `q` of sorted `values` (nearest rank), 0 when empty.
fn percentile(sorted: &[u32], q: f64) -> u32 {
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// `ms` as a filter datetime literal with milliseconds (`2024-01-01T00:00:00.250Z`).
fn datetime_ms(ms: i64) -> String {
    let seconds = actlog::model::time::format_datetime_utc(ms.div_euclid(1_000) * 1_000);
    let stem = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{stem}.{:03}Z", ms.rem_euclid(1_000))
}

fn print_report(report: &serde_json::Value, as_json: bool) -> Result<()> {
    if as_json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    let Some(fields) = report.as_object() else {
        bail!("a bench report is a JSON object");
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in fields {
        let shown = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                (Some(u), _) => group_thousands(u),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => group_thousands(f as u64),
                _ => n.to_string(),
            },
            other => other.to_string(),
        };
        println!("{key:<width$}  {shown}");
    }
    Ok(())
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.50), 500);
        assert_eq!(percentile(&v, 0.99), 990);
        assert_eq!(percentile(&v, 0.999), 999);
        assert_eq!(percentile(&[7], 0.999), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn datetimes_keep_their_milliseconds() {
        assert_eq!(datetime_ms(1_704_067_200_250), "2024-01-01T00:00:00.250Z");
        assert_eq!(datetime_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn peak_memory_is_read() {
        let bytes = peak_rss_bytes().unwrap();
        assert!(bytes > 1024 * 1024, "{bytes}");
    }
}
