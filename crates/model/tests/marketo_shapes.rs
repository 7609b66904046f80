//! Marketo's JSON shapes: activities in and out, type definitions in and out, and an
//! activity recorded under version 1 of its type rendering after later versions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::codec::{decode_activity, encode_activity};
use actlog_model::marketo::{
    parse_activity, parse_activity_str, render_activity, render_type, AttributeJson, ReasonJson,
    TypeChangesJson, TypeDefinitionJson, TypeView,
};
use actlog_model::{
    ActivityId, AttrRef, Catalog, CatalogEvent, Error, NewActivity, PersonId, TypeId, TypeRef,
};
use serde_json::json;

fn run(c: &mut Catalog, command: impl FnOnce(&Catalog) -> actlog_model::Result<CatalogEvent>) {
    let e = command(c).unwrap();
    c.apply(&e).unwrap();
}

fn conference_json() -> serde_json::Value {
    json!({ "apiName": "attendConference", "name": "Attend Conference", "description": "Attend the conference",
            "triggerName": "Attends Conference", "filterName": "Attended Conference",
            "primaryAttribute": { "apiName": "conferenceName", "name": "Conference Name", "description": "Name of the conference" } })
}

#[test]
fn reference_input_example_parses() {
    let a = parse_activity(&json!({ "leadId": 1001, "activityDate": "2016-09-26T06:56:35+07:00", "activityTypeId": 1001,
        "primaryAttributeValue": "Game Giveaway",
        "attributes": [ { "apiName": "uRL", "value": "http://www.nvidia.com/game-giveaway" } ] }))
    .unwrap();
    assert_eq!(a.person, PersonId(1001));
    assert_eq!(a.activity_type, TypeRef::Id(TypeId(1001)));
    assert_eq!(
        a.occurred_at_ms,
        actlog_model::time::parse_datetime("2016-09-25T23:56:35Z").unwrap()
    );
    assert_eq!(a.primary, Some(json!("Game Giveaway")));
    assert_eq!(
        a.attributes,
        vec![(
            AttrRef::ApiName("uRL".into()),
            json!("http://www.nvidia.com/game-giveaway")
        )]
    );
    assert_eq!(a.idempotency_key, None);

    let b = parse_activity_str(
        r#"{"leadId":"7","activityDate":"2016-09-26","apiName":"attendConference","attributes":[{"name":"Conference Date","value":null}],"idempotencyKey":"k-1"}"#,
    )
    .unwrap();
    assert_eq!(b.person, PersonId(7));
    assert_eq!(b.activity_type, TypeRef::ApiName("attendConference".into()));
    assert_eq!(b.primary, None);
    assert_eq!(b.attributes[0].0, AttrRef::Name("Conference Date".into()));
    assert_eq!(b.idempotency_key.as_deref(), Some("k-1"));
}

