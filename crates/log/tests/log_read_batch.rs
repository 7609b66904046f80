//! `Log::read_batch` returns exactly what `Log::read` returns for each offset, across
//! segments, for dense and sparse batches, for offsets that go backwards or repeat, and
//! reports an offset outside the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Error, Log, MemStorage, Offset, SyncPolicy};
use common::*;
use proptest::prelude::*;

const RECORDS: u64 = 600;

fn log_with_records() -> Log {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 4096, SyncPolicy::Never)).unwrap();
    append_n(&log, 0, RECORDS);
    assert!(log.segments().len() > 5);
    log
}

fn check(log: &Log, offsets: &[u64]) {
    let offsets: Vec<Offset> = offsets.iter().map(|&o| Offset(o)).collect();
    let mut seen = Vec::new();
    log.read_batch(&offsets, |r| {
        seen.push((r.offset, r.timestamp_ms, r.payload.to_vec()));
    })
    .unwrap();
    let expected: Vec<_> = offsets
        .iter()
        .map(|&o| {
            let r = log.read(o).unwrap();
            (r.offset, r.timestamp_ms, r.payload)
        })
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn dense_sparse_and_backwards_batches_read_what_read_reads() {
    let log = log_with_records();
    check(&log, &[]);
    check(&log, &(0..RECORDS).collect::<Vec<_>>());
    check(&log, &(0..RECORDS).step_by(37).collect::<Vec<_>>());
    check(&log, &[599, 3, 3, 250, 0, 598]);
}

#[test]
fn an_offset_past_the_end_is_out_of_range() {
    let log = log_with_records();
    let err = log
        .read_batch(&[Offset(1), Offset(RECORDS)], |_| {})
        .unwrap_err();
    assert!(matches!(err, Error::OffsetOutOfRange { .. }), "{err:?}");
}

proptest! {
    #[test]
    fn random_sorted_batches_read_what_read_reads(
        mut offsets in proptest::collection::vec(0..RECORDS, 0..200)
    ) {
        let log = log_with_records();
        offsets.sort_unstable();
        check(&log, &offsets);
    }
}

/// Records up to five times the first read of a point read, in one large segment: a
/// batch reads on forward in reads that double, and a record longer than the read
/// buffered so far is read whole.
#[test]
fn batches_over_large_records_read_what_read_reads() {
    let mem = MemStorage::new();
    let options = actlog_log::LogOptions {
        record_bytes_max: 64 << 10,
        index_interval_bytes: 4096,
        ..mem_options(&mem, 64 << 20, SyncPolicy::Never)
    };
    let (log, _) = Log::open(dir(), options).unwrap();
    let big = |i: u64| -> Vec<u8> {
        let len = match i % 5 {
            0 => 40_000,
            1 => 9_000,
            _ => (i * 37 % 700) as usize + 1,
        };
        (0..len).map(|j| (i as usize * 13 + j) as u8).collect()
    };
    for i in 0..400 {
        assert_eq!(log.append(&big(i), timestamp(i)).unwrap(), Offset(i));
    }
    assert_eq!(log.segments().len(), 1);
    check(&log, &(0..400).collect::<Vec<_>>());
    check(&log, &(0..400).step_by(3).collect::<Vec<_>>());
    check(&log, &(0..400).step_by(61).collect::<Vec<_>>());
    check(&log, &[399, 0, 1, 2, 200, 201, 5]);
    for i in [0, 1, 2, 399] {
        assert_eq!(log.read(Offset(i)).unwrap().payload, big(i));
    }
}
