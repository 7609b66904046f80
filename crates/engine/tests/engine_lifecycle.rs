//! Types across versions, subscriptions, retention, reindexing, verify and reopen, and
//! reads through memory maps against positional reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use actlog::model::{AttributeDefinition, DataType};
use actlog::query::parse_filter;
use actlog::{ActivityId, Engine, Options, Outcome, PersonId, QueryOptions, Value};
use common::*;
use futures_util::{FutureExt, StreamExt};

#[test]
fn an_activity_recorded_under_version_1_reads_after_attributes_change() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let v1 = webinar_type(&engine);
    let id = engine
        .append(webinar(1, T0, "Rust 101", 45))
        .unwrap()
        .id()
        .unwrap();

    // Version 2: remove `durationMinutes`, add `rating`.
    engine
        .remove_attributes(v1.id(), vec!["durationMinutes".into()])
        .unwrap();
    engine
        .add_attributes(
            v1.id(),
            vec![AttributeDefinition::new(
                "rating",
                "Rating",
                DataType::Integer,
            )],
        )
        .unwrap();
    engine.approve_type(v1.id()).unwrap();
    let v2_item = actlog::NewActivity::new(PersonId(2), "webinarAttended", T0)
        .primary("Rust 102")
        .attr("rating", 5);
    assert!(matches!(
        engine.append(v2_item).unwrap(),
        Outcome::Added { .. }
    ));
    // The removed attribute is refused now.
    assert!(matches!(
        engine.append(webinar(3, T0, "x", 1)).unwrap(),
        Outcome::Skipped { .. }
    ));
    engine.close().unwrap();

    let engine = open(dir.path());
    let old = engine.get(id).unwrap().unwrap();
    let catalog = engine.catalog();
    let json =
        serde_json::to_value(actlog::model::marketo::render_activity(&catalog, &old)).unwrap();
    let attrs = json["attributes"].as_array().unwrap();
    assert!(
        attrs
            .iter()
            .any(|a| a["name"] == "Duration" && a["value"] == 45),
        "{json}"
    );
    assert_eq!(old.primary, Value::String("Rust 101".into()));
}

#[test]
fn subscription_catches_up_then_follows() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    engine
        .append_batch((0..5).map(|i| webinar(i, T0, "x", 1)).collect())
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut stream = engine.subscribe(ActivityId(2)).unwrap();
        for expected in 2..5 {
            let a = stream.next().await.unwrap().unwrap();
            assert_eq!(a.id, ActivityId(expected));
        }
        let writer = engine.clone();
        let appender = tokio::task::spawn_blocking(move || {
            for i in 0..3 {
                std::thread::sleep(Duration::from_millis(10));
                writer.append(webinar(100 + i, T0, "live", 1)).unwrap();
            }
        });
        for expected in 5..8 {
            let a = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .expect("a live activity within 10 s")
                .unwrap()
                .unwrap();
            assert_eq!(a.id, ActivityId(expected));
            assert_eq!(a.primary, Value::String("live".into()));
        }
        appender.await.unwrap();
    });
}

