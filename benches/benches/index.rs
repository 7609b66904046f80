//! Index (actlog-index) benches: live ingest (memtable + flush), bulk rebuild, the
//! latest 100 activities of a person, and a by-type time range, on a deterministic
//! workload: 100,000 persons (Zipf s = 0.8, ranks scattered over the ids), 20 types,
//! timestamps 15 s apart with ±5 s jitter, a primary value from a pool of 1,000 and one
//! indexed attribute from a pool of 64.
//!
//! Run: `cargo bench -p actlog-benches --bench index`. Besides criterion's figures it
//! prints one summary (bytes on disk per activity and per family, lookup p50/p99) to
//! stderr; `ACTLOG_INDEX_BENCH_FILES=1` also lists the store's files and their bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use actlog_benches::SplitMix64 as Rng;
use actlog_index::{
    ActivityId, AttributeId, IdRange, Index, IndexDoc, IndexOptions, Order, PersonId, TimeRange,
    TypeId,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::{Duration, Instant};

const PERSONS: u64 = 100_000;
const TYPES: u32 = 20;
const DOCS: usize = 1_000_000;
const BATCH: usize = 1_000;

struct Workload {
    persons: Vec<u64>,
    types: Vec<u32>,
    occ: Vec<i64>,
    primary: Vec<u16>,
    source: Vec<u8>,
    primary_pool: Vec<Vec<u8>>,
    source_pool: Vec<Vec<u8>>,
}

impl Workload {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = Rng(seed);
        // Zipf(0.8) over ranks via its CDF; rank r maps to a scattered person id.
        let mut cdf = Vec::with_capacity(PERSONS as usize);
        let mut sum = 0.0;
        for r in 1..=PERSONS {
            sum += 1.0 / (r as f64).powf(0.8);
            cdf.push(sum);
        }
        let mut w = Workload {
            persons: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            occ: Vec::with_capacity(n),
            primary: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            primary_pool: (0..1_000)
                .map(|i| format!("webinar-{i:06}-{:x}", i * 7919).into_bytes())
                .collect(),
            source_pool: (0..64)
                .map(|i| format!("source-{i:02}").into_bytes())
                .collect(),
        };
        let start = 1_704_067_200_000i64; // 2024-01-01
        for i in 0..n {
            let u = rng.unit() * sum;
            let rank = cdf.partition_point(|&c| c < u) as u64;
            w.persons.push(rank.wrapping_mul(2_654_435_761) % PERSONS);
            w.types.push((rng.next_u64() % u64::from(TYPES)) as u32 + 1);
            w.occ
                .push(start + i as i64 * 15_000 + (rng.next_u64() % 10_001) as i64 - 5_000);
            w.primary.push((rng.next_u64() % 1_000) as u16);
            w.source.push((rng.next_u64() % 64) as u8);
        }
        w
    }

    fn attrs(&self) -> Vec<[(AttributeId, &[u8]); 1]> {
        self.source
            .iter()
            .map(|&s| [(AttributeId(1), self.source_pool[s as usize].as_slice())])
            .collect()
    }

    fn docs<'a>(&'a self, attrs: &'a [[(AttributeId, &'a [u8]); 1]]) -> Vec<IndexDoc<'a>> {
        (0..self.persons.len())
            .map(|i| IndexDoc {
                id: ActivityId(i as u64),
                person: PersonId(self.persons[i]),
                type_id: TypeId(self.types[i]),
                occurred_at_ms: self.occ[i],
                primary_key: Some(&self.primary_pool[self.primary[i] as usize]),
                attributes: &attrs[i],
            })
            .collect()
    }
}

/// Options of every index in these benches; `ACTLOG_INDEX_BENCH_CACHE_MB`,
/// `ACTLOG_INDEX_BENCH_MEMTABLE` (postings) and `ACTLOG_INDEX_BENCH_BLOCK` (postings)
/// override the defaults for experiments.
fn options() -> IndexOptions {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let mut o = IndexOptions::default();
    if let Some(mb) = env("ACTLOG_INDEX_BENCH_CACHE_MB") {
        o.sled_cache_bytes = mb << 20;
    }
    if let Some(n) = env("ACTLOG_INDEX_BENCH_MEMTABLE") {
        o.memtable_postings_max = n as usize;
        o.bulk_postings_max = n as usize;
    }
    if let Some(n) = env("ACTLOG_INDEX_BENCH_BLOCK") {
        o.block_postings_max = n as usize;
    }
    if std::env::var("ACTLOG_INDEX_BENCH_HIGH_THROUGHPUT").is_ok() {
        o.sled_mode = actlog_index::SledMode::HighThroughput;
    }
    o
}

