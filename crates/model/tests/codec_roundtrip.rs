//! The record codec: round trips, compactness, and that no bytes make the decoders panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actlog_model::codec::{
    decode_activity, decode_activity_view, decode_activity_view_with, decode_event,
    encode_activity, encode_event, encode_recorded_into,
};
use actlog_model::time::{DATETIME_MAX_MS, DATETIME_MIN_MS, DATE_MAX_DAYS, DATE_MIN_DAYS};
use actlog_model::{
    Activity, ActivityId, Attribute, AttributeId, CatalogEvent, DataType, Error, PersonId, TypeId,
    TypeVersion, ValidActivity, Value,
};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let finite = any::<f64>().prop_filter("finite", |f| f.is_finite());
    prop_oneof![
        "\\PC{0,30}".prop_map(Value::String),
        "\\PC{0,60}".prop_map(Value::Text),
        any::<i32>().prop_map(Value::Integer),
        finite.clone().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
        (DATE_MIN_DAYS..=DATE_MAX_DAYS).prop_map(Value::Date),
        (DATETIME_MIN_MS..=DATETIME_MAX_MS).prop_map(Value::Datetime),
        "[a-z]{1,8}@[a-z]{1,8}\\.com".prop_map(Value::Email),
        "https://[a-z]{1,12}/[a-z]{0,12}".prop_map(Value::Link),
        "\\+[0-9]{6,12}".prop_map(Value::Phone),
        finite.prop_map(Value::Currency),
    ]
}

fn valid_activity() -> impl Strategy<Value = ValidActivity> {
    (
        any::<u64>(),
        any::<u32>(),
        DATETIME_MIN_MS..=DATETIME_MAX_MS,
        value(),
        proptest::collection::btree_map(any::<u16>(), value(), 0..=20),
        proptest::option::of("[a-zA-Z0-9-]{1,40}"),
    )
        .prop_map(|(person, type_id, ts, primary, attrs, key)| ValidActivity {
            person: PersonId(person),
            type_id: TypeId(type_id),
            occurred_at_ms: ts,
            primary,
            attributes: attrs
                .into_iter()
                .map(|(k, v)| (AttributeId(k), v))
                .collect(),
            idempotency_key: key,
        })
}

fn attribute(is_primary: bool) -> impl Strategy<Value = Attribute> {
    (
        any::<u16>(),
        "[a-zA-Z]{1,12}",
        "\\PC{1,12}",
        proptest::option::of("\\PC{0,20}"),
        0..11usize,
        any::<bool>(),
    )
        .prop_map(
            move |(id, api_name, name, description, t, indexed)| Attribute {
                id: AttributeId(id),
                api_name,
                name,
                description,
                data_type: DataType::ALL[t],
                is_primary,
                indexed,
            },
        )
}

fn version() -> impl Strategy<Value = TypeVersion> {
    (
        "\\PC{1,20}",
        proptest::option::of("\\PC{0,40}"),
        "\\PC{1,20}",
        "\\PC{1,20}",
        attribute(true),
        proptest::collection::vec(attribute(false), 0..=20),
    )
        .prop_map(
            |(name, description, trigger_name, filter_name, primary, attributes)| TypeVersion {
                name,
                description,
                trigger_name,
                filter_name,
                primary,
                attributes,
            },
        )
}