#[test]
fn query_streams_return_what_blocking_queries_return() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    engine
        .append_batch(
            (0..600)
                .map(|i| webinar(i % 7, T0 + i as i64 * 1_000, "x", 1))
                .collect(),
        )
        .unwrap();
    // A type plan (on its own thread), a small person plan (run where it is planned),
    // descending with a limit, and a page resumed from a cursor.
    let page = QueryOptions {
        limit: Some(50),
        direction: actlog::Direction::Descending,
        ..QueryOptions::default()
    };
    let cases = [
        ("type = webinarAttended", QueryOptions::default()),
        ("person = 3", QueryOptions::default()),
        ("type = webinarAttended", page.clone()),
    ];
    let blocking = |text: &str, options: QueryOptions| {
        let mut results = engine.query_text(text, options).unwrap();
        let ids: Vec<ActivityId> = results.by_ref().map(|a| a.unwrap().id).collect();
        (ids, results.cursor())
    };
    for flavor in ["current_thread", "multi_thread"] {
        let runtime = match flavor {
            "current_thread" => tokio::runtime::Builder::new_current_thread(),
            _ => tokio::runtime::Builder::new_multi_thread(),
        }
        .enable_all()
        .build()
        .unwrap();
        for (text, options) in &cases {
            let (expected, cursor) = blocking(text, options.clone());
            assert!(!expected.is_empty(), "{text}");
            let (got, got_cursor) = runtime.block_on(async {
                let filter = parse_filter(text).unwrap();
                let mut stream = engine.query_stream(filter, options.clone()).await.unwrap();
                let mut ids = Vec::new();
                while let Some(a) = stream.next().await {
                    ids.push(a.unwrap().id);
                }
                (ids, stream.cursor())
            });
            assert_eq!(got, expected, "{text} on a {flavor} runtime");
            assert_eq!(got_cursor, cursor, "{text} on a {flavor} runtime");
        }
        // The next page from the stream's cursor is the blocking query's next page.
        let (first, cursor) = blocking("type = webinarAttended", page.clone());
        let next = QueryOptions {
            cursor,
            ..page.clone()
        };
        let (expected, _) = blocking("type = webinarAttended", next.clone());
        let got: Vec<ActivityId> = runtime.block_on(async {
            let filter = parse_filter("type = webinarAttended").unwrap();
            let stream = engine.query_stream(filter, next).await.unwrap();
            stream.map(|a| a.unwrap().id).collect().await
        });
        assert_eq!(got, expected);
        assert!(got.iter().all(|id| !first.contains(id)));
        // A stream dropped early lets the engine close.
        runtime.block_on(async {
            let filter = parse_filter("type = webinarAttended").unwrap();
            let mut stream = engine
                .query_stream(filter, QueryOptions::default())
                .await
                .unwrap();
            stream.next().await.unwrap().unwrap();
        });
    }
    // Outside a runtime the stream is an error, not a panic.
    let filter = parse_filter("type = webinarAttended").unwrap();
    let outside = engine
        .query_stream(filter, QueryOptions::default())
        .now_or_never();
    assert!(matches!(outside, Some(Err(actlog::Error::NoRuntime))));
    engine.close().unwrap();
}

#[test]
fn retention_drops_old_segments_and_the_index_forgets_them() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        segment_bytes_max: 2 * 1024,
        record_bytes_max: 512,
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), options.clone()).unwrap();
    webinar_type(&engine);
    // 30 days of activities, a few a day.
    for day in 0..30 {
        let batch = (0..10)
            .map(|i| webinar(i, T0 + day * DAY_MS + i as i64, "x", 1))
            .collect();
        engine.append_batch(batch).unwrap();
    }
    let before = engine.stats().unwrap();
    assert!(before.segments > 5, "{before:?}");
    let report = engine.retain(T0 + 15 * DAY_MS).unwrap();
    assert!(report.segments_removed > 0);
    let first = engine.first_id();
    assert!(first.get() > 0);
    assert_eq!(engine.get(ActivityId(0)).unwrap(), None);
    assert!(engine.get(first).unwrap().is_some());
    // Nothing removed was newer than the cut-off.
    assert!(engine.get(ActivityId(first.get() - 1)).unwrap().is_none());
    engine.wait_indexed().unwrap();
    let report = engine.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    engine.close().unwrap();
    let engine = Engine::open(dir.path(), options).unwrap();
    assert_eq!(engine.first_id(), first);
}

#[test]
fn a_deleted_index_is_rebuilt_and_verify_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    for b in 0..5u64 {
        engine
            .append_batch(
                (0..200)
                    .map(|i| webinar(i % 17, T0 + (b * 200 + i) as i64, "x", 1))
                    .collect(),
            )
            .unwrap();
    }
    engine.wait_indexed().unwrap();
    let before = engine.verify().unwrap();
    assert!(before.is_clean(), "{before:?}");
    engine.close().unwrap();

    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let engine = open(dir.path());
    let stats = engine.stats().unwrap();
    assert_eq!(stats.index_watermark, ActivityId(1000));
    let after = engine.verify().unwrap();
    assert!(after.is_clean(), "{after:?}");

    engine.reindex(None).unwrap();
    assert!(engine.verify().unwrap().is_clean());
    // Ingest resumes after a reindex.
    engine.append(webinar(1, T0, "after", 1)).unwrap();
    engine.wait_indexed().unwrap();
    assert_eq!(engine.stats().unwrap().index_watermark, ActivityId(1001));
}

