//! The log-scan executor against the brute-force matcher on random data and filters:
//! same items in the same order, in both directions, and paging with cursors (also while
//! new activities arrive) gives what one unlimited query gives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::{
    codec, Activity, ActivityId, AttributeDefinition, Catalog, DataType, PersonId, TypeDefinition,
    TypeId, ValidActivity, Value,
};
use actlog_query::{
    candidate_plans, choose_plan, execute, id_window, key_spans, key_spans_exact, matches,
    matches_view, may_match, parse_filter, parse_smart_list, people, people_brute_force,
    people_indexed, resolve, resolve_smart_list, scan, ActivityHeader, ActivitySource, AttrMatch,
    Cursor, Direction, KeySpan, OpKind, Plan, PostingIndex, Postings, QueryOptions, Records,
    ResolvedFilter, Scalar, ScanTest, SegmentSpan, Slot, SourceError, ValuePred, ValueSlot,
    PERSON_PLAN_SURE_MAX,
};
use proptest::prelude::*;
use roaring::RoaringTreemap;
use std::ops::{Bound, Range, RangeBounds};

const DAY_MS: i64 = 86_400_000;
const NOW_MS: i64 = 60 * DAY_MS;

fn catalog() -> Catalog {
    let mut c = Catalog::new();
    let e = c
        .create_type(
            TypeDefinition {
                api_name: "webinarAttended".into(),
                name: "Webinar".into(),
                description: None,
                trigger_name: "Attends".into(),
                filter_name: "Attended".into(),
                primary_attribute: AttributeDefinition::new("title", "Title", DataType::String),
                attributes: vec![AttributeDefinition::new(
                    "durationMinutes",
                    "Duration",
                    DataType::Integer,
                )],
            },
            1,
        )
        .unwrap();
    let id = e.type_id();
    c.apply(&e).unwrap();
    let e = c.approve(id, 2).unwrap();
    c.apply(&e).unwrap();
    c
}

/// An in-memory log: activities by id, cut into segments at the given ids. With
/// `records`, filtered scans go through each activity's encoded record and test it in
/// place, as a source over a log does.
struct MemLog {
    activities: Vec<Activity>,
    cuts: Vec<u64>,
    records: bool,
}

/// The record of `a`, as the log holds it.
fn record(a: &Activity) -> Vec<u8> {
    codec::encode_activity(&ValidActivity {
        person: a.person,
        type_id: a.type_id,
        occurred_at_ms: a.occurred_at_ms,
        primary: a.primary.clone(),
        attributes: a.attributes.clone(),
        idempotency_key: a.idempotency_key.clone(),
    })
    .unwrap()
}

impl ActivitySource for MemLog {
    fn get(&self, id: ActivityId) -> Result<Option<Activity>, SourceError> {
        Ok(self.activities.get(id.get() as usize).cloned())
    }

    fn segments(&self) -> Vec<SegmentSpan> {
        let end = self.activities.len() as u64;
        let mut bounds: Vec<u64> = self.cuts.iter().copied().filter(|c| *c < end).collect();
        bounds.push(0);
        bounds.push(end);
        bounds.sort_unstable();
        bounds.dedup();
        bounds
            .windows(2)
            .map(|w| {
                let part = &self.activities[w[0] as usize..w[1] as usize];
                SegmentSpan {
                    first: ActivityId(w[0]),
                    end: ActivityId(w[1]),
                    occurred_min_ms: part.iter().map(|a| a.occurred_at_ms).min().unwrap(),
                    occurred_max_ms: part.iter().map(|a| a.occurred_at_ms).max().unwrap(),
                }
            })
            .collect()
    }

    fn scan(
        &self,
        from: ActivityId,
        to: ActivityId,
    ) -> Box<dyn Iterator<Item = Result<Activity, SourceError>> + Send + '_> {
        let to = (to.get() as usize).min(self.activities.len());
        let from = (from.get() as usize).min(to);
        Box::new(self.activities[from..to].iter().cloned().map(Ok))
    }

    fn scan_matching(
        &self,
        from: ActivityId,
        to: ActivityId,
        test: &ScanTest<'_>,
        out: &mut Records,
    ) -> Result<(), SourceError> {
        if !self.records {
            for a in self.scan(from, to) {
                let a = a?;
                if test.header(&ActivityHeader::of(&a)) && test.activity(&a) {
                    out.push_activity(&a);
                }
            }
            return Ok(());
        }
        let to = (to.get() as usize).min(self.activities.len());
        let from = (from.get() as usize).min(to);
        for a in &self.activities[from..to] {
            let bytes = record(a);
            let view = codec::decode_activity_view(a.id, &bytes).unwrap();
            let header = ActivityHeader::of_view(&view);
            assert_eq!(header, ActivityHeader::of(a));
            if !test.header(&header) {
                continue;
            }
            assert_eq!(test.view(&view), test.activity(a));
            if test.view(&view) {
                out.push(header, &bytes);
            }
        }
        Ok(())
    }

    fn first_id(&self) -> ActivityId {
        ActivityId(0)
    }

    fn end_id(&self) -> ActivityId {
        ActivityId(self.activities.len() as u64)
    }
}

