//! Filters and smart lists over the engine: the query crate plans and runs them, reading
//! the log and the index through the two small traits implemented here.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use roaring::RoaringTreemap;

use actlog_index::{IdRange, KeyRange, Order, PersonPosting, TimeRange};
use actlog_log::{Offset, PointReader};
use actlog_model::codec::ActivityView;
use actlog_model::{codec, Activity, ActivityId, Catalog, DataType, PersonId, TypeId};
use actlog_query::{
    ActivityHeader, ActivitySource, Cursor, Direction, Explain, Filter, KeySpan, PersonsPostings,
    Plan, PostingIndex, Postings, Query, Records, ResolvedFilter, ResolvedList, ScanTest,
    SegmentSpan, SmartList, SourceError, ValueSlot,
};
use parking_lot::Mutex;

use crate::engine::{Engine, Inner};
use crate::error::{Error, Result};
use crate::time::now_ms;

/// Activities handed over from a query's thread ahead of the consumer, at most (in
/// pages of up to [`PAGE_ACTIVITIES_MAX`]).
const AHEAD_ACTIVITIES: usize = 1_024;

/// Most activities handed over at once. Pages start at one activity, so the first
/// result arrives as soon as it is found, and double up to this, so a long result pays
/// one hand-over (and at most one wake-up of the consumer) per page, not per activity.
const PAGE_ACTIVITIES_MAX: usize = 256;

/// A person plan estimated to read at most this many activities runs where a
/// [`QueryStream`] is planned, on tokio's blocking pool: a thread and its hand-overs
/// would cost more than the query.
const INLINE_ACTIVITIES_MAX: u64 = 256;

/// Whether a query waits for the index to cover everything recorded before it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Consistency {
    /// Wait (up to `Options::index_wait_ms`): the query sees every activity appended
    /// before it started. The default.
    #[default]
    ReadYourWrites,
    /// Answer from what is indexed now; activities appended moments ago may be missing.
    Eventual,
}

/// How [`Engine::query`] runs.
///
/// ```
/// use actlog::{Direction, QueryOptions};
///
/// let newest_ten = QueryOptions { limit: Some(10), direction: Direction::Descending, ..QueryOptions::default() };
/// assert_eq!(newest_ten.cursor, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Most activities returned. `Default = None`: every match, streamed.
    pub limit: Option<usize>,
    /// Resume after the last activity of an earlier query (from
    /// [`QueryResults::cursor`]). `Default = None`.
    pub cursor: Option<String>,
    /// (occurred_at, id) ascending or descending. `Default = Ascending`.
    pub direction: Direction,
    /// `Default = ReadYourWrites`.
    pub consistency: Consistency,
}

/// The activities a filter matches, streamed lazily in (occurred_at, id) order.
///
/// A query is planned once and then runs on the caller's thread, one match per `next`:
/// an index plan holds one batch of fetched activities, a scan at most one segment's
/// matches, however many match in all, and a scan reads each segment once. The cursor
/// after the last activity returned resumes exactly after it, also while new
/// activities arrive. Dropping the results ends the query. [`QueryStream`] is the async
/// twin.
pub struct QueryResults {
    running: Running,
    direction: Direction,
    cursor: Option<Cursor>,
    finished: bool,
}

/// The log and index readers of one query.
struct Readers {
    source: EngineSource,
    postings: EnginePostings,
}

self_cell::self_cell!(
    /// A query and the readers it borrows, in one value, so that it can run lazily on
    /// its caller's thread: handing each page of activities to another thread cost more
    /// than reading them (a wake-up, and every allocation freed on the other thread).
    struct Running {
        owner: Readers,
        #[not_covariant]
        dependent: Query,
    }
);

// Results may be made on one thread and read on another.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<QueryResults>();
};

/// The activities a filter matches, as a tokio stream; the async twin of
/// [`QueryResults`], made by [`Engine::query_stream`].
///
/// The query is planned on tokio's blocking pool and runs there when it is a small
/// person plan, else on a thread of its own, handing pages over through a bounded tokio
/// channel, so polling never blocks the runtime and a consumer that stops polling stops
/// the query within a few pages. Dropping the stream stops the query at its next match.
///
/// ```no_run
/// # async fn f(engine: actlog::Engine) -> actlog::Result<()> {
/// use futures_util::StreamExt;
/// let filter = actlog::query::parse_filter("type = webinarAttended and occurred in last 30d")?;
/// let mut results = engine.query_stream(filter, actlog::QueryOptions::default()).await?;
/// while let Some(activity) = results.next().await {
///     println!("{}", activity?.id);
/// }
/// # Ok(()) }
/// ```
pub struct QueryStream {
    rx: tokio::sync::mpsc::Receiver<Message>,
    held: Held,
}

/// What a query's consumer has received and not yet returned, with the cursor after what
/// it has.
struct Held {
    page: std::vec::IntoIter<Activity>,
    direction: Direction,
    cursor: Option<Cursor>,
    explain: Option<Explain>,
    finished: bool,
}

/// What the query thread hands over.
enum Message {
    Planned(Explain),
    Activities(Vec<Activity>),
    Failed(Error),
    Done(Explain),
}

/// The sending side of a [`QueryStream`]'s channel.
type Sender = tokio::sync::mpsc::Sender<Message>;

/// Hands `message` over, waiting for room; `false` once the consumer is gone. Called on
/// the query's own thread or, for a small query, on tokio's blocking pool, never on a
/// runtime worker (where `blocking_send` would panic).
fn hand(tx: &Sender, message: Message) -> bool {
    tx.blocking_send(message).is_ok()
}

