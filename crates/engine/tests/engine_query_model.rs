//! Queries and smart lists through a real engine against a plain `Vec` model: random
//! activities (two types, indexed and non-indexed attributes, random persons, times out
//! of order) go through `Engine`, and for random filters every plan the planner could
//! pick returns exactly the brute-force answer in the same order, paging with cursors
//! returns what one unlimited query returns, and smart lists from the index equal the
//! brute-force evaluation and the log scan; also after a reopen and while more
//! activities arrive between two pages. A failing case prints its filter or list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog::model::{Activity, AttributeDefinition, DataType, TypeDefinition};
use actlog::query::{
    matches, parse_filter, parse_smart_list, people_brute_force, resolve, resolve_smart_list,
};
use actlog::{Direction, Engine, NewActivity, Options, Outcome, PersonId, QueryOptions};
use proptest::prelude::*;
use roaring::RoaringTreemap;

const HOUR_MS: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z; every activity occurs within the 60 days after it.
const T0: i64 = 1_767_225_600_000;

fn options() -> Options {
    Options {
        sync: actlog::SyncPolicy::Never,
        // Small segments, so log scans skip and merge many of them.
        record_bytes_max: 1024,
        segment_bytes_max: 8 * 1024,
        ..Options::default()
    }
}

fn define_types(engine: &Engine) {
    let webinar = TypeDefinition {
        api_name: "webinarAttended".into(),
        name: "Attended Webinar".into(),
        description: None,
        trigger_name: "Attends Webinar".into(),
        filter_name: "Attended Webinar".into(),
        primary_attribute: AttributeDefinition::new("webinarName", "Webinar", DataType::String),
        attributes: vec![
            AttributeDefinition::new("durationMinutes", "Duration", DataType::Integer).indexed(),
            AttributeDefinition::new("channel", "Channel", DataType::String).indexed(),
            AttributeDefinition::new("askedQuestion", "Asked", DataType::Boolean),
        ],
    };
    let deposit = TypeDefinition {
        api_name: "checkDeposited".into(),
        name: "Deposited Check".into(),
        description: None,
        trigger_name: "Deposits Check".into(),
        filter_name: "Deposited Check".into(),
        primary_attribute: AttributeDefinition::new("bank", "Bank", DataType::String),
        attributes: vec![
            AttributeDefinition::new("amount", "Amount", DataType::Currency).indexed(),
            AttributeDefinition::new("branch", "Branch", DataType::String),
        ],
    };
    for def in [webinar, deposit] {
        let t = engine.create_type(def).unwrap();
        engine.approve_type(t.id()).unwrap();
    }
}

const WEBINARS: [&str; 3] = ["Rust 101", "Go 101", "Zig"];
const BANKS: [&str; 2] = ["Chase", "Citi"];
const CHANNELS: [&str; 2] = ["zoom", "meet"];

/// (is a deposit, person, hour since T0, choice, number).
type Row = (bool, u64, i64, u8, i32);

fn rows(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            any::<bool>(),
            0u64..12,
            0i64..60 * 24,
            any::<u8>(),
            0i32..100,
        ),
        n,
    )
}

fn new_activity(&(deposit, person, hour, choice, number): &Row) -> NewActivity {
    let at = T0 + hour * HOUR_MS;
    if deposit {
        NewActivity::new(PersonId(person), "checkDeposited", at)
            .primary(BANKS[usize::from(choice) % 2])
            .attr("amount", f64::from(number) / 2.0)
            .attr("branch", if choice % 3 == 0 { "north" } else { "south" })
    } else {
        NewActivity::new(PersonId(person), "webinarAttended", at)
            .primary(WEBINARS[usize::from(choice) % 3])
            .attr("durationMinutes", number)
            .attr("channel", CHANNELS[usize::from(choice / 3) % 2])
            .attr("askedQuestion", choice % 5 == 0)
    }
}

/// Appends `rows` and adds what was recorded to `model`.
fn append(engine: &Engine, rows: &[Row], model: &mut Vec<Activity>) {
    for chunk in rows.chunks(40) {
        let outcomes = engine
            .append_batch(chunk.iter().map(new_activity).collect())
            .unwrap();
        for o in outcomes {
            let Outcome::Added { id } = o else {
                panic!("not added: {o:?}")
            };
            model.push(engine.get(id).unwrap().unwrap());
        }
    }
}

