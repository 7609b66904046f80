//! Bit flips in a sealed segment, in the middle of the active segment, in a side file, in
//! the catalog log and in the index: the engine repairs what it can prove safe, refuses
//! with the file and position otherwise, `verify` names every damaged place, and no read
//! or query returns damaged data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use actlog::{Activity, ActivityId, Engine, Error, Options};
use common::*;

/// Small segments, so there are sealed ones.
fn options() -> Options {
    Options {
        segment_bytes_max: 4096,
        record_bytes_max: 1024,
        ..Options::default()
    }
}

/// Byte positions where each frame of a segment starts.
fn frame_starts(segment: &[u8]) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut pos = 32;
    while pos + 24 <= segment.len() {
        starts.push(pos as u64);
        let len = u32::from_le_bytes(segment[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 24 + len;
    }
    starts
}

fn flip(path: &Path, position: u64, bit: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[position as usize] ^= 1 << bit;
    std::fs::write(path, bytes).unwrap();
}

fn segments(dir: &Path, log: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(log))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// An engine directory holding 300 activities of persons 0..6 over several segments.
fn populated() -> (tempfile::TempDir, Vec<Activity>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), options()).unwrap();
    webinar_type(&engine);
    for chunk in 0..15 {
        let items = (0..20)
            .map(|i| {
                let n = chunk * 20 + i;
                webinar(n % 6, T0 + n as i64 * 1000, &format!("w{n}"), 10)
            })
            .collect();
        engine.append_batch(items).unwrap();
    }
    let all = engine
        .replay(ActivityId(0))
        .unwrap()
        .map(|a| a.unwrap())
        .collect();
    engine.close().unwrap();
    assert!(segments(dir.path(), "activities", "log").len() >= 3);
    (dir, all)
}

/// Every person's query returns only activities equal to the originals; the damaged ones
/// come back as errors, never as data. Returns how many errors were seen.
fn queries_return_only_good_data(engine: &Engine, all: &[Activity]) -> usize {
    let mut errors = 0;
    for person in 0..6 {
        let results = match engine.query_text(&format!("person = {person}"), Default::default()) {
            Ok(results) => results,
            Err(_) => {
                errors += 1;
                continue;
            }
        };
        for activity in results {
            match activity {
                Ok(a) => assert_eq!(&a, &all[a.id.get() as usize], "query returned damaged data"),
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
        }
    }
    errors
}

#[test]
fn a_flip_in_a_sealed_segment_is_reported_and_its_record_never_read_as_good() {
    let (dir, all) = populated();
    let first = &segments(dir.path(), "activities", "log")[0];
    let bytes = std::fs::read(first).unwrap();
    let starts = frame_starts(&bytes);
    let victim = 4;
    // A payload byte of the fifth record.
    flip(first, starts[victim] + 30, 3);

    // A keyed append reads back the idempotency window (the newest
    // `dedupe_window_records`); damage inside it refuses keyed appends (see the next
    // test), so keep the window short of it.
    let engine = Engine::open(
        dir.path(),
        Options {
            dedupe_window_records: 50,
            ..options()
        },
    )
    .unwrap();
    let keyed = webinar(1, T0, "w", 10).idempotency_key("after-the-damage");
    let keyed_id = engine.append_batch(vec![keyed]).unwrap()[0].id().unwrap();
    let mut all = all;
    all.push(engine.get(keyed_id).unwrap().unwrap());
    let report = engine.verify().unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.activities.damage.len(), 1, "{report:?}");
    let damage = &report.activities.damage[0];
    assert_eq!(&damage.segment, first);
    assert_eq!(damage.position, starts[victim]);

    match engine.get(ActivityId(victim as u64)) {
        Err(Error::Log {
            source:
                actlog::log::Error::Corrupt {
                    segment, position, ..
                },
            ..
        }) => {
            assert_eq!(&segment, first);
            assert_eq!(position, starts[victim]);
        }
        other => panic!("read of a damaged record: {other:?}"),
    }
    // A read finds its record by scanning from the nearest sparse-index entry, passing
    // over the frames before it by their length and offset alone: a flipped payload
    // byte makes only its own record unreadable. Every read returns the right activity
    // or a corruption error, never other data.
    let mut unreadable = 0;
    for a in all.iter().filter(|a| a.id.get() != victim as u64) {
        match engine.get(a.id) {
            Ok(got) => assert_eq!(got.as_ref(), Some(a)),
            Err(Error::Log {
                source: actlog::log::Error::Corrupt { segment, .. },
                ..
            }) => {
                assert_eq!(&segment, first);
                assert!(a.id.get() > victim as u64, "id {} before the damage", a.id);
                unreadable += 1;
            }
            Err(other) => panic!("id {}: {other}", a.id),
        }
    }
    assert_eq!(unreadable, 0, "a record other than the damaged one failed");
    let replayed: Vec<_> = engine.replay(ActivityId(0)).unwrap().collect();
    assert!(
        replayed.iter().any(|r| r.is_err()),
        "replay passes the damage silently"
    );
    for a in replayed.iter().flatten() {
        assert_eq!(a, &all[a.id.get() as usize]);
    }
    assert!(queries_return_only_good_data(&engine, &all) >= 1);
    engine.close().unwrap();
}

