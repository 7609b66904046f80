//! Random trees survive both faces: `parse(display(f)) == f` and
//! `from_json(to_json(f)) == f`, for filters and smart lists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_query::{
    parse_filter, parse_smart_list, AttrPredicate, Date, DateTime, Did, Duration, DurationUnit,
    Filter, Literal, Op, SmartList, Time, TypeRef,
};
use proptest::prelude::*;

fn name() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        // Keywords and names that need quoting.
        Just("and".to_string()),
        Just("did".to_string()),
        Just("Not".to_string()),
        ".{0,6}",
    ]
    .boxed()
}

fn type_ref() -> BoxedStrategy<TypeRef> {
    prop_oneof![
        any::<u32>().prop_map(TypeRef::Id),
        name().prop_map(TypeRef::Name)
    ]
    .boxed()
}

fn date() -> BoxedStrategy<Date> {
    (-719_528i32..2_932_896)
        .prop_map(|d| Date::from_days_since_epoch(d).unwrap())
        .boxed()
}

fn datetime() -> BoxedStrategy<DateTime> {
    prop_oneof![
        (-62_167_219_200_000i64..253_402_300_799_999),
        // Whole seconds, printed without a fraction.
        (-62_167_219_200i64..253_402_300_799).prop_map(|s| s * 1000),
    ]
    .prop_map(|ms| DateTime::from_epoch_ms(ms).unwrap())
    .boxed()
}

fn time() -> BoxedStrategy<Time> {
    prop_oneof![
        date().prop_map(Time::Date),
        datetime().prop_map(Time::DateTime)
    ]
    .boxed()
}

fn duration() -> BoxedStrategy<Duration> {
    let unit = prop_oneof![
        Just(DurationUnit::Weeks),
        Just(DurationUnit::Days),
        Just(DurationUnit::Hours),
        Just(DurationUnit::Minutes),
        Just(DurationUnit::Seconds),
    ];
    (any::<u32>(), unit)
        .prop_map(|(amount, unit)| Duration { amount, unit })
        .boxed()
}

fn literal() -> BoxedStrategy<Literal> {
    prop_oneof![
        ".{0,8}".prop_map(Literal::String),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Literal::Float),
        any::<bool>().prop_map(Literal::Bool),
        date().prop_map(Literal::Date),
        datetime().prop_map(Literal::DateTime),
    ]
    .boxed()
}

fn values<T: std::fmt::Debug>(
    v: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(v, 1..4)
}

fn set_op<T: std::fmt::Debug + Clone>(
    v: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Op<T>> {
    prop_oneof![
        v.clone().prop_map(Op::Eq),
        v.clone().prop_map(Op::Ne),
        values(v).prop_map(Op::In),
    ]
}

fn range_op<T: std::fmt::Debug + Clone>(
    v: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Op<T>> {
    prop_oneof![
        v.clone().prop_map(Op::Eq),
        v.clone().prop_map(Op::Ne),
        v.clone().prop_map(Op::Lt),
        v.clone().prop_map(Op::Le),
        v.clone().prop_map(Op::Gt),
        v.clone().prop_map(Op::Ge),
        (v.clone(), v).prop_map(|(a, b)| Op::Between(a, b)),
    ]
}

fn value_op() -> impl Strategy<Value = Op<Literal>> {
    prop_oneof![
        3 => range_op(literal()),
        1 => values(literal()).prop_map(Op::In),
        1 => ".{0,6}".prop_map(Op::Contains),
        1 => ".{0,6}".prop_map(Op::StartsWith),
        1 => duration().prop_map(Op::InLast),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        set_op(type_ref()).prop_map(Filter::Type),
        set_op(any::<u64>()).prop_map(Filter::Person),
        prop_oneof![range_op(time()), duration().prop_map(Op::InLast)].prop_map(Filter::Occurred),
        prop_oneof![
            range_op(any::<u64>()),
            values(any::<u64>()).prop_map(Op::In)
        ]
        .prop_map(Filter::Id),
        value_op().prop_map(Filter::Primary),
        (name(), value_op()).prop_map(|(name, op)| Filter::Attr(AttrPredicate { name, op })),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn did() -> impl Strategy<Value = SmartList> {
    let window = prop_oneof![
        Just((None, None)),
        duration().prop_map(|d| (Some(d), None)),
        (time(), time()).prop_map(|(a, b)| (None, Some((a, b)))),
    ];
    (
        type_ref(),
        prop::option::of(filter()),
        prop::option::of(1u32..),
        window,
    )
        .prop_map(|(type_ref, filter, at_least, (in_last, between))| {
            SmartList::Did(Did {
                type_ref,
                filter,
                at_least,
                in_last,
                between,
            })
        })
}

fn smart_list() -> impl Strategy<Value = SmartList> {
    did().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(SmartList::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(SmartList::Or),
            inner.prop_map(|l| SmartList::Not(Box::new(l))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn filter_text_roundtrip(f in filter()) {
        let text = f.to_string();
        let parsed = parse_filter(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, f, "{}", text);
    }

    #[test]
    fn filter_json_roundtrip(f in filter()) {
        let json = f.to_json();
        let read = Filter::from_json(&json).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
        prop_assert_eq!(read, f, "{}", json);
    }

    #[test]
    fn smart_list_text_roundtrip(l in smart_list()) {
        let text = l.to_string();
        let parsed = parse_smart_list(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, l, "{}", text);
    }

    #[test]
    fn smart_list_json_roundtrip(l in smart_list()) {
        let json = l.to_json();
        let read = SmartList::from_json(&json).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
        prop_assert_eq!(read, l, "{}", json);
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn parser_total(text in ".{0,40}") {
        let _ = parse_filter(&text);
        let _ = parse_smart_list(&text);
    }
}