fn event() -> impl Strategy<Value = CatalogEvent> {
    let id = any::<u32>().prop_map(TypeId);
    let at = any::<i64>();
    prop_oneof![
        (id.clone(), "[a-zA-Z]{1,20}", version(), any::<u16>(), at).prop_map(
            |(type_id, api_name, draft, n, at_ms)| {
                CatalogEvent::TypeCreated {
                    type_id,
                    api_name,
                    draft,
                    next_attribute_id: AttributeId(n),
                    at_ms,
                }
            }
        ),
        (id.clone(), version(), any::<u16>(), at).prop_map(|(type_id, draft, n, at_ms)| {
            CatalogEvent::DraftChanged {
                type_id,
                draft,
                next_attribute_id: AttributeId(n),
                at_ms,
            }
        }),
        (id.clone(), at).prop_map(|(type_id, at_ms)| CatalogEvent::Approved { type_id, at_ms }),
        (id.clone(), at)
            .prop_map(|(type_id, at_ms)| CatalogEvent::DraftDiscarded { type_id, at_ms }),
        (id, at).prop_map(|(type_id, at_ms)| CatalogEvent::Deleted { type_id, at_ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn activity_round_trip(a in valid_activity(), id in any::<u64>()) {
        let bytes = encode_activity(&a).unwrap();
        let decoded = decode_activity(ActivityId(id), &bytes).unwrap();
        prop_assert_eq!(&decoded, &Activity::from_valid(ActivityId(id), a));
        // A recorded activity encodes back to the bytes it came from.
        let mut again = Vec::new();
        encode_recorded_into(&decoded, &mut again);
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn values_handed_over_while_decoding_are_the_views(
        a in valid_activity(),
        pos in any::<usize>(),
        bit in 0u8..8,
    ) {
        // Intact and with one bit flipped: the one-pass decode accepts exactly what the
        // view decode does, and hands over the values the view holds, in its order.
        let intact = encode_activity(&a).unwrap();
        let mut flipped = intact.clone();
        let flip = pos % flipped.len();
        flipped[flip] ^= 1 << bit;
        for bytes in [intact, flipped] {
            let mut seen = Vec::new();
            let with = decode_activity_view_with(ActivityId(5), &bytes, |id, v| seen.push((id, v)));
            let view = decode_activity_view(ActivityId(5), &bytes);
            prop_assert_eq!(with.is_ok(), view.is_ok());
            if let (Ok(with), Ok(view)) = (with, view) {
                prop_assert_eq!(&seen, &view.attributes.iter().collect::<Vec<_>>());
                prop_assert_eq!(with.to_activity(), view.to_activity());
            }
        }
    }

    #[test]
    fn event_round_trip(e in event()) {
        let bytes = encode_event(&e).unwrap();
        prop_assert_eq!(decode_event(&bytes).unwrap(), e);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_activity(ActivityId(0), &bytes);
        let _ = decode_event(&bytes);
        let mut with_version = vec![1u8];
        with_version.extend_from_slice(&bytes);
        let _ = decode_activity(ActivityId(0), &with_version);
        let _ = decode_event(&with_version);
    }

    #[test]
    fn damaged_records_never_panic(a in valid_activity(), e in event(), pos in any::<usize>(), bit in 0u8..8, cut in any::<usize>()) {
        let activity = encode_activity(&a).unwrap();
        let ev = encode_event(&e).unwrap();
        // A strict prefix of a record is never a record.
        prop_assert!(decode_activity(ActivityId(1), &activity[..cut % activity.len()]).is_err());
        prop_assert!(decode_event(&ev[..cut % ev.len()]).is_err());
        for mut bytes in [activity, ev] {
            let flip = pos % bytes.len();
            bytes[flip] ^= 1 << bit;
            let _ = decode_activity(ActivityId(1), &bytes);
            let _ = decode_event(&bytes);
        }
    }
}

fn example() -> ValidActivity {
    ValidActivity {
        person: PersonId(73_412),
        type_id: TypeId(100_001),
        occurred_at_ms: 1_764_000_000_000,
        primary: Value::String("Game Giveaway Form 01".into()),
        attributes: vec![
            (
                AttributeId(2),
                Value::Link("https://example.com/webinar".into()),
            ),
            (AttributeId(3), Value::Integer(42)),
            (AttributeId(4), Value::Currency(125.5)),
        ],
        idempotency_key: None,
    }
}

#[test]
fn records_are_compact() {
    let bytes = encode_activity(&example()).unwrap();
    // person, type, time, a 21-byte primary and three attributes.
    assert!(bytes.len() <= 110, "{} bytes", bytes.len());
    assert_eq!(bytes.len(), 88);
}

#[test]
fn corruption_errors_say_what_and_where() {
    let mut bytes = encode_activity(&example()).unwrap();
    bytes.push(0);
    match decode_activity(ActivityId(7), &bytes) {
        Err(Error::CorruptActivity {
            id,
            len_bytes,
            reason,
        }) => {
            assert_eq!(id, ActivityId(7));
            assert_eq!(len_bytes, bytes.len());
            assert!(reason.contains("trailing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    bytes[0] = 9;
    let err = decode_activity(ActivityId(7), &bytes).unwrap_err();
    assert!(
        err.to_string().contains("unknown format version 9"),
        "{err}"
    );
    assert!(matches!(
        decode_activity(ActivityId(7), &[]),
        Err(Error::CorruptActivity { .. })
    ));
    assert!(matches!(
        decode_event(&[1, 200]),
        Err(Error::CorruptEvent { .. })
    ));
}

#[test]
fn decoded_values_are_checked() {
    let mut a = example();
    a.primary = Value::Float(f64::NAN);
    let bytes = encode_activity(&a).unwrap();
    let err = decode_activity(ActivityId(3), &bytes).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
}
