//! Every operator and literal of the text form, checked against its tree and its
//! printed form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_query::{
    parse_filter, parse_smart_list, AttrPredicate, Date, DateTime, Did, Duration, DurationUnit,
    Filter, Literal, Op, SmartList, Time, TypeRef,
};

/// Parses `text`, compares with `expected`, and checks that printing and reparsing (text
/// and JSON) gives the same tree back.
fn check(text: &str, expected: Filter) {
    let parsed = parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(parsed, expected, "{text}");
    let printed = parsed.to_string();
    assert_eq!(parse_filter(&printed).unwrap(), expected, "{printed}");
    assert_eq!(Filter::from_json(&parsed.to_json()).unwrap(), expected);
}

fn check_list(text: &str, expected: SmartList) {
    let parsed = parse_smart_list(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(parsed, expected, "{text}");
    let printed = parsed.to_string();
    assert_eq!(parse_smart_list(&printed).unwrap(), expected, "{printed}");
    assert_eq!(SmartList::from_json(&parsed.to_json()).unwrap(), expected);
}

fn name(s: &str) -> TypeRef {
    TypeRef::Name(s.into())
}

fn attr(name: &str, op: Op<Literal>) -> Filter {
    Filter::Attr(AttrPredicate {
        name: name.into(),
        op,
    })
}

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

fn datetime(s: &str) -> DateTime {
    s.parse().unwrap()
}

fn days(amount: u32) -> Duration {
    Duration {
        amount,
        unit: DurationUnit::Days,
    }
}

fn s(v: &str) -> Literal {
    Literal::String(v.into())
}

#[test]
fn type_predicates() {
    check(
        "type = webinarAttended",
        Filter::Type(Op::Eq(name("webinarAttended"))),
    );
    check("type = 7", Filter::Type(Op::Eq(TypeRef::Id(7))));
    check("type != 7", Filter::Type(Op::Ne(TypeRef::Id(7))));
    check(
        r#"type = "Webinar Attended""#,
        Filter::Type(Op::Eq(name("Webinar Attended"))),
    );
    check(r#"type = "and""#, Filter::Type(Op::Eq(name("and"))));
    check(
        "type in (webinarAttended, 7, checkDeposited)",
        Filter::Type(Op::In(vec![
            name("webinarAttended"),
            TypeRef::Id(7),
            name("checkDeposited"),
        ])),
    );
}

#[test]
fn person_and_id_predicates() {
    check("person = 42", Filter::Person(Op::Eq(42)));
    check("person != 42", Filter::Person(Op::Ne(42)));
    check(
        "person = 18446744073709551615",
        Filter::Person(Op::Eq(u64::MAX)),
    );
    check("person in (1, 2, 3)", Filter::Person(Op::In(vec![1, 2, 3])));
    check("id = 5", Filter::Id(Op::Eq(5)));
    check("id != 5", Filter::Id(Op::Ne(5)));
    check("id < 5", Filter::Id(Op::Lt(5)));
    check("id <= 5", Filter::Id(Op::Le(5)));
    check("id > 5", Filter::Id(Op::Gt(5)));
    check("id >= 5", Filter::Id(Op::Ge(5)));
    check("id between 5 and 9", Filter::Id(Op::Between(5, 9)));
    check("id in (5, 9)", Filter::Id(Op::In(vec![5, 9])));
}

#[test]
fn occurred_predicates() {
    let d = Time::Date(date("2026-01-01"));
    let t = Time::DateTime(datetime("2026-02-01T12:00:00Z"));
    check("occurred = 2026-01-01", Filter::Occurred(Op::Eq(d)));
    check("occurred != 2026-01-01", Filter::Occurred(Op::Ne(d)));
    check("occurred >= 2026-01-01", Filter::Occurred(Op::Ge(d)));
    check("occurred > 2026-01-01", Filter::Occurred(Op::Gt(d)));
    check(
        "occurred <= 2026-02-01T12:00:00Z",
        Filter::Occurred(Op::Le(t)),
    );
    check(
        "occurred < 2026-02-01T12:00:00Z",
        Filter::Occurred(Op::Lt(t)),
    );
    check(
        "occurred between 2026-01-01 and 2026-02-01T12:00:00Z",
        Filter::Occurred(Op::Between(d, t)),
    );
    check(
        "occurred in last 30d",
        Filter::Occurred(Op::InLast(days(30))),
    );
    for (text, unit) in [
        ("2w", DurationUnit::Weeks),
        ("2d", DurationUnit::Days),
        ("2h", DurationUnit::Hours),
        ("2m", DurationUnit::Minutes),
        ("2s", DurationUnit::Seconds),
    ] {
        check(
            &format!("occurred in last {text}"),
            Filter::Occurred(Op::InLast(Duration { amount: 2, unit })),
        );
    }
    assert_eq!(t.epoch_ms(), 1_769_947_200_000);
    assert_eq!(d.epoch_ms(), 1_767_225_600_000);
}

#[test]
fn attribute_predicates() {
    let i = Literal::Int(30);
    check(
        "attr.durationMinutes = 30",
        attr("durationMinutes", Op::Eq(i.clone())),
    );
    check(
        "attr.durationMinutes != 30",
        attr("durationMinutes", Op::Ne(i.clone())),
    );
    check(
        "attr.durationMinutes < 30",
        attr("durationMinutes", Op::Lt(i.clone())),
    );
    check(
        "attr.durationMinutes <= 30",
        attr("durationMinutes", Op::Le(i.clone())),
    );
    check(
        "attr.durationMinutes > 30",
        attr("durationMinutes", Op::Gt(i.clone())),
    );
    check(
        "attr.durationMinutes >= 30",
        attr("durationMinutes", Op::Ge(i.clone())),
    );
    check(
        "attr.durationMinutes between -5 and 30",
        attr("durationMinutes", Op::Between(Literal::Int(-5), i)),
    );
    check(
        r#"attr.title contains "Rust""#,
        attr("title", Op::Contains("Rust".into())),
    );
    check(
        r#"attr.title starts_with "Rust""#,
        attr("title", Op::StartsWith("Rust".into())),
    );
    check(
        r#"attr.title in ("a", 'b')"#,
        attr("title", Op::In(vec![s("a"), s("b")])),
    );
    check(
        "attr.signedUp in last 12h",
        attr(
            "signedUp",
            Op::InLast(Duration {
                amount: 12,
                unit: DurationUnit::Hours,
            }),
        ),
    );
    check(
        r#"attr."odd name" = true"#,
        attr("odd name", Op::Eq(Literal::Bool(true))),
    );
    check(
        "attr.type = false",
        attr("type", Op::Eq(Literal::Bool(false))),
    );
}

#[test]
fn primary_predicates_and_literals() {
    check(
        r#"primary = "Rust 101""#,
        Filter::Primary(Op::Eq(s("Rust 101"))),
    );
    check(
        "primary = 2.5",
        Filter::Primary(Op::Eq(Literal::Float(2.5))),
    );
    check(
        "primary = 1e-3",
        Filter::Primary(Op::Eq(Literal::Float(0.001))),
    );
    check(
        "primary = 3.0",
        Filter::Primary(Op::Eq(Literal::Float(3.0))),
    );
    check("primary = -7", Filter::Primary(Op::Eq(Literal::Int(-7))));
    check(
        "primary != TRUE",
        Filter::Primary(Op::Ne(Literal::Bool(true))),
    );
    check(
        "primary >= 2026-01-01",
        Filter::Primary(Op::Ge(Literal::Date(date("2026-01-01")))),
    );
    check(
        "primary < 2026-02-01T12:00:00.125Z",
        Filter::Primary(Op::Lt(Literal::DateTime(datetime(
            "2026-02-01T12:00:00.125Z",
        )))),
    );
    check(
        r#"primary = "quote \" backslash \\ newline \n tab \t \u{1F600}""#,
        Filter::Primary(Op::Eq(s(
            "quote \" backslash \\ newline \n tab \t \u{1F600}",
        ))),
    );
    check(
        r#"primary contains "x""#,
        Filter::Primary(Op::Contains("x".into())),
    );
}

#[test]
fn boolean_structure_and_precedence() {
    let a = || Filter::Person(Op::Eq(1));
    let b = || Filter::Person(Op::Eq(2));
    let c = || Filter::Person(Op::Eq(3));
    check(
        "person = 1 and person = 2 or person = 3",
        Filter::Or(vec![Filter::And(vec![a(), b()]), c()]),
    );
    check(
        "person = 1 or person = 2 and person = 3",
        Filter::Or(vec![a(), Filter::And(vec![b(), c()])]),
    );
    check(
        "person = 1 AND (person = 2 OR person = 3)",
        Filter::And(vec![a(), Filter::Or(vec![b(), c()])]),
    );
    check(
        "not person = 1 and person = 2",
        Filter::And(vec![Filter::Not(Box::new(a())), b()]),
    );
    check(
        "not (person = 1 and person = 2)",
        Filter::Not(Box::new(Filter::And(vec![a(), b()]))),
    );
    check(
        "not not person = 1",
        Filter::Not(Box::new(Filter::Not(Box::new(a())))),
    );
    check("((person = 1))", a());
    // Explicit grouping of the same operator is kept, and printed back with parentheses.
    check(
        "(person = 1 and person = 2) and person = 3",
        Filter::And(vec![Filter::And(vec![a(), b()]), c()]),
    );
    assert_eq!(
        parse_filter("(person = 1 and person = 2) and person = 3")
            .unwrap()
            .to_string(),
        "(person = 1 and person = 2) and person = 3"
    );
    // `between` takes its own `and`.
    check(
        "id between 1 and 2 and person = 3",
        Filter::And(vec![Filter::Id(Op::Between(1, 2)), c()]),
    );
}

fn did(type_name: &str) -> Did {
    Did {
        type_ref: name(type_name),
        filter: None,
        at_least: None,
        in_last: None,
        between: None,
    }
}

#[test]
fn smart_lists() {
    check_list(
        "did webinarAttended",
        SmartList::Did(did("webinarAttended")),
    );
    check_list(
        r#"did webinarAttended where primary = "Rust 101" at least 2 times in last 30d and not did checkDeposited"#,
        SmartList::And(vec![
            SmartList::Did(Did {
                filter: Some(Filter::Primary(Op::Eq(s("Rust 101")))),
                at_least: Some(2),
                in_last: Some(days(30)),
                ..did("webinarAttended")
            }),
            SmartList::Not(Box::new(SmartList::Did(did("checkDeposited")))),
        ]),
    );
    check_list(
        "did a between 2026-01-01 and 2026-02-01 or did b at least 1 time",
        SmartList::Or(vec![
            SmartList::Did(Did {
                between: Some((
                    Time::Date(date("2026-01-01")),
                    Time::Date(date("2026-02-01")),
                )),
                ..did("a")
            }),
            SmartList::Did(Did {
                at_least: Some(1),
                ..did("b")
            }),
        ]),
    );
    check_list(
        "not (did a or did b) and did 7",
        SmartList::And(vec![
            SmartList::Not(Box::new(SmartList::Or(vec![
                SmartList::Did(did("a")),
                SmartList::Did(did("b")),
            ]))),
            SmartList::Did(Did {
                type_ref: TypeRef::Id(7),
                ..did("x")
            }),
        ]),
    );
}

#[test]
fn where_ends_at_the_documented_words() {
    let p1 = || Filter::Person(Op::Eq(1));
    let p2 = || Filter::Person(Op::Eq(2));
    // `and` followed by a predicate continues the filter.
    check_list(
        "did a where person = 1 and person = 2",
        SmartList::Did(Did {
            filter: Some(Filter::And(vec![p1(), p2()])),
            ..did("a")
        }),
    );
    // `and did`, `or did` and `and not did` end it.
    for (word, make) in [
        ("and", SmartList::And as fn(Vec<SmartList>) -> SmartList),
        ("or", SmartList::Or),
    ] {
        check_list(
            &format!("did a where person = 1 {word} did b"),
            make(vec![
                SmartList::Did(Did {
                    filter: Some(p1()),
                    ..did("a")
                }),
                SmartList::Did(did("b")),
            ]),
        );
    }
    check_list(
        "did a where person = 1 or not person = 2 and not did b",
        SmartList::And(vec![
            SmartList::Did(Did {
                filter: Some(Filter::Or(vec![p1(), Filter::Not(Box::new(p2()))])),
                ..did("a")
            }),
            SmartList::Not(Box::new(SmartList::Did(did("b")))),
        ]),
    );
    // `at least`, `in last` and `between` end it; a predicate's own `in last` and
    // `between` do not.
    check_list(
        "did a where occurred in last 7d in last 30d",
        SmartList::Did(Did {
            filter: Some(Filter::Occurred(Op::InLast(days(7)))),
            in_last: Some(days(30)),
            ..did("a")
        }),
    );
    check_list(
        "did a where id between 1 and 2 between 2026-01-01 and 2026-01-02",
        SmartList::Did(Did {
            filter: Some(Filter::Id(Op::Between(1, 2))),
            between: Some((
                Time::Date(date("2026-01-01")),
                Time::Date(date("2026-01-02")),
            )),
            ..did("a")
        }),
    );
    check_list(
        "did a where person = 1 at least 3 times",
        SmartList::Did(Did {
            filter: Some(p1()),
            at_least: Some(3),
            ..did("a")
        }),
    );
    // So does an `and`/`or` followed by a parenthesised list term.
    check_list(
        "did a where person = 1 and (did b or did c) or not (not did b)",
        SmartList::Or(vec![
            SmartList::And(vec![
                SmartList::Did(Did {
                    filter: Some(p1()),
                    ..did("a")
                }),
                SmartList::Or(vec![SmartList::Did(did("b")), SmartList::Did(did("c"))]),
            ]),
            SmartList::Not(Box::new(SmartList::Not(Box::new(SmartList::Did(did("b")))))),
        ]),
    );
    // A closing parenthesis ends it.
    check_list(
        "(did a where person = 1) and did b",
        SmartList::And(vec![
            SmartList::Did(Did {
                filter: Some(p1()),
                ..did("a")
            }),
            SmartList::Did(did("b")),
        ]),
    );
    // Parentheses inside `where` always work.
    check_list(
        "did a where (person = 1 or person = 2) at least 2 times",
        SmartList::Did(Did {
            filter: Some(Filter::Or(vec![p1(), p2()])),
            at_least: Some(2),
            ..did("a")
        }),
    );
}
