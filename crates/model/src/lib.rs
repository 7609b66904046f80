//! Activity types, activities, values, validation, the record codec and the type catalog.
//!
//! This crate knows what an activity is and never touches a file: the engine hands it
//! bytes read from the log and gets typed values back.

mod ids;

pub use ids::{ActivityId, AttributeId, PersonId, TypeId};
