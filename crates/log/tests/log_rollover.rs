//! Segments roll over at `segment_bytes_max`, records never span two segments, and the
//! result reads back the same before and after a reopen, on both storages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Log, LogOptions, MemStorage, Offset, SyncPolicy};
use common::*;

const SEGMENT_BYTES_MAX: u64 = 2048;

fn check_segments(log: &Log, next: u64) {
    let segments = log.segments();
    assert!(
        segments.len() > 3,
        "expected several segments, got {}",
        segments.len()
    );
    let mut expected_base = 0;
    for (i, s) in segments.iter().enumerate() {
        assert_eq!(s.base_offset, Offset(expected_base));
        assert!(
            s.bytes <= SEGMENT_BYTES_MAX,
            "segment {i} has {} bytes",
            s.bytes
        );
        assert_eq!(s.sealed, i + 1 < segments.len());
        assert_eq!(s.record_count, s.end_offset.0 - s.base_offset.0);
        assert_eq!(s.timestamp_ms_min, timestamp(s.base_offset.0));
        assert_eq!(s.timestamp_ms_max, timestamp(s.end_offset.0 - 1));
        expected_base = s.end_offset.0;
    }
    assert_eq!(expected_base, next);
}

#[test]
fn rolls_at_the_size_limit_in_memory() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(
        dir(),
        mem_options(&mem, SEGMENT_BYTES_MAX, SyncPolicy::Always),
    )
    .unwrap();
    append_n(&log, 0, 40);
    // A batch that itself needs several segments is split between them.
    let batch: Vec<(Vec<u8>, i64)> = (40..100).map(|i| (payload(i), timestamp(i))).collect();
    let refs: Vec<(&[u8], i64)> = batch.iter().map(|(p, t)| (p.as_slice(), *t)).collect();
    assert_eq!(log.append_batch(&refs).unwrap(), Offset(40)..Offset(100));
    check_segments(&log, 100);
    check_contents(&log, 0, 100);
    log.close().unwrap();

    let (log, report) = Log::open(
        dir(),
        mem_options(&mem, SEGMENT_BYTES_MAX, SyncPolicy::Always),
    )
    .unwrap();
    assert_eq!(report.next_offset, Offset(100));
    assert_eq!(report.side_files_rebuilt, 0);
    assert_eq!(report.torn_tail, None);
    check_segments(&log, 100);
    check_contents(&log, 0, 100);
    append_n(&log, 100, 20);
    check_contents(&log, 0, 120);
}

#[test]
fn rolls_at_the_size_limit_on_the_file_system() {
    let tmp = tempfile::tempdir().unwrap();
    let options = || LogOptions {
        segment_bytes_max: SEGMENT_BYTES_MAX,
        record_bytes_max: 1024,
        sync: SyncPolicy::Never,
        index_interval_bytes: 128,
        ..LogOptions::default()
    };
    let (log, _) = Log::open(tmp.path(), options()).unwrap();
    append_n(&log, 0, 80);
    check_segments(&log, 80);
    log.close().unwrap();
    let files = std::fs::read_dir(tmp.path()).unwrap().count();
    let segments;
    {
        let (log, report) = Log::open(tmp.path(), options()).unwrap();
        segments = log.segments().len();
        assert_eq!(report.segments, segments);
        check_contents(&log, 0, 80);
        for s in log.segments() {
            let len = std::fs::metadata(segment_path(tmp.path(), s.base_offset.0))
                .unwrap()
                .len();
            assert_eq!(len, s.bytes);
        }
    }
    // One file per segment, one side file per segment (the last from the clean close), LOCK.
    assert_eq!(files, 2 * segments + 1);
}

#[test]
fn a_record_exactly_filling_a_segment_fits() {
    let mem = MemStorage::new();
    let options = LogOptions {
        segment_bytes_max: 32 + 24 + 1000,
        record_bytes_max: 1000,
        ..mem_options(&mem, 0, SyncPolicy::Never)
    };
    let (log, _) = Log::open(dir(), options).unwrap();
    log.append(&[7u8; 1000], 1).unwrap();
    log.append(&[8u8; 1], 2).unwrap();
    let segments = log.segments();
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[0].bytes, 32 + 24 + 1000);
    assert_eq!(log.read(Offset(1)).unwrap().payload, vec![8u8]);
}