/// `2026-MM-DD` for a day since T0 (0..60).
fn date(day: i64) -> String {
    let (month, dom) = match day {
        0..=30 => (1, day + 1),
        31..=58 => (2, day - 30),
        _ => (3, day - 58),
    };
    format!("2026-{month:02}-{dom:02}")
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..12).prop_map(|p| format!("person = {p}")),
        (0u64..12, 0u64..12).prop_map(|(a, b)| format!("person in ({a}, {b})")),
        Just("type = webinarAttended".to_string()),
        Just("type = checkDeposited".to_string()),
        (0i64..60).prop_map(|d| format!("occurred >= {}", date(d))),
        (0i64..60, 0i64..60).prop_map(|(a, b)| format!(
            "occurred between {} and {}",
            date(a),
            date(b)
        )),
        (0u64..200).prop_map(|k| format!("id < {k}")),
        value_leaf(),
    ]
}

/// Predicates on primaries and attributes, indexed or not, with and without key spans.
fn value_leaf() -> impl Strategy<Value = String> {
    let name = || {
        prop_oneof![
            Just("Rust 101"),
            Just("Go 101"),
            Just("Zig"),
            Just("Chase"),
            Just("Citi"),
            Just("R"),
        ]
    };
    prop_oneof![
        name().prop_map(|n| format!("primary = \"{n}\"")),
        (name(), name()).prop_map(|(a, b)| format!("primary in (\"{a}\", \"{b}\")")),
        (
            prop_oneof![Just("<"), Just("<="), Just(">"), Just(">="), Just("!=")],
            name()
        )
            .prop_map(|(op, n)| format!("primary {op} \"{n}\"")),
        name().prop_map(|n| format!("primary starts_with \"{n}\"")),
        (0i32..100, 0i32..100)
            .prop_map(|(a, b)| format!("attr.durationMinutes between {a} and {b}")),
        (0i32..100).prop_map(|m| format!("attr.durationMinutes > {m}")),
        (0i32..100).prop_map(|m| format!("attr.durationMinutes <= {m}.5")),
        prop_oneof![Just("zoom"), Just("meet")].prop_map(|c| format!("attr.channel = \"{c}\"")),
        Just("attr.askedQuestion = true".to_string()),
        (0i32..100).prop_map(|m| format!("attr.amount >= {}", f64::from(m) / 2.0)),
        (0i32..100, 0i32..100).prop_map(|(a, b)| format!("attr.amount in ({a}, {b}.5)")),
        Just("attr.branch = \"north\"".to_string()),
        Just("type = webinarAttended and primary = \"Rust 101\"".to_string()),
    ]
}

fn filter_text() -> impl Strategy<Value = String> {
    leaf().prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

/// Filters shaped so that index paths are among the candidates.
fn planned_filter() -> impl Strategy<Value = String> {
    prop_oneof![
        filter_text(),
        (value_leaf(), filter_text()).prop_map(|(v, f)| format!("{v} and ({f})")),
        (0u64..12, filter_text()).prop_map(|(p, f)| format!("person = {p} and ({f})")),
        filter_text().prop_map(|f| format!("type = checkDeposited and ({f})")),
    ]
}

fn did_text() -> impl Strategy<Value = String> {
    let ty = prop_oneof![Just("webinarAttended"), Just("checkDeposited")];
    let window = prop_oneof![
        Just(String::new()),
        (0i64..60, 0i64..60).prop_map(|(a, b)| format!(" between {} and {}", date(a), date(b))),
    ];
    let at_least = prop_oneof![
        Just(String::new()),
        (1u32..4).prop_map(|n| format!(" at least {n} times"))
    ];
    let filter = prop_oneof![
        Just(String::new()),
        Just(String::new()),
        value_leaf().prop_map(|f| format!(" where {f}")),
        (0u64..12).prop_map(|p| format!(" where person = {p}")),
    ];
    (ty, filter, at_least, window).prop_map(|(t, f, n, w)| format!("did {t}{f}{n}{w}"))
}

fn list_text() -> impl Strategy<Value = String> {
    did_text().prop_recursive(2, 4, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a}) and not ({b})")),
        ]
    })
}

