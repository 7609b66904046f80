//! Resolution against a catalog (every resolution error) and the brute-force matcher,
//! for filters and smart lists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::{
    Activity, ActivityId, AttributeDefinition, AttributeId, Catalog, DataType, PersonId,
    TypeDefinition, TypeId, Value,
};
use actlog_query::{
    matches, parse_filter, parse_smart_list, people_brute_force, resolve, resolve_smart_list,
    Error, OpKind,
};
use roaring::RoaringTreemap;

const DAY_MS: i64 = 86_400_000;
/// 2026-03-01T00:00:00Z.
const NOW_MS: i64 = 1_772_323_200_000;

fn catalog() -> Catalog {
    let mut c = Catalog::new();
    let def = |api: &str, primary: AttributeDefinition, attributes| TypeDefinition {
        api_name: api.into(),
        name: api.into(),
        description: None,
        trigger_name: format!("Does {api}"),
        filter_name: format!("Did {api}"),
        primary_attribute: primary,
        attributes,
    };
    let a = AttributeDefinition::new;
    let webinar = def(
        "webinarAttended",
        a("webinarName", "Webinar Name", DataType::String),
        vec![
            a("durationMinutes", "Duration", DataType::Integer),
            a("score", "Score", DataType::Float),
            a("vip", "VIP", DataType::Boolean),
            a("signedUpOn", "Signed Up On", DataType::Date),
            a("joinedAt", "Joined At", DataType::Datetime),
            a("email", "Email", DataType::Email),
        ],
    );
    let check = def(
        "checkDeposited",
        a("amount", "Amount", DataType::Currency),
        vec![a("branch", "Branch", DataType::String)],
    );
    for d in [webinar, check] {
        let e = c.create_type(d, 1).unwrap();
        let id = e.type_id();
        c.apply(&e).unwrap();
        let e = c.approve(id, 2).unwrap();
        c.apply(&e).unwrap();
    }
    c
}

fn type_id(c: &Catalog, api: &str) -> TypeId {
    c.by_api_name(api).unwrap().id()
}

fn attr_id(c: &Catalog, api: &str, attr: &str) -> AttributeId {
    c.by_api_name(api)
        .unwrap()
        .approved()
        .unwrap()
        .attribute_by_api_name(attr)
        .unwrap()
        .id
}

/// Four activities: two webinars and a check by person 1, a webinar by person 2.
fn activities(c: &Catalog) -> Vec<Activity> {
    let w = type_id(c, "webinarAttended");
    let k = type_id(c, "checkDeposited");
    let at = |name| attr_id(c, "webinarAttended", name);
    let webinar =
        |id, person, occurred_at_ms, name: &str, minutes, extra: Vec<(AttributeId, Value)>| {
            let mut attributes = vec![(at("durationMinutes"), Value::Integer(minutes))];
            attributes.extend(extra);
            attributes.sort_by_key(|(a, _)| *a);
            Activity {
                id: ActivityId(id),
                person: PersonId(person),
                type_id: w,
                occurred_at_ms,
                primary: Value::String(name.into()),
                attributes,
                idempotency_key: None,
            }
        };
    vec![
        webinar(
            0,
            1,
            NOW_MS - 40 * DAY_MS,
            "Rust 101",
            45,
            vec![
                (at("score"), Value::Float(4.5)),
                (at("vip"), Value::Boolean(true)),
                (at("signedUpOn"), Value::Date(20_500)),
                (at("email"), Value::Email("a@example.com".into())),
            ],
        ),
        webinar(
            1,
            1,
            NOW_MS - 2 * DAY_MS,
            "Rust 101",
            20,
            vec![(at("joinedAt"), Value::Datetime(NOW_MS - 2 * DAY_MS))],
        ),
        Activity {
            id: ActivityId(2),
            person: PersonId(1),
            type_id: k,
            occurred_at_ms: NOW_MS - DAY_MS,
            primary: Value::Currency(100.0),
            attributes: vec![(
                attr_id(c, "checkDeposited", "branch"),
                Value::String("Main".into()),
            )],
            idempotency_key: None,
        },
        webinar(3, 2, NOW_MS - 10 * DAY_MS, "Go 201", 90, vec![]),
    ]
}

