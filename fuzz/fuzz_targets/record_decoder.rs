//! Arbitrary bytes as a stored activity and as a stored catalog event: decoding returns a
//! typed error or a value, never panics, and never allocates past the input's bounds.
#![no_main]

use actlog_model::{codec, ActivityId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(activity) = codec::decode_activity(ActivityId(7), data) {
        // A decoded activity carries the id it was asked for.
        assert_eq!(activity.id, ActivityId(7));
    }
    let _ = codec::decode_event(data);
});
