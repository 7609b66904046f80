//! Activities: the input form ([`NewActivity`]), its validation against the catalog into
//! a [`ValidActivity`] (or every [`SkipReason`]), and the recorded form ([`Activity`]).

use crate::catalog::Catalog;
use crate::error::shorten;
use crate::ids::{ActivityId, AttributeId, PersonId, TypeId};
use crate::time::{DATETIME_MAX_MS, DATETIME_MIN_MS};
use crate::value::{DataType, InvalidValue, Value};
use serde_json::Value as Json;
use std::fmt;

/// Most bytes one activity's attribute values may take, as JSON (Marketo error 1049).
pub const ATTRIBUTES_BYTES_MAX: usize = 65_536;
/// Longest idempotency key, in bytes.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// How an activity names its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeRef {
    /// By id (`activityTypeId`).
    Id(TypeId),
    /// By API name (`apiName`).
    ApiName(String),
}

impl From<TypeId> for TypeRef {
    fn from(id: TypeId) -> Self {
        TypeRef::Id(id)
    }
}

impl From<&str> for TypeRef {
    fn from(api_name: &str) -> Self {
        TypeRef::ApiName(api_name.to_owned())
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Id(id) => write!(f, "{id}"),
            TypeRef::ApiName(n) => f.write_str(n),
        }
    }
}

/// How an activity names an attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrRef {
    /// By API name only.
    ApiName(String),
    /// By display name only.
    Name(String),
    /// By API name, else by display name.
    ApiNameOrName(String),
}

impl AttrRef {
    /// The name as given.
    pub fn as_str(&self) -> &str {
        match self {
            AttrRef::ApiName(s) | AttrRef::Name(s) | AttrRef::ApiNameOrName(s) => s,
        }
    }
}

/// An activity to record, as a caller gives it: values still untyped JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct NewActivity {
    /// Who did it.
    pub person: PersonId,
    /// What kind of activity.
    pub activity_type: TypeRef,
    /// When, in ms since the epoch (UTC).
    pub occurred_at_ms: i64,
    /// The primary attribute's value (required).
    pub primary: Option<Json>,
    /// Secondary attribute values; `null` values are treated as absent.
    pub attributes: Vec<(AttrRef, Json)>,
    /// Makes a retried append a no-op (see the engine's dedupe window).
    pub idempotency_key: Option<String>,
}

impl NewActivity {
    /// An activity without values yet.
    pub fn new(person: PersonId, activity_type: impl Into<TypeRef>, occurred_at_ms: i64) -> Self {
        NewActivity {
            person,
            activity_type: activity_type.into(),
            occurred_at_ms,
            primary: None,
            attributes: Vec::new(),
            idempotency_key: None,
        }
    }

    /// Sets the primary attribute's value.
    pub fn primary(mut self, value: impl Into<Json>) -> Self {
        self.primary = Some(value.into());
        self
    }

    /// Adds an attribute value, naming the attribute by API name or display name.
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<Json>) -> Self {
        self.attributes
            .push((AttrRef::ApiNameOrName(name.into()), value.into()));
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A validated activity, ready to encode: typed values keyed by attribute id, sorted by
/// id, against the type's approved version.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidActivity {
    /// Who did it.
    pub person: PersonId,
    /// The resolved type.
    pub type_id: TypeId,
    /// When, in ms since the epoch.
    pub occurred_at_ms: i64,
    /// The primary attribute's value.
    pub primary: Value,
    /// Secondary values by attribute id, ascending, each id once.
    pub attributes: Vec<(AttributeId, Value)>,
    /// The idempotency key, if any.
    pub idempotency_key: Option<String>,
}

/// A recorded activity, as decoded from the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Its id: its offset in the activities log.
    pub id: ActivityId,
    /// Who did it.
    pub person: PersonId,
    /// Its type.
    pub type_id: TypeId,
    /// When, in ms since the epoch.
    pub occurred_at_ms: i64,
    /// The primary attribute's value.
    pub primary: Value,
    /// Secondary values by attribute id, ascending.
    pub attributes: Vec<(AttributeId, Value)>,
    /// The idempotency key, if any.
    pub idempotency_key: Option<String>,
}

impl Activity {
    /// The recorded activity a valid one becomes once the log gives it an id.
    pub fn from_valid(id: ActivityId, valid: ValidActivity) -> Activity {
        Activity {
            id,
            person: valid.person,
            type_id: valid.type_id,
            occurred_at_ms: valid.occurred_at_ms,
            primary: valid.primary,
            attributes: valid.attributes,
            idempotency_key: valid.idempotency_key,
        }
    }
}

