//! The persisted forms of activities and catalog events.
//!
//! A record is one format-version byte followed by the bincode 2 (`config::standard()`:
//! little-endian varints) encoding of a versioned record type that lives only here, so
//! the domain types can change without changing the bytes on disk. Activity records are
//! encoded and decoded by hand (`activity`, `wire`), byte for byte what bincode would
//! write, because they are the hot path; catalog events go through serde (`event`).
//! Activity format 1:
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
//! A varint is one byte below 251, else a marker 251, 252 or 253 and a little-endian
//! `u16`, `u32` or `u64`. A tagged value is a varint tag (0 string, 1 text, 2 integer,
//! 3 float, 4 boolean, 5 date, 6 datetime, 7 email, 8 link, 9 phone, 10 currency) then
//! the value: strings as varint length and UTF-8, integers and dates as zigzag varints,
//! floats as 8 bytes, booleans as one byte. Values carry their tag so a record decodes
//! without the catalog. Tags and fields are append-only: a change means a new format
//! version, and decoders keep reading every older one.
//!
//! Decoding never panics and never allocates more than the record's length: bytes that
//! do not decode, trailing bytes and decoded values that break an invariant are typed
//! corruption errors.

mod activity;
mod event;
mod wire;

pub use activity::{
    decode_activity, decode_activity_view, decode_activity_view_if, decode_activity_view_tested,
    decode_activity_view_with, encode_activity, encode_activity_into, encode_recorded_into,
    peek_activity, ActivityView, AttributesIter, AttributesView,
};
pub use event::{decode_event, encode_event, encode_event_into};

use crate::value::DataType;