/// The ids of the activities `text` selects.
fn check(text: &str, expected: &[u64]) {
    let c = catalog();
    let resolved =
        resolve(&parse_filter(text).unwrap(), &c, NOW_MS).unwrap_or_else(|e| panic!("{text}: {e}"));
    let got: Vec<u64> = activities(&c)
        .iter()
        .filter(|a| matches(&resolved, a))
        .map(|a| a.id.get())
        .collect();
    assert_eq!(got, expected, "{text}");
}

fn resolve_err(text: &str) -> Error {
    match resolve(&parse_filter(text).unwrap(), &catalog(), NOW_MS) {
        Err(e) => e,
        Ok(f) => panic!("{text}: resolved to {f:?}"),
    }
}

#[test]
fn fixed_fields() {
    check("type = webinarAttended", &[0, 1, 3]);
    check("type != webinarAttended", &[2]);
    check("type in (checkDeposited)", &[2]);
    let k = type_id(&catalog(), "checkDeposited");
    check(&format!("type = {}", k.get()), &[2]);
    check("person = 1", &[0, 1, 2]);
    check("person in (2, 7)", &[3]);
    check("person != 1", &[3]);
    check("id >= 1 and id < 3", &[1, 2]);
    check("id between 1 and 2", &[1, 2]);
    check("id in (0, 3)", &[0, 3]);
    check("id > 18446744073709551615", &[]);
    check("id < 0", &[]);
    check("occurred in last 5d", &[1, 2]);
    check("occurred in last 10d", &[1, 2, 3]);
    check("occurred >= 2026-02-01", &[1, 2, 3]);
    check("occurred < 2026-02-01T00:00:00Z", &[0]);
    check(
        "occurred between 2026-02-19 and 2026-02-27T00:00:00Z",
        &[1, 3],
    );
    check("not occurred in last 5d", &[0, 3]);
}

