//! Concurrent `Always` appenders share fdatasyncs: many threads cost fewer syncs than
//! appends, counted through the storage trait.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use actlog_log::{Log, MemStorage, Offset, StorageOp, SyncPolicy};
use common::*;

#[test]
fn many_threads_share_syncs() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 50;
    let mem = MemStorage::new();
    // Like a real device, a sync takes time; that time is what group commit amortizes.
    mem.set_sync_delay_us(500);
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Always)).unwrap();
    let log = Arc::new(log);
    let syncs_before = mem.op_count(StorageOp::SyncData);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut offsets = Vec::new();
                for i in 0..PER_THREAD {
                    let body = [t as u8, i as u8];
                    let offset = log.append(&body, 0).unwrap();
                    // Returned means durable means visible.
                    assert!(log.next_offset() > offset);
                    offsets.push((offset, body));
                }
                offsets
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().unwrap());
    }
    let appends = THREADS * PER_THREAD;
    let syncs = mem.op_count(StorageOp::SyncData) - syncs_before;
    assert!(syncs < appends / 2, "{syncs} syncs for {appends} appends");
    assert!(syncs > 0);
    assert_eq!(log.next_offset(), Offset(appends));
    for (offset, body) in all {
        assert_eq!(log.read(offset).unwrap().payload, body);
    }
}

#[test]
fn a_single_appender_syncs_once_per_batch() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Always)).unwrap();
    let before = mem.op_count(StorageOp::SyncData);
    let writes_before = mem.op_count(StorageOp::Write);
    let batch: Vec<(&[u8], i64)> = (0..100).map(|_| (&b"abc"[..], 1)).collect();
    for _ in 0..10 {
        log.append_batch(&batch).unwrap();
    }
    assert_eq!(mem.op_count(StorageOp::SyncData) - before, 10);
    assert_eq!(mem.op_count(StorageOp::Write) - writes_before, 10);
}
