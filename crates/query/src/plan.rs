//! The planner: the cheapest of the paths a filter allows, and the executor of index
//! paths.
//!
//! Index paths read postings through [`PostingIndex`], a small trait the engine
//! implements over `actlog-index`, so planning is tested on an in-memory index. Every
//! path applies the whole filter to every activity it fetches, so a path only has to
//! return a superset of the matches, in (occurred_at, id) order.

use crate::error::Result;
use crate::exec::{
    check_cursor, occurred_bounds, scan, ActivitySource, Cursor, Direction, QueryOptions, Scan,
    SourceError,
};
use crate::resolve::{matches, ResolvedFilter};
use actlog_model::{Activity, ActivityId, PersonId, TypeId};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

/// Postings: (occurred_at_ms, id) pairs.
pub type Postings<'a> = Box<dyn Iterator<Item = Result<(i64, ActivityId), SourceError>> + 'a>;

/// The index reads the planner uses; the engine implements it over `actlog-index`.
pub trait PostingIndex: Send + Sync {
    /// A type's activities with `occurred_at_ms` in `[min_ms, max_ms]`, in
    /// (occurred_at, id) order in `direction`.
    fn by_type(
        &self,
        type_id: TypeId,
        min_ms: i64,
        max_ms: i64,
        direction: Direction,
    ) -> Postings<'_>;
    /// About how many activities [`PostingIndex::by_type`] returns.
    fn estimate_type(&self, type_id: TypeId, min_ms: i64, max_ms: i64) -> u64;
    /// A person's activities, in id order.
    fn by_person(&self, person: PersonId) -> Postings<'_>;
    /// About how many activities a person has.
    fn estimate_person(&self, person: PersonId) -> u64;
}

/// How a query is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Read the log, skipping segments outside `[min_ms, max_ms]`.
    Scan {
        /// Lower time bound used to skip segments.
        min_ms: i64,
        /// Upper time bound used to skip segments.
        max_ms: i64,
    },
    /// Merge the by-type postings of these types within `[min_ms, max_ms]`.
    TypeTime {
        /// The types, from a top-level `type =`/`type in`.
        types: Vec<TypeId>,
        /// Lower time bound.
        min_ms: i64,
        /// Upper time bound.
        max_ms: i64,
    },
    /// Read these persons' postings (sorted in memory by time; a person's postings
    /// within the time bounds are held at once).
    Person {
        /// The persons, from a top-level `person =`/`person in`.
        persons: Vec<PersonId>,
        /// Lower time bound.
        min_ms: i64,
        /// Upper time bound.
        max_ms: i64,
    },
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Scan { min_ms, max_ms } => {
                write!(f, "log scan, occurred in [{min_ms}, {max_ms}]")
            }
            Plan::TypeTime {
                types,
                min_ms,
                max_ms,
            } => {
                write!(
                    f,
                    "by-type index of {types:?}, occurred in [{min_ms}, {max_ms}]"
                )
            }
            Plan::Person {
                persons,
                min_ms,
                max_ms,
            } => {
                write!(
                    f,
                    "by-person index of {persons:?}, occurred in [{min_ms}, {max_ms}]"
                )
            }
        }
    }
}

/// A plan with its estimated cost (activities to read) and, once run, the actual count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explain {
    /// The plan.
    pub plan: Plan,
    /// Activities the plan expects to read.
    pub estimated: u64,
    /// Activities it read, once the query has been consumed.
    pub actual: Option<u64>,
}

