//! Helpers shared by the engine's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog::model::{AttributeDefinition, DataType, TypeDefinition};
use actlog::{Engine, NewActivity, Options, PersonId};

pub const DAY_MS: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

pub fn open(dir: &std::path::Path) -> Engine {
    Engine::open(dir, Options::default()).unwrap()
}

/// Creates and approves `webinarAttended` (primary webinarName; durationMinutes, askedQuestion, channel).
pub fn webinar_type(engine: &Engine) -> actlog::ActivityType {
    let def = TypeDefinition {
        api_name: "webinarAttended".into(),
        name: "Attended Webinar".into(),
        description: Some("A person attended a live webinar".into()),
        trigger_name: "Attends Webinar".into(),
        filter_name: "Attended Webinar".into(),
        primary_attribute: AttributeDefinition::new(
            "webinarName",
            "Webinar Name",
            DataType::String,
        ),
        attributes: vec![
            AttributeDefinition::new("durationMinutes", "Duration", DataType::Integer).indexed(),
            AttributeDefinition::new("askedQuestion", "Asked a Question", DataType::Boolean),
            AttributeDefinition::new("channel", "Channel", DataType::String),
        ],
    };
    let created = engine.create_type(def).unwrap();
    engine.approve_type(created.id()).unwrap()
}

pub fn webinar(person: u64, at_ms: i64, name: &str, minutes: i64) -> NewActivity {
    NewActivity::new(PersonId(person), "webinarAttended", at_ms)
        .primary(name)
        .attr("durationMinutes", minutes)
        .attr("channel", "zoom")
}
