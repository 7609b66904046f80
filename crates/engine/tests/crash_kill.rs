//! A writer process killed with SIGKILL at random moments, while appending, retaining and
//! reindexing: every acknowledged activity survives identical, nothing unacknowledged is
//! half there, the index agrees with the log, and ingest resumes.
//!
//! The test re-executes its own binary as the writer (selected by `ACTLOG_CRASH_CHILD`),
//! which prints `ack <id> <person> <occurred_at_ms> <name> <minutes>` for each activity
//! once `append_batch` has returned under `SyncPolicy::Always`. The kill moments come from
//! a seed printed at the start; replay a run with
//! `ACTLOG_CRASH_SEED=<seed> cargo test -p actlog --test crash_kill -- --nocapture`, and
//! run more kills with `ACTLOG_CRASH_KILLS=<n>` (default 8 per mode, three modes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actlog::{ActivityId, Engine, Options, Outcome, SyncPolicy, Value};
use common::*;

const CHILD_ENV: &str = "ACTLOG_CRASH_CHILD";
const DIR_ENV: &str = "ACTLOG_CRASH_DIR";
const SEED_ENV: &str = "ACTLOG_CRASH_SEED";

/// Small segments, so retention has whole segments to remove and roll-over happens often.
fn options() -> Options {
    Options {
        sync: SyncPolicy::Always,
        segment_bytes_max: 8 * 1024,
        record_bytes_max: 1024,
        index_flush_interval_ms: 20,
        ..Options::default()
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the writer acknowledged for one id.
#[derive(Debug, Clone, PartialEq)]
struct Acked {
    person: u64,
    occurred_at_ms: i64,
    name: String,
    minutes: i32,
}

/// The writer: appends until killed; in `retain` and `reindex` modes it also runs those
/// between batches (`reindex` in place, and every other time by reopening with
/// `Options::rebuild_index`). Does nothing unless started by the parent.
#[test]
fn crash_kill_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::env::var(DIR_ENV).unwrap();
    let mut rng: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let mut engine = Engine::open(&dir, options()).unwrap();
    let mut batch_no: u64 = 0;
    loop {
        let next = engine.next_id().get();
        let size = 1 + splitmix64(&mut rng) % 8;
        let items: Vec<Acked> = (0..size)
            .map(|i| {
                let n = next + i;
                Acked {
                    person: splitmix64(&mut rng) % 50,
                    // One minute per activity: retention by age then removes old segments.
                    occurred_at_ms: T0 + i64::try_from(n).unwrap() * 60_000,
                    name: format!("w{}", splitmix64(&mut rng) % 1000),
                    minutes: i32::try_from(splitmix64(&mut rng) % 200).unwrap(),
                }
            })
            .collect();
        let outcomes = engine
            .append_batch(
                items
                    .iter()
                    .map(|a| webinar(a.person, a.occurred_at_ms, &a.name, a.minutes.into()))
                    .collect(),
            )
            .unwrap();
        for (a, outcome) in items.iter().zip(&outcomes) {
            let Outcome::Added { id } = outcome else {
                panic!("not added: {outcome:?}");
            };
            println!(
                "ack {} {} {} {} {}",
                id.get(),
                a.person,
                a.occurred_at_ms,
                a.name,
                a.minutes
            );
        }
        batch_no += 1;
        if batch_no.is_multiple_of(5) {
            match mode.as_str() {
                "retain" => {
                    // Keep roughly the newest 150 activities.
                    let keep_from = engine.next_id().get().saturating_sub(150);
                    let cutoff = T0 + i64::try_from(keep_from).unwrap() * 60_000;
                    engine.retain(cutoff).unwrap();
                    println!("retained {}", engine.first_id().get());
                }
                "reindex" => {
                    if batch_no.is_multiple_of(10) {
                        // As `actlog reindex` does: reopened, the index directory deleted
                        // and rebuilt whole.
                        engine.close().unwrap();
                        let fresh = Options {
                            rebuild_index: true,
                            ..options()
                        };
                        engine = Engine::open(&dir, fresh).unwrap();
                    } else {
                        engine.reindex(None).unwrap();
                    }
                    println!("reindexed");
                }
                _ => {}
            }
        }
    }
}

/// Starts a writer, lets it run `run_ms`, kills it, and returns the lines it completed.
fn run_and_kill(dir: &Path, mode: &str, seed: u64, run_ms: u64) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_kill_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .env(SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match stdout.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    // A line cut by the kill has no newline: it was never acknowledged.
                    Ok(_) if line.ends_with('\n') => {
                        lines.lock().unwrap().push(line.trim_end().to_owned());
                    }
                    Ok(_) => break,
                }
            }
        })
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(run_ms) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("the writer exited by itself ({status}): {stderr}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // `Child::kill` sends SIGKILL on Unix: no destructor, no close, no final sync.
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    lines
}