/// Top-level conjuncts a plan can use.
fn conjuncts(filter: &ResolvedFilter) -> Vec<&ResolvedFilter> {
    match filter {
        ResolvedFilter::And(cs) => cs.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

/// Every plan that can answer `filter`, each with its estimate; the log scan is always
/// one of them.
pub fn candidate_plans(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    filter: &ResolvedFilter,
) -> Vec<Explain> {
    let (min_ms, max_ms) = occurred_bounds(filter);
    let scan_estimate: u64 = source
        .segments()
        .iter()
        .filter(|s| s.occurred_max_ms >= min_ms && s.occurred_min_ms <= max_ms)
        .map(|s| s.end.get().saturating_sub(s.first.get()))
        .sum();
    let mut plans = vec![Explain {
        plan: Plan::Scan { min_ms, max_ms },
        estimated: scan_estimate,
        actual: None,
    }];
    for c in conjuncts(filter) {
        match c {
            ResolvedFilter::Types(types) => plans.push(Explain {
                estimated: types
                    .iter()
                    .map(|t| index.estimate_type(*t, min_ms, max_ms))
                    .sum(),
                plan: Plan::TypeTime {
                    types: types.clone(),
                    min_ms,
                    max_ms,
                },
                actual: None,
            }),
            ResolvedFilter::Persons(persons) => plans.push(Explain {
                estimated: persons.iter().map(|p| index.estimate_person(*p)).sum(),
                plan: Plan::Person {
                    persons: persons.clone(),
                    min_ms,
                    max_ms,
                },
                actual: None,
            }),
            _ => {}
        }
    }
    plans
}

/// The cheapest candidate plan.
pub fn choose_plan(
    source: &dyn ActivitySource,
    index: &dyn PostingIndex,
    filter: &ResolvedFilter,
) -> Explain {
    let plans = candidate_plans(source, index, filter);
    let scan_plan = Explain {
        plan: Plan::Scan {
            min_ms: i64::MIN,
            max_ms: i64::MAX,
        },
        estimated: u64::MAX,
        actual: None,
    };
    // Index paths fetch activities one by one, a scan reads them in bulk: prefer an
    // index path only when it reads fewer.
    plans
        .into_iter()
        .min_by_key(|p| p.estimated)
        .unwrap_or(scan_plan)
}

/// A running query: a log scan or an index path, with the same cursor semantics.
pub struct Query<'s> {
    inner: Inner<'s>,
    explain: Explain,
}

enum Inner<'s> {
    Scan(Scan<'s>),
    Index(IndexRun<'s>),
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("explain", &self.explain)
            .finish_non_exhaustive()
    }
}

/// Plans and starts `filter`.
///
/// # Errors
///
/// As [`crate::scan`].
pub fn query<'s>(
    source: &'s dyn ActivitySource,
    index: &'s dyn PostingIndex,
    filter: ResolvedFilter,
    options: &QueryOptions,
) -> Result<Query<'s>> {
    let explain = choose_plan(source, index, &filter);
    execute(source, index, filter, explain, options)
}

/// Runs `filter` with a given plan (any of [`candidate_plans`]).
///
/// # Errors
///
/// As [`crate::scan`].
pub fn execute<'s>(
    source: &'s dyn ActivitySource,
    index: &'s dyn PostingIndex,
    filter: ResolvedFilter,
    explain: Explain,
    options: &QueryOptions,
) -> Result<Query<'s>> {
    let inner = match &explain.plan {
        Plan::Scan { .. } => Inner::Scan(scan(source, filter, options)?),
        plan => {
            check_cursor(options)?;
            Inner::Index(IndexRun::new(source, index, plan, filter, options)?)
        }
    };
    Ok(Query { inner, explain })
}

impl Query<'_> {
    /// The cursor after the last item returned.
    pub fn cursor(&self) -> Option<Cursor> {
        match &self.inner {
            Inner::Scan(s) => s.cursor(),
            Inner::Index(r) => r.cursor(),
        }
    }

    /// The plan with its estimate, and the activities read so far as the actual count.
    pub fn explain(&self) -> Explain {
        let actual = match &self.inner {
            Inner::Scan(s) => s.stats().activities_read,
            Inner::Index(r) => r.fetched,
        };
        Explain {
            actual: Some(actual),
            ..self.explain.clone()
        }
    }
}

impl Iterator for Query<'_> {
    type Item = Result<Activity>;

    fn next(&mut self) -> Option<Result<Activity>> {
        match &mut self.inner {
            Inner::Scan(s) => s.next(),
            Inner::Index(r) => r.next(),
        }
    }
}

