//! Retention removes whole sealed segments, by offset or by age, and moves the first offset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Error, Log, MemStorage, Offset, SyncPolicy};
use common::*;

#[test]
fn retain_before_an_offset_removes_whole_segments_below_it() {
    let mem = MemStorage::new();
    let options = || mem_options(&mem, 2048, SyncPolicy::Always);
    let (log, _) = Log::open(dir(), options()).unwrap();
    append_n(&log, 0, 100);
    let segments = log.segments();
    let cut = segments[2].base_offset.0 + 1; // inside segment 2: it stays
    let report = log.retain_before(Offset(cut)).unwrap();
    assert_eq!(report.segments_removed, 2);
    assert_eq!(report.records_removed, segments[2].base_offset.0);
    assert_eq!(report.bytes_removed, segments[0].bytes + segments[1].bytes);
    assert_eq!(report.first_offset, segments[2].base_offset);
    assert_eq!(log.first_offset(), segments[2].base_offset);
    assert!(!mem.exists(&segment_path(&dir(), 0)));
    assert!(!mem.exists(&side_path(&dir(), 0)));
    match log.read(Offset(0)) {
        Err(Error::OffsetOutOfRange {
            offset,
            first,
            next,
        }) => {
            assert_eq!(
                (offset, first, next),
                (Offset(0), segments[2].base_offset, Offset(100))
            );
        }
        other => panic!("expected OffsetOutOfRange, got {other:?}"),
    }
    assert!(matches!(
        log.iter_from(Offset(0)),
        Err(Error::OffsetOutOfRange { .. })
    ));
    check_contents(&log, segments[2].base_offset.0, 100);
    // The active segment is never removed, whatever the offset.
    let report = log.retain_before(Offset(u64::MAX)).unwrap();
    assert_eq!(report.segments_removed, segments.len() - 3);
    assert_eq!(log.segments().len(), 1);
    let first = log.first_offset().0;
    drop(log);
    let (log, report) = Log::open(dir(), options()).unwrap();
    assert_eq!(report.first_offset, Offset(first));
    check_contents(&log, first, 100);
}

#[test]
fn retain_older_than_a_time_removes_old_segments_oldest_first() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 2048, SyncPolicy::Never)).unwrap();
    append_n(&log, 0, 100);
    let segments = log.segments();
    // Everything in segments 0 and 1 is older than the newest record of segment 1 + 1.
    let cutoff = segments[1].timestamp_ms_max + 1;
    let report = log.retain_older_than(cutoff).unwrap();
    assert_eq!(report.segments_removed, 2);
    assert_eq!(log.first_offset(), segments[2].base_offset);
    assert_eq!(log.retain_older_than(cutoff).unwrap().segments_removed, 0);
    check_contents(&log, segments[2].base_offset.0, 100);
}
