//! A torn last write is cut on open and reported; records acknowledged before it survive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use actlog_log::{CorruptionKind, CrashMode, Log, LogOptions, MemStorage, Offset, SyncPolicy};
use common::*;

#[test]
fn truncated_last_frame_is_cut_on_the_file_system() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (log, _) = Log::open(tmp.path(), LogOptions::default()).unwrap();
        append_n(&log, 0, 10);
        // Dropped without close: no side file for the active segment, as after a crash.
        drop(log);
    }
    let path = segment_path(tmp.path(), 0);
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len - 3).unwrap();
    drop(file);
    let (log, report) = Log::open(tmp.path(), LogOptions::default()).unwrap();
    let torn = report.torn_tail.expect("torn tail reported");
    let last_frame = 24 + payload(9).len() as u64;
    assert_eq!(torn.at.position, len - last_frame);
    assert_eq!(torn.bytes_cut, last_frame - 3);
    assert!(matches!(torn.at.kind, CorruptionKind::Truncated { .. }));
    check_contents(&log, 0, 9);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len - last_frame);
    append_n(&log, 9, 3);
    check_contents(&log, 0, 12);
}

#[test]
fn garbage_after_the_last_frame_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (log, _) = Log::open(tmp.path(), LogOptions::default()).unwrap();
        append_n(&log, 0, 5);
        drop(log);
    }
    let path = segment_path(tmp.path(), 0);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&[0xAB; 40]).unwrap();
    drop(file);
    let (log, report) = Log::open(tmp.path(), LogOptions::default()).unwrap();
    assert_eq!(report.torn_tail.unwrap().bytes_cut, 40);
    check_contents(&log, 0, 5);
}

#[test]
fn torn_unsynced_batches_leave_a_prefix_with_every_synced_record() {
    for seed in 0..50u64 {
        let mem = MemStorage::new();
        let options = || mem_options(&mem, 4096, SyncPolicy::Never);
        let (log, _) = Log::open(dir(), options()).unwrap();
        append_n(&log, 0, 30);
        log.sync().unwrap();
        append_n(&log, 30, 20);
        mem.crash(CrashMode::TearUnsynced { seed });
        drop(log);
        let (log, report) = Log::open(dir(), options()).unwrap();
        let next = log.next_offset().0;
        assert!((30..=50).contains(&next), "seed {seed}: next {next}");
        if let Some(torn) = &report.torn_tail {
            assert!(torn.bytes_cut > 0, "seed {seed}");
        }
        check_contents(&log, 0, next);
        append_n(&log, next, 5);
        check_contents(&log, 0, next + 5);
    }
}

#[test]
fn crash_while_creating_a_segment_rewrites_its_header() {
    let mem = MemStorage::new();
    let options = || mem_options(&mem, 2048, SyncPolicy::Always);
    let (log, _) = Log::open(dir(), options()).unwrap();
    append_n(&log, 0, 10);
    log.close().unwrap();
    // A new segment file whose header never reached the disk.
    let next = 10;
    let path = segment_path(&dir(), next);
    mem.crash(CrashMode::KeepUnsynced);
    {
        use actlog_log::{OpenMode, Storage};
        let file = mem.open_file(&path, OpenMode::CreateNew).unwrap();
        file.write_all_at(b"ACTL", 0).unwrap();
        mem.sync_dir(&dir()).unwrap();
    }
    let (log, report) = Log::open(dir(), options()).unwrap();
    assert!(report.header_rewritten);
    assert_eq!(report.segments, 2);
    check_contents(&log, 0, 10);
    assert_eq!(log.append(b"x", 0).unwrap(), Offset(10));
}
