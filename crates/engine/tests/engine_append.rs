//! The write path: outcomes per item, batches, idempotency, concurrency, reopen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use actlog::{
    ActivityId, Engine, Error, NewActivity, Options, Outcome, PersonId, SkipReason, Value,
};
use common::*;

#[test]
fn append_get_and_replay_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let outcomes = engine
        .append_batch(vec![
            webinar(42, T0, "Rust 101", 45),
            webinar(43, T0 + 1_000, "Rust 102", 30),
        ])
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Added { id: ActivityId(0) },
            Outcome::Added { id: ActivityId(1) }
        ]
    );
    let a = engine.get(ActivityId(0)).unwrap().unwrap();
    assert_eq!(a.person, PersonId(42));
    assert_eq!(a.occurred_at_ms, T0);
    assert_eq!(a.primary, Value::String("Rust 101".into()));
    assert_eq!(engine.get(ActivityId(2)).unwrap(), None);
    let all: Vec<_> = engine
        .replay(ActivityId(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].person, PersonId(43));
    engine.close().unwrap();

    let engine = open(dir.path());
    assert_eq!(engine.next_id(), ActivityId(2));
    assert_eq!(
        engine.get(ActivityId(1)).unwrap().unwrap().person,
        PersonId(43)
    );
    assert!(engine.activity_type("webinarAttended").is_some());
}

#[test]
fn a_bad_item_never_stops_the_others_and_every_reason_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let outcomes = engine
        .append_batch(vec![
            webinar(1, T0, "ok", 10),
            NewActivity::new(PersonId(2), "noSuchType", T0).primary("x"),
            NewActivity::new(PersonId(3), "webinarAttended", T0)
                .attr("durationMinutes", "not a number")
                .attr("nope", 1),
            webinar(4, T0, "also ok", 20),
        ])
        .unwrap();
    assert_eq!(outcomes[0], Outcome::Added { id: ActivityId(0) });
    assert!(
        matches!(&outcomes[1], Outcome::Skipped { reasons } if matches!(reasons[..], [SkipReason::UnknownType(_)]))
    );
    match &outcomes[2] {
        Outcome::Skipped { reasons } => {
            assert_eq!(reasons.len(), 3, "{reasons:?}");
            assert!(reasons
                .iter()
                .any(|r| matches!(r, SkipReason::MissingPrimary(_))));
            assert!(reasons
                .iter()
                .any(|r| matches!(r, SkipReason::UnknownAttribute(_))));
            assert!(reasons
                .iter()
                .any(|r| matches!(r, SkipReason::InvalidValue { .. })));
        }
        other => panic!("expected skipped, got {other:?}"),
    }
    assert_eq!(outcomes[3], Outcome::Added { id: ActivityId(1) });
}

#[test]
fn a_batch_over_the_limit_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(
        dir.path(),
        Options {
            batch_items_max: 3,
            ..Options::default()
        },
    )
    .unwrap();
    webinar_type(&engine);
    let batch: Vec<_> = (0..4).map(|i| webinar(i, T0, "x", 1)).collect();
    assert!(matches!(
        engine.append_batch(batch),
        Err(Error::BatchTooLarge { items: 4, max: 3 })
    ));
    assert_eq!(engine.next_id(), ActivityId(0));
}

#[test]
fn idempotent_retries_report_the_original_id_also_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let first = engine
        .append_batch(vec![
            webinar(1, T0, "a", 1).idempotency_key("k1"),
            webinar(2, T0, "b", 1).idempotency_key("k2"),
            webinar(3, T0, "c", 1).idempotency_key("k1"),
        ])
        .unwrap();
    assert_eq!(
        first,
        vec![
            Outcome::Added { id: ActivityId(0) },
            Outcome::Added { id: ActivityId(1) },
            Outcome::Duplicate { id: ActivityId(0) },
        ]
    );
    let retry = engine
        .append_batch(vec![webinar(2, T0, "b", 1).idempotency_key("k2")])
        .unwrap();
    assert_eq!(retry, vec![Outcome::Duplicate { id: ActivityId(1) }]);
    engine.close().unwrap();

    // The window is read back by the first append with a key, after appends without.
    let engine = open(dir.path());
    let plain = engine.append_batch(vec![webinar(4, T0, "d", 1)]).unwrap();
    assert_eq!(plain, vec![Outcome::Added { id: ActivityId(2) }]);
    let retry = engine
        .append_batch(vec![
            webinar(1, T0, "a", 1).idempotency_key("k1"),
            webinar(9, T0, "new", 1).idempotency_key("k9"),
        ])
        .unwrap();
    assert_eq!(
        retry,
        vec![
            Outcome::Duplicate { id: ActivityId(0) },
            Outcome::Added { id: ActivityId(3) },
        ]
    );
    let again = engine
        .append_batch(vec![webinar(9, T0, "new", 1).idempotency_key("k9")])
        .unwrap();
    assert_eq!(again, vec![Outcome::Duplicate { id: ActivityId(3) }]);
}