/// Messages a query's channel holds: the pages ahead, and room for an inline query's
/// three messages.
const CHANNEL_MESSAGES: usize = AHEAD_ACTIVITIES / PAGE_ACTIVITIES_MAX;
const _: () = assert!(CHANNEL_MESSAGES >= 3);

impl fmt::Debug for QueryResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryResults")
            .field("direction", &self.direction)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryStream")
            .field("direction", &self.held.direction)
            .field("cursor", &self.held.cursor)
            .finish_non_exhaustive()
    }
}

/// Plans `filter` on the caller's thread and runs it, there when it is a small person
/// plan, else on a thread of its own, handing results to `tx` (for [`QueryStream`]).
fn start(
    engine: Engine,
    filter: ResolvedFilter,
    options: actlog_query::QueryOptions,
    tx: Sender,
) -> Result<()> {
    let explain = {
        let inner = &engine.inner;
        let (source, postings) = readers(inner, inner.catalog.snapshot());
        let explain = actlog_query::choose_plan(&source, &postings, &filter);
        let small = matches!(explain.plan, Plan::Person { .. })
            && explain.estimated <= INLINE_ACTIVITIES_MAX;
        if small {
            return run_inline(&source, &postings, filter, explain, &options, &tx);
        }
        explain
    };
    std::thread::Builder::new()
        .name("actlog-query".into())
        .spawn(move || run_query(&engine, filter, explain, &options, &tx))
        .map_err(|source| Error::Io {
            path: "actlog-query thread".into(),
            source,
        })?;
    Ok(())
}

impl Held {
    fn new(direction: Direction, cursor: Option<Cursor>) -> Self {
        Held {
            page: Vec::new().into_iter(),
            direction,
            cursor,
            explain: None,
            finished: false,
        }
    }

    /// The next activity of the page in hand, moving the cursor past it.
    fn next_held(&mut self) -> Option<Activity> {
        let activity = self.page.next()?;
        self.cursor = Some(Cursor::after(&activity, self.direction));
        Some(activity)
    }

    /// Takes in what the channel gave (`None`: it closed); an error to return if the
    /// query failed.
    fn receive(&mut self, message: Option<Message>) -> Option<Error> {
        match message {
            Some(Message::Planned(explain)) | Some(Message::Done(explain)) => {
                self.explain = Some(explain);
            }
            Some(Message::Activities(page)) => self.page = page.into_iter(),
            Some(Message::Failed(err)) => {
                self.finished = true;
                return Some(err);
            }
            None => self.finished = true,
        }
        None
    }

    fn cursor(&self) -> Option<String> {
        self.cursor.map(|c| c.to_string())
    }

    fn explain(&self) -> String {
        explain_text(self.explain.as_ref())
    }
}

/// What `explain` says of a query's plan.
fn explain_text(explain: Option<&Explain>) -> String {
    match explain {
        Some(e) => format!(
            "plan: {}\nestimated activities to read: {}\nactivities read: {}",
            e.plan,
            e.estimated,
            e.actual.unwrap_or(0)
        ),
        None => "plan: not chosen yet".to_owned(),
    }
}

impl QueryResults {
    fn start(
        engine: &Engine,
        filter: ResolvedFilter,
        options: actlog_query::QueryOptions,
    ) -> Result<Self> {
        let inner = &engine.inner;
        let (source, postings) = readers(inner, inner.catalog.snapshot());
        let (direction, cursor) = (options.direction, options.cursor);
        let running = Running::try_new(Readers { source, postings }, |r| {
            let explain = actlog_query::choose_plan(&r.source, &r.postings, &filter);
            actlog_query::execute(&r.source, &r.postings, filter, explain, &options)
        })?;
        Ok(QueryResults {
            running,
            direction,
            cursor,
            finished: false,
        })
    }

    /// Where to resume: after the last activity returned (or where the query started).
    pub fn cursor(&self) -> Option<String> {
        self.cursor.map(|c| c.to_string())
    }

    /// The plan chosen, its estimate, and the activities it has read so far (all of them
    /// once the results are consumed).
    pub fn explain(&self) -> String {
        explain_text(Some(
            &self.running.with_dependent(|_, query| query.explain()),
        ))
    }
}

impl QueryStream {
    /// Where to resume: after the last activity returned (or where the query started).
    pub fn cursor(&self) -> Option<String> {
        self.held.cursor()
    }

    /// The plan chosen, its estimate, and the activities it has read so far (all of them
    /// once the stream has ended).
    pub fn explain(&self) -> String {
        self.held.explain()
    }
}

/// Runs a small query where it was planned: a thread and its hand-overs would cost
/// more than the query. The channel has room for every message it sends.
fn run_inline(
    source: &EngineSource,
    postings: &EnginePostings,
    filter: ResolvedFilter,
    explain: Explain,
    options: &actlog_query::QueryOptions,
    tx: &Sender,
) -> Result<()> {
    let mut run = actlog_query::execute(source, postings, filter, explain, options)?;
    let planned = run.explain();
    let mut page = Vec::new();
    let mut failed = None;
    for activity in run.by_ref() {
        match activity {
            Ok(activity) => page.push(activity),
            Err(err) => {
                failed = Some(err);
                break;
            }
        }
    }
    // The receiver is alive: the caller holds it.
    hand(tx, Message::Planned(planned));
    hand(tx, Message::Activities(page));
    hand(
        tx,
        match failed {
            Some(err) => Message::Failed(err.into()),
            None => Message::Done(run.explain()),
        },
    );
    Ok(())
}

