//! Activity types, activities, values, validation, the record codec and the type catalog
//! of actlog.
//!
//! This crate knows what an activity is and never touches a file: the engine hands it
//! bytes read from the log and gets typed values back, and persists the catalog events
//! its commands return. It is deliberately free of I/O, clocks and threads, so every rule
//! about types and values can be tested in memory.
//!
//! The main design choice is that the type catalog is event-sourced: a command such as
//! [`Catalog::create_type`] checks the current state and returns a [`CatalogEvent`]
//! without changing anything; [`Catalog::apply`] changes the state, both after a command
//! and when the catalog log is replayed. Attribute ids are never reused and approved
//! attributes keep their data type, so an activity recorded under any version of its type
//! stays readable under every later one. Records carry each value's data type, so
//! [`codec::decode_activity`] needs no catalog.
//!
//! It is not the storage engine (`actlog`), the index (`actlog-index`) or the query
//! language (`actlog-query`).
//!
//! ```
//! use actlog_model::{codec, ActivityId, AttributeDefinition, Catalog, DataType, NewActivity,
//!     PersonId, TypeDefinition};
//!
//! let mut catalog = Catalog::new();
//! let event = catalog.create_type(TypeDefinition {
//!     api_name: "depositCheck".into(),
//!     name: "Deposit Check".into(),
//!     description: None,
//!     trigger_name: "Deposits Check".into(),
//!     filter_name: "Deposited Check".into(),
//!     primary_attribute: AttributeDefinition::new("bank", "Bank", DataType::String),
//!     attributes: vec![AttributeDefinition::new("amount", "Amount", DataType::Currency)],
//! }, 1_700_000_000_000)?;
//! catalog.apply(&event)?; // The engine writes `event` to the catalog log first.
//! let type_id = event.type_id();
//! catalog.apply(&catalog.approve(type_id, 1_700_000_000_001)?)?;
//!
//! let input = NewActivity::new(PersonId(7), "depositCheck", 1_700_000_100_000)
//!     .primary("First Bank")
//!     .attr("amount", "125.50");
//! let valid = catalog.validate(&input).expect("valid");
//! let bytes = codec::encode_activity(&valid)?;
//! let activity = codec::decode_activity(ActivityId(0), &bytes)?;
//! assert_eq!(activity.attributes[0].1.to_string(), "125.5");
//!
//! // Every problem is reported, each with a Marketo error code.
//! let bad = NewActivity::new(PersonId(7), "depositCheck", 0).attr("amount", "lots");
//! let reasons = catalog.validate(&bad).unwrap_err();
//! assert_eq!(reasons.iter().map(|r| r.code()).collect::<Vec<_>>(), ["1002", "1001"]);
//! # Ok::<(), actlog_model::Error>(())
//! ```

mod activity;
mod activity_type;
mod catalog;
pub mod codec;
mod error;
mod ids;
pub mod marketo;
mod standard;
pub mod time;
mod value;

pub use activity::{
    Activity, AttrRef, NewActivity, SkipReason, TypeRef, ValidActivity, ATTRIBUTES_BYTES_MAX,
    IDEMPOTENCY_KEY_BYTES_MAX,
};
pub use activity_type::{
    ActivityType, Attribute, AttributeDefinition, TypeDefinition, TypeOrigin, TypeStatus,
    TypeVersion, API_NAME_CHARS_MAX, ATTRIBUTES_MAX, DESCRIPTION_CHARS_MAX, NAME_CHARS_MAX,
};
pub use catalog::{AttributeChanges, Catalog, CatalogEvent, CatalogOptions, TypeChanges};
pub use error::{Error, Result};
pub use ids::{ActivityId, AttributeId, PersonId, TypeId};
pub use value::{
    DataType, InvalidValue, Value, ValueRef, EMAIL_CHARS_MAX, LINK_CHARS_MAX, PHONE_CHARS_MAX,
    STRING_CHARS_MAX, TEXT_BYTES_MAX,
};