fn make(
    type_id: TypeId,
    rows: &[(u64, i64, u8, i32)],
    first_id: u64,
    c: &Catalog,
) -> Vec<Activity> {
    let duration = c
        .get(type_id)
        .unwrap()
        .approved()
        .unwrap()
        .attribute_by_api_name("durationMinutes")
        .unwrap()
        .id;
    rows.iter()
        .enumerate()
        .map(|(i, &(person, day, title, minutes))| Activity {
            id: ActivityId(first_id + i as u64),
            person: PersonId(person),
            type_id,
            occurred_at_ms: day * DAY_MS + (i as i64 % 3) * 1000,
            primary: Value::String(["A", "B", "C"][title as usize % 3].into()),
            attributes: vec![(duration, Value::Integer(minutes))],
            idempotency_key: None,
        })
        .collect()
}

fn rows(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<(u64, i64, u8, i32)>> {
    prop::collection::vec((0u64..5, 0i64..60, 0u8..3, 0i32..100), n)
}

/// `rows` sorted by day when `sort`, as a log appended in time order holds them.
fn in_time_order_if(mut rows: Vec<(u64, i64, u8, i32)>, sort: bool) -> Vec<(u64, i64, u8, i32)> {
    if sort {
        rows.sort_by_key(|r| r.1);
    }
    rows
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..5).prop_map(|p| format!("person = {p}")),
        (0u64..5, 0u64..5).prop_map(|(a, b)| format!("person in ({a}, {b})")),
        Just("type = webinarAttended".to_string()),
        (1u32..60).prop_map(|d| format!("occurred >= 1970-01-{:02}", d.min(31))),
        (1u32..29, 1u32..29)
            .prop_map(|(a, b)| format!("occurred between 1970-01-{a:02} and 1970-02-{b:02}")),
        (1u32..40).prop_map(|d| format!("occurred in last {d}d")),
        (0i32..100).prop_map(|m| format!("attr.durationMinutes > {m}")),
        prop_oneof![Just("A"), Just("B"), Just("C")].prop_map(|t| format!("primary = \"{t}\"")),
        (0u64..80).prop_map(|k| format!("id < {k}")),
        value_leaf(),
    ]
}

/// Predicates an index value path can answer, and a few it cannot.
fn value_leaf() -> impl Strategy<Value = String> {
    let title = || prop_oneof![Just("A"), Just("B"), Just("C"), Just(""), Just("AB")];
    prop_oneof![
        (title(), title()).prop_map(|(a, b)| format!("primary in (\"{a}\", \"{b}\")")),
        (
            prop_oneof![Just("<"), Just("<="), Just(">"), Just(">="), Just("!=")],
            title()
        )
            .prop_map(|(op, t)| format!("primary {op} \"{t}\"")),
        title().prop_map(|t| format!("primary starts_with \"{t}\"")),
        (title(), title()).prop_map(|(a, b)| format!("primary between \"{a}\" and \"{b}\"")),
        (0i32..100, 0i32..100)
            .prop_map(|(a, b)| format!("attr.durationMinutes between {a} and {b}")),
        (0i32..100).prop_map(|m| format!("attr.durationMinutes = {m}")),
        (0i32..100, 0i32..100).prop_map(|(a, b)| format!("attr.durationMinutes in ({a}, {b})")),
        (-10i32..110).prop_map(|m| format!("attr.durationMinutes <= {m}.5")),
        (-10i32..110).prop_map(|m| format!("attr.durationMinutes = {m}.0")),
    ]
}

fn filter_text() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 8, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

/// The brute-force answer: matching activities sorted by (occurred_at, id).
fn oracle(log: &MemLog, f: &ResolvedFilter, direction: Direction) -> Vec<u64> {
    let mut v: Vec<&Activity> = log.activities.iter().filter(|a| matches(f, a)).collect();
    v.sort_by_key(|a| (a.occurred_at_ms, a.id));
    if direction == Direction::Descending {
        v.reverse();
    }
    v.into_iter().map(|a| a.id.get()).collect()
}

