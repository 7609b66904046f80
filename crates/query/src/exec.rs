//! The log-scan executor: filtered activities in (occurred_at, id) order, resumable.
//!
//! The executor reads activities through [`ActivitySource`], which the engine implements
//! over its log, so it owns no storage and runs on in-memory data in tests. Segments
//! whose time bounds miss the filter's are skipped without being read. Segments may
//! overlap in time (activities can be backdated), so the scan merges them lazily: a
//! segment is read only when its earliest possible item could be next, and only the
//! matches of segments read but not yet drained are held in memory.

use crate::error::{Error, Result};
use crate::records::{Records, Taken};
use crate::resolve::{matches, matches_view, ResolvedFilter};
use actlog_model::codec::ActivityView;
use actlog_model::{Activity, ActivityId, PersonId, TypeId};
use std::cmp::Reverse;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// An error from an [`ActivitySource`], kept opaque so this crate knows no storage.
#[derive(Debug)]
pub struct SourceError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// A log segment: its id span and the bounds of its activities' `occurred_at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentSpan {
    /// First id in the segment.
    pub first: ActivityId,
    /// One past the last id in the segment.
    pub end: ActivityId,
    /// Smallest `occurred_at_ms` in the segment.
    pub occurred_min_ms: i64,
    /// Largest `occurred_at_ms` in the segment.
    pub occurred_max_ms: i64,
}

/// The ids of the activities that can have `occurred_at_ms` in `[min_ms, max_ms]`, by the
/// time bounds of the segments that hold them: from the first segment whose bounds meet
/// the window to the end of the last one (empty when none does). An index whose
/// postings are ordered by id within a key (by-person) skips what lies outside, which
/// for a recent window over a log appended roughly in time order is most of it.
pub fn id_window(source: &dyn ActivitySource, min_ms: i64, max_ms: i64) -> Range<ActivityId> {
    let (first, end) = (source.first_id(), source.end_id());
    if min_ms == i64::MIN && max_ms == i64::MAX {
        return first..end;
    }
    ids_meeting(&source.segments(), first..end, min_ms, max_ms)
}

/// [`id_window`] over `segments` (in id order), within `ids`: for an index that knows
/// the log's segments but not an [`ActivitySource`].
pub fn ids_meeting(
    segments: &[SegmentSpan],
    ids: Range<ActivityId>,
    min_ms: i64,
    max_ms: i64,
) -> Range<ActivityId> {
    let (first, end) = (ids.start, ids.end);
    let mut window: Option<Range<ActivityId>> = None;
    for s in segments {
        if s.occurred_max_ms < min_ms || s.occurred_min_ms > max_ms {
            continue;
        }
        match &mut window {
            Some(w) => w.end = s.end,
            None => window = Some(s.first..s.end),
        }
    }
    match window {
        Some(w) => {
            // Segments listed after the source's end was fixed reach past it.
            let start = w.start.max(first);
            start..w.end.min(end).max(start)
        }
        None => first..first,
    }
}

/// The fields of an activity a source can read without decoding the rest of its record,
/// enough to reject most non-matches of a filter cheaply (see [`may_match`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivityHeader {
    /// The activity's id.
    pub id: ActivityId,
    /// Who did it.
    pub person: PersonId,
    /// Its type.
    pub type_id: TypeId,
    /// When it happened (Unix ms).
    pub occurred_at_ms: i64,
}

impl ActivityHeader {
    /// The header of a decoded activity.
    pub fn of(activity: &Activity) -> ActivityHeader {
        ActivityHeader {
            id: activity.id,
            person: activity.person,
            type_id: activity.type_id,
            occurred_at_ms: activity.occurred_at_ms,
        }
    }

    /// The header of an activity decoded in place.
    pub fn of_view(view: &ActivityView<'_>) -> ActivityHeader {
        ActivityHeader {
            id: view.id,
            person: view.person,
            type_id: view.type_id,
            occurred_at_ms: view.occurred_at_ms,
        }
    }
}

