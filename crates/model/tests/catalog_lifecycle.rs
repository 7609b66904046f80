//! Every lifecycle transition of the type catalog and every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::{
    AttributeChanges, AttributeDefinition, AttributeId, Catalog, CatalogEvent, CatalogOptions,
    DataType, Error, TypeChanges, TypeDefinition, TypeId, TypeStatus,
};

fn conference() -> TypeDefinition {
    TypeDefinition {
        api_name: "attendConference".into(),
        name: "Attend Conference".into(),
        description: Some("Attend the conference".into()),
        trigger_name: "Attends Conference".into(),
        filter_name: "Attended Conference".into(),
        primary_attribute: AttributeDefinition::new(
            "conferenceName",
            "Conference Name",
            DataType::String,
        ),
        attributes: vec![],
    }
}

/// Runs a command's event through `apply`, as the engine does, and checks that replaying
/// every event so far from a fresh catalog gives the same state.
struct Harness {
    catalog: Catalog,
    log: Vec<CatalogEvent>,
}

impl Harness {
    fn new() -> Self {
        Harness {
            catalog: Catalog::new(),
            log: vec![],
        }
    }

    fn run(&mut self, event: actlog_model::Result<CatalogEvent>) -> TypeId {
        let event = event.unwrap();
        self.catalog.apply(&event).unwrap();
        self.log.push(event.clone());
        let mut replayed = Catalog::new();
        for e in &self.log {
            replayed.apply(e).unwrap();
        }
        let a: Vec<_> = self.catalog.list().collect();
        let b: Vec<_> = replayed.list().collect();
        assert_eq!(a, b);
        event.type_id()
    }

    fn status(&self, id: TypeId) -> TypeStatus {
        self.catalog.get(id).unwrap().status()
    }
}

fn attr(api: &str, name: &str, t: DataType) -> AttributeDefinition {
    AttributeDefinition::new(api, name, t)
}

#[test]
fn standard_types_exist_approved() {
    let c = Catalog::new();
    let visit = c.get(TypeId(1)).unwrap();
    assert_eq!(visit.name(), "Visit Webpage");
    assert_eq!(visit.status(), TypeStatus::Approved);
    assert_eq!(visit.approved().unwrap().primary.name, "Webpage ID");
    assert_eq!(
        visit.approved().unwrap().primary.data_type,
        DataType::Integer
    );
    let form = c.by_api_name("fillOutForm").unwrap();
    assert_eq!(form.id(), TypeId(2));
    let names: Vec<_> = form
        .approved()
        .unwrap()
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Client IP Address",
            "Form Fields",
            "Query Parameters",
            "Referrer URL",
            "User Agent",
            "Webpage ID"
        ]
    );
    for (id, name) in [
        (3, "Click Link"),
        (6, "Send Email"),
        (7, "Email Delivered"),
        (10, "Open Email"),
        (11, "Click Email"),
        (46, "Interesting Moment"),
    ] {
        assert_eq!(c.get(TypeId(id)).unwrap().name(), name);
    }
    assert!(c
        .list()
        .all(|t| !t.id().is_custom() && t.accepts_activities()));
}

