//! Readers running beside the writer see only whole, correct records up to the visible end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actlog_log::{Log, LogOptions, Offset, SyncPolicy};
use common::*;

fn readers_during_appends(sync: SyncPolicy) {
    const TOTAL: u64 = 3000;
    let tmp = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes_max: 16 * 1024,
        record_bytes_max: 1024,
        sync,
        index_interval_bytes: 512,
        ..LogOptions::default()
    };
    let (log, _) = Log::open(tmp.path(), options).unwrap();
    let log = Arc::new(log);
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let log = Arc::clone(&log);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                while !done.load(Ordering::Acquire) || rounds < 2 {
                    let next = log.next_offset().0;
                    let from = if r == 0 { 0 } else { next.saturating_sub(50) };
                    let mut expected = from;
                    log.for_each_from(Offset(from), |rec| {
                        assert_eq!(rec.offset, Offset(expected));
                        assert_eq!(rec.payload, &payload(expected)[..]);
                        expected += 1;
                    })
                    .unwrap();
                    assert!(
                        expected >= next,
                        "iterator ended at {expected} before {next}"
                    );
                    if next > 0 {
                        let at = (next * 7919 + rounds) % next;
                        assert_eq!(log.read(Offset(at)).unwrap().payload, payload(at));
                    }
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    let mut i = 0;
    while i < TOTAL {
        let batch: Vec<(Vec<u8>, i64)> = (i..i + 10).map(|j| (payload(j), timestamp(j))).collect();
        let refs: Vec<(&[u8], i64)> = batch.iter().map(|(p, t)| (p.as_slice(), *t)).collect();
        log.append_batch(&refs).unwrap();
        i += 10;
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() >= 2);
    }
    assert!(log.segments().len() > 5);
    check_contents(&log, 0, TOTAL);
}

#[test]
fn readers_during_appends_never() {
    readers_during_appends(SyncPolicy::Never);
}

#[test]
fn readers_during_appends_always() {
    readers_during_appends(SyncPolicy::Always);
}

#[test]
fn parallel_range_scans_cover_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes_max: 8 * 1024,
        sync: SyncPolicy::Never,
        index_interval_bytes: 256,
        record_bytes_max: 1024,
        ..LogOptions::default()
    };
    let (log, _) = Log::open(tmp.path(), options).unwrap();
    append_n(&log, 0, 1000);
    let log = Arc::new(log);
    let handles: Vec<_> = (0..4u64)
        .map(|k| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let (from, to) = (k * 250, k * 250 + 250);
                let offsets: Vec<u64> = log
                    .iter_range(Offset(from), Offset(to))
                    .unwrap()
                    .map(|r| {
                        let r = r.unwrap();
                        assert_eq!(r.payload, payload(r.offset.0));
                        r.offset.0
                    })
                    .collect();
                assert_eq!(offsets, (from..to).collect::<Vec<_>>());
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(log.iter_range(Offset(10), Offset(1001)).is_err());
    assert!(log.iter_range(Offset(10), Offset(5)).is_err());
    assert_eq!(
        log.iter_range(Offset(1000), Offset(1000)).unwrap().count(),
        0
    );
}
