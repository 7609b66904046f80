//! Derived files deleted (the index directory, side files) and a stale LOCK file left by a
//! killed process: the engine opens, rebuilds what is derived, and loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use actlog::{Activity, ActivityId, Engine, Options};
use common::*;

fn options() -> Options {
    Options {
        segment_bytes_max: 4096,
        record_bytes_max: 1024,
        ..Options::default()
    }
}

fn populated() -> (tempfile::TempDir, Vec<Activity>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), options()).unwrap();
    webinar_type(&engine);
    let items = (0..200)
        .map(|n| webinar(n % 5, T0 + n as i64, &format!("w{n}"), 3))
        .collect();
    engine.append_batch(items).unwrap();
    let all = engine
        .replay(ActivityId(0))
        .unwrap()
        .map(|a| a.unwrap())
        .collect();
    engine.close().unwrap();
    (dir, all)
}

/// Opens, checks every activity and every person's query against the originals, and that
/// verify is clean.
fn check_whole(dir: &Path, all: &[Activity]) {
    let engine = Engine::open(dir, options()).unwrap();
    assert_eq!(engine.next_id().get(), all.len() as u64);
    for a in all {
        assert_eq!(&engine.get(a.id).unwrap().unwrap(), a);
    }
    for person in 0..5 {
        let found: Vec<Activity> = engine
            .query_text(&format!("person = {person}"), Default::default())
            .unwrap()
            .map(|a| a.unwrap())
            .collect();
        let expected: Vec<Activity> = all
            .iter()
            .filter(|a| a.person.0 == person)
            .cloned()
            .collect();
        assert_eq!(found, expected, "person {person}");
    }
    let report = engine.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    engine.close().unwrap();
}

#[test]
fn a_deleted_index_directory_is_rebuilt_from_the_log() {
    let (dir, all) = populated();
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    check_whole(dir.path(), &all);
    assert!(dir.path().join("index").is_dir());
}

#[test]
fn deleted_side_files_are_rebuilt() {
    let (dir, all) = populated();
    let mut removed = 0;
    for log in ["activities", "catalog"] {
        for e in std::fs::read_dir(dir.path().join(log)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "idx") {
                std::fs::remove_file(&p).unwrap();
                removed += 1;
            }
        }
    }
    // Sealed segments have side files; the active one gets its own only at `Log::close`.
    assert!(removed >= 2, "only {removed} side files");
    check_whole(dir.path(), &all);
    // The sealed segments got their side files back.
    let side_files = std::fs::read_dir(dir.path().join("activities"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "idx")
        })
        .count();
    assert!(side_files >= 1);
}

#[test]
fn a_stale_lock_file_from_a_killed_process_does_not_stop_open() {
    let (dir, all) = populated();
    // The lock is an flock on the file, released by the kernel when its holder dies; the
    // file itself stays behind, possibly with bytes in it.
    for lock in [
        dir.path().join("LOCK"),
        dir.path().join("activities").join("LOCK"),
        dir.path().join("catalog").join("LOCK"),
    ] {
        std::fs::write(&lock, b"pid 4242 (killed)\n").unwrap();
    }
    check_whole(dir.path(), &all);
}

#[test]
fn a_live_lock_is_refused_with_the_directory_named() {
    let (dir, _all) = populated();
    let engine = Engine::open(dir.path(), options()).unwrap();
    let err = Engine::open(dir.path(), options()).unwrap_err();
    assert!(matches!(err, actlog::Error::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    engine.close().unwrap();
}
