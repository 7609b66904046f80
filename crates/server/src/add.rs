//! The add-activities body and answer, read and written in one pass without a `Value` tree.
//!
//! An add call carries up to 300 activities; building each as a `serde_json::Value` (a
//! `BTreeMap` of owned keys per item and per attribute) and then dropping it costs more
//! than everything else the HTTP layer does. So the body is deserialized by visitors that
//! check each item as it is read: member names are matched without being copied, the
//! date is parsed from the borrowed text, and only the values the backend keeps (the
//! primary and attribute values, names, keys) become owned. Every item still gets the
//! same checks, in the same order and with the same messages, as the member-by-member
//! rules of Marketo's reference require; an item that fails is skipped with its reason.

use crate::api::{ApiError, ErrorCode};
use crate::backend::{ActivityInput, AppendOutcome, AttributeValueInput};
use crate::time::parse_datetime;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Activities per add call (Marketo's limit).
pub(crate) const ADD_ITEMS_MAX: usize = 300;
/// Largest serialized attribute list of one activity (Marketo's 1049 limit).
pub(crate) const ATTRIBUTES_BYTES_MAX: usize = 65_536;
/// How many times longer serde_json's compact form of a JSON text can be than the text.
/// Strings never grow (every escape it writes is at most as long as the one it read) and
/// whitespace only shrinks; a number's round-trip form is at most about 4.5 times its
/// text (`9e15` is written `9000000000000000.0`). So a list whose text is at most
/// `ATTRIBUTES_BYTES_MAX / COMPACT_GROWTH_MAX` bytes is within the limit without measuring.
const COMPACT_GROWTH_MAX: usize = 8;

/// Visitor methods for every JSON value that is not an object: the value is skipped and
/// `$fallback` is the answer.
macro_rules! non_object {
    ($fallback:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($fallback)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($fallback)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($fallback)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($fallback)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($fallback)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($fallback)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($fallback)
        }
    };
}

/// Visitor methods that turn every JSON value but a string or an array into a `Value`
/// and answer `$wrap` of it.
macro_rules! others_as_value {
    ($wrap:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok($wrap(Value::deserialize(MapAccessDeserializer::new(map))?))
        }
    };
}

/// What the `input` member of an add call held.
#[derive(Debug)]
pub(crate) enum AddInput {
    /// Absent or `null` (or the body is not an object).
    Missing,
    /// Something other than an array.
    NotArray(Value),
    /// The items, each checked; only the first [`ADD_ITEMS_MAX`] are parsed.
    Items {
        /// The checked items, at most [`ADD_ITEMS_MAX`].
        items: Vec<Result<ActivityInput, ApiError>>,
        /// How many items the array held.
        count: usize,
    },
}

/// The body of `POST /rest/v1/activities/external.json`.
#[derive(Debug)]
pub(crate) struct AddBody(pub AddInput);

impl<'de> Deserialize<'de> for AddBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = AddBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with an `input` array")
    }

    non_object!(AddBody(AddInput::Missing));

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddBody, A::Error> {
        let mut input = AddInput::Missing;
        while let Some(key) = map.next_key::<Member>()? {
            if key.0 == "input" {
                input = map.next_value::<InputMember>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(AddBody(input))
    }
}

/// An object member name, borrowed from the body when it has no escapes.
struct Member<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor).and_then(|t| match t {
            Text::Str(s) => Ok(Member(s)),
            Text::Other(_) => Err(de::Error::custom("object keys are strings")),
        })
    }
}

/// A member that should be a string: the text (borrowed when it has no escapes), or
/// whatever else was sent, for the error message.
enum Text<'a> {
    Str(Cow<'a, str>),
    Other(Value),
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(v.to_owned())))
    }

    others_as_value!(Text::Other);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
        Ok(Text::Other(Value::deserialize(
            SeqAccessDeserializer::new(seq),
        )?))
    }
}

/// The `input` member: the items, or what was sent instead of an array.
struct InputMember(AddInput);

impl InputMember {
    /// `null` is as good as absent; anything else that is not an array is refused.
    fn from_value(v: Value) -> InputMember {
        InputMember(match v {
            Value::Null => AddInput::Missing,
            other => AddInput::NotArray(other),
        })
    }
}

