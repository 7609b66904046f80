//! Encoded activities a query holds between reading and returning them.

use actlog_model::codec::{self, ActivityView};
use actlog_model::{Activity, ActivityId};

use crate::exec::{ActivityHeader, SourceError};

/// Activity records as the log holds them, in one buffer: what a query reads ahead
/// (an index plan's batch, a scan's segment of matches) and decodes in place, one
/// at a time, as it returns them. Holding a thousand costs two allocations, not a
/// thousand or more, and a caller that reads through [`crate::Query::next_view`]
/// never copies a value out.
///
/// ```
/// use actlog_model::{codec, ActivityId, PersonId, TypeId, Value, ValidActivity};
/// use actlog_query::{ActivityHeader, Records};
///
/// let bytes = codec::encode_activity(&ValidActivity {
///     person: PersonId(42),
///     type_id: TypeId(100_000),
///     occurred_at_ms: 1_700_000_000_000,
///     primary: Value::String("Rust 101".into()),
///     attributes: vec![],
///     idempotency_key: None,
/// })?;
/// let mut records = Records::default();
/// let header = ActivityHeader {
///     id: ActivityId(7),
///     person: PersonId(42),
///     type_id: TypeId(100_000),
///     occurred_at_ms: 1_700_000_000_000,
/// };
/// records.push(header, &bytes);
/// assert_eq!(records.key(0), (1_700_000_000_000, ActivityId(7)));
/// assert_eq!(records.view(0)?.person, PersonId(42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Records {
    bytes: Vec<u8>,
    held: Vec<Held>,
}

/// One record's header (what results are ordered and most filters decided by) and
/// where its bytes lie.
#[derive(Clone, Copy, Debug)]
struct Held {
    header: ActivityHeader,
    start: usize,
    end: usize,
}

impl Records {
    /// Forgets every record, keeping the allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.held.clear();
    }

    /// Keeps the first `len` records (all of them if there are fewer).
    pub fn truncate(&mut self, len: usize) {
        if let Some(h) = self.held.get(len) {
            self.bytes.truncate(h.start);
            self.held.truncate(len);
        }
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Appends the record of the activity with this header (as the record's first
    /// fields say, see [`actlog_model::codec::peek_activity`]); the rest of the record
    /// is checked when it is decoded ([`Records::view`]).
    pub fn push(&mut self, header: ActivityHeader, payload: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(payload);
        self.held.push(Held {
            header,
            start,
            end: self.bytes.len(),
        });
    }

    /// Appends an activity held decoded, encoded (for sources that keep activities
    /// rather than records, such as test doubles).
    pub fn push_activity(&mut self, activity: &Activity) {
        let start = self.bytes.len();
        codec::encode_recorded_into(activity, &mut self.bytes);
        self.held.push(Held {
            header: ActivityHeader::of(activity),
            start,
            end: self.bytes.len(),
        });
    }

    /// The header of the `i`th record.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn header(&self, i: usize) -> ActivityHeader {
        self.held[i].header
    }

    /// The (occurred_at, id) key of the `i`th record, by which results are ordered.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn key(&self, i: usize) -> (i64, ActivityId) {
        let h = &self.held[i].header;
        (h.occurred_at_ms, h.id)
    }

    /// The position of the record of `id`, when the records were pushed in ascending
    /// id order (as [`crate::ActivitySource::get_batch`] does).
    pub fn find(&self, id: ActivityId) -> Option<usize> {
        debug_assert!(self
            .held
            .windows(2)
            .all(|w| w[0].header.id < w[1].header.id));
        self.held.binary_search_by_key(&id, |h| h.header.id).ok()
    }

    /// The `i`th record, decoded in place and checked.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] (holding [`actlog_model::Error::CorruptActivity`]) if the
    /// record is not well formed, or if its fields disagree with the header it was
    /// pushed with.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn view(&self, i: usize) -> Result<ActivityView<'_>, SourceError> {
        self.decode(i, codec::decode_activity_view, ActivityHeader::of_view)
    }

    /// The `i`th record, decoded into an owned activity (in one pass, cheaper than
    /// [`Records::view`] and then [`ActivityView::to_activity`]).
    ///
    /// # Errors
    ///
    /// As [`Records::view`].
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn activity(&self, i: usize) -> Result<Activity, SourceError> {
        self.decode(i, codec::decode_activity, ActivityHeader::of)
    }

    fn decode<'a, T>(
        &'a self,
        i: usize,
        decode: impl FnOnce(ActivityId, &'a [u8]) -> actlog_model::Result<T>,
        header_of: impl FnOnce(&T) -> ActivityHeader,
    ) -> Result<T, SourceError> {
        let Held { header, start, end } = self.held[i];
        let bytes = self.bytes.get(start..end).unwrap_or_default();
        let decoded = decode(header.id, bytes).map_err(|err| SourceError(Box::new(err)))?;
        if header_of(&decoded) != header {
            return Err(SourceError(
                format!(
                    "the record of activity {} is not the one its source described",
                    header.id.get()
                )
                .into(),
            ));
        }
        Ok(decoded)
    }
}

