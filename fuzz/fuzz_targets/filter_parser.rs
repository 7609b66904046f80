//! Arbitrary text as a filter and a smart list, in the text syntax and in JSON, then
//! resolved against the standard catalog: an error or a value, never a panic.
#![no_main]

use actlog_model::Catalog;
use actlog_query::{
    parse_filter, parse_smart_list, resolve, resolve_smart_list, Filter, SmartList,
};
use libfuzzer_sys::fuzz_target;

/// 2026-01-01T00:00:00Z, so relative times resolve the same way in every run.
const NOW_MS: i64 = 1_767_225_600_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let catalog = Catalog::new();
    if let Ok(filter) = parse_filter(&text) {
        let _ = resolve(&filter, &catalog, NOW_MS);
    }
    if let Ok(list) = parse_smart_list(&text) {
        let _ = resolve_smart_list(&list, &catalog, NOW_MS);
    }
    if let Ok(filter) = Filter::from_json(&text) {
        let _ = resolve(&filter, &catalog, NOW_MS);
    }
    if let Ok(list) = SmartList::from_json(&text) {
        let _ = resolve_smart_list(&list, &catalog, NOW_MS);
    }
});