#[test]
fn a_flip_inside_the_idempotency_window_refuses_keyed_appends_naming_it() {
    let (dir, all) = populated();
    let first = &segments(dir.path(), "activities", "log")[0];
    let bytes = std::fs::read(first).unwrap();
    let starts = frame_starts(&bytes);
    flip(first, starts[2] + 40, 6);
    // Open does not read the window: reads and appends without keys go on.
    let engine = Engine::open(dir.path(), options()).unwrap();
    assert_eq!(engine.get(all[250].id).unwrap().as_ref(), Some(&all[250]));
    let plain = webinar(1, T0, "w", 10);
    assert!(engine.append_batch(vec![plain]).unwrap()[0].id().is_some());
    // An append with a key needs the window, which holds the damage: refused, naming the
    // file and byte, each time, and nothing is recorded.
    let next = engine.stats().unwrap().activities;
    for _ in 0..2 {
        let keyed = webinar(1, T0, "w", 10).idempotency_key("k");
        let message = engine.append_batch(vec![keyed]).unwrap_err().to_string();
        assert!(message.contains(&first.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("byte {}", starts[2])),
            "{message}"
        );
    }
    assert_eq!(engine.stats().unwrap().activities, next);
    engine.close().unwrap();
}

#[test]
fn a_flip_mid_active_segment_makes_open_refuse_naming_file_and_position() {
    let (dir, _all) = populated();
    let last = segments(dir.path(), "activities", "log").pop().unwrap();
    let bytes = std::fs::read(&last).unwrap();
    let starts = frame_starts(&bytes);
    assert!(starts.len() >= 3);
    // Not the last record: valid frames follow, so this is not a torn tail.
    flip(&last, starts[1] + 28, 0);
    // Without the side file open scans the segment, as after a crash.
    let _ = std::fs::remove_file(last.with_extension("idx"));
    let err = Engine::open(dir.path(), options()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&last.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("byte {}", starts[1])),
        "{message}"
    );
    // Refusing changed nothing.
    assert_eq!(
        std::fs::read(&last).unwrap()[..],
        {
            let mut b = bytes.clone();
            b[starts[1] as usize + 28] ^= 1;
            b
        }[..]
    );
}

