//! The persisted forms of activities and catalog events.
//!
//! A record is one format-version byte followed by a bincode 2 (`config::standard()`:
//! little-endian varints) encoding of a versioned record type that lives only here, so
//! the domain types can change without changing the bytes on disk. Format 1:
//!
//! | field | encoding |
//! |---|---|
//! | version | `u8` = 1 |
//! | person | varint `u64` |
//! | type id | varint `u32` |
//! | occurred at (ms) | zigzag varint `i64` |
//! | primary value | tagged value (below) |
//! | attributes | varint count, then (varint `u16` id, tagged value) in ascending id order |
//! | idempotency key | `0`, or `1` then varint length and UTF-8 |
//!
//! A tagged value is a varint tag (the position of its data type in `StoredValue`:
//! 0 string, 1 text, 2 integer, 3 float, 4 boolean, 5 date, 6 datetime, 7 email, 8 link,
//! 9 phone, 10 currency) then the value: strings as varint length and UTF-8, integers and
//! dates as zigzag varints, floats as 8 bytes, booleans as one byte. Values carry their
//! tag so a record decodes without the catalog. Tags and fields are append-only: a change
//! means a new format version, and decoders keep reading every older one.
//!
//! Decoding never panics and never allocates more than the record's length: bytes that
//! do not decode, trailing bytes and decoded values that break an invariant are typed
//! corruption errors.

use crate::activity::{Activity, ValidActivity, IDEMPOTENCY_KEY_BYTES_MAX};
use crate::activity_type::{Attribute, TypeVersion, ATTRIBUTES_MAX};
use crate::catalog::CatalogEvent;
use crate::error::{Error, Result};
use crate::ids::{ActivityId, AttributeId, PersonId, TypeId};
use crate::value::{DataType, Value};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The activity record format this version writes.
pub const ACTIVITY_FORMAT_VERSION: u8 = 1;
/// The catalog event format this version writes.
pub const EVENT_FORMAT_VERSION: u8 = 1;
/// Largest record either decoder accepts, in bytes: 21 text values of 64 KiB fit.
pub const RECORD_BYTES_MAX: usize = 4 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<RECORD_BYTES_MAX>()
}