/// The brute-force answer: ids of the matches in (occurred_at, id) order, or `None`
/// when the filter names an attribute its types lack.
fn oracle(
    engine: &Engine,
    model: &[Activity],
    text: &str,
    direction: Direction,
) -> Option<Vec<u64>> {
    let filter = parse_filter(text).unwrap();
    let f = resolve(&filter, &engine.catalog(), actlog::now_ms()).ok()?;
    let mut v: Vec<&Activity> = model.iter().filter(|a| matches(&f, a)).collect();
    v.sort_by_key(|a| (a.occurred_at_ms, a.id));
    if direction == Direction::Descending {
        v.reverse();
    }
    Some(v.into_iter().map(|a| a.id.get()).collect())
}

fn ids(activities: impl IntoIterator<Item = actlog::Result<Activity>>) -> Vec<u64> {
    activities
        .into_iter()
        .map(|a| a.unwrap().id.get())
        .collect()
}

/// Pages of `page` activities, each query resuming from the previous one's cursor.
fn paged(engine: &Engine, text: &str, direction: Direction, page: usize) -> Vec<u64> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let options = QueryOptions {
            limit: Some(page),
            cursor,
            direction,
            ..QueryOptions::default()
        };
        let mut q = engine.query_text(text, options).unwrap();
        let got = ids(q.by_ref());
        all.extend(&got);
        if got.len() < page {
            return all;
        }
        cursor = q.cursor();
    }
}

fn check_filters(
    engine: &Engine,
    model: &[Activity],
    filters: &[(String, bool, usize)],
) -> Result<(), TestCaseError> {
    for (text, descending, page) in filters {
        let direction = if *descending {
            Direction::Descending
        } else {
            Direction::Ascending
        };
        let Some(expected) = oracle(engine, model, text, direction) else {
            // The engine reports the same resolution error.
            let refused = engine.query_text(text, QueryOptions::default());
            prop_assert!(refused.is_err(), "{}", text);
            continue;
        };
        let plans = engine
            .query_every_plan(&parse_filter(text).unwrap(), direction)
            .unwrap();
        prop_assert!(!plans.is_empty());
        for (plan, activities) in plans {
            let got: Vec<u64> = activities.iter().map(|a| a.id.get()).collect();
            prop_assert_eq!(&got, &expected, "{} with {}", text, plan);
        }
        let unlimited = QueryOptions {
            direction,
            ..QueryOptions::default()
        };
        let got = ids(engine.query_text(text, unlimited).unwrap());
        prop_assert_eq!(&got, &expected, "{} unlimited", text);
        let got = paged(engine, text, direction, *page);
        prop_assert_eq!(&got, &expected, "{} in pages of {}", text, page);
    }
    Ok(())
}