fn run_query(
    engine: &Engine,
    filter: ResolvedFilter,
    explain: Explain,
    options: &actlog_query::QueryOptions,
    tx: &Sender,
) {
    let inner = &engine.inner;
    let (source, postings) = readers(inner, inner.catalog.snapshot());
    let mut run = match actlog_query::execute(&source, &postings, filter, explain, options) {
        Ok(run) => run,
        Err(err) => {
            hand(tx, Message::Failed(err.into()));
            return;
        }
    };
    if !hand(tx, Message::Planned(run.explain())) {
        return;
    }
    let mut page_len = 1;
    let mut page = Vec::with_capacity(page_len);
    for activity in run.by_ref() {
        match activity {
            Ok(activity) => page.push(activity),
            Err(err) => {
                if !page.is_empty() {
                    hand(tx, Message::Activities(page));
                }
                hand(tx, Message::Failed(err.into()));
                return;
            }
        }
        if page.len() == page_len {
            page_len = (page_len * 2).min(PAGE_ACTIVITIES_MAX);
            let full = std::mem::replace(&mut page, Vec::with_capacity(page_len));
            // A closed channel means the results were dropped: stop reading.
            if !hand(tx, Message::Activities(full)) {
                return;
            }
        }
    }
    if !page.is_empty() && !hand(tx, Message::Activities(page)) {
        return;
    }
    hand(tx, Message::Done(run.explain()));
}

impl QueryResults {
    /// The next match decoded in place, where the query read it: the view borrows the
    /// results until the next call, and reading through views allocates nothing per
    /// activity (`next` copies each into an owned [`Activity`]). The cursor moves past
    /// it as with `next`.
    ///
    /// ```no_run
    /// # fn f(engine: actlog::Engine) -> actlog::Result<()> {
    /// let mut results = engine.query_text("type = webinarAttended", actlog::QueryOptions::default())?;
    /// let mut minutes = 0i64;
    /// while let Some(view) = results.next_view() {
    ///     let view = view?;
    ///     if let Some(actlog::ValueRef::Integer(m)) = view.attributes.get(actlog::AttributeId(1)) {
    ///         minutes += i64::from(m);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn next_view(&mut self) -> Option<Result<ActivityView<'_>>> {
        if self.finished {
            return None;
        }
        let Self {
            running,
            direction,
            cursor,
            finished,
        } = self;
        match running.with_dependent_mut(|_, query| query.next_view()) {
            Some(Ok(view)) => {
                *cursor = Some(Cursor::at(view.occurred_at_ms, view.id, *direction));
                Some(Ok(view))
            }
            // A query that failed does not go on.
            Some(Err(err)) => {
                *finished = true;
                Some(Err(err.into()))
            }
            None => {
                *finished = true;
                None
            }
        }
    }
}

impl Iterator for QueryResults {
    type Item = Result<Activity>;

    fn next(&mut self) -> Option<Result<Activity>> {
        if self.finished {
            return None;
        }
        match self.running.with_dependent_mut(|_, query| query.next()) {
            Some(Ok(activity)) => {
                self.cursor = Some(Cursor::after(&activity, self.direction));
                Some(Ok(activity))
            }
            // A query that failed does not go on.
            Some(Err(err)) => {
                self.finished = true;
                Some(Err(err.into()))
            }
            None => {
                self.finished = true;
                None
            }
        }
    }
}

impl futures_core::Stream for QueryStream {
    type Item = Result<Activity>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            if let Some(activity) = this.held.next_held() {
                return Poll::Ready(Some(Ok(activity)));
            }
            if this.held.finished {
                return Poll::Ready(None);
            }
            let message = match this.rx.poll_recv(cx) {
                Poll::Ready(message) => message,
                Poll::Pending => return Poll::Pending,
            };
            if let Some(err) = this.held.receive(message) {
                return Poll::Ready(Some(Err(err)));
            }
        }
    }
}

/// The persons a smart list selects, as a compressed bitmap.
#[derive(Debug, Clone)]
pub struct People {
    set: RoaringTreemap,
}

impl People {
    /// How many persons.
    pub fn count(&self) -> u64 {
        self.set.len()
    }

    /// The persons in ascending id order.
    pub fn iter(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.set.iter().map(PersonId)
    }

    /// Whether `person` is in the list.
    pub fn contains(&self, person: PersonId) -> bool {
        self.set.contains(person.get())
    }

    /// The underlying bitmap.
    pub fn bitmap(&self) -> &RoaringTreemap {
        &self.set
    }
}

impl Engine {
    /// Streams the activities `filter` matches (see docs/QUERY.md).
    ///
    /// # Errors
    /// [`Error::Query`] naming an unknown type or attribute, a literal of the wrong type,
    /// or a bad cursor; [`Error::IndexLagging`] when the index does not catch up in time.
    pub fn query(&self, filter: &Filter, options: QueryOptions) -> Result<QueryResults> {
        let (resolved, options) = self.prepare_query(filter, options)?;
        QueryResults::start(self, resolved, options)
    }