/// The activity record format this version writes.
pub const ACTIVITY_FORMAT_VERSION: u8 = 1;
/// The catalog event format this version writes.
pub const EVENT_FORMAT_VERSION: u8 = 1;
/// Largest record either decoder accepts, in bytes: 21 text values of 64 KiB fit.
pub const RECORD_BYTES_MAX: usize = 4 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<RECORD_BYTES_MAX>()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::ValidActivity;
    use crate::ids::{ActivityId, AttributeId, PersonId, TypeId};
    use crate::value::Value;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::borrow::Cow;

    /// The serde form the hand-written codec must match byte for byte.
    #[derive(Serialize)]
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

    #[derive(Serialize)]
    struct ActivityRecordV1<'a> {
        person: u64,
        type_id: u32,
        occurred_at_ms: i64,
        primary: StoredValue<'a>,
        attributes: Vec<(u16, StoredValue<'a>)>,
        idempotency_key: Option<Cow<'a, str>>,
    }

    fn stored(v: &Value) -> StoredValue<'_> {
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

    fn bincode_encoding(a: &ValidActivity) -> Vec<u8> {
        let record = ActivityRecordV1 {
            person: a.person.0,
            type_id: a.type_id.0,
            occurred_at_ms: a.occurred_at_ms,
            primary: stored(&a.primary),
            attributes: a
                .attributes
                .iter()
                .map(|(id, v)| (id.0, stored(v)))
                .collect(),
            idempotency_key: a.idempotency_key.as_deref().map(Cow::Borrowed),
        };
        let mut out = vec![ACTIVITY_FORMAT_VERSION];
        out.extend(bincode::serde::encode_to_vec(&record, config()).unwrap());
        out
    }

    fn value() -> impl Strategy<Value = Value> {
        let text = "[a-zA-Z0-9 é✓]{0,300}";
        prop_oneof![
            text.prop_map(Value::String),
            text.prop_map(Value::Text),
            any::<i32>().prop_map(Value::Integer),
            (-1e300f64..1e300).prop_map(Value::Float),
            any::<bool>().prop_map(Value::Boolean),
            (-719_162i32..2_932_896).prop_map(Value::Date),
            (-62_135_596_800_000i64..253_402_300_799_999).prop_map(Value::Datetime),
            text.prop_map(Value::Email),
            text.prop_map(Value::Link),
            text.prop_map(Value::Phone),
            (-1e12f64..1e12).prop_map(Value::Currency),
        ]
    }

    fn activity() -> impl Strategy<Value = ValidActivity> {
        (
            any::<u64>(),
            any::<u32>(),
            -62_135_596_800_000i64..253_402_300_799_999,
            value(),
            proptest::collection::btree_map(any::<u16>(), value(), 0..8),
            proptest::option::of("[a-z0-9-]{1,40}"),
        )
            .prop_map(|(person, ty, at, primary, attrs, key)| ValidActivity {
                person: PersonId(person),
                type_id: TypeId(ty),
                occurred_at_ms: at,
                primary,
                attributes: attrs
                    .into_iter()
                    .map(|(id, v)| (AttributeId(id), v))
                    .collect(),
                idempotency_key: key,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn hand_written_activity_codec_is_bincode(a in activity()) {
            let ours = encode_activity(&a).unwrap();
            prop_assert_eq!(&ours, &bincode_encoding(&a));
            let view = decode_activity_view(ActivityId(5), &ours).unwrap();
            prop_assert_eq!(view.attributes.len(), a.attributes.len());
            for (id, v) in &a.attributes {
                prop_assert_eq!(view.attributes.get(*id), Some(v.as_ref()));
                // Ids between and around the present ones are absent, also when the
                // values before them are stepped over.
                for near in [id.0.wrapping_sub(1), id.0.wrapping_add(1)] {
                    let expected = a.attributes.iter().find(|(x, _)| x.0 == near).map(|(_, v)| v.as_ref());
                    prop_assert_eq!(view.attributes.get(AttributeId(near)), expected);
                }
            }
            prop_assert_eq!(
                peek_activity(&ours),
                Some((a.person, a.type_id, a.occurred_at_ms))
            );
            // The test before the check sees the same values as the checked view.
            let mut seen = None;
            let tested = decode_activity_view_tested(ActivityId(5), &ours, |_, _, _| true, |v| {
                let attributes: Vec<_> = v.attributes.iter().collect();
                let got: Vec<_> = a.attributes.iter().map(|(id, _)| v.attributes.get(*id)).collect();
                seen = Some((v.person, v.type_id, v.occurred_at_ms, v.primary.to_value(), attributes.len(), got));
                true
            });
            prop_assert_eq!(tested.unwrap().map(|v| v.to_activity()), Some(view.to_activity()));
            let expected: Vec<_> = a.attributes.iter().map(|(_, v)| Some(v.as_ref())).collect();
            prop_assert_eq!(
                seen,
                Some((a.person, a.type_id, a.occurred_at_ms, a.primary.clone(), a.attributes.len(), expected))
            );
            prop_assert_eq!(decode_activity(ActivityId(5), &ours).unwrap(), view.to_activity());
            prop_assert_eq!(view.to_activity(), crate::Activity::from_valid(ActivityId(5), a));
        }

        /// The one-pass owned decoder accepts exactly the records the view decoder
        /// accepts, with the same reason when it refuses one, for cut and damaged bytes.
        #[test]
        fn owned_and_view_decoders_agree_on_damaged_records(
            a in activity(),
            cut in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let ours = encode_activity(&a).unwrap();
            let mut damaged = ours.clone();
            let i = at.index(damaged.len());
            damaged[i] = byte;
            let short = &ours[..cut.index(ours.len())];
            for bytes in [&damaged[..], short] {
                let owned = decode_activity(ActivityId(7), bytes);
                let view = decode_activity_view(ActivityId(7), bytes);
                // Keeping every header decodes as the view decoder does; keeping none
                // fails only when the header itself does not read.
                let kept = decode_activity_view_if(ActivityId(7), bytes, |_, _, _| true);
                prop_assert_eq!(
                    kept.map(|v| v.map(|v| v.to_activity())).map_err(|e| e.to_string()),
                    view.as_ref().map(|v| Some(v.to_activity())).map_err(|e| e.to_string())
                );
                let mut header = None;
                let skipped = decode_activity_view_if(ActivityId(7), bytes, |p, t, at| {
                    header = Some((p, t, at));
                    false
                });
                match &skipped {
                    Ok(None) => prop_assert_eq!(header, peek_activity(bytes)),
                    Ok(Some(_)) => prop_assert!(false, "a rejected header was decoded"),
                    Err(_) => prop_assert!(header.is_none() && view.is_err()),
                }
                // Tested before it is checked: a record both tests keep decodes as the
                // view decoder says; one the second test rejects is never returned, and
                // is an error only when its header or primary value does not read.
                // The test may read the unchecked values every way a view offers.
                let read_all = |v: &crate::codec::ActivityView<'_>| {
                    let values: Vec<_> = v.attributes.iter().collect();
                    assert!(values.len() <= v.attributes.len());
                    for i in 0..4 {
                        let _ = v.attributes.get(AttributeId(i));
                    }
                };
                let kept = decode_activity_view_tested(ActivityId(7), bytes, |_, _, _| true, |v| {
                    read_all(v);
                    true
                });
                prop_assert_eq!(
                    kept.map(|v| v.map(|v| v.to_activity())).map_err(|e| e.to_string()),
                    view.as_ref().map(|v| Some(v.to_activity())).map_err(|e| e.to_string())
                );
                match decode_activity_view_tested(ActivityId(7), bytes, |_, _, _| true, |v| {
                    read_all(v);
                    false
                }) {
                    Ok(None) => {}
                    Ok(Some(_)) => prop_assert!(false, "a rejected record was decoded"),
                    Err(e) => prop_assert_eq!(Some(e.to_string()), view.as_ref().err().map(|e| e.to_string())),
                }
                match (owned, view) {
                    (Ok(owned), Ok(view)) => prop_assert_eq!(owned, view.to_activity()),
                    (Err(o), Err(v)) => prop_assert_eq!(o.to_string(), v.to_string()),
                    (o, v) => prop_assert!(false, "owned {:?}, view {:?}", o, v.map(|v| v.to_activity())),
                }
            }
        }
    }

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
