//! A `LogIter` moved on with `reset_range` batch after batch, as a reader that follows
//! the log does, returns every record once and in order: over records appended between
//! its batches into the segment it is reading and past segment rolls, after starting
//! over elsewhere, and after a range that was refused; in memory and on the file system,
//! where it reads through memory maps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Error, Log, LogIter, LogOptions, MemStorage, Offset, SyncPolicy};
use common::*;
use proptest::prelude::*;

/// Reads `[from, to)` with `iter` moved on by `reset_range`, checking each record.
fn follow(log: &Log, iter: &mut LogIter, from: u64, to: u64) {
    iter.reset_range(Offset(from), Offset(to)).unwrap();
    let mut want = from;
    while let Some(record) = iter.next_ref() {
        let record = record.unwrap();
        assert_eq!(record.offset, Offset(want));
        assert_eq!(record.timestamp_ms, timestamp(want));
        assert_eq!(record.payload, payload(want).as_slice());
        want += 1;
    }
    assert_eq!(want, to, "stopped early");
    // Nothing past the range, as a fresh iterator over it.
    assert!(iter.next_ref().is_none());
    let fresh: Vec<_> = log
        .iter_range(Offset(from), Offset(to))
        .unwrap()
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(fresh.len() as u64, to - from);
}

/// Appends `appends` batches, following each with one reader.
fn follow_appends(log: &Log, appends: &[u64]) {
    let mut iter = log.iter_range(Offset(0), Offset(0)).unwrap();
    let mut end = 0;
    for &n in appends {
        append_n(log, end, n);
        // Read the new records in one or two batches.
        let mid = end + n / 2;
        follow(log, &mut iter, end, mid);
        follow(log, &mut iter, mid, end + n);
        end += n;
    }
    // Starting over elsewhere, backwards and forwards.
    follow(log, &mut iter, 0, end.min(7));
    follow(log, &mut iter, end / 2, end);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_follow_appends_and_rolls(
        appends in prop::collection::vec(1u64..40, 1..30),
        segment_bytes in prop::sample::select(vec![1_100u64, 4_096, 1 << 20]),
    ) {
        let mem = MemStorage::new();
        let (log, _) = Log::open(dir(), mem_options(&mem, segment_bytes, SyncPolicy::Never)).unwrap();
        follow_appends(&log, &appends);
    }
}

proptest! {
    // Fewer cases: on the file system every roll syncs a file and its directory.
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// The same on the file system, where the reader reads each segment through a map
    /// made when it enters it, and goes on with it as the segment grows.
    #[test]
    fn batches_follow_appends_and_rolls_through_maps(
        appends in prop::collection::vec(1u64..40, 1..30),
        segment_bytes in prop::sample::select(vec![1_100u64, 4_096, 1 << 20]),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let options = LogOptions {
            segment_bytes_max: segment_bytes,
            record_bytes_max: 1024,
            sync: SyncPolicy::Never,
            index_interval_bytes: 256,
            ..LogOptions::default()
        };
        prop_assert!(options.map_reads);
        let (log, _) = Log::open(tmp.path(), options).unwrap();
        follow_appends(&log, &appends);
    }
}

#[test]
fn a_refused_range_yields_nothing_until_a_good_one() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 4096, SyncPolicy::Never)).unwrap();
    append_n(&log, 0, 50);
    let mut iter = log.iter_range(Offset(0), Offset(10)).unwrap();
    assert_eq!(iter.next_ref().unwrap().unwrap().offset, Offset(0));
    let err = iter.reset_range(Offset(1), Offset(51)).unwrap_err();
    assert!(matches!(err, Error::OffsetOutOfRange { .. }), "{err:?}");
    assert!(iter.next_ref().is_none());
    let err = iter.reset_range(Offset(5), Offset(4)).unwrap_err();
    assert!(matches!(err, Error::OffsetOutOfRange { .. }), "{err:?}");
    follow(&log, &mut iter, 1, 50);
}
