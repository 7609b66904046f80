//! Random sequences of appends, syncs, reads, retention, crashes and reopens, checked
//! against a plain `Vec` model: after every reopen the log is a prefix of what was
//! appended, holds every record a sync covered, reads back byte for byte, and appends.
//!
//! Each run is driven by one seed. A failure prints it; replay it with
//! `ACTLOG_SIM_SEED=<seed> cargo test -p actlog-log --test log_model`. More runs:
//! `ACTLOG_SIM_CASES=20000 cargo test -p actlog-log --release --test log_model`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{CrashMode, Log, LogOptions, MemStorage, Offset, SyncPolicy};
use common::dir;
use proptest::prelude::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn options(mem: &MemStorage, sync: SyncPolicy) -> LogOptions {
    LogOptions {
        segment_bytes_max: 1024,
        record_bytes_max: 256,
        sync,
        index_interval_bytes: 200,
        storage: std::sync::Arc::new(mem.clone()),
        ..LogOptions::default()
    }
}

struct Model {
    records: Vec<(Vec<u8>, i64)>,
    first: u64,
    /// Every record below this was covered by a sync that returned.
    durable: u64,
}

fn check(log: &Log, model: &Model, rng: &mut Rng) {
    assert_eq!(log.first_offset(), Offset(model.first));
    assert_eq!(log.next_offset(), Offset(model.records.len() as u64));
    let mut expected = model.first;
    log.for_each_from(Offset(model.first), |r| {
        let (payload, ts) = &model.records[expected as usize];
        assert_eq!(r.offset, Offset(expected));
        assert_eq!(r.payload, &payload[..], "payload of {expected}");
        assert_eq!(r.timestamp_ms, *ts);
        expected += 1;
    })
    .unwrap();
    assert_eq!(expected, model.records.len() as u64);
    if expected > model.first {
        let at = model.first + rng.below(expected - model.first);
        assert_eq!(
            log.read(Offset(at)).unwrap().payload,
            model.records[at as usize].0
        );
    }
}

fn run(seed: u64) {
    let mut rng = Rng(seed);
    let mem = MemStorage::new();
    let sync = match rng.below(3) {
        0 => SyncPolicy::Always,
        _ => SyncPolicy::Never,
    };
    let (mut log, _) = Log::open(dir(), options(&mem, sync)).unwrap();
    let mut model = Model {
        records: Vec::new(),
        first: 0,
        durable: 0,
    };
    let steps = 20 + rng.below(40);
    for _ in 0..steps {
        match rng.below(100) {
            0..=49 => {
                let n = 1 + rng.below(6);
                let batch: Vec<(Vec<u8>, i64)> = (0..n)
                    .map(|_| {
                        let len = rng.below(200) as usize;
                        let fill = rng.next() as u8;
                        (
                            (0..len).map(|j| fill.wrapping_add(j as u8)).collect(),
                            rng.next() as i64 % 1_000_000,
                        )
                    })
                    .collect();
                let refs: Vec<(&[u8], i64)> =
                    batch.iter().map(|(p, t)| (p.as_slice(), *t)).collect();
                let start = model.records.len() as u64;
                let range = log.append_batch(&refs).unwrap();
                assert_eq!(range, Offset(start)..Offset(start + n));
                model.records.extend(batch);
                if sync == SyncPolicy::Always {
                    model.durable = model.records.len() as u64;
                }
            }
            50..=57 => {
                log.sync().unwrap();
                model.durable = model.records.len() as u64;
            }
            58..=69 => check(&log, &model, &mut rng),
            70..=74 => {
                let upto = model.first + rng.below(model.records.len() as u64 - model.first + 1);
                let report = log.retain_before(Offset(upto)).unwrap();
                assert!(log.first_offset().0 <= upto.max(model.first));
                assert_eq!(report.first_offset, log.first_offset());
                model.first = log.first_offset().0;
            }
            75..=89 => {
                let mode = match rng.below(3) {
                    0 => CrashMode::KeepUnsynced,
                    1 => CrashMode::DropUnsynced,
                    _ => CrashMode::TearUnsynced { seed: rng.next() },
                };
                mem.crash(mode);
                drop(log);
                let (reopened, _) = Log::open(dir(), options(&mem, sync)).unwrap();
                log = reopened;
                let next = log.next_offset().0;
                assert!(
                    next <= model.records.len() as u64,
                    "log grew past what was appended"
                );
                assert!(
                    next >= model.durable,
                    "lost a synced record: next {next} < {}",
                    model.durable
                );
                if mode == CrashMode::KeepUnsynced {
                    assert_eq!(next, model.records.len() as u64);
                }
                model.records.truncate(next as usize);
                model.durable = next;
                check(&log, &model, &mut rng);
            }
            _ => {
                log.close().unwrap();
                let (reopened, report) = Log::open(dir(), options(&mem, sync)).unwrap();
                assert_eq!(report.torn_tail, None);
                assert_eq!(report.side_files_rebuilt, 0);
                log = reopened;
                model.durable = model.records.len() as u64;
                check(&log, &model, &mut rng);
            }
        }
    }
    check(&log, &model, &mut rng);
    assert_eq!(log.verify().unwrap().damage, vec![]);
}

fn cases() -> u32 {
    std::env::var("ACTLOG_SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_the_model_through_crashes(seed: u64) {
        if let Some(replay) = std::env::var("ACTLOG_SIM_SEED").ok().and_then(|v| v.parse().ok()) {
            run(replay);
            return Ok(());
        }
        let outcome = std::panic::catch_unwind(|| run(seed));
        prop_assert!(outcome.is_ok(), "failed with seed {}; replay with ACTLOG_SIM_SEED={}", seed, seed);
    }
}