    /// [`query`](Self::query) as a tokio stream: waiting for the index, planning and
    /// small queries run on tokio's blocking pool, others on their own thread, so the
    /// runtime's workers never block.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub async fn query_stream(&self, filter: Filter, options: QueryOptions) -> Result<QueryStream> {
        self.run_blocking(move |engine| {
            let (resolved, options) = engine.prepare_query(&filter, options)?;
            let held = Held::new(options.direction, options.cursor);
            let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_MESSAGES);
            start(engine, resolved, options, tx)?;
            Ok(QueryStream { rx, held })
        })
        .await
    }

    /// Waits for the index as `options` ask and resolves `filter` against the catalog.
    fn prepare_query(
        &self,
        filter: &Filter,
        options: QueryOptions,
    ) -> Result<(ResolvedFilter, actlog_query::QueryOptions)> {
        self.inner.check_open()?;
        if options.consistency == Consistency::ReadYourWrites {
            self.inner.wait_indexed()?;
        }
        let catalog = self.inner.catalog.snapshot();
        let resolved = actlog_query::resolve(filter, &catalog, now_ms())?;
        let cursor = options.cursor.as_deref().map(Cursor::parse).transpose()?;
        let options = actlog_query::QueryOptions {
            direction: options.direction,
            limit: options.limit.unwrap_or(usize::MAX),
            cursor,
        };
        Ok((resolved, options))
    }

    /// [`query`](Self::query) with a filter in the text syntax.
    pub fn query_text(&self, filter: &str, options: QueryOptions) -> Result<QueryResults> {
        let filter = actlog_query::parse_filter(filter)?;
        self.query(&filter, options)
    }

    /// [`query`](Self::query) with a filter in the JSON form.
    pub fn query_json(&self, filter: &str, options: QueryOptions) -> Result<QueryResults> {
        let filter = Filter::from_json(filter)?;
        self.query(&filter, options)
    }

    /// The persons a smart list selects (`did TYPE where ... at least N times in last
    /// 30d and not did ...`). `not` takes its complement within every person who has
    /// any activity.
    ///
    /// A `did` term without a filter reads only the by-type index; with a filter it
    /// fetches the candidates of the cheapest index path (primary value, indexed
    /// attribute, person, type and time), or scans the log when that reads fewer.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub fn people(&self, list: &SmartList) -> Result<People> {
        let inner = &self.inner;
        inner.check_open()?;
        inner.wait_indexed()?;
        let catalog = inner.catalog.snapshot();
        let resolved = actlog_query::resolve_smart_list(list, &catalog, now_ms())?;
        let (source, postings) = readers(inner, catalog);
        let set = actlog_query::people_indexed(&source, &postings, &resolved)?;
        Ok(People { set })
    }

    /// [`people`](Self::people) answered by scanning the log for every `did` term, the
    /// path the index answer is checked against.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    #[doc(hidden)]
    pub fn people_by_scan(&self, list: &SmartList) -> Result<People> {
        let inner = &self.inner;
        inner.check_open()?;
        inner.wait_indexed()?;
        let catalog = inner.catalog.snapshot();
        let resolved = actlog_query::resolve_smart_list(list, &catalog, now_ms())?;
        let end = visible_end(inner);
        let source = EngineSource::new(inner, end);
        let universe = if has_not(&resolved) {
            everyone(inner, end)?
        } else {
            RoaringTreemap::new()
        };
        let set = actlog_query::people(&source, &resolved, &universe)?;
        Ok(People { set })
    }

    /// Runs `filter` to the end with every plan the planner could pick, returning each
    /// plan's text and its activities, so tests can check that all of them agree.
    /// Memory holds every match of every plan: for tests and small data.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    #[doc(hidden)]
    pub fn query_every_plan(
        &self,
        filter: &Filter,
        direction: Direction,
    ) -> Result<Vec<(String, Vec<Activity>)>> {
        let inner = &self.inner;
        inner.check_open()?;
        inner.wait_indexed()?;
        let catalog = inner.catalog.snapshot();
        let resolved = actlog_query::resolve(filter, &catalog, now_ms())?;
        let (source, postings) = readers(inner, catalog);
        let options = actlog_query::QueryOptions {
            direction,
            limit: usize::MAX,
            cursor: None,
        };
        let mut out = Vec::new();
        for plan in actlog_query::candidate_plans(&source, &postings, &resolved) {
            let text = plan.plan.to_string();
            let run = actlog_query::execute(&source, &postings, resolved.clone(), plan, &options)?;
            let activities = run.collect::<std::result::Result<Vec<_>, _>>()?;
            out.push((text, activities));
        }
        Ok(out)
    }

    /// [`people`](Self::people) with a smart list in the text syntax.
    pub fn people_text(&self, list: &str) -> Result<People> {
        let list = actlog_query::parse_smart_list(list)?;
        self.people(&list)
    }

    /// [`people`](Self::people) with a smart list in the JSON form.
    pub fn people_json(&self, list: &str) -> Result<People> {
        let list = SmartList::from_json(list)?;
        self.people(&list)
    }
}

/// The log and index readers of one query, bounded to what is visible and indexed now.
fn readers(inner: &Arc<Inner>, catalog: Arc<Catalog>) -> (EngineSource, EnginePostings) {
    let end = visible_end(inner);
    (
        EngineSource::new(inner, end),
        EnginePostings {
            inner: Arc::clone(inner),
            catalog,
            end,
            person_seen: Mutex::new(None),
        },
    )
}

/// Most postings of one person kept between the planner's estimate and the plan's run.
const PERSON_SEEN_POSTINGS_MAX: usize = 4_096;