/// A value as stored: its variant index is its data type tag.
#[derive(Serialize, Deserialize)]
enum StoredValue<'a> {
    String(Cow<'a, str>),
    Text(Cow<'a, str>),
    Integer(i32),
    Float(f64),
    Boolean(bool),
    Date(i32),
    Datetime(i64),
    Email(Cow<'a, str>),
    Link(Cow<'a, str>),
    Phone(Cow<'a, str>),
    Currency(f64),
}

impl<'a> From<&'a Value> for StoredValue<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::String(s) => StoredValue::String(Cow::Borrowed(s)),
            Value::Text(s) => StoredValue::Text(Cow::Borrowed(s)),
            Value::Integer(i) => StoredValue::Integer(*i),
            Value::Float(f) => StoredValue::Float(*f),
            Value::Boolean(b) => StoredValue::Boolean(*b),
            Value::Date(d) => StoredValue::Date(*d),
            Value::Datetime(ms) => StoredValue::Datetime(*ms),
            Value::Email(s) => StoredValue::Email(Cow::Borrowed(s)),
            Value::Link(s) => StoredValue::Link(Cow::Borrowed(s)),
            Value::Phone(s) => StoredValue::Phone(Cow::Borrowed(s)),
            Value::Currency(f) => StoredValue::Currency(*f),
        }
    }
}

impl StoredValue<'_> {
    fn into_value(self) -> Value {
        match self {
            StoredValue::String(s) => Value::String(s.into_owned()),
            StoredValue::Text(s) => Value::Text(s.into_owned()),
            StoredValue::Integer(i) => Value::Integer(i),
            StoredValue::Float(f) => Value::Float(f),
            StoredValue::Boolean(b) => Value::Boolean(b),
            StoredValue::Date(d) => Value::Date(d),
            StoredValue::Datetime(ms) => Value::Datetime(ms),
            StoredValue::Email(s) => Value::Email(s.into_owned()),
            StoredValue::Link(s) => Value::Link(s.into_owned()),
            StoredValue::Phone(s) => Value::Phone(s.into_owned()),
            StoredValue::Currency(f) => Value::Currency(f),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct ActivityRecordV1<'a> {
    person: u64,
    type_id: u32,
    occurred_at_ms: i64,
    primary: StoredValue<'a>,
    attributes: Vec<(u16, StoredValue<'a>)>,
    idempotency_key: Option<Cow<'a, str>>,
}

/// Appends the encoding of `activity` to `out`.
///
/// # Errors
///
/// [`Error::Encode`] only if bincode fails, which it does not for in-memory output.
pub fn encode_activity_into(activity: &ValidActivity, out: &mut Vec<u8>) -> Result<()> {
    debug_assert!(activity.attributes.windows(2).all(|w| w[0].0 < w[1].0));
    let record = ActivityRecordV1 {
        person: activity.person.0,
        type_id: activity.type_id.0,
        occurred_at_ms: activity.occurred_at_ms,
        primary: StoredValue::from(&activity.primary),
        attributes: activity
            .attributes
            .iter()
            .map(|(id, v)| (id.0, StoredValue::from(v)))
            .collect(),
        idempotency_key: activity.idempotency_key.as_deref().map(Cow::Borrowed),
    };
    out.push(ACTIVITY_FORMAT_VERSION);
    bincode::serde::encode_into_std_write(&record, out, config())
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(())
}

/// The encoding of `activity`.
///
/// # Errors
///
/// See [`encode_activity_into`].
pub fn encode_activity(activity: &ValidActivity) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    encode_activity_into(activity, &mut out)?;
    Ok(out)
}

/// Decodes the activity record with id `id` (its log offset, used in errors).
///
/// # Errors
///
/// [`Error::CorruptActivity`] if the bytes are not a well-formed record.
pub fn decode_activity(id: ActivityId, bytes: &[u8]) -> Result<Activity> {
    let corrupt = |reason: String| Error::CorruptActivity {
        id,
        len_bytes: bytes.len(),
        reason,
    };
    if bytes.len() > RECORD_BYTES_MAX {
        return Err(corrupt(format!("longer than {RECORD_BYTES_MAX} bytes")));
    }
    let Some((&version, body)) = bytes.split_first() else {
        return Err(corrupt("empty record".into()));
    };
    if version != ACTIVITY_FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {version}")));
    }
    let (record, read): (ActivityRecordV1<'static>, usize) =
        bincode::serde::decode_from_slice(body, config()).map_err(|e| corrupt(e.to_string()))?;
    if read != body.len() {
        return Err(corrupt(format!("{} trailing bytes", body.len() - read)));
    }
    if record.attributes.len() > ATTRIBUTES_MAX {
        return Err(corrupt(format!("{} attributes", record.attributes.len())));
    }
    if !record.attributes.windows(2).all(|w| w[0].0 < w[1].0) {
        return Err(corrupt("attribute ids not in ascending order".into()));
    }
    if let Some(key) = &record.idempotency_key {
        if key.is_empty() || key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
            return Err(corrupt("idempotency key of invalid length".into()));
        }
    }
    let primary = record.primary.into_value();
    primary
        .check_stored()
        .map_err(|r| corrupt(format!("primary value: {r}")))?;
    let mut attributes = Vec::with_capacity(record.attributes.len());
    for (attr_id, v) in record.attributes {
        let v = v.into_value();
        v.check_stored()
            .map_err(|r| corrupt(format!("attribute {attr_id}: {r}")))?;
        attributes.push((AttributeId(attr_id), v));
    }
    if !(crate::time::DATETIME_MIN_MS..=crate::time::DATETIME_MAX_MS)
        .contains(&record.occurred_at_ms)
    {
        return Err(corrupt("occurrence time out of range".into()));
    }
    Ok(Activity {
        id,
        person: PersonId(record.person),
        type_id: TypeId(record.type_id),
        occurred_at_ms: record.occurred_at_ms,
        primary,
        attributes,
        idempotency_key: record.idempotency_key.map(Cow::into_owned),
    })
}

#[derive(Serialize, Deserialize)]
struct AttributeV1 {
    id: u16,
    api_name: String,
    name: String,
    description: Option<String>,
    /// [`data_type_code`].
    data_type: u8,
    is_primary: bool,
    indexed: bool,
}

#[derive(Serialize, Deserialize)]
struct VersionV1 {
    name: String,
    description: Option<String>,
    trigger_name: String,
    filter_name: String,
    primary: AttributeV1,
    attributes: Vec<AttributeV1>,
}

#[derive(Serialize, Deserialize)]
enum EventRecordV1 {
    TypeCreated {
        type_id: u32,
        api_name: String,
        draft: VersionV1,
        next_attribute_id: u16,
        at_ms: i64,
    },
    DraftChanged {
        type_id: u32,
        draft: VersionV1,
        next_attribute_id: u16,
        at_ms: i64,
    },
    Approved {
        type_id: u32,
        at_ms: i64,
    },
    DraftDiscarded {
        type_id: u32,
        at_ms: i64,
    },
    Deleted {
        type_id: u32,
        at_ms: i64,
    },
}

/// The stored code of a data type; the same numbering as value tags.
fn data_type_code(t: DataType) -> u8 {
    match t {
        DataType::String => 0,
        DataType::Text => 1,
        DataType::Integer => 2,
        DataType::Float => 3,
        DataType::Boolean => 4,
        DataType::Date => 5,
        DataType::Datetime => 6,
        DataType::Email => 7,
        DataType::Link => 8,
        DataType::Phone => 9,
        DataType::Currency => 10,
    }
}

fn data_type_from_code(code: u8) -> Option<DataType> {
    DataType::ALL.get(usize::from(code)).copied()
}

fn attribute_to_v1(a: &Attribute) -> AttributeV1 {
    AttributeV1 {
        id: a.id.0,
        api_name: a.api_name.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        data_type: data_type_code(a.data_type),
        is_primary: a.is_primary,
        indexed: a.indexed,
    }
}

fn version_to_v1(v: &TypeVersion) -> VersionV1 {
    VersionV1 {
        name: v.name.clone(),
        description: v.description.clone(),
        trigger_name: v.trigger_name.clone(),
        filter_name: v.filter_name.clone(),
        primary: attribute_to_v1(&v.primary),
        attributes: v.attributes.iter().map(attribute_to_v1).collect(),
    }
}

fn attribute_from_v1(a: AttributeV1) -> Result<Attribute, String> {
    Ok(Attribute {
        id: AttributeId(a.id),
        data_type: data_type_from_code(a.data_type)
            .ok_or_else(|| format!("unknown data type code {}", a.data_type))?,
        api_name: a.api_name,
        name: a.name,
        description: a.description,
        is_primary: a.is_primary,
        indexed: a.indexed,
    })
}

fn version_from_v1(v: VersionV1) -> Result<TypeVersion, String> {
    if v.attributes.len() > ATTRIBUTES_MAX {
        return Err(format!("{} attributes", v.attributes.len()));
    }
    Ok(TypeVersion {
        name: v.name,
        description: v.description,
        trigger_name: v.trigger_name,
        filter_name: v.filter_name,
        primary: attribute_from_v1(v.primary)?,
        attributes: v
            .attributes
            .into_iter()
            .map(attribute_from_v1)
            .collect::<Result<_, _>>()?,
    })
}

/// Appends the encoding of a catalog event to `out`.
///
/// # Errors
///
/// [`Error::Encode`] only if bincode fails, which it does not for in-memory output.
pub fn encode_event_into(event: &CatalogEvent, out: &mut Vec<u8>) -> Result<()> {
    let record = match event {
        CatalogEvent::TypeCreated {
            type_id,
            api_name,
            draft,
            next_attribute_id,
            at_ms,
        } => EventRecordV1::TypeCreated {
            type_id: type_id.0,
            api_name: api_name.clone(),
            draft: version_to_v1(draft),
            next_attribute_id: next_attribute_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::DraftChanged {
            type_id,
            draft,
            next_attribute_id,
            at_ms,
        } => EventRecordV1::DraftChanged {
            type_id: type_id.0,
            draft: version_to_v1(draft),
            next_attribute_id: next_attribute_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::Approved { type_id, at_ms } => EventRecordV1::Approved {
            type_id: type_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::DraftDiscarded { type_id, at_ms } => EventRecordV1::DraftDiscarded {
            type_id: type_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::Deleted { type_id, at_ms } => EventRecordV1::Deleted {
            type_id: type_id.0,
            at_ms: *at_ms,
        },
    };
    out.push(EVENT_FORMAT_VERSION);
    bincode::serde::encode_into_std_write(&record, out, config())
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(())
}

/// The encoding of a catalog event.
///
/// # Errors
///
/// See [`encode_event_into`].
pub fn encode_event(event: &CatalogEvent) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    encode_event_into(event, &mut out)?;
    Ok(out)
}

/// Decodes a catalog event. Whether it fits the catalog is [`crate::Catalog::apply`]'s
/// business.
///
/// # Errors
///
/// [`Error::CorruptEvent`] if the bytes are not a well-formed event.
pub fn decode_event(bytes: &[u8]) -> Result<CatalogEvent> {
    let corrupt = |reason: String| Error::CorruptEvent {
        len_bytes: bytes.len(),
        reason,
    };
    if bytes.len() > RECORD_BYTES_MAX {
        return Err(corrupt(format!("longer than {RECORD_BYTES_MAX} bytes")));
    }
    let Some((&version, body)) = bytes.split_first() else {
        return Err(corrupt("empty record".into()));
    };
    if version != EVENT_FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {version}")));
    }
    let (record, read): (EventRecordV1, usize) =
        bincode::serde::decode_from_slice(body, config()).map_err(|e| corrupt(e.to_string()))?;
    if read != body.len() {
        return Err(corrupt(format!("{} trailing bytes", body.len() - read)));
    }
    Ok(match record {
        EventRecordV1::TypeCreated {
            type_id,
            api_name,
            draft,
            next_attribute_id,
            at_ms,
        } => CatalogEvent::TypeCreated {
            type_id: TypeId(type_id),
            api_name,
            draft: version_from_v1(draft).map_err(corrupt)?,
            next_attribute_id: AttributeId(next_attribute_id),
            at_ms,
        },
        EventRecordV1::DraftChanged {
            type_id,
            draft,
            next_attribute_id,
            at_ms,
        } => CatalogEvent::DraftChanged {
            type_id: TypeId(type_id),
            draft: version_from_v1(draft).map_err(corrupt)?,
            next_attribute_id: AttributeId(next_attribute_id),
            at_ms,
        },
        EventRecordV1::Approved { type_id, at_ms } => CatalogEvent::Approved {
            type_id: TypeId(type_id),
            at_ms,
        },
        EventRecordV1::DraftDiscarded { type_id, at_ms } => CatalogEvent::DraftDiscarded {
            type_id: TypeId(type_id),
            at_ms,
        },
        EventRecordV1::Deleted { type_id, at_ms } => CatalogEvent::Deleted {
            type_id: TypeId(type_id),
            at_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_type_codes_match_value_tags() {
        for (i, t) in DataType::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(data_type_code(t)), i);
            assert_eq!(data_type_from_code(i as u8), Some(t));
        }
        assert_eq!(data_type_from_code(11), None);
    }

    #[test]
    fn value_tag_is_the_data_type_code() {
        let v = ValidActivity {
            person: PersonId(1),
            type_id: TypeId(1),
            occurred_at_ms: 0,
            primary: Value::Currency(1.0),
            attributes: vec![],
            idempotency_key: None,
        };
        let bytes = encode_activity(&v).unwrap();
        // version, person, type, time, then the primary's tag.
        assert_eq!(bytes[..5], [1, 1, 1, 0, 10]);
    }
}