/// Whether an activity with this header may match `filter`: `false` only when no
/// activity with it can, so a scan skips decoding the rest of its record.
pub fn may_match(filter: &ResolvedFilter, header: &ActivityHeader) -> bool {
    header_verdict(filter, header) != Some(false)
}

/// `filter` on what the header tells: `Some` when that decides it, `None` when the
/// answer needs the values (three-valued, as SQL's unknown).
pub(crate) fn header_verdict(filter: &ResolvedFilter, h: &ActivityHeader) -> Option<bool> {
    match filter {
        ResolvedFilter::And(cs) => {
            let mut unknown = false;
            for c in cs {
                match header_verdict(c, h) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        ResolvedFilter::Or(cs) => {
            let mut unknown = false;
            for c in cs {
                match header_verdict(c, h) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            (!unknown).then_some(false)
        }
        ResolvedFilter::Not(c) => header_verdict(c, h).map(|b| !b),
        ResolvedFilter::Types(ids) => Some(ids.binary_search(&h.type_id).is_ok()),
        ResolvedFilter::Persons(ids) => Some(ids.binary_search(&h.person).is_ok()),
        ResolvedFilter::Occurred { min_ms, max_ms } => {
            Some((*min_ms..=*max_ms).contains(&h.occurred_at_ms))
        }
        ResolvedFilter::IdRange { first, last } => Some((*first..=*last).contains(&h.id)),
        ResolvedFilter::Ids(ids) => Some(ids.binary_search(&h.id).is_ok()),
        // A value predicate holds only for the types it resolved in.
        ResolvedFilter::Value(attrs) => {
            if attrs
                .binary_search_by_key(&h.type_id, |m| m.type_id)
                .is_ok()
            {
                None
            } else {
                Some(false)
            }
        }
    }
}

/// What a filtered scan wants of the activities it reads: the filter's matches after the
/// cursor. Handed to [`ActivitySource::scan_matching`], which asks the cheap header
/// question first and the whole filter only of the records that pass it.
#[derive(Debug)]
pub struct ScanTest<'a> {
    filter: &'a ResolvedFilter,
    after: Option<(i64, ActivityId)>,
    direction: Direction,
    /// Headers tested so far: the activities read, for `explain`. Atomic only so that a
    /// scan can move between threads; one thread counts at a time, so a plain load and
    /// store (no locked add) is enough.
    read: AtomicU64,
}

impl<'a> ScanTest<'a> {
    /// The matches of `filter` that come after `cursor` in `direction` (all of them
    /// without a cursor).
    pub fn new(filter: &'a ResolvedFilter, cursor: Option<Cursor>, direction: Direction) -> Self {
        ScanTest {
            filter,
            after: cursor.map(Cursor::key),
            direction,
            read: AtomicU64::new(0),
        }
    }

    /// Whether an activity with this header may be wanted: it comes after the cursor
    /// and the filter's type, person, time and id terms do not rule it out. Called
    /// once for every activity read, which it counts.
    #[inline]
    pub fn header(&self, h: &ActivityHeader) -> bool {
        self.read
            .store(self.read.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let key = (h.occurred_at_ms, h.id);
        let after_cursor = match (self.after, self.direction) {
            (Some(c), Direction::Ascending) => key > c,
            (Some(c), Direction::Descending) => key < c,
            (None, _) => true,
        };
        after_cursor && may_match(self.filter, h)
    }

    /// Whether a record, decoded in place, whose header passed [`ScanTest::header`]
    /// matches the whole filter.
    #[inline]
    pub fn view(&self, view: &ActivityView<'_>) -> bool {
        matches_view(self.filter, view)
    }

    /// [`ScanTest::view`] for an owned activity.
    pub fn activity(&self, activity: &Activity) -> bool {
        matches(self.filter, activity)
    }

    /// Activities whose header was tested so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

/// How the executor reads activities; the engine implements it over the log.
pub trait ActivitySource: Send + Sync {
    /// The activity with this id, if visible.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when reading fails.
    fn get(&self, id: ActivityId) -> Result<Option<Activity>, SourceError>;
    /// The records of the visible activities among `ids` (ascending, no repeats),
    /// pushed onto `out` in that order; an id not visible is left out. Index plans call
    /// it a few hundred ids at a time, so a source over a log reads them in one forward
    /// pass instead of one point read each, and copies their bytes without decoding
    /// them. The default calls [`ActivitySource::get`] for each and encodes it.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when reading fails.
    fn get_batch(&self, ids: &[ActivityId], out: &mut Records) -> Result<(), SourceError> {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for &id in ids {
            if let Some(a) = self.get(id)? {
                out.push_activity(&a);
            }
        }
        Ok(())
    }
    /// Log segments with their id span and time bounds, oldest first.
    fn segments(&self) -> Vec<SegmentSpan>;
    /// Activities with ids in `[from, to)`, in id order.
    fn scan(
        &self,
        from: ActivityId,
        to: ActivityId,
    ) -> Box<dyn Iterator<Item = Result<Activity, SourceError>> + Send + '_>;
    /// [`ActivitySource::scan`] without the activities whose header `keep` rejects; a
    /// source over encoded records reads each header first and decodes only the
    /// records kept. `keep` is called once for every activity read. The default
    /// decodes every activity and asks `keep` after.
    fn scan_where<'a>(
        &'a self,
        from: ActivityId,
        to: ActivityId,
        keep: &'a (dyn Fn(&ActivityHeader) -> bool + Sync),
    ) -> Box<dyn Iterator<Item = Result<Activity, SourceError>> + Send + 'a> {
        Box::new(
            self.scan(from, to)
                .filter(move |a| a.as_ref().map_or(true, |a| keep(&ActivityHeader::of(a)))),
        )
    }
    /// The records of the activities with ids in `[from, to)` that `test` accepts,
    /// pushed onto `out` in id order: those whose header passes [`ScanTest::header`]
    /// and that then pass [`ScanTest::view`] (on a record decoded in place) or
    /// [`ScanTest::activity`]. A source over encoded records tests each record where
    /// it was read and copies only the matches' bytes; every record whose header
    /// passes is decoded and checked, and one that does not decode is an error, never
    /// skipped. The default decodes every activity and tests it after.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when reading fails; `out` may then hold some matches.
    fn scan_matching(
        &self,
        from: ActivityId,
        to: ActivityId,
        test: &ScanTest<'_>,
        out: &mut Records,
    ) -> Result<(), SourceError> {
        for a in self.scan(from, to) {
            let a = a?;
            if test.header(&ActivityHeader::of(&a)) && test.activity(&a) {
                out.push_activity(&a);
            }
        }
        Ok(())
    }
    /// The first visible id.
    fn first_id(&self) -> ActivityId;
    /// One past the last visible (indexed) id.
    fn end_id(&self) -> ActivityId;
}

/// The order results stream in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Oldest first, by (occurred_at, id).
    #[default]
    Ascending,
    /// Newest first.
    Descending,
}

/// Where a query stopped: resume after this item. Opaque text for users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    occurred_at_ms: i64,
    id: ActivityId,
    direction: Direction,
}