impl<'de> Deserialize<'de> for InputMember {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = InputMember;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of activities")
    }

    others_as_value!(InputMember::from_value);

    fn visit_str<E: de::Error>(self, v: &str) -> Result<InputMember, E> {
        Ok(InputMember::from_value(Value::String(v.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<InputMember, A::Error> {
        let mut items = Vec::new();
        while items.len() < ADD_ITEMS_MAX {
            match seq.next_element::<Item>()? {
                Some(item) => items.push(item.0),
                None => {
                    let count = items.len();
                    return Ok(InputMember(AddInput::Items { items, count }));
                }
            }
        }
        // Past the limit the call is refused as a whole; the rest is only counted.
        let mut count = items.len();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(InputMember(AddInput::Items { items, count }))
    }
}

/// One item of `input`, checked: the activity, or why it is skipped.
struct Item(Result<ActivityInput, ApiError>);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

/// An item's members as sent; a later duplicate replaces an earlier one, as in a JSON map.
#[derive(Default)]
struct ItemMembers<'a> {
    lead_id: Option<Value>,
    activity_type_id: Option<Value>,
    activity_date: Option<Text<'a>>,
    primary_attribute_value: Option<Value>,
    primary_attribute_value_id: Option<Value>,
    campaign_id: Option<Value>,
    idempotency_key: Option<Value>,
    attributes: Option<&'a RawValue>,
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an activity object")
    }

    non_object!(Item(Err(ApiError::invalid_data(
        "Activity must be a JSON object"
    ))));

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut m = ItemMembers::default();
        while let Some(key) = map.next_key::<Member<'de>>()? {
            match key.0.as_ref() {
                "leadId" => m.lead_id = Some(map.next_value()?),
                "activityTypeId" => m.activity_type_id = Some(map.next_value()?),
                "activityDate" => m.activity_date = Some(map.next_value()?),
                "primaryAttributeValue" => m.primary_attribute_value = Some(map.next_value()?),
                "primaryAttributeValueId" => {
                    m.primary_attribute_value_id = Some(map.next_value()?);
                }
                "campaignId" => m.campaign_id = Some(map.next_value()?),
                "idempotencyKey" => m.idempotency_key = Some(map.next_value()?),
                "attributes" => m.attributes = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Item(check_item(m)))
    }
}

fn integer<T: TryFrom<u64> + TryFrom<i64>>(
    v: Option<&Value>,
    kind: &str,
) -> Result<Option<T>, ApiError> {
    let bad = |v: &Value| ApiError::invalid_value(&crate::render::value_text(v), kind);
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                T::try_from(u).map(Some).map_err(|_| bad(v))
            } else if let Some(i) = n.as_i64() {
                T::try_from(i).map(Some).map_err(|_| bad(v))
            } else {
                Err(bad(v))
            }
        }
        Some(v @ Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(u) => T::try_from(u).map(Some).map_err(|_| bad(v)),
            Err(_) => Err(bad(v)),
        },
        Some(v) => Err(bad(v)),
    }
}

fn required<T>(v: Result<Option<T>, ApiError>, name: &str) -> Result<T, ApiError> {
    v?.ok_or_else(|| ApiError::missing(name))
}

fn optional_text(v: Option<Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(ApiError::invalid_value(&v.to_string(), "string")),
    }
}

/// [`optional_text`] for a member read as [`Text`] (names: no `Value` built for them).
fn optional_owned_text(v: Option<Text<'_>>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Text::Other(Value::Null)) => Ok(None),
        Some(Text::Str(s)) => Ok(Some(s.into_owned())),
        Some(Text::Other(v)) => Err(ApiError::invalid_value(&v.to_string(), "string")),
    }
}