/// One past the last id both recorded and indexed.
fn visible_end(inner: &Inner) -> ActivityId {
    ActivityId(
        inner
            .activities
            .next_offset()
            .0
            .min(inner.index.watermark().get()),
    )
}

fn has_not(list: &ResolvedList) -> bool {
    match list {
        ResolvedList::Not(_) => true,
        ResolvedList::And(cs) | ResolvedList::Or(cs) => cs.iter().any(has_not),
        ResolvedList::Did(_) => false,
    }
}

/// Every person with an activity below `end`, from the by-person index's group keys (no
/// payload read, and no posting decoded where a run lies wholly below `end`).
fn everyone(inner: &Inner, end: ActivityId) -> Result<RoaringTreemap> {
    let mut set = RoaringTreemap::new();
    let range = IdRange {
        start: ActivityId(0),
        end,
    };
    inner.index.for_each_person(range, |p| {
        set.insert(p.get());
    })?;
    Ok(set)
}

fn source_error(err: impl std::error::Error + Send + Sync + 'static) -> SourceError {
    SourceError(Box::new(err))
}

/// The log as the query crate reads it, bounded to a fixed end for one round.
struct EngineSource {
    inner: Arc<Inner>,
    end: ActivityId,
    /// Reads the batches of one query, each going on from where the last left off.
    reader: Mutex<PointReader>,
}

impl EngineSource {
    fn new(inner: &Arc<Inner>, end: ActivityId) -> Self {
        EngineSource {
            inner: Arc::clone(inner),
            end,
            reader: Mutex::new(inner.activities.point_reader()),
        }
    }

    /// The activities with ids in `[from, to)` (bounded by the query's end), decoded;
    /// with `keep`, only those whose header it accepts.
    fn decoded<'a>(
        &'a self,
        from: ActivityId,
        to: ActivityId,
        keep: Option<&'a (dyn Fn(&ActivityHeader) -> bool + Sync)>,
    ) -> Box<dyn Iterator<Item = Result<Activity, SourceError>> + Send + 'a> {
        match self.records(from, to) {
            Ok(records) => Box::new(Decoded { records, keep }),
            Err(err) => Box::new(std::iter::once(Err(err))),
        }
    }

    /// The records with ids in `[from, to)`, bounded by the query's end.
    fn records(
        &self,
        from: ActivityId,
        to: ActivityId,
    ) -> Result<actlog_log::LogIter, SourceError> {
        let to = to.min(self.end);
        let from = from.min(to);
        self.inner
            .activities
            .iter_range(Offset(from.get()), Offset(to.get()))
            .map_err(|err| source_error(Error::activities(err)))
    }
}

impl ActivitySource for EngineSource {
    fn get(&self, id: ActivityId) -> Result<Option<Activity>, SourceError> {
        if id >= self.end {
            return Ok(None);
        }
        self.inner.get(id).map_err(source_error)
    }

    fn get_batch(&self, ids: &[ActivityId], out: &mut Records) -> Result<(), SourceError> {
        let first = self.inner.activities.first_offset().0;
        let offsets: Vec<Offset> = ids
            .iter()
            .filter(|id| id.get() >= first && **id < self.end)
            .map(|id| Offset(id.get()))
            .collect();
        let start = out.len();
        let mut failed = None;
        let read = self.reader.lock().read_batch(&offsets, |record| {
            if failed.is_some() {
                return;
            }
            match record_header(ActivityId(record.offset.0), record.payload) {
                Ok(header) => out.push(header, record.payload),
                Err(err) => failed = Some(err),
            }
        });
        if let Some(err) = failed {
            out.truncate(start);
            return Err(source_error(err));
        }
        match read {
            Ok(()) => Ok(()),
            // Retention removed a segment meanwhile: answer id by id, as `get` does.
            Err(actlog_log::Error::OffsetOutOfRange { .. }) => {
                out.truncate(start);
                for &id in ids {
                    if let Some(a) = self.get(id)? {
                        out.push_activity(&a);
                    }
                }
                Ok(())
            }
            Err(err) => {
                out.truncate(start);
                Err(source_error(Error::activities(err)))
            }
        }
    }

    fn segments(&self) -> Vec<SegmentSpan> {
        segment_spans(&self.inner.activities)
    }

    fn scan(
        &self,
        from: ActivityId,
        to: ActivityId,
    ) -> Box<dyn Iterator<Item = Result<Activity, SourceError>> + Send + '_> {
        self.decoded(from, to, None)
    }

    fn scan_where<'a>(
        &'a self,
        from: ActivityId,
        to: ActivityId,
        keep: &'a (dyn Fn(&ActivityHeader) -> bool + Sync),
    ) -> Box<dyn Iterator<Item = Result<Activity, SourceError>> + Send + 'a> {
        self.decoded(from, to, Some(keep))
    }

    fn scan_matching(
        &self,
        from: ActivityId,
        to: ActivityId,
        test: &ScanTest<'_>,
        out: &mut Records,
    ) -> Result<(), SourceError> {
        matching_records(self.records(from, to)?, test, out)
    }

    fn first_id(&self) -> ActivityId {
        ActivityId(self.inner.activities.first_offset().0)
    }

    fn end_id(&self) -> ActivityId {
        self.end
    }
}

