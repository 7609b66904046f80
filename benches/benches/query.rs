//! Query benches (filters and smart lists through the engine's public API) on 10 million
//! generated activities: 100,000 persons, two types (half webinars with 20 names and two
//! indexed attributes, half deposits), a year of history ending now, times mostly
//! ascending with one in twenty backdated by up to ten days.
//!
//! Four figures, each the goal of one line of docs/BENCHMARKS.md's "Queries":
//!
//! - `person_type_90d`: a person's webinars in a 90-day range (criterion times 100
//!   queries of different persons per iteration; the summary gives p50 and p99);
//! - `type_one_day`: every webinar of one day, as matches per second, read in place
//!   (`QueryResults::next_view`) and as owned activities;
//! - `smart_list`: `did webinarAttended where primary = "Webinar 3" at least 2 times in
//!   last 30d and not did checkDeposited` over the 100,000 persons;
//! - `full_scan`: `attr.askedQuestion = true`, an attribute no index holds, so every
//!   record is read, as activities read per second.
//!
//! Run: `cargo bench -p actlog-benches --bench query`. Loading 10 M activities takes
//! tens of seconds; the summary printed first runs each figure once more outside
//! criterion. Environment:
//!
//! - `ACTLOG_QUERY_BENCH_ACTIVITIES=1000000`: how many to load (default 10 M);
//! - `ACTLOG_QUERY_BENCH_DIR=/path`: keep the loaded engine there and reuse it on the
//!   next run (the time its history ends at is kept beside it in `/path.now`);
//! - `ACTLOG_QUERY_BENCH_ONLY=2`: the summary runs that figure only (1 to 4, in the order
//!   above); `ACTLOG_QUERY_BENCH_ROUNDS=5` runs the person and type figures five times
//!   over (default three; other persons each round), to tell the first reads after the
//!   open, which fill sled's cache, from later ones;
//! - `ACTLOG_QUERY_BENCH_NO_SCAN=1`: the summary leaves out the smart list's log-scan
//!   check (which reads every activity), so a profile of figure 3 shows the indexed
//!   answer alone;
//! - `ACTLOG_QUERY_BENCH_SLED_CACHE_MB=512`: sled's cache for the index (default 64).
//!
//! A criterion filter that matches nothing (`-- nomatch`) runs the summary alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use actlog::model::{AttributeDefinition, DataType, TypeDefinition};
use actlog::query::parse_smart_list;
use actlog::{Engine, NewActivity, Options, PersonId, QueryOptions};
use actlog_benches::SplitMix64 as Rng;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const PERSONS: u64 = 100_000;
const DAY_MS: i64 = 86_400_000;
const SPAN_MS: i64 = 365 * DAY_MS;
const BANKS: [&str; 2] = ["Chase", "Citi"];
const CHANNELS: [&str; 2] = ["zoom", "meet"];
const SMART_LIST: &str = "did webinarAttended where primary = \"Webinar 3\" at least 2 times \
                          in last 30d and not did checkDeposited";
const SMART_LIST_30D: &str = "did webinarAttended where primary = \"Webinar 3\" at least 2 \
                              times in last 30d and not did checkDeposited in last 30d";
const SCAN_FILTER: &str = "attr.askedQuestion = true";
/// Person queries per criterion iteration of `person_type_90d`.
const PERSONS_PER_ITER: usize = 100;

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn define_types(engine: &Engine) {
    let webinar = TypeDefinition {
        api_name: "webinarAttended".into(),
        name: "Attended Webinar".into(),
        description: None,
        trigger_name: "Attends Webinar".into(),
        filter_name: "Attended Webinar".into(),
        primary_attribute: AttributeDefinition::new("webinarName", "Webinar", DataType::String),
        attributes: vec![
            AttributeDefinition::new("durationMinutes", "Duration", DataType::Integer).indexed(),
            AttributeDefinition::new("channel", "Channel", DataType::String).indexed(),
            AttributeDefinition::new("askedQuestion", "Asked", DataType::Boolean),
        ],
    };
    let deposit = TypeDefinition {
        api_name: "checkDeposited".into(),
        name: "Deposited Check".into(),
        description: None,
        trigger_name: "Deposits Check".into(),
        filter_name: "Deposited Check".into(),
        primary_attribute: AttributeDefinition::new("bank", "Bank", DataType::String),
        attributes: vec![
            AttributeDefinition::new("amount", "Amount", DataType::Currency).indexed(),
            AttributeDefinition::new("branch", "Branch", DataType::String),
        ],
    };
    for def in [webinar, deposit] {
        let t = engine.create_type(def).unwrap();
        engine.approve_type(t.id()).unwrap();
    }
}