/// Checks one item's members in a fixed order, so the reason given for an item with
/// several faults does not depend on the order its members were sent in.
fn check_item(m: ItemMembers<'_>) -> Result<ActivityInput, ApiError> {
    let lead_id = required(integer::<u64>(m.lead_id.as_ref(), "integer"), "leadId")?;
    let type_id = required(
        integer::<u32>(m.activity_type_id.as_ref(), "integer"),
        "activityTypeId",
    )?;
    let occurred_at_ms = match m.activity_date {
        None | Some(Text::Other(Value::Null)) => return Err(ApiError::missing("activityDate")),
        Some(Text::Str(s)) => {
            parse_datetime(&s).ok_or_else(|| ApiError::invalid_value(&s, "datetime"))?
        }
        Some(Text::Other(v)) => return Err(ApiError::invalid_value(&v.to_string(), "datetime")),
    };
    let primary_attribute_value = match m.primary_attribute_value {
        None | Some(Value::Null) => return Err(ApiError::missing("primaryAttributeValue")),
        Some(v) => v,
    };
    let primary_attribute_value_id =
        integer::<u64>(m.primary_attribute_value_id.as_ref(), "integer")?;
    let campaign_id = integer::<u64>(m.campaign_id.as_ref(), "integer")?;
    let idempotency_key = optional_text(m.idempotency_key)?;
    let attributes = match m.attributes {
        None => Vec::new(),
        Some(raw) => attributes(raw)?,
    };
    Ok(ActivityInput {
        lead_id,
        occurred_at_ms,
        type_id,
        primary_attribute_value,
        primary_attribute_value_id,
        campaign_id,
        attributes,
        idempotency_key,
    })
}

/// A text that already parsed once failed to parse again: a bug, not a client error.
fn reparse_error(e: &serde_json::Error) -> ApiError {
    ApiError::new(ErrorCode::SystemError, format!("Cannot re-read JSON: {e}"))
}

/// Counts bytes written, to measure a serialization without keeping it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the compact serialization of the JSON text `text` exceeds [`ATTRIBUTES_BYTES_MAX`].
fn attributes_too_long(text: &str) -> Result<bool, ApiError> {
    if text.len() <= ATTRIBUTES_BYTES_MAX / COMPACT_GROWTH_MAX {
        return Ok(false);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| reparse_error(&e))?;
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, &value).map_err(|e| reparse_error(&e))?;
    Ok(counter.0 > ATTRIBUTES_BYTES_MAX)
}

/// The `attributes` member: `null`, or an array within the size limit of attribute objects.
fn attributes(raw: &RawValue) -> Result<Vec<AttributeValueInput>, ApiError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'[') => {}
        Some(b'n') => return Ok(Vec::new()),
        _ => {
            let v: Value = serde_json::from_str(text).map_err(|e| reparse_error(&e))?;
            return Err(ApiError::invalid_value(&v.to_string(), "array"));
        }
    }
    if attributes_too_long(text)? {
        return Err(ApiError::new(
            ErrorCode::FailedToCreateActivity,
            "Attributes array too long. The array of attributes passed to the record exceeded the max length of 65536 bytes",
        ));
    }
    serde_json::from_str::<AttributeList>(text)
        .map_err(|e| reparse_error(&e))?
        .0
}

/// An attribute list, checked: the first faulty attribute skips the activity.
struct AttributeList(Result<Vec<AttributeValueInput>, ApiError>);

impl<'de> Deserialize<'de> for AttributeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(AttributeListVisitor)
    }
}

struct AttributeListVisitor;

impl<'de> Visitor<'de> for AttributeListVisitor {
    type Value = AttributeList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of attributes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AttributeList, A::Error> {
        let mut list = Vec::new();
        while let Some(Attribute(a)) = seq.next_element()? {
            match a {
                Ok(a) => list.push(a),
                Err(e) => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(AttributeList(Err(e)));
                }
            }
        }
        Ok(AttributeList(Ok(list)))
    }
}

/// One attribute object, checked.
struct Attribute(Result<AttributeValueInput, ApiError>);

impl<'de> Deserialize<'de> for Attribute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AttributeVisitor)
    }
}

struct AttributeVisitor;

