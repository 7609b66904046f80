//! `actlog bench ingest --json` and `actlog bench query --json` end to end: every
//! reported field present, and the figures consistent with each other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_actlog"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "actlog bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

fn number(report: &Value, field: &str) -> f64 {
    report[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing or not a number in {report}"))
}

#[test]
fn ingest_reports_every_field() {
    let report = bench(&[
        "ingest",
        "--activities",
        "20000",
        "--batch",
        "1000",
        "--sync",
        "never",
        "--json",
    ]);
    assert_eq!(report["bench"], "ingest");
    assert_eq!(report["activities"], 20_000);
    assert_eq!(report["batch"], 1_000);
    assert_eq!(report["writers"], 1);
    assert_eq!(report["sync"], "never");
    // A temporary directory, removed afterwards.
    assert_eq!(report["dir"], Value::Null);

    let seconds = number(&report, "seconds");
    let rate = number(&report, "activities_per_sec");
    assert!(seconds > 0.0);
    assert!(
        (rate - 20_000.0 / seconds).abs() <= rate * 0.01 + 1.0,
        "{rate} vs {seconds} s"
    );
    assert!(number(&report, "activities_per_sec_indexed") <= rate + 1.0);
    // Encoded activities are about 100 to 200 bytes, so MB/s follows from the rate.
    let mb = number(&report, "mb_per_sec");
    assert!(
        mb >= rate * 50.0 / 1e6 && mb <= rate * 400.0 / 1e6,
        "{mb} MB/s at {rate}/s"
    );

    let p50 = number(&report, "latency_us_p50");
    let p99 = number(&report, "latency_us_p99");
    let p999 = number(&report, "latency_us_p999");
    let max = number(&report, "latency_us_max");
    assert!(
        0.0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
        "{report}"
    );
    assert!(p50 <= seconds * 1e6, "{report}");

    assert!(number(&report, "index_lag") <= 20_000.0);
    assert!(number(&report, "index_catch_up_ms") >= 0.0);
    let per_activity = number(&report, "bytes_per_activity");
    let log = number(&report, "log_bytes_per_activity");
    let index = number(&report, "index_bytes_per_activity");
    assert!((80.0..400.0).contains(&log), "{log} log bytes per activity");
    assert!(index > 0.0, "the index is on disk after close");
    assert!(per_activity >= log + index - 0.2, "{report}");
    // bytes_per_activity is rounded to a tenth of a byte.
    let disk = number(&report, "disk_bytes");
    assert!(
        (disk - per_activity * 20_000.0).abs() <= 0.05 * 20_000.0 + 1.0,
        "{report}"
    );
    let rss = number(&report, "peak_rss_bytes");
    assert!((4e6..8e9).contains(&rss), "{rss} bytes");
}

#[test]
fn ingest_with_writers_into_a_kept_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let report = bench(&[
        "ingest",
        "--activities",
        "5000",
        "--batch",
        "300",
        "--writers",
        "3",
        "--sync",
        "always",
        "--dir",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report["activities"], 5_000);
    assert_eq!(report["writers"], 3);
    assert_eq!(report["dir"], data.to_str().unwrap());
    // 5,000 in batches of 300 across 3 writers: 17 batches (16 full, one of 200).
    assert!(number(&report, "latency_us_p50") > 0.0);
    assert!(data.join("activities").is_dir());

    // The ingest bench refuses a directory that already holds data.
    let out = Command::new(env!("CARGO_BIN_EXE_actlog"))
        .args(["bench", "ingest", "--activities", "10", "--dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The query bench reuses it.
    let report = bench(&[
        "query",
        "--dir",
        data.to_str().unwrap(),
        "--lookups",
        "50",
        "--json",
    ]);
    assert_eq!(report["bench"], "query");
    assert_eq!(report["loaded"], false);
    assert_eq!(report["activities"], 5_000);
    assert_eq!(report["replay_activities"], 5_000);
    assert_eq!(report["person_latest_lookups"], 50);
    // The middle half of the time span holds about half the activities.
    let matches = number(&report, "type_range_matches");
    assert!((2_000.0..=3_000.0).contains(&matches), "{matches}");
    let rows = number(&report, "person_latest_rows_mean");
    assert!((1.0..=100.0).contains(&rows), "{rows}");
    assert!(number(&report, "person_latest_us_p50") <= number(&report, "person_latest_us_p99"));
    assert!(number(&report, "replay_activities_per_sec") > 0.0);
    assert!(number(&report, "smart_list_persons") > 0.0);
}

#[test]
fn query_loads_a_fresh_data_set() {
    let report = bench(&[
        "query",
        "--activities",
        "20000",
        "--lookups",
        "100",
        "--json",
    ]);
    assert_eq!(report["loaded"], true);
    assert_eq!(report["activities"], 20_000);
    assert_eq!(report["replay_activities"], 20_000);
    assert!(number(&report, "type_range_matches_per_sec") > 0.0);
    assert!(number(&report, "smart_list_ms") >= 0.0);
}
