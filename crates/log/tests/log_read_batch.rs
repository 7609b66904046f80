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