/// Why an activity was skipped, with a Marketo error code (reference §2, §3.9).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// No type with this id or API name.
    #[error("Activity type '{0}' not found")]
    UnknownType(TypeRef),
    /// The type is a draft that was never approved.
    #[error("Activity type {0} is not approved")]
    TypeNotApproved(TypeId),
    /// The type is deleted.
    #[error("Activity type {0} is deleted")]
    TypeDeleted(TypeId),
    /// The occurrence time is outside years 0001..=9999.
    #[error("Invalid value '{0}' for 'activityDate': out of range")]
    ActivityDateOutOfRange(i64),
    /// No primary attribute value.
    #[error("Missing value for the required parameter 'primaryAttributeValue' ({0})")]
    MissingPrimary(String),
    /// No such attribute in the type's approved version.
    #[error("Field '{0}' not found")]
    UnknownAttribute(String),
    /// The primary attribute was given among the secondary ones.
    #[error("Field '{0}' is the primary attribute; send it as 'primaryAttributeValue'")]
    PrimaryInAttributes(String),
    /// The same attribute was given twice.
    #[error("Field '{0}' is given more than once")]
    DuplicateAttribute(String),
    /// A value does not fit its attribute's data type.
    #[error("Field '{attribute}': {problem}")]
    InvalidValue {
        /// The attribute's API name.
        attribute: String,
        /// What is wrong with the value.
        problem: InvalidValue,
    },
    /// The attribute values are too long in total.
    #[error("Attributes array too long: {bytes} bytes, at most {max}")]
    AttributesTooLong {
        /// Their size.
        bytes: usize,
        /// The bound.
        max: usize,
    },
    /// The idempotency key is empty or too long.
    #[error("Invalid idempotency key: {0}")]
    InvalidIdempotencyKey(&'static str),
    /// The idempotency key was already recorded; the engine reports the original id.
    #[error("Duplicate of activity {0} (same idempotency key)")]
    Duplicate(ActivityId),
}

impl SkipReason {
    /// The Marketo error code, as Marketo clients compare it (a quoted integer).
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::UnknownType(_) => "1013",
            SkipReason::ActivityDateOutOfRange(_) | SkipReason::InvalidValue { .. } => "1001",
            SkipReason::MissingPrimary(_) => "1002",
            SkipReason::UnknownAttribute(_) => "1006",
            SkipReason::AttributesTooLong { .. } => "1049",
            SkipReason::TypeNotApproved(_)
            | SkipReason::TypeDeleted(_)
            | SkipReason::PrimaryInAttributes(_)
            | SkipReason::DuplicateAttribute(_)
            | SkipReason::InvalidIdempotencyKey(_)
            | SkipReason::Duplicate(_) => "1003",
        }
    }

    /// The message (same as `Display`).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl Catalog {
    /// Validates an activity against its type's approved version, collecting every
    /// reason to skip it rather than stopping at the first.
    ///
    /// # Errors
    ///
    /// Every [`SkipReason`] that applies, in input order.
    pub fn validate(&self, input: &NewActivity) -> Result<ValidActivity, Vec<SkipReason>> {
        let mut valid = self.validate_parts(
            Head {
                person: input.person,
                activity_type: &input.activity_type,
                occurred_at_ms: input.occurred_at_ms,
                idempotency_key: input.idempotency_key.as_deref(),
            },
            input.primary.as_ref(),
            input.attributes.iter().map(|(a, v)| (a, v)),
        )?;
        valid.idempotency_key = input.idempotency_key.clone();
        Ok(valid)
    }

    /// As [`Catalog::validate`], consuming the input so that its strings move into the
    /// valid activity instead of being copied: what an ingest that owns its input uses.
    ///
    /// # Errors
    ///
    /// As [`Catalog::validate`].
    pub fn validate_owned(&self, input: NewActivity) -> Result<ValidActivity, Vec<SkipReason>> {
        let mut valid = self.validate_parts(
            Head {
                person: input.person,
                activity_type: &input.activity_type,
                occurred_at_ms: input.occurred_at_ms,
                idempotency_key: input.idempotency_key.as_deref(),
            },
            input.primary,
            input.attributes.into_iter(),
        )?;
        valid.idempotency_key = input.idempotency_key;
        Ok(valid)
    }

    /// The checks of [`Catalog::validate`], over values borrowed or owned. The valid
    /// activity has no idempotency key; the caller moves or copies it in.
    fn validate_parts<R, J>(
        &self,
        head: Head<'_>,
        primary: Option<J>,
        attributes: impl ExactSizeIterator<Item = (R, J)>,
    ) -> Result<ValidActivity, Vec<SkipReason>>
    where
        R: std::borrow::Borrow<AttrRef>,
        J: JsonInput,
    {
        let mut reasons = Vec::new();
        if !(DATETIME_MIN_MS..=DATETIME_MAX_MS).contains(&head.occurred_at_ms) {
            reasons.push(SkipReason::ActivityDateOutOfRange(head.occurred_at_ms));
        }
        if let Some(key) = head.idempotency_key {
            if key.is_empty() {
                reasons.push(SkipReason::InvalidIdempotencyKey("empty"));
            } else if key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
                reasons.push(SkipReason::InvalidIdempotencyKey("longer than 255 bytes"));
            }
        }
        let ty = match head.activity_type {
            TypeRef::Id(id) => self.get(*id),
            TypeRef::ApiName(n) => self.by_api_name(n),
        };
        let Some(ty) = ty else {
            reasons.push(SkipReason::UnknownType(head.activity_type.clone()));
            return Err(reasons);
        };
        if ty.status() == crate::TypeStatus::Deleted {
            reasons.push(SkipReason::TypeDeleted(ty.id()));
            return Err(reasons);
        }
        let Some(version) = ty.approved() else {
            reasons.push(SkipReason::TypeNotApproved(ty.id()));
            return Err(reasons);
        };

        let primary = match primary.filter(|v| !v.is_null()) {
            None => {
                reasons.push(SkipReason::MissingPrimary(version.primary.api_name.clone()));
                None
            }
            Some(v) => match v.parse(version.primary.data_type) {
                Ok(v) => Some(v),
                Err(problem) => {
                    reasons.push(SkipReason::InvalidValue {
                        attribute: version.primary.api_name.clone(),
                        problem,
                    });
                    None
                }
            },
        };

        let mut valid_attributes: Vec<(AttributeId, Value)> = Vec::with_capacity(attributes.len());
        let mut seen = Positions::default();
        let mut bytes = 0usize;
        for (attr_ref, json) in attributes {
            let attr_ref: &AttrRef = attr_ref.borrow();
            // By position among the version's attributes (the primary first), which is
            // what `seen` records.
            let by_api_name = |n: &str| version.find_attribute(|a| a.api_name == n);
            let by_name = |n: &str| version.find_attribute(|a| a.name == n);
            let found = match attr_ref {
                AttrRef::ApiName(n) => by_api_name(n),
                AttrRef::Name(n) => by_name(n),
                AttrRef::ApiNameOrName(n) => by_api_name(n).or_else(|| by_name(n)),
            };
            let Some((at, attr)) = found else {
                reasons.push(SkipReason::UnknownAttribute(shorten(attr_ref.as_str())));
                continue;
            };
            if attr.is_primary {
                reasons.push(SkipReason::PrimaryInAttributes(attr.api_name.clone()));
                continue;
            }
            if !seen.insert(at) {
                reasons.push(SkipReason::DuplicateAttribute(attr.api_name.clone()));
                continue;
            }
            if json.is_null() {
                continue;
            }
            match json.parse(attr.data_type) {
                Ok(v) => {
                    bytes += attr.name.len() + v.json_len_bytes();
                    valid_attributes.push((attr.id, v));
                }
                Err(problem) => reasons.push(SkipReason::InvalidValue {
                    attribute: attr.api_name.clone(),
                    problem,
                }),
            }
        }
        if bytes > ATTRIBUTES_BYTES_MAX {
            reasons.push(SkipReason::AttributesTooLong {
                bytes,
                max: ATTRIBUTES_BYTES_MAX,
            });
        }
        match primary {
            Some(primary) if reasons.is_empty() => {
                valid_attributes.sort_by_key(|(id, _)| *id);
                Ok(ValidActivity {
                    person: head.person,
                    type_id: ty.id(),
                    occurred_at_ms: head.occurred_at_ms,
                    primary,
                    attributes: valid_attributes,
                    idempotency_key: None,
                })
            }
            _ => Err(reasons),
        }
    }
}