fn run(log: &MemLog, f: &ResolvedFilter, options: QueryOptions) -> (Vec<u64>, Option<Cursor>) {
    let mut s = scan(log, f.clone(), &options).unwrap();
    let ids = s.by_ref().map(|a| a.unwrap().id.get()).collect();
    (ids, s.cursor())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn scan_equals_brute_force_and_pages_resume(
        data in rows(0..60),
        more in rows(0..20),
        cuts in prop::collection::vec(0u64..80, 0..6),
        text in filter_text(),
        descending in any::<bool>(),
        page in 1usize..7,
        records in any::<bool>(),
    ) {
        let c = catalog();
        let type_id = c.by_api_name("webinarAttended").unwrap().id();
        let mut log = MemLog { activities: make(type_id, &data, 0, &c), cuts, records };
        let f = resolve(&parse_filter(&text).unwrap(), &c, NOW_MS).unwrap();
        // The matcher on a record decoded in place agrees with the owned one.
        for a in &log.activities {
            let bytes = record(a);
            let view = codec::decode_activity_view(a.id, &bytes).unwrap();
            prop_assert_eq!(matches_view(&f, &view), matches(&f, a), "{}", text);
        }
        let direction = if descending { Direction::Descending } else { Direction::Ascending };

        let unlimited = QueryOptions { direction, limit: usize::MAX, cursor: None };
        let (all, _) = run(&log, &f, unlimited);
        prop_assert_eq!(&all, &oracle(&log, &f, direction), "{}", text);

        // Paging with a cursor that goes through its text form.
        let mut paged: Vec<u64> = Vec::new();
        let mut cursor = None;
        loop {
            let (ids, next) = run(&log, &f, QueryOptions { direction, limit: page, cursor });
            prop_assert!(ids.len() <= page);
            paged.extend(&ids);
            if ids.len() < page {
                break;
            }
            cursor = Some(Cursor::parse(&next.unwrap().to_string()).unwrap());
        }
        prop_assert_eq!(&paged, &all, "{}", text);

        // New activities arrive between two pages: the rest is exactly what a fresh
        // query over the grown log returns after the first page's last item.
        let (first_page, cursor) = run(&log, &f, QueryOptions { direction, limit: page, cursor: None });
        let grown = make(type_id, &more, log.activities.len() as u64, &c);
        log.activities.extend(grown);
        let (rest, _) = run(&log, &f, QueryOptions { direction, limit: usize::MAX, cursor });
        let expected: Vec<u64> = match cursor {
            None => oracle(&log, &f, direction),
            Some(_) => {
                let last = *first_page.last().unwrap();
                let key = |id: u64| (log.activities[id as usize].occurred_at_ms, id);
                oracle(&log, &f, direction)
                    .into_iter()
                    .filter(|id| match direction {
                        Direction::Ascending => key(*id) > key(last),
                        Direction::Descending => key(*id) < key(last),
                    })
                    .collect()
            }
        };
        prop_assert_eq!(rest, expected, "{}", text);
    }
}

fn did_text() -> impl Strategy<Value = String> {
    let window = prop_oneof![
        Just(String::new()),
        (1u32..40).prop_map(|d| format!(" in last {d}d")),
        (1u32..29, 1u32..29)
            .prop_map(|(a, b)| format!(" between 1970-01-{a:02} and 1970-02-{b:02}")),
    ];
    let at_least = prop_oneof![
        Just(String::new()),
        (1u32..4).prop_map(|n| format!(" at least {n} times"))
    ];
    let filter = prop_oneof![
        Just(String::new()),
        leaf().prop_map(|f| format!(" where {f}"))
    ];
    (filter, at_least, window).prop_map(|(f, n, w)| format!("did webinarAttended{f}{n}{w}"))
}

/// `did` terms whose filter the value postings may decide, behind a term that leaves
/// persons to look them up for.
fn narrowing_list_text() -> impl Strategy<Value = String> {
    let window = || {
        prop_oneof![
            Just(String::new()),
            (1u32..60).prop_map(|d| format!(" in last {d}d")),
        ]
    };
    let at_least = prop_oneof![
        Just(String::new()),
        (1u32..4).prop_map(|n| format!(" at least {n} times"))
    ];
    (window(), value_leaf(), at_least, window(), any::<bool>()).prop_map(|(w1, v, n, w2, not)| {
        let not = if not { "not " } else { "" };
        format!("did webinarAttended{w1} and {not}did webinarAttended where {v}{n}{w2}")
    })
}

/// `people_indexed` over `data` (cut into segments at `cuts`) and the index `index_of`
/// builds over its activities gives the brute-force persons of the list `text`.
fn indexed_people_equal_brute_force(
    data: &[(u64, i64, u8, i32)],
    cuts: Vec<u64>,
    text: &str,
    index_of: impl FnOnce(Vec<Activity>) -> Box<dyn PostingIndex>,
) -> Result<(), TestCaseError> {
    let c = catalog();
    let type_id = c.by_api_name("webinarAttended").unwrap().id();
    let log = MemLog {
        activities: make(type_id, data, 0, &c),
        cuts,
        records: false,
    };
    let index = index_of(log.activities.clone());
    let list = resolve_smart_list(&parse_smart_list(text).unwrap(), &c, NOW_MS).unwrap();
    let universe: RoaringTreemap = log.activities.iter().map(|a| a.person.get()).collect();
    let got = people_indexed(&log, index.as_ref(), &list).unwrap();
    let expected = people_brute_force(&list, &log.activities, &universe);
    prop_assert_eq!(got, expected, "{}", text);
    Ok(())
}

