//! A record over `record_bytes_max` is refused with a typed error and nothing of its batch
//! is written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Error, Log, MemStorage, Offset, StorageOp, SyncPolicy};
use common::*;

#[test]
fn oversize_record_is_refused_and_nothing_is_written() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Always)).unwrap();
    log.append(&[1u8; 1024], 5).unwrap();
    let writes = mem.op_count(StorageOp::Write);
    match log.append(&[1u8; 1025], 5) {
        Err(Error::RecordTooLarge { len, max }) => assert_eq!((len, max), (1025, 1024)),
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    let big = vec![0u8; 2000];
    let batch: Vec<(&[u8], i64)> = vec![(b"ok", 1), (&big, 2), (b"ok", 3)];
    assert!(matches!(
        log.append_batch(&batch),
        Err(Error::RecordTooLarge { len: 2000, .. })
    ));
    assert_eq!(mem.op_count(StorageOp::Write), writes);
    assert_eq!(log.next_offset(), Offset(1));
    assert_eq!(log.append(b"after", 6).unwrap(), Offset(1));
}

#[test]
fn options_that_cannot_hold_one_record_are_refused_by_open() {
    let mem = MemStorage::new();
    let mut options = mem_options(&mem, 100, SyncPolicy::Always);
    options.record_bytes_max = 1000;
    assert!(matches!(
        Log::open(dir(), options),
        Err(Error::InvalidOptions { .. })
    ));
    let options = mem_options(&mem, 1 << 20, SyncPolicy::IntervalMs(0));
    assert!(matches!(
        Log::open(dir(), options),
        Err(Error::InvalidOptions { .. })
    ));
}
