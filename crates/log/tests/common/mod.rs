//! Helpers shared by the integration tests: options over in-memory storage and
//! deterministic payloads, so an API change edits one place.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actlog_log::{Error, Log, LogOptions, MemStorage, Offset, SyncPolicy};

pub const DIR: &str = "/log";

pub fn dir() -> PathBuf {
    PathBuf::from(DIR)
}

pub fn mem_options(mem: &MemStorage, segment_bytes_max: u64, sync: SyncPolicy) -> LogOptions {
    LogOptions {
        segment_bytes_max,
        record_bytes_max: 1024,
        sync,
        index_interval_bytes: 256,
        storage: Arc::new(mem.clone()),
        ..LogOptions::default()
    }
}

/// The payload of record `i`: its length and contents both depend on `i`.
pub fn payload(i: u64) -> Vec<u8> {
    let len = (i * 7 % 113) as usize + 1;
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

pub fn timestamp(i: u64) -> i64 {
    1_000 + i as i64 * 10
}

pub fn append_n(log: &Log, from: u64, n: u64) {
    for i in from..from + n {
        assert_eq!(log.append(&payload(i), timestamp(i)).unwrap(), Offset(i));
    }
}

/// Checks that the log holds exactly records `[first, next)` with the expected contents.
pub fn check_contents(log: &Log, first: u64, next: u64) {
    assert_eq!(log.first_offset(), Offset(first));
    assert_eq!(log.next_offset(), Offset(next));
    let mut expected = first;
    for record in log.iter_from(Offset(first)).unwrap() {
        let record = record.unwrap();
        assert_eq!(record.offset, Offset(expected));
        assert_eq!(record.payload, payload(expected), "payload of {expected}");
        assert_eq!(record.timestamp_ms, timestamp(expected));
        expected += 1;
    }
    assert_eq!(expected, next);
    if next > first {
        let mid = first + (next - first) / 2;
        assert_eq!(log.read(Offset(mid)).unwrap().payload, payload(mid));
    }
}

/// Batches cut from one sorted list of offsets at `cuts` (as a query fetches its matches
/// batch after batch), with `back` (offsets that go back) in the middle.
pub fn cut_batches(mut offsets: Vec<u64>, cuts: Vec<usize>, back: Vec<u64>) -> Vec<Vec<u64>> {
    offsets.sort_unstable();
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(offsets.len())).collect();
    cuts.push(0);
    cuts.push(offsets.len());
    cuts.sort_unstable();
    let mut batches: Vec<Vec<u64>> = cuts
        .windows(2)
        .map(|w| offsets[w[0]..w[1]].to_vec())
        .collect();
    batches.insert(batches.len() / 2, back);
    batches
}

pub fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

pub fn side_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.idx"))
}

/// Asserts that reading record `offset` fails as damage found at byte `position` of the
/// segment file `segment`.
pub fn assert_read_corrupt_at(log: &Log, offset: u64, segment: &Path, position: u64) {
    match log.read(Offset(offset)) {
        Err(Error::Corrupt {
            segment: s,
            position: p,
            ..
        }) => assert_eq!((s.as_path(), p), (segment, position)),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