fn list_text() -> impl Strategy<Value = String> {
    did_text().prop_recursive(3, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn people_from_the_log_equal_brute_force(
        data in rows(0..60),
        cuts in prop::collection::vec(0u64..80, 0..6),
        text in list_text(),
    ) {
        let c = catalog();
        let type_id = c.by_api_name("webinarAttended").unwrap().id();
        let log = MemLog { activities: make(type_id, &data, 0, &c), cuts, records: false };
        let list = resolve_smart_list(&parse_smart_list(&text).unwrap(), &c, NOW_MS).unwrap();
        let universe: roaring::RoaringTreemap = (0u64..6).collect();
        let got = people(&log, &list, &universe).unwrap();
        let expected = people_brute_force(&list, &log.activities, &universe);
        prop_assert_eq!(got, expected, "{}", text);
    }

    #[test]
    fn people_from_the_index_equal_brute_force(
        data in rows(0..60),
        cuts in prop::collection::vec(0u64..80, 0..6),
        text in list_text(),
    ) {
        indexed_people_equal_brute_force(&data, cuts, &text, |a| Box::new(FakeIndex(a)))?;
    }

    #[test]
    fn people_narrowed_to_person_lookups_equal_brute_force(
        data in rows(0..60),
        cuts in prop::collection::vec(0u64..80, 0..6),
        text in list_text(),
        in_time_order in any::<bool>(),
    ) {
        let data = in_time_order_if(data, in_time_order);
        indexed_people_equal_brute_force(&data, cuts, &text, |a| {
            Box::new(Tweaked::inflated(FakeIndex(a)))
        })?;
    }

    /// Looked up for the persons a first term left, a term with a value filter is
    /// answered from the value postings that decide it or by fetching its candidates.
    #[test]
    fn narrowed_value_terms_equal_brute_force(
        // More activities than five persons' lookups are taken to cost, so that the
        // scan, the cheapest path of a filtered term alone, costs more.
        data in rows(330..400),
        text in narrowing_list_text(),
    ) {
        indexed_people_equal_brute_force(&data, vec![], &text, |a| {
            Box::new(Tweaked::inflated(FakeIndex(a)))
        })?;
    }
}

/// An index over a `MemLog`'s activities, answering as `actlog-index` does.
struct FakeIndex(Vec<Activity>);

thread_local! {
    /// Calls of [`FakeIndex`]'s `estimate_person` on this thread (a person's estimate
    /// reads its postings, so a planner should ask once).
    static PERSON_ESTIMATES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl PostingIndex for FakeIndex {
    fn by_type(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        direction: Direction,
    ) -> Postings<'_> {
        let mut keys: Vec<(i64, ActivityId)> = self
            .0
            .iter()
            .filter(|a| a.type_id == type_id && (min_ms..=max_ms).contains(&a.occurred_at_ms))
            .map(|a| (a.occurred_at_ms, a.id))
            .collect();
        keys.sort_unstable();
        if direction == Direction::Descending {
            keys.reverse();
        }
        Box::new(keys.into_iter().map(Ok))
    }

    fn estimate_type(&self, type_id: TypeId, min_ms: i64, max_ms: i64) -> u64 {
        self.by_type(type_id, min_ms, max_ms, Direction::Ascending)
            .count() as u64
    }

    /// Only the ids in `ids`, as the real index, so that a window that left out a match
    /// shows as a missing result.
    fn by_person(
        &self,
        person: PersonId,
        types: Option<&[TypeId]>,
        ids: Range<ActivityId>,
    ) -> Postings<'_> {
        let types = types.map(<[TypeId]>::to_vec);
        Box::new(
            self.0
                .iter()
                .filter(move |a| {
                    a.person == person
                        && ids.contains(&a.id)
                        && types.as_ref().is_none_or(|ts| ts.contains(&a.type_id))
                })
                .map(|a| Ok((a.occurred_at_ms, a.id))),
        )
    }

    fn estimate_person(&self, person: PersonId, ids: Range<ActivityId>) -> u64 {
        PERSON_ESTIMATES.with(|n| n.set(n.get() + 1));
        self.by_person(person, None, ids).count() as u64
    }

    /// The primary (a string) and `durationMinutes` (an integer), as if indexed.
    fn value_type(&self, _type_id: TypeId, slot: ValueSlot) -> Option<DataType> {
        Some(match slot {
            ValueSlot::Primary => DataType::String,
            ValueSlot::Attribute(_) => DataType::Integer,
        })
    }

    /// Only the ids in `ids`, as the real index.
    fn by_value(
        &self,
        type_id: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> Postings<'_> {
        let bounds = (
            keys.start.as_ref().map(Vec::as_slice),
            keys.end.as_ref().map(Vec::as_slice),
        );
        let mut found: Vec<(Vec<u8>, ActivityId, i64)> = self
            .0
            .iter()
            .filter(|a| a.type_id == type_id && ids.contains(&a.id))
            .filter_map(|a| {
                let v = match slot {
                    ValueSlot::Primary => Some(&a.primary),
                    ValueSlot::Attribute(id) => {
                        a.attributes.iter().find(|(x, _)| *x == id).map(|(_, v)| v)
                    }
                }?;
                let key = v.index_key();
                bounds
                    .contains(key.as_slice())
                    .then_some((key, a.id, a.occurred_at_ms))
            })
            .collect();
        found.sort();
        Box::new(found.into_iter().map(|(_, id, t)| Ok((t, id))))
    }

    fn estimate_value(
        &self,
        type_id: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> u64 {
        self.by_value(type_id, slot, keys, ids).count() as u64
    }

    fn type_persons(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        f: &mut dyn FnMut(ActivityId, PersonId),
    ) -> Result<(), SourceError> {
        // Newest first: callers may take them in any order.
        self.0
            .iter()
            .rev()
            .filter(|a| a.type_id == type_id && (min_ms..=max_ms).contains(&a.occurred_at_ms))
            .for_each(|a| f(a.id, a.person));
        Ok(())
    }

    fn everyone(&self) -> Result<RoaringTreemap, SourceError> {
        Ok(self.0.iter().map(|a| a.person.get()).collect())
    }
}

#[test]
fn value_predicates_become_key_spans() {
    let c = catalog();
    let type_id = c.by_api_name("webinarAttended").unwrap().id();
    let data: Vec<(u64, i64, u8, i32)> = (0..60)
        .map(|i| (i % 10, i as i64, (i % 3) as u8, i as i32))
        .collect();
    let log = MemLog {
        activities: make(type_id, &data, 0, &c),
        cuts: vec![30],
        records: true,
    };
    let index = FakeIndex(log.activities.clone());
    let plan = |text: &str| {
        let f = resolve(&parse_filter(text).unwrap(), &c, NOW_MS).unwrap();
        choose_plan(&log, &index, &f)
    };
    let keys = |p: &Plan| match p {
        Plan::Value { lookups, .. } => lookups.iter().map(|l| l.keys.clone()).collect::<Vec<_>>(),
        other => panic!("{other}"),
    };
    let p = plan("type = webinarAttended and primary = \"B\"");
    assert_eq!(keys(&p.plan)[0][0].as_exact(), Some(b"B".as_slice()));
    assert_eq!(p.estimated, 20);
    let p = plan("attr.durationMinutes between 10 and 14");
    let k = &keys(&p.plan)[0][0];
    assert_eq!(k.start, Bound::Included(vec![0x80, 0, 0, 10]));
    assert_eq!(k.end, Bound::Included(vec![0x80, 0, 0, 14]));
    assert_eq!(p.estimated, 5);
    let p = plan("attr.durationMinutes = 2.5");
    let k = &keys(&p.plan)[0][0];
    assert_eq!(k.start, Bound::Included(vec![0x80, 0, 0, 2]));
    assert_eq!(k.end, Bound::Included(vec![0x80, 0, 0, 3]));
    let p = plan("primary starts_with \"A\" and attr.durationMinutes > 57");
    assert_eq!(p.estimated, 2, "{}", p.plan);
    // Unscoped, `primary` resolves in every type of the catalog: one lookup each.
    let p = plan("primary starts_with \"A\"");
    let k = keys(&p.plan);
    assert!(k.len() > 1);
    assert_eq!(k[0][0].end, Bound::Excluded(b"B".to_vec()));
    assert_eq!(p.estimated, 20);
    // `!=` and `contains` have no key span: the scan it is.
    assert!(matches!(plan("primary != \"A\"").plan, Plan::Scan { .. }));
    assert!(matches!(
        plan("primary contains \"A\"").plan,
        Plan::Scan { .. }
    ));
    // An empty span reads nothing.
    let p = plan("attr.durationMinutes between 14 and 10");
    assert!(keys(&p.plan)[0].is_empty());
    assert_eq!(p.estimated, 0);
}

/// Integers at and beyond what an integer attribute stores, and floats between them.
fn integer_comparand() -> impl Strategy<Value = Scalar> {
    let edge = prop_oneof![
        Just(i64::from(i32::MIN) - 1),
        Just(i64::from(i32::MIN)),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MAX) + 1),
        Just(5_000_000_000),
        -4i64..4,
    ];
    prop_oneof![
        edge.clone().prop_map(Scalar::Int),
        edge.clone().prop_map(|i| Scalar::Float(i as f64)),
        edge.prop_map(|i| Scalar::Float(i as f64 + 0.5)),
        Just(Scalar::Float(1e20)),
        Just(Scalar::Float(-1e20)),
    ]
}