/// Keyed appends from many threads on a reopened engine: one reads the window back,
/// the others wait for it, and every retry of an old key is a duplicate.
#[test]
fn concurrent_first_keyed_appends_all_see_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let items = (0..200)
        .map(|i| webinar(i, T0, "a", 1).idempotency_key(format!("k{i}")))
        .collect();
    engine.append_batch(items).unwrap();
    engine.close().unwrap();
    let engine = std::sync::Arc::new(open(dir.path()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let engine = std::sync::Arc::clone(&engine);
            std::thread::spawn(move || {
                let items = (0..50)
                    .map(|i| {
                        let k = t * 50 + i;
                        webinar(k, T0, "a", 1).idempotency_key(format!("k{k}"))
                    })
                    .collect();
                engine.append_batch(items).unwrap()
            })
        })
        .collect();
    for (t, handle) in threads.into_iter().enumerate() {
        for (i, outcome) in handle.join().unwrap().into_iter().enumerate() {
            let id = ActivityId((t * 50 + i) as u64);
            assert_eq!(outcome, Outcome::Duplicate { id });
        }
    }
    assert_eq!(engine.next_id(), ActivityId(200));
}

#[test]
fn concurrent_appenders_get_dense_unique_ids() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let threads = 8;
    let batches = 20;
    let per_batch = 50;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for b in 0..batches {
                    let batch = (0..per_batch)
                        .map(|i| {
                            // Half the keys are shared by every thread: each is recorded once.
                            let key = if i % 2 == 0 {
                                format!("shared-{b}-{i}")
                            } else {
                                format!("own-{t}-{b}-{i}")
                            };
                            webinar(t, T0 + i, "x", 1).idempotency_key(key)
                        })
                        .collect();
                    for outcome in engine.append_batch(batch).unwrap() {
                        if let Outcome::Added { id } = outcome {
                            ids.push(id.get());
                        }
                    }
                }
                ids
            })
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        for id in h.join().unwrap() {
            assert!(all.insert(id), "id {id} given twice");
        }
    }
    let next = engine.next_id().get();
    assert_eq!(all.len() as u64, next);
    assert!((0..next).all(|id| all.contains(&id)), "ids are not dense");
    // Every key recorded exactly once.
    let mut keys = HashSet::new();
    for a in engine.replay(ActivityId(0)).unwrap() {
        let key = a.unwrap().idempotency_key.unwrap();
        assert!(keys.insert(key.clone()), "key {key} recorded twice");
    }
}

#[test]
fn async_appenders_from_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    webinar_type(&engine);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = Arc::new(engine);
    let total: usize = runtime.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..16u64 {
            let engine = Arc::clone(&engine);
            tasks.push(tokio::spawn(async move {
                let batch = (0..10).map(|i| webinar(t, T0 + i, "x", 1)).collect();
                engine.append_batch_async(batch).await.unwrap().len()
            }));
        }
        let mut n = 0;
        for task in tasks {
            n += task.await.unwrap();
        }
        n
    });
    assert_eq!(total, 160);
    assert_eq!(engine.next_id(), ActivityId(160));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    match Engine::open(dir.path(), Options::default()) {
        Err(Error::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
    engine.close().unwrap();
    Engine::open(dir.path(), Options::default()).unwrap();
}

#[test]
fn closed_engine_refuses_work() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let clone = engine.clone();
    engine.close().unwrap();
    assert!(matches!(clone.append_batch(vec![]), Err(Error::Closed)));
    assert!(matches!(clone.get(ActivityId(0)), Err(Error::Closed)));
}

/// Activities whose records are longer than a point read's first read (a long text
/// value) read back by id, through a person query and in a replay.
#[test]
fn long_activities_read_back_by_id_and_by_query() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let def = actlog::model::TypeDefinition {
        api_name: "noteWritten".into(),
        name: "Wrote a Note".into(),
        description: None,
        trigger_name: "Writes a Note".into(),
        filter_name: "Wrote a Note".into(),
        primary_attribute: actlog::model::AttributeDefinition::new(
            "note",
            "Note",
            actlog::model::DataType::Text,
        ),
        attributes: Vec::new(),
    };
    let created = engine.create_type(def).unwrap();
    engine.approve_type(created.id()).unwrap();
    let text = |i: usize| -> String {
        let len = [60_000, 20_000, 10, 40_000][i % 4];
        (0..len)
            .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
            .collect()
    };
    let items = (0..12)
        .map(|i| {
            actlog::NewActivity::new(actlog::PersonId(i as u64 % 3), "noteWritten", T0 + i as i64)
                .primary(text(i))
        })
        .collect();
    let outcomes = engine.append_batch(items).unwrap();
    assert!(outcomes.iter().all(|o| o.id().is_some()), "{outcomes:?}");
    engine.close().unwrap();
    let engine = open(dir.path());
    for i in 0..12 {
        let a = engine.get(ActivityId(i as u64)).unwrap().unwrap();
        assert_eq!(a.primary, actlog::model::Value::Text(text(i)));
    }
    engine.wait_indexed().unwrap();
    let got: Vec<u64> = engine
        .query_text("person = 1", Default::default())
        .unwrap()
        .map(|a| a.unwrap().id.get())
        .collect();
    assert_eq!(got, vec![1, 4, 7, 10]);
    assert_eq!(engine.replay(ActivityId(0)).unwrap().count(), 12);
}