impl<'de> Visitor<'de> for AttributeVisitor {
    type Value = Attribute;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute object")
    }

    non_object!(Attribute(Err(ApiError::invalid_data(
        "Attribute must be a JSON object"
    ))));

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attribute, A::Error> {
        let (mut name, mut api_name, mut value) = (None, None, None);
        while let Some(key) = map.next_key::<Member<'de>>()? {
            match key.0.as_ref() {
                "name" => name = Some(map.next_value::<Text<'de>>()?),
                "apiName" => api_name = Some(map.next_value::<Text<'de>>()?),
                "value" => value = Some(map.next_value::<Value>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Attribute(check_attribute(name, api_name, value)))
    }
}

fn check_attribute(
    name: Option<Text<'_>>,
    api_name: Option<Text<'_>>,
    value: Option<Value>,
) -> Result<AttributeValueInput, ApiError> {
    let name = optional_owned_text(name)?;
    let api_name = optional_owned_text(api_name)?;
    if name.is_none() && api_name.is_none() {
        return Err(ApiError::missing("attributes.apiName"));
    }
    let value = value.ok_or_else(|| ApiError::missing("attributes.value"))?;
    Ok(AttributeValueInput {
        name,
        api_name,
        value,
    })
}

/// Where one input item's result comes from.
#[derive(Debug)]
pub(crate) enum Slot {
    /// The outcome at this index of the backend's answer.
    Appended(usize),
    /// Skipped before reaching the backend, for this reason.
    Skipped(ApiError),
}

/// The `result` array of an add call: one entry per input item, in order, serialized
/// straight from the outcomes.
pub(crate) struct AddResults<'a> {
    /// One per input item.
    pub slots: &'a [Slot],
    /// The backend's outcomes, indexed by [`Slot::Appended`].
    pub outcomes: &'a [AppendOutcome],
}

impl AddResults<'_> {
    /// A generous estimate of the serialized size, to size the buffer once.
    pub(crate) fn bytes_hint(&self) -> usize {
        // `{"id":N,"marketoGUID":"N","status":"added"},` is at most 83 bytes (20-digit ids).
        self.slots.len().saturating_mul(84)
    }
}

impl Serialize for AddResults<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.slots.len()))?;
        for slot in self.slots {
            match slot {
                Slot::Appended(i) => match self.outcomes.get(*i) {
                    Some(o) => seq.serialize_element(&OutcomeJson(o))?,
                    None => seq.serialize_element(&())?,
                },
                Slot::Skipped(e) => seq.serialize_element(&SkippedJson(std::slice::from_ref(e)))?,
            }
        }
        seq.end()
    }
}

/// One outcome as Marketo shows it (members in the order the rest of the API sends them).
struct OutcomeJson<'a>(&'a AppendOutcome);

impl Serialize for OutcomeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AppendOutcome::Added { id } | AppendOutcome::Duplicate { id } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("id", id)?;
                // As a plain string: `format_args!` goes through the formatting machinery,
                // a third of the answer's cost at 300 results per call.
                m.serialize_entry("marketoGUID", itoa::Buffer::new().format(*id))?;
                m.serialize_entry("status", "added")?;
                m.end()
            }
            AppendOutcome::Skipped { reasons } => SkippedJson(reasons).serialize(s),
        }
    }
}

/// A skipped item. The reference is split on the key (`reasons` in the error-code docs,
/// `errors` in the add-activities example), so both are sent.
struct SkippedJson<'a>(&'a [ApiError]);

impl Serialize for SkippedJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("errors", &ErrorsJson(self.0))?;
        m.serialize_entry("reasons", &ErrorsJson(self.0))?;
        m.serialize_entry("status", "skipped")?;
        m.end()
    }
}

/// A list of `{code, message}` objects.
struct ErrorsJson<'a>(&'a [ApiError]);

impl Serialize for ErrorsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(&ErrorJson(e))?;
        }
        seq.end()
    }
}

struct ErrorJson<'a>(&'a ApiError);