/// Postings of one stream with the head pulled out, ordered for a k-way merge.
struct Head<'s> {
    key: (i64, ActivityId),
    rest: Postings<'s>,
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Head<'_> {}
impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

struct IndexRun<'s> {
    source: &'s dyn ActivitySource,
    filter: ResolvedFilter,
    direction: Direction,
    after: Option<(i64, ActivityId)>,
    end: ActivityId,
    remaining: usize,
    /// A lazy k-way merge: ascending uses `Reverse` to pop the smallest key.
    ascending: BinaryHeap<Reverse<Head<'s>>>,
    descending: BinaryHeap<Head<'s>>,
    last: Option<Cursor>,
    fetched: u64,
    failed: bool,
}

impl<'s> IndexRun<'s> {
    fn new(
        source: &'s dyn ActivitySource,
        index: &'s dyn PostingIndex,
        plan: &Plan,
        filter: ResolvedFilter,
        options: &QueryOptions,
    ) -> Result<IndexRun<'s>> {
        let direction = options.direction;
        let streams: Vec<Postings<'s>> = match plan {
            Plan::TypeTime {
                types,
                min_ms,
                max_ms,
            } => types
                .iter()
                .map(|t| index.by_type(*t, *min_ms, *max_ms, direction))
                .collect(),
            Plan::Person {
                persons,
                min_ms,
                max_ms,
            } => {
                let mut streams = Vec::with_capacity(persons.len());
                for p in persons {
                    let mut keys = Vec::new();
                    for k in index.by_person(*p) {
                        let k = k?;
                        if (*min_ms..=*max_ms).contains(&k.0) {
                            keys.push(k);
                        }
                    }
                    keys.sort_unstable();
                    if direction == Direction::Descending {
                        keys.reverse();
                    }
                    let stream: Postings<'s> = Box::new(keys.into_iter().map(Ok));
                    streams.push(stream);
                }
                streams
            }
            Plan::Scan { .. } => Vec::new(),
        };
        let mut run = IndexRun {
            source,
            filter,
            direction,
            after: options.cursor.map(|c| (c.occurred_at_ms(), c.id())),
            end: source.end_id(),
            remaining: options.limit,
            ascending: BinaryHeap::new(),
            descending: BinaryHeap::new(),
            last: None,
            fetched: 0,
            failed: false,
        };
        for s in streams {
            run.push(s)?;
        }
        Ok(run)
    }

    fn push(&mut self, mut rest: Postings<'s>) -> Result<()> {
        if let Some(k) = rest.next() {
            let head = Head { key: k?, rest };
            match self.direction {
                Direction::Ascending => self.ascending.push(Reverse(head)),
                Direction::Descending => self.descending.push(head),
            }
        }
        Ok(())
    }

    fn pop(&mut self) -> Result<Option<(i64, ActivityId)>> {
        let head = match self.direction {
            Direction::Ascending => self.ascending.pop().map(|Reverse(h)| h),
            Direction::Descending => self.descending.pop(),
        };
        let Some(head) = head else { return Ok(None) };
        let key = head.key;
        self.push(head.rest)?;
        Ok(Some(key))
    }

    fn cursor(&self) -> Option<Cursor> {
        self.last
            .or_else(|| self.after.map(|(t, id)| Cursor::at(t, id, self.direction)))
    }

    fn step(&mut self) -> Result<Option<Activity>> {
        while let Some(key) = self.pop()? {
            let beyond = match (self.after, self.direction) {
                (Some(c), Direction::Ascending) => key <= c,
                (Some(c), Direction::Descending) => key >= c,
                (None, _) => false,
            };
            if beyond || key.1 >= self.end {
                continue;
            }
            self.fetched += 1;
            if let Some(a) = self.source.get(key.1)? {
                if matches(&self.filter, &a) {
                    return Ok(Some(a));
                }
            }
        }
        Ok(None)
    }

    fn next(&mut self) -> Option<Result<Activity>> {
        if self.remaining == 0 || self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(a)) => {
                self.remaining -= 1;
                self.last = Some(Cursor::after(&a, self.direction));
                Some(Ok(a))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