/// Reopens after a kill and checks everything the writer acknowledged.
fn check(dir: &Path, acked: &BTreeMap<u64, Acked>) -> u64 {
    let engine = Engine::open(dir, options()).unwrap();
    let first = engine.first_id().get();
    let next = engine.next_id().get();
    if let Some((&last, _)) = acked.last_key_value() {
        assert!(
            next > last,
            "acknowledged id {last} lost: the log ends at {next}"
        );
    }
    // Ids are dense and every record decodes.
    let mut expect_id = first;
    for activity in engine.replay(ActivityId(first)).unwrap() {
        let activity = activity.unwrap();
        assert_eq!(activity.id.get(), expect_id, "ids are not dense");
        expect_id += 1;
    }
    assert_eq!(expect_id, next);
    // Every acknowledged activity still held is there and identical.
    for (&id, a) in acked.range(first..) {
        let got = engine.get(ActivityId(id)).unwrap().unwrap();
        assert_eq!(got.person.0, a.person, "id {id}");
        assert_eq!(got.occurred_at_ms, a.occurred_at_ms, "id {id}");
        assert_eq!(got.primary, Value::String(a.name.clone()), "id {id}");
        assert!(
            got.attributes
                .iter()
                .any(|(_, v)| *v == Value::Integer(a.minutes)),
            "id {id}: {got:?}"
        );
    }
    // Below the first id, retention removed them: reads say so rather than fail.
    if first > 0 {
        assert!(engine.get(ActivityId(first - 1)).unwrap().is_none());
    }
    let report = engine.verify().unwrap();
    assert!(report.is_clean(), "verify after a kill: {report:?}");
    engine.close().unwrap();
    next
}

#[test]
fn acknowledged_activities_survive_sigkill_while_appending_retaining_and_reindexing() {
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let kills_per_mode: usize = std::env::var("ACTLOG_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    println!("crash_kill seed {seed} (replay with {SEED_ENV}={seed})");
    let mut rng = seed;
    let mut kills = 0;
    let mut acked_total = 0;
    for mode in ["append", "retain", "reindex"] {
        let dir = tempfile::tempdir().unwrap();
        {
            let engine = Engine::open(dir.path(), options()).unwrap();
            webinar_type(&engine);
            engine.close().unwrap();
        }
        let mut acked: BTreeMap<u64, Acked> = BTreeMap::new();
        let mut retained = false;
        let mut reindexed = false;
        for round in 0..kills_per_mode {
            // Startup takes tens of ms in a debug build; kill anywhere from during open to
            // well into ingest.
            let run_ms = 30 + splitmix64(&mut rng) % 600;
            let child_seed = splitmix64(&mut rng);
            let lines = run_and_kill(dir.path(), mode, child_seed, run_ms);
            kills += 1;
            for line in &lines {
                let parts: Vec<&str> = line.split(' ').collect();
                match parts[0] {
                    "ack" => {
                        let id: u64 = parts[1].parse().unwrap();
                        let a = Acked {
                            person: parts[2].parse().unwrap(),
                            occurred_at_ms: parts[3].parse().unwrap(),
                            name: parts[4].to_owned(),
                            minutes: parts[5].parse().unwrap(),
                        };
                        assert!(acked.insert(id, a).is_none(), "id {id} acknowledged twice");
                        acked_total += 1;
                    }
                    "retained" => retained = true,
                    "reindexed" => reindexed = true,
                    _ => {}
                }
            }
            let next = check(dir.path(), &acked);
            println!(
                "{mode} round {round}: killed after {run_ms} ms, {} lines, log ends at {next}",
                lines.len()
            );
        }
        // Ingest resumes after the last kill.
        let engine = Engine::open(dir.path(), options()).unwrap();
        let before = engine.next_id();
        let outcome = engine.append(webinar(7, T0, "after", 1)).unwrap();
        assert_eq!(outcome, Outcome::Added { id: before });
        engine.close().unwrap();
        assert!(
            acked.len() > 20,
            "{mode}: the writer acknowledged only {} activities; the test proved little",
            acked.len()
        );
        match mode {
            "retain" => assert!(retained, "no retention ran before a kill"),
            "reindex" => assert!(reindexed, "no reindex ran before a kill"),
            _ => {}
        }
    }
    println!("crash_kill: {kills} kills survived, {acked_total} acknowledged activities checked");
    assert!(kills >= 20);
}