fn check_lists(engine: &Engine, model: &[Activity], lists: &[String]) -> Result<(), TestCaseError> {
    let universe: RoaringTreemap = model.iter().map(|a| a.person.get()).collect();
    for text in lists {
        let list = parse_smart_list(text).unwrap();
        let Ok(resolved) = resolve_smart_list(&list, &engine.catalog(), actlog::now_ms()) else {
            prop_assert!(engine.people(&list).is_err(), "{}", text);
            continue;
        };
        let expected = people_brute_force(&resolved, model, &universe);
        let got = engine.people(&list).unwrap();
        prop_assert_eq!(got.bitmap(), &expected, "{} from the index", text);
        let scanned = engine.people_by_scan(&list).unwrap();
        prop_assert_eq!(scanned.bitmap(), &expected, "{} from the log", text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn every_plan_and_smart_list_equals_the_model(
        first in rows(20..160),
        second in rows(1..60),
        filters in prop::collection::vec((planned_filter(), any::<bool>(), 1usize..9), 6),
        lists in prop::collection::vec(list_text(), 6),
        growing in (planned_filter(), any::<bool>(), 1usize..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut model = Vec::new();
        let engine = Engine::open(dir.path(), options()).unwrap();
        define_types(&engine);
        append(&engine, &first, &mut model);
        check_filters(&engine, &model, &filters)?;
        check_lists(&engine, &model, &lists)?;

        // After a reopen the index answers from disk.
        engine.close().unwrap();
        let engine = Engine::open(dir.path(), options()).unwrap();
        check_filters(&engine, &model, &filters)?;
        check_lists(&engine, &model, &lists)?;

        // More activities arrive between two pages: the rest is exactly what a fresh
        // query returns after the first page's last activity.
        let (text, descending, page) = growing;
        let direction = if descending { Direction::Descending } else { Direction::Ascending };
        let options = QueryOptions { limit: Some(page), direction, ..QueryOptions::default() };
        let Ok(mut q) = engine.query_text(&text, options) else {
            return Ok(());
        };
        let first_page = ids(q.by_ref());
        let cursor = q.cursor();
        append(&engine, &second, &mut model);
        let Some(all) = oracle(&engine, &model, &text, direction) else {
            return Ok(());
        };
        let rest_options = QueryOptions { cursor: cursor.clone(), direction, ..QueryOptions::default() };
        let rest = ids(engine.query_text(&text, rest_options).unwrap());
        let key = |id: u64| {
            let a = model.iter().find(|a| a.id.get() == id).unwrap();
            (a.occurred_at_ms, id)
        };
        let expected: Vec<u64> = match (cursor, first_page.last()) {
            (Some(_), Some(&last)) => all
                .into_iter()
                .filter(|id| match direction {
                    Direction::Ascending => key(*id) > key(last),
                    Direction::Descending => key(*id) < key(last),
                })
                .collect(),
            _ => all,
        };
        prop_assert_eq!(rest, expected, "{} resumed after new activities", text);
        check_filters(&engine, &model, &filters)?;
        check_lists(&engine, &model, &lists)?;
        engine.close().unwrap();
    }
}

/// The plans the engine offers include the value paths, and a smart list's `did`
/// without a filter reads the by-type index only.
/// The index holds an attribute's values for the activities recorded while it was marked
/// indexed, so an approved attribute keeps its flag: turning it on later would make the
/// value path answer for the later activities only. A new attribute marked indexed
/// answers for every activity that has it.
#[test]
fn an_approved_attribute_keeps_its_indexed_flag() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), options()).unwrap();
    define_types(&engine);
    let at = actlog::now_ms() - 60_000;
    let webinar = |i: u64| {
        NewActivity::new(PersonId(i), "webinarAttended", at + i as i64)
            .primary("Rust 101")
            .attr("askedQuestion", true)
    };
    engine.append_batch((0..30).map(webinar).collect()).unwrap();
    let change = |api_name: &str| {
        engine.update_attributes(
            "webinarAttended",
            vec![actlog::model::AttributeChanges {
                api_name: Some(api_name.into()),
                indexed: Some(true),
                ..Default::default()
            }],
        )
    };
    match change("askedQuestion") {
        Err(actlog::Error::Model(actlog::model::Error::IndexedLocked { was: false, .. })) => {}
        other => panic!("expected IndexedLocked, got {other:?}"),
    }
    // A new attribute can be marked indexed, before and after it is added.
    engine
        .add_attributes(
            "webinarAttended",
            vec![AttributeDefinition::new(
                "asked",
                "Asked Anything",
                DataType::Boolean,
            )],
        )
        .unwrap();
    change("asked").unwrap();
    engine.approve_type("webinarAttended").unwrap();
    let with_new = |i: u64| webinar(i).attr("asked", i.is_multiple_of(3));
    engine
        .append_batch((30..60).map(with_new).collect())
        .unwrap();
    for (text, expected) in [
        ("type = webinarAttended and attr.askedQuestion = true", 60),
        ("type = webinarAttended and attr.asked = true", 10),
    ] {
        let plans = engine
            .query_every_plan(&parse_filter(text).unwrap(), Direction::Ascending)
            .unwrap();
        for (plan, answer) in &plans {
            assert_eq!(answer.len(), expected, "{text}: {plan}");
        }
        if text.contains("asked =") {
            assert!(
                plans.iter().any(|(p, _)| p.starts_with("value index")),
                "{plans:?}"
            );
        }
    }
}

