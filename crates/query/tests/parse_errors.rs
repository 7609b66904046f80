//! Every error of the text and JSON forms: the variant, the column and what was expected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_query::{parse_filter, parse_smart_list, Error, Filter, SmartList, DEPTH_MAX};

/// Asserts that `text` fails as a filter with a syntax error at `column` whose expected
/// text contains `expected` and whose found text contains `found`.
fn check_syntax(text: &str, column: usize, expected: &str, found: &str) {
    check_syntax_in(
        parse_filter(text).map(|_| ()),
        text,
        column,
        expected,
        found,
    );
}

fn check_list_syntax(text: &str, column: usize, expected: &str, found: &str) {
    check_syntax_in(
        parse_smart_list(text).map(|_| ()),
        text,
        column,
        expected,
        found,
    );
}

fn check_syntax_in(
    result: Result<(), Error>,
    text: &str,
    column: usize,
    expected: &str,
    found: &str,
) {
    match result {
        Err(Error::Syntax {
            column: c,
            expected: e,
            found: f,
        }) => {
            assert_eq!(c, column, "{text}: column (expected {e}, found {f})");
            assert!(
                e.contains(expected),
                "{text}: expected `{e}` to mention `{expected}`"
            );
            assert!(
                f.contains(found),
                "{text}: found `{f}` should mention `{found}`"
            );
        }
        other => panic!("{text}: wanted a syntax error, got {other:?}"),
    }
}

fn check_literal(text: &str, column: usize, what: &str) {
    match parse_filter(text) {
        Err(Error::InvalidLiteral { column: c, what: w }) => {
            assert_eq!(c, column, "{text}: {w}");
            assert!(w.contains(what), "{text}: `{w}` should mention `{what}`");
        }
        other => panic!("{text}: wanted an invalid literal, got {other:?}"),
    }
}

#[test]
fn predicates() {
    check_syntax("", 1, "a predicate", "end of input");
    check_syntax("color = red", 1, "a predicate", "`color`");
    check_syntax("= 3", 1, "a predicate", "`=`");
    check_syntax("person", 7, "an operator for `person`", "end of input");
    check_syntax(
        "type < 3",
        6,
        "an operator for `type` (`=`, `!=`, `in`)",
        "`<`",
    );
    check_syntax("person contains \"x\"", 8, "`person`", "`contains`");
    check_syntax("occurred in (2026-01-01)", 10, "`occurred`", "`in`");
    check_syntax("id in last 3d", 4, "`id`", "`in`");
    check_syntax("attr = 3", 6, "`.`", "`=`");
    check_syntax("attr.3 = 3", 6, "an attribute name", "`3`");
    check_syntax("attr.x", 7, "an operator for `attr`", "end of input");
}

#[test]
fn values() {
    check_syntax("type = and", 8, "an activity type", "`and`");
    check_syntax("type = 1.5", 8, "an activity type", "`1.5`");
    check_syntax("person = \"x\"", 10, "a non-negative integer", "string");
    check_syntax("occurred > 5", 12, "a date", "`5`");
    check_syntax("attr.x = y", 10, "a value", "`y`");
    check_syntax("attr.x contains 3", 17, "a string", "`3`");
    check_syntax("attr.x starts_with", 19, "a string", "end of input");
    check_syntax("occurred in last 30", 18, "a duration", "`30`");
    check_syntax("id between 1 or 2", 14, "`and`", "`or`");
    check_syntax("person in ()", 12, "a non-negative integer", "`)`");
    check_syntax("person in (1, 2", 16, "`)`", "end of input");
    check_syntax("person in 1", 11, "`(`", "`1`");
}

#[test]
fn structure() {
    check_syntax(
        "person = 1 person = 2",
        12,
        "`and`, `or` or end of input",
        "`person`",
    );
    check_syntax("person = 1 and", 15, "a predicate", "end of input");
    check_syntax("(person = 1", 12, "`)`", "end of input");
    check_syntax("person = 1)", 11, "end of input", "`)`");
    check_syntax("not", 4, "a predicate", "end of input");
    check_syntax("person = 1 # comment", 12, "a token", "'#'");
    // Columns count characters, not bytes.
    check_syntax("attr.x = \"é\" é", 14, "a token", "'é'");
}

