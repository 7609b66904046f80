//! A second open of a log directory is refused while the first is open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Error, Log, LogOptions, MemStorage, SyncPolicy, LOCK_FILE_NAME};
use common::*;

#[test]
fn second_open_is_refused_on_the_file_system() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(tmp.path(), LogOptions::default()).unwrap();
    match Log::open(tmp.path(), LogOptions::default()) {
        Err(Error::Locked { path }) => assert_eq!(path, tmp.path().join(LOCK_FILE_NAME)),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(matches!(
        Log::repair(tmp.path(), LogOptions::default()),
        Err(Error::Locked { .. })
    ));
    log.close().unwrap();
    let (log, _) = Log::open(tmp.path(), LogOptions::default()).unwrap();
    drop(log);
    assert!(Log::open(tmp.path(), LogOptions::default()).is_ok());
}

#[test]
fn second_open_is_refused_in_memory() {
    let mem = MemStorage::new();
    let (log, _) = Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Always)).unwrap();
    assert!(matches!(
        Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Always)),
        Err(Error::Locked { .. })
    ));
    drop(log);
    assert!(Log::open(dir(), mem_options(&mem, 1 << 20, SyncPolicy::Always)).is_ok());
}