/// Pushes onto `out` the records `test` accepts among those read: each is tested where
/// it was read, and only a match's bytes are copied out.
fn matching_records(
    mut records: actlog_log::LogIter,
    test: &ScanTest<'_>,
    out: &mut Records,
) -> Result<(), SourceError> {
    while let Some(record) = records.next_ref() {
        let record = record.map_err(|e| source_error(Error::activities(e)))?;
        let id = ActivityId(record.offset.0);
        let keep = |person, type_id, occurred_at_ms| {
            test.header(&ActivityHeader {
                id,
                person,
                type_id,
                occurred_at_ms,
            })
        };
        // The header is read once, for both tests and for the decode; a header that
        // does not read is an error, as is a match that does not decode.
        match codec::decode_activity_view_tested(id, record.payload, keep, |v| test.view(v)) {
            Ok(Some(view)) => out.push(ActivityHeader::of_view(&view), record.payload),
            Ok(None) => {}
            Err(source) => return Err(source_error(Error::Decode { id, source })),
        }
    }
    Ok(())
}

/// Activities decoded straight from the log reader's buffer (no copy of each payload),
/// skipping without decoding those whose header `keep` rejects.
struct Decoded<'a> {
    records: actlog_log::LogIter,
    keep: Option<&'a (dyn Fn(&ActivityHeader) -> bool + Sync)>,
}

impl Iterator for Decoded<'_> {
    type Item = Result<Activity, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let record = match self.records.next_ref()? {
                Ok(record) => record,
                Err(e) => return Some(Err(source_error(Error::activities(e)))),
            };
            let id = ActivityId(record.offset.0);
            if let Some(keep) = self.keep {
                // A header that does not read is left to the full decode, which
                // reports what is wrong with the record.
                if peek_header(id, record.payload).is_some_and(|h| !keep(&h)) {
                    continue;
                }
            }
            return Some(
                codec::decode_activity(id, record.payload)
                    .map_err(|source| source_error(Error::Decode { id, source })),
            );
        }
    }
}

/// The header of the record of activity `id`, read from its first fields; an error
/// when they do not read.
fn record_header(id: ActivityId, payload: &[u8]) -> Result<ActivityHeader> {
    if let Some(header) = peek_header(id, payload) {
        return Ok(header);
    }
    // The full decode says what is wrong with the record.
    match codec::decode_activity_view(id, payload) {
        Ok(view) => Ok(ActivityHeader::of_view(&view)),
        Err(source) => Err(Error::Decode { id, source }),
    }
}

/// The person, type and time of an encoded activity, read from the first fields of its
/// record without decoding the rest. `None` when the bytes are not a record's start.
fn peek_header(id: ActivityId, bytes: &[u8]) -> Option<ActivityHeader> {
    let (person, type_id, occurred_at_ms) = codec::peek_activity(bytes)?;
    Some(ActivityHeader {
        id,
        person,
        type_id,
        occurred_at_ms,
    })
}

/// The index as the planner reads it, with the catalog that says which attributes it
/// holds.
struct EnginePostings {
    inner: Arc<Inner>,
    catalog: Arc<Catalog>,
    end: ActivityId,
    /// The postings of the person last estimated, when there were few: a person plan
    /// estimates and then reads the same postings, and each read finds, checks and
    /// decodes the person's index block, so the second read is served from here.
    person_seen: Mutex<Option<(PersonId, IdRange, Vec<PersonPosting>)>>,
}

impl EnginePostings {
    /// A type's postings with occurred_at in `[min_ms, max_ms]` (the planner's bounds are
    /// inclusive, the index's end exclusive), below the query's visible end.
    fn type_postings(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        order: Order,
    ) -> impl Iterator<Item = actlog_index::Result<actlog_index::TypePosting>> + '_ {
        self.inner.index.by_type(
            type_id,
            inclusive(min_ms, max_ms),
            self.time_ids(min_ms, max_ms),
            order,
        )
    }

    /// The visible ids whose activities can have occurred in `[min_ms, max_ms]`, by the
    /// log segments' time bounds (see [`actlog_query::id_window`]): by-type reads and
    /// estimates skip the runs outside.
    fn time_ids(&self, min_ms: i64, max_ms: i64) -> IdRange {
        let first = ActivityId(self.inner.activities.first_offset().0);
        let ids = if min_ms == i64::MIN && max_ms == i64::MAX {
            first..self.end
        } else {
            let spans = segment_spans(&self.inner.activities);
            actlog_query::ids_meeting(&spans, first..self.end, min_ms, max_ms)
        };
        IdRange {
            start: ids.start,
            end: ids.end.max(ids.start),
        }
    }

    /// The ids of `ids` that are still held and visible to this query.
    fn visible_ids(&self, ids: Range<ActivityId>) -> IdRange {
        let start = ids
            .start
            .max(ActivityId(self.inner.activities.first_offset().0));
        IdRange {
            start,
            end: ids.end.min(self.end).max(start),
        }
    }
}

/// The index's time range for the planner's inclusive bounds.
fn inclusive(min_ms: i64, max_ms: i64) -> TimeRange {
    TimeRange {
        start_ms: min_ms,
        end_ms: max_ms.saturating_add(1),
    }
}

fn key_range(keys: &KeySpan) -> KeyRange<'_> {
    KeyRange::Range {
        start: keys.start.as_ref().map(Vec::as_slice),
        end: keys.end.as_ref().map(Vec::as_slice),
    }
}