fn live_load(index: &Index, docs: &[IndexDoc<'_>]) {
    for chunk in docs.chunks(BATCH) {
        index.add(chunk).unwrap();
    }
    index.flush().unwrap();
}

fn bulk_load(index: &Index, docs: &[IndexDoc<'_>]) {
    let mut loader = index.bulk_loader();
    for chunk in docs.chunks(10 * BATCH) {
        loader.add(chunk).unwrap();
    }
    loader.finish().unwrap();
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        dir_bytes(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Prints the key and value bytes of each family's blocks per activity, and what the
/// store adds on top of them (`disk_bytes` minus every key and value).
fn family_bytes(path: &std::path::Path, docs: usize, disk_bytes: u64) {
    if std::env::var("ACTLOG_INDEX_BENCH_FILES").is_ok() {
        for e in std::fs::read_dir(path).unwrap() {
            let e = e.unwrap();
            eprintln!(
                "  {:?} {}",
                e.file_name(),
                dir_bytes(&e.path()).max(e.metadata().unwrap().len())
            );
        }
    }
    let Ok(db) = sled::open(path) else {
        return;
    };
    let mut by_family = std::collections::BTreeMap::<char, (u64, u64)>::new();
    for kv in db.iter() {
        let (k, v) = kv.unwrap();
        let e = by_family.entry(char::from(k[0])).or_default();
        e.0 += 1;
        e.1 += (k.len() + v.len()) as u64;
    }
    drop(db);
    let total: u64 = by_family.values().map(|e| e.1).sum();
    let parts: Vec<String> = by_family
        .iter()
        .map(|(f, (n, b))| format!("{f:?} {n} keys {:.1} B", *b as f64 / docs as f64))
        .collect();
    eprintln!(
        "index summary [bytes per activity]: {}; store overhead {:.1} B",
        parts.join(", "),
        (disk_bytes as f64 - total as f64) / docs as f64
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// One pass that prints what criterion does not: bytes per activity and lookup tails.
fn summary(w: &Workload, docs: &[IndexDoc<'_>]) {
    for (name, bulk) in [("live", false), ("bulk", true)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let (index, _) = Index::open(&path, options()).unwrap();
        let t = Instant::now();
        if bulk {
            bulk_load(&index, docs);
        } else {
            for chunk in docs.chunks(BATCH) {
                index.add(chunk).unwrap();
            }
            let adds = t.elapsed();
            index.flush().unwrap();
            eprintln!(
                "index summary [live]: adds (with automatic flushes) {adds:?}, final flush {:?}",
                t.elapsed() - adds
            );
        }
        let secs = t.elapsed().as_secs_f64();
        let stats = index.stats();
        drop(index);
        let bytes = dir_bytes(&path);
        eprintln!(
            "index summary [{name}]: {} docs in {secs:.2} s = {:.0} docs/s; {} blocks, {} postings; {bytes} bytes on disk = {:.1} B/activity",
            docs.len(),
            docs.len() as f64 / secs,
            stats.durable_blocks,
            stats.durable_postings,
            bytes as f64 / docs.len() as f64
        );
        family_bytes(&path, docs.len(), bytes);
        if bulk {
            continue;
        }
        let (index, _) = Index::open(&path, options()).unwrap();
        let mut rng = Rng(5);
        let mut lat = Vec::with_capacity(20_000);
        let mut rows = 0usize;
        for i in 0..20_000 {
            // Persons drawn as the workload draws them (hot persons more often) for
            // half the lookups, uniformly over ids for the other half.
            let p = if i % 2 == 0 {
                w.persons[(rng.next_u64() % w.persons.len() as u64) as usize]
            } else {
                rng.next_u64() % PERSONS
            };
            let t = Instant::now();
            let n = index
                .person(PersonId(p), IdRange::all(), Order::Descending)
                .take(100)
                .try_fold(0usize, |n, r| r.map(|_| n + 1))
                .unwrap();
            lat.push(t.elapsed());
            rows += n;
        }
        lat.sort();
        eprintln!(
            "index summary [latest 100 of a person, reopened]: p50 {:?} p99 {:?} max {:?}, {:.1} rows/lookup",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat[lat.len() - 1],
            rows as f64 / lat.len() as f64
        );
    }
}

fn benches(c: &mut Criterion) {
    let w = Workload::new(DOCS, 42);
    let attrs = w.attrs();
    let docs = w.docs(&attrs);
    summary(&w, &docs);

    let mut g = c.benchmark_group("index");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(DOCS as u64));
    g.bench_function("ingest_live_1m", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let (index, _) = Index::open(dir.path().join("index"), options()).unwrap();
                (dir, index)
            },
            |(dir, index)| {
                live_load(&index, &docs);
                (dir, index)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rebuild_bulk_1m", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let (index, _) = Index::open(dir.path().join("index"), options()).unwrap();
                (dir, index)
            },
            |(dir, index)| {
                bulk_load(&index, &docs);
                (dir, index)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let (index, _) = Index::open(dir.path().join("index"), options()).unwrap();
    live_load(&index, &docs);
    let mut g = c.benchmark_group("index_read");
    let mut rng = Rng(9);
    g.bench_function("person_latest_100", |b| {
        b.iter(|| {
            let p = w.persons[(rng.next_u64() % w.persons.len() as u64) as usize];
            index
                .person(PersonId(p), IdRange::all(), Order::Descending)
                .take(100)
                .try_fold(0usize, |n, r| r.map(|_| n + 1))
                .unwrap()
        })
    });
    let span = 3_600_000i64;
    g.throughput(Throughput::Elements(
        span as u64 / 15_000 / u64::from(TYPES),
    ));
    g.bench_function("type_range_1h", |b| {
        b.iter(|| {
            let t = TypeId((rng.next_u64() % u64::from(TYPES)) as u32 + 1);
            let a = w.occ[(rng.next_u64() % (DOCS as u64 - 1000)) as usize];
            index
                .by_type(
                    t,
                    TimeRange {
                        start_ms: a,
                        end_ms: a + span,
                    },
                    IdRange::all(),
                    Order::Ascending,
                )
                .try_fold(0usize, |n, r| r.map(|_| n + 1))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(index_benches, benches);
criterion_main!(index_benches);
