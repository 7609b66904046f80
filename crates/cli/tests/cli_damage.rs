//! Damaged data directories through the `actlog` binary: `verify` exits 1 naming the
//! damaged file and byte, `repair` explains and, with `--yes`, cuts the damaged log so the
//! directory opens again with everything before the damage intact.
//!
//! Regression: a flipped bit in a sealed segment inside the idempotency window (which open
//! reads back) made the engine refuse to open, and `verify`, which needed an open engine,
//! exited 2 with only the first damage; it now scans the logs on their own and lists every
//! damaged place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use actlog::model::{AttributeDefinition, DataType, TypeDefinition};
use actlog::{ActivityId, Engine, NewActivity, Options, PersonId};

fn actlog(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_actlog"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

const ACTIVITIES: u64 = 250;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory with `ACTIVITIES` activities in segments of at most 4 KiB (at least three).
fn populated(data: &Path) {
    let engine = Engine::open(
        data,
        Options {
            segment_bytes_max: 4096,
            record_bytes_max: 1024,
            ..Options::default()
        },
    )
    .unwrap();
    let created = engine
        .create_type(TypeDefinition {
            api_name: "webinarAttended".into(),
            name: "Attended Webinar".into(),
            description: None,
            trigger_name: "Attends Webinar".into(),
            filter_name: "Attended Webinar".into(),
            primary_attribute: AttributeDefinition::new(
                "webinarName",
                "Webinar Name",
                DataType::String,
            ),
            attributes: Vec::new(),
        })
        .unwrap();
    engine.approve_type(created.id()).unwrap();
    let items = (0..ACTIVITIES)
        .map(|i| {
            NewActivity::new(
                PersonId(i % 7),
                "webinarAttended",
                1_767_225_600_000 + i as i64,
            )
            .primary(format!("w{i}"))
        })
        .collect();
    engine.append_batch(items).unwrap();
    engine.close().unwrap();
}

fn segments(data: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("activities"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// Start of the `n`th frame of a segment.
fn frame_start(segment: &[u8], n: usize) -> usize {
    let mut pos = 32;
    for _ in 0..n {
        let len = u32::from_le_bytes(segment[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 24 + len;
    }
    pos
}

fn flip(path: &Path, position: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[position] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_exits_1_naming_a_damaged_sealed_segment_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    populated(&data);
    let out = actlog(&data, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("ok: no damage found"));

    let all = segments(&data);
    assert!(all.len() >= 3, "{all:?}");
    let sealed = &all[1];
    let bytes = std::fs::read(sealed).unwrap();
    let at = frame_start(&bytes, 3);
    flip(sealed, at + 26);
    let out = actlog(&data, &["verify"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("DAMAGED {} at byte {at}", sealed.display())),
        "{stdout}"
    );
    assert!(stdout.contains("damage found"), "{stdout}");
}

#[test]
fn open_refuses_mid_log_damage_and_repair_yes_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    populated(&data);
    let last = segments(&data).pop().unwrap();
    let bytes = std::fs::read(&last).unwrap();
    let at = frame_start(&bytes, 1);
    flip(&last, at + 25);
    // As after a crash: no side file for the active segment, so open scans it.
    let _ = std::fs::remove_file(last.with_extension("idx"));
    let first_of_last: u64 = last.file_stem().unwrap().to_str().unwrap().parse().unwrap();

    // The log refuses to open, so verify cannot scan it: it fails naming the file and byte.
    let out = actlog(&data, &["verify"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&last.display().to_string()), "{stderr}");
    assert!(stderr.contains(&format!("at byte {at}")), "{stderr}");

    // Without --yes, repair explains and changes nothing.
    let out = actlog(&data, &["repair"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("repair --yes"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(std::fs::read(&last).unwrap().len(), bytes.len());

    let out = actlog(&data, &["repair", "--yes"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("cut {} at byte {at}", last.display())),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("now ends at offset {}", first_of_last + 1)));

    let out = actlog(&data, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // Everything before the damage is intact.
    let engine = Engine::open(&data, Options::default()).unwrap();
    assert_eq!(engine.next_id().get(), first_of_last + 1);
    for id in 0..=first_of_last {
        let a = engine.get(ActivityId(id)).unwrap().unwrap();
        assert_eq!(a.primary, actlog::Value::String(format!("w{id}")));
    }
    engine.close().unwrap();
}

#[test]
fn a_deleted_index_is_rebuilt_and_verify_passes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    populated(&data);
    std::fs::remove_dir_all(data.join("index")).unwrap();
    let out = actlog(&data, &["verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = actlog(&data, &["query", "person = 3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        (0..ACTIVITIES).filter(|i| i % 7 == 3).count()
    );
}
