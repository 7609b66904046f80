//! Arbitrary text as one line of `actlog ingest` input: parsed as Marketo activity JSON and
//! validated against the standard catalog. A valid activity must survive the record codec
//! unchanged.
#![no_main]

use actlog_model::{codec, marketo, Activity, ActivityId, Catalog};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(activity) = marketo::parse_activity_str(text) else {
        return;
    };
    let catalog = Catalog::new();
    let Ok(valid) = catalog.validate(&activity) else {
        return;
    };
    let Ok(bytes) = codec::encode_activity(&valid) else {
        return;
    };
    let decoded =
        codec::decode_activity(ActivityId(3), &bytes).expect("a record the codec wrote decodes");
    assert_eq!(decoded, Activity::from_valid(ActivityId(3), valid));
});