#[test]
fn literals() {
    check_literal("occurred > 2026-02-30", 12, "2026-02-30");
    check_literal("occurred > 2026-01-01T25:00:00Z", 12, "datetime");
    check_literal("occurred > 2026-01-01T12:00:00", 12, "datetime");
    check_literal("occurred in last 30x", 18, "duration");
    check_literal("occurred in last 30days", 18, "duration");
    check_literal("occurred in last 99999999999d", 18, "too long");
    check_literal("person = 99999999999999999999", 10, "out of range");
    check_literal("person = -1", 10, "not between 0");
    check_literal("attr.x = 18446744073709551615", 10, "larger than");
    check_literal("type = 4294967296", 8, "type id");
    check_literal(r#"attr.x = "a\qb""#, 12, "unknown escape");
    check_literal(r#"attr.x = "a\u{zz}""#, 12, "\\u{HEX}");
    check_literal("attr.x = 1e999", 10, "out of range");
    check_syntax(r#"attr.x = "open"#, 15, "closing `\"`", "end of input");
}

#[test]
fn nesting_and_size_limits() {
    let ok = format!(
        "{}person = 1{}",
        "(".repeat(DEPTH_MAX - 1),
        ")".repeat(DEPTH_MAX - 1)
    );
    assert!(parse_filter(&ok).is_ok());
    let deep = format!(
        "{}person = 1{}",
        "(".repeat(DEPTH_MAX),
        ")".repeat(DEPTH_MAX)
    );
    assert!(matches!(
        parse_filter(&deep),
        Err(Error::TooDeep { column, depth_max: DEPTH_MAX }) if column == DEPTH_MAX
    ));
    let nots = format!("{}person = 1", "not ".repeat(100_000));
    assert!(matches!(
        parse_filter(&nots),
        Err(Error::TooDeep { column: 253, .. })
    ));
    let long = "(".repeat(2 * 1024 * 1024);
    assert!(matches!(
        parse_filter(&long),
        Err(Error::TooLong {
            text_bytes: 2_097_152,
            ..
        })
    ));
    let deep_list = format!("{}did a{}", "(".repeat(DEPTH_MAX), ")".repeat(DEPTH_MAX));
    assert!(matches!(
        parse_smart_list(&deep_list),
        Err(Error::TooDeep { .. })
    ));
}

#[test]
fn smart_lists() {
    check_list_syntax("", 1, "`did`", "end of input");
    check_list_syntax("type = a", 1, "`did`", "`type`");
    check_list_syntax("did", 4, "an activity type", "end of input");
    check_list_syntax("did a where", 12, "a predicate", "end of input");
    check_list_syntax("did a at 2 times", 10, "`least`", "`2`");
    check_list_syntax("did a at least times", 16, "a count", "`times`");
    check_list_syntax("did a at least 2", 17, "`times`", "end of input");
    check_list_syntax("did a in last x", 15, "a duration", "`x`");
    check_list_syntax("did a between 1 and 2", 15, "a date", "`1`");
    check_list_syntax(
        "did a in last 3d at least 2 times",
        18,
        "end of input",
        "`at`",
    );
    check_list_syntax(
        "did a where person = 1 and",
        27,
        "a predicate",
        "end of input",
    );
    check_list_syntax("did a and", 10, "`did`", "end of input");
    check_list_syntax("(did a", 7, "`)`", "end of input");
    match parse_smart_list("did a at least 0 times") {
        Err(Error::InvalidLiteral { column: 16, what }) => assert!(what.contains("at least 0")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_errors() {
    assert!(matches!(Filter::from_json("{"), Err(Error::Json(_))));
    assert!(matches!(
        Filter::from_json(r#"{"colour":{"eq":1}}"#),
        Err(Error::Json(_))
    ));
    assert!(matches!(
        Filter::from_json(r#"{"person":{"eq":"x"}}"#),
        Err(Error::Json(_))
    ));
    assert!(matches!(
        Filter::from_json(r#"{"occurred":{"gt":"2026-02-30"}}"#),
        Err(Error::Json(e)) if e.to_string().contains("2026-02-30")
    ));
    let invalid = |json: &str, what: &str| match Filter::from_json(json) {
        Err(Error::Invalid(m)) => assert!(m.contains(what), "{json}: {m}"),
        other => panic!("{json}: {other:?}"),
    };
    invalid(r#"{"and":[]}"#, "at least one");
    invalid(r#"{"or":[]}"#, "at least one");
    invalid(r#"{"type":{"lt":3}}"#, "`type` does not support `<`");
    invalid(r#"{"person":{"in":[]}}"#, "at least one value");
    invalid(
        r#"{"id":{"in_last":"3d"}}"#,
        "`id` does not support `in last`",
    );
    let mut deep = String::from(r#"{"person":{"eq":1}}"#);
    for _ in 0..DEPTH_MAX {
        deep = format!(r#"{{"not":{deep}}}"#);
    }
    assert!(matches!(
        Filter::from_json(&deep),
        Err(Error::TooDeep { .. })
    ));

    let list_invalid = |json: &str, what: &str| match SmartList::from_json(json) {
        Err(Error::Invalid(m)) => assert!(m.contains(what), "{json}: {m}"),
        other => panic!("{json}: {other:?}"),
    };
    list_invalid(r#"{"did":{"type":"a","at_least":0}}"#, "at_least");
    list_invalid(
        r#"{"did":{"type":"a","in_last":"3d","between":["2026-01-01","2026-01-02"]}}"#,
        "not both",
    );
    list_invalid(r#"{"and":[]}"#, "at least one");
    assert!(matches!(
        SmartList::from_json(r#"{"did":{"type":"a","typo":1}}"#),
        Err(Error::Json(_))
    ));
}