#[test]
fn bad_input_names_the_field() {
    let cases = [
        (r#"[1]"#, "(activity)", "JSON object"),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26", "activityTypeId": 1"#,
            "(json)",
            "EOF",
        ),
        (
            r#"{"activityDate": "2016-09-26", "activityTypeId": 1}"#,
            "leadId",
            "missing",
        ),
        (
            r#"{"leadId": -1, "activityDate": "2016-09-26", "activityTypeId": 1}"#,
            "leadId",
            "non-negative",
        ),
        (
            r#"{"leadId": "x1", "activityDate": "2016-09-26", "activityTypeId": 1}"#,
            "leadId",
            "integer",
        ),
        (
            r#"{"leadId": 1, "activityTypeId": 1}"#,
            "activityDate",
            "missing",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-13-26", "activityTypeId": 1}"#,
            "activityDate",
            "month",
        ),
        (
            r#"{"leadId": 1, "activityDate": 5, "activityTypeId": 1}"#,
            "activityDate",
            "ISO 8601",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26"}"#,
            "activityTypeId",
            "missing",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26", "activityTypeId": 99999999999}"#,
            "activityTypeId",
            "range",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26", "apiName": 3}"#,
            "apiName",
            "string",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26", "apiName": "a", "attributes": {}}"#,
            "attributes",
            "array",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26", "apiName": "a", "attributes": [3]}"#,
            "attributes[0]",
            "object",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26", "apiName": "a", "attributes": [{"value": 1}]}"#,
            "attributes[0].apiName",
            "missing",
        ),
        (
            r#"{"leadId": 1, "activityDate": "2016-09-26", "apiName": "a", "attributes": [{"name": "x"}]}"#,
            "attributes[0].value",
            "missing",
        ),
    ];
    for (text, want_field, want_reason) in cases {
        match parse_activity_str(text) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, want_field, "{text}");
                assert!(reason.contains(want_reason), "{text}: {reason}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn type_definition_in_and_out() {
    let def: TypeDefinitionJson = serde_json::from_value(conference_json()).unwrap();
    let mut c = Catalog::new();
    run(&mut c, |c| {
        c.create_type(def.into_definition().unwrap(), 1_454_538_983_000)
    });
    let t = c.by_api_name("attendConference").unwrap();
    let out = serde_json::to_value(render_type(t, TypeView::Approved)).unwrap();
    assert_eq!(
        out,
        json!({ "id": 100000, "apiName": "attendConference", "name": "Attend Conference", "description": "Attend the conference",
                "triggerName": "Attends Conference", "filterName": "Attended Conference",
                "createdAt": "2016-02-03T22:36:23Z", "updatedAt": "2016-02-03T22:36:23Z", "status": "draft",
                "primaryAttribute": { "apiName": "conferenceName", "name": "Conference Name", "description": "Name of the conference",
                                      "dataType": "string", "indexed": true },
                "attributes": [] })
    );

    // The attribute create example of reference §3.8.
    let attrs: Vec<AttributeJson> = serde_json::from_value(json!([
        {"apiName":"conferenceDate","name":"Conference Date","description":"Date of the conference","dataType":"datetime"},
        {"apiName":"numberOfAttendees","name":"Number of Attendees","description":"Number of people attending conference","dataType":"integer"}]))
    .unwrap();
    let defs = attrs
        .into_iter()
        .enumerate()
        .map(|(i, a)| a.into_definition(&format!("attributes[{i}]")).unwrap())
        .collect();
    run(&mut c, |c| c.approve(TypeId(100_000), 2_000));
    run(&mut c, |c| c.add_attributes(TypeId(100_000), defs, 3_000));
    let t = c.get(TypeId(100_000)).unwrap();
    let draft = render_type(t, TypeView::Draft);
    assert_eq!(
        serde_json::to_value(draft.status).unwrap(),
        json!("approved with draft")
    );
    assert_eq!(draft.attributes.len(), 2);
    assert_eq!(render_type(t, TypeView::Approved).attributes.len(), 0);

    let changes: TypeChangesJson =
        serde_json::from_value(json!({"name": "Attend Big Conference"})).unwrap();
    run(&mut c, |c| {
        c.update_type(TypeId(100_000), changes.into_changes().unwrap(), 4_000)
    });
    assert_eq!(
        c.get(TypeId(100_000)).unwrap().latest().name,
        "Attend Big Conference"
    );

    let bad: AttributeJson =
        serde_json::from_value(json!({"apiName": "x", "name": "X", "dataType": "textarea"}))
            .unwrap();
    assert!(
        matches!(bad.into_definition("attributes[0]"), Err(Error::InvalidInput { field, .. }) if field == "attributes[0].dataType")
    );
    let bad: AttributeJson = serde_json::from_value(json!({"apiName": "x", "name": "X"})).unwrap();
    assert!(bad.into_definition("a").is_err());
    let bad: AttributeJson = serde_json::from_value(
        json!({"apiName": "x", "name": "X", "dataType": "string", "isPrimary": true}),
    )
    .unwrap();
    assert!(bad.into_definition("a").is_err());
}

#[test]
fn version_one_activity_renders_after_attributes_change() {
    let mut c = Catalog::new();
    let mut def: TypeDefinitionJson = serde_json::from_value(conference_json()).unwrap();
    def.attributes = serde_json::from_value(json!([
        {"apiName":"conferenceDate","name":"Conference Date","dataType":"date"},
        {"apiName":"numberOfAttendees","name":"Number of Attendees","dataType":"integer"}]))
    .unwrap();
    run(&mut c, |c| c.create_type(def.into_definition().unwrap(), 1));
    run(&mut c, |c| c.approve(TypeId(100_000), 2));

    // Recorded under version 1.
    let input = NewActivity::new(PersonId(42), "attendConference", 1_474_851_395_000)
        .primary("RustConf")
        .attr("conferenceDate", "2016-09-26")
        .attr("Number of Attendees", "1200");
    let bytes = encode_activity(&c.validate(&input).unwrap()).unwrap();

    // Version 2 renames one attribute, removes another and adds a third.
    run(&mut c, |c| {
        c.remove_attributes(TypeId(100_000), &["numberOfAttendees".into()], 3)
    });
    run(&mut c, |c| {
        c.add_attributes(
            TypeId(100_000),
            vec![actlog_model::AttributeDefinition::new(
                "city",
                "City",
                actlog_model::DataType::String,
            )],
            4,
        )
    });
    let rename = AttributeJson {
        api_name: "conferenceDate".into(),
        name: Some("Event Date".into()),
        ..Default::default()
    };
    run(&mut c, |c| {
        c.update_attributes(TypeId(100_000), vec![rename.into_changes("a").unwrap()], 5)
    });
    run(&mut c, |c| c.approve(TypeId(100_000), 6));

    let activity = decode_activity(ActivityId(50), &bytes).unwrap();
    let out = serde_json::to_value(render_activity(&c, &activity)).unwrap();
    assert_eq!(
        out,
        json!({ "id": 50, "marketoGUID": "50", "leadId": 42, "activityDate": "2016-09-26T00:56:35Z", "activityTypeId": 100000,
                "primaryAttributeValue": "RustConf",
                "attributes": [ {"name": "Event Date", "value": "2016-09-26", "apiName": "conferenceDate"},
                                {"name": "Number of Attendees", "value": 1200, "apiName": "numberOfAttendees"} ] })
    );

    // And after the type is deleted.
    run(&mut c, |c| c.delete(TypeId(100_000), 7));
    assert_eq!(
        render_activity(&c, &activity).attributes[1].name,
        "Number of Attendees"
    );
}

#[test]
fn standard_activity_output_and_reasons() {
    let c = Catalog::new();
    let input = NewActivity::new(PersonId(1), TypeId(1), 1_673_911_939_000)
        .primary(71)
        .attr("Client IP Address", "10.0.19.252")
        .attr("webpageURL", "/munchkintest2.html");
    let v = c.validate(&input).unwrap();
    let a = actlog_model::Activity::from_valid(ActivityId(102_988), v);
    let out = serde_json::to_value(render_activity(&c, &a)).unwrap();
    assert_eq!(out["activityDate"], json!("2023-01-16T23:32:19Z"));
    assert_eq!(out["primaryAttributeValueId"], json!(71));
    assert_eq!(out["primaryAttributeValue"], json!("71"));
    assert_eq!(
        out["attributes"][0],
        json!({"name": "Client IP Address", "value": "10.0.19.252", "apiName": "clientIPAddress"})
    );

    let reasons = c
        .validate(
            &NewActivity::new(PersonId(1), TypeId(1), 0)
                .primary(1)
                .attr("nope", 1),
        )
        .unwrap_err();
    let json = serde_json::to_value(ReasonJson::from(&reasons[0])).unwrap();
    assert_eq!(
        json,
        json!({"code": "1006", "message": "Field 'nope' not found"})
    );
}
