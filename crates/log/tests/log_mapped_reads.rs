//! Reads on the file system go through memory maps of the segments
//! (`LogOptions::map_reads`): reads by offset and scans return the records, over sealed
//! segments and an active one that grows after it was mapped, and find a flipped bit in
//! a mapped segment as positional reads do; retention may remove a segment a reader has
//! mapped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Error, Log, LogOptions, Offset, PointReader, SyncPolicy};
use common::*;
use proptest::prelude::*;

const RECORDS: u64 = 600;

fn options(map_reads: bool) -> LogOptions {
    LogOptions {
        segment_bytes_max: 4096,
        record_bytes_max: 1024,
        sync: SyncPolicy::Never,
        index_interval_bytes: 256,
        map_reads,
        ..LogOptions::default()
    }
}

fn log_with_records(dir: &std::path::Path, map_reads: bool) -> Log {
    let (log, _) = Log::open(dir, options(map_reads)).unwrap();
    append_n(&log, 0, RECORDS);
    assert!(log.segments().len() > 5);
    log
}

fn read_with(
    reader: &mut PointReader,
    offsets: &[u64],
) -> actlog_log::Result<Vec<(u64, i64, Vec<u8>)>> {
    let offsets: Vec<Offset> = offsets.iter().map(|&o| Offset(o)).collect();
    let mut seen = Vec::new();
    reader.read_batch(&offsets, |r| {
        seen.push((r.offset.0, r.timestamp_ms, r.payload.to_vec()));
    })?;
    Ok(seen)
}

fn expected(offsets: &[u64]) -> Vec<(u64, i64, Vec<u8>)> {
    offsets
        .iter()
        .map(|&o| (o, timestamp(o), payload(o)))
        .collect()
}

#[test]
fn mapped_and_positional_reads_read_the_records() {
    for map in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let log = log_with_records(tmp.path(), map);
        let mut reader = log.point_reader();
        let every: Vec<u64> = (0..RECORDS).collect();
        assert_eq!(read_with(&mut reader, &every).unwrap(), expected(&every));
        let sparse: Vec<u64> = (0..RECORDS).step_by(37).collect();
        assert_eq!(read_with(&mut reader, &sparse).unwrap(), expected(&sparse));
        let backwards = [599, 3, 3, 250, 0, 598];
        assert_eq!(
            read_with(&mut reader, &backwards).unwrap(),
            expected(&backwards)
        );
        for i in [0, 1, 299, RECORDS - 1] {
            assert_eq!(log.read(Offset(i)).unwrap().payload, payload(i));
        }
    }
}

proptest! {
    // Few cases: on the file system every roll syncs a file and its directory.
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Batches cut from one sorted list and a few that go back, through one reader, with
    /// appends (into the mapped active segment and on into new ones) between batches.
    #[test]
    fn a_mapped_point_reader_reads_what_was_appended_batch_after_batch(
        offsets in proptest::collection::vec(0..RECORDS * 2, 0..300),
        cuts in proptest::collection::vec(0usize..300, 0..8),
        back in proptest::collection::vec(0..RECORDS, 0..3),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let log = log_with_records(tmp.path(), true);
        let mut reader = log.point_reader();
        let mut next = RECORDS;
        for batch in cut_batches(offsets, cuts, back) {
            // Appends a few records at a time, up to what the batch reads.
            let want = batch.iter().max().map_or(0, |&o| o + 1);
            while next < want {
                let n = (want - next).min(7);
                append_n(&log, next, n);
                next += n;
            }
            let got = read_with(&mut reader, &batch).unwrap();
            prop_assert_eq!(got, expected(&batch));
        }
    }
}

#[test]
fn mapped_and_positional_scans_read_the_records() {
    for map in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let log = log_with_records(tmp.path(), map);
        check_contents(&log, 0, RECORDS);
        let middle: Vec<u64> = log
            .iter_range(Offset(100), Offset(400))
            .unwrap()
            .map(|r| r.unwrap().offset.0)
            .collect();
        assert_eq!(middle, (100..400).collect::<Vec<_>>());
        let mut count = 0;
        log.for_each_from(Offset(RECORDS / 2), |r| {
            assert_eq!(r.payload, payload(r.offset.0).as_slice());
            count += 1;
        })
        .unwrap();
        assert_eq!(count, RECORDS - RECORDS / 2);
    }
}

#[test]
fn a_flipped_bit_in_a_mapped_sealed_segment_is_found_by_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let log = log_with_records(tmp.path(), true);
    let sealed = log.segments()[2].clone();
    assert!(sealed.sealed);
    log.close().unwrap();
    let victim = sealed.base_offset.0 + 3;
    let position = (sealed.base_offset.0..victim)
        .map(|i| 24 + payload(i).len() as u64)
        .sum::<u64>()
        + 32;
    let path = segment_path(tmp.path(), sealed.base_offset.0);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[position as usize + 30] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    // Open trusts the sealed segment's side file; the read checks the frame.
    let (log, _) = Log::open(tmp.path(), options(true)).unwrap();
    assert_read_corrupt_at(&log, victim, &path, position);
    let mut reader = log.point_reader();
    let around = [victim - 1, victim + 1];
    assert_eq!(read_with(&mut reader, &around).unwrap(), expected(&around));
    assert!(matches!(
        read_with(&mut reader, &[victim]),
        Err(Error::Corrupt { .. })
    ));
    // A scan stops at it with the same error, after every record before it.
    let mut scanned = 0;
    let mut failed = None;
    for record in log.iter_from(Offset(0)).unwrap() {
        match record {
            Ok(r) => {
                assert_eq!(r.offset.0, scanned);
                scanned += 1;
            }
            Err(err) => failed = Some(err),
        }
    }
    assert_eq!(scanned, victim);
    assert!(matches!(failed, Some(Error::Corrupt { position: p, .. }) if p == position));
}

#[test]
fn retention_removes_a_segment_a_reader_has_mapped() {
    let tmp = tempfile::tempdir().unwrap();
    let log = log_with_records(tmp.path(), true);
    let mut reader = log.point_reader();
    let first = log.segments()[0].clone();
    let in_first = [first.base_offset.0, first.end_offset.0 - 1];
    assert_eq!(
        read_with(&mut reader, &in_first).unwrap(),
        expected(&in_first)
    );
    let second = log.segments()[1].clone();
    let report = log.retain_before(second.base_offset).unwrap();
    assert_eq!(report.segments_removed, 1);
    assert!(!segment_path(tmp.path(), first.base_offset.0).exists());
    assert!(matches!(
        read_with(&mut reader, &[first.base_offset.0]),
        Err(Error::OffsetOutOfRange { .. })
    ));
    let later = [second.base_offset.0, RECORDS - 1];
    assert_eq!(read_with(&mut reader, &later).unwrap(), expected(&later));
}