#[test]
fn an_open_told_to_rebuild_the_index_starts_from_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    engine
        .append_batch(
            (0..300)
                .map(|i| webinar(i % 7, T0 + i as i64, "x", 1))
                .collect(),
        )
        .unwrap();
    let text = "person = 3";
    let answer = |engine: &Engine| -> Vec<ActivityId> {
        engine
            .query_text(text, QueryOptions::default())
            .unwrap()
            .map(|a| a.unwrap().id)
            .collect()
    };
    let before = answer(&engine);
    assert_eq!(before.len(), 43);
    engine.close().unwrap();
    // A file the rebuild must not keep: the old directory goes whole.
    let stray = dir.path().join("index").join("stray");
    std::fs::write(&stray, b"old").unwrap();

    let rebuilt = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = std::sync::Arc::clone(&rebuilt);
    let options = Options {
        rebuild_index: true,
        rebuild_progress: Some(actlog::ProgressFn::new(move |done, _| {
            seen.store(done, std::sync::atomic::Ordering::Relaxed);
        })),
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), options).unwrap();
    assert!(!stray.exists(), "the old index directory was kept");
    assert_eq!(rebuilt.load(std::sync::atomic::Ordering::Relaxed), 300);
    assert_eq!(answer(&engine), before);
    assert!(engine.verify().unwrap().is_clean());
    engine.close().unwrap();

    // Without the option, the next open keeps the rebuilt index.
    std::fs::write(&stray, b"new").unwrap();
    let engine = open(dir.path());
    assert!(stray.exists());
    assert_eq!(answer(&engine), before);
}

#[test]
fn catalog_survives_reopen_after_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    let t = {
        let engine = open(dir.path());
        let t = webinar_type(&engine);
        engine.close().unwrap();
        t
    };
    type Step = Box<dyn Fn(&Engine)>;
    let steps: Vec<Step> = vec![
        Box::new(|e: &Engine| {
            e.add_attributes(
                "webinarAttended",
                vec![AttributeDefinition::new("host", "Host", DataType::String)],
            )
            .unwrap();
        }),
        Box::new(|e: &Engine| {
            e.discard_draft("webinarAttended").unwrap();
        }),
        Box::new(|e: &Engine| {
            e.delete_type("webinarAttended").unwrap();
        }),
    ];
    let mut expected = Vec::new();
    for step in steps {
        let engine = open(dir.path());
        step(&engine);
        expected.push(engine.activity_type(t.id()));
        engine.close().unwrap();
        let engine = open(dir.path());
        assert_eq!(&engine.activity_type(t.id()), expected.last().unwrap());
        engine.close().unwrap();
    }
    let engine = open(dir.path());
    assert!(engine.activity_types().iter().all(|x| x.id() != t.id()));
    assert!(matches!(
        engine.append(webinar(1, T0, "x", 1)).unwrap(),
        Outcome::Skipped { .. }
    ));
}

/// An engine whose directory was removed while it was open still closes: the index
/// store's flush on drop would otherwise wait forever for a write into the missing
/// directory.
#[test]
fn an_engine_whose_directory_was_removed_still_drops() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    for b in 0..20 {
        let batch = (0..1_000)
            .map(|i| webinar(i, T0 + b * 1_000 + i as i64, "x", 1))
            .collect();
        engine.append_batch(batch).unwrap();
    }
    drop(dir);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(engine);
        let _ = done_tx.send(());
    });
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_ok(),
        "dropping the engine hung"
    );
}

/// Query results kept past `close` hold the directory's lock (they still read through
/// the engine's state); dropping them lets it go.
#[test]
fn results_kept_past_close_hold_the_directory_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    engine.append(webinar(1, T0, "Rust 101", 45)).unwrap();
    let results = engine
        .query_text("person = 1", QueryOptions::default())
        .unwrap();
    engine.close().unwrap();
    assert!(matches!(
        Engine::open(dir.path(), Options::default()),
        Err(actlog::Error::Locked { .. })
    ));
    drop(results);
    let engine = open(dir.path());
    assert_eq!(engine.stats().unwrap().activities, 1);
}

