//! The crate's one error type.

use crate::activity_type::TypeStatus;

use crate::ids::{ActivityId, TypeId};
use crate::value::InvalidValue;

/// Everything that can go wrong in `actlog-model`.
///
/// Catalog variants carry the Marketo error code they correspond to (see
/// [`Error::marketo_code`]), so the HTTP layer can answer the way Marketo clients expect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No activity type has this id.
    #[error("activity type {0} not found")]
    UnknownType(TypeId),
    /// No activity type has this API name.
    #[error("activity type '{0}' not found")]
    UnknownTypeName(String),
    /// Another type already uses this API name (deleted types keep theirs).
    #[error("API name '{0}' is already used by another activity type")]
    ApiNameTaken(String),
    /// Another type already uses this trigger name.
    #[error("trigger name '{0}' is already used by another activity type")]
    TriggerNameTaken(String),
    /// Another type already uses this filter name.
    #[error("filter name '{0}' is already used by another activity type")]
    FilterNameTaken(String),
    /// A name, description or API name breaks Marketo's rules.
    #[error("invalid {field} '{value}': {reason}")]
    InvalidName {
        /// Which field, in Marketo's spelling (`apiName`, `name`, `triggerName`, ...).
        field: &'static str,
        /// The offending value (shortened).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A type would get more secondary attributes than Marketo allows (code 1028).
    #[error("activity type {type_id} would have {count} attributes; at most {max} are allowed")]
    TooManyAttributes {
        /// The type.
        type_id: TypeId,
        /// How many secondary attributes it would have.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The catalog already holds the configured number of live custom types (code 1027).
    #[error("maximum number of custom activity types ({max}) reached")]
    TooManyCustomTypes {
        /// The limit.
        max: usize,
    },
    /// Two attributes of one type would share an API name or a display name.
    #[error("attribute {field} '{value}' is used twice in activity type {type_id}")]
    DuplicateAttribute {
        /// The type.
        type_id: TypeId,
        /// `apiName` or `name`.
        field: &'static str,
        /// The repeated value.
        value: String,
    },
    /// The type has no attribute with this API name.
    #[error("activity type {type_id} has no attribute '{api_name}'")]
    UnknownAttribute {
        /// The type.
        type_id: TypeId,
        /// The API name asked for.
        api_name: String,
    },
    /// Approve or discard was asked of a type that has no draft (code 709).
    #[error("activity type {type_id} has no draft (status {status})")]
    NoDraft {
        /// The type.
        type_id: TypeId,
        /// Its status.
        status: TypeStatus,
    },
    /// Discarding the draft of a type that was never approved would leave it empty; delete it.
    #[error("activity type {0} was never approved, so its draft cannot be discarded; delete the type instead")]
    NeverApproved(TypeId),
    /// The type is deleted and accepts no further change.
    #[error("activity type {0} is deleted")]
    TypeDeleted(TypeId),
    /// Standard types are fixed.
    #[error("activity type {0} is a standard type and cannot be changed")]
    StandardType(TypeId),
    /// The primary attribute's API name or data type cannot change once the type was approved.
    #[error(
        "the primary attribute's {field} of activity type {type_id} cannot change after approval"
    )]
    PrimaryLocked {
        /// The type.
        type_id: TypeId,
        /// `apiName` or `dataType`.
        field: &'static str,
    },
    /// An attribute that was ever approved keeps its data type; remove it and add a new one.
    #[error("attribute '{api_name}' of activity type {type_id} was approved as {was}; its data type cannot change (remove it and add a new attribute)")]
    DataTypeLocked {
        /// The type.
        type_id: TypeId,
        /// The attribute.
        api_name: String,
        /// Its approved data type.
        was: crate::value::DataType,
    },
    /// An attribute that was ever approved keeps its `indexed` flag: the index holds the
    /// values of exactly the activities recorded while it was set, so turning it on later
    /// would make index answers miss the earlier ones. Add a new attribute instead.
    #[error("attribute '{api_name}' of activity type {type_id} was approved {}; that cannot change (add a new attribute{})", if *.was { "indexed" } else { "not indexed" }, if *.was { "" } else { " marked indexed" })]
    IndexedLocked {
        /// The type.
        type_id: TypeId,
        /// The attribute.
        api_name: String,
        /// Its approved flag.
        was: bool,
    },
    /// The primary attribute cannot be removed.
    #[error("attribute '{api_name}' is the primary attribute of activity type {type_id} and cannot be removed")]
    CannotRemovePrimary {
        /// The type.
        type_id: TypeId,
        /// The primary attribute's API name.
        api_name: String,
    },
    /// A type has used up its 65535 attribute ids (ids are never reused).
    #[error("activity type {0} has used up its attribute ids")]
    AttributeIdsExhausted(TypeId),
    /// Custom type ids are used up.
    #[error("custom activity type ids are used up")]
    TypeIdsExhausted,
    /// A catalog event does not fit the catalog it is applied to: the catalog log and the
    /// code disagree, or the log was written by a buggy version.
    #[error("catalog event for type {type_id} cannot be applied: {reason}")]
    InvalidEvent {
        /// The type the event is about.
        type_id: TypeId,
        /// What does not fit.
        reason: String,
    },
    /// A date or datetime string could not be parsed (code 704 for request parameters).
    #[error("invalid date '{input}': {reason}")]
    InvalidTime {
        /// The input (shortened).
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A value does not fit its data type.
    #[error(transparent)]
    InvalidValue(#[from] InvalidValue),
    /// Input JSON does not have the expected Marketo shape.
    #[error("invalid input: {field}: {reason}")]
    InvalidInput {
        /// The JSON field (`leadId`, `attributes[2].value`, ...).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Stored activity bytes do not decode. The engine adds the segment and file position.
    #[error("corrupt activity record {id} ({len_bytes} bytes): {reason}")]
    CorruptActivity {
        /// The record's id (its log offset).
        id: ActivityId,
        /// The record's length.
        len_bytes: usize,
        /// What was wrong.
        reason: String,
    },
    /// Stored catalog event bytes do not decode. The engine adds the file position.
    #[error("corrupt catalog event ({len_bytes} bytes): {reason}")]
    CorruptEvent {
        /// The record's length.
        len_bytes: usize,
        /// What was wrong.
        reason: String,
    },
    /// Encoding failed (a bug: encoding into memory cannot fail for well-formed values).
    #[error("encoding failed: {0}")]
    Encode(String),
}

impl Error {
    /// The Marketo error code closest to this error, as Marketo clients compare them
    /// (a quoted integer), or `None` when Marketo has no such error.
    pub fn marketo_code(&self) -> Option<&'static str> {
        Some(match self {
            Error::UnknownType(_) | Error::UnknownTypeName(_) | Error::UnknownAttribute { .. } => {
                "1013"
            }
            Error::TooManyAttributes { .. } => "1028",
            Error::TooManyCustomTypes { .. } => "1027",
            Error::NoDraft { .. }
            | Error::NeverApproved(_)
            | Error::TypeDeleted(_)
            | Error::StandardType(_)
            | Error::PrimaryLocked { .. }
            | Error::DataTypeLocked { .. }
            | Error::IndexedLocked { .. }
            | Error::CannotRemovePrimary { .. }
            | Error::ApiNameTaken(_)
            | Error::TriggerNameTaken(_)
            | Error::FilterNameTaken(_)
            | Error::DuplicateAttribute { .. } => "709",
            Error::InvalidTime { .. } => "704",
            Error::InvalidName { .. } | Error::InvalidValue(_) => "1001",
            Error::InvalidInput { .. } => "1003",
            Error::AttributeIdsExhausted(_)
            | Error::TypeIdsExhausted
            | Error::InvalidEvent { .. }
            | Error::CorruptActivity { .. }
            | Error::CorruptEvent { .. }
            | Error::Encode(_) => return None,
        })
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shortens user input quoted in messages, on a character boundary.
pub(crate) fn shorten(s: &str) -> String {
    const CHARS_MAX: usize = 64;
    match s.char_indices().nth(CHARS_MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}