/// The positions of the attributes an activity has named so far: one bit each for the
/// first 64, so checking for a repeat allocates nothing (a version has at most
/// `ATTRIBUTES_MAX` + 1 attributes), and a list for any past them.
#[derive(Default)]
struct Positions {
    low: u64,
    high: Vec<usize>,
}

impl Positions {
    /// Records `at`; false if it was recorded already.
    fn insert(&mut self, at: usize) -> bool {
        if at < 64 {
            let bit = 1u64 << at;
            let new = self.low & bit == 0;
            self.low |= bit;
            new
        } else if self.high.contains(&at) {
            false
        } else {
            self.high.push(at);
            true
        }
    }
}

/// What validation reads besides the values.
struct Head<'a> {
    person: PersonId,
    activity_type: &'a TypeRef,
    occurred_at_ms: i64,
    idempotency_key: Option<&'a str>,
}

/// A JSON value given to validation, borrowed (copied if valid) or owned (moved).
trait JsonInput {
    fn is_null(&self) -> bool;
    fn parse(self, data_type: DataType) -> Result<Value, InvalidValue>;
}

impl JsonInput for &Json {
    fn is_null(&self) -> bool {
        Json::is_null(self)
    }

    fn parse(self, data_type: DataType) -> Result<Value, InvalidValue> {
        Value::parse(data_type, self)
    }
}

impl JsonInput for Json {
    fn is_null(&self) -> bool {
        Json::is_null(self)
    }

    fn parse(self, data_type: DataType) -> Result<Value, InvalidValue> {
        Value::parse_owned(data_type, self)
    }
}

#[cfg(test)]
mod tests {
    use super::Positions;

    #[test]
    fn positions_report_repeats_below_and_past_64() {
        let mut seen = Positions::default();
        for at in [0, 5, 63, 64, 200] {
            assert!(seen.insert(at), "{at} is new");
        }
        for at in [0, 5, 63, 64, 200] {
            assert!(!seen.insert(at), "{at} is a repeat");
        }
        assert!(seen.insert(1));
        assert!(seen.insert(65));
    }
}