#[test]
fn under_weaker_sync_the_index_checkpoint_waits_for_the_log_to_be_durable() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        sync: actlog::SyncPolicy::Never,
        index_flush_interval_ms: 5,
        ..Options::default()
    };
    let engine = Engine::open(dir.path().join("data"), options).unwrap();
    webinar_type(&engine);
    let items = (0..100)
        .map(|i| webinar(i, T0 + i as i64, "Rust 101", 30))
        .collect();
    engine.append_batch(items).unwrap();
    engine.wait_indexed().unwrap();
    // Many flush intervals pass; nothing made the log durable, so the checkpoint stays.
    std::thread::sleep(Duration::from_millis(100));
    let stats = engine.stats().unwrap();
    assert_eq!(stats.index_watermark, ActivityId(100));
    assert_eq!(stats.index_checkpoint, ActivityId(0));

    // Once the log is durable, the next periodic flush moves the checkpoint up.
    engine.sync().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while engine.stats().unwrap().index_checkpoint < ActivityId(100) {
        assert!(
            std::time::Instant::now() < deadline,
            "checkpoint never moved"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    engine.close().unwrap();
}

/// `Stats::occurred_range_ms` spans the earliest and latest occurrence held, which need
/// not be those of the first and last ids.
#[test]
fn stats_give_the_occurred_range_of_the_activities_held() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    assert_eq!(engine.stats().unwrap().occurred_range_ms, None);
    webinar_type(&engine);
    let times = [50, 10, 90, 20];
    engine
        .append_batch(times.iter().map(|t| webinar(1, T0 + t, "x", 1)).collect())
        .unwrap();
    let range = engine.stats().unwrap().occurred_range_ms;
    assert_eq!(range, Some((T0 + 10, T0 + 90)));
    engine.close().unwrap();
    // Also from the side files of a reopened log.
    let engine = open(dir.path());
    assert_eq!(engine.stats().unwrap().occurred_range_ms, range);
    engine.close().unwrap();
}

/// Reading the log through memory maps (the default, here with at most one segment kept
/// mapped for fetches by id) or with positional reads gives the same answers: fetches by
/// id, person and type plans, log scans and replay, over many segments, also after
/// retention removed the oldest.
#[test]
fn mapped_and_positional_log_reads_answer_alike() {
    let answers = |map_log_reads: bool, mapped_log_segments_max: usize| -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            segment_bytes_max: 2 * 1024,
            record_bytes_max: 512,
            map_log_reads,
            mapped_log_segments_max,
            ..Options::default()
        };
        let engine = Engine::open(dir.path(), options).unwrap();
        webinar_type(&engine);
        for day in 0..30 {
            let batch = (0..10)
                .map(|i| webinar(i % 4, T0 + day * DAY_MS + i as i64, "Rust 101", day))
                .collect();
            engine.append_batch(batch).unwrap();
        }
        assert!(engine.stats().unwrap().segments > 5);
        let mut out = Vec::new();
        let run = |out: &mut Vec<String>| {
            for id in [0, 1, 150, 299] {
                out.push(format!("{:?}", engine.get(ActivityId(id)).unwrap()));
            }
            for filter in [
                "person = 2",
                "person = 3 and occurred >= 2026-01-10",
                "type = webinarAttended and occurred between 2026-01-05 and 2026-01-20",
                "attr.channel = \"zoom\" and occurred < 2026-01-25",
                "attr.durationMinutes >= 25",
            ] {
                let found: Vec<String> = engine
                    .query_text(filter, QueryOptions::default())
                    .unwrap()
                    .map(|a| format!("{:?}", a.unwrap()))
                    .collect();
                assert!(!found.is_empty(), "{filter}");
                out.push(format!("{filter}: {found:?}"));
            }
            let replayed = engine
                .replay(engine.first_id())
                .unwrap()
                .map(|a| a.unwrap().id.get())
                .collect::<Vec<_>>();
            out.push(format!("{replayed:?}"));
        };
        run(&mut out);
        engine.retain(T0 + 10 * DAY_MS).unwrap();
        run(&mut out);
        engine.close().unwrap();
        out
    };
    let positional = answers(false, 8);
    assert_eq!(answers(true, 8), positional);
    assert_eq!(answers(true, 1), positional);
}