impl Serialize for ErrorJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("code", self.0.code.as_str())?;
        m.serialize_entry("message", &self.0.message)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::{json, Map};

    /// The member-by-member checks as they were written over a parsed `Value`: the
    /// reference the one-pass parser must agree with.
    mod reference {
        use crate::api::{ApiError, ErrorCode};
        use crate::backend::{ActivityInput, AttributeValueInput};
        use crate::time::parse_datetime;
        use serde_json::{Map, Value};

        const ATTRIBUTES_BYTES_MAX: usize = super::ATTRIBUTES_BYTES_MAX;

        fn integer<T: TryFrom<u64> + TryFrom<i64>>(
            item: &Map<String, Value>,
            name: &str,
            kind: &str,
        ) -> Result<Option<T>, ApiError> {
            let bad = |v: &Value| ApiError::invalid_value(&crate::render::value_text(v), kind);
            match item.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v @ Value::Number(n)) => {
                    if let Some(u) = n.as_u64() {
                        T::try_from(u).map(Some).map_err(|_| bad(v))
                    } else if let Some(i) = n.as_i64() {
                        T::try_from(i).map(Some).map_err(|_| bad(v))
                    } else {
                        Err(bad(v))
                    }
                }
                Some(v @ Value::String(s)) => match s.trim().parse::<u64>() {
                    Ok(u) => T::try_from(u).map(Some).map_err(|_| bad(v)),
                    Err(_) => Err(bad(v)),
                },
                Some(v) => Err(bad(v)),
            }
        }

        fn required<T>(v: Result<Option<T>, ApiError>, name: &str) -> Result<T, ApiError> {
            v?.ok_or_else(|| ApiError::missing(name))
        }

        fn optional_text(
            item: &Map<String, Value>,
            name: &str,
        ) -> Result<Option<String>, ApiError> {
            match item.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(ApiError::invalid_value(&v.to_string(), "string")),
            }
        }

        /// Checks one input item's members; the backend checks them against the type.
        pub(super) fn parse_item(item: &Value) -> Result<ActivityInput, ApiError> {
            let Value::Object(item) = item else {
                return Err(ApiError::invalid_data("Activity must be a JSON object"));
            };
            let lead_id = required(integer::<u64>(item, "leadId", "integer"), "leadId")?;
            let type_id = required(
                integer::<u32>(item, "activityTypeId", "integer"),
                "activityTypeId",
            )?;
            let occurred_at_ms = match item.get("activityDate") {
                None | Some(Value::Null) => return Err(ApiError::missing("activityDate")),
                Some(Value::String(s)) => {
                    parse_datetime(s).ok_or_else(|| ApiError::invalid_value(s, "datetime"))?
                }
                Some(v) => return Err(ApiError::invalid_value(&v.to_string(), "datetime")),
            };
            let primary_attribute_value = match item.get("primaryAttributeValue") {
                None | Some(Value::Null) => return Err(ApiError::missing("primaryAttributeValue")),
                Some(v) => v.clone(),
            };
            let primary_attribute_value_id =
                integer::<u64>(item, "primaryAttributeValueId", "integer")?;
            let campaign_id = integer::<u64>(item, "campaignId", "integer")?;
            let idempotency_key = optional_text(item, "idempotencyKey")?;
            let attributes = match item.get("attributes") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(list)) => {
                    let bytes = serde_json::to_vec(list).map_or(usize::MAX, |v| v.len());
                    if bytes > ATTRIBUTES_BYTES_MAX {
                        return Err(ApiError::new(
                        ErrorCode::FailedToCreateActivity,
                        "Attributes array too long. The array of attributes passed to the record exceeded the max length of 65536 bytes",
                    ));
                    }
                    list.iter().map(parse_attribute).collect::<Result<_, _>>()?
                }
                Some(v) => return Err(ApiError::invalid_value(&v.to_string(), "array")),
            };
            Ok(ActivityInput {
                lead_id,
                occurred_at_ms,
                type_id,
                primary_attribute_value,
                primary_attribute_value_id,
                campaign_id,
                attributes,
                idempotency_key,
            })
        }

        fn parse_attribute(v: &Value) -> Result<AttributeValueInput, ApiError> {
            let Value::Object(m) = v else {
                return Err(ApiError::invalid_data("Attribute must be a JSON object"));
            };
            let name = optional_text(m, "name")?;
            let api_name = optional_text(m, "apiName")?;
            if name.is_none() && api_name.is_none() {
                return Err(ApiError::missing("attributes.apiName"));
            }
            let value = match m.get("value") {
                None => return Err(ApiError::missing("attributes.value")),
                Some(v) => v.clone(),
            };
            Ok(AttributeValueInput {
                name,
                api_name,
                value,
            })
        }
    }

    fn parse_text(text: &str) -> Result<ActivityInput, ApiError> {
        serde_json::from_str::<Item>(text).unwrap().0
    }

    fn parse_item(v: &Value) -> Result<ActivityInput, ApiError> {
        parse_text(&v.to_string())
    }

    fn body(text: &str) -> AddInput {
        serde_json::from_str::<AddBody>(text).unwrap().0
    }

    #[test]
    fn items_are_checked_member_by_member() {
        let ok = parse_item(&json!({"leadId": 5, "activityDate": "2016-09-26T06:56:35+07:00", "activityTypeId": 100001,
            "primaryAttributeValue": "Game", "attributes": [{"apiName": "uRL", "value": "http://x"}]}))
        .unwrap();
        assert_eq!(ok.lead_id, 5);
        assert_eq!(
            ok.occurred_at_ms,
            parse_datetime("2016-09-25T23:56:35Z").unwrap()
        );
        assert_eq!(ok.attributes[0].api_name.as_deref(), Some("uRL"));
        let e = |v: Value| parse_item(&v).unwrap_err();
        assert_eq!(
            e(
                json!({"activityDate": "2016-01-01", "activityTypeId": 1, "primaryAttributeValue": 1})
            ),
            ApiError::missing("leadId")
        );
        assert_eq!(e(json!({"leadId": -1})).code, ErrorCode::InvalidValue);
        assert_eq!(e(json!({"leadId": "x"})).code, ErrorCode::InvalidValue);
        assert_eq!(
            e(json!({"leadId": 1, "activityTypeId": 1, "activityDate": "yesterday"})).code,
            ErrorCode::InvalidValue
        );
        assert_eq!(
            e(json!({"leadId": 1, "activityTypeId": 1, "activityDate": "2016-01-01"})),
            ApiError::missing("primaryAttributeValue")
        );
        assert_eq!(e(json!([1])).code, ErrorCode::InvalidData);
        let big = "x".repeat(70_000);
        let err = e(
            json!({"leadId": 1, "activityTypeId": 1, "activityDate": "2016-01-01", "primaryAttributeValue": 1,
            "attributes": [{"name": "a", "value": big}]}),
        );
        assert_eq!(err.code, ErrorCode::FailedToCreateActivity);
    }

    #[test]
    fn escaped_member_names_and_dates_are_read_like_plain_ones() {
        let plain = parse_text(
            r#"{"leadId":1,"activityTypeId":2,"activityDate":"2016-01-01T00:00:00Z","primaryAttributeValue":"p"}"#,
        );
        let escaped = parse_text(
            r#"{"lead\u0049d":1,"activityTypeId":2,"activityDate":"2016-01-01T00:00:00\u005a","primaryAttributeValue":"p"}"#,
        );
        assert!(plain.is_ok());
        assert_eq!(plain, escaped);
    }

    #[test]
    fn a_later_duplicate_member_wins() {
        let a = parse_text(
            r#"{"leadId":"x","leadId":7,"activityTypeId":2,"activityDate":"2016-01-01","primaryAttributeValue":"p"}"#,
        )
        .unwrap();
        assert_eq!(a.lead_id, 7);
    }

    #[test]
    fn the_input_member_is_found_whatever_else_the_body_holds() {
        assert!(matches!(body("{}"), AddInput::Missing));
        assert!(matches!(body(r#"{"input":null}"#), AddInput::Missing));
        assert!(matches!(body("[1,2]"), AddInput::Missing));
        assert!(matches!(body("\"input\""), AddInput::Missing));
        match body(r#"{"input":{"a":[1]}}"#) {
            AddInput::NotArray(v) => assert_eq!(v, json!({"a": [1]})),
            other => panic!("{other:?}"),
        }
        match body(r#"{"input":"x"}"#) {
            AddInput::NotArray(v) => assert_eq!(v.to_string(), "\"x\""),
            other => panic!("{other:?}"),
        }
        match body(r#"{"x":{"input":[]},"input":[1,{"leadId":1}],"y":[[{}]]}"#) {
            AddInput::Items { items, count } => {
                assert_eq!(count, 2);
                assert_eq!(
                    items[0],
                    Err(ApiError::invalid_data("Activity must be a JSON object"))
                );
                assert_eq!(items[1], Err(ApiError::missing("activityTypeId")));
            }
            other => panic!("{other:?}"),
        }
        let many = format!(
            "{{\"input\":[{}]}}",
            vec!["{}"; ADD_ITEMS_MAX + 5].join(",")
        );
        match body(&many) {
            AddInput::Items { items, count } => {
                assert_eq!(items.len(), ADD_ITEMS_MAX);
                assert_eq!(count, ADD_ITEMS_MAX + 5);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_attribute_limit_counts_the_compact_form() {
        let item = |attrs: &str| {
            format!(
                r#"{{"leadId":1,"activityTypeId":2,"activityDate":"2016-01-01","primaryAttributeValue":"p","attributes":{attrs}}}"#
            )
        };
        // `[{"name":"a","value":"…"}]` is 25 bytes around the string.
        let exactly = format!(
            r#"[{{"name":"a","value":"{}"}}]"#,
            "x".repeat(ATTRIBUTES_BYTES_MAX - 25)
        );
        assert_eq!(exactly.len(), ATTRIBUTES_BYTES_MAX);
        assert!(parse_text(&item(&exactly)).is_ok());
        let over = format!(
            r#"[{{"name":"a","value":"{}"}}]"#,
            "x".repeat(ATTRIBUTES_BYTES_MAX - 24)
        );
        assert_eq!(
            parse_text(&item(&over)).unwrap_err().code,
            ErrorCode::FailedToCreateActivity
        );
        // Whitespace does not count; numbers count as serde_json writes them.
        let spaced = format!(
            r#"[ {{ "name" : "a" , "value" : "{}" }} ]"#,
            "x".repeat(ATTRIBUTES_BYTES_MAX - 25)
        );
        assert!(parse_text(&item(&spaced)).is_ok());
        let numbers = format!(
            "[{}]",
            vec![r#"{"name":"a","value":9e15}"#; 1_700].join(",")
        );
        assert!(numbers.len() < ATTRIBUTES_BYTES_MAX);
        assert_eq!(
            parse_text(&item(&numbers)).unwrap_err().code,
            ErrorCode::FailedToCreateActivity
        );
    }

    /// A random JSON value of the kinds clients send, good and bad.
    fn random_value(rng: &mut StdRng, depth: u32) -> Value {
        match rng.gen_range(0..14) {
            0 => Value::Null,
            1 => Value::Bool(rng.gen()),
            2 => json!(rng.gen_range(0..1_000_000u64)),
            3 => json!(-rng.gen_range(1..1_000i64)),
            4 => json!(u64::MAX - rng.gen_range(0..3u64)),
            5 => json!(rng.gen_range(-1e6..1e6f64)),
            6 => json!(format!(" {} ", rng.gen_range(0..5_000_000_000u64))),
            7 => json!("not a number"),
            8 => json!(
                [
                    "2016-01-01",
                    "2024-05-01T12:00:00Z",
                    "2016-09-26T06:56:35+07:00",
                    "yesterday",
                    "2024-13-01",
                    ""
                ][rng.gen_range(0..6)]
            ),
            9 => json!("caf\u{e9} \"quoted\" \\ \n tab\t"),
            10 => json!(9e15),
            11 if depth < 2 => Value::Array(
                (0..rng.gen_range(0..3))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            12 if depth < 2 => json!({"k": random_value(rng, depth + 1)}),
            _ => json!(rng.gen_range(0..100u32)),
        }
    }

    fn random_attributes(rng: &mut StdRng) -> Value {
        match rng.gen_range(0..8) {
            0 => Value::Null,
            1 => random_value(rng, 1),
            2 => {
                json!([{"apiName": "a", "value": "x".repeat(ATTRIBUTES_BYTES_MAX - 30 + rng.gen_range(0..8))}])
            }
            3 => json!([{"apiName": "a", "value": "\u{e9}".repeat(32_760 + rng.gen_range(0..8))}]),
            _ => Value::Array(
                (0..rng.gen_range(0..4))
                    .map(|_| {
                        if rng.gen_ratio(1, 10) {
                            return random_value(rng, 1);
                        }
                        let mut m = Map::new();
                        for name in ["name", "apiName", "value", "other"] {
                            if rng.gen_ratio(2, 3) {
                                let v = if rng.gen_ratio(2, 3) && name != "value" {
                                    json!(format!("attr{}", rng.gen_range(0..3)))
                                } else {
                                    random_value(rng, 1)
                                };
                                m.insert(name.to_owned(), v);
                            }
                        }
                        Value::Object(m)
                    })
                    .collect(),
            ),
        }
    }

    fn random_item(rng: &mut StdRng) -> Value {
        if rng.gen_ratio(1, 30) {
            return random_value(rng, 0);
        }
        let mut m = Map::new();
        let good: [(&str, Value); 8] = [
            ("leadId", json!(rng.gen_range(0..100_000u64))),
            ("activityTypeId", json!(rng.gen_range(100_000..100_010u32))),
            ("activityDate", json!("2024-05-01T12:00:00Z")),
            ("primaryAttributeValue", json!("/page/1")),
            ("primaryAttributeValueId", json!(rng.gen_range(0..10u64))),
            ("campaignId", json!(rng.gen_range(0..10u64))),
            (
                "idempotencyKey",
                json!(format!("k{}", rng.gen_range(0..10))),
            ),
            ("attributes", json!([{"apiName": "ms", "value": 5}])),
        ];
        for (name, value) in good {
            if rng.gen_ratio(1, 8) {
                continue;
            }
            let v = match rng.gen_range(0..10) {
                0 => random_value(rng, 0),
                1 if name == "attributes" => random_attributes(rng),
                _ => value,
            };
            m.insert(name.to_owned(), v);
        }
        Value::Object(m)
    }

    /// Serializes an object with its members in a random order (the order a client chose).
    fn shuffled_text(rng: &mut StdRng, v: &Value) -> String {
        let Value::Object(m) = v else {
            return v.to_string();
        };
        let mut members: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
            .collect();
        for i in (1..members.len()).rev() {
            members.swap(i, rng.gen_range(0..=i));
        }
        format!("{{{}}}", members.join(","))
    }

    #[test]
    fn one_pass_checks_agree_with_the_value_checks() {
        for seed in 0..3_000u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let item = random_item(&mut rng);
            let text = shuffled_text(&mut rng, &item);
            assert_eq!(
                parse_text(&text),
                reference::parse_item(&item),
                "seed {seed}: {}",
                text.chars().take(300).collect::<String>()
            );
        }
    }

    #[test]
    fn results_are_written_as_the_value_envelope_wrote_them() {
        let outcomes = vec![
            AppendOutcome::Added { id: 7 },
            AppendOutcome::Duplicate { id: 3 },
            AppendOutcome::Skipped {
                reasons: vec![ApiError::new(
                    ErrorCode::FieldNotFound,
                    "Field 'x' \"not\" found",
                )],
            },
        ];
        let slots = vec![
            Slot::Appended(0),
            Slot::Skipped(ApiError::missing("leadId")),
            Slot::Appended(1),
            Slot::Appended(2),
        ];
        let results = AddResults {
            slots: &slots,
            outcomes: &outcomes,
        };
        let text = serde_json::to_string(&results).unwrap();
        assert_eq!(
            text,
            json!([
                {"id": 7, "marketoGUID": "7", "status": "added"},
                {"status": "skipped", "reasons": [{"code": "1002", "message": "Missing value for the required parameter 'leadId'"}],
                 "errors": [{"code": "1002", "message": "Missing value for the required parameter 'leadId'"}]},
                {"id": 3, "marketoGUID": "3", "status": "added"},
                {"status": "skipped", "reasons": [{"code": "1006", "message": "Field 'x' \"not\" found"}],
                 "errors": [{"code": "1006", "message": "Field 'x' \"not\" found"}]},
            ])
            .to_string()
        );
        let added: Vec<AppendOutcome> = (0..ADD_ITEMS_MAX)
            .map(|_| AppendOutcome::Added { id: u64::MAX })
            .collect();
        let slots: Vec<Slot> = (0..ADD_ITEMS_MAX).map(Slot::Appended).collect();
        let results = AddResults {
            slots: &slots,
            outcomes: &added,
        };
        let text = serde_json::to_string(&results).unwrap();
        assert!(text.len() <= results.bytes_hint(), "{}", text.len());
    }
}