#[test]
fn a_flip_in_a_side_file_is_ignored_and_the_side_file_rebuilt() {
    let (dir, all) = populated();
    let side = &segments(dir.path(), "activities", "idx")[0];
    let good = std::fs::read(side).unwrap();
    for position in [0u64, 13, 20, 60, good.len() as u64 - 1] {
        flip(side, position, 1);
        let engine = Engine::open(dir.path(), options()).unwrap();
        for a in &all {
            assert_eq!(&engine.get(a.id).unwrap().unwrap(), a);
        }
        let report = engine.verify().unwrap();
        assert!(
            report.is_clean(),
            "side file flip at {position}: {report:?}"
        );
        assert_eq!(queries_return_only_good_data(&engine, &all), 0);
        engine.close().unwrap();
        assert_eq!(std::fs::read(side).unwrap(), good, "side file rebuilt");
    }
}

#[test]
fn a_flip_anywhere_in_the_catalog_log_is_refused_or_cut_as_a_torn_tail() {
    let (dir, all) = populated();
    let catalog = segments(dir.path(), "catalog", "log").pop().unwrap();
    let good = std::fs::read(&catalog).unwrap();
    let side = catalog.with_extension("idx");
    let good_side = std::fs::read(&side).ok();
    let starts = frame_starts(&good);
    let last_frame = *starts.last().unwrap();
    let (mut refused, mut cut) = (0, 0);
    for position in (0..good.len() as u64).step_by(3) {
        std::fs::write(&catalog, &good).unwrap();
        if let Some(s) = &good_side {
            std::fs::write(&side, s).unwrap();
        }
        // The index is derived from the catalog too; start each case from a sound one.
        flip(&catalog, position, (position % 8) as u8);
        match Engine::open(dir.path(), options()) {
            Err(err) => {
                let message = err.to_string();
                assert!(message.contains("catalog"), "{message}");
                // Errors from the log name the file and the byte.
                if let Error::Log {
                    source: actlog::log::Error::Corrupt { segment, .. },
                    ..
                } = &err
                {
                    assert_eq!(segment, &catalog, "{message}");
                    assert!(message.contains("at byte"), "{message}");
                }
                refused += 1;
            }
            Ok(engine) => {
                // Only damage in the last event can pass for a torn tail.
                assert!(
                    position >= last_frame,
                    "a flip at catalog byte {position} (last frame at {last_frame}) was accepted"
                );
                for a in &all {
                    assert_eq!(&engine.get(a.id).unwrap().unwrap(), a);
                }
                engine.close().unwrap();
                cut += 1;
            }
        }
    }
    println!("damage_bit_flip catalog: {refused} flips refused, {cut} cut as a torn tail");
    assert!(refused > 50);
    // Leave it sound again: the engine opens.
    std::fs::write(&catalog, &good).unwrap();
}

#[test]
fn flips_in_the_index_are_rebuilt_or_reported_and_queries_return_only_good_data() {
    let (dir, all) = populated();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.path().join("index")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::metadata(&p).unwrap().len() > 0 {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty());
    let originals: Vec<(PathBuf, Vec<u8>)> = files
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    let mut cases = 0;
    for (path, good) in &originals {
        let len = good.len() as u64;
        for k in 0..12u64 {
            let position = k * len / 12 + (k % 3);
            if position >= len {
                continue;
            }
            let index_dir = dir.path().join("index");
            std::fs::remove_dir_all(&index_dir).unwrap();
            for (p, b) in &originals {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, b).unwrap();
            }
            flip(path, position, (k % 8) as u8);
            match Engine::open(dir.path(), options()) {
                Ok(engine) => {
                    for a in &all {
                        assert_eq!(&engine.get(a.id).unwrap().unwrap(), a);
                    }
                    queries_return_only_good_data(&engine, &all);
                    // Whatever verify says, it must not fail outright.
                    engine.verify().unwrap();
                    engine.close().unwrap();
                }
                Err(err) => {
                    let message = err.to_string();
                    assert!(message.contains("index"), "{message}");
                }
            }
            cases += 1;
        }
    }
    println!(
        "damage_bit_flip index: {cases} flips in {} files",
        originals.len()
    );
    assert!(cases >= 12);
}