impl PostingIndex for EnginePostings {
    fn by_type(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        direction: Direction,
    ) -> Postings<'_> {
        let order = match direction {
            Direction::Ascending => Order::Ascending,
            Direction::Descending => Order::Descending,
        };
        Box::new(
            self.type_postings(type_id, min_ms, max_ms, order)
                .map(|p| p.map(|p| (p.occurred_at_ms, p.id)).map_err(source_error)),
        )
    }

    fn type_exceeds(&self, type_id: TypeId, min_ms: i64, max_ms: i64, n: u64) -> bool {
        self.inner.index.estimate_type_capped(
            type_id,
            inclusive(min_ms, max_ms),
            self.time_ids(min_ms, max_ms),
            n,
        ) > n
    }

    fn estimate_type(&self, type_id: TypeId, min_ms: i64, max_ms: i64) -> u64 {
        self.inner.index.estimate_type(
            type_id,
            inclusive(min_ms, max_ms),
            self.time_ids(min_ms, max_ms),
        )
    }

    fn by_person(
        &self,
        person: PersonId,
        types: Option<&[TypeId]>,
        ids: Range<ActivityId>,
    ) -> Postings<'_> {
        let range = self.visible_ids(ids);
        let types = types.map(<[TypeId]>::to_vec);
        let seen = {
            let mut slot = self.person_seen.lock();
            match slot.take() {
                Some((p, r, postings)) if p == person && r == range => Some(postings),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        if let Some(postings) = seen {
            return Box::new(
                postings
                    .into_iter()
                    .filter(move |p| types.as_ref().is_none_or(|ts| ts.contains(&p.type_id)))
                    .map(|p| Ok((p.occurred_at_ms, p.id))),
            );
        }
        Box::new(
            self.inner
                .index
                .person(person, range, Order::Ascending)
                .filter(move |p| match (p, &types) {
                    (Ok(p), Some(types)) => types.contains(&p.type_id),
                    _ => true,
                })
                .map(|p| p.map(|p| (p.occurred_at_ms, p.id)).map_err(source_error)),
        )
    }

    fn by_persons<'b>(
        &'b self,
        persons: &[PersonId],
        types: Option<&'b [TypeId]>,
        ids: Range<ActivityId>,
    ) -> PersonsPostings<'b> {
        Box::new(
            self.inner
                .index
                .persons(persons, self.visible_ids(ids))
                .filter(move |p| match (p, types) {
                    (Ok((_, p)), Some(types)) => types.contains(&p.type_id),
                    _ => true,
                })
                .map(|p| {
                    p.map(|(person, p)| (person, p.occurred_at_ms, p.id))
                        .map_err(source_error)
                }),
        )
    }

    fn persons_reaching(
        &self,
        persons: &[PersonId],
        type_id: TypeId,
        (min_ms, max_ms): (i64, i64),
        ids: Range<ActivityId>,
        at_least: u32,
    ) -> Result<Vec<PersonId>, SourceError> {
        self.inner
            .index
            .persons_reaching(
                persons,
                type_id,
                inclusive(min_ms, max_ms),
                self.visible_ids(ids),
                at_least,
            )
            .map_err(source_error)
    }

    fn estimate_person(&self, person: PersonId, ids: Range<ActivityId>) -> u64 {
        // Counted from the postings themselves, which are kept when few for the
        // by-person read that usually follows.
        let range = self.visible_ids(ids);
        let mut kept = Vec::new();
        let mut count = 0u64;
        for posting in self.inner.index.person(person, range, Order::Ascending) {
            let Ok(posting) = posting else {
                return self.inner.index.estimate_person(person);
            };
            count += 1;
            if kept.len() < PERSON_SEEN_POSTINGS_MAX {
                kept.push(posting);
            }
        }
        if count <= PERSON_SEEN_POSTINGS_MAX as u64 {
            *self.person_seen.lock() = Some((person, range, kept));
        }
        count
    }
    fn value_type(&self, type_id: TypeId, slot: ValueSlot) -> Option<DataType> {
        let ty = self.catalog.get(type_id)?;
        match slot {
            ValueSlot::Primary => Some(ty.approved().unwrap_or(ty.latest()).primary.data_type),
            // The indexer decides by the same lookup which attribute values it indexes.
            ValueSlot::Attribute(attr) => ty
                .attribute_for_render(attr)
                .filter(|a| a.indexed && !a.is_primary)
                .map(|a| a.data_type),
        }
    }

    fn by_value(
        &self,
        type_id: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> Postings<'_> {
        let range = key_range(keys);
        // Below the query's end, so no posting past it comes back.
        let ids = self.visible_ids(ids);
        let postings = match slot {
            ValueSlot::Primary => {
                self.inner
                    .index
                    .by_primary(type_id, range, ids, Order::Ascending)
            }
            ValueSlot::Attribute(attr) => {
                self.inner
                    .index
                    .by_attribute(type_id, attr, range, ids, Order::Ascending)
            }
        };
        Box::new(postings.map(|p| p.map(|p| (p.occurred_at_ms, p.id)).map_err(source_error)))
    }

    fn estimate_value(
        &self,
        type_id: TypeId,
        slot: ValueSlot,
        keys: &KeySpan,
        ids: Range<ActivityId>,
    ) -> u64 {
        let range = key_range(keys);
        let ids = self.visible_ids(ids);
        match slot {
            ValueSlot::Primary => self.inner.index.estimate_primary(type_id, range, ids),
            ValueSlot::Attribute(attr) => self
                .inner
                .index
                .estimate_attribute(type_id, attr, range, ids),
        }
    }

    fn type_persons(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        f: &mut dyn FnMut(ActivityId, PersonId),
    ) -> Result<(), SourceError> {
        let ids = self.time_ids(min_ms, max_ms);
        self.inner
            .index
            .by_type_unordered(type_id, inclusive(min_ms, max_ms), ids)
            .for_each_posting(|p| f(p.id, p.person))
            .map_err(source_error)
    }

    fn everyone(&self) -> Result<RoaringTreemap, SourceError> {
        everyone(&self.inner, self.end).map_err(source_error)
    }
}

