//! Validation of activities against the catalog: every skip reason, all collected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::{
    AttrRef, AttributeDefinition, AttributeId, Catalog, DataType, NewActivity, PersonId,
    SkipReason, TypeDefinition, TypeId, Value,
};
use serde_json::json;

const TS: i64 = 1_700_000_000_000;

/// A catalog with an approved webinar type (id 100000), a draft-only type (100001) and a
/// deleted type (100002).
fn catalog() -> Catalog {
    let mut c = Catalog::new();
    let run = |c: &mut Catalog, e: actlog_model::Result<actlog_model::CatalogEvent>| {
        let e = e.unwrap();
        c.apply(&e).unwrap();
    };
    let def = |api: &str| TypeDefinition {
        api_name: api.into(),
        name: format!("Type {api}"),
        description: None,
        trigger_name: format!("Does {api}"),
        filter_name: format!("Did {api}"),
        primary_attribute: AttributeDefinition::new(
            "webinarName",
            "Webinar Name",
            DataType::String,
        ),
        attributes: vec![
            AttributeDefinition::new("minutes", "Minutes Attended", DataType::Integer),
            AttributeDefinition::new("email", "Email", DataType::Email),
            AttributeDefinition::new("joinedAt", "Joined At", DataType::Datetime),
            AttributeDefinition::new("notes", "Notes", DataType::Text),
        ],
    };
    let e = c.create_type(def("webinar"), 1);
    run(&mut c, e);
    let e = c.approve(TypeId(100_000), 2);
    run(&mut c, e);
    let e = c.create_type(def("draftOnly"), 3);
    run(&mut c, e);
    let e = c.create_type(def("gone"), 4);
    run(&mut c, e);
    let e = c.approve(TypeId(100_002), 5);
    run(&mut c, e);
    let e = c.delete(TypeId(100_002), 6);
    run(&mut c, e);
    c
}

fn check(input: NewActivity, expected: &[(&str, &str)]) {
    let got = catalog().validate(&input).expect_err("should be skipped");
    let got: Vec<(&str, String)> = got.iter().map(|r| (r.code(), r.message())).collect();
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((code, msg), (want_code, want_part)) in got.iter().zip(expected) {
        assert_eq!(code, want_code, "{msg}");
        assert!(msg.contains(want_part), "{msg:?} lacks {want_part:?}");
    }
}

#[test]
fn valid_activity_is_typed_and_sorted() {
    let a = NewActivity::new(PersonId(5), "webinar", TS)
        .primary("Rust 101")
        .attr("Joined At", "2023-11-14T22:13:20+01:00")
        .attr("minutes", "45")
        .attr("email", serde_json::Value::Null)
        .idempotency_key("k1");
    let v = catalog().validate(&a).unwrap();
    assert_eq!(v.type_id, TypeId(100_000));
    assert_eq!(v.primary, Value::String("Rust 101".into()));
    assert_eq!(
        v.attributes,
        vec![
            (AttributeId(2), Value::Integer(45)),
            (AttributeId(4), Value::Datetime(1_699_996_400_000))
        ]
    );
    assert_eq!(v.idempotency_key.as_deref(), Some("k1"));
    // Standard types accept activities too, by id.
    let v = catalog()
        .validate(
            &NewActivity::new(PersonId(1), TypeId(1), TS)
                .primary(71)
                .attr("webpageURL", "/x.html"),
        )
        .unwrap();
    assert_eq!(v.primary, Value::Integer(71));
}

#[test]
fn type_reasons() {
    check(
        NewActivity::new(PersonId(1), "nope", TS).primary("x"),
        &[("1013", "'nope' not found")],
    );
    check(
        NewActivity::new(PersonId(1), TypeId(5), TS).primary("x"),
        &[("1013", "'5' not found")],
    );
    check(
        NewActivity::new(PersonId(1), "draftOnly", TS).primary("x"),
        &[("1003", "not approved")],
    );
    check(
        NewActivity::new(PersonId(1), TypeId(100_002), TS).primary("x"),
        &[("1003", "deleted")],
    );
}

