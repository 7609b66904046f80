//! The `actlog` binary end to end: types, ingest with bad lines, reads, stats, verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn actlog(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_actlog"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn actlog_stdin(data: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_actlog"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const WEBINAR: &str = r#"{
  "apiName": "webinarAttended", "name": "Attended Webinar",
  "triggerName": "Attends Webinar", "filterName": "Attended Webinar",
  "primaryAttribute": {"apiName": "webinarName", "name": "Webinar Name", "dataType": "string"},
  "attributes": [{"apiName": "durationMinutes", "name": "Duration", "dataType": "integer"}]
}"#;

fn with_type(data: &Path) {
    let def = data.parent().unwrap().join("webinar.json");
    std::fs::write(&def, WEBINAR).unwrap();
    let out = actlog(data, &["types", "create", "--file", def.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["apiName"], "webinarAttended");
    // A draft refuses activities until approved.
    let out = actlog_stdin(
        data,
        &["ingest", "-"],
        br#"{"leadId": 1, "activityDate": "2026-01-01T00:00:00Z", "apiName": "webinarAttended", "primaryAttributeValue": "x"}"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = actlog(data, &["types", "approve", "webinarAttended"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn ingest_reports_each_bad_line_and_records_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    with_type(&data);
    let input = concat!(
        r#"{"leadId": 1, "activityDate": "2026-01-01T10:00:00Z", "apiName": "webinarAttended", "primaryAttributeValue": "Rust 101", "attributes": [{"apiName": "durationMinutes", "value": "45"}]}"#,
        "\n",
        "{not json\n",
        r#"{"leadId": 2, "activityDate": "2026-01-01T11:00:00Z", "apiName": "noSuchType", "primaryAttributeValue": "x"}"#,
        "\n",
        r#"{"leadId": 3, "activityDate": "2026-01-01T12:00:00Z", "apiName": "webinarAttended", "primaryAttributeValue": "x", "attributes": [{"apiName": "durationMinutes", "value": "forty"}]}"#,
        "\n",
        "\n",
        r#"{"leadId": 4, "activityDate": "2026-01-02T00:00:00+02:00", "activityTypeId": 1, "primaryAttributeValue": "7"}"#,
        "\n",
        r#"{"leadId": 5, "activityDate": "2026-01-01T12:00:00Z", "apiName": "webinarAttended", "primaryAttribu"#,
    );
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, input).unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let out = actlog(
        &data,
        &[
            "ingest",
            file.to_str().unwrap(),
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2: malformed JSON"), "{stderr}");
    assert!(stderr.contains("line 3:"), "{stderr}");
    assert!(stderr.contains("noSuchType"), "{stderr}");
    assert!(stderr.contains("line 4:"), "{stderr}");
    assert!(stderr.contains("durationMinutes"), "{stderr}");
    assert!(stderr.contains("line 7: malformed JSON"), "{stderr}");
    assert!(
        stderr.contains("added 2, skipped as duplicates 0, rejected 4"),
        "{stderr}"
    );
    let rejected: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rejected
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 7, 3, 4]
    );

    let out = actlog(&data, &["replay"]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["leadId"], 1);
    assert_eq!(lines[0]["activityDate"], "2026-01-01T10:00:00Z");
    assert_eq!(lines[0]["primaryAttributeValue"], "Rust 101");
    assert_eq!(lines[1]["activityDate"], "2026-01-01T22:00:00Z");
    assert_eq!(lines[1]["activityTypeId"], 1);

    let out = actlog(&data, &["get", "1"]);
    assert!(out.status.success());
    let one: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one["leadId"], 4);
    let out = actlog(&data, &["get", "99"]);
    assert_eq!(out.status.code(), Some(1));

    let out = actlog(&data, &["stats", "--json"]);
    assert!(out.status.success());
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["activities"], 2);
    assert_eq!(stats["custom_types"], 1);

    let out = actlog(&data, &["verify"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("ok: no damage found"));

    // `reindex` rebuilds into a fresh index directory: nothing of the old one stays.
    let stray = data.join("index").join("stray");
    std::fs::write(&stray, b"old").unwrap();
    let out = actlog(&data, &["reindex"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("reindexed 2 activities"),
        "{}",
        text(&out.stderr)
    );
    assert!(!stray.exists());
    let out = actlog(&data, &["get", "1"]);
    assert!(out.status.success());
    let out = actlog(&data, &["verify"]);
    assert!(text(&out.stdout).contains("ok: no damage found"));
}

#[test]
fn duplicates_by_idempotency_key_are_counted_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let line = r#"{"leadId": 9, "activityDate": "2026-01-01T00:00:00Z", "activityTypeId": 1, "primaryAttributeValue": 3, "idempotencyKey": "abc"}"#;
    let input = format!("{line}\n{line}\n");
    let out = actlog_stdin(&data, &["ingest"], input.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("added 1, skipped as duplicates 1, rejected 0"));
    let out = actlog_stdin(&data, &["ingest", "-"], input.as_bytes());
    assert!(text(&out.stderr).contains("added 0, skipped as duplicates 2, rejected 0"));
}

#[test]
fn a_second_process_on_the_same_directory_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut tail = Command::new(env!("CARGO_BIN_EXE_actlog"))
        .arg("--data")
        .arg(&data)
        .arg("tail")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first process holds the lock.
    let mut refused = None;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let out = actlog(&data, &["stats"]);
        if !out.status.success() {
            refused = Some(text(&out.stderr));
            break;
        }
    }
    tail.kill().unwrap();
    tail.wait().unwrap();
    let stderr = refused.expect("the second open was refused");
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[test]
fn retain_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = actlog(&data, &["retain", "--older-than", "90x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown unit"));
    let out = actlog(&data, &["retain", "--older-than", "90d"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = actlog(&data, &["types", "show", "noSuchType"]);
    assert_eq!(out.status.code(), Some(1));
    let out = actlog(&data, &["types", "show", "visitWebpage"]);
    assert!(out.status.success());
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["id"], 1);
}
