//! Arbitrary bytes as a stored activity and as a stored catalog event: decoding returns a
//! typed error or a value, never panics, and never allocates past the input's bounds; the
//! in-place view, the owned decode and the header peek agree whenever a record decodes.
#![no_main]

use actlog_model::{codec, ActivityId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = codec::decode_activity_view(ActivityId(7), data);
    match codec::decode_activity(ActivityId(7), data) {
        Ok(activity) => {
            // A decoded activity carries the id it was asked for.
            assert_eq!(activity.id, ActivityId(7));
            let view = view.expect("the view decodes what the owned decode does");
            assert_eq!(view.to_activity(), activity);
            assert_eq!(
                codec::peek_activity(data),
                Some((activity.person, activity.type_id, activity.occurred_at_ms))
            );
        }
        Err(_) => assert!(view.is_err()),
    }
    let _ = codec::decode_event(data);
});