#[test]
fn full_lifecycle() {
    let mut h = Harness::new();
    let id = h.run(h.catalog.create_type(conference(), 1_000));
    assert_eq!(id, TypeId::FIRST_CUSTOM);
    assert_eq!(h.status(id), TypeStatus::Draft);
    let t = h.catalog.get(id).unwrap();
    assert!(!t.accepts_activities());
    assert_eq!(t.latest().primary.data_type, DataType::String);
    assert!(t.latest().primary.indexed && t.latest().primary.is_primary);
    assert_eq!(t.created_at_ms(), 1_000);

    // Changes to a never-approved type keep it a draft, even of the primary attribute.
    h.run(h.catalog.add_attributes(
        id,
        vec![attr(
            "conferenceDate",
            "Conference Date",
            DataType::Datetime,
        )],
        2_000,
    ));
    h.run(h.catalog.update_type(
        id,
        TypeChanges {
            primary_attribute: Some(AttributeChanges {
                api_name: Some("title".into()),
                data_type: Some(DataType::Text),
                ..Default::default()
            }),
            ..Default::default()
        },
        2_500,
    ));
    assert_eq!(h.status(id), TypeStatus::Draft);
    assert_eq!(
        h.catalog.get(id).unwrap().latest().primary.api_name,
        "title"
    );

    h.run(h.catalog.approve(id, 3_000));
    let t = h.catalog.get(id).unwrap();
    assert_eq!(t.status(), TypeStatus::Approved);
    assert!(t.accepts_activities());
    assert!(t.draft().is_none());
    assert_eq!(t.updated_at_ms(), 3_000);

    // A change to an approved type makes a draft; the approved version is untouched.
    h.run(h.catalog.add_attributes(
        id,
        vec![attr("numberOfAttendees", "Number of Attendees", DataType::Integer).indexed()],
        4_000,
    ));
    let t = h.catalog.get(id).unwrap();
    assert_eq!(t.status(), TypeStatus::ApprovedWithDraft);
    assert_eq!(t.approved().unwrap().attributes.len(), 1);
    assert_eq!(t.draft().unwrap().attributes.len(), 2);
    assert!(t.accepts_activities());

    h.run(h.catalog.discard_draft(id, 5_000));
    assert_eq!(h.status(id), TypeStatus::Approved);
    assert_eq!(h.catalog.get(id).unwrap().latest().attributes.len(), 1);

    // The discarded attribute's id is not given again.
    h.run(h.catalog.add_attributes(
        id,
        vec![attr(
            "numberOfAttendees",
            "Number of Attendees",
            DataType::Integer,
        )],
        6_000,
    ));
    let added = h
        .catalog
        .get(id)
        .unwrap()
        .draft()
        .unwrap()
        .attribute_by_api_name("numberOfAttendees")
        .unwrap()
        .id;
    assert_eq!(added, AttributeId(4));

    // A never-approved attribute's indexed flag can still change.
    h.run(h.catalog.update_attributes(
        id,
        vec![
            AttributeChanges {
                api_name: Some("conferenceDate".into()),
                name: Some("When".into()),
                ..Default::default()
            },
            AttributeChanges {
                api_name: Some("numberOfAttendees".into()),
                indexed: Some(false),
                ..Default::default()
            },
        ],
        6_500,
    ));
    h.run(h.catalog.update_type(
        id,
        TypeChanges {
            name: Some("Attend Big Conference".into()),
            ..Default::default()
        },
        6_600,
    ));
    h.run(
        h.catalog
            .remove_attributes(id, &["conferenceDate".into()], 7_000),
    );
    h.run(h.catalog.approve(id, 8_000));
    let t = h.catalog.get(id).unwrap();
    assert_eq!(t.name(), "Attend Big Conference");
    let v = t.approved().unwrap();
    assert_eq!(
        v.attributes
            .iter()
            .map(|a| a.api_name.as_str())
            .collect::<Vec<_>>(),
        ["numberOfAttendees"]
    );
    assert!(!v.attributes[0].indexed);
    // The removed attribute still renders by its last approved name.
    assert_eq!(
        t.attribute_for_render(AttributeId(2)).unwrap().name,
        "Conference Date"
    );

    h.run(h.catalog.delete(id, 9_000));
    let t = h.catalog.get(id).unwrap();
    assert_eq!(t.status(), TypeStatus::Deleted);
    assert!(!t.accepts_activities());
    assert!(t.approved().is_some());
}

