//! Arbitrary bytes as a stored activity and as a stored catalog event: decoding returns a
//! typed error or a value, never panics, and never allocates past the input's bounds; the
//! in-place view, the owned decode and the header peek agree whenever a record decodes;
//! a test given the unchecked view reads every value without panicking, and a record it
//! keeps decodes exactly as the view decoder says.
#![no_main]

use actlog_model::{codec, ActivityId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = codec::decode_activity_view(ActivityId(7), data);
    match codec::decode_activity(ActivityId(7), data) {
        Ok(activity) => {
            // A decoded activity carries the id it was asked for.
            assert_eq!(activity.id, ActivityId(7));
            let view = view
                .as_ref()
                .expect("the view decodes what the owned decode does");
            assert_eq!(view.to_activity(), activity);
            assert_eq!(
                codec::peek_activity(data),
                Some((activity.person, activity.type_id, activity.occurred_at_ms))
            );
        }
        Err(_) => assert!(view.is_err()),
    }
    let tested = codec::decode_activity_view_tested(
        ActivityId(7),
        data,
        |_, _, _| true,
        |v| {
            let read = v.attributes.iter().count();
            let found = (0..8u16)
                .filter(|&i| v.attributes.get(actlog_model::AttributeId(i)).is_some())
                .count();
            // Keep some records and not others, by what the test read.
            (read + found + data.len()) % 2 == 0
        },
    );
    if let Ok(Some(kept)) = tested {
        let view = view
            .as_ref()
            .expect("a kept record is a record the view decoder decodes");
        assert_eq!(kept.to_activity(), view.to_activity());
    }
    let _ = codec::decode_event(data);
});