impl Cursor {
    /// The cursor just after `activity` in `direction`.
    pub fn after(activity: &Activity, direction: Direction) -> Cursor {
        Cursor {
            occurred_at_ms: activity.occurred_at_ms,
            id: activity.id,
            direction,
        }
    }

    /// Reads a cursor printed by `Display`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCursor`].
    pub fn parse(text: &str) -> Result<Cursor> {
        let bad = |what| Error::InvalidCursor {
            cursor: text.chars().take(64).collect(),
            what,
        };
        if text.len() != 34 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("not 34 hex digits"));
        }
        let hex = |range: std::ops::Range<usize>| u64::from_str_radix(&text[range], 16);
        let occurred = hex(0..16).map_err(|_| bad("bad time"))?;
        let id = hex(16..32).map_err(|_| bad("bad id"))?;
        let direction = match hex(32..34).map_err(|_| bad("bad direction"))? {
            0 => Direction::Ascending,
            1 => Direction::Descending,
            _ => return Err(bad("bad direction")),
        };
        Ok(Cursor {
            // The time is stored with its sign bit flipped so the text sorts as the
            // time does; flip it back.
            occurred_at_ms: (occurred ^ (1 << 63)) as i64,
            id: ActivityId(id),
            direction,
        })
    }

    /// The cursor just after the activity with this time and id, in `direction`.
    pub fn at(occurred_at_ms: i64, id: ActivityId, direction: Direction) -> Cursor {
        Cursor {
            occurred_at_ms,
            id,
            direction,
        }
    }

    /// When the last returned item occurred.
    pub fn occurred_at_ms(self) -> i64 {
        self.occurred_at_ms
    }

    /// The last returned item's id.
    pub fn id(self) -> ActivityId {
        self.id
    }

    fn key(self) -> (i64, ActivityId) {
        (self.occurred_at_ms, self.id)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let occurred = (self.occurred_at_ms as u64) ^ (1 << 63);
        let direction = match self.direction {
            Direction::Ascending => 0,
            Direction::Descending => 1,
        };
        write!(f, "{occurred:016x}{:016x}{direction:02x}", self.id.get())
    }
}