/// The log's non-empty segments with their ids and occurred_at bounds (the records'
/// timestamps are the activities' occurred_at).
fn segment_spans(log: &actlog_log::Log) -> Vec<SegmentSpan> {
    log.segments()
        .into_iter()
        .filter(|s| s.record_count > 0)
        .map(|s| SegmentSpan {
            first: ActivityId(s.base_offset.0),
            end: ActivityId(s.end_offset.0),
            occurred_min_ms: s.timestamp_ms_min,
            occurred_max_ms: s.timestamp_ms_max,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actlog_model::{AttributeId, ValidActivity, Value};

    /// A filtered scan reports a record that does not decode as an error, whether its
    /// header reads or not, and skips only records whose header rules them out.
    #[test]
    fn filtered_scans_report_undecodable_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let (log, _) = actlog_log::Log::open(dir.path(), actlog_log::LogOptions::default())
            .unwrap_or_else(|e| unreachable!("{e}"));
        let valid = |person: u64| ValidActivity {
            person: PersonId(person),
            type_id: TypeId(7),
            occurred_at_ms: 1_000,
            primary: Value::String("x".into()),
            attributes: vec![(AttributeId(3), Value::Integer(5))],
            idempotency_key: None,
        };
        let good = codec::encode_activity(&valid(1)).unwrap_or_default();
        // A readable header for person 1 (version, person, type, a three-byte time),
        // then a primary value tag that does not exist.
        let mut bad_body = codec::encode_activity(&valid(1)).unwrap_or_default();
        bad_body[6] = 99;
        // Person 2, so the header rules it out; the body is cut short.
        let other = codec::encode_activity(&valid(2)).unwrap_or_default();
        let cut_other = &other[..other.len() - 2];
        let no_header = [1u8, 253];
        for payload in [&good[..], &bad_body[..], cut_other, &no_header[..]] {
            log.append(payload, 1_000)
                .unwrap_or_else(|e| unreachable!("{e}"));
        }
        let filter = ResolvedFilter::And(vec![
            ResolvedFilter::Persons(vec![PersonId(1)]),
            ResolvedFilter::Value(vec![actlog_query::AttrMatch {
                type_id: TypeId(7),
                slot: actlog_query::Slot::Attribute(AttributeId(3)),
                pred: actlog_query::ValuePred::Cmp(
                    actlog_query::OpKind::Eq,
                    actlog_query::Scalar::Int(5),
                ),
            }]),
        ]);
        let test = ScanTest::new(&filter, None, Direction::Ascending);
        // The ids each record's range matched, or the error it stopped at.
        let scan = |from: u64, to: u64| {
            let records = log
                .iter_range(Offset(from), Offset(to))
                .unwrap_or_else(|e| unreachable!("{e}"));
            let mut out = Records::default();
            matching_records(records, &test, &mut out)
                .map(|()| (0..out.len()).map(|i| out.header(i).id).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
        };
        assert_eq!(scan(0, 1), Ok(vec![ActivityId(0)]));
        let body = scan(1, 2);
        assert!(body.as_ref().is_err_and(|e| e.contains('1')), "{body:?}");
        assert_eq!(scan(2, 3), Ok(vec![]));
        assert!(scan(3, 4).is_err());
        // One that does not decode stops the scan, after what matched before it.
        assert!(scan(0, 4).is_err());
        // Every header that reads was tested: one for each range but the fourth (whose
        // header does not read), and two for the last.
        assert_eq!(test.read(), 5);
    }

    /// The header read without decoding equals the decoded fields, for values of every
    /// varint width and negative times.
    #[test]
    fn peeked_headers_equal_decoded_ones() {
        let persons = [
            0,
            250,
            251,
            65_535,
            65_536,
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ];
        let types = [0, 250, 251, 100_000, u32::MAX];
        let times = [0, -1, 1, 125, -126, 1_776_902_400_000, -62_135_596_800_000];
        let mut n = 0u64;
        for &person in &persons {
            for &type_id in &types {
                for &occurred_at_ms in &times {
                    let valid = ValidActivity {
                        person: PersonId(person),
                        type_id: TypeId(type_id),
                        occurred_at_ms,
                        primary: Value::String("x".into()),
                        attributes: vec![(AttributeId(3), Value::Integer(-5))],
                        idempotency_key: None,
                    };
                    let bytes = codec::encode_activity(&valid).unwrap_or_default();
                    let id = ActivityId(n);
                    n += 1;
                    let decoded = codec::decode_activity(id, &bytes).ok();
                    let expected = ActivityHeader {
                        id,
                        person: PersonId(person),
                        type_id: TypeId(type_id),
                        occurred_at_ms,
                    };
                    assert_eq!(peek_header(id, &bytes), Some(expected));
                    if let Some(a) = decoded {
                        assert_eq!(ActivityHeader::of(&a), expected);
                    }
                }
            }
        }
        assert_eq!(peek_header(ActivityId(0), &[]), None);
        assert_eq!(peek_header(ActivityId(0), &[1, 251, 0]), None);
        assert_eq!(peek_header(ActivityId(0), &[2, 1, 1, 0]), None);
    }
}