#[test]
fn deleting_a_draft_only_type() {
    let mut h = Harness::new();
    let id = h.run(h.catalog.create_type(conference(), 1));
    h.run(h.catalog.delete(id, 2));
    assert_eq!(h.status(id), TypeStatus::Deleted);
    // Its API name stays reserved, and ids go on.
    assert!(
        matches!(h.catalog.create_type(conference(), 3), Err(Error::ApiNameTaken(n)) if n == "attendConference")
    );
    let mut other = conference();
    other.api_name = "other".into();
    let id2 = h.run(h.catalog.create_type(other, 4));
    assert_eq!(id2, TypeId(id.0 + 1));
}

fn approved_type(h: &mut Harness) -> TypeId {
    let mut def = conference();
    def.attributes = vec![attr(
        "conferenceDate",
        "Conference Date",
        DataType::Datetime,
    )];
    let id = h.run(h.catalog.create_type(def, 1));
    h.run(h.catalog.approve(id, 2));
    id
}

#[test]
fn refused_transitions() {
    let mut h = Harness::new();
    let id = approved_type(&mut h);
    let c = &h.catalog;

    assert!(matches!(
        c.approve(id, 3),
        Err(Error::NoDraft {
            status: TypeStatus::Approved,
            ..
        })
    ));
    assert!(matches!(c.discard_draft(id, 3), Err(Error::NoDraft { .. })));
    assert!(matches!(
        c.approve(TypeId(999_999), 3),
        Err(Error::UnknownType(TypeId(999_999)))
    ));
    assert!(matches!(
        c.delete(TypeId(1), 3),
        Err(Error::StandardType(TypeId(1)))
    ));
    assert!(matches!(
        c.add_attributes(TypeId(2), vec![], 3),
        Err(Error::StandardType(_))
    ));
    assert!(matches!(
        c.update_type(
            id,
            TypeChanges {
                primary_attribute: Some(AttributeChanges {
                    api_name: Some("x".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            3
        ),
        Err(Error::PrimaryLocked {
            field: "apiName",
            ..
        })
    ));
    assert!(matches!(
        c.update_type(
            id,
            TypeChanges {
                primary_attribute: Some(AttributeChanges {
                    data_type: Some(DataType::Integer),
                    ..Default::default()
                }),
                ..Default::default()
            },
            3
        ),
        Err(Error::PrimaryLocked {
            field: "dataType",
            ..
        })
    ));
    assert!(matches!(
        c.update_attributes(
            id,
            vec![AttributeChanges {
                api_name: Some("conferenceDate".into()),
                data_type: Some(DataType::Date),
                ..Default::default()
            }],
            3
        ),
        Err(Error::DataTypeLocked {
            was: DataType::Datetime,
            ..
        })
    ));
    // An approved attribute keeps its indexed flag: the index holds its values for the
    // activities recorded under the flag, so a change would make index answers partial.
    let indexed = |api_name: &str, indexed: bool| {
        c.update_attributes(
            id,
            vec![AttributeChanges {
                api_name: Some(api_name.into()),
                indexed: Some(indexed),
                ..Default::default()
            }],
            3,
        )
    };
    assert!(matches!(
        indexed("conferenceDate", true),
        Err(Error::IndexedLocked { was: false, ref api_name, .. }) if api_name == "conferenceDate"
    ));
    // Naming the flag it has is no change, and the primary is always indexed.
    assert!(indexed("conferenceDate", false).is_ok());
    assert!(indexed("conferenceName", false).is_ok());
    assert!(matches!(
        c.update_attributes(
            id,
            vec![AttributeChanges {
                api_name: Some("nope".into()),
                ..Default::default()
            }],
            3
        ),
        Err(Error::UnknownAttribute { .. })
    ));
    assert!(matches!(
        c.remove_attributes(id, &["conferenceName".into()], 3),
        Err(Error::CannotRemovePrimary { .. })
    ));
    assert!(matches!(
        c.remove_attributes(id, &["nope".into()], 3),
        Err(Error::UnknownAttribute { .. })
    ));
    assert!(matches!(
        c.add_attributes(
            id,
            vec![attr("conferenceDate", "Other", DataType::String)],
            3
        ),
        Err(Error::DuplicateAttribute {
            field: "apiName",
            ..
        })
    ));
    assert!(matches!(
        c.add_attributes(
            id,
            vec![attr("other", "Conference Date", DataType::String)],
            3
        ),
        Err(Error::DuplicateAttribute { field: "name", .. })
    ));
    assert!(matches!(
        c.add_attributes(
            id,
            vec![
                attr("a1", "A one", DataType::String),
                attr("a1", "A two", DataType::String)
            ],
            3
        ),
        Err(Error::DuplicateAttribute { .. })
    ));
    assert!(matches!(
        c.add_attributes(id, vec![attr("bad name", "Bad", DataType::String)], 3),
        Err(Error::InvalidName {
            field: "apiName",
            ..
        })
    ));

    // A 21st attribute.
    let twenty: Vec<_> = (1..20)
        .map(|i| attr(&format!("a{i}"), &format!("A {i}"), DataType::String))
        .collect();
    h.run(h.catalog.add_attributes(id, twenty, 3));
    assert_eq!(h.catalog.get(id).unwrap().latest().attributes.len(), 20);
    assert!(matches!(
        h.catalog
            .add_attributes(id, vec![attr("a21", "A 21", DataType::String)], 4),
        Err(Error::TooManyAttributes {
            count: 21,
            max: 20,
            ..
        })
    ));

    // Nothing is allowed on a deleted type.
    h.run(h.catalog.delete(id, 5));
    let c = &h.catalog;
    assert!(matches!(c.delete(id, 6), Err(Error::TypeDeleted(_))));
    assert!(matches!(c.approve(id, 6), Err(Error::TypeDeleted(_))));
    assert!(matches!(
        c.add_attributes(id, vec![], 6),
        Err(Error::TypeDeleted(_))
    ));
    assert!(matches!(c.discard_draft(id, 6), Err(Error::TypeDeleted(_))));
}

#[test]
fn discard_of_a_never_approved_type_is_refused() {
    let mut h = Harness::new();
    let id = h.run(h.catalog.create_type(conference(), 1));
    assert!(matches!(
        h.catalog.discard_draft(id, 2),
        Err(Error::NeverApproved(_))
    ));
}

#[test]
fn create_refusals() {
    let mut h = Harness::new();
    h.run(h.catalog.create_type(conference(), 1));
    let c = &h.catalog;

    let mut d = conference();
    d.trigger_name = "attends conference ".into();
    d.api_name = "x".into();
    assert!(matches!(
        c.create_type(d, 2),
        Err(Error::TriggerNameTaken(_))
    ));

    let mut d = conference();
    d.api_name = "x".into();
    d.trigger_name = "t".into();
    assert!(matches!(
        c.create_type(d, 2),
        Err(Error::FilterNameTaken(_))
    ));

    let mut d = conference();
    d.api_name = "visitWebpage".into();
    assert!(matches!(c.create_type(d, 2), Err(Error::ApiNameTaken(_))));

    for (api, name) in [
        ("", "Ok"),
        ("9", "Ok"),
        ("ok", ""),
        ("ok", "Bad-Name"),
        ("ok", "42"),
    ] {
        let mut d = conference();
        d.api_name = api.into();
        d.name = name.into();
        d.trigger_name = "tt".into();
        d.filter_name = "ff".into();
        assert!(
            matches!(c.create_type(d, 2), Err(Error::InvalidName { .. })),
            "{api} {name}"
        );
    }

    let mut d = conference();
    d.api_name = "many".into();
    d.trigger_name = "tt".into();
    d.filter_name = "ff".into();
    d.attributes = (0..21)
        .map(|i| attr(&format!("a{i}"), &format!("A {i}"), DataType::String))
        .collect();
    assert!(matches!(
        c.create_type(d, 2),
        Err(Error::TooManyAttributes { count: 21, .. })
    ));

    let mut d = conference();
    d.api_name = "dup".into();
    d.trigger_name = "tt".into();
    d.filter_name = "ff".into();
    d.attributes = vec![attr("conferenceName", "Other", DataType::String)];
    assert!(matches!(
        c.create_type(d, 2),
        Err(Error::DuplicateAttribute {
            field: "apiName",
            ..
        })
    ));
}

#[test]
fn custom_type_limit() {
    let mut c = Catalog::with_options(CatalogOptions {
        custom_types_max: 2,
    });
    let mk = |i: usize| {
        let mut d = conference();
        d.api_name = format!("t{i}");
        d.trigger_name = format!("trigger {i}");
        d.filter_name = format!("filter {i}");
        d
    };
    let e = c.create_type(mk(0), 1).unwrap();
    c.apply(&e).unwrap();
    let e = c.create_type(mk(1), 1).unwrap();
    c.apply(&e).unwrap();
    let err = c.create_type(mk(2), 1).unwrap_err();
    assert!(matches!(err, Error::TooManyCustomTypes { max: 2 }));
    assert_eq!(err.marketo_code(), Some("1027"));
    // Deleted types do not count.
    let e = c.delete(TypeId::FIRST_CUSTOM, 2).unwrap();
    c.apply(&e).unwrap();
    assert!(c.create_type(mk(2), 3).is_ok());
}

#[test]
fn apply_rejects_events_that_do_not_fit() {
    let mut h = Harness::new();
    let id = approved_type(&mut h);
    let draft = h.catalog.get(id).unwrap().latest().clone();
    let mut c = h.catalog.clone();

    // Approving twice.
    assert!(matches!(
        c.apply(&CatalogEvent::Approved {
            type_id: id,
            at_ms: 9
        }),
        Err(Error::NoDraft { .. })
    ));
    // Reusing an attribute id below the counter that the type never had.
    let mut bad = draft.clone();
    let mut extra = bad.attributes[0].clone();
    extra.id = AttributeId(0);
    extra.api_name = "reused".into();
    extra.name = "Reused".into();
    bad.attributes.push(extra);
    let next = h.catalog.get(id).unwrap().next_attribute_id();
    assert!(matches!(
        c.apply(&CatalogEvent::DraftChanged {
            type_id: id,
            draft: bad.clone(),
            next_attribute_id: next,
            at_ms: 9
        }),
        Err(Error::InvalidEvent { .. })
    ));
    // A counter that goes back.
    assert!(matches!(
        c.apply(&CatalogEvent::DraftChanged {
            type_id: id,
            draft: draft.clone(),
            next_attribute_id: AttributeId(1),
            at_ms: 9
        }),
        Err(Error::InvalidEvent { .. })
    ));
    // Changing an approved attribute's data type.
    let mut bad = draft.clone();
    bad.attributes[0].data_type = DataType::Integer;
    assert!(matches!(
        c.apply(&CatalogEvent::DraftChanged {
            type_id: id,
            draft: bad,
            next_attribute_id: next,
            at_ms: 9
        }),
        Err(Error::DataTypeLocked { .. })
    ));
    // Creating a type with a standard id or an id in use.
    for type_id in [TypeId(1), id] {
        let e = CatalogEvent::TypeCreated {
            type_id,
            api_name: "fresh".into(),
            draft: draft.clone(),
            next_attribute_id: next,
            at_ms: 9,
        };
        assert!(matches!(c.apply(&e), Err(Error::InvalidEvent { .. })));
    }
    // Events about unknown types.
    assert!(matches!(
        c.apply(&CatalogEvent::Deleted {
            type_id: TypeId(424_242),
            at_ms: 9
        }),
        Err(Error::UnknownType(_))
    ));
    // None of that changed anything.
    assert_eq!(
        c.list().collect::<Vec<_>>(),
        h.catalog.list().collect::<Vec<_>>()
    );
}
