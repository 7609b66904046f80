//! The index agrees with the log through random appends, crashes, reopens and retention,
//! and queries see everything appended before they started, also during heavy ingest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actlog::log::{CrashMode, MemStorage, Storage};
use actlog::{ActivityId, Engine, NewActivity, Options, PersonId, QueryOptions, SyncPolicy};
use common::*;

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
        self.next() % n
    }
}

fn ids(engine: &Engine, filter: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = engine
        .query_text(filter, QueryOptions::default())
        .unwrap()
        .map(|a| a.unwrap().id.get())
        .collect();
    ids.sort_unstable();
    ids
}

fn check_against_log(engine: &Engine, seed: u64, step: usize) {
    let mut by_person: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut by_type: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for a in engine.replay(ActivityId(0)).unwrap() {
        let a = a.unwrap();
        by_person
            .entry(a.person.get())
            .or_default()
            .push(a.id.get());
        by_type.entry(a.type_id.get()).or_default().push(a.id.get());
    }
    for (person, expected) in &by_person {
        assert_eq!(
            &ids(engine, &format!("person = {person}")),
            expected,
            "seed {seed} step {step}: person {person}"
        );
    }
    for (type_id, expected) in &by_type {
        assert_eq!(
            &ids(engine, &format!("type = {type_id}")),
            expected,
            "seed {seed} step {step}: type {type_id}"
        );
    }
    let report = engine.verify().unwrap();
    assert!(report.is_clean(), "seed {seed} step {step}: {report:?}");
}

fn run(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemStorage::new());
    let options = Options {
        sync: SyncPolicy::Always,
        segment_bytes_max: 8 * 1024,
        record_bytes_max: 1024,
        index_flush_interval_ms: 1,
        storage: Some(Arc::clone(&storage) as Arc<dyn Storage>),
        ..Options::default()
    };
    let mut rng = Rng(seed);
    let mut engine = Engine::open(dir.path(), options.clone()).unwrap();
    webinar_type(&engine);
    let mut acknowledged: BTreeMap<u64, (u64, i64)> = BTreeMap::new();
    let mut clock = T0;
    for step in 0..40 {
        match rng.below(10) {
            0..=5 => {
                let n = 1 + rng.below(60);
                let batch: Vec<NewActivity> = (0..n)
                    .map(|_| {
                        clock += rng.below(3 * 3_600_000) as i64 - 3_600_000 / 2;
                        let person = 1 + rng.below(12);
                        if rng.below(3) == 0 {
                            NewActivity::new(PersonId(person), "visitWebpage", clock)
                                .primary(rng.below(5) as i64)
                        } else {
                            webinar(person, clock, "w", rng.below(100) as i64)
                        }
                    })
                    .collect();
                let persons: Vec<(u64, i64)> = batch
                    .iter()
                    .map(|b| (b.person.get(), b.occurred_at_ms))
                    .collect();
                for (outcome, p) in engine.append_batch(batch).unwrap().into_iter().zip(persons) {
                    acknowledged.insert(outcome.id().unwrap().get(), p);
                }
            }
            6 => {
                // Crash: unsynced bytes are dropped or torn; the engine dies without closing.
                let mode = if rng.below(2) == 0 {
                    CrashMode::DropUnsynced
                } else {
                    CrashMode::TearUnsynced { seed: rng.next() }
                };
                storage.crash(mode);
                drop(engine);
                engine = Engine::open(dir.path(), options.clone()).unwrap();
            }
            7 => {
                engine.close().unwrap();
                engine = Engine::open(dir.path(), options.clone()).unwrap();
            }
            8 => {
                let cut = T0 + rng.below(20) as i64 * 3_600_000;
                engine.retain(cut).unwrap();
                let first = engine.first_id().get();
                acknowledged.retain(|id, _| *id >= first);
            }
            _ => check_against_log(&engine, seed, step),
        }
        // Every acknowledged activity is still there, unchanged.
        for (id, (person, at)) in &acknowledged {
            let a = engine
                .get(ActivityId(*id))
                .unwrap()
                .unwrap_or_else(|| panic!("seed {seed} step {step}: acknowledged {id} lost"));
            assert_eq!(
                (a.person.get(), a.occurred_at_ms),
                (*person, *at),
                "seed {seed}"
            );
        }
    }
    check_against_log(&engine, seed, usize::MAX);
}

#[test]
fn index_equals_a_scan_of_the_log_through_crashes_reopens_and_retention() {
    let seeds: u64 = std::env::var("ACTLOG_INDEX_MODEL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let base = std::env::var("ACTLOG_INDEX_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED);
    for seed in base..base + seeds {
        run(seed);
    }
}

#[test]
fn queries_see_everything_appended_before_they_started_during_heavy_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let engine = engine.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let batch = (0..200)
                    .map(|k| webinar(7, T0 + i + k, "load", 1))
                    .collect();
                engine.append_batch(batch).unwrap();
                i += 200;
                // Steady, heavy ingest that the indexer can follow on a loaded machine.
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        })
    };
    for _ in 0..10 {
        let before = engine.next_id().get();
        let seen = ids(&engine, "person = 7");
        assert!(
            seen.len() as u64 >= before,
            "a query started after {before} activities saw {}",
            seen.len()
        );
        assert!((0..before).all(|id| seen.binary_search(&id).is_ok()));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}
