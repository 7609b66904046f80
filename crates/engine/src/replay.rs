//! Streaming reads of the activities log in id order.

use std::sync::Arc;

use actlog_log::{Log, LogIter, Offset};
use actlog_model::{codec, Activity, ActivityId};

use crate::error::{Error, Result};

/// Every activity of a range of ids, in id order, decoded one at a time (constant memory).
///
/// Created by [`Engine::replay`](crate::Engine::replay). It ends at the end of the log as
/// it was when the replay was created; [`Engine::subscribe`](crate::Engine::subscribe)
/// follows new activities too.
#[derive(Debug)]
pub struct Replay {
    records: LogIter,
    // Keeps the log alive for as long as the iterator reads it.
    _log: Arc<Log>,
}

impl Replay {
    pub(crate) fn new(log: Arc<Log>, from: ActivityId, to: Option<ActivityId>) -> Result<Self> {
        let first = log.first_offset().0;
        let end = log.next_offset().0;
        let from = from.get().clamp(first, end);
        let to = to.map_or(end, |t| t.get().clamp(from, end));
        let records = log
            .iter_range(Offset(from), Offset(to))
            .map_err(Error::activities)?;
        Ok(Self { records, _log: log })
    }
}

impl Iterator for Replay {
    type Item = Result<Activity>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = match self.records.next()? {
            Ok(record) => record,
            Err(err) => return Some(Err(Error::activities(err))),
        };
        let id = ActivityId(record.offset.0);
        Some(
            codec::decode_activity(id, &record.payload)
                .map_err(|source| Error::Decode { id, source }),
        )
    }
}
