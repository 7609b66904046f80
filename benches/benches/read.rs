//! Read paths of every bench target, side by side in one criterion group.
//!
//! Each target is loaded once with the first `LOADED_RECORDS` activities of the shared
//! workload (batches of 10,000, not timed) and then read warm, in the same process:
//!
//! - `read/person_uniform/<target>`: the latest 100 activities of a person drawn
//!   uniformly from the id space (most persons have few activities), full records;
//! - `read/person_weighted/<target>`: the same for the person of a random activity, so
//!   active persons (up to thousands of activities) are drawn as often as they act;
//! - `read/type_range/<target>`: for each of the 20 types, the activities in the middle
//!   50% of the loaded time span, full records (throughput = matches);
//! - `read/replay/<target>`: every activity in ingest order, full records.
//!
//! The raw file has no index, so it only takes part in the replay.
//!
//! Run: `cargo bench -p actlog-benches --bench read`, or shorter:
//! `cargo bench -p actlog-benches --bench read -- --warm-up-time 1 --measurement-time 2`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use actlog_benches::peers::{ActlogTarget, BenchTarget, Durability, PlainSled, RawFile, Sqlite};
use actlog_benches::record::Record;
use actlog_benches::workload::{GenActivity, Workload, WorkloadOptions, WorkloadRng};
use actlog_benches::Result;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

const LOADED_RECORDS: usize = 200_000;
const LOAD_BATCH: usize = 10_000;
const TIMELINE_LIMIT: usize = 100;
/// Queries cycle through this many drawn persons.
const PERSON_DRAWS: usize = 4_096;

/// The reads of a loaded target, object-safe so that loaded targets can sit in a list.
trait Reads {
    fn person_latest(&mut self, person: u64, limit: usize) -> Result<Vec<Record>>;
    fn type_range(
        &mut self,
        t: u32,
        from: i64,
        to: i64,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64>;
    fn replay(&mut self, visit: &mut dyn FnMut(Record)) -> Result<u64>;
}

impl<T: BenchTarget> Reads for T {
    fn person_latest(&mut self, person: u64, limit: usize) -> Result<Vec<Record>> {
        BenchTarget::person_latest(self, person, limit)
    }
    fn type_range(
        &mut self,
        t: u32,
        from: i64,
        to: i64,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64> {
        BenchTarget::type_range(self, t, from, to, visit)
    }
    fn replay(&mut self, visit: &mut dyn FnMut(Record)) -> Result<u64> {
        BenchTarget::replay(self, visit)
    }
}

struct Loaded {
    name: &'static str,
    /// Whether the target has indexes, i.e. takes part in the person and type reads.
    indexed: Indexed,
    reads: Box<dyn Reads>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexed {
    Yes,
    No,
}

fn load<T: BenchTarget + 'static>(data: &[GenActivity<'_>], indexed: Indexed) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let mut target = T::open(dir.path(), Durability::Never).unwrap();
    for batch in data.chunks(LOAD_BATCH) {
        target.ingest_batch(batch).unwrap();
    }
    target.settle().unwrap();
    Loaded {
        name: T::NAME,
        indexed,
        reads: Box::new(target),
        _dir: dir,
    }
}

/// Consumes a record so the decode cannot be optimised away.
fn sink(r: &Record) -> usize {
    black_box(r.primary.len() + r.source.len() + r.note.len())
}

fn read(c: &mut Criterion) {
    let workload = Workload::new(WorkloadOptions::default()).unwrap();
    let data = workload.generate(LOADED_RECORDS);
    // Every target in the group.
    let mut targets = vec![
        load::<ActlogTarget>(&data, Indexed::Yes),
        load::<RawFile>(&data, Indexed::No),
        load::<Sqlite>(&data, Indexed::Yes),
        load::<PlainSled>(&data, Indexed::Yes),
    ];

    let mut rng = WorkloadRng::new(0x00C0_FFEE);
    let persons_uniform: Vec<u64> = (0..PERSON_DRAWS)
        .map(|_| 1 + rng.below(u64::from(workload.options().persons)))
        .collect();
    let persons_weighted: Vec<u64> = (0..PERSON_DRAWS)
        .map(|_| data[rng.below(data.len() as u64) as usize].person)
        .collect();

    let first = data.iter().map(|a| a.occurred_at_ms).min().unwrap();
    let last = data.iter().map(|a| a.occurred_at_ms).max().unwrap();
    let (from, to) = (first + (last - first) / 4, last - (last - first) / 4);
    let range_matches = data
        .iter()
        .filter(|a| a.occurred_at_ms >= from && a.occurred_at_ms < to)
        .count() as u64;

    let mut group = c.benchmark_group("read");
    group.sampling_mode(SamplingMode::Flat);

    for (name, persons) in [
        ("person_uniform", &persons_uniform),
        ("person_weighted", &persons_weighted),
    ] {
        group.throughput(Throughput::Elements(1));
        for t in targets.iter_mut().filter(|t| t.indexed == Indexed::Yes) {
            let mut next = 0;
            group.bench_function(BenchmarkId::new(name, t.name), |b| {
                b.iter(|| {
                    let person = persons[next % persons.len()];
                    next += 1;
                    let rows = t.reads.person_latest(person, TIMELINE_LIMIT).unwrap();
                    rows.iter().map(sink).sum::<usize>()
                });
            });
        }
    }

    group.throughput(Throughput::Elements(range_matches));
    for t in targets.iter_mut().filter(|t| t.indexed == Indexed::Yes) {
        group.bench_function(BenchmarkId::new("type_range", t.name), |b| {
            b.iter(|| {
                let mut total = 0;
                let mut bytes = 0;
                for type_index in 0..20 {
                    total += t
                        .reads
                        .type_range(type_index, from, to, &mut |r| bytes += sink(&r))
                        .unwrap();
                }
                assert_eq!(total, range_matches, "{} type range", t.name);
                bytes
            });
        });
    }

    group.throughput(Throughput::Elements(data.len() as u64));
    for t in &mut targets {
        group.bench_function(BenchmarkId::new("replay", t.name), |b| {
            b.iter(|| {
                let mut bytes = 0;
                let n = t.reads.replay(&mut |r| bytes += sink(&r)).unwrap();
                assert_eq!(n as usize, data.len(), "{} replay", t.name);
                bytes
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = read
}
criterion_main!(benches);