fn integer_pred() -> impl Strategy<Value = ValuePred> {
    let op = prop_oneof![
        Just(OpKind::Eq),
        Just(OpKind::Ne),
        Just(OpKind::Lt),
        Just(OpKind::Le),
        Just(OpKind::Gt),
        Just(OpKind::Ge),
    ];
    prop_oneof![
        (op, integer_comparand()).prop_map(|(op, s)| ValuePred::Cmp(op, s)),
        prop::collection::vec(integer_comparand(), 1..3).prop_map(ValuePred::In),
        (integer_comparand(), integer_comparand()).prop_map(|(a, b)| ValuePred::Between(a, b)),
    ]
}

proptest! {
    /// Over stored integers at the edges of their range, a predicate's key spans hold
    /// every value that satisfies it, and exactly those when they claim to.
    #[test]
    fn key_spans_hold_every_match_and_exact_ones_no_more(
        pred in integer_pred(),
        minutes in prop::collection::vec(
            prop_oneof![Just(i32::MIN), Just(i32::MAX), Just(i32::MIN + 1), Just(i32::MAX - 1), -4i32..4],
            1..12,
        ),
    ) {
        let c = catalog();
        let type_id = c.by_api_name("webinarAttended").unwrap().id();
        let rows: Vec<(u64, i64, u8, i32)> = minutes.iter().map(|&m| (0, 1, 0, m)).collect();
        let activities = make(type_id, &rows, 0, &c);
        let attribute = activities[0].attributes[0].0;
        let filter = ResolvedFilter::Value(vec![AttrMatch {
            type_id,
            slot: Slot::Attribute(attribute),
            pred: pred.clone(),
        }]);
        let Some(spans) = key_spans(&pred, DataType::Integer) else {
            prop_assert!(!key_spans_exact(&pred, DataType::Integer));
            return Ok(());
        };
        let exact = key_spans_exact(&pred, DataType::Integer);
        for (a, m) in activities.iter().zip(&minutes) {
            let key = Value::Integer(*m).index_key();
            let held = spans.iter().any(|k| {
                (k.start.as_ref().map(Vec::as_slice), k.end.as_ref().map(Vec::as_slice))
                    .contains(key.as_slice())
            });
            let matched = matches(&filter, a);
            prop_assert!(held || !matched, "{:?} misses {}", pred, m);
            prop_assert!(!exact || held == matched, "{:?} claims exact but holds {}", pred, m);
        }
    }
}