/// How to run a query; every field documents its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    /// Result order. Default [`Direction::Ascending`].
    pub direction: Direction,
    /// Most items returned. Default 1,000.
    pub limit: usize,
    /// Resume after this item. Default `None` (from the start).
    pub cursor: Option<Cursor>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            direction: Direction::Ascending,
            limit: 1000,
            cursor: None,
        }
    }
}

/// Counts from a finished or partly consumed scan, for `explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Segments the source listed.
    pub segments_total: usize,
    /// Segments skipped by their time bounds (or the cursor) without being read.
    pub segments_skipped: usize,
    /// Segments read so far.
    pub segments_read: usize,
    /// Activities read so far.
    pub activities_read: u64,
    /// Matches held in memory at most at any one time.
    pub held_max: usize,
}

/// The conservative `[min, max]` of `occurred_at_ms` an activity needs to match.
pub fn occurred_bounds(filter: &ResolvedFilter) -> (i64, i64) {
    match filter {
        ResolvedFilter::Occurred { min_ms, max_ms } => (*min_ms, *max_ms),
        ResolvedFilter::And(cs) => cs
            .iter()
            .map(occurred_bounds)
            .fold((i64::MIN, i64::MAX), |(lo, hi), (l, h)| {
                (lo.max(l), hi.min(h))
            }),
        ResolvedFilter::Or(cs) if !cs.is_empty() => cs
            .iter()
            .map(occurred_bounds)
            .fold((i64::MAX, i64::MIN), |(lo, hi), (l, h)| {
                (lo.min(l), hi.max(h))
            }),
        _ => (i64::MIN, i64::MAX),
    }
}