/// The engine with the data set loaded (or reused) and reopened, as after a restart,
/// and the time the set's history ends at.
struct DataSet {
    engine: Engine,
    now_ms: i64,
    activities: u64,
    _temp: Option<tempfile::TempDir>,
}

impl DataSet {
    fn open() -> DataSet {
        let activities: u64 = env("ACTLOG_QUERY_BENCH_ACTIVITIES").unwrap_or(10_000_000);
        let kept: Option<PathBuf> = std::env::var_os("ACTLOG_QUERY_BENCH_DIR").map(PathBuf::from);
        let temp = match kept {
            Some(_) => None,
            None => Some(tempfile::tempdir().unwrap()),
        };
        let path = kept
            .clone()
            .unwrap_or_else(|| temp.as_ref().unwrap().path().to_path_buf());
        let now_path = path.with_extension("now");
        let reuse = kept.is_some() && now_path.exists();
        let now_ms = if reuse {
            std::fs::read_to_string(&now_path)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        } else {
            let engine = Engine::open(
                &path,
                Options {
                    sync: actlog::SyncPolicy::Never,
                    ..Options::default()
                },
            )
            .unwrap();
            let now_ms = actlog::now_ms();
            let t = Instant::now();
            load(&engine, activities, now_ms);
            eprintln!(
                "loaded and indexed {activities} activities in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            engine.close().unwrap();
            if kept.is_some() {
                std::fs::write(&now_path, now_ms.to_string()).unwrap();
            }
            now_ms
        };
        let mut options = Options::default();
        if let Some(mb) = env::<u64>("ACTLOG_QUERY_BENCH_SLED_CACHE_MB") {
            options.index.sled_cache_bytes = mb << 20;
        }
        let engine = Engine::open(&path, options).unwrap();
        let activities = engine.stats().unwrap().activities;
        DataSet {
            engine,
            now_ms,
            activities,
            _temp: temp,
        }
    }

    fn day_text(ms: i64) -> String {
        let (y, m, d) = actlog::model::time::civil_from_days(ms.div_euclid(DAY_MS));
        format!("{y:04}-{m:02}-{d:02}")
    }

    fn person_query(&self, person: u64) -> String {
        format!(
            "person = {person} and type = webinarAttended and occurred between {} and {}",
            Self::day_text(self.now_ms - 120 * DAY_MS),
            Self::day_text(self.now_ms - 30 * DAY_MS)
        )
    }

    /// The webinars of the `d`-th day of 20, 200 to 219 days before now.
    fn day_query(&self, d: i64) -> String {
        let day = Self::day_text(self.now_ms - (200 + d) * DAY_MS);
        format!("type = webinarAttended and occurred between {day} and {day}T23:59:59Z")
    }

    /// Matches of `text`, each decoded into an owned activity.
    fn count(&self, text: &str) -> u64 {
        let mut n = 0;
        for a in self
            .engine
            .query_text(text, QueryOptions::default())
            .unwrap()
        {
            a.unwrap();
            n += 1;
        }
        n
    }

    /// Matches of `text`, each read in place.
    fn count_views(&self, text: &str) -> u64 {
        let mut q = self
            .engine
            .query_text(text, QueryOptions::default())
            .unwrap();
        let mut n = 0;
        while let Some(view) = q.next_view() {
            view.unwrap();
            n += 1;
        }
        n
    }

    fn explain(&self, text: &str) -> String {
        let mut q = self
            .engine
            .query_text(text, QueryOptions::default())
            .unwrap();
        for a in q.by_ref() {
            a.unwrap();
        }
        q.explain().replace('\n', "; ")
    }

    fn smart_list(&self) -> u64 {
        self.engine.people_text(SMART_LIST).unwrap().count()
    }
}

/// Appends the data set in batches of 10,000 and waits until the index holds it.
fn load(engine: &Engine, total: u64, now_ms: i64) {
    define_types(engine);
    let start = now_ms - SPAN_MS;
    let mut rng = Rng(7);
    let names: Vec<String> = (0..20).map(|i| format!("Webinar {i}")).collect();
    let batch = 10_000u64;
    let mut done = 0u64;
    while done < total {
        let n = batch.min(total - done);
        let items: Vec<NewActivity> = (0..n)
            .map(|i| {
                let k = done + i;
                let mut at = start + (k as i128 * SPAN_MS as i128 / total as i128) as i64;
                // One in twenty is backdated by up to ten days.
                if rng.below(20) == 0 {
                    at -= rng.below(10 * DAY_MS as u64) as i64;
                }
                let person = PersonId(rng.below(PERSONS));
                if rng.below(2) == 0 {
                    NewActivity::new(person, "webinarAttended", at)
                        .primary(names[rng.below(20) as usize].as_str())
                        .attr("durationMinutes", rng.below(120) as i64)
                        .attr("channel", CHANNELS[rng.below(2) as usize])
                        .attr("askedQuestion", rng.below(4) == 0)
                } else {
                    NewActivity::new(person, "checkDeposited", at)
                        .primary(BANKS[rng.below(2) as usize])
                        .attr("amount", rng.below(100_000) as f64 / 100.0)
                        .attr("branch", "north")
                }
            })
            .collect();
        engine.append_batch(items).unwrap();
        done += n;
    }
    // Ten million appends can outrun the indexer by more than one wait's bound.
    while let Err(err) = engine.wait_indexed() {
        assert!(matches!(err, actlog::Error::IndexLagging { .. }), "{err}");
    }
}

/// Nanoseconds this thread has spent waiting for a CPU (Linux schedstat), if known: a
/// query that waited was slowed by other processes, not by its own work.
fn run_delay_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds this process has used in all its threads (Linux `/proc/self/stat`, in
/// clock ticks of 10 ms), if known: a scan that used one core takes as many CPU seconds
/// as it took seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

fn percentile_us(samples: &mut [u128], p: f64) -> u128 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

/// Each figure timed outside criterion, with the person query's p50 and p99 and each
/// plan as `explain` gives it.
fn summary(set: &DataSet, rng: &mut Rng) {
    let only: Option<u32> = env("ACTLOG_QUERY_BENCH_ONLY");
    let run = |figure: u32| only.is_none_or(|o| o == figure);
    let rounds: u32 = env("ACTLOG_QUERY_BENCH_ROUNDS").unwrap_or(3);
    eprintln!("query summary, {} activities:", set.activities);

    for round in 1..=if run(1) { rounds } else { 0 } {
        let mut samples = Vec::new();
        let mut undisturbed = Vec::new();
        let mut found = 0;
        for _ in 0..2_000 {
            let text = set.person_query(rng.below(PERSONS));
            let waited_before = run_delay_ns();
            let t = Instant::now();
            found += set.count(&text);
            let us = t.elapsed().as_micros();
            samples.push(us);
            if waited_before.is_some() && run_delay_ns() == waited_before {
                undisturbed.push(us);
            }
        }
        eprintln!(
            "  person + type + 90 days, round {round}: p50 {} us, p99 {} us ({found} matches in \
             2,000 queries)",
            percentile_us(&mut samples, 0.5),
            percentile_us(&mut samples, 0.99),
        );
        if !undisturbed.is_empty() {
            eprintln!(
                "    the {} queries that never waited for a CPU: p50 {} us, p99 {} us",
                undisturbed.len(),
                percentile_us(&mut undisturbed, 0.5),
                percentile_us(&mut undisturbed, 0.99),
            );
        }
    }

    for _ in 0..if run(2) { rounds } else { 0 } {
        for (how, count) in [
            ("views", DataSet::count_views as fn(&DataSet, &str) -> u64),
            ("owned", DataSet::count),
        ] {
            let t = Instant::now();
            let matches: u64 = (0..20).map(|d| count(set, &set.day_query(d))).sum();
            eprintln!(
                "  type + one day ({how}): {matches} matches in 20 queries, {:.0} matches/s",
                matches as f64 / t.elapsed().as_secs_f64()
            );
        }
    }
    if run(2) {
        eprintln!("    {}", set.explain(&set.day_query(0)));
    }

    if run(3) {
        let mut samples = Vec::new();
        let mut size = 0;
        for _ in 0..20 {
            let t = Instant::now();
            size = set.smart_list();
            samples.push(t.elapsed().as_micros());
        }
        let check = if std::env::var_os("ACTLOG_QUERY_BENCH_NO_SCAN").is_some() {
            String::new()
        } else {
            let t = Instant::now();
            let scanned = set
                .engine
                .people_by_scan(&parse_smart_list(SMART_LIST).unwrap())
                .unwrap()
                .count() as u64;
            assert_eq!(scanned, size, "the index and the log scan disagree");
            format!(" (log scan: {} ms)", t.elapsed().as_millis())
        };
        eprintln!(
            "  smart list over {PERSONS} persons: {size} persons, p50 {:.1} ms, max {:.1} ms{check}",
            percentile_us(&mut samples, 0.5) as f64 / 1000.0,
            percentile_us(&mut samples, 1.0) as f64 / 1000.0,
        );
        // Nobody in a year of deposits never deposited: the same list with the second
        // term over the same 30 days has an answer to show.
        let t = Instant::now();
        let size = set.engine.people_text(SMART_LIST_30D).unwrap().count();
        eprintln!(
            "    with `not did checkDeposited in last 30d`: {size} persons in {:.1} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
    }

    if run(4) {
        for (how, count) in [
            ("views", DataSet::count_views as fn(&DataSet, &str) -> u64),
            ("owned", DataSet::count),
        ] {
            let cpu = cpu_seconds();
            let t = Instant::now();
            let n = count(set, SCAN_FILTER);
            let secs = t.elapsed().as_secs_f64();
            let per_cpu = match (cpu, cpu_seconds()) {
                (Some(before), Some(after)) => format!(
                    ", {:.0} per CPU second ({:.2} s of CPU)",
                    set.activities as f64 / (after - before),
                    after - before
                ),
                _ => String::new(),
            };
            eprintln!(
                "  full filtered scan ({how}): {n} matches, {:.0} activities/s{per_cpu}",
                set.activities as f64 / secs
            );
        }
        eprintln!("    {}", set.explain(SCAN_FILTER));
    }
}

fn benches(c: &mut Criterion) {
    let set = DataSet::open();
    let mut rng = Rng(11);
    summary(&set, &mut rng);

    let mut g = c.benchmark_group("query");
    g.sample_size(10).measurement_time(Duration::from_secs(10));

    g.throughput(Throughput::Elements(PERSONS_PER_ITER as u64));
    g.bench_function("person_type_90d", |b| {
        b.iter(|| {
            for _ in 0..PERSONS_PER_ITER {
                set.count(&set.person_query(rng.below(PERSONS)));
            }
        })
    });

    let day_matches: u64 = (0..20).map(|d| set.count_views(&set.day_query(d))).sum();
    g.throughput(Throughput::Elements(day_matches));
    g.bench_function("type_one_day/views", |b| {
        b.iter(|| {
            let n: u64 = (0..20).map(|d| set.count_views(&set.day_query(d))).sum();
            assert_eq!(n, day_matches);
        })
    });
    g.bench_function("type_one_day/owned", |b| {
        b.iter(|| {
            let n: u64 = (0..20).map(|d| set.count(&set.day_query(d))).sum();
            assert_eq!(n, day_matches);
        })
    });

    g.throughput(Throughput::Elements(1));
    g.bench_function("smart_list", |b| b.iter(|| set.smart_list()));

    g.throughput(Throughput::Elements(set.activities));
    g.bench_function("full_scan/views", |b| {
        b.iter(|| set.count_views(SCAN_FILTER))
    });
    g.bench_function("full_scan/owned", |b| b.iter(|| set.count(SCAN_FILTER)));
    g.finish();
    set.engine.close().unwrap();
}

criterion_group!(query_benches, benches);
criterion_main!(query_benches);