fn planned_filter() -> impl Strategy<Value = String> {
    prop_oneof![
        filter_text(),
        (0u64..5, filter_text()).prop_map(|(p, f)| format!("person = {p} and ({f})")),
        (0u64..5, 0u64..5, filter_text())
            .prop_map(|(p, q, f)| format!("({f}) and person in ({p}, {q})")),
        filter_text().prop_map(|f| format!("type = webinarAttended and ({f})")),
        (value_leaf(), filter_text()).prop_map(|(v, f)| format!("{v} and ({f})")),
        (value_leaf(), filter_text()).prop_map(|(v, f)| format!("({f}) and {v}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_plan_equals_brute_force(
        data in rows(0..60),
        cuts in prop::collection::vec(0u64..80, 0..6),
        text in planned_filter(),
        descending in any::<bool>(),
        page in 1usize..7,
        in_time_order in any::<bool>(),
    ) {
        // In time order, segments hold disjoint times and a window leaves some out.
        let data = in_time_order_if(data, in_time_order);
        let c = catalog();
        let type_id = c.by_api_name("webinarAttended").unwrap().id();
        let log = MemLog { activities: make(type_id, &data, 0, &c), cuts, records: false };
        let index = FakeIndex(log.activities.clone());
        let f = resolve(&parse_filter(&text).unwrap(), &c, NOW_MS).unwrap();
        let direction = if descending { Direction::Descending } else { Direction::Ascending };
        let expected = oracle(&log, &f, direction);
        // The header test a scan skips records by never rejects a match.
        for a in &log.activities {
            prop_assert!(!matches(&f, a) || may_match(&f, &ActivityHeader::of(a)));
        }
        let plans = candidate_plans(&log, &index, &f);
        let first_is_scan = matches!(plans[0].plan, Plan::Scan { .. });
        prop_assert!(first_is_scan);
        let chosen = choose_plan(&log, &index, &f);
        // The cheapest plan, unless a small person plan was taken without estimating
        // the others.
        let sure_person = matches!(chosen.plan, Plan::Person { .. })
            && chosen.estimated <= PERSON_PLAN_SURE_MAX;
        prop_assert!(sure_person || plans.iter().all(|p| chosen.estimated <= p.estimated));
        prop_assert!(plans.contains(&chosen));
        for plan in plans {
            let unlimited = QueryOptions { direction, limit: usize::MAX, cursor: None };
            let mut q = execute(&log, &index, f.clone(), plan.clone(), &unlimited).unwrap();
            let got: Vec<Activity> = q.by_ref().map(|a| a.unwrap()).collect();
            // Whole activities, as recorded, not only their ids.
            for a in &got {
                prop_assert_eq!(a, &log.activities[a.id.get() as usize]);
            }
            let got: Vec<u64> = got.iter().map(|a| a.id.get()).collect();
            prop_assert_eq!(&got, &expected, "{} with {}", text, plan.plan);
            // Read in place, the same.
            let mut q = execute(&log, &index, f.clone(), plan.clone(), &unlimited).unwrap();
            let mut viewed = Vec::new();
            while let Some(view) = q.next_view() {
                viewed.push(view.unwrap().id.get());
            }
            prop_assert_eq!(&viewed, &expected, "{} in place with {}", text, plan.plan);
            let explain = q.explain();
            prop_assert!(explain.actual.unwrap() >= got.len() as u64);

            let mut paged: Vec<u64> = Vec::new();
            let mut cursor = None;
            loop {
                let options = QueryOptions { direction, limit: page, cursor };
                let mut q = execute(&log, &index, f.clone(), plan.clone(), &options).unwrap();
                let ids: Vec<u64> = q.by_ref().map(|a| a.unwrap().id.get()).collect();
                paged.extend(&ids);
                if ids.len() < page {
                    break;
                }
                cursor = Some(Cursor::parse(&q.cursor().unwrap().to_string()).unwrap());
            }
            prop_assert_eq!(&paged, &expected, "{} paged with {}", text, plan.plan);
        }
    }
}

/// A [`FakeIndex`] answering otherwise:
/// - `inflate`: its type and value estimates are a thousand times too large, so that a
///   smart list's `and` always answers its later terms by looking up the persons the
///   earlier ones left (`did_within`), a path small data otherwise never takes;
/// - `twice`: each by-type posting is listed twice (as runs that overlap list them);
/// - `wrong_time_of`: one by-type posting's time is off by a millisecond.
struct Tweaked {
    index: FakeIndex,
    inflate: bool,
    twice: bool,
    wrong_time_of: Option<ActivityId>,
}

impl Tweaked {
    fn inflated(index: FakeIndex) -> Self {
        Tweaked {
            index,
            inflate: true,
            twice: false,
            wrong_time_of: None,
        }
    }

    fn scaled(&self, estimate: u64) -> u64 {
        if self.inflate {
            1000 * (1 + estimate)
        } else {
            estimate
        }
    }
}

impl PostingIndex for Tweaked {
    fn by_type(&self, t: TypeId, min_ms: i64, max_ms: i64, d: Direction) -> Postings<'_> {
        let mut keys = Vec::new();
        for k in self.index.by_type(t, min_ms, max_ms, d) {
            let (t, id) = k.unwrap();
            let t = if Some(id) == self.wrong_time_of {
                t + 1
            } else {
                t
            };
            keys.push(Ok((t, id)));
            if self.twice {
                keys.push(Ok((t, id)));
            }
        }
        Box::new(keys.into_iter())
    }
    fn estimate_type(&self, t: TypeId, min_ms: i64, max_ms: i64) -> u64 {
        self.scaled(self.index.estimate_type(t, min_ms, max_ms))
    }
    fn by_person(
        &self,
        p: PersonId,
        types: Option<&[TypeId]>,
        ids: Range<ActivityId>,
    ) -> Postings<'_> {
        self.index.by_person(p, types, ids)
    }
    fn estimate_person(&self, p: PersonId, ids: Range<ActivityId>) -> u64 {
        self.index.estimate_person(p, ids)
    }
    fn value_type(&self, t: TypeId, slot: ValueSlot) -> Option<DataType> {
        self.index.value_type(t, slot)
    }
    fn by_value(
        &self,
        t: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> Postings<'_> {
        self.index.by_value(t, slot, keys, ids)
    }
    fn estimate_value(
        &self,
        t: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> u64 {
        self.scaled(self.index.estimate_value(t, slot, keys, ids))
    }
    fn type_persons(
        &self,
        t: TypeId,
        min_ms: i64,
        max_ms: i64,
        f: &mut dyn FnMut(ActivityId, PersonId),
    ) -> Result<(), SourceError> {
        self.index.type_persons(t, min_ms, max_ms, f)
    }
    fn everyone(&self) -> Result<RoaringTreemap, SourceError> {
        self.index.everyone()
    }
}

/// An index plan returns a posting listed twice once, also when the two listings fall
/// in different fetch batches; and a posting whose time disagrees with its record (the
/// order of results depends on it) is an error, not a result out of order.
#[test]
fn index_plans_take_each_posting_once_and_check_its_time() {
    let c = catalog();
    let type_id = c.by_api_name("webinarAttended").unwrap().id();
    let data: Vec<(u64, i64, u8, i32)> =
        (0..300u64).map(|i| (i % 5, i as i64 / 10, 0, 10)).collect();
    let log = MemLog {
        activities: make(type_id, &data, 0, &c),
        cuts: vec![100],
        records: true,
    };
    let f = resolve(&parse_filter("type = webinarAttended").unwrap(), &c, NOW_MS).unwrap();
    for direction in [Direction::Ascending, Direction::Descending] {
        let expected = oracle(&log, &f, direction);
        let twice = Tweaked {
            index: FakeIndex(log.activities.clone()),
            inflate: false,
            twice: true,
            wrong_time_of: None,
        };
        let plan = candidate_plans(&log, &twice, &f)
            .into_iter()
            .find(|p| matches!(p.plan, Plan::TypeTime { .. }))
            .unwrap();
        let unlimited = QueryOptions {
            direction,
            limit: usize::MAX,
            cursor: None,
        };
        let q = execute(&log, &twice, f.clone(), plan.clone(), &unlimited).unwrap();
        let got: Vec<u64> = q.map(|a| a.unwrap().id.get()).collect();
        assert_eq!(got, expected);

        let wrong = Tweaked {
            index: FakeIndex(log.activities.clone()),
            inflate: false,
            twice: false,
            wrong_time_of: Some(ActivityId(150)),
        };
        let q = execute(&log, &wrong, f.clone(), plan, &unlimited).unwrap();
        let got: Vec<_> = q.collect();
        let err = got.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(err.contains("activity 150"), "{err}");
        assert!(got[..got.len() - 1].iter().all(|a| a.is_ok()));
    }
}

#[test]
fn the_planner_prefers_the_most_selective_path() {
    let c = catalog();
    let type_id = c.by_api_name("webinarAttended").unwrap().id();
    let data: Vec<(u64, i64, u8, i32)> = (0..50).map(|i| (i % 10, i as i64, 0, 10)).collect();
    let log = MemLog {
        activities: make(type_id, &data, 0, &c),
        cuts: vec![25],
        records: true,
    };
    let index = FakeIndex(log.activities.clone());
    let plan = |text: &str| {
        let f = resolve(&parse_filter(text).unwrap(), &c, NOW_MS).unwrap();
        choose_plan(&log, &index, &f)
    };
    let p = plan("type = webinarAttended and person = 3");
    assert!(matches!(p.plan, Plan::Person { ref persons, .. } if persons == &[PersonId(3)]));
    assert_eq!(p.estimated, 5);
    let p = plan("type = webinarAttended and occurred between 1970-01-02 and 1970-01-03T23:59:59Z");
    assert!(matches!(p.plan, Plan::TypeTime { .. }));
    assert_eq!(p.estimated, 2);
    // Every activity has the value: its postings in the window's ids (the first
    // segment) are as many as the scan reads, and a tie goes to the index.
    let p = plan("attr.durationMinutes = 10 and occurred < 1970-01-05");
    assert!(matches!(p.plan, Plan::Value { .. }));
    assert_eq!(p.estimated, 25);
    // `!=` has no key span: only the scan, of the one segment the window meets.
    let p = plan("attr.durationMinutes != 10 and occurred < 1970-01-05");
    assert!(matches!(p.plan, Plan::Scan { .. }));
    assert_eq!(p.estimated, 25);
}

/// A person with more activities than a person plan is chosen on sight is estimated
/// once: the planner compares that plan with the others without reading the person's
/// postings again.
#[test]
fn a_large_person_plan_is_estimated_once() {
    let c = catalog();
    let type_id = c.by_api_name("webinarAttended").unwrap().id();
    let n = PERSON_PLAN_SURE_MAX as usize + 100;
    let data: Vec<(u64, i64, u8, i32)> = (0..n).map(|i| (7, (i % 50) as i64, 0, 10)).collect();
    let log = MemLog {
        activities: make(type_id, &data, 0, &c),
        cuts: vec![],
        records: true,
    };
    let index = FakeIndex(log.activities.clone());
    let f = resolve(
        &parse_filter("person = 7 and type = webinarAttended").unwrap(),
        &c,
        NOW_MS,
    )
    .unwrap();
    PERSON_ESTIMATES.with(|n| n.set(0));
    let p = choose_plan(&log, &index, &f);
    assert_eq!(PERSON_ESTIMATES.with(|n| n.get()), 1);
    assert_eq!(p.estimated, n as u64);
}

/// Forty activities, two a day from 1970-01-01, in four segments of ten: `[0, 10)`
/// holds days 0-4, `[10, 20)` days 5-9, and so on.
fn four_segments_of_five_days(c: &Catalog) -> MemLog {
    let type_id = c.by_api_name("webinarAttended").unwrap().id();
    let data: Vec<(u64, i64, u8, i32)> = (0..40).map(|i| (1, i / 2, 0, 10)).collect();
    MemLog {
        activities: make(type_id, &data, 0, c),
        cuts: vec![10, 20, 30],
        records: true,
    }
}

#[test]
fn segments_outside_the_time_bounds_are_not_read() {
    let c = catalog();
    let log = four_segments_of_five_days(&c);
    let f = resolve(
        &parse_filter("occurred between 1970-01-12 and 1970-01-13T23:59:59Z").unwrap(),
        &c,
        NOW_MS,
    )
    .unwrap();
    let mut s = scan(&log, f, &QueryOptions::default()).unwrap();
    let ids: Vec<u64> = s.by_ref().map(|a| a.unwrap().id.get()).collect();
    assert_eq!(ids, (22..26).collect::<Vec<_>>());
    let stats = s.stats();
    assert_eq!(stats.segments_total, 4);
    assert_eq!(stats.segments_skipped, 3);
    assert_eq!(stats.segments_read, 1);
    assert_eq!(stats.activities_read, 10);
}

#[test]
fn id_windows_hold_the_segments_whose_times_meet_the_window() {
    let log = four_segments_of_five_days(&catalog());
    let day = |d: i64| log.activities[(2 * d) as usize].occurred_at_ms;
    let ids = |lo: u64, hi: u64| ActivityId(lo)..ActivityId(hi);
    assert_eq!(id_window(&log, i64::MIN, i64::MAX), ids(0, 40));
    assert_eq!(id_window(&log, day(11), day(12)), ids(20, 30));
    // A window across a segment boundary takes both segments.
    assert_eq!(id_window(&log, day(9), day(10)), ids(10, 30));
    assert_eq!(id_window(&log, day(12), i64::MAX), ids(20, 40));
    assert_eq!(id_window(&log, i64::MIN, day(0)), ids(0, 10));
    // After or before every segment's times: nothing.
    assert_eq!(id_window(&log, day(19) + 1, i64::MAX), ids(0, 0));
    assert_eq!(id_window(&log, i64::MIN, day(0) - 1), ids(0, 0));
}

#[test]
fn cursors_reject_garbage_and_the_other_direction() {
    assert!(Cursor::parse("zz").is_err());
    assert!(Cursor::parse(&"0".repeat(32)).is_err());
    let bad_direction = format!("{}{}", "0".repeat(32), "07");
    assert!(Cursor::parse(&bad_direction).is_err());
    let c = catalog();
    let log = MemLog {
        activities: Vec::new(),
        cuts: Vec::new(),
        records: true,
    };
    let f = resolve(&parse_filter("person = 1").unwrap(), &c, NOW_MS).unwrap();
    let a = Activity {
        id: ActivityId(5),
        person: PersonId(1),
        type_id: TypeId(1),
        occurred_at_ms: -3,
        primary: Value::Boolean(true),
        attributes: Vec::new(),
        idempotency_key: None,
    };
    let cursor = Cursor::after(&a, Direction::Descending);
    assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
    let options = QueryOptions {
        direction: Direction::Ascending,
        cursor: Some(cursor),
        ..QueryOptions::default()
    };
    assert!(matches!(
        scan(&log, f, &options),
        Err(actlog_query::Error::InvalidCursor { .. })
    ));
}
