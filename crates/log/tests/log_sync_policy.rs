//! What survives a power loss under each sync policy, and when records become visible.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use actlog_log::{CrashMode, Log, MemStorage, Offset, StorageOp, SyncPolicy};
use common::*;

fn reopen_after_power_loss(mem: &MemStorage, sync: SyncPolicy) -> u64 {
    mem.crash(CrashMode::DropUnsynced);
    let (log, _) = Log::open(dir(), mem_options(mem, 1 << 20, sync)).unwrap();
    let next = log.next_offset().0;
    check_contents(&log, 0, next);
    next
}

#[test]
fn always_keeps_every_returned_append() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Always)).unwrap();
    append_n(&log, 0, 10);
    assert_eq!(reopen_after_power_loss(&mem, SyncPolicy::Always), 10);
    drop(log);
}

#[test]
fn never_syncs_only_when_asked() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Never)).unwrap();
    let before = mem.op_count(StorageOp::SyncData);
    append_n(&log, 0, 10);
    assert_eq!(log.next_offset(), Offset(10), "visible once written");
    assert_eq!(mem.op_count(StorageOp::SyncData), before);
    log.sync().unwrap();
    assert_eq!(mem.op_count(StorageOp::SyncData), before + 1);
    append_n(&log, 10, 5);
    assert_eq!(reopen_after_power_loss(&mem, SyncPolicy::Never), 10);
    drop(log);
}

#[test]
fn interval_syncs_in_the_background() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::IntervalMs(5))).unwrap();
    append_n(&log, 0, 10);
    assert_eq!(log.next_offset(), Offset(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let before = mem.op_count(StorageOp::SyncData);
    while mem.op_count(StorageOp::SyncData) == before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(reopen_after_power_loss(&mem, SyncPolicy::Never), 10);
    drop(log);
}

#[test]
fn close_syncs_under_never() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Never)).unwrap();
    append_n(&log, 0, 7);
    log.close().unwrap();
    assert_eq!(reopen_after_power_loss(&mem, SyncPolicy::Never), 7);
}