/// The positions of one segment's matches (`records`, held in id order) ordered by
/// (occurred_at, id) so that the next to return is last (popped off the end):
/// descending for ascending scans, ascending for descending ones.
///
/// Most times ascend with the id, so the matches are split into an ascending sequence,
/// taken greedily, and the stragglers (backdated activities); only the stragglers are
/// sorted, and the two are merged. A general sort finds too few long runs in such input
/// to do better.
fn run_order(records: &Records, direction: Direction) -> Vec<usize> {
    let mut ascending: Vec<usize> = Vec::with_capacity(records.len());
    let mut stragglers = Vec::new();
    for i in 0..records.len() {
        if ascending
            .last()
            .is_none_or(|&last| records.key(last) < records.key(i))
        {
            ascending.push(i);
        } else {
            stragglers.push(i);
        }
    }
    stragglers.sort_unstable_by_key(|&i| records.key(i));
    let mut run = Vec::with_capacity(records.len());
    // Merged from the largest down.
    loop {
        let from_ascending = match (ascending.last(), stragglers.last()) {
            (Some(&a), Some(&s)) => records.key(a) > records.key(s),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if from_ascending {
            ascending.pop()
        } else {
            stragglers.pop()
        };
        run.extend(next);
    }
    debug_assert!(run
        .windows(2)
        .all(|w| records.key(w[0]) > records.key(w[1])));
    if direction == Direction::Descending {
        run.reverse();
    }
    run
}

/// One segment's matches: their records, and the order they are returned in.
struct Run {
    records: Records,
    /// Positions in `records`, the next to return last.
    order: Vec<usize>,
}

impl Run {
    /// The key of the next item, if any is left.
    fn next_key(&self) -> Option<(i64, ActivityId)> {
        self.order.last().map(|&i| self.records.key(i))
    }
}

/// A lazy, filtered log scan in (occurred_at, id) order; see [`scan`].
pub struct Scan<'s> {
    source: &'s dyn ActivitySource,
    filter: ResolvedFilter,
    direction: Direction,
    after: Option<(i64, ActivityId)>,
    remaining: usize,
    /// Segments not yet read, in the order they may first contribute: by
    /// `occurred_min_ms` ascending (for ascending scans) or `occurred_max_ms`
    /// descending, reversed so the next one pops off the end.
    unread: Vec<SegmentSpan>,
    /// Matches read but not yet returned: one run per segment read (an emptied run is
    /// dropped on the next call).
    runs: Vec<Run>,
    last: Option<Cursor>,
    stats: ScanStats,
    failed: bool,
}

impl fmt::Debug for Scan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scan")
            .field("direction", &self.direction)
            .field("remaining", &self.remaining)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Rejects a cursor made for the other direction.
pub(crate) fn check_cursor(options: &QueryOptions) -> Result<()> {
    match options.cursor {
        Some(c) if c.direction != options.direction => Err(Error::InvalidCursor {
            cursor: c.to_string(),
            what: "it was made for the other direction",
        }),
        _ => Ok(()),
    }
}

/// Starts a filtered log scan of `source`.
///
/// # Errors
///
/// [`Error::InvalidCursor`] for a cursor of the other direction.
pub fn scan<'s>(
    source: &'s dyn ActivitySource,
    filter: ResolvedFilter,
    options: &QueryOptions,
) -> Result<Scan<'s>> {
    check_cursor(options)?;
    let after = options.cursor.map(Cursor::key);
    let (min_ms, max_ms) = occurred_bounds(&filter);
    let (first, end) = (source.first_id(), source.end_id());
    let all = source.segments();
    let mut stats = ScanStats {
        segments_total: all.len(),
        ..ScanStats::default()
    };
    let mut unread: Vec<SegmentSpan> = all
        .into_iter()
        .filter_map(|s| {
            let s = SegmentSpan {
                first: s.first.max(first),
                end: s.end.min(end),
                ..s
            };
            let beyond_cursor = match (after, options.direction) {
                (Some((t, _)), Direction::Ascending) => s.occurred_max_ms < t,
                (Some((t, _)), Direction::Descending) => s.occurred_min_ms > t,
                (None, _) => false,
            };
            let keep = s.first < s.end
                && s.occurred_max_ms >= min_ms
                && s.occurred_min_ms <= max_ms
                && !beyond_cursor;
            keep.then_some(s)
        })
        .collect();
    stats.segments_skipped = stats.segments_total - unread.len();
    match options.direction {
        Direction::Ascending => unread.sort_by_key(|s| Reverse(s.occurred_min_ms)),
        Direction::Descending => unread.sort_by_key(|s| s.occurred_max_ms),
    }
    Ok(Scan {
        source,
        filter,
        direction: options.direction,
        after,
        remaining: options.limit,
        unread,
        runs: Vec::new(),
        last: None,
        stats,
        failed: false,
    })
}