#[test]
fn value_paths_are_offered_and_chosen() {
    let dir = tempfile::tempdir().unwrap();
    // Every posting stays in the memtable, where estimates are exact: with the small
    // segments of `options()` a sealed segment flushed the index at a moment that
    // depended on timing, and estimates over runs count whole blocks, so the by-type
    // and value estimates of these 200 activities were sometimes equal and the by-type
    // path won the tie.
    let engine = Engine::open(
        dir.path(),
        Options {
            segment_bytes_max: 1 << 20,
            index_flush_interval_ms: 600_000,
            ..options()
        },
    )
    .unwrap();
    define_types(&engine);
    let mut model = Vec::new();
    let data: Vec<Row> = (0..200)
        .map(|i| (i % 2 == 0, i as u64 % 12, i as i64, (i % 6) as u8, i % 100))
        .collect();
    append(&engine, &data, &mut model);
    let plans = engine
        .query_every_plan(
            &parse_filter("type = webinarAttended and attr.durationMinutes = 7").unwrap(),
            Direction::Ascending,
        )
        .unwrap();
    let texts: Vec<&str> = plans.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].starts_with("log scan"), "{texts:?}");
    assert!(texts[1].starts_with("by-type index"), "{texts:?}");
    assert!(
        texts[2].starts_with("value index of attribute"),
        "{texts:?}"
    );
    let expected: Vec<u64> = model
        .iter()
        .filter(|a| a.type_id == plans[0].1[0].type_id)
        .filter(|a| {
            a.attributes
                .iter()
                .any(|(_, v)| *v == actlog::model::Value::Integer(7))
        })
        .map(|a| a.id.get())
        .collect();
    // Rows 7 and 107 are webinars with 7 minutes.
    assert_eq!(expected.len(), 2);
    for (_, got) in &plans {
        assert_eq!(got.iter().map(|a| a.id.get()).collect::<Vec<_>>(), expected);
    }

    let q = engine
        .query_text(
            "type = webinarAttended and primary = \"Zig\"",
            QueryOptions::default(),
        )
        .unwrap();
    let got = ids(q);
    assert_eq!(got.len(), 33);
    let mut q = engine
        .query_text(
            "type = webinarAttended and primary = \"Zig\"",
            QueryOptions::default(),
        )
        .unwrap();
    let _ = q.by_ref().count();
    let explain = q.explain();
    assert!(explain.contains("value index of primary"), "{explain}");
    assert!(explain.contains("activities read: 33"), "{explain}");

    // `attr.branch` is not indexed: no value path, the by-type index wins.
    let plans = engine
        .query_every_plan(
            &parse_filter("type = checkDeposited and attr.branch = \"north\"").unwrap(),
            Direction::Ascending,
        )
        .unwrap();
    assert_eq!(plans.len(), 2);

    let people = engine
        .people_text("did webinarAttended where primary = \"Zig\" at least 2 times and not did checkDeposited")
        .unwrap();
    let universe: RoaringTreemap = model.iter().map(|a| a.person.get()).collect();
    let list = parse_smart_list(
        "did webinarAttended where primary = \"Zig\" at least 2 times and not did checkDeposited",
    )
    .unwrap();
    let resolved = resolve_smart_list(&list, &engine.catalog(), actlog::now_ms()).unwrap();
    assert_eq!(
        people.bitmap(),
        &people_brute_force(&resolved, &model, &universe)
    );
    // "Zig" is the webinar of rows 5, 11, 17, ..., which belong to persons 5 and 11;
    // odd persons never deposit a check.
    assert_eq!(
        people.iter().map(|p| p.get()).collect::<Vec<_>>(),
        vec![5, 11]
    );

    // One person left by the first term: the second is answered by counting that
    // person's postings (rows 5, 17, ..., 197: 17 webinars), not every webinar's.
    for (n, did, did_not) in [(17, vec![5], vec![]), (18, vec![], vec![5])] {
        for (text, want) in [
            (format!("did webinarAttended where person = 5 and did webinarAttended at least {n} times"), did),
            (format!("did webinarAttended where person = 5 and not did webinarAttended at least {n} times"), did_not),
        ] {
            let got = engine.people_text(&text).unwrap();
            assert_eq!(got.iter().map(|p| p.get()).collect::<Vec<_>>(), want, "{text}");
        }
    }
}
