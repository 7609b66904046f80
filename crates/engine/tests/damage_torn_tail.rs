//! The last activities segment cut at every byte position of its last records, as a crash
//! mid-write leaves it: open cuts the torn tail, what is left is exactly a prefix of what
//! was written, the index agrees with it, and ids continue from there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use actlog::{Activity, ActivityId, Engine, Outcome};
use common::*;

/// Byte positions where each frame of a segment starts (after the 32-byte header), and
/// the end of the last one.
fn frame_starts(segment: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut pos = 32;
    while pos + 24 <= segment.len() {
        starts.push(pos);
        let len = u32::from_le_bytes(segment[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 24 + len;
    }
    assert_eq!(pos, segment.len(), "the segment parses whole");
    starts.push(pos);
    starts
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn only_segment(dir: &Path) -> std::path::PathBuf {
    dir.join("activities").join("00000000000000000000.log")
}

#[test]
fn a_cut_at_every_byte_of_the_last_three_records_leaves_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let items = (0..20)
        .map(|i| webinar(i % 4, T0 + i as i64, &format!("w{i}"), 5))
        .collect();
    engine.append_batch(items).unwrap();
    let original: Vec<Activity> = engine
        .replay(ActivityId(0))
        .unwrap()
        .map(|a| a.unwrap())
        .collect();
    engine.close().unwrap();

    let segment = only_segment(dir.path());
    let bytes = std::fs::read(&segment).unwrap();
    let starts = frame_starts(&bytes);
    assert_eq!(starts.len(), 21);
    let first_cut = starts[starts.len() - 4];
    // The index as the clean close left it, covering all 20: each case starts from it, as a
    // crash would leave an index that had seen records the cut removes. (Each case appends
    // after the cut; keeping that index would describe a log that no longer exists.)
    let index = dir.path().join("index");
    let saved_index = dir.path().join("index.saved");
    copy_dir(&index, &saved_index);
    let mut cases = 0;
    for cut in first_cut..bytes.len() {
        std::fs::write(&segment, &bytes[..cut]).unwrap();
        std::fs::remove_dir_all(&index).unwrap();
        copy_dir(&saved_index, &index);
        // A crash leaves no side file for the active segment (only a clean close does).
        let _ = std::fs::remove_file(segment.with_extension("idx"));
        // Records whose frame ends at or before the cut survive.
        let survivors = starts.windows(2).filter(|w| w[1] <= cut).count();

        let engine = Engine::open(dir.path(), actlog::Options::default())
            .unwrap_or_else(|e| panic!("cut at byte {cut}: open refused: {e}"));
        assert_eq!(
            engine.next_id().get(),
            survivors as u64,
            "cut at byte {cut}"
        );
        let left: Vec<Activity> = engine
            .replay(ActivityId(0))
            .unwrap()
            .map(|a| a.unwrap())
            .collect();
        assert_eq!(left, original[..survivors], "cut at byte {cut}");
        // The index (it covered all 20) was rebuilt to the prefix.
        let by_person: usize = (0..4)
            .map(|p| {
                engine
                    .query_text(&format!("person = {p}"), Default::default())
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(by_person, survivors, "cut at byte {cut}");
        let outcome = engine.append(webinar(9, T0, "after", 1)).unwrap();
        assert_eq!(
            outcome,
            Outcome::Added {
                id: ActivityId(survivors as u64)
            }
        );
        if cut % 16 == 0 {
            let report = engine.verify().unwrap();
            assert!(report.is_clean(), "cut at byte {cut}: {report:?}");
        }
        engine.close().unwrap();
        cases += 1;
    }
    println!("damage_torn_tail: {cases} cut positions opened as a prefix");
    assert!(cases > 100);
}