impl Scan<'_> {
    /// The cursor after the last item returned, or the starting cursor if none was.
    pub fn cursor(&self) -> Option<Cursor> {
        self.last.or_else(|| {
            self.after.map(|(occurred_at_ms, id)| Cursor {
                occurred_at_ms,
                id,
                direction: self.direction,
            })
        })
    }

    /// Counts so far.
    pub fn stats(&self) -> ScanStats {
        self.stats
    }

    fn held(&self) -> usize {
        self.runs.iter().map(|r| r.order.len()).sum()
    }

    /// The run whose last item comes next, if any is held. Runs overlap only where
    /// segments do in time, so there are few.
    fn next_run(&self) -> Option<usize> {
        let mut best: Option<(usize, (i64, ActivityId))> = None;
        for (i, run) in self.runs.iter().enumerate() {
            let Some(k) = run.next_key() else {
                continue;
            };
            let better = best.is_none_or(|(_, b)| match self.direction {
                Direction::Ascending => k < b,
                Direction::Descending => k > b,
            });
            if better {
                best = Some((i, k));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Whether the next unread segment could hold an item that comes before the best
    /// held one, so it must be read first.
    fn must_read_next(&self, next_run: Option<usize>) -> bool {
        let Some(next) = self.unread.last() else {
            return false;
        };
        let Some((held_ms, _)) = next_run.and_then(|i| self.runs.get(i)?.next_key()) else {
            return true;
        };
        match self.direction {
            Direction::Ascending => next.occurred_min_ms <= held_ms,
            Direction::Descending => next.occurred_max_ms >= held_ms,
        }
    }

    fn read_segment(&mut self, s: SegmentSpan) -> Result<()> {
        self.stats.segments_read += 1;
        let cursor = self.after.map(|(t, id)| Cursor::at(t, id, self.direction));
        let test = ScanTest::new(&self.filter, cursor, self.direction);
        let mut records = Records::default();
        let result = self
            .source
            .scan_matching(s.first, s.end, &test, &mut records);
        self.stats.activities_read += test.read();
        result?;
        if !records.is_empty() {
            let order = run_order(&records, self.direction);
            self.runs.push(Run { records, order });
        }
        self.stats.held_max = self.stats.held_max.max(self.held());
        Ok(())
    }

    /// The next match, decoded in place: it borrows the scan's buffer until the next
    /// call, so reading through views allocates nothing per activity.
    pub fn next_view(&mut self) -> Option<Result<ActivityView<'_>>> {
        let taken = self.take_next()?;
        Some(taken.and_then(Taken::view))
    }

    /// The next match's record, moving the cursor past it.
    pub(crate) fn take_next(&mut self) -> Option<Result<Taken<'_>>> {
        if self.remaining == 0 || self.failed {
            return None;
        }
        self.runs.retain(|r| !r.order.is_empty());
        let mut next_run = self.next_run();
        while self.must_read_next(next_run) {
            let Some(s) = self.unread.pop() else { break };
            if let Err(e) = self.read_segment(s) {
                self.failed = true;
                return Some(Err(e));
            }
            next_run = self.next_run();
        }
        let Self {
            runs,
            direction,
            remaining,
            last,
            failed,
            ..
        } = self;
        let run = runs.get_mut(next_run?)?;
        let at = run.order.pop()?;
        let (occurred_at_ms, id) = run.records.key(at);
        debug_assert!(last.is_none_or(|c| match *direction {
            Direction::Ascending => c.key() < (occurred_at_ms, id),
            Direction::Descending => c.key() > (occurred_at_ms, id),
        }));
        *remaining -= 1;
        *last = Some(Cursor::at(occurred_at_ms, id, *direction));
        Some(Ok(Taken {
            records: &run.records,
            at,
            failed,
        }))
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Activity>;

    fn next(&mut self) -> Option<Result<Activity>> {
        let taken = self.take_next()?;
        Some(taken.and_then(Taken::activity))
    }
}
