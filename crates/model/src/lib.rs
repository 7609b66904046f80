//! Activity types, activities, values, validation, the record codec and the type catalog.
//!
//! This crate knows what an activity is and never touches a file: the engine hands it
//! bytes read from the log and gets typed values back.

mod activity;
mod activity_type;
mod catalog;
pub mod codec;
mod error;
mod ids;
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
    DataType, InvalidValue, Value, EMAIL_CHARS_MAX, LINK_CHARS_MAX, PHONE_CHARS_MAX,
    STRING_CHARS_MAX, TEXT_BYTES_MAX,
};
