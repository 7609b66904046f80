//! `Log::read_batch` returns exactly what `Log::read` returns for each offset, across
//! segments, for dense and sparse batches, for offsets that go backwards or repeat, and
//! reports an offset outside the log; so does a `PointReader` reading batch after batch,
//! also over records appended between its batches and after an error.
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

    /// Batches cut from one sorted list (as a query fetches its matches), and a few that
    /// go back, through one reader.
    #[test]
    fn a_point_reader_reads_what_read_reads_batch_after_batch(
        offsets in proptest::collection::vec(0..RECORDS, 0..300),
        cuts in proptest::collection::vec(0usize..300, 0..8),
        back in proptest::collection::vec(0..RECORDS, 0..3),
    ) {
        let log = log_with_records();
        let mut reader = log.point_reader();
        for batch in cut_batches(offsets, cuts, back) {
            let got = read_with(&mut reader, &batch).unwrap();
            prop_assert_eq!(got, expected(&log, &batch));
        }
    }
}

fn read_with(
    reader: &mut actlog_log::PointReader,
    offsets: &[u64],
) -> actlog_log::Result<Vec<(Offset, i64, Vec<u8>)>> {
    let offsets: Vec<Offset> = offsets.iter().map(|&o| Offset(o)).collect();
    let mut seen = Vec::new();
    reader.read_batch(&offsets, |r| {
        seen.push((r.offset, r.timestamp_ms, r.payload.to_vec()));
    })?;
    Ok(seen)
}

fn expected(log: &Log, offsets: &[u64]) -> Vec<(Offset, i64, Vec<u8>)> {
    offsets
        .iter()
        .map(|&o| {
            let r = log.read(Offset(o)).unwrap();
            (r.offset, r.timestamp_ms, r.payload)
        })
        .collect()
}

#[test]
fn a_point_reader_sees_records_appended_after_it_was_made_and_goes_on_after_an_error() {
    let log = log_with_records();
    let mut reader = log.point_reader();
    let tail: Vec<u64> = (RECORDS - 10..RECORDS - 5).collect();
    assert_eq!(
        read_with(&mut reader, &tail).unwrap(),
        expected(&log, &tail)
    );
    // Past the end: an error, and the reader goes on from where it was.
    let err = read_with(&mut reader, &[RECORDS]).unwrap_err();
    assert!(matches!(err, Error::OffsetOutOfRange { .. }), "{err:?}");
    append_n(&log, RECORDS, 40);
    // Forward from the last batch, into records appended since.
    let appended: Vec<u64> = (RECORDS - 3..RECORDS + 40).collect();
    assert_eq!(
        read_with(&mut reader, &appended).unwrap(),
        expected(&log, &appended)
    );
    let more: Vec<u64> = (RECORDS + 30..RECORDS + 40).step_by(3).collect();
    assert_eq!(
        read_with(&mut reader, &more).unwrap(),
        expected(&log, &more)
    );
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
