//! The write path: validate, dedupe, encode, and hand one batch to the log.
//!
//! Validation and encoding run on the caller's thread, so concurrent callers use every
//! core; the log then writes each batch with one write call and concurrent batches share
//! one fdatasync (its group commit). Idempotency keys are reserved before the write and
//! resolved after it (see `dedupe`).

use std::collections::HashMap;
use std::ops::Range;

use actlog_log::Offset;
use actlog_model::{codec, ActivityId, NewActivity, SkipReason};

use crate::dedupe::Seen;
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::Outcome;

/// An item that passed validation and is encoded into the batch buffer.
struct Encoded {
    item: usize,
    bytes: Range<usize>,
    occurred_at_ms: i64,
    key: Option<String>,
}

pub(crate) fn append_batch(inner: &Inner, items: Vec<NewActivity>) -> Result<Vec<Outcome>> {
    inner.check_open()?;
    let max = inner.options.batch_items_max;
    if items.len() > max {
        return Err(Error::BatchTooLarge {
            items: items.len(),
            max,
        });
    }
    if items.iter().any(|item| item.idempotency_key.is_some()) {
        inner.dedupe.ensure_loaded(&inner.activities)?;
    }
    let catalog = inner.catalog.snapshot();
    let record_bytes_max = inner.options.record_bytes_max as usize;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
    let mut buffer = Vec::with_capacity(items.len() * 128);
    let mut encoded: Vec<Encoded> = Vec::with_capacity(items.len());
    // Keys reserved by this call, and items that repeat a key of this call.
    let mut reserved_here: HashMap<String, usize> = HashMap::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    // Items whose key another append holds; settled after this call's own write.
    let mut deferred: Vec<(usize, NewActivity)> = Vec::new();

    for (i, item) in items.into_iter().enumerate() {
        // An item with a key may have to wait for another append holding it, and is
        // validated again then, so it stays whole; every other item gives its strings
        // to the valid activity instead of having them copied.
        let (valid, kept) = if item.idempotency_key.is_some() {
            (catalog.validate(&item), Some(item))
        } else {
            (catalog.validate_owned(item), None)
        };
        let valid = match valid {
            Ok(valid) => valid,
            Err(reasons) => {
                outcomes[i] = Some(Outcome::Skipped { reasons });
                continue;
            }
        };
        if let Some(key) = &valid.idempotency_key {
            if let Some(&first) = reserved_here.get(key) {
                repeats.push((i, first));
                continue;
            }
            match inner.dedupe.try_reserve(key) {
                Seen::Recorded(id) => {
                    outcomes[i] = Some(Outcome::Duplicate { id });
                    continue;
                }
                Seen::Pending => {
                    if let Some(item) = kept {
                        deferred.push((i, item));
                    }
                    continue;
                }
                Seen::Reserved => {
                    reserved_here.insert(key.clone(), i);
                }
            }
        }
        let start = buffer.len();
        if let Err(err) = codec::encode_activity_into(&valid, &mut buffer) {
            buffer.truncate(start);
            if let Some(key) = &valid.idempotency_key {
                inner.dedupe.release([key.as_str()]);
                reserved_here.remove(key);
            }
            return Err(release_all(inner, &reserved_here, err));
        }
        if buffer.len() - start > record_bytes_max {
            let len = buffer.len() - start;
            buffer.truncate(start);
            if let Some(key) = &valid.idempotency_key {
                inner.dedupe.release([key.as_str()]);
                reserved_here.remove(key);
            }
            outcomes[i] = Some(Outcome::Skipped {
                reasons: vec![SkipReason::AttributesTooLong {
                    bytes: len,
                    max: record_bytes_max,
                }],
            });
            continue;
        }
        encoded.push(Encoded {
            item: i,
            bytes: start..buffer.len(),
            occurred_at_ms: valid.occurred_at_ms,
            key: valid.idempotency_key,
        });
    }

    write(inner, &buffer, &encoded, &mut outcomes)?;
    for (i, first) in repeats {
        outcomes[i] = match outcomes[first].as_ref().and_then(Outcome::id) {
            Some(id) => Some(Outcome::Duplicate { id }),
            None => outcomes[first].clone(),
        };
    }
    if !deferred.is_empty() {
        settle_deferred(inner, deferred, &mut outcomes)?;
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.ok_or_else(|| Error::Internal(format!("append left item {i} without an outcome")))
        })
        .collect()
}

/// Releases every key this call reserved, after an error that recorded nothing.
fn release_all(
    inner: &Inner,
    reserved: &HashMap<String, usize>,
    err: actlog_model::Error,
) -> Error {
    inner.dedupe.release(reserved.keys().map(String::as_str));
    Error::Model(err)
}

/// Writes the encoded items as one log batch and fills in their outcomes.
fn write(
    inner: &Inner,
    buffer: &[u8],
    encoded: &[Encoded],
    outcomes: &mut [Option<Outcome>],
) -> Result<()> {
    if encoded.is_empty() {
        return Ok(());
    }
    let records: Vec<(&[u8], i64)> = encoded
        .iter()
        .map(|e| (&buffer[e.bytes.clone()], e.occurred_at_ms))
        .collect();
    let range = match inner.activities.append_batch(&records) {
        Ok(range) => range,
        Err(err) => {
            inner
                .dedupe
                .release(encoded.iter().filter_map(|e| e.key.as_deref()));
            return Err(Error::activities(err));
        }
    };
    debug_assert_eq!(range.end.0 - range.start.0, encoded.len() as u64);
    let mut keys = Vec::new();
    for (n, e) in encoded.iter().enumerate() {
        let id = ActivityId(range.start.0 + n as u64);
        outcomes[e.item] = Some(Outcome::Added { id });
        if let Some(key) = &e.key {
            keys.push((key.clone(), id));
        }
    }
    inner.dedupe.resolve(keys, ActivityId(range.end.0));
    inner.appended(Offset(range.end.0));
    Ok(())
}

/// Items whose key was held by a concurrent append: wait for it (holding no reservation of
/// our own), then either report the duplicate or record the item after all.
fn settle_deferred(
    inner: &Inner,
    deferred: Vec<(usize, NewActivity)>,
    outcomes: &mut [Option<Outcome>],
) -> Result<()> {
    for (i, item) in deferred {
        let Some(key) = &item.idempotency_key else {
            continue;
        };
        match inner.dedupe.check_and_reserve(key) {
            Seen::Recorded(id) => outcomes[i] = Some(Outcome::Duplicate { id }),
            Seen::Reserved | Seen::Pending => {
                let catalog = inner.catalog.snapshot();
                let valid = match catalog.validate(&item) {
                    Ok(valid) => valid,
                    Err(reasons) => {
                        inner.dedupe.release([key.as_str()]);
                        outcomes[i] = Some(Outcome::Skipped { reasons });
                        continue;
                    }
                };
                let mut buffer = Vec::with_capacity(128);
                if let Err(err) = codec::encode_activity_into(&valid, &mut buffer) {
                    inner.dedupe.release([key.as_str()]);
                    return Err(Error::Model(err));
                }
                let encoded = [Encoded {
                    item: i,
                    bytes: 0..buffer.len(),
                    occurred_at_ms: valid.occurred_at_ms,
                    key: Some(key.clone()),
                }];
                write(inner, &buffer, &encoded, outcomes)?;
            }
        }
    }
    Ok(())
}