/// The next result a query took off its records: decoded on demand, in place or owned,
/// and a record that does not decode ends the query (`failed`).
pub(crate) struct Taken<'a> {
    pub(crate) records: &'a Records,
    pub(crate) at: usize,
    pub(crate) failed: &'a mut bool,
}

impl<'a> Taken<'a> {
    pub(crate) fn view(self) -> crate::Result<ActivityView<'a>> {
        let decoded = self.records.view(self.at);
        *self.failed |= decoded.is_err();
        Ok(decoded?)
    }

    pub(crate) fn activity(self) -> crate::Result<Activity> {
        let decoded = self.records.activity(self.at);
        *self.failed |= decoded.is_err();
        Ok(decoded?)
    }
}

#[cfg(test)]
mod tests {
    use actlog_model::{AttributeId, PersonId, TypeId, Value};

    use super::*;

    fn activity(id: u64, at: i64) -> Activity {
        Activity {
            id: ActivityId(id),
            person: PersonId(id * 3),
            type_id: TypeId(100_000),
            occurred_at_ms: at,
            primary: Value::String(format!("p{id}")),
            attributes: vec![(AttributeId(1), Value::Integer(id as i32))],
            idempotency_key: None,
        }
    }

    #[test]
    fn records_come_back_as_pushed() {
        let mut records = Records::default();
        for id in [3, 5, 9] {
            records.push_activity(&activity(id, 1000 - id as i64));
        }
        assert_eq!(records.len(), 3);
        for (i, id) in [3u64, 5, 9].into_iter().enumerate() {
            assert_eq!(records.key(i), (1000 - id as i64, ActivityId(id)));
            assert_eq!(
                records.view(i).unwrap().to_activity(),
                activity(id, 1000 - id as i64)
            );
        }
        assert_eq!(records.find(ActivityId(5)), Some(1));
        assert_eq!(records.find(ActivityId(4)), None);
        records.truncate(5);
        assert_eq!(records.len(), 3);
        records.truncate(1);
        assert_eq!(records.len(), 1);
        records.push_activity(&activity(4, 1));
        assert_eq!(records.view(1).unwrap().to_activity(), activity(4, 1));
        records.clear();
        assert!(records.is_empty());
    }

    #[test]
    fn a_record_that_does_not_decode_is_an_error() {
        let mut records = Records::default();
        let a = activity(2, 7);
        records.push(ActivityHeader::of(&a), &[1, 2, 3]);
        assert!(records.view(0).is_err());
        // A record whose time is not the one it was pushed with (the order of results
        // depends on it).
        let mut bytes = Vec::new();
        codec::encode_recorded_into(&a, &mut bytes);
        let wrong = ActivityHeader {
            occurred_at_ms: 8,
            ..ActivityHeader::of(&a)
        };
        records.push(wrong, &bytes);
        assert!(records.view(1).is_err());
        assert!(records.activity(1).is_err());
        records.push(ActivityHeader::of(&a), &bytes);
        assert_eq!(records.view(2).unwrap().to_activity(), a);
    }
}
