//! Random bytes and random JSON never panic anywhere: through the record codec, the filter
//! and smart-list parsers, and as ingest lines parsed and appended to a real engine, where
//! every item gets an outcome and the log grows only by the items added.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actlog::model::{codec, marketo};
use actlog::query::{parse_filter, parse_smart_list};
use actlog::{ActivityId, Engine, Filter, Options, SmartList};
use common::*;
use proptest::prelude::*;
use serde_json::{json, Value as Json};

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        ".{0,12}".prop_map(Json::from),
        Just(Json::from("2026-01-01T00:00:00Z")),
        Just(Json::from("webinarAttended")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// Activity-shaped JSON with hostile values in its known fields, so parsing gets past the
/// outer shape and validation sees them.
fn activity_json() -> impl Strategy<Value = Json> {
    (
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        any::<bool>(),
    )
        .prop_map(|(lead, date, primary, value, type_ref, by_name)| {
            let mut line = json!({
                "leadId": lead,
                "activityDate": date,
                "primaryAttributeValue": primary,
                "attributes": [{"apiName": "durationMinutes", "value": value}],
            });
            if by_name {
                line["apiName"] = json!("webinarAttended");
            } else {
                line["activityTypeId"] = type_ref;
            }
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoders_or_parsers(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = codec::decode_activity(ActivityId(1), &bytes);
        let _ = codec::decode_event(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_filter(&text);
        let _ = parse_smart_list(&text);
        let _ = Filter::from_json(&text);
        let _ = SmartList::from_json(&text);
        let _ = marketo::parse_activity_str(&text);
    }

    #[test]
    fn random_json_never_panics_the_parsers(value in any_json()) {
        let text = value.to_string();
        let _ = Filter::from_json(&text);
        let _ = SmartList::from_json(&text);
        let _ = marketo::parse_activity_str(&text);
    }
}

#[test]
fn random_json_lines_through_parse_and_append_batch_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default()).unwrap();
    webinar_type(&engine);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    let lines = prop::collection::vec(prop_oneof![activity_json(), any_json()], 1..24);
    let added_total = std::cell::Cell::new(0u64);
    runner
        .run(&lines, |lines| {
            let before = engine.next_id().get();
            let parsed: Vec<_> = lines
                .iter()
                .filter_map(|l| marketo::parse_activity_str(&l.to_string()).ok())
                .collect();
            let n = parsed.len();
            let outcomes = engine.append_batch(parsed).unwrap();
            prop_assert_eq!(outcomes.len(), n);
            let added = outcomes
                .iter()
                .filter(|o| matches!(o, actlog::Outcome::Added { .. }))
                .count() as u64;
            prop_assert_eq!(engine.next_id().get(), before + added);
            added_total.set(added_total.get() + added);
            Ok(())
        })
        .unwrap();
    // What was added reads back and verifies.
    assert_eq!(
        engine.replay(ActivityId(0)).unwrap().count() as u64,
        added_total.get()
    );
    let report = engine.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    engine.close().unwrap();
}
