//! A sealed segment's side file, lost or damaged, is rebuilt from the segment on open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog_log::{Log, MemStorage, Storage, SyncPolicy};
use common::*;

#[test]
fn lost_and_damaged_side_files_are_rebuilt() {
    let mem = MemStorage::new();
    let options = || mem_options(&mem, 2048, SyncPolicy::Always);
    let (log, _) = Log::open(dir(), options()).unwrap();
    append_n(&log, 0, 100);
    let segments = log.segments();
    log.close().unwrap();
    let lost = side_path(&dir(), segments[0].base_offset.0);
    let damaged = side_path(&dir(), segments[2].base_offset.0);
    let original = mem.file_bytes(&lost).unwrap();
    mem.remove_file(&lost).unwrap();
    mem.flip_bit(&damaged, 20, 1).unwrap();

    let (log, report) = Log::open(dir(), options()).unwrap();
    assert_eq!(report.side_files_rebuilt, 2);
    assert_eq!(mem.file_bytes(&lost).unwrap(), original);
    assert_eq!(
        log.segments(),
        segments_without_sealed_flag_change(&segments)
    );
    check_contents(&log, 0, 100);
    log.close().unwrap();
    let (_log, report) = Log::open(dir(), options()).unwrap();
    assert_eq!(report.side_files_rebuilt, 0);
}

fn segments_without_sealed_flag_change(
    s: &[actlog_log::SegmentInfo],
) -> Vec<actlog_log::SegmentInfo> {
    s.to_vec()
}
