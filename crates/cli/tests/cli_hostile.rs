//! Hostile input through the `actlog` binary: oversize values, wrong types, deep nesting,
//! invalid UTF-8, negative and huge ids, dates out of range. Each gets a clear error on
//! stderr, the process exits normally (no panic, no signal), and nothing else changes: the
//! log's next id stays where it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use actlog::model::{AttributeDefinition, DataType, TypeDefinition};
use actlog::{Engine, Options};

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
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from a thread: a large input must not deadlock against a full stderr pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn setup(data: &Path) {
    let engine = Engine::open(data, Options::default()).unwrap();
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
            attributes: vec![
                AttributeDefinition::new("durationMinutes", "Duration", DataType::Integer),
                AttributeDefinition::new("day", "Day", DataType::Date),
            ],
        })
        .unwrap();
    engine.approve_type(created.id()).unwrap();
    let outcome = engine
        .append(
            actlog::NewActivity::new(actlog::PersonId(1), "webinarAttended", 1_767_225_600_000)
                .primary("good"),
        )
        .unwrap();
    assert!(outcome.id().is_some());
    engine.close().unwrap();
}

fn next_id(data: &Path) -> u64 {
    let engine = Engine::open(data, Options::default()).unwrap();
    let next = engine.next_id().get();
    engine.close().unwrap();
    next
}

fn line(fields: &str) -> String {
    format!(
        r#"{{"leadId": 5, "activityDate": "2026-01-01T00:00:00Z", "apiName": "webinarAttended", "primaryAttributeValue": "x"{fields}}}"#
    )
}

/// Feeds one hostile ingest line; it must be rejected with a message on line 1 that
/// contains `expect_in_message`, and leave the log as it was.
fn rejected(data: &Path, case: &str, input: &[u8], expect_in_message: &str) -> Result<(), String> {
    let before = next_id(data);
    let out = actlog_stdin(data, &["ingest", "-"], input);
    let stderr = text(&out.stderr);
    let short: String = stderr.chars().take(300).collect();
    let failed = |what: &str| Err(format!("{case}: {what}: {short}"));
    if out.status.code() != Some(1) {
        return failed(&format!("exit {:?}", out.status.code()));
    }
    if stderr.contains("panicked") || !stderr.contains("line 1:") {
        return failed("no line 1 message");
    }
    if !stderr
        .to_lowercase()
        .contains(&expect_in_message.to_lowercase())
    {
        return failed(&format!("{expect_in_message:?} not in the message"));
    }
    if !stderr.contains("added 0") {
        return failed("something was added");
    }
    if next_id(data) != before {
        return failed("the log changed");
    }
    Ok(())
}

#[test]
fn hostile_ingest_lines_are_each_rejected_with_a_reason_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    setup(&data);

    let huge = "x".repeat(2 * 1024 * 1024);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "oversize primary value",
            line("")
                .replace("\"x\"", &format!("\"{huge}\""))
                .into_bytes(),
            "longer than",
        ),
        (
            "oversize attribute value",
            line(&format!(
                r#", "attributes": [{{"apiName": "durationMinutes", "value": "{huge}"}}]"#
            ))
            .into_bytes(),
            "longer than",
        ),
        (
            "lead id as text",
            line("").replace("5,", "\"five\",").into_bytes(),
            "leadId",
        ),
        (
            "attribute value as an object",
            line(r#", "attributes": [{"apiName": "durationMinutes", "value": {"a": 1}}]"#)
                .into_bytes(),
            "durationMinutes",
        ),
        (
            "integer attribute out of range",
            line(r#", "attributes": [{"apiName": "durationMinutes", "value": "99999999999999"}]"#)
                .into_bytes(),
            "durationMinutes",
        ),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "malformed JSON",
        ),
        (
            "deep nesting inside a value",
            line(&format!(
                r#", "attributes": [{{"apiName": "durationMinutes", "value": {}1{}}}]"#,
                "[".repeat(50_000),
                "]".repeat(50_000)
            ))
            .into_bytes(),
            "line 1",
        ),
        (
            "invalid UTF-8",
            {
                let mut b = line("").into_bytes();
                b[60] = 0xff;
                b
            },
            "line 1",
        ),
        (
            "negative lead id",
            line("").replace("5,", "-5,").into_bytes(),
            "leadId",
        ),
        (
            "lead id past u64",
            line("").replace("5,", "18446744073709551616,").into_bytes(),
            "leadId",
        ),
        (
            "lead id as a huge float",
            line("").replace("5,", "1e300,").into_bytes(),
            "leadId",
        ),
        (
            "activity date in year 99999",
            line("").replace("2026-01-01", "99999-01-01").into_bytes(),
            "activityDate",
        ),
        (
            "activity date of month 13",
            line("").replace("2026-01-01", "2026-13-01").into_bytes(),
            "activityDate",
        ),
        (
            "date attribute out of range",
            line(r#", "attributes": [{"apiName": "day", "value": "275760-09-14"}]"#).into_bytes(),
            "day",
        ),
        (
            "unknown activity type id",
            line("")
                .replace(
                    r#""apiName": "webinarAttended""#,
                    r#""activityTypeId": 4294967296"#,
                )
                .into_bytes(),
            "line 1",
        ),
    ];
    let n = cases.len();
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(case, input, expect)| rejected(&data, case, &input, expect).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("cli_hostile: {n} hostile lines rejected, the log unchanged");
}

#[test]
fn hostile_arguments_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    setup(&data);
    let before = next_id(&data);
    let deep_filter = format!("{}person = 1{}", "(".repeat(10_000), ")".repeat(10_000));
    let huge_id = u64::MAX.to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("get a huge id", vec!["get", &huge_id]),
        ("get a negative id", vec!["get", "-1"]),
        ("get an id past u64", vec!["get", "18446744073709551616"]),
        ("deeply nested filter", vec!["query", &deep_filter]),
        (
            "filter with a huge date",
            vec!["query", "occurred > 99999-01-01"],
        ),
        (
            "filter of the wrong type",
            vec!["query", "person = \"abc\""],
        ),
        ("replay from a huge id", vec!["replay", "--from", &huge_id]),
    ];
    for (case, args) in cases {
        let out = actlog_stdin(&data, &args, b"");
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        let code = out.status.code();
        assert!(code.is_some(), "{case}: killed by a signal");
        if case == "replay from a huge id" {
            // Nothing to print is not an error.
            assert_eq!(code, Some(0), "{case}: {stderr}");
            assert!(out.stdout.is_empty());
        } else {
            assert!(matches!(code, Some(1 | 2)), "{case}: {code:?} {stderr}");
            assert!(!stderr.trim().is_empty(), "{case}: no message");
        }
    }
    assert_eq!(next_id(&data), before);
}