#[test]
fn every_reason_is_collected() {
    let mut a = NewActivity::new(PersonId(1), "webinar", i64::MAX)
        .attr("minutes", "many")
        .attr("unknownField", 1)
        .attr("email", "not-an-email")
        .attr("Minutes Attended", 3)
        .attr("webinarName", "x")
        .attr("joinedAt", "2023-02-30")
        .idempotency_key("");
    a.attributes
        .push((AttrRef::ApiName("Email".into()), json!("a@b.co")));
    check(
        a,
        &[
            ("1001", "activityDate"),
            ("1003", "idempotency key"),
            ("1002", "webinarName"),
            ("1001", "Required of type 'integer'"),
            ("1006", "Field 'unknownField' not found"),
            ("1001", "not a valid email"),
            ("1003", "'minutes' is given more than once"),
            ("1003", "primary attribute"),
            ("1001", "not a valid datetime"),
            ("1006", "Field 'Email' not found"),
        ],
    );
}

#[test]
fn repeats_are_found_by_attribute_whatever_the_name_or_value() {
    // A null names its attribute as much as a value does, and the API name and the
    // display name of one attribute are one attribute.
    check(
        NewActivity::new(PersonId(1), "webinar", TS)
            .primary("x")
            .attr("email", serde_json::Value::Null)
            .attr("Email", "a@b.co")
            .attr("notes", "n")
            .attr("Notes", serde_json::Value::Null)
            .attr("Webinar Name", "y"),
        &[
            ("1003", "'email' is given more than once"),
            ("1003", "'notes' is given more than once"),
            ("1003", "'webinarName' is the primary attribute"),
        ],
    );
}

#[test]
fn value_reasons() {
    let base = || NewActivity::new(PersonId(1), "webinar", TS);
    check(base().primary("x".repeat(256)), &[("1001", "at most 255")]);
    check(
        base().primary(json!({"a": 1})),
        &[("1001", "Required of type 'string'")],
    );
    check(
        base().primary("x").attr("minutes", 3_000_000_000u64),
        &[("1001", "out of range")],
    );
    check(
        base().primary(json!(null)),
        &[("1002", "primaryAttributeValue")],
    );
    check(
        base().primary("x").idempotency_key("k".repeat(256)),
        &[("1003", "255")],
    );
}

#[test]
fn attributes_too_long() {
    let mut c = catalog();
    let many: Vec<_> = (0..5)
        .map(|i| AttributeDefinition::new(format!("t{i}"), format!("T {i}"), DataType::Text))
        .collect();
    let e = c.add_attributes(TypeId(100_000), many, 10).unwrap();
    c.apply(&e).unwrap();
    let e = c.approve(TypeId(100_000), 11).unwrap();
    c.apply(&e).unwrap();
    let mut a = NewActivity::new(PersonId(1), "webinar", TS).primary("x");
    for i in 0..5 {
        a = a.attr(format!("t{i}"), "y".repeat(20_000));
    }
    let reasons = c.validate(&a).unwrap_err();
    assert_eq!(reasons.len(), 1);
    assert!(matches!(
        reasons[0],
        SkipReason::AttributesTooLong { max: 65_536, .. }
    ));
    assert_eq!(reasons[0].code(), "1049");
}

fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(json!(null)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-z@.:/ 0-9-]{0,30}".prop_map(|s| json!(s)),
        Just(json!("a@example.com")),
        Just(json!("https://example.com/x")),
        Just(json!("2025-11-24T16:00:00Z")),
        Just(json!("x".repeat(70_000))),
        Just(json!([1, 2])),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Moving the input's strings gives exactly what copying them gives, skipped or not.
    #[test]
    fn validate_owned_is_validate(
        ty in proptest::sample::select(vec!["webinar", "draftOnly", "gone", "nope"]),
        at in proptest::prop_oneof![proptest::strategy::Just(TS), proptest::prelude::any::<i64>()],
        primary in proptest::option::of(any_json()),
        attrs in proptest::collection::vec(
            (proptest::sample::select(vec!["minutes", "email", "joinedAt", "notes", "Notes", "webinarName", "nope"]), any_json()),
            0..6,
        ),
        key in proptest::option::of("[a-z]{0,3}"),
    ) {
        let mut input = NewActivity::new(PersonId(9), ty, at);
        input.primary = primary;
        for (name, value) in attrs {
            input = input.attr(name, value);
        }
        input.idempotency_key = key;
        let c = catalog();
        proptest::prop_assert_eq!(c.validate_owned(input.clone()), c.validate(&input));
    }
}
