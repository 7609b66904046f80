//! Ingest throughput of every bench target, side by side in one criterion group.
//!
//! `ingest/<target>/<durability>/<batch>`: each iteration ingests a fixed number of
//! activities (see `records_per_iter`) in batches of `<batch>`, continuing the same
//! store, so the store grows as a real one does. The activities are the first
//! `POOL_RECORDS` of the shared workload, generated before any timer starts; when a
//! store has taken all of them it is dropped and a fresh one opened, outside the timed
//! section, so no store ever sees the same activity twice and disk use stays bounded.
//!
//! Run: `cargo bench -p actlog-benches --bench ingest` (a few minutes), or shorter:
//! `cargo bench -p actlog-benches --bench ingest -- --warm-up-time 1 --measurement-time 2`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use actlog_benches::peers::{ActlogTarget, BenchTarget, Durability, PlainSled, RawFile, Sqlite};
use actlog_benches::workload::{GenActivity, Workload, WorkloadOptions};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};

/// Activities generated up front; also the most any one store holds.
const POOL_RECORDS: usize = 400_000;

const BATCH_SIZES: [usize; 4] = [1, 100, 1_000, 10_000];

/// One bench case: how many activities per batch, and how durable.
#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    durability: Durability,
}

impl Case {
    /// Work per iteration, bounded so that a whole run takes minutes: a durable batch
    /// of one costs an fsync per activity (0.15 to 4 ms on the virtual disks measured),
    /// so it gets the least; criterion takes at least 10 iterations.
    fn records_per_iter(self) -> usize {
        match (self.batch, self.durability) {
            (1, Durability::Always) => 500,
            (1, Durability::Never) | (100, _) => 10_000,
            _ => 20_000,
        }
    }
}

type IngestBench = fn(&mut BenchmarkGroup<'_, WallTime>, &[GenActivity<'_>], Case);

/// Every target in the group.
const TARGETS: [IngestBench; 4] = [
    ingest_target::<ActlogTarget>,
    ingest_target::<RawFile>,
    ingest_target::<Sqlite>,
    ingest_target::<PlainSled>,
];

fn ingest_target<T: BenchTarget>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    pool: &[GenActivity<'_>],
    case: Case,
) {
    let per_iter = case.records_per_iter();
    debug_assert_eq!(per_iter % case.batch, 0);
    let id = BenchmarkId::new(
        format!("{}/{}", T::NAME, case.durability.as_str()),
        case.batch,
    );
    group.throughput(Throughput::Elements(per_iter as u64));
    group.bench_function(id, |b| {
        // The store before its directory: a tuple drops in field order, and a store
        // whose directory is already gone cannot flush on drop (sled waits forever).
        let mut store: Option<(T, tempfile::TempDir)> = None;
        let mut cursor = 0;
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                if store.is_none() || cursor + per_iter > pool.len() {
                    // Drop the old store (and its files) before creating the next.
                    store = None;
                    let dir = tempfile::tempdir().unwrap();
                    let target = T::open(dir.path(), case.durability).unwrap();
                    store = Some((target, dir));
                    cursor = 0;
                }
                let (target, _) = store.as_mut().unwrap();
                let chunk = &pool[cursor..cursor + per_iter];
                let start = Instant::now();
                for batch in chunk.chunks(case.batch) {
                    target.ingest_batch(batch).unwrap();
                }
                target.settle().unwrap();
                elapsed += start.elapsed();
                cursor += per_iter;
            }
            elapsed
        });
    });
}

fn ingest(c: &mut Criterion) {
    let workload = Workload::new(WorkloadOptions::default()).unwrap();
    let pool = workload.generate(POOL_RECORDS);
    let mut group = c.benchmark_group("ingest");
    // Iterations last milliseconds to a second; flat sampling keeps the count low.
    group.sampling_mode(SamplingMode::Flat);
    for batch in BATCH_SIZES {
        for durability in Durability::ALL {
            for bench in TARGETS {
                bench(&mut group, &pool, Case { batch, durability });
            }
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ingest
}
criterion_main!(benches);