#[test]
fn attributes_and_primary() {
    check("attr.durationMinutes > 30", &[0, 3]);
    check("attr.durationMinutes between 20 and 45", &[0, 1]);
    check("attr.durationMinutes >= 44.5", &[0, 3]);
    check("attr.durationMinutes in (20, 90)", &[1, 3]);
    check(r#"primary = "Rust 101""#, &[0, 1]);
    check(r#"primary starts_with "Go""#, &[3]);
    check(r#"primary contains "101""#, &[0, 1]);
    // `primary` spans types: the check's currency primary compares with a number.
    check("primary > 50", &[2]);
    check(r#"attr.webinarName != "Rust 101""#, &[3]);
    check("attr.score < 5", &[0]);
    // A missing attribute makes every comparison false, `!=` included.
    check("attr.score != 5", &[0]);
    check("not attr.score = 4.5", &[1, 2, 3]);
    check("attr.vip = true", &[0]);
    check("attr.signedUpOn = 2026-02-16", &[0]);
    check(r#"attr.signedUpOn = "2026-02-16""#, &[0]);
    check("attr.joinedAt in last 3d", &[1]);
    check("attr.joinedAt >= 2026-02-01", &[1]);
    check(r#"attr.email contains "@example""#, &[0]);
    check(
        r#"attr.branch = "Main" or attr.durationMinutes = 90"#,
        &[2, 3],
    );
    check(
        r#"type = webinarAttended and attr.durationMinutes > 30 and not primary = "Go 201""#,
        &[0],
    );
}

#[test]
fn resolution_errors_name_the_culprit() {
    match resolve_err("type = nope") {
        Error::UnknownType { name } => assert_eq!(name, "nope"),
        e => panic!("{e:?}"),
    }
    match resolve_err("type in (webinarAttended, 999999)") {
        Error::UnknownType { name } => assert_eq!(name, "999999"),
        e => panic!("{e:?}"),
    }
    match resolve_err("attr.colour = 3") {
        Error::UnknownAttribute { name, scope } => {
            assert_eq!(name, "colour");
            assert_eq!(scope, "any type");
        }
        e => panic!("{e:?}"),
    }
    match resolve_err("type = checkDeposited and attr.durationMinutes > 3") {
        Error::UnknownAttribute { name, scope } => {
            assert_eq!(name, "durationMinutes");
            assert_eq!(scope, "`checkDeposited`");
        }
        e => panic!("{e:?}"),
    }
    match resolve_err(r#"attr.durationMinutes > "long""#) {
        Error::TypeMismatch {
            field,
            data_type,
            literal,
        } => {
            assert_eq!(field, "attr.durationMinutes");
            assert_eq!(data_type, DataType::Integer);
            assert_eq!(literal, r#"string "long""#);
        }
        e => panic!("{e:?}"),
    }
    match resolve_err("attr.signedUpOn = 2026-01-01T10:00:00Z") {
        Error::TypeMismatch { data_type, .. } => assert_eq!(data_type, DataType::Date),
        e => panic!("{e:?}"),
    }
    match resolve_err("attr.vip = 1") {
        Error::TypeMismatch { data_type, .. } => assert_eq!(data_type, DataType::Boolean),
        e => panic!("{e:?}"),
    }
    match resolve_err(r#"attr.durationMinutes contains "3""#) {
        Error::UnsupportedOperator {
            field,
            data_type,
            op,
        } => {
            assert_eq!(field, "attr.durationMinutes");
            assert_eq!(data_type, DataType::Integer);
            assert_eq!(op, OpKind::Contains);
        }
        e => panic!("{e:?}"),
    }
    match resolve_err("attr.webinarName in last 3d") {
        Error::UnsupportedOperator { op, .. } => assert_eq!(op, OpKind::InLast),
        e => panic!("{e:?}"),
    }
}

fn people(text: &str) -> Vec<u64> {
    let c = catalog();
    let list = resolve_smart_list(&parse_smart_list(text).unwrap(), &c, NOW_MS)
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    let universe: RoaringTreemap = [1u64, 2, 3].into_iter().collect();
    people_brute_force(&list, &activities(&c), &universe)
        .iter()
        .collect()
}

#[test]
fn smart_lists() {
    assert_eq!(people("did webinarAttended"), [1, 2]);
    assert_eq!(people("did webinarAttended at least 2 times"), [1]);
    assert_eq!(people("did webinarAttended in last 30d"), [1, 2]);
    assert_eq!(people("did webinarAttended in last 5d"), [1]);
    assert_eq!(
        people(r#"did webinarAttended where primary = "Rust 101" at least 2 times in last 30d"#),
        Vec::<u64>::new()
    );
    assert_eq!(
        people(r#"did webinarAttended where primary = "Rust 101" at least 2 times"#),
        [1]
    );
    assert_eq!(
        people("did webinarAttended and not did checkDeposited"),
        [2]
    );
    assert_eq!(people("not did webinarAttended"), [3]);
    assert_eq!(
        people("did checkDeposited or did webinarAttended where attr.durationMinutes > 60"),
        [1, 2]
    );
    assert_eq!(
        people("did webinarAttended between 2026-02-15 and 2026-02-20"),
        [2]
    );
    // Inside `did TYPE where`, attributes are looked up in that type only.
    let c = catalog();
    let err = resolve_smart_list(
        &parse_smart_list("did checkDeposited where attr.durationMinutes > 3").unwrap(),
        &c,
        NOW_MS,
    );
    assert!(
        matches!(err, Err(Error::UnknownAttribute { scope, .. }) if scope == "`checkDeposited`")
    );
    let err = resolve_smart_list(&parse_smart_list("did nope").unwrap(), &c, NOW_MS);
    assert!(matches!(err, Err(Error::UnknownType { name }) if name == "nope"));
}
